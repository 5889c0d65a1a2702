//! The `Backend` and `Sandbox` traits, and conveniences over them.

use async_trait::async_trait;

use crate::error::{ErrorKind, Result};
use crate::exec::{ExecOutput, ExecRequest, ExecStream, collect_output};
use crate::operation::Operation;
use crate::types::{
    Capabilities, DownloadResult, EditResult, FileInfo, FileUpload, GlobRequest, GlobResult,
    GrepRequest, GrepResult, ReadResult, UploadResult,
};

/// A filesystem an agent reads, writes, edits and searches.
///
/// Every path argument is a virtual path as an agent gave it: implementations
/// must pass it through
/// [`VirtualPath::parse_for`](crate::VirtualPath::parse_for) before use and
/// return the `invalid_path` error it gives when that fails. All results carry
/// virtual paths, never host paths or keys.
///
/// The trait is object safe; hold backends as `Arc<dyn Backend>`.
///
/// # Contract
/// The full semantics are in `docs/semantics.md` and are checked by the
/// `backend-conformance` suite; in short:
/// - `ls` lists direct children sorted by name; a file gives
///   `not_a_directory`, a missing path `file_not_found`.
/// - `read_bytes`/`write` move exact bytes; `write` creates parents and
///   replaces atomically (a reader sees old or new content, never a mix).
/// - `edit` replaces exact text (see [`crate::text::apply_edit`]) without
///   losing concurrent updates when [`Capabilities::atomic_edit`] is set.
/// - `glob` and `grep` follow [`crate::GlobPattern`] and
///   [`crate::GrepMatcher`]; results are sorted by path.
/// - No method panics on any input, and none reports success for a failure.
///
/// # Provided methods
/// `read`, `upload_files` and `download_files` have defaults built on the
/// required methods. They are correct for every backend; override them when
/// the store can do better (ranged reads, batched transfers). Wrappers that
/// forward to another backend must override all of them, so that the inner
/// backend's better versions are not bypassed.
#[async_trait]
pub trait Backend: Send + Sync {
    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// The direct children of the directory `path`, sorted by name.
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>>;

    /// Facts about one file or directory.
    async fn stat(&self, path: &str) -> Result<FileInfo>;

    /// The exact bytes of a file.
    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>>;

    /// Creates or replaces a file with exactly `content`, creating missing
    /// parent directories.
    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()>;

    /// Replaces `old` with `new` in a text file (all occurrences when
    /// `replace_all`), returning how many were replaced.
    async fn edit(&self, path: &str, old: &str, new: &str, replace_all: bool)
    -> Result<EditResult>;

    /// Deletes a file, or a directory and everything in it when `recursive`.
    async fn delete(&self, path: &str, recursive: bool) -> Result<()>;

    /// Files under `request.path` matching `request.pattern`.
    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult>;

    /// Lines matching `request.pattern` in files under `request.path`.
    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult>;

    /// Lines `offset..offset + limit` (0-based) of a text file.
    ///
    /// The default reads the whole file with `read_bytes` and pages it with
    /// [`crate::text::page`].
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let bytes = self.read_bytes(path).await?;
        crate::text::page(path, &bytes, offset, limit).map_err(|e| e.or_operation(Operation::Read))
    }

    /// Writes several files; one result per item, in input order. One bad
    /// item does not fail the others.
    ///
    /// The default writes them one after another.
    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let mut results = Vec::with_capacity(files.len());
        for file in files {
            let outcome = self.write(&file.path, file.content).await;
            results.push(UploadResult::new(
                file.path,
                outcome.map_err(|e| e.or_operation(Operation::Upload)),
            ));
        }
        results
    }

    /// Reads several files; one result per item, in input order.
    ///
    /// The default reads them one after another.
    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let mut results = Vec::with_capacity(paths.len());
        for path in paths {
            let outcome = self.read_bytes(&path).await;
            results.push(DownloadResult::new(
                path,
                outcome.map_err(|e| e.or_operation(Operation::Download)),
            ));
        }
        results
    }
}

/// A [`Backend`] that can also run commands, in the directory where its
/// virtual `/` lives.
///
/// # Contract
/// - `execute_stream` runs `sh -c command` in the work directory (or
///   `request.workdir` under it), with `request.env` added to a base
///   environment that holds none of the host's secrets, stdin closed unless
///   given, each output stream capped at `request.output_limit` (the rest
///   dropped, not buffered: [`OutputBudgets`](crate::exec::OutputBudgets)
///   does it), and yields stdout and stderr chunks as they come,
///   then exactly one [`ExecEvent::Exit`](crate::ExecEvent::Exit).
/// - At the timeout the command's whole process tree is killed and the call
///   ends within a second, with `timed_out` set. A timeout is a result, not
///   an error.
/// - `close` releases everything the sandbox holds; dropping it must not
///   leak either (leftovers carry labels for a reaper).
///
/// # Provided methods
/// `execute` collects `execute_stream`; sandboxes without streaming override
/// `execute` and make `execute_stream` replay it with
/// [`ExecOutput::into_events`].
#[async_trait]
pub trait Sandbox: Backend {
    /// A name for this sandbox, unique among live ones (a container or
    /// remote sandbox id).
    fn id(&self) -> &str;

    /// Runs a command and streams its output.
    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream>;

    /// Runs a command and collects its output.
    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        let limit = request.output_limit;
        let stream = self.execute_stream(request).await?;
        collect_output(stream, limit).await
    }

    /// Releases every resource the sandbox holds. Calling it twice is not an
    /// error.
    async fn close(&self) -> Result<()>;
}

/// Conveniences over any [`Backend`]; implemented for every backend.
#[async_trait]
pub trait BackendExt: Backend {
    /// Whether `path` names a file or directory (`file_not_found` → false).
    async fn exists(&self, path: &str) -> Result<bool> {
        match self.stat(path).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A whole text file as a `String` (`not_a_text_file` when not UTF-8).
    async fn read_to_string(&self, path: &str) -> Result<String> {
        let bytes = self.read_bytes(path).await?;
        String::from_utf8(bytes)
            .map_err(|_| crate::Error::not_a_text_file(path).with_operation(Operation::Read))
    }

    /// Writes a string.
    async fn write_str(&self, path: &str, content: &str) -> Result<()> {
        self.write(path, content.as_bytes().to_vec()).await
    }

    /// The paths of files matching `pattern` anywhere under `/`.
    async fn glob_paths(&self, pattern: &str) -> Result<Vec<String>> {
        let result = self.glob(&GlobRequest::new(pattern)).await?;
        Ok(result
            .files
            .into_iter()
            .map(|f| f.path.into_string())
            .collect())
    }
}

impl<T: Backend + ?Sized> BackendExt for T {}
