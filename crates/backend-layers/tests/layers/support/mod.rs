//! Backends for the layer tests: a state backend that counts which of its
//! batched and paged methods were reached, and can be slowed down.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backend_core::{
    Backend, DownloadResult, FileInfo, FileUpload, ForwardBackend, ReadResult, Result,
    UploadResult, async_trait,
};
use backend_state::StateBackend;

/// A state backend that counts calls to its own `read`, `upload_files`,
/// `download_files` and `stat`, and sleeps `delay` before each `ls`, `stat`,
/// `read_bytes` and `download_files`.
#[derive(Default)]
pub struct Probe {
    pub files: StateBackend,
    pub delay: Option<Duration>,
    pub reads: AtomicUsize,
    pub uploads: AtomicUsize,
    pub downloads: AtomicUsize,
    pub stats: AtomicUsize,
}

impl Probe {
    pub fn new() -> Arc<Probe> {
        Arc::new(Probe::default())
    }

    pub fn slow(delay: Duration) -> Arc<Probe> {
        Arc::new(Probe {
            delay: Some(delay),
            ..Probe::default()
        })
    }

    pub fn count(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    async fn pause(&self) {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
    }
}

#[async_trait]
impl ForwardBackend for Probe {
    type Inner = StateBackend;

    fn inner(&self) -> &StateBackend {
        &self.files
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.pause().await;
        self.files.ls(path).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.stats.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        self.files.stat(path).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.pause().await;
        self.files.read_bytes(path).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.files.read(path, offset, limit).await
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        self.uploads.fetch_add(1, Ordering::SeqCst);
        self.files.upload_files(files).await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        self.downloads.fetch_add(1, Ordering::SeqCst);
        self.pause().await;
        self.files.download_files(paths).await
    }
}

/// A local sandbox over a fresh temporary directory.
pub fn local_sandbox() -> Arc<backend_local::LocalSandbox> {
    Arc::new(backend_local::LocalSandbox::temporary().expect("a local sandbox"))
}

/// A state backend whose `ls`, `read_bytes`, `write`, `edit`,
/// `download_files` (per item) fail with a retryable `unavailable` until
/// `failures` of them have failed; `calls` counts every call to them.
#[derive(Default)]
pub struct Flaky {
    pub files: StateBackend,
    pub failures: AtomicUsize,
    pub calls: AtomicUsize,
}

impl Flaky {
    pub fn failing(times: usize) -> Arc<Flaky> {
        Arc::new(Flaky {
            failures: AtomicUsize::new(times),
            ..Flaky::default()
        })
    }

    /// Counts a call and fails it while failures remain.
    fn fail(&self, path: &str) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let left = self.failures.load(Ordering::SeqCst);
        if left == 0 {
            return Ok(());
        }
        self.failures.store(left - 1, Ordering::SeqCst);
        Err(backend_core::Error::new(backend_core::ErrorKind::Unavailable, "flaky").with_path(path))
    }
}

#[async_trait]
impl ForwardBackend for Flaky {
    type Inner = StateBackend;

    fn inner(&self) -> &StateBackend {
        &self.files
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.fail(path)?;
        self.files.ls(path).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.fail(path)?;
        self.files.read_bytes(path).await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        self.fail(path)?;
        self.files.write(path, content).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<backend_core::EditResult> {
        self.fail(path)?;
        self.files.edit(path, old, new, replace_all).await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let mut results = Vec::new();
        for path in paths {
            let outcome = match self.fail(&path) {
                Ok(()) => self.files.read_bytes(&path).await,
                Err(e) => Err(e),
            };
            results.push(DownloadResult::new(path, outcome));
        }
        results
    }
}
