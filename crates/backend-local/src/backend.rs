//! `LocalBackend`: its options, constructors and the `Backend` impl.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, Capabilities, EditResult, Error, ErrorKind, FileInfo, GlobPattern, GlobRequest,
    GlobResult, GrepCollector, GrepMatcher, GrepRequest, GrepResult, Operation, Result,
    VirtualPath,
};

use crate::disk::Disk;
use crate::error::join_error;
use crate::overlay::{Change, Overlay};
use crate::root::Root;
use crate::search::WalkOptions;

/// How a [`LocalBackend`] behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LocalOptions {
    /// `fsync` each written file and its directory before returning
    /// (slower; survives power loss). Off by default: writes are atomic
    /// either way.
    pub fsync: bool,
    /// Honour `.gitignore` files at or below the search start (and
    /// `.git/info/exclude`) in `glob` and `grep`. Off by default, as
    /// docs/semantics.md says every file is searched.
    pub git_ignore: bool,
    /// The largest file `read`, `read_bytes`, `edit` and `grep` load
    /// (`too_large` beyond; grep skips it). 256 MiB by default.
    pub max_read_bytes: u64,
    /// Resolve paths with `openat2` when the kernel offers it (the default).
    /// False forces the portable `O_NOFOLLOW` walk, which is otherwise used
    /// only where `openat2` is missing; both confine paths equally.
    pub openat2: bool,
    /// On opening a plain (non-overlay) root, remove the temporary files
    /// (`.backend-local-PID-….tmp`) that writers killed mid-write left
    /// behind, when their process is gone. On by default; it walks the
    /// whole tree once (not `.git`), so a huge root may turn it off. Such
    /// files are never listed, globbed or grepped either way.
    pub sweep_temp_files: bool,
    /// A byte quota: the most the regular files under the root may hold
    /// together. A `write`, `upload` or `edit` (or an overlay's `commit`)
    /// that would take the root past it fails with `quota_exceeded` and
    /// changes nothing; one that does not grow a file always passes. None
    /// (no quota) by default. Each growing write counts the tree afresh
    /// (files changed by commands or other processes count too), so it
    /// suits roots of moderate size. Commands of a `LocalSandbox` are not
    /// held to it (`Rlimits::file_size` bounds them instead).
    pub quota_bytes: Option<u64>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            fsync: false,
            git_ignore: false,
            max_read_bytes: 256 * 1024 * 1024,
            openat2: true,
            sweep_temp_files: true,
            quota_bytes: None,
        }
    }
}

impl LocalOptions {
    /// Sets [`fsync`](Self::fsync).
    pub fn fsync(mut self, yes: bool) -> Self {
        self.fsync = yes;
        self
    }

    /// Sets [`git_ignore`](Self::git_ignore).
    pub fn git_ignore(mut self, yes: bool) -> Self {
        self.git_ignore = yes;
        self
    }

    /// Sets [`openat2`](Self::openat2).
    pub fn openat2(mut self, yes: bool) -> Self {
        self.openat2 = yes;
        self
    }

    /// Sets [`sweep_temp_files`](Self::sweep_temp_files).
    pub fn sweep_temp_files(mut self, yes: bool) -> Self {
        self.sweep_temp_files = yes;
        self
    }

    /// Sets [`quota_bytes`](Self::quota_bytes): at most `bytes` under the root.
    pub fn quota_bytes(mut self, bytes: u64) -> Self {
        self.quota_bytes = Some(bytes);
        self
    }

    /// Sets [`max_read_bytes`](Self::max_read_bytes).
    pub fn max_read_bytes(mut self, bytes: u64) -> Self {
        self.max_read_bytes = bytes;
        self
    }
}

/// An agent's files in a real directory; see the [crate docs](crate).
///
/// Cloning is cheap and shares the directory handle, the edit locks and,
/// in overlay mode, the pending changes.
#[derive(Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub disk: Disk,
    pub options: LocalOptions,
    pub overlay: Option<Overlay>,
    /// A directory this backend made and removes when the last clone goes.
    pub _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend")
            .field("overlay", &self.inner.overlay.is_some())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// A backend over the existing directory `root`.
    pub fn new(root: impl AsRef<Path>) -> Result<LocalBackend> {
        Self::with_options(root, LocalOptions::default())
    }

    /// A backend over `root` whose writes and deletes stay in memory until
    /// [`commit`](Self::commit); the directory is only read until then.
    pub fn overlay(root: impl AsRef<Path>) -> Result<LocalBackend> {
        Self::build(root.as_ref(), LocalOptions::default(), true)
    }

    /// A backend over a new, empty temporary directory that is removed when
    /// the last clone of the backend is dropped (for tests and scratch work).
    pub fn temporary() -> Result<LocalBackend> {
        let scratch = tempfile::Builder::new()
            .prefix("backend-local-")
            .tempdir()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot create a temporary directory: {e}"),
                )
                .with_operation(Operation::Create)
                .with_source(e)
            })?;
        let mut backend = Self::new(scratch.path())?;
        if let Some(inner) = Arc::get_mut(&mut backend.inner) {
            inner._scratch = Some(scratch);
        }
        Ok(backend)
    }

    /// A backend over `root` with `options`.
    pub fn with_options(root: impl AsRef<Path>, options: LocalOptions) -> Result<LocalBackend> {
        Self::build(root.as_ref(), options, false)
    }

    /// An overlay backend over `root` with `options`.
    pub fn overlay_with_options(
        root: impl AsRef<Path>,
        options: LocalOptions,
    ) -> Result<LocalBackend> {
        Self::build(root.as_ref(), options, true)
    }

    fn build(root: &Path, options: LocalOptions, overlay: bool) -> Result<LocalBackend> {
        let opened = Root::open(root, options.openat2).map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::FileNotFound,
                std::io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                _ if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) => {
                    ErrorKind::NotADirectory
                }
                _ => ErrorKind::Unavailable,
            };
            // The root is the developer's configuration, not an agent's
            // path, so the message names it.
            Error::new(
                kind,
                format!("cannot open {} as a backend root: {e}", root.display()),
            )
            .with_operation(Operation::Create)
            .with_source(e)
        })?;
        if options.sweep_temp_files
            && !overlay
            && let Ok(top) = opened
                .locate(&VirtualPath::root(), true, false)
                .and_then(|found| found.open_dir())
        {
            crate::temp::sweep(&top);
        }
        let mut disk = Disk::new(opened, options.fsync, options.max_read_bytes);
        disk.quota = options.quota_bytes.map(crate::quota::Quota::new);
        Ok(LocalBackend {
            inner: Arc::new(Inner {
                disk,
                options,
                overlay: overlay.then(Overlay::default),
                _scratch: None,
            }),
        })
    }

    /// The canonical host directory behind `/`.
    pub fn root_path(&self) -> PathBuf {
        self.inner.disk.root.host_path().to_owned()
    }

    /// Whether this backend keeps changes in memory (overlay mode).
    pub fn is_overlay(&self) -> bool {
        self.inner.overlay.is_some()
    }

    /// Whether paths are resolved with `openat2` (true on Linux 5.6+ unless a
    /// seccomp profile blocks it) rather than the `O_NOFOLLOW` walk.
    pub fn uses_openat2(&self) -> bool {
        self.inner.disk.root.uses_openat2()
    }

    /// The pending changes of an overlay, sorted by path (deletions before
    /// writes of the same path); empty for a plain backend.
    pub fn changes(&self) -> Vec<Change> {
        self.inner
            .overlay
            .as_ref()
            .map(Overlay::changes)
            .unwrap_or_default()
    }

    /// Applies an overlay's pending changes to the directory: deletions
    /// first, then writes (each atomic). Changes applied before an error are
    /// dropped from the overlay, the rest stay pending. A plain backend has
    /// nothing to commit.
    pub async fn commit(&self) -> Result<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || match &inner.overlay {
            Some(overlay) => overlay.commit(&inner.disk),
            None => Ok(()),
        })
        .await
        .map_err(|e| join_error(e, Operation::Write))?
    }

    /// Drops an overlay's pending changes.
    pub fn discard(&self) {
        if let Some(overlay) = &self.inner.overlay {
            overlay.discard();
        }
    }

    /// Runs `work` on the blocking pool (file system calls block).
    async fn blocking<T: Send + 'static>(
        &self,
        operation: Operation,
        work: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| join_error(e, operation))?
    }

    #[cfg(feature = "local-exec")]
    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

impl Inner {
    fn walk_options(&self) -> WalkOptions {
        WalkOptions {
            git_ignore: self.options.git_ignore,
        }
    }

    fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let op = Operation::Glob;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(op))?;
        let mut files = match &self.overlay {
            None => self.disk.glob(&base, &pattern, self.walk_options())?,
            Some(overlay) => overlay.glob(&self.disk, &base, &pattern, self.walk_options())?,
        };
        let truncated = files.len() > request.limit;
        files.truncate(request.limit);
        for file in &mut files {
            crate::name::escape_in_place(&mut file.path);
        }
        Ok(GlobResult::new(files, truncated))
    }

    fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let op = Operation::Grep;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let matcher = GrepMatcher::new(request).map_err(|e| e.with_operation(op))?;
        let found = match &self.overlay {
            None => self
                .disk
                .grep(&base, request, &matcher, self.walk_options(), None)?,
            Some(overlay) => {
                overlay.grep(&self.disk, &base, request, &matcher, self.walk_options())?
            }
        };
        let mut collector = GrepCollector::new(request);
        collector.extend(found);
        let mut result = collector.finish();
        for found in &mut result.matches {
            crate::name::escape_in_place(&mut found.path);
        }
        Ok(result)
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        let overlay = self.is_overlay();
        caps.persistent = !overlay;
        caps.atomic_edit = true;
        caps.empty_directories = !overlay;
        caps.modified_time = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VirtualPath::parse_for(path, Operation::Ls)?;
        self.blocking(Operation::Ls, move |inner| {
            let mut entries = match &inner.overlay {
                None => inner.disk.ls(&path)?,
                Some(overlay) => overlay.ls(&inner.disk, &path)?,
            };
            for entry in &mut entries {
                crate::name::escape_in_place(&mut entry.path);
            }
            Ok(entries)
        })
        .await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = VirtualPath::parse_for(path, Operation::Stat)?;
        self.blocking(Operation::Stat, move |inner| match &inner.overlay {
            None => inner.disk.stat(&path),
            Some(overlay) => overlay.stat(&inner.disk, &path),
        })
        .await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = VirtualPath::parse_for(path, Operation::ReadBytes)?;
        self.blocking(Operation::ReadBytes, move |inner| {
            read_any(inner, &path, Operation::ReadBytes)
        })
        .await
    }

    async fn read(
        &self,
        path: &str,
        offset: usize,
        limit: usize,
    ) -> Result<backend_core::ReadResult> {
        let path = VirtualPath::parse_for(path, Operation::Read)?;
        self.blocking(Operation::Read, move |inner| {
            let bytes = read_any(inner, &path, Operation::Read)?;
            backend_core::text::page(path.as_str(), &bytes, offset, limit)
                .map_err(|e| e.with_operation(Operation::Read))
        })
        .await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Write)?;
        self.blocking(Operation::Write, move |inner| match &inner.overlay {
            None => inner.disk.write(&path, &content),
            Some(overlay) => overlay.write(&inner.disk, &path, content),
        })
        .await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = VirtualPath::parse_for(path, Operation::Edit)?;
        let (old, new) = (old.to_owned(), new.to_owned());
        self.blocking(Operation::Edit, move |inner| {
            let count = match &inner.overlay {
                None => inner.disk.edit(&path, &old, &new, replace_all)?,
                Some(overlay) => overlay.edit(&inner.disk, &path, &old, &new, replace_all)?,
            };
            Ok(EditResult::new(count))
        })
        .await
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Delete)?;
        self.blocking(Operation::Delete, move |inner| match &inner.overlay {
            None => inner.disk.delete(&path, recursive),
            Some(overlay) => overlay.delete(&inner.disk, &path, recursive),
        })
        .await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let request = request.clone();
        self.blocking(Operation::Glob, move |inner| inner.glob(&request))
            .await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let request = request.clone();
        self.blocking(Operation::Grep, move |inner| inner.grep(&request))
            .await
    }
}

fn read_any(inner: &Inner, path: &VirtualPath, op: Operation) -> Result<Vec<u8>> {
    match &inner.overlay {
        None => inner.disk.read_bytes(path, op),
        Some(overlay) => overlay.read_bytes(&inner.disk, path, op),
    }
}
