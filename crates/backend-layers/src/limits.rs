//! [`Limits`]: byte caps on what is read and what is stored.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, DownloadResult, EditResult, Error, ErrorKind, FileUpload, ForwardBackend,
    ForwardSandbox, Operation, ReadResult, Result, Sandbox, UploadResult,
};

/// The caps a [`Limits`] layer enforces; `None` leaves a direction uncapped.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ByteLimits {
    /// The most bytes `read_bytes` and each `download_files` item return,
    /// and the most content one `read` page returns.
    pub max_read_bytes: Option<u64>,
    /// The most bytes `write` and each `upload_files` item store, the most
    /// an `edit`'s old or new text holds, and the largest file an `edit` may
    /// leave behind.
    pub max_write_bytes: Option<u64>,
}

impl ByteLimits {
    /// No caps.
    pub fn new() -> Self {
        ByteLimits::default()
    }

    /// Sets [`max_read_bytes`](Self::max_read_bytes).
    pub fn max_read_bytes(mut self, bytes: u64) -> Self {
        self.max_read_bytes = Some(bytes);
        self
    }

    /// Sets [`max_write_bytes`](Self::max_write_bytes).
    pub fn max_write_bytes(mut self, bytes: u64) -> Self {
        self.max_write_bytes = Some(bytes);
        self
    }
}

/// A backend that refuses, with `too_large`, reads and writes beyond
/// [`ByteLimits`]; each message names the cap.
///
/// Sizes are checked before anything is allocated where the layer can:
/// written content is measured before it is forwarded, and `read_bytes` and
/// `download_files` ask `stat` first, so a file over the cap is never
/// loaded (the result is measured again, for a file that grew in between).
/// A `read` page is measured after the inner backend made it. An `edit`
/// that can grow the file is checked against the file's size before it is
/// forwarded, reading the file to count the replacements only when the
/// worst case passes the cap; a concurrent writer can still grow the file
/// in between. Commands are not limited here (their output has its own
/// `output_limit`).
pub struct Limits<B: ?Sized = dyn Backend> {
    inner: Arc<B>,
    limits: ByteLimits,
}

impl<B: ?Sized> Limits<B> {
    /// Wraps `inner` with `limits`.
    pub fn new(inner: Arc<B>, limits: ByteLimits) -> Self {
        Limits { inner, limits }
    }

    /// The caps.
    pub fn limits(&self) -> ByteLimits {
        self.limits
    }

    /// The wrapped backend.
    pub fn wrapped(&self) -> &Arc<B> {
        &self.inner
    }
}

impl<B: ?Sized> std::fmt::Debug for Limits<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Which cap was passed, and the advice that goes with it.
#[derive(Clone, Copy)]
enum Cap {
    /// A whole file read.
    Read,
    /// One `read` page.
    Page,
    /// Content stored.
    Write,
}

impl Cap {
    fn name(self) -> &'static str {
        match self {
            Cap::Read | Cap::Page => "max_read_bytes",
            Cap::Write => "max_write_bytes",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Cap::Read => "read it in pages with `read` (offset and limit), or search it with grep",
            Cap::Page => "read fewer lines at a time (a smaller limit)",
            Cap::Write => "split the content into smaller files",
        }
    }
}

/// `too_large` for `what` (at `path`) being `size` bytes, over `limit`.
fn too_large(cap: Cap, limit: u64, what: &str, size: u64, path: &str, op: Operation) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!(
            "{what} is {size} bytes, over this backend's cap of {limit} bytes ({}); {}",
            cap.name(),
            cap.advice()
        ),
    )
    .with_path(path)
    .with_operation(op)
    .with_context("limit", limit.to_string())
}

fn over(limit: Option<u64>, size: usize) -> Option<u64> {
    limit.filter(|&cap| size as u64 > cap)
}

impl<B: Backend + ?Sized> Limits<B> {
    /// `too_large` when `stat` says the file at `path` is over the read cap.
    /// Any `stat` failure is left for the real call to report.
    async fn precheck_read(&self, path: &str, op: Operation) -> Result<()> {
        let Some(cap) = self.limits.max_read_bytes else {
            return Ok(());
        };
        match self.inner.stat(path).await {
            Ok(info) if !info.is_dir => match info.size {
                Some(size) if size > cap => Err(too_large(
                    Cap::Read,
                    cap,
                    path,
                    size,
                    info.path.as_str(),
                    op,
                )),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn check_read(&self, path: &str, bytes: &[u8], op: Operation) -> Result<()> {
        match over(self.limits.max_read_bytes, bytes.len()) {
            Some(cap) => Err(too_large(
                Cap::Read,
                cap,
                path,
                bytes.len() as u64,
                path,
                op,
            )),
            None => Ok(()),
        }
    }

    fn check_write(&self, path: &str, what: &str, size: usize, op: Operation) -> Result<()> {
        match over(self.limits.max_write_bytes, size) {
            Some(cap) => Err(too_large(Cap::Write, cap, what, size as u64, path, op)),
            None => Ok(()),
        }
    }

    /// Refuses an edit whose result would pass the write cap, judged from
    /// the file as it is now.
    async fn precheck_edit(&self, path: &str, old: &str, new: &str, all: bool) -> Result<()> {
        let Some(cap) = self.limits.max_write_bytes else {
            return Ok(());
        };
        let growth = new.len().saturating_sub(old.len()) as u64;
        if growth == 0 || old.is_empty() {
            // Nothing grows, or the inner backend refuses the edit anyway.
            return Ok(());
        }
        let Ok(info) = self.inner.stat(path).await else {
            return Ok(());
        };
        let Some(size) = info.size.filter(|_| !info.is_dir) else {
            return Ok(());
        };
        let most_replacements = if all { size / old.len() as u64 } else { 1 };
        let worst = size.saturating_add(most_replacements.saturating_mul(growth));
        if worst <= cap {
            return Ok(());
        }
        // The worst case passes the cap: count what would really change.
        let Ok(bytes) = self.inner.read_bytes(path).await else {
            return Ok(());
        };
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Ok(());
        };
        match backend_core::text::apply_edit(path, text, old, new, all) {
            Ok((edited, _)) if edited.len() as u64 > cap => Err(too_large(
                Cap::Write,
                cap,
                &format!("{path} after this edit"),
                edited.len() as u64,
                path,
                Operation::Edit,
            )),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl<B: Backend + ?Sized> ForwardBackend for Limits<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let op = Operation::ReadBytes;
        self.precheck_read(path, op).await?;
        let bytes = self.inner.read_bytes(path).await?;
        self.check_read(path, &bytes, op)?;
        Ok(bytes)
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let page = self.inner.read(path, offset, limit).await?;
        match over(self.limits.max_read_bytes, page.content.len()) {
            Some(cap) => Err(too_large(
                Cap::Page,
                cap,
                &format!("the page of {path}"),
                page.content.len() as u64,
                path,
                Operation::Read,
            )),
            None => Ok(page),
        }
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let what = format!("the content for {path}");
        self.check_write(path, &what, content.len(), Operation::Write)?;
        self.inner.write(path, content).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        self.check_write(path, "old_string", old.len(), Operation::Edit)?;
        self.check_write(path, "new_string", new.len(), Operation::Edit)?;
        self.precheck_edit(path, old, new, replace_all).await?;
        self.inner.edit(path, old, new, replace_all).await
    }

    /// Items over the cap fail on their own; the rest go to the inner
    /// backend in one batch.
    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let mut results: Vec<Slot<UploadResult>> = Vec::with_capacity(files.len());
        let mut passed = Vec::with_capacity(files.len());
        for file in files {
            let what = format!("the content for {}", file.path);
            match self.check_write(&file.path, &what, file.content.len(), Operation::Upload) {
                Ok(()) => {
                    results.push(Slot::Inner(file.path.clone()));
                    passed.push(file);
                }
                Err(e) => results.push(Slot::Own(UploadResult::new(file.path, Err(e)))),
            }
        }
        let mut uploaded = self.inner.upload_files(passed).await.into_iter();
        fill_in(results, &mut uploaded, |path| {
            UploadResult::new(path.clone(), Err(missing(path, Operation::Upload)))
        })
    }

    /// Items `stat` shows over the cap fail on their own; the rest go to the
    /// inner backend in one batch and are measured again.
    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let op = Operation::Download;
        let checks = paths.iter().map(|path| self.precheck_read(path, op));
        let checked = futures::future::join_all(checks).await;
        let mut results: Vec<Slot<DownloadResult>> = Vec::with_capacity(paths.len());
        let mut passed = Vec::with_capacity(paths.len());
        for (path, check) in paths.into_iter().zip(checked) {
            match check {
                Ok(()) => {
                    results.push(Slot::Inner(path.clone()));
                    passed.push(path);
                }
                Err(e) => results.push(Slot::Own(DownloadResult::new(path, Err(e)))),
            }
        }
        let downloaded = self.inner.download_files(passed).await;
        let mut measured = downloaded.into_iter().map(|item| {
            let size = item.content.as_ref().map_or(0, Vec::len);
            match over(self.limits.max_read_bytes, size) {
                Some(cap) => {
                    let err = too_large(Cap::Read, cap, &item.path, size as u64, &item.path, op);
                    DownloadResult::new(item.path, Err(err))
                }
                None => item,
            }
        });
        fill_in(results, &mut measured, |path| {
            DownloadResult::new(path.clone(), Err(missing(path, Operation::Download)))
        })
    }
}

/// One item of a batch: refused by the layer, or sent on (by path).
enum Slot<T> {
    Own(T),
    Inner(String),
}

/// The results in input order: the layer's own where it made one, the
/// inner backend's (in order) elsewhere, and an `internal` error for an
/// item the inner backend gave no result for.
fn fill_in<T>(
    slots: Vec<Slot<T>>,
    inner: &mut impl Iterator<Item = T>,
    missing: impl Fn(&String) -> T,
) -> Vec<T> {
    slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Own(result) => result,
            Slot::Inner(path) => inner.next().unwrap_or_else(|| missing(&path)),
        })
        .collect()
}

fn missing(path: &str, op: Operation) -> Error {
    Error::internal(format!(
        "the backend returned no result for {path}; its batch answered fewer items than it was given"
    ))
    .with_path(path)
    .with_operation(op)
}

#[async_trait]
impl<S: Sandbox + ?Sized> ForwardSandbox for Limits<S> {
    type InnerSandbox = S;

    fn inner_sandbox(&self) -> &S {
        &self.inner
    }
}
