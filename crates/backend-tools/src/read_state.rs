//! Read before write: the version of each file a session read or wrote, so
//! that `write_file` over an existing file and `edit_file` can refuse with
//! `conflict` when the session never read the file or it changed since.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::SystemTime;

use backend_core::{Backend, Error, ErrorKind, Operation, Result};

/// What identifies one state of a file: its size and modification time, or
/// a hash of its bytes where the store keeps no times.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    Stamp {
        size: Option<u64>,
        modified: SystemTime,
    },
    Hashed {
        size: Option<u64>,
        hash: u64,
    },
}

/// One session's record of the files it has seen.
#[derive(Debug, Default)]
pub(crate) struct ReadState {
    versions: Mutex<HashMap<String, Version>>,
}

impl ReadState {
    /// Records the current version of `path` (after a read or a write).
    pub(crate) async fn remember(&self, backend: &dyn Backend, path: &str) -> Result<()> {
        let version = version(backend, path).await?;
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        match version {
            Some(version) => versions.insert(path.to_owned(), version),
            None => versions.remove(path),
        };
        Ok(())
    }

    /// Forgets `path` and, for a directory, everything under it.
    pub(crate) fn forget(&self, path: &str) {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        versions.retain(|known, _| known != path && !known.starts_with(&prefix));
    }

    /// Fails with `conflict` when `path` exists and this session has not
    /// seen its current version.
    pub(crate) async fn check(
        &self,
        backend: &dyn Backend,
        path: &str,
        operation: Operation,
    ) -> Result<()> {
        let Some(current) = version(backend, path).await? else {
            return Ok(());
        };
        let known = self
            .versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned();
        let why = match known {
            Some(known) if known == current => return Ok(()),
            Some(_) => "it changed since this session last read it",
            None => "this session has not read it",
        };
        Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "{path} was not changed: {why}; read it with read_file, then make the change again"
            ),
        )
        .with_path(path)
        .with_operation(operation))
    }
}

/// The current version of the file at `path`; `None` when there is none.
async fn version(backend: &dyn Backend, path: &str) -> Result<Option<Version>> {
    let info = match backend.stat(path).await {
        Ok(info) => info,
        Err(e) if e.kind() == ErrorKind::FileNotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if info.is_dir {
        return Ok(None);
    }
    if let Some(modified) = info.modified {
        return Ok(Some(Version::Stamp {
            size: info.size,
            modified,
        }));
    }
    let bytes = backend.read_bytes(path).await?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    Ok(Some(Version::Hashed {
        size: info.size,
        hash: hasher.finish(),
    }))
}
