//! The request target (path and query) as the client sent it, kept before anything rewrites
//! the URI.

use axum::extract::Request;

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
