//! A small custom backend written from scratch on `backend-core`: every file
//! lives in one `Mutex<BTreeMap<path, bytes>>`, and directories are implied
//! by the files under them. It is the worked example of
//! `docs/writing-a-backend.md` and passes the whole conformance suite.
//!
//! What it shows:
//! - every path an agent gives goes through [`VirtualPath::parse_for`] first;
//! - the rules that must be identical everywhere come from `backend-core`:
//!   [`text::apply_edit`] for edits, [`GlobPattern`] for glob,
//!   [`GrepMatcher`] and [`GrepCollector`] for grep, and the default `read`
//!   (which pages with `text::page`);
//! - [`Capabilities`] promise only what the store does: edits are atomic
//!   (one lock around read-modify-write), but directories cannot exist
//!   without files in them.
//!
//! # Example
//! ```
//! # tokio::runtime::Runtime::new().expect("runtime").block_on(async {
//! use backend_core::{Backend, BackendExt, GlobRequest};
//! use custom_backend_example::MapBackend;
//!
//! let backend = MapBackend::new();
//! backend.write_str("/notes/todo.md", "- write a backend\n").await?;
//! backend.edit("/notes/todo.md", "write", "test", false).await?;
//! assert_eq!(backend.read_to_string("/notes/todo.md").await?, "- test a backend\n");
//! let found = backend.glob(&GlobRequest::new("*.md")).await?;
//! assert_eq!(found.files[0].path.as_str(), "/notes/todo.md");
//! # Ok::<(), backend_core::Error>(())
//! # });
//! ```

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use backend_core::{
    Backend, Capabilities, EditResult, Error, FileInfo, GlobPattern, GlobRequest, GlobResult,
    GrepCollector, GrepMatcher, GrepRequest, GrepResult, Operation, Result, VirtualPath,
    async_trait, text,
};

/// Files keyed by their normalised virtual path.
type Files = BTreeMap<VirtualPath, Vec<u8>>;

/// An in-memory backend in about 200 lines. See the [crate docs](crate).
#[derive(Debug, Default)]
pub struct MapBackend {
    files: Mutex<Files>,
}

impl MapBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// The map. No method awaits while holding it, and no update leaves it
    /// half-done, so a panic elsewhere cannot have corrupted it: a poisoned
    /// lock is safe to take over.
    fn lock(&self) -> MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The files strictly under `dir`, in path order.
///
/// Keys that start with the text of `dir` are contiguous in the map; among
/// them, `/d/a-b` and `/d/a.txt` sort before `/d/a/x` but are not under
/// `/d/a`, hence the segment-aware filter after the cheap text bound.
fn files_under<'a>(
    files: &'a Files,
    dir: &'a VirtualPath,
) -> impl Iterator<Item = (&'a VirtualPath, &'a Vec<u8>)> + 'a {
    files
        .range(dir.clone()..)
        .take_while(move |(path, _)| path.as_str().starts_with(dir.as_str()))
        .filter(move |(path, _)| *path != dir && path.starts_with(dir))
}

/// A directory exists when it is `/` or has a file under it.
fn is_dir(files: &Files, path: &VirtualPath) -> bool {
    path.is_root() || files_under(files, path).next().is_some()
}

#[async_trait]
impl Backend for MapBackend {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        // One lock covers each edit's read-modify-write.
        caps.atomic_edit = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = VirtualPath::parse_for(path, Operation::Ls)?;
        let files = self.lock();
        if files.contains_key(&dir) {
            return Err(Error::not_a_directory(dir.as_str()).with_operation(Operation::Ls));
        }
        if !is_dir(&files, &dir) {
            return Err(Error::file_not_found(dir.as_str()).with_operation(Operation::Ls));
        }
        // Children by name; a child directory appears once however many
        // files it holds.
        let mut children: BTreeMap<String, FileInfo> = BTreeMap::new();
        for (path, content) in files_under(&files, &dir) {
            let rest = path.relative_to(&dir).unwrap_or_default();
            let (name, deeper) = match rest.split_once('/') {
                Some((name, _)) => (name, true),
                None => (rest, false),
            };
            children.entry(name.to_owned()).or_insert_with(|| {
                if deeper {
                    FileInfo::dir(dir.child(name))
                } else {
                    FileInfo::file(path.clone(), content.len() as u64)
                }
            });
        }
        Ok(children.into_values().collect())
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = VirtualPath::parse_for(path, Operation::Stat)?;
        let files = self.lock();
        match files.get(&path) {
            Some(content) => Ok(FileInfo::file(path, content.len() as u64)),
            None if is_dir(&files, &path) => Ok(FileInfo::dir(path)),
            None => Err(Error::file_not_found(path.as_str()).with_operation(Operation::Stat)),
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = VirtualPath::parse_for(path, Operation::ReadBytes)?;
        let files = self.lock();
        match files.get(&path) {
            Some(content) => Ok(content.clone()),
            None if is_dir(&files, &path) => {
                Err(Error::is_directory(path.as_str()).with_operation(Operation::ReadBytes))
            }
            None => Err(Error::file_not_found(path.as_str()).with_operation(Operation::ReadBytes)),
        }
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Write)?;
        let mut files = self.lock();
        if is_dir(&files, &path) {
            return Err(Error::is_directory(path.as_str()).with_operation(Operation::Write));
        }
        if let Some(file) = path.ancestors().into_iter().find(|a| files.contains_key(a)) {
            return Err(Error::not_a_directory(file.as_str())
                .with_path(path.as_str())
                .with_operation(Operation::Write));
        }
        files.insert(path, content);
        Ok(())
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = VirtualPath::parse_for(path, Operation::Edit)?;
        let mut files = self.lock();
        let Some(content) = files.get(&path) else {
            let err = if is_dir(&files, &path) {
                Error::is_directory(path.as_str())
            } else {
                Error::file_not_found(path.as_str())
            };
            return Err(err.with_operation(Operation::Edit));
        };
        let text = std::str::from_utf8(content)
            .map_err(|_| Error::not_a_text_file(path.as_str()).with_operation(Operation::Edit))?;
        // The shared rules: exact match, counts, CRLF retry, empty `old`.
        let (updated, replaced) = text::apply_edit(path.as_str(), text, old, new, replace_all)
            .map_err(|e| e.with_operation(Operation::Edit))?;
        files.insert(path, updated.into_bytes());
        Ok(EditResult::new(replaced))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Delete)?;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        let mut files = self.lock();
        if files.remove(&path).is_some() {
            return Ok(());
        }
        if !is_dir(&files, &path) {
            return Err(Error::file_not_found(path.as_str()).with_operation(Operation::Delete));
        }
        if !recursive {
            return Err(Error::is_directory(path.as_str())
                .with_message(format!(
                    "{path} is a directory; pass recursive=true to delete it and everything in it"
                ))
                .with_operation(Operation::Delete));
        }
        let doomed: Vec<VirtualPath> = files_under(&files, &path).map(|(p, _)| p.clone()).collect();
        for p in doomed {
            files.remove(&p);
        }
        Ok(())
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let base = VirtualPath::parse_for(&request.path, Operation::Glob)?;
        let pattern =
            GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(Operation::Glob))?;
        let files = self.lock();
        let mut found = Vec::new();
        // The map is ordered, so results come out sorted by path.
        for (path, content) in files_under(&files, &base) {
            if pattern.matches(path.relative_to(&base).unwrap_or_default()) {
                if found.len() == request.limit {
                    return Ok(GlobResult::new(found, true));
                }
                found.push(FileInfo::file(path.clone(), content.len() as u64));
            }
        }
        Ok(GlobResult::new(found, false))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let base = VirtualPath::parse_for(&request.path, Operation::Grep)?;
        let matcher = GrepMatcher::new(request).map_err(|e| e.with_operation(Operation::Grep))?;
        let mut collector = GrepCollector::new(request);
        let files = self.lock();
        if let Some(content) = files.get(&base) {
            // A single file: the glob filter sees its name.
            if matcher.wants(base.file_name().unwrap_or_default()) {
                collector.search(&matcher, &base, content);
            }
            return Ok(collector.finish());
        }
        if !is_dir(&files, &base) {
            return Err(Error::file_not_found(base.as_str()).with_operation(Operation::Grep));
        }
        for (path, content) in files_under(&files, &base) {
            if collector.is_full() {
                break;
            }
            if matcher.wants(path.relative_to(&base).unwrap_or_default()) {
                collector.search(&matcher, path, content);
            }
        }
        Ok(collector.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backend_core::{BackendExt, ErrorKind};

    #[tokio::test]
    async fn directories_are_implied_by_files() {
        let backend = MapBackend::new();
        backend.write_str("/a/b/c.txt", "x").await.unwrap();
        assert!(backend.stat("/a/b").await.unwrap().is_dir);
        backend.delete("/a/b/c.txt", false).await.unwrap();
        let gone = backend.stat("/a").await.unwrap_err();
        assert_eq!(gone.kind(), ErrorKind::FileNotFound);
    }

    #[tokio::test]
    async fn children_are_listed_once_in_name_order() {
        let backend = MapBackend::new();
        for path in ["/d/a/x", "/d/a.txt", "/d/a-b", "/d/a/y"] {
            backend.write_str(path, "x").await.unwrap();
        }
        let names: Vec<String> = backend
            .ls("/d")
            .await
            .unwrap()
            .iter()
            .map(|f| f.name().to_owned())
            .collect();
        assert_eq!(names, ["a", "a-b", "a.txt"]);
    }
}
