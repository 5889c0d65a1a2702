//! A backend that routes paths to other backends by prefix.
//!
//! [`CompositeBackend`] holds a default backend and routes such as
//! `/memories/ → a persistent store`. Each path is normalised, then the
//! longest route prefix that contains it on segment boundaries wins
//! (`/memories/` takes `/memories` and `/memories/x`, never `/memoriesx`);
//! everything else goes to the default backend. A routed backend sees the
//! path with its prefix replaced by `/`, and every path it returns (entries,
//! matches, errors) is mapped back. Mount points show up as directories in
//! listings at every level above them. `glob` and `grep` over a directory
//! that spans routes ask each backend concurrently and merge the results in
//! path order under one limit. Commands go to the default backend when it is
//! a sandbox.
//!
//! # Example
//! ```
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! # block_on(async {
//! use std::sync::Arc;
//! use backend_composite::CompositeBackend;
//! use backend_core::{Backend, BackendExt};
//! use backend_state::StateBackend;
//!
//! let memories = Arc::new(StateBackend::new());
//! let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
//!     .route("/memories/", memories.clone())
//!     .build()?;
//! composite.write_str("/memories/user.md", "likes tea\n").await?;
//! assert_eq!(memories.read_to_string("/user.md").await?, "likes tea\n");
//! let root: Vec<String> = composite.ls("/").await?.iter().map(|e| e.name().to_owned()).collect();
//! assert_eq!(root, ["memories"]);
//! # Ok::<(), backend_core::Error>(())
//! # });
//! ```

mod batch;
mod no_commands;
mod route;
mod search;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, BackendHandle, Capabilities, DownloadResult, EditResult, Error, ErrorKind, ExecOutput,
    ExecRequest, ExecStream, FileInfo, FileUpload, ForwardSandbox, GlobRequest, GlobResult,
    GrepRequest, GrepResult, Operation, ReadResult, Result, Sandbox, UploadResult, VirtualPath,
};

use crate::no_commands::{NoCommands, no_sandbox};
use crate::route::{Owner, RouteEntry, RouteTable, mount_is_directory, mount_not_deletable};

/// A default backend plus backends mounted at path prefixes. See the
/// [crate docs](crate).
///
/// It implements [`Sandbox`] too: commands run in the default backend when
/// it was given as a sandbox ([`CompositeBackend::builder_with_sandbox`]),
/// and are `unsupported` otherwise. A command sees only the default
/// backend's files, not the routes'.
pub struct CompositeBackend {
    default: Arc<dyn Backend>,
    /// The default sandbox, or a stand-in that refuses commands.
    sandbox: Arc<dyn Sandbox>,
    runs_commands: bool,
    table: RouteTable,
}

/// Collects the default backend and the routes of a [`CompositeBackend`];
/// [`build`](Self::build) checks them.
pub struct CompositeBuilder {
    default: BackendHandle,
    routes: Vec<RouteEntry>,
}

impl CompositeBuilder {
    /// Mounts `backend` at `prefix` (such as `/memories/`; the trailing `/`
    /// is optional and the prefix is normalised).
    pub fn route(mut self, prefix: impl Into<String>, backend: Arc<dyn Backend>) -> Self {
        self.routes.push(RouteEntry {
            prefix: prefix.into(),
            handle: BackendHandle::from_backend(backend),
        });
        self
    }

    /// Mounts a sandbox's files at `prefix`; [`Sandbox::close`] on the
    /// composite closes it too. Its commands are not reachable through the
    /// composite.
    pub fn sandbox_route(mut self, prefix: impl Into<String>, sandbox: Arc<dyn Sandbox>) -> Self {
        self.routes.push(RouteEntry {
            prefix: prefix.into(),
            handle: BackendHandle::from_sandbox(sandbox),
        });
        self
    }

    /// Checks the routes and builds the composite: `invalid_argument` for a
    /// prefix that is not a valid path, is `/`, or is given twice once
    /// normalised (`/memories` and `/memories/` are the same).
    pub fn build(self) -> Result<CompositeBackend> {
        let table =
            RouteTable::new(self.routes).map_err(|e| e.with_operation(Operation::Create))?;
        let (default, sandbox) = self.default.into_parts();
        let runs_commands = sandbox.is_some();
        let sandbox = match sandbox {
            Some(sandbox) => sandbox,
            None => Arc::new(NoCommands::new(default.clone())),
        };
        Ok(CompositeBackend {
            default,
            sandbox,
            runs_commands,
            table,
        })
    }
}

impl CompositeBackend {
    /// Starts a composite whose unrouted paths go to `default`; it cannot run
    /// commands.
    pub fn builder(default: Arc<dyn Backend>) -> CompositeBuilder {
        CompositeBuilder {
            default: BackendHandle::from_backend(default),
            routes: Vec::new(),
        }
    }

    /// Starts a composite whose unrouted paths and commands go to the
    /// sandbox `default`.
    pub fn builder_with_sandbox(default: Arc<dyn Sandbox>) -> CompositeBuilder {
        CompositeBuilder {
            default: BackendHandle::from_sandbox(default),
            routes: Vec::new(),
        }
    }

    /// The route prefixes (such as `/memories/`), deepest first.
    pub fn route_prefixes(&self) -> impl Iterator<Item = &str> + '_ {
        self.table.routes.iter().map(|r| r.label.as_str())
    }

    /// The default backend.
    pub fn default_backend(&self) -> &Arc<dyn Backend> {
        &self.default
    }

    /// The backend an owner stands for.
    fn backend(&self, owner: Owner) -> &Arc<dyn Backend> {
        self.table.backend(owner).unwrap_or(&self.default)
    }

    /// Parses `path` and finds its owner and the path the owner sees.
    fn locate(&self, path: &str, op: Operation) -> Result<Located> {
        let outer = VirtualPath::parse_for(path, op)?;
        let (owner, inner_start) = self.table.locate(&outer);
        Ok(Located {
            outer,
            owner,
            inner_start,
        })
    }

    /// Maps an owner's error back and fills in the operation.
    fn outer_error(&self, owner: Owner, op: Operation) -> impl Fn(Error) -> Error + '_ {
        move |e| self.table.outer_error(owner, e).or_operation(op)
    }

    /// Refuses file operations on a path that is a directory because of a
    /// mount at or below it.
    fn refuse_mount(&self, path: &VirtualPath, op: Operation) -> Result<()> {
        match self.table.mounted_at_or_below(path) {
            Some(route) => Err(mount_is_directory(path, route).with_operation(op)),
            None => Ok(()),
        }
    }

    /// Checks that the default sandbox can run `request`: a command sees
    /// only the default backend's files, so a working directory inside a
    /// route would silently be another directory.
    fn check_command(&self, request: &ExecRequest) -> Result<()> {
        if !self.runs_commands {
            return Err(no_sandbox());
        }
        if let Some(dir) = &request.workdir
            && let Ok(dir) = VirtualPath::parse(dir)
            && let Owner::Route(i) = self.table.owner_of(&dir)
        {
            let route = &self.table.routes[i];
            return Err(Error::invalid_argument(format!(
                "commands cannot run in {dir}: it is inside the route {}, whose files commands do not see; run them under a directory of the default backend",
                route.label
            ))
            .with_path(dir.as_str())
            .with_context("route", route.label.clone())
            .with_operation(Operation::Execute));
        }
        Ok(())
    }
}

/// A parsed path, its owner, and where in it the owner's view starts.
struct Located {
    outer: VirtualPath,
    owner: Owner,
    inner_start: usize,
}

impl Located {
    /// The path as the owner sees it: a suffix of the composite's path (no
    /// copy), or `/` for a mount point itself.
    fn inner(&self) -> &str {
        self.outer
            .as_str()
            .get(self.inner_start..)
            .filter(|s| !s.is_empty())
            .unwrap_or("/")
    }
}

impl fmt::Debug for CompositeBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompositeBackend")
            .field("id", &self.sandbox.id())
            .field("routes", &self.route_prefixes().collect::<Vec<_>>())
            .field("default_is_sandbox", &self.runs_commands)
            .finish()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Backend for CompositeBackend {
    fn capabilities(&self) -> Capabilities {
        // A promise holds for the composite only when every backend keeps it.
        let mut caps = self.default.capabilities();
        for route in &self.table.routes {
            let theirs = route.handle.backend().capabilities();
            caps.persistent &= theirs.persistent;
            caps.atomic_edit &= theirs.atomic_edit;
            caps.empty_directories &= theirs.empty_directories;
            caps.modified_time &= theirs.modified_time;
        }
        caps.snapshot = false;
        if !self.runs_commands {
            caps.execute = false;
            caps.execute_streaming = false;
        }
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let located = self.locate(path, Operation::Ls)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        let mounted = self.table.virtual_children(outer);
        let listed = match self.backend(owner).ls(inner).await {
            Ok(entries) => entries,
            Err(e)
                if !mounted.is_empty()
                    && matches!(e.kind(), ErrorKind::FileNotFound | ErrorKind::NotADirectory) =>
            {
                Vec::new()
            }
            Err(e) => return Err(self.outer_error(owner, Operation::Ls)(e)),
        };
        let mut entries: Vec<FileInfo> = listed
            .into_iter()
            .map(|info| self.table.outer_info(owner, info))
            // A mount hides whatever its parent's owner holds at that name,
            // unless it is a directory already.
            .filter(|info| info.is_dir || !mounted.contains(info.name()))
            .collect();
        for name in &mounted {
            if !entries.iter().any(|e| e.name() == name) {
                entries.push(FileInfo::dir(outer.child(name)));
            }
        }
        entries.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(entries)
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let located = self.locate(path, Operation::Stat)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        let found = self.backend(owner).stat(inner).await;
        if self.table.mounted_at_or_below(outer).is_some() {
            // A mount point, or a directory because one is below it.
            return Ok(match found {
                Ok(info) if info.is_dir => self.table.outer_info(owner, info),
                _ => FileInfo::dir(outer.clone()),
            });
        }
        found
            .map(|info| self.table.outer_info(owner, info))
            .map_err(self.outer_error(owner, Operation::Stat))
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let located = self.locate(path, Operation::ReadBytes)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        self.refuse_mount(outer, Operation::ReadBytes)?;
        self.backend(owner)
            .read_bytes(inner)
            .await
            .map_err(self.outer_error(owner, Operation::ReadBytes))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let located = self.locate(path, Operation::Write)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        self.refuse_mount(outer, Operation::Write)?;
        self.backend(owner)
            .write(inner, content)
            .await
            .map_err(self.outer_error(owner, Operation::Write))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let located = self.locate(path, Operation::Edit)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        self.refuse_mount(outer, Operation::Edit)?;
        self.backend(owner)
            .edit(inner, old, new, replace_all)
            .await
            .map_err(self.outer_error(owner, Operation::Edit))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let located = self.locate(path, Operation::Delete)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        if let Some(route) = self.table.mounted_at_or_below(outer) {
            return Err(mount_not_deletable(outer, route).with_operation(Operation::Delete));
        }
        self.backend(owner)
            .delete(inner, recursive)
            .await
            .map_err(self.outer_error(owner, Operation::Delete))
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        search::glob(self, request).await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        search::grep(self, request).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let located = self.locate(path, Operation::Read)?;
        let (outer, owner, inner) = (&located.outer, located.owner, located.inner());
        self.refuse_mount(outer, Operation::Read)?;
        self.backend(owner)
            .read(inner, offset, limit)
            .await
            .map_err(self.outer_error(owner, Operation::Read))
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        batch::upload(self, files).await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        batch::download(self, paths).await
    }
}

/// Commands go to the default sandbox once their working directory is
/// checked; the id is the default sandbox's, or `composite` when there is
/// none.
#[async_trait]
impl ForwardSandbox for CompositeBackend {
    type InnerSandbox = dyn Sandbox;

    fn inner_sandbox(&self) -> &Self::InnerSandbox {
        &*self.sandbox
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.check_command(&request)?;
        self.sandbox.execute_stream(request).await
    }

    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        self.check_command(&request)?;
        self.sandbox.execute(request).await
    }

    /// Closes the default sandbox and every route given as a sandbox, all of
    /// them even when one fails; the first failure is returned.
    async fn close(&self) -> Result<()> {
        let default = std::iter::once((Owner::Default, &self.sandbox));
        let routes = self
            .table
            .routes
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.handle.sandbox().map(|s| (Owner::Route(i), s)));
        let closing = default.chain(routes).map(|(owner, sandbox)| async move {
            sandbox
                .close()
                .await
                .map_err(self.outer_error(owner, Operation::Close))
        });
        futures::future::join_all(closing)
            .await
            .into_iter()
            .collect::<Result<Vec<()>>>()
            .map(|_| ())
    }
}
