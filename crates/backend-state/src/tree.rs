//! The file tree: ordered maps of files and directories keyed by path.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::time::SystemTime;

use backend_core::{Error, ErrorKind, FileInfo, Result, VirtualPath};

/// A file's bytes and modification time. Content is shared so that readers
/// can copy it out of the lock cheaply, and held as the `Vec` it was written
/// as so that a write does not copy it again.
#[derive(Debug, Clone)]
pub(crate) struct FileNode {
    pub(crate) content: Arc<Vec<u8>>,
    pub(crate) modified: SystemTime,
}

/// A directory's child names and modification time.
#[derive(Debug, Clone)]
pub(crate) struct DirNode {
    pub(crate) children: BTreeSet<String>,
    pub(crate) modified: SystemTime,
}

impl DirNode {
    pub(crate) fn new(modified: SystemTime) -> Self {
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
    pub(crate) files: BTreeMap<VirtualPath, FileNode>,
    pub(crate) dirs: BTreeMap<VirtualPath, DirNode>,
    pub(crate) used_bytes: u64,
}

impl Default for Tree {
    fn default() -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(VirtualPath::root(), DirNode::new(SystemTime::now()));
        Tree {
            files: BTreeMap::new(),
            dirs,
            used_bytes: 0,
        }
    }
}

/// The bounds of the key range holding everything strictly below `dir`.
fn subtree_bounds(dir: &VirtualPath) -> (String, Option<String>) {
    if dir.is_root() {
        // Every key but "/" itself starts with "/" and sorts after it.
        return ("/\0".to_owned(), None);
    }
    // Every descendant starts with "dir/"; '0' is the byte after '/'.
    (format!("{dir}/"), Some(format!("{dir}0")))
}

/// The parent directory of `path` as a slice of it (`path` is not the root).
fn parent_str(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
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
        let s = path.as_str();
        for (i, _) in s.match_indices('/').skip(1) {
            if self.files.contains_key(&s[..i]) {
                return Err(Error::not_a_directory(&s[..i]));
            }
        }
        Ok(())
    }

    /// Replaces or creates the file at `path`, creating parent directories.
    /// The caller has checked the path is not a directory and its ancestors
    /// are not files.
    pub(crate) fn put_file(&mut self, path: &VirtualPath, content: Arc<Vec<u8>>, now: SystemTime) {
        let new_len = content.len() as u64;
        if let Some(existing) = self.files.get_mut(path.as_str()) {
            self.used_bytes = self.used_bytes + new_len - existing.content.len() as u64;
            existing.content = content;
            existing.modified = now;
            return;
        }
        self.used_bytes += new_len;
        self.files.insert(
            path.clone(),
            FileNode {
                content,
                modified: now,
            },
        );
        self.link_into_parents(path, now);
    }

    /// Records `path` in its parent's children, creating missing ancestors.
    pub(crate) fn link_into_parents(&mut self, path: &VirtualPath, now: SystemTime) {
        let mut child = path.as_str();
        while child != "/" {
            let parent = parent_str(child);
            let name = &child[parent.len().max(1)..].trim_start_matches('/');
            if let Some(dir) = self.dirs.get_mut(parent) {
                if dir.children.insert((*name).to_owned()) {
                    dir.modified = now;
                }
                return;
            }
            let mut dir = DirNode::new(now);
            dir.children.insert((*name).to_owned());
            // `parent` is a prefix of a valid path, so it is valid too.
            if let Ok(parent_path) = VirtualPath::parse(parent) {
                self.dirs.insert(parent_path, dir);
            }
            child = parent;
        }
    }

    /// Removes a file or a whole directory subtree (never the root).
    pub(crate) fn remove(&mut self, path: &VirtualPath, now: SystemTime) {
        if let Some(f) = self.files.remove(path.as_str()) {
            self.used_bytes -= f.content.len() as u64;
        } else if self.dirs.remove(path.as_str()).is_some() {
            let doomed: Vec<VirtualPath> = self.files_under(path).map(|(k, _)| k.clone()).collect();
            for key in doomed {
                if let Some(f) = self.files.remove(&key) {
                    self.used_bytes -= f.content.len() as u64;
                }
            }
            let (lo, hi) = subtree_bounds(path);
            let upper = hi.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let doomed: Vec<VirtualPath> = self
                .dirs
                .range::<str, _>((Bound::Included(lo.as_str()), upper))
                .map(|(k, _)| k.clone())
                .collect();
            for key in doomed {
                self.dirs.remove(&key);
            }
        }
        if let (Some(name), false) = (path.file_name(), path.is_root())
            && let Some(dir) = self.dirs.get_mut(parent_str(path.as_str()))
        {
            dir.children.remove(name);
            dir.modified = now;
        }
    }

    /// The error for a path that is not a file: `is_directory`,
    /// `not_a_directory` (a parent is a file) or `file_not_found`.
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
    ) -> impl Iterator<Item = (&'a VirtualPath, &'a FileNode)> + 'a {
        let (lo, hi) = subtree_bounds(dir);
        let upper = match hi {
            Some(hi) => Bound::Excluded(hi),
            None => Bound::Unbounded,
        };
        self.files.range::<str, _>((
            Bound::Included(lo.as_str()),
            upper.as_ref().map(String::as_str),
        ))
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
