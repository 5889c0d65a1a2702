//! An in-memory agent backend.
//!
//! [`StateBackend`] keeps files in ordered maps behind one lock: listing a
//! directory costs O(k log n) for its k entries whatever else is stored,
//! concurrent edits of one file never lose an update, separate instances
//! share nothing, and [`StateBackend::snapshot`] / [`StateBackend::from_snapshot`]
//! move the whole state to and from bytes so that a short-lived process can
//! resume a conversation's files. An optional byte quota refuses writes that
//! would pass it with `quota_exceeded`.
//!
//! # Example
//! ```
//! # tokio_test_block_on(async {
//! use backend_core::{Backend, BackendExt, GrepRequest};
//! use backend_state::StateBackend;
//!
//! let backend = StateBackend::new();
//! backend.write_str("/src/main.rs", "fn main() {}\n").await?;
//! let hits = backend.grep(&GrepRequest::new("main")).await?;
//! assert_eq!(hits.matches[0].path.as_str(), "/src/main.rs");
//!
//! let saved = backend.snapshot();
//! let resumed = StateBackend::from_snapshot(&saved)?;
//! assert_eq!(resumed.read_to_string("/src/main.rs").await?, "fn main() {}\n");
//! # Ok::<(), backend_core::Error>(())
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

mod snapshot;
mod tree;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use backend_core::{
    Backend, Capabilities, EditResult, Error, ErrorKind, FileInfo, GlobPattern, GlobRequest,
    GlobResult, GrepCollector, GrepMatch, GrepMatcher, GrepRequest, GrepResult, Operation,
    ReadResult, Result, VirtualPath,
};

use crate::tree::{Tree, check_quota};

/// Files held in memory. See the [crate docs](crate).
#[derive(Debug, Default)]
pub struct StateBackend {
    tree: RwLock<Tree>,
    quota: Option<u64>,
}

impl StateBackend {
    /// An empty backend without a quota.
    pub fn new() -> Self {
        StateBackend::default()
    }

    /// An empty backend that holds at most `bytes` bytes of file content.
    pub fn with_quota(bytes: u64) -> Self {
        StateBackend {
            tree: RwLock::default(),
            quota: Some(bytes),
        }
    }

    /// The quota in bytes, if any.
    pub fn quota(&self) -> Option<u64> {
        self.quota
    }

    /// The bytes of file content held now.
    pub fn used_bytes(&self) -> u64 {
        self.read_tree().used_bytes
    }

    /// The number of files held now.
    pub fn file_count(&self) -> usize {
        self.read_tree().files.len()
    }

    /// The whole state (files, directories, modification times) as bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        snapshot::encode(&self.read_tree())
    }

    /// A backend holding the state saved by [`snapshot`](Self::snapshot),
    /// without a quota. Malformed bytes give `invalid_argument`.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Self> {
        Ok(StateBackend {
            tree: RwLock::new(snapshot::decode(bytes)?),
            quota: None,
        })
    }

    /// Replaces this backend's whole state with a snapshot, atomically: on
    /// error (malformed bytes, or more content than the quota allows)
    /// nothing changes.
    pub fn restore(&self, bytes: &[u8]) -> Result<()> {
        let restored = snapshot::decode(bytes)?;
        if let Some(limit) = self.quota
            && restored.used_bytes > limit
        {
            return Err(Error::new(
                ErrorKind::QuotaExceeded,
                format!(
                    "the snapshot holds {} bytes, over this backend's quota of {limit} bytes",
                    restored.used_bytes
                ),
            )
            .with_operation(Operation::Snapshot));
        }
        *self.write_tree() = restored;
        Ok(())
    }

    // A panic while holding the lock cannot leave the tree half-changed
    // (every mutation is checked before it starts), so a poisoned lock is
    // still safe to use.
    fn read_tree(&self) -> RwLockReadGuard<'_, Tree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_tree(&self) -> RwLockWriteGuard<'_, Tree> {
        self.tree.write().unwrap_or_else(|e| e.into_inner())
    }

    fn file_bytes(&self, path: &VirtualPath) -> Result<Arc<Vec<u8>>> {
        let tree = self.read_tree();
        match tree.files.get(path.as_str()) {
            Some(f) => Ok(f.content.clone()),
            None => Err(tree.missing_or_dir(path)),
        }
    }

    fn write_file(&self, path: &VirtualPath, content: Arc<Vec<u8>>) -> Result<()> {
        if path.is_root() {
            return Err(Error::is_directory("/"));
        }
        let mut tree = self.write_tree();
        if tree.dirs.contains_key(path.as_str()) {
            return Err(Error::is_directory(path.as_str()));
        }
        tree.check_ancestors(path)?;
        let old_len = tree
            .files
            .get(path.as_str())
            .map_or(0, |f| f.content.len() as u64);
        check_quota(
            &tree,
            self.quota,
            old_len,
            content.len() as u64,
            path.as_str(),
        )?;
        tree.put_file(path, content, SystemTime::now());
        Ok(())
    }

    /// The directory to search for glob/grep, checked to exist.
    fn search_root(tree: &Tree, path: &VirtualPath) -> Result<()> {
        if tree.dirs.contains_key(path.as_str()) {
            Ok(())
        } else if tree.files.contains_key(path.as_str()) {
            Err(Error::not_a_directory(path.as_str()))
        } else {
            Err(tree.missing_or_dir(path))
        }
    }
}

#[async_trait]
impl Backend for StateBackend {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.atomic_edit = true;
        caps.empty_directories = true;
        caps.modified_time = true;
        caps.snapshot = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VirtualPath::parse_for(path, Operation::Ls)?;
        let tree = self.read_tree();
        let Some(dir) = tree.dirs.get(path.as_str()) else {
            let err = if tree.files.contains_key(path.as_str()) {
                Error::not_a_directory(path.as_str())
            } else {
                tree.missing_or_dir(&path)
            };
            return Err(err.with_operation(Operation::Ls));
        };
        Ok(dir
            .children
            .iter()
            .filter_map(|name| tree.info(&path.child(name)))
            .collect())
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = VirtualPath::parse_for(path, Operation::Stat)?;
        let tree = self.read_tree();
        tree.info(&path)
            .ok_or_else(|| tree.missing_or_dir(&path).with_operation(Operation::Stat))
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = VirtualPath::parse_for(path, Operation::ReadBytes)?;
        self.file_bytes(&path)
            .map(|c| c.as_ref().clone())
            .map_err(|e| e.with_operation(Operation::ReadBytes))
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let vpath = VirtualPath::parse_for(path, Operation::Read)?;
        let content = self
            .file_bytes(&vpath)
            .map_err(|e| e.with_operation(Operation::Read))?;
        backend_core::text::page(vpath.as_str(), &content, offset, limit)
            .map_err(|e| e.with_operation(Operation::Read))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Write)?;
        self.write_file(&path, Arc::new(content))
            .map_err(|e| e.with_operation(Operation::Write))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = VirtualPath::parse_for(path, Operation::Edit)?;
        // Read, replace and store under one write lock: concurrent edits
        // serialise and none is lost.
        let mut tree = self.write_tree();
        let file = match tree.files.get(path.as_str()) {
            Some(f) => f,
            None => return Err(tree.missing_or_dir(&path).with_operation(Operation::Edit)),
        };
        let text = std::str::from_utf8(&file.content)
            .map_err(|_| Error::not_a_text_file(path.as_str()).with_operation(Operation::Edit))?;
        let (updated, count) =
            backend_core::text::apply_edit(path.as_str(), text, old, new, replace_all)
                .map_err(|e| e.with_operation(Operation::Edit))?;
        let old_len = file.content.len() as u64;
        check_quota(
            &tree,
            self.quota,
            old_len,
            updated.len() as u64,
            path.as_str(),
        )
        .map_err(|e| e.with_operation(Operation::Edit))?;
        tree.put_file(&path, Arc::new(updated.into_bytes()), SystemTime::now());
        Ok(EditResult::new(count))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Delete)?;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        let mut tree = self.write_tree();
        if tree.dirs.contains_key(path.as_str()) {
            if !recursive {
                return Err(Error::new(
                    ErrorKind::IsDirectory,
                    format!("{path} is a directory; pass recursive=true to delete it and everything in it"),
                )
                .with_path(path.as_str())
                .with_operation(Operation::Delete));
            }
        } else if !tree.files.contains_key(path.as_str()) {
            return Err(tree.missing_or_dir(&path).with_operation(Operation::Delete));
        }
        tree.remove(&path, SystemTime::now());
        Ok(())
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let base = VirtualPath::parse_for(&request.path, Operation::Glob)?;
        let pattern =
            GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(Operation::Glob))?;
        let tree = self.read_tree();
        Self::search_root(&tree, &base).map_err(|e| e.with_operation(Operation::Glob))?;
        let mut files = Vec::new();
        let mut truncated = false;
        for (key, file) in tree.files_under(&base) {
            let relative = relative_key(&base, key);
            if !pattern.matches(relative) {
                continue;
            }
            if files.len() == request.limit {
                truncated = true;
                break;
            }
            let path = key.clone();
            files.push(
                FileInfo::file(path, file.content.len() as u64).with_modified(Some(file.modified)),
            );
        }
        Ok(GlobResult::new(files, truncated))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let base = VirtualPath::parse_for(&request.path, Operation::Grep)?;
        let matcher = GrepMatcher::new(request).map_err(|e| e.with_operation(Operation::Grep))?;
        let mut collector = GrepCollector::new(request);
        let tree = self.read_tree();
        if let Some(file) = tree.files.get(base.as_str()) {
            if matcher.wants(base.file_name().unwrap_or_default()) {
                collector.search(&matcher, &base, &file.content);
            }
            return Ok(collector.finish());
        }
        Self::search_root(&tree, &base).map_err(|e| e.with_operation(Operation::Grep))?;
        let candidates: Vec<(&VirtualPath, &[u8])> = tree
            .files_under(&base)
            .filter(|(key, _)| matcher.wants(relative_key(&base, key)))
            .map(|(key, file)| (key, file.content.as_slice()))
            .collect();
        let bytes: usize = candidates.iter().map(|(_, c)| c.len()).sum();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 || bytes < PARALLEL_GREP_BYTES {
            for (key, content) in candidates {
                if collector.is_full() {
                    break;
                }
                collector.search(&matcher, key, content);
            }
            return Ok(collector.finish());
        }
        // Large searches split the (path-ordered) files into contiguous
        // chunks searched on scoped threads; each chunk stops one match past
        // the cap, and concatenating the chunks in order keeps the result
        // sorted and `truncated` exact.
        let cap = request
            .max_count
            .map_or(usize::MAX, |m| m.saturating_add(1));
        let chunk_len = candidates.len().div_ceil(threads);
        let found: Vec<Vec<GrepMatch>> = std::thread::scope(|scope| {
            let workers: Vec<_> = candidates
                .chunks(chunk_len)
                .map(|chunk| {
                    let matcher = &matcher;
                    scope.spawn(move || {
                        let mut hits = Vec::new();
                        for (key, content) in chunk {
                            if hits.len() >= cap {
                                break;
                            }
                            hits.extend(matcher.search(key, content, cap - hits.len()));
                        }
                        hits
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_default())
                .collect()
        });
        for hits in found {
            collector.extend(hits);
        }
        Ok(collector.finish())
    }
}

/// Searches over more bytes than this use every core.
const PARALLEL_GREP_BYTES: usize = 4 * 1024 * 1024;

/// `key` relative to `base`, which is one of its ancestors.
fn relative_key<'a>(base: &VirtualPath, key: &'a VirtualPath) -> &'a str {
    if base.is_root() {
        &key.as_str()[1..]
    } else {
        &key.as_str()[base.as_str().len() + 1..]
    }
}

#[cfg(test)]
mod tests;
