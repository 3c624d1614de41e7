//! Answers for requests no route takes: Atlas 404 and 405 bodies instead of empty responses.

use axum::extract::OriginalUri;

use crate::error::AppError;

pub async fn not_found(OriginalUri(uri): OriginalUri) -> AppError {
    AppError::ResourceNotFound(uri.path().to_owned())
}

pub async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}
