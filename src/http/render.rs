//! How values are written in answers: Atlas timestamps, and JSON into a buffer of known size.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_are_utc_seconds_with_z() {
        assert_eq!(
            atlas_timestamp(datetime!(2026-08-10 03:03:37.9 UTC)),
            "2026-08-10T03:03:37Z"
        );
    }
}
