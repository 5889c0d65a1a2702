//! One reqwest client per backend: timeouts, retries (through
//! [`backend_core::retry`]) where the provider says a call is safe to
//! repeat, and provider errors mapped to [`ErrorKind`]s.

use std::time::Duration;

use backend_core::retry::{RETRY_AFTER_KEY, Retry, RetryPolicy, retry_with};
use backend_core::{Error, ErrorKind};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use tracing::Instrument;

use crate::options::{RemoteOptions, Timeouts};
use crate::secret::ApiKey;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Never: the call has effects that must not happen twice (command
    /// execution). Even a 429 is returned as an error.
    Never,
    /// Only when the server says it did nothing: 429, or an explicit
    /// `Should-Retry: true`. For creates without an idempotency key.
    Throttled,
    /// Safe to repeat: reads, deletes, and calls carrying an idempotency key.
    /// Also retried on connection failures, 408, 409, 5xx.
    Idempotent,
}

/// The shared HTTP plumbing of one backend.
#[derive(Clone)]
pub(crate) struct HttpClient {
    http: reqwest::Client,
    provider: &'static str,
    key_env: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `provider` with the timeouts and retries of `options`
    /// (whose `api_key_env` the errors about the key name).
    pub(crate) fn for_options(
        provider: &'static str,
        options: &RemoteOptions,
    ) -> Result<Self, Error> {
        Self::new(
            provider,
            options.api_key_env.clone(),
            options.timeouts,
            options.retry,
        )
    }

    /// A client for `provider`, whose key lives in the env var `key_env`.
    pub(crate) fn new(
        provider: &'static str,
        key_env: String,
        timeouts: Timeouts,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .user_agent(concat!("backend-remote/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::internal(format!("could not build the {provider} HTTP client: {e}"))
                    .with_source(e)
            })?;
        Ok(HttpClient {
            http,
            provider,
            key_env,
            retry,
        })
    }

    /// Sends the request `build` makes (again for each attempt), retrying as
    /// `repeat` allows. Returns the response when its status is a success;
    /// otherwise the provider's error mapped to an [`Error`].
    pub(crate) async fn send<F>(
        &self,
        call: &'static str,
        repeat: Repeat,
        build: F,
    ) -> Result<Response, Error>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let attempt = |attempt: u32| {
            let span =
                tracing::debug_span!("provider_call", provider = self.provider, call, attempt);
            let request = build(&self.http);
            async move {
                match request.send().await {
                    Ok(response) if response.status().is_success() => Ok(response),
                    Ok(response) => {
                        let status = response.status();
                        let headers = response.headers().clone();
                        let body = response.text().await.unwrap_or_default();
                        let decision = decide(repeat, status, &headers);
                        tracing::debug!(status = status.as_u16(), ?decision, "failed");
                        let error = self.status_error(call, status, &headers, &body);
                        Err(Failure { error, decision })
                    }
                    Err(e) => {
                        let decision = if repeat == Repeat::Idempotent && !e.is_builder() {
                            Retry::Backoff
                        } else {
                            Retry::Stop
                        };
                        tracing::debug!(error = %e, ?decision, "failed");
                        let error = self.transport_error(call, e);
                        Err(Failure { error, decision })
                    }
                }
            }
            .instrument(span)
        };
        retry_with(&self.retry, None, attempt, |f: &Failure| f.decision).await
    }

    /// POSTs `body` as JSON to `url` with `key` as the bearer token, as
    /// [`send`](Self::send) does.
    #[cfg_attr(not(any(feature = "daytona", feature = "runloop")), allow(dead_code))]
    pub(crate) async fn post_json(
        &self,
        call: &'static str,
        repeat: Repeat,
        url: &str,
        key: &ApiKey,
        body: &serde_json::Value,
    ) -> Result<Response, Error> {
        self.send(call, repeat, |http| {
            http.post(url).bearer_auth(key.expose()).json(body)
        })
        .await
    }

    /// Downloads a file's whole body with the request `build` makes (again
    /// for each attempt).
    pub(crate) async fn download_file<F>(&self, build: F) -> Result<Vec<u8>, Error>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let response = self
            .send("download file", Repeat::Idempotent, build)
            .await?;
        self.read_bytes("download file", response).await
    }

    /// Uploads `content` as the file `abs` in a multipart form sent with the
    /// request `build` makes (again for each attempt): the bytes, named after
    /// the last part of `abs`, in `file_field`, and `abs` itself in
    /// `path_field` where the provider reads the path from the form.
    pub(crate) async fn upload_file<F>(
        &self,
        abs: &str,
        content: Vec<u8>,
        path_field: Option<&'static str>,
        file_field: &'static str,
        build: F,
    ) -> Result<(), Error>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let name = abs.rsplit('/').next().unwrap_or("file").to_owned();
        self.send("upload file", Repeat::Idempotent, |http| {
            let part = reqwest::multipart::Part::bytes(content.clone()).file_name(name.clone());
            let form = match path_field {
                Some(field) => reqwest::multipart::Form::new().text(field, abs.to_owned()),
                None => reqwest::multipart::Form::new(),
            };
            build(http).multipart(form.part(file_field, part))
        })
        .await
        .map(drop)
    }

    /// Reads a whole success body as JSON. A body cut off by a dropped
    /// connection is `unavailable`; a body that is not the expected JSON is
    /// `internal`.
    pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        call: &str,
        response: Response,
    ) -> Result<T, Error> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::internal(format!(
                "{} {call}: unexpected response: {e}",
                self.provider
            ))
            .with_context("provider", self.provider)
        })
    }

    /// Reads a whole success body as bytes.
    pub(crate) async fn read_bytes(
        &self,
        call: &str,
        response: Response,
    ) -> Result<Vec<u8>, Error> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(call, e))?;
        Ok(bytes.to_vec())
    }

    /// A transport failure (no response) as an error.
    pub(crate) fn transport_error(&self, call: &str, e: reqwest::Error) -> Error {
        let provider = self.provider;
        let (kind, what) = if e.is_timeout() {
            (ErrorKind::Timeout, "timed out")
        } else if e.is_connect() {
            (ErrorKind::Unavailable, "could not connect")
        } else {
            (ErrorKind::Unavailable, "lost the connection")
        };
        Error::new(
            kind,
            format!("{provider} {call}: {what}: {}", without_url(&e)),
        )
        .with_context("provider", provider)
        .with_retryable(true)
        .with_source(e.without_url())
    }

    /// An error status as an error, keeping the provider's message.
    pub(crate) fn status_error(
        &self,
        call: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
    ) -> Error {
        let provider = self.provider;
        let message = provider_message(body);
        let code = status.as_u16();
        let (kind, retryable, hint) = match code {
            400 | 422 => (ErrorKind::InvalidArgument, false, String::new()),
            401 => (
                ErrorKind::Unauthenticated,
                false,
                format!(
                    "; the API key was rejected: set {} to a valid key",
                    self.key_env
                ),
            ),
            403 => (
                ErrorKind::Unauthenticated,
                false,
                format!("; check that the key in {} has access", self.key_env),
            ),
            404 | 410 => (ErrorKind::FileNotFound, false, String::new()),
            408 => (ErrorKind::Timeout, true, String::new()),
            409 => (ErrorKind::Conflict, true, String::new()),
            413 => (ErrorKind::TooLarge, false, String::new()),
            429 => (
                ErrorKind::Unavailable,
                true,
                "; rate limited, try again later".to_owned(),
            ),
            507 => (ErrorKind::QuotaExceeded, false, String::new()),
            500..=599 => (ErrorKind::Unavailable, true, String::new()),
            _ => (ErrorKind::Internal, false, String::new()),
        };
        let mut error = Error::new(
            kind,
            format!("{provider} {call} failed (HTTP {code}): {message}{hint}"),
        )
        .with_context("provider", provider)
        .with_context("status", code.to_string())
        .with_retryable(retryable);
        if let Some(id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
            error = error.with_context("request_id", id.to_owned());
        }
        if let Some(wait) = retry_after(headers) {
            error = error.with_context(RETRY_AFTER_KEY, wait.as_millis().to_string());
        }
        error
    }
}

/// A failed attempt: the error, and whether to try again.
struct Failure {
    error: Error,
    decision: Retry,
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

/// Whether a failed status may be retried under `repeat`, and after how
/// long: the server's `retry-after-ms` or `Retry-After` when given, else
/// the policy's backoff.
fn decide(repeat: Repeat, status: StatusCode, headers: &HeaderMap) -> Retry {
    if !should_retry(repeat, status, headers) {
        return Retry::Stop;
    }
    match retry_after(headers) {
        Some(wait) => Retry::After(wait),
        None => Retry::Backoff,
    }
}

/// The wait a server asks for: `retry-after-ms`, else `Retry-After` in
/// seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    header("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
        .or_else(|| {
            header("retry-after")
                .and_then(|v| v.parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.max(0.0)))
        })
}

/// Whether a failed status may be retried under `repeat`.
fn should_retry(repeat: Repeat, status: StatusCode, headers: &HeaderMap) -> bool {
    if repeat == Repeat::Never {
        return false;
    }
    let explicit = ["should-retry", "x-should-retry"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().eq_ignore_ascii_case("true"));
    if let Some(explicit) = explicit {
        return explicit;
    }
    match repeat {
        Repeat::Never => false,
        Repeat::Throttled => status == StatusCode::TOO_MANY_REQUESTS,
        Repeat::Idempotent => matches!(status.as_u16(), 408 | 409 | 429 | 500 | 502 | 503 | 504),
    }
}

/// The human message in a provider's error body: the `message` (or `error`)
/// field of a JSON body, else the text itself, shortened.
pub(crate) fn provider_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        for field in ["message", "error", "detail"] {
            match value.get(field) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => return shorten(s),
                Some(serde_json::Value::Object(inner)) => {
                    if let Some(serde_json::Value::String(s)) = inner.get("message") {
                        return shorten(s);
                    }
                }
                _ => {}
            }
        }
    }
    let text = body.trim();
    if text.is_empty() {
        "no message in the response".to_owned()
    } else {
        shorten(text)
    }
}

fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A reqwest error's text without the URL (which can hold signed tokens).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn client() -> HttpClient {
        HttpClient::new(
            "Test",
            "TEST_API_KEY".to_owned(),
            Timeouts::default(),
            RetryPolicy::default(),
        )
        .expect("client")
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(
            decide(Repeat::Idempotent, StatusCode::TOO_MANY_REQUESTS, &h),
            Retry::After(Duration::from_millis(250))
        );
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3600"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3600)));
        let e = client().status_error("create", StatusCode::TOO_MANY_REQUESTS, &h, "");
        assert_eq!(e.context_value(RETRY_AFTER_KEY), Some("3600000"));
    }

    #[test]
    fn backoff_without_server_hint() {
        assert_eq!(
            decide(
                Repeat::Idempotent,
                StatusCode::BAD_GATEWAY,
                &HeaderMap::new()
            ),
            Retry::Backoff
        );
        assert_eq!(
            decide(Repeat::Never, StatusCode::BAD_GATEWAY, &HeaderMap::new()),
            Retry::Stop
        );
    }

    #[test]
    fn should_retry_header_overrides_status_rules() {
        let mut h = HeaderMap::new();
        h.insert("x-should-retry", HeaderValue::from_static("false"));
        assert!(!should_retry(
            Repeat::Idempotent,
            StatusCode::SERVICE_UNAVAILABLE,
            &h
        ));
        let mut h = HeaderMap::new();
        h.insert("Should-Retry", HeaderValue::from_static("true"));
        assert!(should_retry(
            Repeat::Throttled,
            StatusCode::INTERNAL_SERVER_ERROR,
            &h
        ));
        assert!(!should_retry(
            Repeat::Never,
            StatusCode::TOO_MANY_REQUESTS,
            &h
        ));
    }

    #[test]
    fn throttled_calls_retry_only_429() {
        let h = HeaderMap::new();
        assert!(should_retry(
            Repeat::Throttled,
            StatusCode::TOO_MANY_REQUESTS,
            &h
        ));
        assert!(!should_retry(
            Repeat::Throttled,
            StatusCode::BAD_GATEWAY,
            &h
        ));
        assert!(should_retry(
            Repeat::Idempotent,
            StatusCode::BAD_GATEWAY,
            &h
        ));
    }

    #[test]
    fn unauthorized_names_the_env_var_and_keeps_the_message() {
        for status in [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN] {
            let e = client().status_error(
                "create",
                status,
                &HeaderMap::new(),
                r#"{"code":401,"message":"Invalid API key"}"#,
            );
            assert_eq!(e.kind(), ErrorKind::Unauthenticated);
            assert!(e.message().contains("TEST_API_KEY"), "{}", e.message());
            assert!(e.message().contains("Invalid API key"), "{}", e.message());
        }
    }

    #[test]
    fn provider_message_reads_nested_connect_and_plain_bodies() {
        assert_eq!(
            provider_message(r#"{"statusCode":400,"message":"bad"}"#),
            "bad"
        );
        assert_eq!(provider_message(r#"{"error":{"message":"deep"}}"#), "deep");
        assert_eq!(provider_message("plain text"), "plain text");
    }
}
