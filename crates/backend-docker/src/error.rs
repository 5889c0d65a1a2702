//! Turning engine errors into the backend's [`Error`].

use backend_core::{Error, ErrorKind, Operation};

/// The HTTP status and message of an engine error, if it is one.
pub(crate) fn status_of(e: &bollard::errors::Error) -> Option<(u16, &str)> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => Some((*status_code, message.as_str())),
        _ => None,
    }
}

/// An engine failure that is not about a path: the engine or container is
/// unreachable (retryable) or refused the request.
pub(crate) fn engine(op: Operation, what: &str, e: bollard::errors::Error) -> Error {
    let (kind, retry) = match status_of(&e) {
        Some((404, _)) => (ErrorKind::Unavailable, false),
        Some((409, _)) => (ErrorKind::Unavailable, true),
        Some((400, _)) => (ErrorKind::InvalidArgument, false),
        Some(_) => (ErrorKind::Internal, false),
        None => (ErrorKind::Unavailable, true),
    };
    let hint = match status_of(&e) {
        Some((404, _)) => " (the container is gone: the sandbox was closed or removed)",
        None => " (is the Docker engine running? `cargo xtask docker-up`)",
        _ => "",
    };
    Error::new(kind, format!("{what} failed: {e}{hint}"))
        .with_operation(op)
        .with_retryable(retry)
        .with_source(e)
}

/// An archive (file transfer) failure about `path`.
pub(crate) fn archive(op: Operation, path: &str, e: bollard::errors::Error) -> Error {
    match status_of(&e) {
        Some((_, msg)) if msg.contains("not a directory") => {
            Error::not_a_directory(path).with_operation(op)
        }
        Some((404, msg)) if !msg.contains("No such container") => {
            Error::file_not_found(path).with_operation(op)
        }
        Some((_, msg))
            if msg.contains("cannot overwrite non-directory")
                || msg.contains("cannot overwrite directory") =>
        {
            Error::not_a_directory(path).with_operation(op)
        }
        Some((_, msg)) if msg.contains("no space left") || msg.contains("disk quota") => {
            Error::new(
                ErrorKind::QuotaExceeded,
                format!("no space left writing {path}"),
            )
            .with_operation(op)
            .with_path(path)
        }
        _ => engine(op, "transferring files with the container", e).with_path(path),
    }
}
