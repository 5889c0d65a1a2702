//! The optional byte quota of a [`LocalBackend`](crate::LocalBackend): the
//! total size of the regular files under the root, checked before each
//! write or edit reaches the disk.
//!
//! The directory may change behind the backend's back (a sandbox command,
//! another process), so the usage is counted afresh, by walking the tree,
//! at each check rather than kept as a running total; checks and the writes
//! they allow are serialised within the process.

use std::sync::{Mutex, MutexGuard};

use backend_core::{Error, ErrorKind, Result, VirtualPath};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::root::Root;

/// How deep the count descends (each level holds one open directory).
const MAX_DEPTH: usize = 128;

/// A byte limit and the lock that makes check-then-write atomic.
pub(crate) struct Quota {
    limit: u64,
    lock: Mutex<()>,
}

impl Quota {
    pub fn new(limit: u64) -> Quota {
        Quota {
            limit,
            lock: Mutex::new(()),
        }
    }

    /// `quota_exceeded` when replacing `old_len` bytes of `path` by
    /// `new_len` would take the root past the limit; otherwise the guard
    /// to hold until the write is done.
    pub fn check(
        &self,
        root: &Root,
        path: &VirtualPath,
        old_len: u64,
        new_len: u64,
    ) -> Result<MutexGuard<'_, ()>> {
        let held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if new_len <= old_len {
            return Ok(held);
        }
        let used = root
            .locate(&VirtualPath::root(), true, false)
            .and_then(|found| found.open_dir())
            .map(|top| bytes_below(&top, 0))
            .map_err(|_| {
                Error::new(
                    ErrorKind::Unavailable,
                    "cannot count the root's bytes for the quota",
                )
            })?;
        let after = used.saturating_sub(old_len).saturating_add(new_len);
        if after > self.limit {
            let limit = self.limit;
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                format!(
                    "writing {path} would use {after} bytes, over this backend's quota of {limit} bytes; delete files to make room"
                ),
            )
            .with_path(path.as_str())
            .with_context("limit", limit.to_string()));
        }
        Ok(held)
    }
}

/// The total size of the regular files below `dir`, symlinks not followed.
fn bytes_below(dir: &OwnedFd, depth: usize) -> u64 {
    let Ok(names) = crate::root::read_names(dir) else {
        return 0;
    };
    let mut total = 0u64;
    for name in names {
        let Ok(st) = rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => total = total.saturating_add(st.st_size.max(0) as u64),
            FileType::Directory if depth < MAX_DEPTH => {
                if let Ok(sub) = rustix::fs::openat(
                    dir,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                ) {
                    total = total.saturating_add(bytes_below(&sub, depth + 1));
                }
            }
            _ => {}
        }
    }
    total
}
