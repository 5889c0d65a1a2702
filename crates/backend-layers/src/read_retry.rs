//! [`ReadRetry`]: repeats failed calls that only read.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::retry::{Backoff, Retry, RetryPolicy, retry};
use backend_core::{
    Backend, DownloadResult, FileInfo, ForwardBackend, ForwardSandbox, GlobRequest, GlobResult,
    GrepRequest, GrepResult, Operation, ReadResult, Result, Sandbox,
};

/// A backend that retries the operations that only read, as
/// [`RetryPolicy`] allows, when they fail with an error that
/// [`is_retryable`](backend_core::Error::is_retryable).
///
/// Retried: `ls`, `stat`, `read`, `read_bytes`, `glob`, `grep` and
/// `download_files` (only its failed items are asked for again, in one
/// batch per round). Never retried: `write`, `edit`, `delete`,
/// `upload_files` and, around a [`Sandbox`], `execute`: repeating them
/// could do their effect twice. An error returned after retrying is not
/// retryable any more and carries the attempt count (`attempts`), so an
/// outer layer or the caller does not retry it again.
///
/// # Notes
/// Put a [`Timeout`](crate::Timeout) inside this layer to time each attempt
/// rather than all of them together.
pub struct ReadRetry<B: ?Sized = dyn Backend> {
    inner: Arc<B>,
    policy: RetryPolicy,
}

impl<B: ?Sized> ReadRetry<B> {
    /// Wraps `inner`, retrying reads as `policy` allows.
    pub fn new(inner: Arc<B>, policy: RetryPolicy) -> Self {
        ReadRetry { inner, policy }
    }

    /// How reads are retried.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The wrapped backend.
    pub fn wrapped(&self) -> &Arc<B> {
        &self.inner
    }
}

impl<B: ?Sized> std::fmt::Debug for ReadRetry<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadRetry")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The decision for a round of failed items: the longest wait a service
/// asked for, else the policy's backoff.
fn decide<'a>(errors: impl Iterator<Item = &'a backend_core::Error>) -> Retry {
    errors
        .map(Retry::of)
        .fold(Retry::Backoff, |decided, next| match (decided, next) {
            (Retry::After(a), Retry::After(b)) => Retry::After(a.max(b)),
            (Retry::After(a), _) | (_, Retry::After(a)) => Retry::After(a),
            _ => Retry::Backoff,
        })
}

#[async_trait]
impl<B: Backend + ?Sized> ForwardBackend for ReadRetry<B> {
    type Inner = B;

    fn inner(&self) -> &B {
        &self.inner
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        retry(&self.policy, Operation::Ls, |_| self.inner.ls(path)).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        retry(&self.policy, Operation::Stat, |_| self.inner.stat(path)).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        retry(&self.policy, Operation::ReadBytes, |_| {
            self.inner.read_bytes(path)
        })
        .await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        retry(&self.policy, Operation::Read, |_| {
            self.inner.read(path, offset, limit)
        })
        .await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        retry(&self.policy, Operation::Glob, |_| self.inner.glob(request)).await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        retry(&self.policy, Operation::Grep, |_| self.inner.grep(request)).await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let mut results = self.inner.download_files(paths).await;
        let mut backoff = Backoff::new(&self.policy);
        loop {
            let failed: Vec<usize> = (0..results.len())
                .filter(|&i| results[i].error.as_ref().is_some_and(|e| e.is_retryable()))
                .collect();
            if failed.is_empty() {
                return results;
            }
            let decision = decide(failed.iter().filter_map(|&i| results[i].error.as_ref()));
            let Some(wait) = backoff.next_wait(decision) else {
                for i in failed {
                    results[i].error = results[i].error.take().map(|e| backoff.give_up(e));
                }
                return results;
            };
            tokio::time::sleep(wait).await;
            let again = failed.iter().map(|&i| results[i].path.clone()).collect();
            let retried = self.inner.download_files(again).await;
            for (i, item) in failed.into_iter().zip(retried) {
                results[i] = item;
            }
        }
    }
}

#[async_trait]
impl<S: Sandbox + ?Sized> ForwardSandbox for ReadRetry<S> {
    type InnerSandbox = S;

    fn inner_sandbox(&self) -> &S {
        &self.inner
    }
}
