//! E2B's two error shapes: the REST body of the control plane and
//! `/files`, and Connect errors of the RPC routes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::common::{ErrorShape, status_code};

/// E2B's REST error body.
pub(super) fn rest_error(status: u16, message: impl Into<String>) -> Response {
    (
        status_code(status),
        axum::Json(json!({ "code": status, "message": message.into() })),
    )
        .into_response()
}

/// A Connect error: status from the code, JSON `{code, message}`.
pub(super) fn connect_error(code: &str, message: impl Into<String>) -> Response {
    let status = match code {
        "invalid_argument" | "out_of_range" | "failed_precondition" => StatusCode::BAD_REQUEST,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "already_exists" | "aborted" => StatusCode::CONFLICT,
        "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "unimplemented" => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        axum::Json(json!({ "code": code, "message": message.into() })),
    )
        .into_response()
}

/// Faults on the REST routes.
pub(super) struct Rest;

impl ErrorShape for Rest {
    fn error(status: u16, message: String) -> Response {
        rest_error(status, message)
    }

    fn rate_limited() -> Response {
        rest_error(429, "rate limit exceeded")
    }
}

/// Faults on the Connect routes: a rate limit is `resource_exhausted`; an
/// injected status keeps the REST body there too.
pub(super) struct Connect;

impl ErrorShape for Connect {
    fn error(status: u16, message: String) -> Response {
        rest_error(status, message)
    }

    fn rate_limited() -> Response {
        connect_error("resource_exhausted", "rate limit exceeded")
    }
}
