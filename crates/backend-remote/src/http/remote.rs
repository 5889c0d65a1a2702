//! The provider-neutral half of a remote sandbox: SPEC.md semantics (paths,
//! errors, paging, edit, glob, grep, timeouts, output caps) over the few
//! primitives each provider offers ([`Remote`]).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use backend_core::{
    Capabilities, EditResult, Error, ErrorKind, ExecEvent, ExecRequest, ExecStream, ExitStatus,
    FileInfo, GlobPattern, GlobRequest, GlobResult, GrepCollector, GrepMatcher, GrepRequest,
    GrepResult, Operation, Result, VirtualPath,
};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};

use super::shell;

/// One directory entry as a provider reports it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The name (or, from a walk, the path relative to the walked directory).
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) is_symlink: bool,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// An event of a running command, before caps and deadlines are applied.
#[derive(Debug)]
pub(crate) enum RawEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// The events of a started command.
pub(crate) type RawStream = Pin<Box<dyn Stream<Item = Result<RawEvent>> + Send>>;

/// Kills a started command (best effort; errors are logged).
pub(crate) type Killer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A command the provider has accepted.
pub(crate) struct Running {
    pub(crate) events: RawStream,
    pub(crate) kill: Killer,
}

/// What a provider must offer. Paths are absolute paths inside the sandbox.
#[async_trait::async_trait]
pub(crate) trait Remote: Send + Sync + 'static {
    /// The provider's name, for messages.
    fn provider(&self) -> &'static str;
    /// The sandbox id.
    fn sandbox_id(&self) -> &str;
    /// Whether commands stream their output as it comes.
    fn streams_output(&self) -> bool;
    /// Starts `sh -c line`; `timeout` is the caller's deadline (the caller
    /// also kills at it; providers pass it on where the API takes one).
    async fn start(&self, line: String, timeout: Duration) -> Result<Running>;
    /// A file's bytes; `file_not_found` when missing.
    async fn read_file(&self, abs: &str) -> Result<Vec<u8>>;
    /// Creates or replaces a file.
    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()>;
    /// Facts about a path; `None` when nothing is there.
    async fn stat(&self, abs: &str) -> Result<Option<Entry>>;
    /// The direct children of a directory.
    async fn list_dir(&self, abs: &str) -> Result<Vec<Entry>>;
    /// Creates a directory and its parents.
    async fn make_dir(&self, abs: &str) -> Result<()>;
    /// Removes a file or a whole directory tree.
    async fn remove(&self, abs: &str) -> Result<()>;
    /// Removes the sandbox itself; already gone counts as done.
    async fn destroy(&self) -> Result<()>;
}

/// A sandbox built on a [`Remote`]; the public provider types wrap it.
pub(crate) struct RemoteSandbox {
    remote: Arc<dyn Remote>,
    /// The directory inside the sandbox where the virtual `/` lives.
    root: String,
    edit_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for RemoteSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSandbox")
            .field("provider", &self.remote.provider())
            .field("id", &self.remote.sandbox_id())
            .field("root", &self.root)
            .finish()
    }
}

fn parse(path: &str, op: Operation) -> Result<VirtualPath> {
    VirtualPath::parse(path).map_err(|e| e.with_operation(op))
}

impl RemoteSandbox {
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
        Ok(RemoteSandbox {
            remote,
            root,
            edit_locks: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// The sandbox id.
    pub(crate) fn id(&self) -> &str {
        self.remote.sandbox_id()
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub(crate) fn root_dir(&self) -> &str {
        &self.root
    }

    fn abs(&self, path: &VirtualPath) -> String {
        if path.is_root() {
            self.root.clone()
        } else if self.root == "/" {
            path.as_str().to_owned()
        } else {
            format!("{}{}", self.root, path.as_str())
        }
    }

    fn tag(&self, e: Error, op: Operation, path: &VirtualPath) -> Error {
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
    async fn directory(&self, path: &VirtualPath) -> Result<()> {
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
        let entries = shell::walk(self.remote.as_ref(), &self.abs(base)).await?;
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

    pub(crate) fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.execute = true;
        caps.execute_streaming = self.remote.streams_output();
        caps.atomic_edit = true;
        caps.empty_directories = true;
        caps.modified_time = true;
        caps
    }

    pub(crate) async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let op = Operation::Ls;
        let path = parse(path, op)?;
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

    pub(crate) async fn stat(&self, path: &str) -> Result<FileInfo> {
        let op = Operation::Stat;
        let path = parse(path, op)?;
        match self.existing(&path).await {
            Ok(entry) => Ok(Self::info(path, &entry)),
            Err(e) => Err(self.tag(e, op, &path)),
        }
    }

    pub(crate) async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let op = Operation::ReadBytes;
        let path = parse(path, op)?;
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

    /// Turns a provider's failure on `path` into the SPEC kind when the
    /// path's state explains it (missing, a directory, under a file).
    async fn classify(&self, path: &VirtualPath, error: Error) -> Error {
        match self.stat_opt(path).await {
            Ok(None) => self.missing(path).await,
            Ok(Some(entry)) if entry.is_dir => Error::is_directory(path.as_str()),
            Err(e) if e.kind() == ErrorKind::NotADirectory => e,
            _ => error,
        }
    }

    pub(crate) async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let op = Operation::Write;
        let path = parse(path, op)?;
        self.write_parsed(&path, content)
            .await
            .map_err(|e| self.tag(e, op, &path))
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

    pub(crate) async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let op = Operation::Edit;
        let vpath = parse(path, op)?;
        let lock = {
            let mut locks = self.edit_locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(vpath.as_str().to_owned()).or_default().clone()
        };
        let _guard = lock.lock().await;
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

    pub(crate) async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        let path = parse(path, op)?;
        if path.is_root() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "the root directory / cannot be deleted; delete the entries inside it instead",
            )
            .with_path("/")
            .with_operation(op));
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

    pub(crate) async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let op = Operation::Glob;
        let base = parse(&request.path, op)?;
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

    pub(crate) async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let op = Operation::Grep;
        let base = parse(&request.path, op)?;
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

    pub(crate) async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        let op = Operation::Execute;
        request.validate().map_err(|e| e.with_operation(op))?;
        let cwd = match &request.workdir {
            None => self.root.clone(),
            Some(dir) => {
                let dir = parse(dir, op)?;
                self.directory(&dir)
                    .await
                    .map_err(|e| self.tag(e, op, &dir))?;
                self.abs(&dir)
            }
        };
        let line = shell::command_line(
            &request.command,
            &cwd,
            &request.env,
            request.stdin.as_deref(),
        )
        .map_err(|e| e.with_operation(op))?;
        // Providers that report output only at the end, as text, would lose
        // non-UTF-8 bytes and everything printed before a timeout kill: send
        // the output to files beside the work directory and fetch them.
        let capture = (!self.remote.streams_output()).then(|| {
            let dir = match self.root.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => parent.to_owned(),
                _ => "/tmp".to_owned(),
            };
            let tag = uuid::Uuid::new_v4().simple().to_string();
            Capture {
                remote: self.remote.clone(),
                out: format!("{dir}/.backend-remote-{tag}.out"),
                err: format!("{dir}/.backend-remote-{tag}.err"),
            }
        });
        let line = match &capture {
            Some(c) => format!(
                "{{ {line} ; }} > {} 2> {}",
                shell::quote(&c.out),
                shell::quote(&c.err)
            ),
            None => line,
        };
        let started = Instant::now();
        let running = self
            .remote
            .start(line, request.timeout)
            .await
            .map_err(|e| {
                e.or_operation(op)
                    .with_context("sandbox", self.id().to_owned())
            })?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(pump(
            running,
            capture,
            request.timeout,
            request.output_limit,
            started,
            tx,
        ));
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        })))
    }

    pub(crate) async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.remote.destroy().await.map_err(|e| {
            e.with_operation(Operation::Close)
                .with_context("sandbox", self.id().to_owned())
        })
    }
}

impl Drop for RemoteSandbox {
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

/// Forwards a command's events with the output caps and the deadline
/// applied; kills the command at the deadline or when the reader goes away.
async fn pump(
    running: Running,
    capture: Option<Capture>,
    timeout: Duration,
    limit: usize,
    started: Instant,
    tx: tokio::sync::mpsc::Sender<Result<ExecEvent>>,
) {
    let Running { mut events, kill } = running;
    let mut kill = Some(kill);
    // Measured from before the start call, which may itself take time.
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let (mut sent_out, mut sent_err) = (0usize, 0usize);
    let (mut cut_out, mut cut_err) = (false, false);
    let kill_now = |kill: &mut Option<Killer>| {
        let k = kill.take();
        async move {
            if let Some(k) = k {
                // Bounded, so the caller gets its result within a second.
                let _ = tokio::time::timeout(Duration::from_millis(800), k()).await;
            }
        }
    };
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            () = tokio::time::sleep_until(deadline) => {
                kill_now(&mut kill).await;
                if let Some(capture) = &capture {
                    let (out, err) = capture.fetch(limit).await;
                    (cut_out, cut_err) = (out.1, err.1);
                    if !send_output(&tx, out.0, err.0).await {
                        return;
                    }
                }
                let status = ExitStatus::signaled(9, started.elapsed())
                    .with_timed_out(true)
                    .with_truncation(cut_out, cut_err);
                let _ = tx.send(Ok(ExecEvent::Exit(status))).await;
                return;
            }
        };
        let event = match next {
            Some(Ok(RawEvent::Stdout(chunk))) => {
                let fresh = capped(chunk, &mut sent_out, limit, &mut cut_out);
                if fresh.is_empty() {
                    continue;
                }
                Ok(ExecEvent::Stdout(fresh))
            }
            Some(Ok(RawEvent::Stderr(chunk))) => {
                let fresh = capped(chunk, &mut sent_err, limit, &mut cut_err);
                if fresh.is_empty() {
                    continue;
                }
                Ok(ExecEvent::Stderr(fresh))
            }
            Some(Ok(RawEvent::Exit { code, signal })) => {
                let elapsed = started.elapsed();
                if let Some(capture) = &capture {
                    let (out, err) = capture.fetch(limit).await;
                    (cut_out, cut_err) = (out.1, err.1);
                    if !send_output(&tx, out.0, err.0).await {
                        return;
                    }
                }
                let status = match (code, signal) {
                    (_, Some(sig)) => ExitStatus::signaled(sig, elapsed),
                    (Some(code), None) => ExitStatus::exited(code, elapsed),
                    (None, None) => ExitStatus::exited(-1, elapsed),
                };
                let _ = tx
                    .send(Ok(ExecEvent::Exit(
                        status.with_truncation(cut_out, cut_err),
                    )))
                    .await;
                return;
            }
            Some(Err(e)) => {
                kill_now(&mut kill).await;
                let _ = tx.send(Err(e.or_operation(Operation::Execute))).await;
                return;
            }
            None => {
                kill_now(&mut kill).await;
                let e = Error::new(
                    ErrorKind::Unavailable,
                    "the connection to the sandbox ended before the command's exit status arrived",
                )
                .with_operation(Operation::Execute)
                .with_retryable(true);
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        if tx.send(event).await.is_err() {
            kill_now(&mut kill).await;
            return;
        }
    }
}

/// The part of `chunk` that fits under `limit` given `sent` bytes already
/// passed on; sets `cut` when some is dropped. Nothing is buffered.
fn capped(mut chunk: Vec<u8>, sent: &mut usize, limit: usize, cut: &mut bool) -> Vec<u8> {
    let room = limit.saturating_sub(*sent);
    if chunk.len() > room {
        chunk.truncate(room);
        *cut = true;
    }
    *sent += chunk.len();
    chunk
}

/// Where a non-streaming provider's command writes its output.
struct Capture {
    remote: Arc<dyn Remote>,
    out: String,
    err: String,
}

impl Capture {
    /// Reads both files (capped at `limit`, with whether bytes were cut) and
    /// removes them in the background.
    async fn fetch(&self, limit: usize) -> ((Vec<u8>, bool), (Vec<u8>, bool)) {
        let (out, err) = futures::join!(
            self.remote.read_file(&self.out),
            self.remote.read_file(&self.err)
        );
        let cap = |bytes: Result<Vec<u8>>| {
            let mut bytes = bytes.unwrap_or_default();
            let cut = bytes.len() > limit;
            bytes.truncate(limit);
            (bytes, cut)
        };
        let (remote, paths) = (self.remote.clone(), [self.out.clone(), self.err.clone()]);
        tokio::spawn(async move {
            for path in paths {
                if let Err(e) = remote.remove(&path).await {
                    tracing::debug!(error = %e, path, "could not remove a command's output file");
                }
            }
        });
        (cap(out), cap(err))
    }
}

/// Sends captured output as events; `false` when the reader is gone.
async fn send_output(
    tx: &tokio::sync::mpsc::Sender<Result<ExecEvent>>,
    out: Vec<u8>,
    err: Vec<u8>,
) -> bool {
    if !out.is_empty() && tx.send(Ok(ExecEvent::Stdout(out))).await.is_err() {
        return false;
    }
    if !err.is_empty() && tx.send(Ok(ExecEvent::Stderr(err))).await.is_err() {
        return false;
    }
    true
}
