//! S3 failures turned into the kinds of `docs/semantics.md`.
//!
//! The source attached to an error is rebuilt from the error code, message
//! and HTTP status only: the SDK's own error values can hold the raw
//! response, and nothing from a request (its signature, its credentials)
//! may reach a log.

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use backend_core::{Error, ErrorKind};

/// What an S3 failure is, independent of the operation's error type.
#[derive(Debug, Clone)]
pub(crate) struct S3Failure {
    pub(crate) kind: ErrorKind,
    /// The S3 error code (`NoSuchKey`, `SlowDown`...), when the store sent one.
    pub(crate) code: Option<String>,
    pub(crate) status: Option<u16>,
    detail: String,
}

impl fmt::Display for S3Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for S3Failure {}

impl S3Failure {
    /// A failure that did not come from an S3 response.
    pub(crate) fn new(kind: ErrorKind, detail: String) -> Self {
        S3Failure {
            kind,
            code: None,
            status: None,
            detail,
        }
    }

    /// A failure with an S3 error code, such as one item of `DeleteObjects`.
    pub(crate) fn with_code(kind: ErrorKind, code: Option<String>, detail: String) -> Self {
        S3Failure {
            kind,
            code,
            status: None,
            detail,
        }
    }

    /// Whether the store said the key (or upload) does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::FileNotFound
    }

    /// Whether a condition (`If-Match`) did not hold.
    pub(crate) fn is_precondition_failed(&self) -> bool {
        self.status == Some(412) || self.code.as_deref() == Some("PreconditionFailed")
    }

    /// The backend error for `path` (a virtual path, never a key).
    pub(crate) fn into_error(self, path: Option<&str>, bucket: &str) -> Error {
        let what = path.unwrap_or("the bucket");
        let message = match self.kind {
            ErrorKind::FileNotFound => match path {
                Some(p) => return Error::file_not_found(p).with_source(self),
                None => {
                    format!("bucket {bucket:?} does not exist; create it or fix the bucket name")
                }
            },
            ErrorKind::PermissionDenied => format!(
                "the S3 store refused access to {what} ({}); check the credentials and the bucket policy",
                self.code.as_deref().unwrap_or("403")
            ),
            ErrorKind::Conflict => {
                format!("{what} changed while it was being updated; read it again and retry")
            }
            ErrorKind::Timeout => {
                format!("the S3 store did not answer in time for {what}; retry later")
            }
            ErrorKind::Unavailable => format!(
                "the S3 store is unavailable for {what} ({}); retry later",
                self.detail
            ),
            ErrorKind::TooLarge => format!("{what} is larger than the S3 store accepts"),
            ErrorKind::Unsupported => format!(
                "the S3 store does not implement an operation needed for {what} ({})",
                self.detail
            ),
            ErrorKind::InvalidArgument => {
                format!(
                    "the S3 store rejected the request for {what}: {}",
                    self.detail
                )
            }
            _ => format!("unexpected S3 error for {what}: {}", self.detail),
        };
        let retryable = matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Conflict
        ) && self.code.as_deref() != Some("NoSuchBucket");
        let mut err = Error::new(self.kind, message).with_retryable(retryable);
        if let Some(p) = path {
            err = err.with_path(p);
        }
        if let Some(code) = &self.code {
            err = err.with_context("s3_code", code.clone());
        }
        err.with_source(self)
    }
}

/// Classifies an SDK error.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> S3Failure
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().map(str::to_owned);
            let status = status_of(err);
            let detail = format!(
                "{} (HTTP {}){}",
                code.as_deref().unwrap_or("unknown error"),
                status.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                inner
                    .message()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            );
            S3Failure {
                kind: kind_for(code.as_deref(), status),
                code,
                status,
                detail,
            }
        }
        SdkError::TimeoutError(_) => S3Failure {
            kind: ErrorKind::Timeout,
            code: None,
            status: None,
            detail: "the request timed out".to_owned(),
        },
        SdkError::DispatchFailure(failure) => {
            let (kind, detail) = if failure.is_timeout() {
                (ErrorKind::Timeout, "the connection timed out")
            } else if failure.is_io() {
                (
                    ErrorKind::Unavailable,
                    "the connection failed or was refused",
                )
            } else if failure.is_user() {
                (ErrorKind::InvalidArgument, "the request could not be sent")
            } else {
                (ErrorKind::Unavailable, "the request could not be sent")
            };
            S3Failure {
                kind,
                code: None,
                status: None,
                detail: detail.to_owned(),
            }
        }
        SdkError::ResponseError(_) => S3Failure {
            kind: ErrorKind::Unavailable,
            code: None,
            status: status_of(err),
            detail: "the response was cut or malformed".to_owned(),
        },
        SdkError::ConstructionFailure(_) => S3Failure {
            kind: ErrorKind::Internal,
            code: None,
            status: None,
            detail: "the request could not be built".to_owned(),
        },
        _ => S3Failure {
            kind: ErrorKind::Internal,
            code: None,
            status: None,
            detail: "unknown SDK error".to_owned(),
        },
    }
}

fn status_of<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// The kind for an S3 error code, falling back on the HTTP status.
pub(crate) fn kind_for(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some("NoSuchKey" | "NotFound" | "NoSuchUpload") => ErrorKind::FileNotFound,
        Some("NoSuchBucket") => ErrorKind::FileNotFound,
        Some(
            "AccessDenied"
            | "AllAccessDisabled"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "AccountProblem",
        ) => ErrorKind::PermissionDenied,
        Some("PreconditionFailed" | "ConditionalRequestConflict" | "OperationAborted") => {
            ErrorKind::Conflict
        }
        Some(
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "ServiceUnavailable"
            | "InternalError"
            | "RequestTimeout",
        ) => ErrorKind::Unavailable,
        Some("EntityTooLarge") => ErrorKind::TooLarge,
        Some("NotImplemented") => ErrorKind::Unsupported,
        Some("InvalidRange" | "InvalidArgument" | "InvalidRequest" | "KeyTooLongError") => {
            ErrorKind::InvalidArgument
        }
        _ => match status {
            Some(404) => ErrorKind::FileNotFound,
            Some(401 | 403) => ErrorKind::PermissionDenied,
            Some(409 | 412) => ErrorKind::Conflict,
            Some(413) => ErrorKind::TooLarge,
            Some(429) => ErrorKind::Unavailable,
            Some(501) => ErrorKind::Unsupported,
            Some(s) if s >= 500 => ErrorKind::Unavailable,
            Some(400) => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_spec_kinds() {
        assert_eq!(
            kind_for(Some("NoSuchKey"), Some(404)),
            ErrorKind::FileNotFound
        );
        assert_eq!(
            kind_for(Some("AccessDenied"), Some(403)),
            ErrorKind::PermissionDenied
        );
        assert_eq!(
            kind_for(Some("SlowDown"), Some(503)),
            ErrorKind::Unavailable
        );
        assert_eq!(
            kind_for(Some("PreconditionFailed"), Some(412)),
            ErrorKind::Conflict
        );
        assert_eq!(kind_for(None, Some(500)), ErrorKind::Unavailable);
        assert_eq!(kind_for(None, Some(404)), ErrorKind::FileNotFound);
        assert_eq!(
            kind_for(Some("NotImplemented"), Some(501)),
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn unavailable_errors_are_retryable_and_name_the_path() {
        let failure = S3Failure {
            kind: ErrorKind::Unavailable,
            code: Some("SlowDown".into()),
            status: Some(503),
            detail: "SlowDown (HTTP 503)".into(),
        };
        let err = failure.into_error(Some("/a.txt"), "bkt");
        assert!(err.is_retryable());
        assert_eq!(err.path(), Some("/a.txt"));
        assert_eq!(err.context_value("s3_code"), Some("SlowDown"));
    }
}
