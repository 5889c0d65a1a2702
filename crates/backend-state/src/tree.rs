//! The file tree: flat ordered maps of files and directories.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::SystemTime;

use backend_core::{Error, ErrorKind, FileInfo, Result, VirtualPath};

/// A file's bytes and modification time. Content is shared so that readers
/// can copy it out of the lock cheaply.
#[derive(Debug, Clone)]
pub(crate) struct FileNode {
    pub(crate) content: Arc<[u8]>,
    pub(crate) modified: SystemTime,
}

/// A directory's child names and modification time.
#[derive(Debug, Clone)]
pub(crate) struct DirNode {
    pub(crate) children: BTreeSet<String>,
    pub(crate) modified: SystemTime,
}

impl DirNode {
    fn new(modified: SystemTime) -> Self {
        DirNode {
            children: BTreeSet::new(),
            modified,
        }
    }
}

/// Files and directories keyed by their full virtual path. Keeping files in
/// their own ordered map makes every subtree a contiguous key range, iterated
/// in path order; each directory keeps its child names so that listing it
/// costs O(k log n) however many files exist elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) files: BTreeMap<String, FileNode>,
    pub(crate) dirs: BTreeMap<String, DirNode>,
    pub(crate) used_bytes: u64,
}

impl Default for Tree {
    fn default() -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert("/".to_owned(), DirNode::new(SystemTime::now()));
        Tree {
            files: BTreeMap::new(),
            dirs,
            used_bytes: 0,
        }
    }
}

/// The key range holding everything strictly below `dir`.
pub(crate) fn subtree_range(dir: &VirtualPath) -> (Bound<String>, Bound<String>) {
    if dir.is_root() {
        return (Bound::Excluded("/".to_owned()), Bound::Unbounded);
    }
    // Every descendant starts with "dir/"; '0' is the byte after '/'.
    (
        Bound::Included(format!("{dir}/")),
        Bound::Excluded(format!("{dir}0")),
    )
}

impl Tree {
    pub(crate) fn info(&self, path: &VirtualPath) -> Option<FileInfo> {
        if let Some(f) = self.files.get(path.as_str()) {
            return Some(
                FileInfo::file(path.clone(), f.content.len() as u64)
                    .with_modified(Some(f.modified)),
            );
        }
        self.dirs
            .get(path.as_str())
            .map(|d| FileInfo::dir(path.clone()).with_modified(Some(d.modified)))
    }

    /// Fails with `not_a_directory` when an ancestor of `path` is a file.
    pub(crate) fn check_ancestors(&self, path: &VirtualPath) -> Result<()> {
        for ancestor in path.ancestors() {
            if self.files.contains_key(ancestor.as_str()) {
                return Err(Error::not_a_directory(ancestor.as_str()));
            }
        }
        Ok(())
    }

    /// Replaces or creates the file at `path`, creating parent directories.
    /// The caller has checked the path is not a directory and its ancestors
    /// are not files.
    pub(crate) fn put_file(&mut self, path: &VirtualPath, content: Arc<[u8]>, now: SystemTime) {
        let new_len = content.len() as u64;
        let old = self.files.insert(
            path.as_str().to_owned(),
            FileNode {
                content,
                modified: now,
            },
        );
        self.used_bytes = self.used_bytes + new_len - old.map_or(0, |f| f.content.len() as u64);
        self.link_into_parents(path, now);
    }

    fn link_into_parents(&mut self, path: &VirtualPath, now: SystemTime) {
        let mut child = path.clone();
        while let Some(parent) = child.parent() {
            let name = child.file_name().unwrap_or_default().to_owned();
            let dir = self
                .dirs
                .entry(parent.as_str().to_owned())
                .or_insert_with(|| DirNode::new(now));
            let existed = !dir.children.insert(name);
            if !existed {
                dir.modified = now;
            }
            if existed && child != *path {
                // The rest of the chain is already linked.
                break;
            }
            child = parent;
        }
    }

    /// Removes a file or a whole directory subtree (never the root).
    pub(crate) fn remove(&mut self, path: &VirtualPath, now: SystemTime) {
        if let Some(f) = self.files.remove(path.as_str()) {
            self.used_bytes -= f.content.len() as u64;
        } else if self.dirs.remove(path.as_str()).is_some() {
            let range = subtree_range(path);
            let doomed: Vec<String> = self
                .files
                .range(range.clone())
                .map(|(k, _)| k.clone())
                .collect();
            for key in doomed {
                if let Some(f) = self.files.remove(&key) {
                    self.used_bytes -= f.content.len() as u64;
                }
            }
            let doomed: Vec<String> = self.dirs.range(range).map(|(k, _)| k.clone()).collect();
            for key in doomed {
                self.dirs.remove(&key);
            }
        }
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
            && let Some(dir) = self.dirs.get_mut(parent.as_str())
        {
            dir.children.remove(name);
            dir.modified = now;
        }
    }

    /// The kind of thing at `path`, for error messages.
    pub(crate) fn missing_or_dir(&self, path: &VirtualPath) -> Error {
        if self.dirs.contains_key(path.as_str()) {
            Error::is_directory(path.as_str())
        } else {
            match self.check_ancestors(path) {
                Err(e) => e,
                Ok(()) => Error::file_not_found(path.as_str()),
            }
        }
    }

    /// Files strictly below `dir`, in path order.
    pub(crate) fn files_under<'a>(
        &'a self,
        dir: &VirtualPath,
    ) -> impl Iterator<Item = (&'a String, &'a FileNode)> + 'a {
        self.files.range(subtree_range(dir))
    }
}

/// `quota_exceeded` when replacing `old_len` bytes with `new_len` would pass the quota.
pub(crate) fn check_quota(
    tree: &Tree,
    quota: Option<u64>,
    old_len: u64,
    new_len: u64,
    path: &str,
) -> Result<()> {
    let Some(limit) = quota else { return Ok(()) };
    let after = tree.used_bytes - old_len + new_len;
    if after > limit {
        return Err(Error::new(
            ErrorKind::QuotaExceeded,
            format!(
                "writing {path} would use {after} bytes, over this backend's quota of {limit} bytes; delete files to make room"
            ),
        )
        .with_path(path)
        .with_context("limit", limit.to_string()));
    }
    Ok(())
}
