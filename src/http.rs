//! The HTTP API: one module per Atlas resource, assembled under `/api/atlas`.
//!
//! Handlers are thin: extract, parse into domain types, check the caller's role, call the
//! store, render the view. Authentication and the `envelope`/`pretty` rendering wrap the whole
//! tree; version negotiation wraps each operation.

pub mod admin;
pub mod api_keys;
pub mod extract;
pub mod fallback;
pub mod groups;
pub mod health;
pub mod oauth;
pub mod openapi;
pub mod org_invitations;
pub mod org_users;
pub mod orgs;
pub mod pagination;
pub mod project_api_keys;
pub mod project_invitations;
pub mod project_members;
pub mod project_users;
pub mod rate_limits;
pub mod response_format;
pub mod roles;
pub mod scope;
pub mod service_accounts;
pub mod teams;
pub mod users;
pub mod versioning;

use axum::Router;
use axum::extract::Request;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::auth;
use crate::state::AppState;

/// The request target (path and query) exactly as the client sent it, before trailing-slash
/// normalization: what a Digest `uri` directive must match.
#[derive(Debug, Clone)]
pub struct RequestTarget(String);

impl RequestTarget {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Records the [`RequestTarget`]; runs before anything rewrites the URI.
pub fn record_request_target(mut request: Request) -> Request {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |target| target.as_str().to_owned());
    request.extensions_mut().insert(RequestTarget(target));
    request
}

/// Atlas's custom methods (`…/{userId}:addRole`) end a path segment with `:name`. The router
/// matches whole segments only, so the method becomes a segment of its own
/// (`…/{userId}/:addRole`), and the routes for it list only the methods it allows. Runs after
/// [`record_request_target`], so Digest still checks the path as the client sent it. Only
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

/// Answers a request early (a challenge, a 406, a 404, a 429) without reading its body into
/// memory: what has arrived of the body, or arrives within `DRAIN_WAIT`, up to
/// `DRAIN_LIMIT` bytes, is read and dropped frame by frame, so a client that sent its body
/// with the request (as Go's Digest client does on its first, unauthenticated attempt) is not
/// reset before it reads the answer. A body that is longer, slower or endless is left unread
/// and the connection closed after the answer (`Connection: close`): an unauthenticated client
/// can make the server hold neither its body nor its connection.
pub async fn answer_early(request: Request, response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    if !discard_body(request).await {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Reads and drops the body within the drain bounds; true if it ended.
async fn discard_body(request: Request) -> bool {
    use http_body_util::BodyExt as _;

    // A client that asked to hear first (`Expect: 100-continue`, curl does for large bodies)
    // sends nothing more once it has the answer: reading would only invite the body.
    let expects_continue = request
        .headers()
        .get(axum::http::header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects_continue {
        return false;
    }
    let mut body = request.into_body();
    if http_body::Body::is_end_stream(&body) {
        return true;
    }
    let drain = async {
        let mut read = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            read += frame.data_ref().map_or(0, |data| data.len());
            if read > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_WAIT, drain)
        .await
        .unwrap_or(false)
}

/// Most body bytes read (and dropped) before an early answer; beyond, the connection closes.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Longest wait for the rest of a body before an early answer.
const DRAIN_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Atlas timestamps: UTC, to the second, `Z` suffix (`2026-08-10T03:03:37Z`).
pub fn atlas_timestamp(instant: OffsetDateTime) -> String {
    orgdoor_domain::truncate_to_seconds(instant)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A JSON body serialized into a buffer of `capacity` bytes: axum's `Json` starts at 128 bytes
/// and doubles, copying a body of megabytes several times on the way.
pub fn sized_json(value: &impl serde::Serialize, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;

    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(error) => crate::error::AppError::Internal(error.into()).into_response(),
    }
}

/// Everything under `/api/atlas`: authenticated first, then formatted, then routed.
pub fn api_router(state: &AppState) -> Router<AppState> {
    let v2 = Router::new()
        .merge(orgs::routes(state))
        .merge(api_keys::routes(state))
        .merge(service_accounts::routes(state))
        .merge(org_invitations::routes(state))
        .merge(org_users::routes(state))
        .merge(users::routes(state))
        .merge(teams::routes(state))
        .merge(groups::routes(state))
        .merge(project_invitations::routes(state))
        .merge(project_members::routes(state))
        .merge(project_users::routes(state))
        .merge(project_api_keys::routes(state));
    let v1 = Router::new()
        .merge(orgs::legacy_routes(state))
        .merge(org_users::legacy_routes(state))
        .merge(teams::legacy_routes(state))
        .merge(users::legacy_routes(state))
        .merge(groups::legacy_routes(state))
        .merge(project_members::legacy_routes(state))
        .merge(project_users::legacy_routes(state))
        .merge(project_api_keys::legacy_routes(state))
        .merge(api_keys::legacy_routes(state))
        .merge(org_invitations::legacy_routes(state))
        .merge(project_invitations::legacy_routes(state));
    behind_authentication(Router::new().nest("/v2", v2).nest("/v1.0", v1), state)
}

/// Wraps an API tree: Atlas errors for unknown routes and methods, `envelope`/`pretty`
/// rendering, and authentication before anything else.
pub fn behind_authentication(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    routes
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(middleware::from_fn(response_format::format_response))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

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

    #[test]
    fn timestamps_are_utc_seconds_with_z() {
        assert_eq!(
            atlas_timestamp(datetime!(2026-08-10 03:03:37.9 UTC)),
            "2026-08-10T03:03:37Z"
        );
    }
}
