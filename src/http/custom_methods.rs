//! Atlas's custom methods (`…/{userId}:addRole`): the path segment they end is split in two so
//! the router can match them, and handlers read the method as a value of their own.

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;

use crate::error::AppError;

/// Atlas's custom methods (`…/{userId}:addRole`) end a path segment with `:name`. The router
/// matches whole segments only, so the method becomes a segment of its own
/// (`…/{userId}/:addRole`), and the routes for it list only the methods it allows. Runs after
/// [`crate::transport::record_request_target`], so Digest still checks the path as the client sent it. Only
/// known names are split: an IPv6 access-list entry holds colons too.
pub fn split_custom_method(mut request: Request) -> Request {
    const CUSTOM_METHODS: [&str; 6] = [
        ":addRole",
        ":removeRole",
        ":addUser",
        ":removeUser",
        ":accept",
        ":decline",
    ];
    let path = request.uri().path();
    let Some(method) = CUSTOM_METHODS
        .iter()
        .find(|method| path.len() > method.len() + 1 && path.ends_with(*method))
    else {
        return request;
    };
    let split = path.len() - method.len();
    if path.as_bytes().get(split - 1) == Some(&b'/') {
        return request;
    }
    let mut target = format!("{}/{}", &path[..split], &path[split..]);
    if let Some(query) = request.uri().query() {
        target.push('?');
        target.push_str(query);
    }
    if let Ok(uri) = target.parse() {
        *request.uri_mut() = uri;
    }
    request
}

/// The custom methods one route takes, read from its `{method}` segment.
pub trait CustomMethodName: Sized {
    fn from_name(name: &str) -> Option<Self>;
}

/// The method a request names in its `{method}` segment. It is read before the organization or
/// project is looked up (put it before the scope among a handler's arguments): a method the
/// route does not take is `RESOURCE_NOT_FOUND`, naming the segment it was split from, whoever
/// asks.
pub struct CustomMethod<M>(pub M);

impl<S: Send + Sync, M: CustomMethodName> FromRequestParts<S> for CustomMethod<M> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::ResourceNotFound(parts.uri.path().to_owned()))?;
        let mut before = "";
        for (name, value) in &params {
            if name == "method" {
                return M::from_name(value)
                    .map(CustomMethod)
                    .ok_or_else(|| AppError::ResourceNotFound(format!("{before}/{value}")));
            }
            before = value;
        }
        Err(AppError::Internal(anyhow::anyhow!(
            "route has no {{method}} segment"
        )))
    }
}

/// `:addRole` and `:removeRole`, of organization and project users alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleMethod {
    AddRole,
    RemoveRole,
}

impl CustomMethodName for RoleMethod {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            ":addRole" => Some(RoleMethod::AddRole),
            ":removeRole" => Some(RoleMethod::RemoveRole),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(target: &str) -> String {
        let request = Request::builder()
            .uri(target)
            .body(axum::body::Body::empty())
            .expect("request");
        split_custom_method(request).uri().to_string()
    }

    #[test]
    fn custom_methods_become_their_own_segment() {
        assert_eq!(
            split("/api/atlas/v2/orgs/o/users/u:addRole?pretty=true"),
            "/api/atlas/v2/orgs/o/users/u/:addRole?pretty=true"
        );
        assert_eq!(split("/x/u:decline"), "/x/u/:decline");
        // Not a known custom method, or nothing before it: left alone.
        assert_eq!(
            split("/orgs/o/apiKeys/k/accessList/2001:db8::1"),
            "/orgs/o/apiKeys/k/accessList/2001:db8::1"
        );
        assert_eq!(split("/x/:accept"), "/x/:accept");
        assert_eq!(split(":accept"), ":accept");
    }
}
