//! Runloop's error body: `{"message": ...}` with the HTTP status.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::{ErrorShape, status_code};

/// Runloop's error response.
pub(super) fn error(status: u16, message: impl Into<String>) -> Response {
    (
        status_code(status),
        axum::Json(json!({ "message": message.into() })),
    )
        .into_response()
}

/// Runloop's shape for the shared checks.
pub(super) struct Runloop;

impl ErrorShape for Runloop {
    const RETRY_AFTER_MS: bool = true;

    fn error(status: u16, message: String) -> Response {
        error(status, message)
    }

    fn rate_limited() -> Response {
        error(429, "rate limit exceeded")
    }
}
