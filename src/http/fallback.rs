//! Answers for requests no route takes: Atlas 404 and 405 bodies instead of empty responses,
//! and a last check that no error leaves the server without an Atlas body.

use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

use crate::error::AppError;
use crate::error::response::{ErrorParts, X_ERROR_CODE};
use crate::transport::answer_early;

/// Atlas's 404 for `uri`, the path as the client sent it.
pub async fn not_found(uri: Uri, request: Request) -> Response {
    answer_early(request, AppError::ResourceNotFound(uri.path().to_owned())).await
}

/// [`not_found`] as a router's fallback: the path as the client sent it, before any nesting.
pub async fn unknown_path(OriginalUri(uri): OriginalUri, request: Request) -> Response {
    not_found(uri, request).await
}

pub async fn method_not_allowed(request: Request) -> Response {
    answer_early(request, AppError::MethodNotAllowed).await
}

/// Keeps `Allow` on 405 answers only. axum's method routers add it to whatever a route's
/// fallback answers, so without this a 401 from the credential check in front of a 405 would
/// still tell an anonymous caller which methods a path takes.
pub fn allow_only_with_405(mut response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        response.headers_mut().remove(header::ALLOW);
    }
    response
}

/// Gives an Atlas JSON body to any error response that has none or a plain-text one (axum's
/// own rejections are plain text), keeping its status and headers (`Allow`,
/// `WWW-Authenticate`, `Retry-After`, `Connection`).
pub async fn atlas_error_body(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_none_or(|content_type| content_type.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (mut head, _) = response.into_parts();
    let error = ErrorParts::for_status(status);
    head.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    head.headers
        .insert(X_ERROR_CODE, HeaderValue::from_static(error.code));
    head.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(head, axum::body::Body::from(error.json_bytes()))
}
