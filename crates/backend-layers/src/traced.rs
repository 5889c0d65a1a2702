//! [`Traced`]: one `tracing` span per operation.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use backend_core::{
    Backend, DownloadResult, EditResult, Error, ExecOutput, ExecRequest, ExecStream, FileInfo,
    FileUpload, ForwardBackend, ForwardSandbox, GlobRequest, GlobResult, GrepRequest, GrepResult,
    Operation, ReadResult, Result, Sandbox, UploadResult,
};
use tracing::Instrument;
use tracing::field::Empty;

/// The name of every span [`Traced`] opens.
pub const SPAN_NAME: &str = "backend_operation";

/// A backend that opens one `tracing` span, at `INFO`, around each operation.
///
/// Each span is named [`SPAN_NAME`] and has the fields
/// - `backend`: the name given to [`Traced::new`];
/// - `operation`: the [`Operation`] code, such as `read_bytes`;
/// - `path`: the path operated on (the search root for `glob`/`grep`, the
///   working directory for commands), absent for batches;
/// - `files`: the number of items of `upload_files`/`download_files`;
/// - `error`: the error code when the operation failed (for a batch, the
///   first failed item's), with `failed` the number of failed items;
/// - `elapsed_ms`: how long the call took, in milliseconds.
///
/// Anything the inner backend logs during the call is inside the span.
/// `execute_stream` is timed until the stream is returned, not until the
/// command ends; `execute` covers the whole command. Contents and commands
/// are not recorded: they may hold secrets.
pub struct Traced<B: ?Sized = dyn Backend> {
    inner: Arc<B>,
    name: String,
}

impl<B: ?Sized> Traced<B> {
    /// Wraps `inner`; its spans carry `backend = name`.
    pub fn new(inner: Arc<B>, name: impl Into<String>) -> Self {
        Traced {
            inner,
            name: name.into(),
        }
    }

    /// The name spans carry in their `backend` field.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The wrapped backend.
    pub fn wrapped(&self) -> &Arc<B> {
        &self.inner
    }

    fn span(&self, operation: Operation, path: Option<&str>) -> tracing::Span {
        tracing::info_span!(
            SPAN_NAME,
            backend = %self.name,
            operation = operation.as_str(),
            path,
            files = Empty,
            error = Empty,
            failed = Empty,
            elapsed_ms = Empty,
        )
    }

    /// Runs one call that returns a `Result` inside its span.
    async fn call<T>(
        &self,
        operation: Operation,
        path: Option<&str>,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let span = self.span(operation, path);
        let started = Instant::now();
        let outcome = call.instrument(span.clone()).await;
        if let Err(e) = &outcome {
            span.record("error", e.code());
        }
        record_elapsed(&span, started);
        outcome
    }

    /// Runs one batch inside its span; `error` picks an item's error out.
    async fn batch<T>(
        &self,
        operation: Operation,
        files: usize,
        call: impl Future<Output = Vec<T>>,
        error: impl Fn(&T) -> Option<&Error>,
    ) -> Vec<T> {
        let span = self.span(operation, None);
        span.record("files", files);
        let started = Instant::now();
        let results = call.instrument(span.clone()).await;
        let mut failed = results.iter().filter_map(&error);
        if let Some(first) = failed.next() {
            span.record("error", first.code());
            span.record("failed", 1 + failed.count());
        }
        record_elapsed(&span, started);
        results
    }
}

fn record_elapsed(span: &tracing::Span, started: Instant) {
    span.record("elapsed_ms", started.elapsed().as_secs_f64() * 1000.0);
}

impl<B: ?Sized> std::fmt::Debug for Traced<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traced")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<B: Backend + ?Sized> ForwardBackend for Traced<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    fn capabilities(&self) -> backend_core::Capabilities {
        self.inner.capabilities()
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
        self.call(
            Operation::ReadBytes,
            Some(path),
            self.inner.read_bytes(path),
        )
        .await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        self.call(
            Operation::Write,
            Some(path),
            self.inner.write(path, content),
        )
        .await
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
        self.call(
            Operation::Delete,
            Some(path),
            self.inner.delete(path, recursive),
        )
        .await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        self.call(
            Operation::Glob,
            Some(&request.path),
            self.inner.glob(request),
        )
        .await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        self.call(
            Operation::Grep,
            Some(&request.path),
            self.inner.grep(request),
        )
        .await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        self.call(
            Operation::Read,
            Some(path),
            self.inner.read(path, offset, limit),
        )
        .await
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let count = files.len();
        let upload = self.inner.upload_files(files);
        self.batch(Operation::Upload, count, upload, |r| r.error.as_ref())
            .await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let count = paths.len();
        let download = self.inner.download_files(paths);
        self.batch(Operation::Download, count, download, |r| r.error.as_ref())
            .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: Sandbox + ?Sized> ForwardSandbox for Traced<S> {
    type InnerSandbox = S;

    fn inner_sandbox(&self) -> &S {
        &self.inner
    }

    fn id(&self) -> &str {
        self.inner.id()
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        let workdir = request.workdir.clone().unwrap_or_else(|| "/".to_owned());
        let start = self.inner.execute_stream(request);
        self.call(Operation::Execute, Some(&workdir), start).await
    }

    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        let workdir = request.workdir.clone().unwrap_or_else(|| "/".to_owned());
        let run = self.inner.execute(request);
        self.call(Operation::Execute, Some(&workdir), run).await
    }

    async fn close(&self) -> Result<()> {
        self.call(Operation::Close, None, self.inner.close()).await
    }
}
