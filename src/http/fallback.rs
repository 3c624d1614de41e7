//! Answers for requests no route takes: Atlas 404 and 405 bodies instead of empty responses.

use axum::extract::{OriginalUri, Request};

use crate::error::AppError;

pub async fn not_found(OriginalUri(uri): OriginalUri, request: Request) -> AppError {
    crate::http::drain_body(request).await;
    AppError::ResourceNotFound(uri.path().to_owned())
}

pub async fn method_not_allowed(request: Request) -> AppError {
    crate::http::drain_body(request).await;
    AppError::MethodNotAllowed
}
