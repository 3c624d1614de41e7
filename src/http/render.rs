//! JSON answers written into a buffer of known size (Atlas timestamps are in `views`).

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
