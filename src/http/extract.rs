//! Extractors whose every rejection is an Atlas error: JSON bodies, query parameters, path
//! segments, and the request's own base URL.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use orgdoor_domain::{EmailAddress, GroupId, InvitationId, OrgId, TeamId, UserId};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::http::response_format::parse_bool;

/// A request body type, with the names of the response attributes a client may not set.
pub trait RequestBody: DeserializeOwned {
    /// Attributes that exist on the resource but are server-set: sending one is
    /// `ATTRIBUTE_READ_ONLY` rather than `INVALID_ATTRIBUTE`.
    const READ_ONLY: &'static [&'static str] = &[];
    /// Whether the body is a JSON array rather than an object.
    const IS_ARRAY: bool = false;
}

/// A JSON body for `T`, read but not yet parsed: handlers call [`AtlasJson::parse`] after the
/// authorization check, so a caller without the role gets 401 even for a malformed body
/// (BEHAVIOR §0: authorization before body validation). Parsing reports unparseable JSON as
/// `MALFORMED_JSON`, the wrong JSON type as `INVALID_JSON`, a field of the wrong type as
/// `INVALID_JSON_ATTRIBUTE`, an unknown field as `INVALID_ATTRIBUTE` (Atlas rejects unknown
/// fields) and a server-set one as `ATTRIBUTE_READ_ONLY`. The `Content-Type` is not checked:
/// curl users often forget it, and the body is JSON either way.
pub struct AtlasJson<T> {
    bytes: Bytes,
    body: PhantomData<fn() -> T>,
}

impl<T: RequestBody> AtlasJson<T> {
    pub fn parse(self) -> Result<T, AppError> {
        parse_body(&self.bytes)
    }
}

impl<S: Send + Sync, T: RequestBody> FromRequest<S> for AtlasJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RequestBytes(bytes) = RequestBytes::from_request(request, state).await?;
        Ok(AtlasJson {
            bytes,
            body: PhantomData,
        })
    }
}

/// A whole request body, its failures as Atlas errors: too large (413), not arriving in time
/// (408), or not decodable, such as a broken chunked encoding (400).
pub struct RequestBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RequestBytes {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(RequestBytes(bytes)),
            Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_))) => {
                Err(AppError::PayloadTooLarge)
            }
            Err(BytesRejection::FailedToBufferBody(FailedToBufferBody::UnknownBodyError(
                error,
            ))) if crate::transport::is_body_read_timeout(&error) => Err(AppError::RequestTimeout),
            Err(_) => Err(AppError::MalformedRequest),
        }
    }
}

/// The parsing behind [`AtlasJson`], separate so it can be tested on bytes.
pub fn parse_body<T: RequestBody>(bytes: &[u8]) -> Result<T, AppError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| AppError::MalformedJson)?;
    // Checked up front: serde would otherwise read a struct from an array, field by position.
    if (T::IS_ARRAY && !value.is_array()) || (!T::IS_ARRAY && !value.is_object()) {
        return Err(AppError::InvalidJson);
    }
    let mut unknown: Option<String> = None;
    let mut record_unknown = |path: serde_ignored::Path<'_>| {
        if unknown.is_none() {
            unknown = Some(path.to_string());
        }
    };
    let ignoring = serde_ignored::Deserializer::new(&value, &mut record_unknown);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(ignoring);
    let parsed = parsed.map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            AppError::InvalidJson
        } else {
            AppError::InvalidJsonAttribute(path)
        }
    })?;
    if let Some(attribute) = unknown {
        return Err(if T::READ_ONLY.contains(&attribute.as_str()) {
            AppError::AttributeReadOnly(attribute)
        } else {
            AppError::InvalidAttribute(attribute)
        });
    }
    Ok(parsed)
}

/// The query string as name/value pairs, read with typed accessors.
#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::InvalidQueryParameter("query".to_owned()))?;
        Ok(Self(pairs))
    }
}

impl QueryParams {
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of a repeated parameter (`?a=1&a=2`), in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.get(name).map_or(default, parse_bool)
    }

    /// A non-negative integer parameter; anything else is `INVALID_QUERY_PARAMETER`.
    pub fn count(&self, name: &str) -> Result<Option<u32>, AppError> {
        self.get(name)
            .map(|value| {
                value
                    .parse::<u32>()
                    .map_err(|_| AppError::InvalidQueryParameter(name.to_owned()))
            })
            .transpose()
    }

    pub fn email(&self, name: &str) -> Result<Option<EmailAddress>, AppError> {
        self.get(name)
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| AppError::InvalidQueryParameter(name.to_owned()))
            })
            .transpose()
    }
}

/// Path parameters, with a malformed percent-encoding reported as an unknown resource.
pub struct AtlasPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for AtlasPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| AtlasPath(value))
            .map_err(|_| AppError::ResourceNotFound(parts.uri.path().to_owned()))
    }
}

pub fn parse_org_id(raw: &str) -> Result<OrgId, AppError> {
    raw.parse()
        .map_err(|_| AppError::InvalidOrgId(raw.to_owned()))
}

pub fn parse_group_id(raw: &str) -> Result<GroupId, AppError> {
    raw.parse()
        .map_err(|_| AppError::InvalidGroupId(raw.to_owned()))
}

pub fn parse_team_id(raw: &str) -> Result<TeamId, AppError> {
    raw.parse()
        .map_err(|_| AppError::InvalidTeamId(raw.to_owned()))
}

pub fn parse_user_id(raw: &str) -> Result<UserId, AppError> {
    raw.parse()
        .map_err(|_| AppError::InvalidUserId(raw.to_owned()))
}

/// A malformed invitation id names no invitation: `RESOURCE_NOT_FOUND`.
pub fn parse_invitation_id(raw: &str) -> Result<InvitationId, AppError> {
    raw.parse()
        .map_err(|_| AppError::ResourceNotFound(raw.to_owned()))
}

/// `scheme://host/api/atlas/<version>` as the client addressed us, for absolute `links`: a
/// v1.0 request gets v1.0 links.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let scheme = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .filter(|scheme| matches!(*scheme, "http" | "https"))
            .unwrap_or_else(|| {
                let secure = parts
                    .extensions
                    .get::<crate::transport::Secure>()
                    .is_some_and(|secure| secure.0);
                if secure { "https" } else { "http" }
            });
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .or_else(|| parts.uri.authority().map(|authority| authority.as_str()))
            .unwrap_or("localhost");
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path(), |original| original.path());
        let root = if path.starts_with("/api/atlas/v1.0/") {
            "/api/atlas/v1.0"
        } else {
            "/api/atlas/v2"
        };
        Ok(BaseUrl(format!("{scheme}://{host}{root}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Sample {
        username: Option<String>,
        roles: Option<Vec<String>>,
        nested: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        group_id: Option<String>,
    }

    impl RequestBody for Sample {
        const READ_ONLY: &'static [&'static str] = &["id"];
    }

    #[test]
    fn each_kind_of_bad_body_has_its_own_code() {
        assert!(matches!(
            parse_body::<Sample>(b"{"),
            Err(AppError::MalformedJson)
        ));
        assert!(matches!(
            parse_body::<Sample>(b""),
            Err(AppError::MalformedJson)
        ));
        assert!(matches!(
            parse_body::<Sample>(b"[1]"),
            Err(AppError::InvalidJson)
        ));
        assert!(matches!(
            parse_body::<Sample>(b"\"text\""),
            Err(AppError::InvalidJson)
        ));
        assert!(matches!(
            parse_body::<Sample>(br#"{"roles": "ORG_OWNER"}"#),
            Err(AppError::InvalidJsonAttribute(path)) if path == "roles"
        ));
        assert!(matches!(
            parse_body::<Sample>(br#"{"nested": [{"groupId": 5}]}"#),
            Err(AppError::InvalidJsonAttribute(path)) if path == "nested[0].groupId"
        ));
        assert!(matches!(
            parse_body::<Sample>(br#"{"colour": "red"}"#),
            Err(AppError::InvalidAttribute(name)) if name == "colour"
        ));
        assert!(matches!(
            parse_body::<Sample>(br#"{"id": "x"}"#),
            Err(AppError::AttributeReadOnly(name)) if name == "id"
        ));
    }

    #[test]
    fn nulls_and_missing_fields_are_absent() {
        let sample = parse_body::<Sample>(br#"{"username": null}"#).expect("valid");
        assert!(sample.username.is_none() && sample.roles.is_none());
    }

    proptest! {
        #[test]
        fn counts_parse_or_name_the_parameter(value in "\\PC{0,12}") {
            let query = QueryParams::from_pairs(&[("pageNum", value.as_str())]);
            match query.count("pageNum") {
                Ok(parsed) => prop_assert_eq!(parsed, value.parse::<u32>().ok()),
                Err(AppError::InvalidQueryParameter(name)) => {
                    prop_assert_eq!(name, "pageNum");
                    prop_assert!(value.parse::<u32>().is_err());
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        #[test]
        fn flags_are_true_only_for_true_in_any_case(value in "(?i)(true|false|yes|no|1|0|null|)") {
            let query = QueryParams::from_pairs(&[("includeCount", value.as_str())]);
            prop_assert_eq!(query.flag("includeCount", true), value.eq_ignore_ascii_case("true"));
            prop_assert!(QueryParams::default().flag("includeCount", true));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_body::<Sample>(&bytes);
        }
    }
}
