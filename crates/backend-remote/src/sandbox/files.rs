//! The provider-neutral sandbox: the file semantics of docs/semantics.md
//! (paths, errors, paging, edit, glob, grep) over the few primitives each
//! provider offers ([`Remote`]). Commands are in [`super::exec`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use backend_core::{
    Backend, Capabilities, EditResult, Error, ErrorKind, FileInfo, GlobPattern, GlobRequest,
    GlobResult, GrepCollector, GrepMatcher, GrepRequest, GrepResult, KeyedLocks, Operation, Result,
    VirtualPath,
};
use futures::StreamExt;

use super::remote::{self, Entry, Remote};

/// A sandbox built on a [`Remote`]; [`crate::RemoteSandbox`] wraps it.
/// (Public in name only: the module is private.)
pub struct SandboxCore {
    pub(super) remote: Arc<dyn Remote>,
    /// The directory inside the sandbox where the virtual `/` lives.
    pub(super) root: String,
    /// Serialises edits of one path through this object.
    edit_locks: KeyedLocks<String>,
    closed: AtomicBool,
}

impl std::fmt::Debug for SandboxCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxCore")
            .field("provider", &self.remote.provider())
            .field("id", &self.remote.sandbox_id())
            .field("root", &self.root)
            .finish()
    }
}

impl SandboxCore {
    /// Wraps `remote`, creating `root` inside it. On failure the remote
    /// sandbox is destroyed so that nothing leaks.
    pub(crate) async fn open(remote: Arc<dyn Remote>, root: &str) -> Result<Self> {
        let root = root.trim_end_matches('/');
        let root = if root.is_empty() {
            "/".to_owned()
        } else {
            root.to_owned()
        };
        if let Err(e) = remote.make_dir(&root).await {
            let _ = remote.destroy().await;
            return Err(e.with_context("sandbox", remote.sandbox_id().to_owned()));
        }
        Ok(SandboxCore {
            remote,
            root,
            edit_locks: KeyedLocks::new(),
            closed: AtomicBool::new(false),
        })
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub(crate) fn root_dir(&self) -> &str {
        &self.root
    }

    /// Sets the sandbox to expire `lifetime` from now, where the provider
    /// can.
    pub(crate) async fn set_lifetime(&self, lifetime: std::time::Duration) -> Result<()> {
        self.remote.set_lifetime(lifetime).await
    }

    pub(super) fn abs(&self, path: &VirtualPath) -> String {
        if path.is_root() {
            self.root.clone()
        } else if self.root == "/" {
            path.as_str().to_owned()
        } else {
            format!("{}{}", self.root, path.as_str())
        }
    }

    pub(super) fn tag(&self, e: Error, op: Operation, path: &VirtualPath) -> Error {
        let e = e.or_operation(op);
        let e = if e.path().is_none() {
            e.with_path(path.as_str())
        } else {
            e
        };
        e.with_context("sandbox", self.remote.sandbox_id().to_owned())
    }

    /// The error for a path that is not there: `not_a_directory` when an
    /// ancestor is a file, else `file_not_found`.
    async fn missing(&self, path: &VirtualPath) -> Error {
        let mut current = path.parent();
        while let Some(dir) = current {
            match self.remote.stat(&self.abs(&dir)).await {
                Ok(Some(entry)) if !entry.is_dir => return Error::not_a_directory(path.as_str()),
                Ok(Some(_)) => break,
                Ok(None) => current = dir.parent(),
                Err(e) => return e,
            }
        }
        Error::file_not_found(path.as_str())
    }

    /// The entry at `path`, or the right error when it is missing.
    async fn existing(&self, path: &VirtualPath) -> Result<Entry> {
        match self.stat_opt(path).await? {
            Some(entry) => Ok(entry),
            None => Err(self.missing(path).await),
        }
    }

    /// The provider's stat; a failure under a file becomes `not_a_directory`.
    async fn stat_opt(&self, path: &VirtualPath) -> Result<Option<Entry>> {
        match self.remote.stat(&self.abs(path)).await {
            Ok(found) => Ok(found),
            Err(e) => {
                let why = self.missing(path).await;
                Err(if why.kind() == ErrorKind::NotADirectory {
                    why
                } else {
                    e
                })
            }
        }
    }

    /// The directory `path`, or `not_a_directory` / `file_not_found`.
    pub(super) async fn directory(&self, path: &VirtualPath) -> Result<()> {
        let entry = self.existing(path).await?;
        if entry.is_dir {
            Ok(())
        } else {
            Err(Error::not_a_directory(path.as_str()))
        }
    }

    fn info(path: VirtualPath, entry: &Entry) -> FileInfo {
        if entry.is_dir {
            FileInfo::dir(path).with_modified(entry.modified)
        } else {
            FileInfo::file(path, entry.size).with_modified(entry.modified)
        }
    }

    /// Every regular file below the directory `base`, sorted by path, as
    /// (virtual path, path relative to `base`).
    async fn files_under(
        &self,
        base: &VirtualPath,
    ) -> Result<Vec<(VirtualPath, String, u64, Option<SystemTime>)>> {
        let entries = remote::walk(self.remote.as_ref(), &self.abs(base)).await?;
        let mut files = Vec::new();
        for entry in entries {
            if entry.is_dir || entry.is_symlink {
                continue;
            }
            let Ok(path) = base.join(&entry.name) else {
                continue;
            };
            files.push((path, entry.name, entry.size, entry.modified));
        }
        files.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Ok(files)
    }

    /// Turns a provider's failure on `path` into the kind docs/semantics.md
    /// gives it when the path's state explains it (missing, a directory,
    /// under a file).
    async fn classify(&self, path: &VirtualPath, error: Error) -> Error {
        match self.stat_opt(path).await {
            Ok(None) => self.missing(path).await,
            Ok(Some(entry)) if entry.is_dir => Error::is_directory(path.as_str()),
            Err(e) if e.kind() == ErrorKind::NotADirectory => e,
            _ => error,
        }
    }

    async fn write_parsed(&self, path: &VirtualPath, content: Vec<u8>) -> Result<()> {
        if path.is_root() {
            return Err(Error::is_directory("/"));
        }
        let abs = self.abs(path);
        if let Some(entry) = self.stat_opt(path).await?
            && entry.is_dir
        {
            return Err(Error::is_directory(path.as_str()));
        }
        let first = match self.remote.write_file(&abs, content.clone()).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        // Some providers do not create parents: find out why it failed.
        let Some(parent) = path.parent() else {
            return Err(first);
        };
        match self.remote.stat(&self.abs(&parent)).await? {
            Some(entry) if entry.is_dir => Err(first),
            Some(_) => Err(Error::not_a_directory(path.as_str())),
            None => {
                let why = self.missing(&parent).await;
                if why.kind() != ErrorKind::FileNotFound {
                    return Err(why);
                }
                self.remote.make_dir(&self.abs(&parent)).await?;
                self.remote.write_file(&abs, content).await
            }
        }
    }

    /// Removes the remote sandbox, once.
    pub(super) async fn close_remote(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.remote.destroy().await.map_err(|e| {
            e.with_operation(Operation::Close)
                .with_context("sandbox", self.remote.sandbox_id().to_owned())
        })
    }
}

#[backend_core::async_trait]
impl Backend for SandboxCore {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.execute = true;
        caps.execute_streaming = self.remote.streams_output();
        caps.atomic_edit = true;
        caps.empty_directories = true;
        caps.modified_time = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let op = Operation::Ls;
        let path = VirtualPath::parse_for(path, op)?;
        let run = async {
            self.directory(&path).await?;
            let mut out: Vec<FileInfo> = self
                .remote
                .list_dir(&self.abs(&path))
                .await?
                .iter()
                .filter(|e| !e.name.is_empty() && !e.name.contains('/'))
                .map(|e| Self::info(path.child(&e.name), e))
                .collect();
            out.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
            Ok(out)
        };
        run.await.map_err(|e| self.tag(e, op, &path))
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let op = Operation::Stat;
        let path = VirtualPath::parse_for(path, op)?;
        match self.existing(&path).await {
            Ok(entry) => Ok(Self::info(path, &entry)),
            Err(e) => Err(self.tag(e, op, &path)),
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let op = Operation::ReadBytes;
        let path = VirtualPath::parse_for(path, op)?;
        if path.is_root() {
            return Err(self.tag(Error::is_directory("/"), op, &path));
        }
        let run = async {
            match self.remote.read_file(&self.abs(&path)).await {
                Ok(bytes) => Ok(bytes),
                Err(e) => Err(self.classify(&path, e).await),
            }
        };
        run.await.map_err(|e| self.tag(e, op, &path))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let op = Operation::Write;
        let path = VirtualPath::parse_for(path, op)?;
        self.write_parsed(&path, content)
            .await
            .map_err(|e| self.tag(e, op, &path))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let op = Operation::Edit;
        let vpath = VirtualPath::parse_for(path, op)?;
        let _guard = self.edit_locks.lock(vpath.as_str().to_owned()).await;
        let run = async {
            let bytes = match self.remote.read_file(&self.abs(&vpath)).await {
                Ok(bytes) => bytes,
                Err(e) => return Err(self.classify(&vpath, e).await),
            };
            let text =
                String::from_utf8(bytes).map_err(|_| Error::not_a_text_file(vpath.as_str()))?;
            let (updated, count) =
                backend_core::text::apply_edit(vpath.as_str(), &text, old, new, replace_all)?;
            self.remote
                .write_file(&self.abs(&vpath), updated.into_bytes())
                .await?;
            Ok(EditResult::new(count))
        };
        run.await.map_err(|e| self.tag(e, op, &vpath))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        let path = VirtualPath::parse_for(path, op)?;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        let run = async {
            let entry = self.existing(&path).await?;
            if entry.is_dir && !recursive {
                return Err(Error::new(
                    ErrorKind::IsDirectory,
                    format!(
                        "{path} is a directory; pass recursive=true to delete it and everything in it"
                    ),
                ));
            }
            self.remote.remove(&self.abs(&path)).await
        };
        run.await.map_err(|e| self.tag(e, op, &path))
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let op = Operation::Glob;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(op))?;
        let run = async {
            self.directory(&base).await?;
            let mut files = Vec::new();
            let mut truncated = false;
            for (path, relative, size, modified) in self.files_under(&base).await? {
                if !pattern.matches(&relative) {
                    continue;
                }
                if files.len() == request.limit {
                    truncated = true;
                    break;
                }
                files.push(FileInfo::file(path, size).with_modified(modified));
            }
            Ok(GlobResult::new(files, truncated))
        };
        run.await.map_err(|e| self.tag(e, op, &base))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let op = Operation::Grep;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let matcher = GrepMatcher::new(request).map_err(|e| e.with_operation(op))?;
        let run = async {
            let mut collector = GrepCollector::new(request);
            let entry = self.existing(&base).await?;
            if !entry.is_dir {
                if matcher.wants(base.file_name().unwrap_or_default()) {
                    let bytes = self.remote.read_file(&self.abs(&base)).await?;
                    collector.search(&matcher, &base, &bytes);
                }
                return Ok(collector.finish());
            }
            let wanted: Vec<VirtualPath> = self
                .files_under(&base)
                .await?
                .into_iter()
                .filter(|(_, relative, _, _)| matcher.wants(relative))
                .map(|(path, ..)| path)
                .collect();
            // Fetch a few files at a time, but search them in path order.
            let mut contents = futures::stream::iter(wanted.into_iter().map(|path| async move {
                let bytes = self.remote.read_file(&self.abs(&path)).await;
                (path, bytes)
            }))
            .buffered(8);
            while let Some((path, bytes)) = contents.next().await {
                match bytes {
                    Ok(bytes) => collector.search(&matcher, &path, &bytes),
                    // Deleted between the walk and the read.
                    Err(e) if e.kind() == ErrorKind::FileNotFound => {}
                    Err(e) => return Err(e),
                }
                if collector.is_full() {
                    break;
                }
            }
            Ok(collector.finish())
        };
        run.await.map_err(|e| self.tag(e, op, &base))
    }
}

impl Drop for SandboxCore {
    fn drop(&mut self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        // Dropped without close(): remove it in the background if a runtime
        // is there; otherwise the provider's own lifetime ends it.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let remote = self.remote.clone();
            handle.spawn(async move {
                if let Err(e) = remote.destroy().await {
                    tracing::warn!(sandbox = remote.sandbox_id(), error = %e, "could not remove a dropped sandbox");
                }
            });
        }
    }
}
