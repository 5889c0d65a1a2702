//! [`ReadOnly`]: refuses every change, forwards every read.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, Capabilities, EditResult, Error, ErrorKind, ExecOutput, ExecRequest, ExecStream,
    FileUpload, ForwardBackend, ForwardSandbox, Operation, Result, Sandbox, UploadResult,
    VirtualPath,
};

/// A backend whose files can be read but not changed.
///
/// `write`, `edit`, `delete` and `upload_files` are refused with
/// `permission_denied` before they reach the inner backend; reads, listings
/// and searches are forwarded unchanged. Around a [`Sandbox`] it is still a
/// sandbox, but `execute` and `execute_stream` are refused too: a command
/// could change files, and nothing here can stop it.
///
/// # Notes
/// [`Capabilities`] has no flag for "writable", so the layer says it is
/// read-only by clearing the flags that promise changes: `execute`,
/// `execute_streaming`, `atomic_edit` and `snapshot`.
pub struct ReadOnly<B: ?Sized = dyn Backend> {
    inner: Arc<B>,
}

impl<B: ?Sized> ReadOnly<B> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<B>) -> Self {
        ReadOnly { inner }
    }

    /// The wrapped backend.
    pub fn wrapped(&self) -> &Arc<B> {
        &self.inner
    }
}

impl<B: ?Sized> std::fmt::Debug for ReadOnly<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnly").finish_non_exhaustive()
    }
}

/// The refusal of a change to `path`: `invalid_path` first when the path is
/// bad, so that the error is the same as the inner backend would give.
fn refuse(path: &str, operation: Operation) -> Error {
    match VirtualPath::parse_for(path, operation) {
        Err(e) => e,
        Ok(path) => Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "cannot {operation} {path}: this backend is read-only; files can be read, listed and searched, not changed"
            ),
        )
        .with_path(path.as_str())
        .with_operation(operation),
    }
}

fn refuse_command(operation: Operation) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        "commands cannot run here: this sandbox is read-only and a command could change its files",
    )
    .with_operation(operation)
}

#[async_trait]
impl<B: Backend + ?Sized> ForwardBackend for ReadOnly<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.inner.capabilities();
        caps.execute = false;
        caps.execute_streaming = false;
        caps.atomic_edit = false;
        caps.snapshot = false;
        caps
    }

    async fn write(&self, path: &str, _content: Vec<u8>) -> Result<()> {
        Err(refuse(path, Operation::Write))
    }

    async fn edit(&self, path: &str, _old: &str, _new: &str, _all: bool) -> Result<EditResult> {
        Err(refuse(path, Operation::Edit))
    }

    async fn delete(&self, path: &str, _recursive: bool) -> Result<()> {
        Err(refuse(path, Operation::Delete))
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        files
            .into_iter()
            .map(|file| {
                let refused = refuse(&file.path, Operation::Upload);
                UploadResult::new(file.path, Err(refused))
            })
            .collect()
    }
}

#[async_trait]
impl<S: Sandbox + ?Sized> ForwardSandbox for ReadOnly<S> {
    type InnerSandbox = S;

    fn inner_sandbox(&self) -> &S {
        &self.inner
    }

    async fn execute_stream(&self, _request: ExecRequest) -> Result<ExecStream> {
        Err(refuse_command(Operation::Execute))
    }

    async fn execute(&self, _request: ExecRequest) -> Result<ExecOutput> {
        Err(refuse_command(Operation::Execute))
    }
}
