//! JSON answers written into a buffer of known size (Atlas timestamps are in `views`).

use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// A JSON body serialized into a buffer of `capacity` bytes: axum's `Json` starts at 128 bytes
/// and doubles, copying a body of megabytes several times on the way.
pub fn sized_json(value: &impl serde::Serialize, capacity: usize) -> Response {
    rendered_response(render_json(value, capacity))
}

/// The answer for a body [`render_json`] rendered, or for its error.
pub fn rendered_response(rendered: Result<Bytes, AppError>) -> Response {
    match rendered {
        Ok(body) => json_response(body),
        Err(error) => error.into_response(),
    }
}

/// `value` serialized into a buffer of `capacity` bytes, to answer now or keep.
pub fn render_json(value: &impl serde::Serialize, capacity: usize) -> Result<Bytes, AppError> {
    let mut body = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut body, value).map_err(|error| AppError::Internal(error.into()))?;
    Ok(Bytes::from(body))
}

/// An answer with a JSON body already rendered.
pub fn json_response(body: Bytes) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}
