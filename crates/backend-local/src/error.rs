//! Host errors turned into the shared error kinds, always naming the virtual
//! path and never the host path.

use backend_core::{Error, ErrorKind, Operation};
use rustix::io::Errno;

use crate::root::Fail;

/// The error for `fail` while doing `operation` on the virtual `path`.
pub(crate) fn fail_error(fail: Fail, path: &str, operation: Operation) -> Error {
    let err = match fail {
        Fail::Io(errno) => errno_error(errno, path),
        Fail::Escape => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{path} leads outside the backend's root through a symbolic link; only links that stay inside the root can be followed"
            ),
        ),
        Fail::Ambiguous => Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "{path} names several entries whose names are not valid UTF-8 and look the same; rename them on the host"
            ),
        ),
        Fail::Unstable => Error::new(
            ErrorKind::Conflict,
            format!("{path} kept changing while it was being resolved; try again"),
        ),
    };
    err.with_path(path).with_operation(operation)
}

fn errno_error(errno: Errno, path: &str) -> Error {
    let source = std::io::Error::from_raw_os_error(errno.raw_os_error());
    let err = match errno {
        Errno::NOENT => Error::file_not_found(path),
        Errno::NOTDIR => Error::not_a_directory(path),
        Errno::ISDIR => Error::is_directory(path),
        Errno::ACCESS | Errno::PERM => Error::new(
            ErrorKind::PermissionDenied,
            format!("the host does not allow this on {path}"),
        ),
        Errno::ROFS => Error::new(
            ErrorKind::PermissionDenied,
            format!("{path} is on a read-only file system"),
        ),
        Errno::LOOP => Error::new(
            ErrorKind::PermissionDenied,
            format!("{path} goes through too many symbolic links"),
        ),
        Errno::NAMETOOLONG => Error::new(
            ErrorKind::InvalidPath,
            format!("{path} is too long for the host file system"),
        ),
        Errno::NOSPC | Errno::DQUOT => Error::new(
            ErrorKind::QuotaExceeded,
            format!("no space left on the host to store {path}"),
        ),
        Errno::FBIG => Error::new(
            ErrorKind::TooLarge,
            format!("{path} is larger than the host allows"),
        ),
        Errno::NOTEMPTY => Error::new(
            ErrorKind::Conflict,
            format!("{path} is a directory that is not empty"),
        ),
        Errno::EXIST => Error::new(ErrorKind::Conflict, format!("{path} already exists")),
        // Not a regular file: the openers report it this way.
        Errno::INVAL => Error::new(
            ErrorKind::NotATextFile,
            format!("{path} is not a regular file (a FIFO, socket or device); it cannot be read"),
        ),
        Errno::AGAIN | Errno::BUSY | Errno::INTR | Errno::MFILE | Errno::NFILE | Errno::NOMEM => {
            Error::new(
                ErrorKind::Unavailable,
                format!("the host is busy and could not handle {path} right now; try again"),
            )
            .with_retryable(true)
        }
        _ => Error::internal(format!("unexpected host error on {path}")),
    };
    err.with_source(source)
}

/// The error for a blocking task that could not finish (a panic or a
/// runtime shutting down).
pub(crate) fn join_error(err: tokio::task::JoinError, operation: Operation) -> Error {
    Error::internal(format!("the {operation} task did not finish: {err}")).with_operation(operation)
}
