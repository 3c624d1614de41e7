//! Extractors whose every rejection is an Atlas error: JSON bodies, query parameters, path
//! segments, and the request's own base URL.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{
    FromRequest, FromRequestParts, OriginalUri, Path, Query, RawPathParams, Request,
};
use axum::http::header;
use axum::http::request::Parts;
use orgdoor_domain::limits::MAX_TEAM_IDS;
use orgdoor_domain::name::{Name, NameRule};
use orgdoor_domain::{EmailAddress, GroupId, InvitationId, OrgId, TeamId, UserId};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::http::response_format::parse_bool;
use crate::transport::BodyRefusal;

/// A request body type, with the names of the response attributes a client may send but not
/// set.
pub trait RequestBody: DeserializeOwned {
    /// Attributes the server sets (`id`, `createdAt`, `links`, …). Generated clients send them
    /// back, often with their type's zero value (the Go SDK's `"created":"0001-01-01T00:00:00Z"`),
    /// and Atlas ignores them, so they are accepted and ignored, whatever their value.
    const READ_ONLY: &'static [&'static str] = &[];
    /// Attributes chosen at creation that an update may not change (`username` of an
    /// invitation): sending one is `ATTRIBUTE_READ_ONLY` rather than `INVALID_ATTRIBUTE`.
    const FIXED: &'static [&'static str] = &[];
    /// Whether the body is a JSON array rather than an object.
    const IS_ARRAY: bool = false;
}

/// A JSON body for `T`, read but not yet parsed: the scope extractors (`http::scope`) have
/// checked the caller's role before a body extractor runs, so a caller without the role gets
/// 401 even for a malformed body (BEHAVIOR §0: authorization before body validation). Parsing reports unparseable JSON as
/// `MALFORMED_JSON`, the wrong JSON type as `INVALID_JSON`, a field of the wrong type as
/// `INVALID_JSON_ATTRIBUTE`, an unknown field as `INVALID_ATTRIBUTE` (Atlas rejects unknown
/// fields) and one fixed at creation as `ATTRIBUTE_READ_ONLY`; server-set fields are ignored. The `Content-Type` is not checked:
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
            ))) => Err(match crate::transport::body_refusal(&error) {
                Some(BodyRefusal::TimedOut) => AppError::RequestTimeout,
                Some(BodyRefusal::NoMemory) => AppError::ServerBusy,
                None => AppError::MalformedRequest,
            }),
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
        if unknown.is_some() {
            return;
        }
        let path = path.to_string();
        if !T::READ_ONLY.contains(&attribute_name(&path)) {
            unknown = Some(path);
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
        return Err(if T::FIXED.contains(&attribute_name(&attribute)) {
            AppError::AttributeReadOnly(attribute)
        } else {
            AppError::InvalidAttribute(attribute)
        });
    }
    Ok(parsed)
}

/// The attribute an ignored-field path ends in: `links` for `links`, `0.links` or
/// `teams.?.2.links` (`serde_ignored`'s notation).
fn attribute_name(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
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

/// The value of the path parameter `name` (percent-decoded, as [`AtlasPath`] reads it), or
/// `None` when the route has no such parameter. A malformed percent-encoding is an unknown
/// resource, as for [`AtlasPath`].
pub async fn path_param(parts: &mut Parts, name: &str) -> Result<Option<String>, AppError> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|_| AppError::ResourceNotFound(parts.uri.path().to_owned()))?;
    Ok(params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned()))
}

/// A body's `name` as the name of an organization, project or team (the rule `R` says which).
pub fn parse_name<R: NameRule>(name: String) -> Result<Name<R>, AppError> {
    Name::parse(name).map_err(|reason| AppError::InvalidAttributeValue {
        attribute: "name".into(),
        reason: reason.to_string(),
    })
}

/// A body's `name` where one is required, as [`parse_name`] reads it.
pub fn required_name<R: NameRule>(name: Option<String>) -> Result<Name<R>, AppError> {
    parse_name(name.ok_or_else(|| AppError::MissingAttribute("name".into()))?)
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

/// A body's `teamIds`: at most `MAX_TEAM_IDS`, each a team id.
pub fn parse_team_ids(team_ids: &[String]) -> Result<Vec<TeamId>, AppError> {
    AppError::check_length("teamIds", team_ids, MAX_TEAM_IDS)?;
    team_ids.iter().map(|id| parse_team_id(id)).collect()
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
/// v1.0 request gets v1.0 links, and orgdoor's own API (`/api/orgdoor/v1`) its own.
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
        } else if path.starts_with("/api/orgdoor/v1/") {
            "/api/orgdoor/v1"
        } else {
            "/api/atlas/v2"
        };
        Ok(BaseUrl(format!("{scheme}://{host}{root}")))
    }
}

#[cfg(test)]
mod tests;
