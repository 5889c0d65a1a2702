//! One gRPC connection (control plane or command router): metadata on every
//! call, per-call deadlines, retries (through [`backend_core::retry`]) for
//! calls that are safe to repeat, and gRPC statuses mapped to the error
//! kinds of docs/semantics.md.

use std::time::Duration;

use backend_core::retry::{self, RetryPolicy};
use backend_core::{Error, ErrorKind, Result};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Status, Streaming};
use tracing::Instrument;

use crate::options::Timeouts;

/// Largest message accepted (command output chunks can be large).
const MAX_MESSAGE: usize = 100 * 1024 * 1024;

/// Whether a call may be sent again after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// The call creates something and carries nothing that makes a second
    /// attempt harmless (`SandboxCreate`).
    Never,
    /// A read, a get-or-create, a terminate, or a call keyed by an id or an
    /// offset the server deduplicates on.
    Safe,
}

/// Which side of Modal a connection talks to, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `modal.client.ModalClient` with the token pair.
    ControlPlane,
    /// `modal.task_command_router.TaskCommandRouter` with a JWT.
    CommandRouter,
}

/// A connection plus the metadata every call carries.
#[derive(Clone)]
pub(crate) struct GrpcConn {
    channel: Channel,
    /// Sent on every call; holds secrets, so never logged or printed.
    metadata: Vec<(&'static str, AsciiMetadataValue)>,
    side: Side,
    timeouts: Timeouts,
    retry: RetryPolicy,
}

impl std::fmt::Debug for GrpcConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcConn")
            .field("side", &self.side)
            .finish_non_exhaustive()
    }
}

/// A metadata value from a secret, without echoing the secret on failure.
pub(crate) fn secret_value(value: &str, what: &str) -> Result<AsciiMetadataValue> {
    let mut parsed = AsciiMetadataValue::try_from(value).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{what} contains characters that cannot be sent in a gRPC header; check its value"
            ),
        )
    })?;
    parsed.set_sensitive(true);
    Ok(parsed)
}

impl GrpcConn {
    /// A lazily connected channel to `url` (`https://...`, or `http://` for a
    /// local server).
    pub(crate) fn new(
        url: &str,
        side: Side,
        metadata: Vec<(&'static str, AsciiMetadataValue)>,
        timeouts: Timeouts,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let bad_url = |why: String| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("the Modal URL {url:?} is not usable: {why}"),
            )
        };
        if !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(bad_url(
                "it must start with https:// (or http:// for a local server)".to_owned(),
            ));
        }
        let mut endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| bad_url(e.to_string()))?
            .connect_timeout(timeouts.connect)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        if url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_native_roots())
                .map_err(|e| bad_url(e.to_string()))?;
        }
        Ok(GrpcConn {
            channel: endpoint.connect_lazy(),
            metadata,
            side,
            timeouts,
            retry,
        })
    }

    fn request<T>(
        &self,
        message: T,
        timeout: Option<Duration>,
        attempt: u32,
        key: &str,
    ) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let meta = request.metadata_mut();
        for (name, value) in &self.metadata {
            meta.insert(*name, value.clone());
        }
        if self.side == Side::ControlPlane {
            if let Ok(value) = AsciiMetadataValue::try_from(key) {
                meta.insert("x-idempotency-key", value);
            }
            meta.insert("x-retry-attempt", AsciiMetadataValue::from(attempt));
        }
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        request
    }

    fn client(&self) -> tonic::client::Grpc<Channel> {
        tonic::client::Grpc::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE)
    }

    /// A unary call; `timeout` overrides the default per-call deadline.
    pub(crate) async fn unary<Req, Resp>(
        &self,
        method: &'static str,
        message: Req,
        repeat: Repeat,
        timeout: Option<Duration>,
    ) -> Result<Resp>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let timeout = timeout.unwrap_or(self.timeouts.request);
        let span = tracing::debug_span!("modal_call", method = short(method));
        let key = uuid::Uuid::new_v4().to_string();
        let attempt = |attempt: u32| {
            let request = self.request(message.clone(), Some(timeout), attempt, &key);
            let mut grpc = self.client();
            async move {
                let outcome = async {
                    grpc.ready()
                        .await
                        .map_err(|e| Status::unavailable(e.to_string()))?;
                    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
                    grpc.unary(request, PathAndQuery::from_static(method), codec)
                        .await
                };
                // The client-side bound covers a server that never answers.
                let bound = timeout + Duration::from_secs(5);
                match tokio::time::timeout(bound, outcome).await {
                    Ok(Ok(response)) => Ok(response.into_inner()),
                    Ok(Err(status)) => Err(self.failure(method, repeat, &status, attempt)),
                    Err(_) => {
                        let status =
                            Status::deadline_exceeded("no answer within the call's deadline");
                        Err(self.failure(method, repeat, &status, attempt))
                    }
                }
            }
        };
        let run = retry::retry_with(&self.retry, None, attempt, |f: &Failure| f.decision);
        run.instrument(span).await
    }

    /// Opens a server-streaming call (no overall deadline: the stream lives
    /// as long as the command).
    pub(crate) async fn open_stream<Req, Resp>(
        &self,
        method: &'static str,
        message: Req,
    ) -> std::result::Result<Streaming<Resp>, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let request = self.request(message, None, 0, "");
        let mut grpc = self.client();
        let open = async {
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
            grpc.server_streaming(request, PathAndQuery::from_static(method), codec)
                .await
                .map(tonic::Response::into_inner)
        };
        match tokio::time::timeout(self.timeouts.request, open).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Status::deadline_exceeded(
                "the stream did not open within the call's deadline",
            )),
        }
    }

    /// How this connection retries.
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// A failed attempt of `method`: its error, and whether to try again.
    fn failure(&self, method: &str, repeat: Repeat, status: &Status, attempt: u32) -> Failure {
        let decision = if repeat == Repeat::Safe && transient(status) {
            retry::Retry::Backoff
        } else {
            retry::Retry::Stop
        };
        tracing::debug!(code = ?status.code(), attempt, ?decision, "a Modal call failed");
        Failure {
            error: self.status_error(method, status),
            decision,
        }
    }

    /// A gRPC status as an error, keeping Modal's message.
    pub(crate) fn status_error(&self, method: &str, status: &Status) -> Error {
        status_error(self.side, method, status)
    }
}

/// A failed attempt: the error, and whether to try again.
struct Failure {
    error: Error,
    decision: retry::Retry,
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

/// Whether a failed call left nothing behind that a retry could double.
pub(crate) fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::Unknown
            | Code::Internal
    )
}

fn short(method: &str) -> &str {
    method.rsplit('/').next().unwrap_or(method)
}

/// Maps a gRPC status to an error kind, keeping Modal's message.
pub(crate) fn status_error(side: Side, method: &str, status: &Status) -> Error {
    let call = short(method);
    let said = status.message().trim();
    let said: String = if said.is_empty() {
        "no message".to_owned()
    } else {
        said.chars().take(500).collect()
    };
    let (kind, retryable, hint) = match status.code() {
        Code::Unauthenticated if side == Side::ControlPlane => (
            ErrorKind::Unauthenticated,
            false,
            "; Modal did not accept the token: set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET to a valid token pair (`modal token new` creates one)",
        ),
        Code::Unauthenticated => (
            ErrorKind::Unauthenticated,
            false,
            "; the sandbox's command router did not accept its access token",
        ),
        Code::PermissionDenied if side == Side::ControlPlane => (
            ErrorKind::Unauthenticated,
            false,
            "; check that the token in MODAL_TOKEN_ID/MODAL_TOKEN_SECRET may use this workspace and environment",
        ),
        Code::PermissionDenied => (ErrorKind::PermissionDenied, false, ""),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            (ErrorKind::InvalidArgument, false, "")
        }
        Code::NotFound => (ErrorKind::FileNotFound, false, ""),
        Code::AlreadyExists | Code::Aborted => (ErrorKind::Conflict, true, ""),
        Code::ResourceExhausted => (
            ErrorKind::Unavailable,
            true,
            "; Modal is rate limiting or out of capacity, try again later",
        ),
        Code::DeadlineExceeded => (ErrorKind::Timeout, true, ""),
        Code::Unimplemented => (
            ErrorKind::Unsupported,
            false,
            "; this Modal server does not offer the call",
        ),
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::Internal => {
            (ErrorKind::Unavailable, true, "")
        }
        Code::DataLoss | Code::Ok => (ErrorKind::Internal, false, ""),
    };
    Error::new(
        kind,
        format!("Modal {call} failed ({:?}): {said}{hint}", status.code()),
    )
    .with_context("provider", "Modal")
    .with_retryable(retryable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthenticated_names_both_token_variables() {
        let e = status_error(
            Side::ControlPlane,
            "/modal.client.ModalClient/AppGetOrCreate",
            &Status::unauthenticated("bad token"),
        );
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        assert!(e.message().contains("MODAL_TOKEN_ID"), "{e}");
        assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
        assert!(e.message().contains("bad token"), "{e}");
    }

    #[test]
    fn throttling_and_outages_are_retryable_unavailable() {
        for status in [
            Status::resource_exhausted("slow down"),
            Status::unavailable("down"),
        ] {
            let e = status_error(Side::ControlPlane, "/x/Y", &status);
            assert_eq!(e.kind(), ErrorKind::Unavailable);
            assert!(e.is_retryable());
            assert!(transient(&status));
        }
        assert!(!transient(&Status::invalid_argument("no")));
    }

    #[test]
    fn secret_metadata_values_are_marked_sensitive() {
        let value = secret_value("as-secret", "MODAL_TOKEN_SECRET").expect("ascii");
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("as-secret"));
        let e = secret_value("bad\nvalue", "MODAL_TOKEN_SECRET").expect_err("newline");
        assert!(!e.message().contains("bad\nvalue"));
    }
}
