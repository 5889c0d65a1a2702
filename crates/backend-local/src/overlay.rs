//! Overlay mode: reads fall through to the directory; writes and deletes
//! are kept in memory until `commit` applies them or `discard` drops them.
//!
//! The layer holds written files and "whiteouts" (deleted paths, hiding
//! everything below them on disk). A directory exists in the overlay view
//! when it exists on disk and is not hidden, or when a written file lies
//! below it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use backend_core::{
    Error, ErrorKind, FileInfo, GlobPattern, GrepMatch, GrepMatcher, GrepRequest, Operation,
    Result, VirtualPath,
};

use crate::disk::Disk;
use crate::search::WalkOptions;

/// One pending change of an overlay, as [`LocalBackend::changes`](crate::LocalBackend::changes) lists it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The file was written (created or replaced) with `size` bytes.
    Written {
        /// The file.
        path: VirtualPath,
        /// Its new size.
        size: u64,
    },
    /// The file or directory (and everything under it) was deleted.
    Deleted {
        /// What was deleted.
        path: VirtualPath,
    },
}

impl Change {
    /// The path the change concerns.
    pub fn path(&self) -> &VirtualPath {
        match self {
            Change::Written { path, .. } | Change::Deleted { path } => path,
        }
    }
}

#[derive(Default)]
pub(crate) struct Overlay {
    layer: RwLock<Layer>,
}

#[derive(Default)]
struct Layer {
    files: BTreeMap<VirtualPath, Upper>,
    deleted: BTreeSet<VirtualPath>,
}

#[derive(Clone)]
struct Upper {
    content: Arc<[u8]>,
    modified: SystemTime,
}

/// What a path is in the overlay view, before asking the disk.
enum View {
    /// A file written in the overlay.
    File(Upper),
    /// A directory because written files lie below it.
    Dir,
    /// Deleted in the overlay (or below a deleted directory).
    Gone,
    /// Below a file written in the overlay.
    UnderFile,
    /// The overlay says nothing: ask the disk.
    Disk,
}

impl Layer {
    fn view(&self, path: &VirtualPath) -> View {
        if let Some(upper) = self.files.get(path) {
            return View::File(upper.clone());
        }
        if self.has_files_below(path) {
            return View::Dir;
        }
        for ancestor in path.ancestors() {
            if self.files.contains_key(&ancestor) {
                return View::UnderFile;
            }
        }
        if self.hidden(path) {
            return View::Gone;
        }
        View::Disk
    }

    /// Whether the disk's entry at `path` is hidden by a whiteout.
    fn hidden(&self, path: &VirtualPath) -> bool {
        self.deleted.contains(path) || path.ancestors().iter().any(|a| self.deleted.contains(a))
    }

    /// The written files strictly below `dir`, in path order.
    fn files_below<'a>(
        &'a self,
        dir: &'a VirtualPath,
    ) -> impl Iterator<Item = (&'a VirtualPath, &'a Upper)> + 'a {
        // Everything below `dir` shares its string prefix and sorts after it;
        // names like `dir-x` share the prefix too and are filtered out.
        self.files
            .range(dir.clone()..)
            .take_while(move |(p, _)| p.as_str().starts_with(dir.as_str()))
            .filter(move |(p, _)| *p != dir && p.starts_with(dir))
    }

    fn has_files_below(&self, dir: &VirtualPath) -> bool {
        self.files_below(dir).next().is_some()
    }
}

impl Overlay {
    fn read(&self) -> RwLockReadGuard<'_, Layer> {
        self.layer.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_layer(&self) -> RwLockWriteGuard<'_, Layer> {
        self.layer.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn changes(&self) -> Vec<Change> {
        let layer = self.read();
        let mut out: Vec<Change> = layer
            .deleted
            .iter()
            .map(|p| Change::Deleted { path: p.clone() })
            .collect();
        out.extend(layer.files.iter().map(|(p, u)| Change::Written {
            path: p.clone(),
            size: u.content.len() as u64,
        }));
        out.sort_by(|a, b| {
            let rank = |c: &Change| matches!(c, Change::Written { .. });
            a.path().cmp(b.path()).then(rank(a).cmp(&rank(b)))
        });
        out
    }

    pub fn discard(&self) {
        *self.write_layer() = Layer::default();
    }

    pub fn commit(&self, disk: &Disk) -> Result<()> {
        let mut layer = self.write_layer();
        let deleted: Vec<VirtualPath> = layer.deleted.iter().cloned().collect();
        for path in deleted {
            match disk.delete(&path, true) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::FileNotFound => {}
                Err(e) => return Err(e),
            }
            layer.deleted.remove(&path);
        }
        let written: Vec<VirtualPath> = layer.files.keys().cloned().collect();
        for path in written {
            if let Some(upper) = layer.files.get(&path) {
                disk.write(&path, &upper.content)?;
            }
            layer.files.remove(&path);
        }
        Ok(())
    }

    pub fn stat(&self, disk: &Disk, path: &VirtualPath) -> Result<FileInfo> {
        match self.read().view(path) {
            View::File(upper) => Ok(upper_info(path, &upper)),
            View::Dir => Ok(FileInfo::dir(path.clone())),
            View::Gone | View::UnderFile => {
                Err(Error::file_not_found(path.as_str()).with_operation(Operation::Stat))
            }
            View::Disk => disk.stat(path),
        }
    }

    pub fn read_bytes(&self, disk: &Disk, path: &VirtualPath, op: Operation) -> Result<Vec<u8>> {
        match self.read().view(path) {
            View::File(upper) => Ok(upper.content.to_vec()),
            View::Dir => Err(Error::is_directory(path.as_str()).with_operation(op)),
            View::Gone => Err(Error::file_not_found(path.as_str()).with_operation(op)),
            View::UnderFile => Err(Error::not_a_directory(path.as_str()).with_operation(op)),
            View::Disk => disk.read_bytes(path, op),
        }
    }

    pub fn ls(&self, disk: &Disk, path: &VirtualPath) -> Result<Vec<FileInfo>> {
        let op = Operation::Ls;
        let layer = self.read();
        let mut entries: BTreeMap<VirtualPath, FileInfo> = BTreeMap::new();
        match layer.view(path) {
            View::File(_) => return Err(Error::not_a_directory(path.as_str()).with_operation(op)),
            View::UnderFile => {
                return Err(Error::not_a_directory(path.as_str()).with_operation(op));
            }
            View::Gone => {
                return Err(Error::file_not_found(path.as_str()).with_operation(op));
            }
            View::Dir => match disk.ls(path) {
                Ok(list) => entries.extend(list.into_iter().map(|e| (e.path.clone(), e))),
                Err(e) if disk_absent(&e) => {}
                Err(e) => return Err(e),
            },
            View::Disk => {
                let list = disk.ls(path)?;
                entries.extend(list.into_iter().map(|e| (e.path.clone(), e)));
            }
        }
        entries.retain(|p, _| !layer.hidden(p));
        for (file, upper) in layer.files_below(path) {
            let Some(rest) = file.relative_to(path) else {
                continue;
            };
            let name = rest.split('/').next().unwrap_or(rest);
            let child = path.child(name);
            let entry = if child == *file {
                upper_info(file, upper)
            } else {
                FileInfo::dir(child.clone())
            };
            entries.insert(child, entry);
        }
        Ok(entries.into_values().collect())
    }

    pub fn write(&self, disk: &Disk, path: &VirtualPath, content: Vec<u8>) -> Result<()> {
        let op = Operation::Write;
        let mut layer = self.write_layer();
        check_writable(&layer, disk, path, op)?;
        layer.files.insert(
            path.clone(),
            Upper {
                content: Arc::from(content),
                modified: SystemTime::now(),
            },
        );
        Ok(())
    }

    pub fn edit(
        &self,
        disk: &Disk,
        path: &VirtualPath,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<usize> {
        let op = Operation::Edit;
        // One write lock over read, replace and store: edits never lose
        // each other's updates.
        let mut layer = self.write_layer();
        let bytes = match layer.view(path) {
            View::File(upper) => upper.content.to_vec(),
            View::Dir => return Err(Error::is_directory(path.as_str()).with_operation(op)),
            View::Gone => return Err(Error::file_not_found(path.as_str()).with_operation(op)),
            View::UnderFile => return Err(Error::not_a_directory(path.as_str()).with_operation(op)),
            View::Disk => disk.read_bytes(path, op)?,
        };
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::not_a_text_file(path.as_str()).with_operation(op))?;
        let (updated, count) =
            backend_core::text::apply_edit(path.as_str(), text, old, new, replace_all)
                .map_err(|e| e.with_operation(op))?;
        layer.files.insert(
            path.clone(),
            Upper {
                content: Arc::from(updated.into_bytes()),
                modified: SystemTime::now(),
            },
        );
        Ok(count)
    }

    pub fn delete(&self, disk: &Disk, path: &VirtualPath, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        if path.is_root() {
            return disk.delete(path, recursive);
        }
        let mut layer = self.write_layer();
        let is_dir = match layer.view(path) {
            View::File(_) => false,
            View::Dir => true,
            View::Gone | View::UnderFile => {
                return Err(Error::file_not_found(path.as_str()).with_operation(op));
            }
            View::Disk => disk.stat(path).map_err(|e| e.with_operation(op))?.is_dir,
        };
        if is_dir && !recursive {
            return Err(Error::new(
                ErrorKind::IsDirectory,
                format!(
                    "{path} is a directory; pass recursive=true to delete it and everything in it"
                ),
            )
            .with_path(path.as_str())
            .with_operation(op));
        }
        let below: Vec<VirtualPath> = layer.files_below(path).map(|(p, _)| p.clone()).collect();
        for p in below {
            layer.files.remove(&p);
        }
        layer.files.remove(path);
        layer.deleted.insert(path.clone());
        Ok(())
    }

    pub fn glob(
        &self,
        disk: &Disk,
        base: &VirtualPath,
        pattern: &GlobPattern,
        options: WalkOptions,
    ) -> Result<Vec<FileInfo>> {
        let op = Operation::Glob;
        let layer = self.read();
        let mut files = match layer.view(base) {
            View::File(_) | View::UnderFile => {
                return Err(Error::not_a_directory(base.as_str()).with_operation(op));
            }
            View::Gone => return Err(Error::file_not_found(base.as_str()).with_operation(op)),
            View::Dir => match disk.glob(base, pattern, options) {
                Ok(found) => found,
                Err(e) if disk_absent(&e) => Vec::new(),
                Err(e) => return Err(e),
            },
            View::Disk => disk.glob(base, pattern, options)?,
        };
        files.retain(|f| matches!(layer.view(&f.path), View::Disk));
        for (path, upper) in layer.files_below(base) {
            if pattern.matches(path.relative_to(base).unwrap_or_default()) {
                files.push(upper_info(path, upper));
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    pub fn grep(
        &self,
        disk: &Disk,
        base: &VirtualPath,
        request: &GrepRequest,
        matcher: &GrepMatcher,
        options: WalkOptions,
    ) -> Result<Vec<GrepMatch>> {
        let op = Operation::Grep;
        let layer = self.read();
        let per_file = request.max_count.unwrap_or(usize::MAX).saturating_add(1);
        let mut by_file: Vec<(VirtualPath, Vec<GrepMatch>)> = Vec::new();
        match layer.view(base) {
            View::File(upper) => {
                if matcher.wants(base.file_name().unwrap_or_default()) {
                    return Ok(matcher.search(base, &upper.content, per_file));
                }
                return Ok(Vec::new());
            }
            View::UnderFile => {
                return Err(Error::not_a_directory(base.as_str()).with_operation(op));
            }
            View::Gone => return Err(Error::file_not_found(base.as_str()).with_operation(op)),
            View::Dir | View::Disk => {
                let skip = |p: &VirtualPath| !matches!(layer.view(p), View::Disk);
                match disk.grep(base, request, matcher, options, Some(&skip)) {
                    Ok(found) => by_file.push((base.clone(), found)),
                    Err(e) if matches!(layer.view(base), View::Dir) && disk_absent(&e) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let mut hits: Vec<GrepMatch> = by_file.into_iter().flat_map(|(_, h)| h).collect();
        for (path, upper) in layer.files_below(base) {
            if matcher.wants(path.relative_to(base).unwrap_or_default()) {
                hits.extend(matcher.search(path, &upper.content, per_file));
            }
        }
        // Stable: keeps each file's lines in order.
        hits.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(hits)
    }
}

/// Whether a disk error only says the directory is not on disk (it exists
/// in the overlay view through written files).
fn disk_absent(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::FileNotFound | ErrorKind::NotADirectory)
}

fn upper_info(path: &VirtualPath, upper: &Upper) -> FileInfo {
    FileInfo::file(path.clone(), upper.content.len() as u64).with_modified(Some(upper.modified))
}

/// Refuses a write onto a directory or below a file, in the overlay view.
fn check_writable(layer: &Layer, disk: &Disk, path: &VirtualPath, op: Operation) -> Result<()> {
    if path.is_root() {
        return Err(Error::is_directory("/").with_operation(op));
    }
    match layer.view(path) {
        View::Dir => return Err(Error::is_directory(path.as_str()).with_operation(op)),
        View::UnderFile => return Err(Error::not_a_directory(path.as_str()).with_operation(op)),
        View::File(_) | View::Gone => {}
        View::Disk => match disk.stat(path) {
            Ok(info) if info.is_dir => {
                return Err(Error::is_directory(path.as_str()).with_operation(op));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::FileNotFound => {}
            Err(e) => return Err(e.with_operation(op)),
        },
    }
    for ancestor in path.ancestors().into_iter().skip(1) {
        match layer.view(&ancestor) {
            View::Dir | View::Gone => {}
            View::File(_) | View::UnderFile => {
                return Err(Error::not_a_directory(path.as_str()).with_operation(op));
            }
            View::Disk => match disk.stat(&ancestor) {
                Ok(info) if !info.is_dir => {
                    return Err(Error::not_a_directory(path.as_str()).with_operation(op));
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::FileNotFound => {}
                Err(e) => return Err(e.with_operation(op)),
            },
        }
    }
    Ok(())
}
