//! The checks E2B requests pass before their handler runs: the API key of
//! the control plane, the access token of envd, Connect unary framing.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::error::{connect_error, rest_error};
use super::state::Shared;
use crate::common::{content_type_is, header};

/// The API key the fake accepts.
pub const API_KEY: &str = "e2b_fake_key_0123456789";

/// Checks the control plane's `X-API-Key`.
pub(super) fn api_key(headers: &HeaderMap) -> Result<(), Response> {
    match header(headers, "x-api-key") {
        Some(API_KEY) => Ok(()),
        Some(_) => Err(rest_error(
            401,
            "Invalid API key, it must start with 'e2b_' prefix",
        )),
        None => Err(rest_error(401, "Missing X-API-Key header")),
    }
}

/// The sandbox whose envd access token the request carries, or why none.
pub(super) fn sandbox_of(server: &Shared, headers: &HeaderMap) -> Result<String, String> {
    let token = header(headers, "x-access-token").ok_or("missing X-Access-Token header")?;
    server
        .state()
        .by_token(token)
        .ok_or_else(|| "invalid access token (or the sandbox is gone)".to_owned())
}

/// Checks a Connect unary call: JSON, protocol version 1 when given.
pub(super) fn connect_unary(headers: &HeaderMap) -> Result<(), Response> {
    if !content_type_is(headers, "application/json") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        )
            .into_response());
    }
    match header(headers, "connect-protocol-version") {
        None | Some("1") => Ok(()),
        Some(other) => Err(connect_error(
            "invalid_argument",
            format!("connect-protocol-version must be \"1\": got {other:?}"),
        )),
    }
}
