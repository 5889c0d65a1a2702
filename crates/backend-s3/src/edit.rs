//! `edit` as a compare-and-swap on the object's ETag, retried through
//! `backend_core::retry` when another writer got there first.

use std::time::Duration;

use backend_core::retry::{Retry, RetryPolicy, retry_with};
use backend_core::{EditResult, Error, ErrorKind, KeyedLocks, Operation, Result, VirtualPath};
use bytes::Bytes;

use crate::objects::Objects;

/// Edits: how they write, how often they retry a lost race, and the local
/// locks that serialise edits of one object through this backend so they
/// do not race each other into `412`s.
pub(crate) struct Editor {
    conditional_writes: bool,
    policy: RetryPolicy,
    locks: KeyedLocks<String>,
}

/// How one attempt of an edit failed.
enum Attempt {
    /// The object changed between the read and the conditional write.
    Raced(Error),
    /// Anything else: final.
    Failed(Error),
}

impl From<Attempt> for Error {
    fn from(attempt: Attempt) -> Error {
        match attempt {
            Attempt::Raced(e) | Attempt::Failed(e) => e,
        }
    }
}

impl Editor {
    /// Edits with `If-Match` when `conditional_writes`, reading again after
    /// a `412` up to `attempts` times in all.
    pub(crate) fn new(conditional_writes: bool, attempts: u32) -> Self {
        Editor {
            conditional_writes,
            // Short, jittered pauses growing with the attempt, so that
            // competing writers spread out; only the attempts bound it.
            policy: RetryPolicy {
                max_attempts: attempts,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(1280),
                total_budget: Duration::MAX,
                jitter: true,
            },
            locks: KeyedLocks::new(),
        }
    }

    /// Replaces `old` by `new` in the file at `path` (every occurrence when
    /// `replace_all`).
    pub(crate) async fn edit(
        &self,
        objects: &Objects,
        path: &VirtualPath,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let op = Operation::Edit;
        if path.is_root() {
            return Err(Error::is_directory("/").with_operation(op));
        }
        let key = objects.store.key(path);
        let _serialised = self.locks.lock(key.clone()).await;
        let classify = |failure: &Attempt| match failure {
            Attempt::Raced(_) => Retry::Backoff,
            Attempt::Failed(_) => Retry::Stop,
        };
        retry_with(
            &self.policy,
            op,
            |attempt| self.attempt(objects, path, &key, (old, new, replace_all), attempt),
            classify,
        )
        .await
    }

    /// One read, edit and (conditional) write.
    async fn attempt(
        &self,
        objects: &Objects,
        path: &VirtualPath,
        key: &str,
        (old, new, replace_all): (&str, &str, bool),
        attempt: u32,
    ) -> std::result::Result<EditResult, Attempt> {
        let op = Operation::Edit;
        let (bytes, etag) = match objects.store.get(key).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(Attempt::Failed(objects.not_a_file(path, op).await)),
            Err(f) => return Err(Attempt::Failed(objects.fail(f, path, op))),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Attempt::Failed(Error::not_a_text_file(path.as_str()).with_operation(op))
        })?;
        let (updated, count) =
            backend_core::text::apply_edit(path.as_str(), text, old, new, replace_all)
                .map_err(|e| Attempt::Failed(e.with_operation(op)))?;
        let condition = if self.conditional_writes {
            etag.as_deref()
        } else {
            None
        };
        let outcome = objects
            .store
            .put(key, Bytes::from(updated.into_bytes()), condition)
            .await;
        objects.invalidate(Some(key)).await;
        match outcome {
            Ok(()) => Ok(EditResult::new(count)),
            Err(f) if f.is_precondition_failed() => {
                tracing::debug!(path = %path, attempt, "edit lost a race; reading again");
                Err(Attempt::Raced(self.conflict(path)))
            }
            // The object was deleted between the read and the write.
            Err(f) if f.is_not_found() => Err(Attempt::Failed(
                Error::file_not_found(path.as_str()).with_operation(op),
            )),
            Err(f) => Err(Attempt::Failed(objects.fail(f, path, op))),
        }
    }

    /// The error once every attempt lost its race.
    fn conflict(&self, path: &VirtualPath) -> Error {
        Error::new(
            ErrorKind::Conflict,
            format!(
                "{path} kept changing while being edited ({} attempts); read it again and retry",
                self.policy.max_attempts
            ),
        )
        .with_path(path.as_str())
        .with_operation(Operation::Edit)
    }
}
