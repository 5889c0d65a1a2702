//! HTTP plumbing every REST fake shares: headers, error shapes, the fault,
//! key and body checks, multipart forms and the listener.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::fault::{Fault, Faults, dropped_connection};

/// A handler's answer. Errors are ready-made responses in the provider's
/// shape, so handlers pass them up with `?`.
pub type Reply = Result<Response, Response>;

/// How one provider's API answers errors; the shared checks below answer in
/// it.
pub trait ErrorShape {
    /// Whether a 429 also gives the wait in milliseconds (`retry-after-ms`).
    const RETRY_AFTER_MS: bool = false;

    /// The provider's error response: `status` with its error body.
    fn error(status: u16, message: String) -> Response;

    /// The provider's 429, before the retry headers are added.
    fn rate_limited() -> Response;
}

/// `status` as a status code; an invalid number is a 500.
pub fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The response an injected `fault` gets, in `E`'s shape.
pub fn fault_reply<E: ErrorShape>(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { retry_after } => {
            let mut response = E::rate_limited();
            let headers = response.headers_mut();
            if E::RETRY_AFTER_MS
                && let Ok(v) = retry_after.as_millis().to_string().parse()
            {
                headers.insert("retry-after-ms", v);
            }
            if let Ok(v) = retry_after.as_secs().max(1).to_string().parse() {
                headers.insert("retry-after", v);
            }
            response
        }
        Fault::Status(status) => E::error(status, format!("injected failure {status}")),
        Fault::DropConnection => dropped_connection(),
    }
}

/// Counts a request to `route` and fails it when a fault is due.
pub fn injected<E: ErrorShape>(faults: &Faults, route: &str) -> Result<(), Response> {
    match faults.take(route) {
        Some(fault) => Err(fault_reply::<E>(fault)),
        None => Ok(()),
    }
}

/// Checks `Authorization: Bearer <key>`; otherwise a 401 with `message`.
pub fn bearer<E: ErrorShape>(
    headers: &HeaderMap,
    key: &str,
    message: &str,
) -> Result<(), Response> {
    match header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        Some(given) if given == key => Ok(()),
        _ => Err(E::error(401, message.to_owned())),
    }
}

/// The JSON request body as `T`: the content type must be JSON and the
/// body must match `T` (which denies unknown fields where the API does).
pub fn json_body<E: ErrorShape, T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Response> {
    if !content_type_is(headers, "application/json") {
        return Err(E::error(
            400,
            "Content-Type must be application/json".to_owned(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| E::error(400, format!("invalid request body: {e}")))
}

/// A file's bytes as the download routes send them.
pub fn octet_stream(bytes: Vec<u8>) -> Response {
    ([("content-type", "application/octet-stream")], bytes).into_response()
}

/// Why a multipart form could not be read.
#[derive(Debug)]
pub enum FormError {
    /// The form is not multipart, or its framing is broken.
    Malformed(String),
    /// A part's content could not be read.
    Part(String),
}

impl std::fmt::Display for FormError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormError::Malformed(e) | FormError::Part(e) => f.write_str(e),
        }
    }
}

/// Every part of a multipart form, as (name, content) in order.
pub async fn form_parts(request: Request) -> Result<Vec<(String, Bytes)>, FormError> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| FormError::Malformed(e.to_string()))?;
    let mut parts = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| FormError::Malformed(e.to_string()))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let content = field
            .bytes()
            .await
            .map_err(|e| FormError::Part(e.to_string()))?;
        parts.push((name, content));
    }
    Ok(parts)
}

/// The value of header `name`, when present and text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request's content type is `expected` (parameters ignored).
pub fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header(headers, "content-type")
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(expected)
        })
        .unwrap_or(false)
}

/// Serves `routes` with `state` on 127.0.0.1 at a random port, with no
/// body size limit (uploads may be large); returns `http://addr`.
pub async fn serve<S: Send + Sync + 'static>(routes: Router<Arc<S>>, state: Arc<S>) -> String {
    let router = routes
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("a fake server cannot bind 127.0.0.1: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("a fake server has no local address: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}
