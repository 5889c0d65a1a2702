//! The one error type every backend returns.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::operation::Operation;

/// A specialised `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a stable machine-readable code.
///
/// The codes (see [`ErrorKind::code`]) are part of the public contract: tools
/// print them to models and clients match on them, so they never change.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The path names nothing.
    FileNotFound,
    /// A file was expected but the path is a directory.
    IsDirectory,
    /// A directory was expected but the path (or one of its parents) is a file.
    NotADirectory,
    /// The content is not UTF-8 text (or not a regular file).
    NotATextFile,
    /// The operation is not allowed on this path or by this policy.
    PermissionDenied,
    /// The credentials for a service behind the backend (an API key, a
    /// token) are missing, wrong or lack a right; no path is at fault.
    Unauthenticated,
    /// The path breaks the virtual path rules.
    InvalidPath,
    /// An argument other than the path is out of range or malformed.
    InvalidArgument,
    /// A glob or regular expression could not be compiled.
    InvalidPattern,
    /// `edit` found no occurrence of the old string.
    StringNotFound,
    /// `edit` found several occurrences and `replace_all` was not set.
    MultipleOccurrences,
    /// The content or result is larger than a configured limit.
    TooLarge,
    /// The target changed concurrently; the operation may be retried.
    Conflict,
    /// The operation did not finish in time.
    Timeout,
    /// The backend does not offer this operation.
    Unsupported,
    /// The backend or a service behind it cannot be reached right now.
    Unavailable,
    /// A quota (bytes, sessions, sandboxes) would be exceeded.
    QuotaExceeded,
    /// A bug or an unexpected condition inside the backend.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::FileNotFound,
        ErrorKind::IsDirectory,
        ErrorKind::NotADirectory,
        ErrorKind::NotATextFile,
        ErrorKind::PermissionDenied,
        ErrorKind::Unauthenticated,
        ErrorKind::InvalidPath,
        ErrorKind::InvalidArgument,
        ErrorKind::InvalidPattern,
        ErrorKind::StringNotFound,
        ErrorKind::MultipleOccurrences,
        ErrorKind::TooLarge,
        ErrorKind::Conflict,
        ErrorKind::Timeout,
        ErrorKind::Unsupported,
        ErrorKind::Unavailable,
        ErrorKind::QuotaExceeded,
        ErrorKind::Internal,
    ];

    /// The stable code, such as `file_not_found`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::FileNotFound => "file_not_found",
            ErrorKind::IsDirectory => "is_directory",
            ErrorKind::NotADirectory => "not_a_directory",
            ErrorKind::NotATextFile => "not_a_text_file",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::InvalidPath => "invalid_path",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::InvalidPattern => "invalid_pattern",
            ErrorKind::StringNotFound => "string_not_found",
            ErrorKind::MultipleOccurrences => "multiple_occurrences",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind whose [`code`](Self::code) is `code`.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|kind| kind.code() == code)
    }

    /// Whether an error of this kind is usually transient, so that repeating
    /// the same call later may succeed.
    pub const fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Conflict | ErrorKind::Timeout | ErrorKind::Unavailable
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error every backend operation returns.
///
/// It carries a [`kind`](Self::kind) with a stable code, the
/// [`operation`](Self::operation) and [`path`](Self::path) it concerns, a
/// [`message`](Self::message) written so that a person or a model can act on
/// it, optional key/value context (such as the composite route that failed),
/// the underlying source, and whether repeating the call can help.
///
/// Serialising keeps everything but the source, which becomes its display
/// text in `source_message`.
pub struct Error {
    kind: ErrorKind,
    operation: Option<Operation>,
    path: Option<String>,
    message: Cow<'static, str>,
    context: Vec<(String, String)>,
    retryable: bool,
    source: Option<BoxedSource>,
}

impl Error {
    /// An error of `kind` with a message for the reader.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            operation: None,
            path: None,
            message: message.into(),
            context: Vec::new(),
            retryable: kind.is_transient(),
            source: None,
        }
    }

    /// Sets the operation.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Sets the operation unless one is already set; layers use this to fill
    /// in what inner code left out.
    pub fn or_operation(mut self, operation: Operation) -> Self {
        self.operation.get_or_insert(operation);
        self
    }

    /// Sets the virtual path the error concerns.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds a key/value pair of context, such as `("route", "/memories/")`.
    /// Keys are short `snake_case` words; [`KNOWN_CONTEXT_KEYS`] lists the
    /// ones this workspace sets.
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxedSource>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Overrides whether retrying can help (by default: transient kinds only).
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> Self {
        self.message = message.into();
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of the kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The operation, when known.
    pub fn operation(&self) -> Option<Operation> {
        self.operation
    }

    /// The virtual path, when the error concerns one.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The message for a person or a model.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The key/value context, in the order it was added.
    pub fn context(&self) -> &[(String, String)] {
        &self.context
    }

    /// The value of one context key.
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether repeating the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// `file_not_found` for `path`.
    pub fn file_not_found(path: impl Into<String>) -> Self {
        let path = path.into();
        Error::new(
            ErrorKind::FileNotFound,
            format!(
                "{path} does not exist; list the parent directory or glob to find the right path"
            ),
        )
        .with_path(path)
    }

    /// `is_directory` for `path`.
    pub fn is_directory(path: impl Into<String>) -> Self {
        let path = path.into();
        Error::new(
            ErrorKind::IsDirectory,
            format!("{path} is a directory, not a file"),
        )
        .with_path(path)
    }

    /// `not_a_directory` for `path`.
    pub fn not_a_directory(path: impl Into<String>) -> Self {
        let path = path.into();
        Error::new(
            ErrorKind::NotADirectory,
            format!("{path} (or one of its parents) is a file, not a directory"),
        )
        .with_path(path)
    }

    /// `not_a_text_file` for `path`.
    pub fn not_a_text_file(path: impl Into<String>) -> Self {
        let path = path.into();
        Error::new(
            ErrorKind::NotATextFile,
            format!("{path} is not UTF-8 text; read it as bytes instead"),
        )
        .with_path(path)
    }

    /// `invalid_argument` with a message.
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// `unsupported`: the backend does not offer `what`.
    pub fn unsupported(what: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("this backend does not support {what}"),
        )
    }

    /// `permission_denied` for `delete` of `/`: no backend lets the root
    /// itself go, only what is inside it.
    pub fn root_not_deletable() -> Self {
        Error::new(
            ErrorKind::PermissionDenied,
            "the root directory / cannot be deleted; delete the entries inside it instead",
        )
        .with_path("/")
        .with_operation(Operation::Delete)
    }

    /// `internal` with a message.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.kind);
        if let Some(op) = self.operation {
            s.field("operation", &op);
        }
        if let Some(path) = &self.path {
            s.field("path", path);
        }
        s.field("message", &self.message);
        if !self.context.is_empty() {
            s.field("context", &self.context);
        }
        s.field("retryable", &self.retryable);
        if let Some(source) = &self.source {
            s.field("source", source);
        }
        s.finish()
    }
}

impl fmt::Display for Error {
    /// `[code] operation: message (key=value, ...): source`; the path is in
    /// the message. The source is left out when the message already quotes
    /// it (as `format!("...: {e}")` plus `with_source(e)` does), so that it
    /// is not printed twice.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] ", self.kind.code())?;
        if let Some(op) = self.operation {
            write!(f, "{op}: ")?;
        }
        f.write_str(&self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}={v}")?;
            }
            f.write_str(")")?;
        }
        if let Some(source) = &self.source {
            let source = source.to_string();
            if !self.message.contains(source.as_str()) {
                write!(f, ": {source}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl Clone for Error {
    /// Clones everything; the source is kept as its display text.
    fn clone(&self) -> Self {
        Error {
            kind: self.kind,
            operation: self.operation,
            path: self.path.clone(),
            message: self.message.clone(),
            context: self.context.clone(),
            retryable: self.retryable,
            source: self
                .source
                .as_ref()
                .map(|s| Box::new(SourceText(s.to_string())) as BoxedSource),
        }
    }
}

impl PartialEq for Error {
    /// Compares kind, operation, path and message.
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.operation == other.operation
            && self.path == other.path
            && self.message == other.message
    }
}

/// A source error that crossed a serialisation or clone boundary as text.
#[derive(Debug)]
struct SourceText(String);

impl fmt::Display for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceText {}

#[derive(Serialize, Deserialize)]
struct ErrorRepr {
    code: ErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    context: Vec<(String, String)>,
    retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_message: Option<String>,
}

impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ErrorRepr {
            code: self.kind,
            operation: self.operation,
            path: self.path.clone(),
            message: self.message.to_string(),
            context: self.context.clone(),
            retryable: self.retryable,
            source_message: self.source.as_ref().map(|s| s.to_string()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = ErrorRepr::deserialize(deserializer)?;
        Ok(Error {
            kind: repr.code,
            operation: repr.operation,
            path: repr.path,
            message: repr.message.into(),
            context: repr.context,
            retryable: repr.retryable,
            source: repr
                .source_message
                .map(|s| Box::new(SourceText(s)) as BoxedSource),
        })
    }
}

/// The context keys this workspace's crates set, for clients that match on
/// them. Any key, listed or not, survives serialisation.
pub const KNOWN_CONTEXT_KEYS: &[&str] = &[
    "route",
    "backend",
    "provider",
    "status",
    "request_id",
    "limit",
    "count",
    "rule",
    "sandbox",
    "exec",
    "step",
    "attempts",
    "retry_after_ms",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_from_code() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code("nope"), None);
    }

    #[test]
    fn transient_kinds_are_retryable_by_default() {
        assert!(Error::new(ErrorKind::Unavailable, "x").is_retryable());
        assert!(!Error::file_not_found("/a").is_retryable());
        assert!(
            Error::new(ErrorKind::Internal, "x")
                .with_retryable(true)
                .is_retryable()
        );
    }

    #[test]
    fn display_has_code_operation_message_and_context() {
        let err = Error::file_not_found("/a.txt")
            .with_operation(Operation::Read)
            .with_context("route", "/memories/");
        let text = err.to_string();
        assert!(text.starts_with("[file_not_found] read: /a.txt does not exist"));
        assert!(text.ends_with("(route=/memories/)"), "{text}");
    }

    #[test]
    fn serde_round_trip_keeps_fields() {
        let err = Error::new(ErrorKind::Conflict, "changed")
            .with_operation(Operation::Edit)
            .with_path("/f")
            .with_context("route", "/r/")
            .with_source(std::io::Error::other("disk"));
        let json = serde_json::to_string(&err).unwrap();
        assert!(json.contains("\"code\":\"conflict\""), "{json}");
        let back: Error = serde_json::from_str(&json).unwrap();
        assert_eq!(back, err);
        assert_eq!(back.context_value("route"), Some("/r/"));
        assert!(back.is_retryable());
        assert_eq!(
            std::error::Error::source(&back).unwrap().to_string(),
            "disk"
        );
    }

    #[test]
    fn every_context_key_survives_serde() {
        let mut err = Error::new(ErrorKind::Internal, "x");
        for key in KNOWN_CONTEXT_KEYS.iter().copied().chain(["made_up_key"]) {
            err = err.with_context(key, format!("{key} value"));
        }
        let json = serde_json::to_string(&err).expect("an error serialises");
        let back: Error = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back.context(), err.context());
        assert_eq!(back.context_value("exec"), Some("exec value"));
        assert_eq!(back.context_value("step"), Some("step value"));
        assert_eq!(back.context_value("made_up_key"), Some("made_up_key value"));
    }

    #[test]
    fn display_shows_the_source_once() {
        let io = || std::io::Error::other("disk full");
        let quoted =
            Error::new(ErrorKind::Unavailable, format!("cannot write: {}", io())).with_source(io());
        assert_eq!(quoted.to_string(), "[unavailable] cannot write: disk full");
        let unquoted = Error::new(ErrorKind::Unavailable, "cannot write").with_source(io());
        assert_eq!(
            unquoted.to_string(),
            "[unavailable] cannot write: disk full"
        );
        // The same holds after the source crossed a clone or the wire as text.
        assert_eq!(quoted.clone().to_string(), quoted.to_string());
        let json = serde_json::to_string(&quoted).expect("an error serialises");
        let back: Error = serde_json::from_str(&json).expect("and reads back");
        assert_eq!(back.to_string(), quoted.to_string());
    }
}
