//! An error on the wire: [`ErrorParts`], rendered as Atlas's `ApiError` body with the
//! `x-error-code` header. Internal failures are logged here, once, and never described to the
//! client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::AppError;

/// Header that repeats the body's `errorCode`, as Atlas sends it.
pub const X_ERROR_CODE: &str = "x-error-code";

/// What an error looks like on the wire, before rendering.
#[derive(Debug, PartialEq)]
pub struct ErrorParts {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub parameters: Vec<Value>,
}

/// `ApiError` as Atlas serializes it: compact, keys in alphabetical order.
#[derive(Serialize)]
struct ApiErrorBody<'a> {
    detail: &'a str,
    error: u16,
    #[serde(rename = "errorCode")]
    error_code: &'a str,
    parameters: &'a [Value],
    reason: &'a str,
}

impl ErrorParts {
    /// An Atlas error for a bare status, for answers something below the handlers produced
    /// without a body (an extractor's rejection, a method no route takes).
    pub fn for_status(status: StatusCode) -> Self {
        let known = match status.as_u16() {
            400 => Some(AppError::MalformedRequest),
            404 => Some(AppError::ResourceNotFound(String::new())),
            405 => Some(AppError::MethodNotAllowed),
            408 => Some(AppError::RequestTimeout),
            413 => Some(AppError::PayloadTooLarge),
            414 => Some(AppError::UriTooLong),
            431 => Some(AppError::HeadersTooLarge),
            503 => Some(AppError::ServiceUnavailable),
            _ => None,
        };
        match known {
            Some(error) => error.parts(),
            None => ErrorParts {
                status,
                code: "UNEXPECTED_ERROR",
                detail: status
                    .canonical_reason()
                    .unwrap_or("Unexpected error")
                    .to_owned(),
                parameters: vec![],
            },
        }
    }

    /// The JSON body alone, for answers written below the router.
    pub fn json_bytes(&self) -> Vec<u8> {
        let body = ApiErrorBody {
            detail: &self.detail,
            error: self.status.as_u16(),
            error_code: self.code,
            parameters: &self.parameters,
            reason: self.status.canonical_reason().unwrap_or("Error"),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }

    pub fn into_response(self) -> Response {
        let bytes = self.json_bytes();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(X_ERROR_CODE, HeaderValue::from_static(self.code));
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match &self {
            AppError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            AppError::ServiceUnavailable => tracing::warn!("request refused: database unavailable"),
            AppError::ServerBusy => tracing::warn!("request refused: request body memory is full"),
            _ => {}
        }
        self.parts().into_response()
    }
}
