//! [`Timeout`]: a deadline for each operation.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{
    Backend, DownloadResult, EditResult, Error, ErrorKind, FileInfo, FileUpload, ForwardBackend,
    ForwardSandbox, GlobRequest, GlobResult, GrepRequest, GrepResult, Operation, ReadResult,
    Result, Sandbox, UploadResult,
};

/// The deadline [`Timeouts::default`] gives every operation.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// How long each kind of operation may take under a [`Timeout`] layer.
///
/// One deadline for every operation, with overrides per [`Operation`]
/// (`Operation::Upload` and `Operation::Download` time a whole batch).
/// Commands are not cut by it: a command runs for its request's own
/// `timeout`, so an override for `Operation::Execute` is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    default: Duration,
    overrides: Vec<(Operation, Duration)>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::new(DEFAULT_OPERATION_TIMEOUT)
    }
}

impl From<Duration> for Timeouts {
    fn from(deadline: Duration) -> Self {
        Timeouts::new(deadline)
    }
}

impl Timeouts {
    /// `deadline` for every operation.
    pub fn new(deadline: Duration) -> Self {
        Timeouts {
            default: deadline,
            overrides: Vec::new(),
        }
    }

    /// Gives `operation` its own `deadline` (the last one given wins).
    pub fn with(mut self, operation: Operation, deadline: Duration) -> Self {
        self.overrides.retain(|(op, _)| *op != operation);
        self.overrides.push((operation, deadline));
        self
    }

    /// The deadline for `operation`.
    pub fn for_operation(&self, operation: Operation) -> Duration {
        self.overrides
            .iter()
            .find(|(op, _)| *op == operation)
            .map_or(self.default, |(_, deadline)| *deadline)
    }
}

/// A backend whose operations fail with `timeout` when they take longer
/// than their deadline in [`Timeouts`].
///
/// The inner call is dropped at the deadline. Dropping a future stops it
/// at its next await point; a write already handed to the store may still
/// land, so a timed-out `edit` is marked not retryable (it may have been
/// applied), while the other operations keep `timeout`'s usual retryable
/// mark. Around a [`Sandbox`], `execute` and `execute_stream` are forwarded
/// untouched (the request's own `timeout` bounds the command, and the
/// sandbox kills it then); `close` has a deadline.
pub struct Timeout<B: ?Sized = dyn Backend> {
    inner: Arc<B>,
    timeouts: Timeouts,
}

impl<B: ?Sized> Timeout<B> {
    /// Wraps `inner` with `timeouts`.
    pub fn new(inner: Arc<B>, timeouts: Timeouts) -> Self {
        Timeout { inner, timeouts }
    }

    /// The deadlines.
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// The wrapped backend.
    pub fn wrapped(&self) -> &Arc<B> {
        &self.inner
    }

    async fn call<T>(
        &self,
        operation: Operation,
        path: Option<&str>,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let deadline = self.timeouts.for_operation(operation);
        match tokio::time::timeout(deadline, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(timed_out(operation, path, deadline)),
        }
    }
}

/// The error for `operation` on `path` running past `deadline`.
fn timed_out(operation: Operation, path: Option<&str>, deadline: Duration) -> Error {
    let what = match path {
        Some(path) => format!("{operation} of {path}"),
        None => operation.to_string(),
    };
    let err = Error::new(
        ErrorKind::Timeout,
        format!(
            "{what} did not finish within {deadline:?}, the deadline for {operation}; the backend may be slow or unreachable: try again later, or with less work"
        ),
    )
    .with_operation(operation)
    .with_context("limit", format!("{}ms", deadline.as_millis()))
    .with_retryable(operation != Operation::Edit);
    match path {
        Some(path) => err.with_path(path),
        None => err,
    }
}

impl<B: ?Sized> std::fmt::Debug for Timeout<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<B: Backend + ?Sized> ForwardBackend for Timeout<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.call(Operation::Ls, Some(path), self.inner.ls(path))
            .await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.call(Operation::Stat, Some(path), self.inner.stat(path))
            .await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let read = self.inner.read_bytes(path);
        self.call(Operation::ReadBytes, Some(path), read).await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let write = self.inner.write(path, content);
        self.call(Operation::Write, Some(path), write).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let edit = self.inner.edit(path, old, new, replace_all);
        self.call(Operation::Edit, Some(path), edit).await
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let delete = self.inner.delete(path, recursive);
        self.call(Operation::Delete, Some(path), delete).await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let glob = self.inner.glob(request);
        self.call(Operation::Glob, Some(&request.path), glob).await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let grep = self.inner.grep(request);
        self.call(Operation::Grep, Some(&request.path), grep).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let read = self.inner.read(path, offset, limit);
        self.call(Operation::Read, Some(path), read).await
    }

    /// On timeout every item fails with `timeout`: which of them were
    /// written is unknown.
    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let deadline = self.timeouts.for_operation(Operation::Upload);
        let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        match tokio::time::timeout(deadline, self.inner.upload_files(files)).await {
            Ok(results) => results,
            Err(_) => paths
                .into_iter()
                .map(|path| {
                    let err = timed_out(Operation::Upload, Some(&path), deadline);
                    UploadResult::new(path, Err(err))
                })
                .collect(),
        }
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let deadline = self.timeouts.for_operation(Operation::Download);
        let kept = paths.clone();
        match tokio::time::timeout(deadline, self.inner.download_files(paths)).await {
            Ok(results) => results,
            Err(_) => kept
                .into_iter()
                .map(|path| {
                    let err = timed_out(Operation::Download, Some(&path), deadline);
                    DownloadResult::new(path, Err(err))
                })
                .collect(),
        }
    }
}

#[async_trait]
impl<S: Sandbox + ?Sized> ForwardSandbox for Timeout<S> {
    type InnerSandbox = S;

    fn inner_sandbox(&self) -> &S {
        &self.inner
    }

    // `execute` and `execute_stream` are forwarded as they are: the
    // request's own timeout bounds the command.

    async fn close(&self) -> Result<()> {
        self.call(Operation::Close, None, self.inner.close()).await
    }
}
