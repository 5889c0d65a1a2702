//! Daytona's error body: `{statusCode, message, error}`.

use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::{ErrorShape, status_code};

/// Daytona's error response.
pub(super) fn error(status: u16, message: impl Into<String>) -> Response {
    let code = status_code(status);
    let reason = code.canonical_reason().unwrap_or("Error");
    (
        code,
        axum::Json(json!({ "statusCode": status, "message": message.into(), "error": reason })),
    )
        .into_response()
}

/// Daytona's shape for the shared checks.
pub(super) struct Daytona;

impl ErrorShape for Daytona {
    fn error(status: u16, message: String) -> Response {
        error(status, message)
    }

    fn rate_limited() -> Response {
        error(429, "ThrottlerException: Too Many Requests")
    }
}
