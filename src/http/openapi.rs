//! `GET /api/orgdoor/v1/openapi.yaml`: the Atlas Administration API v2 contract orgdoor serves,
//! the OpenAPI document vendored in `spec/atlas/`, byte for byte. It is public documentation,
//! so it is answered without authentication.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// `spec/atlas/org-access.v2.openapi.yaml`, built into the binary.
pub const ATLAS_V2: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/atlas/org-access.v2.openapi.yaml"
));

pub async fn atlas_v2() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/yaml"),
        )],
        ATLAS_V2,
    )
}
