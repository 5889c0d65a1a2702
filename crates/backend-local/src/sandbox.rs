//! `LocalSandbox`: command execution as docs/semantics.md describes it, on
//! the host, in the root directory.
//!
//! **This is not isolation.** The command runs as the host user with the
//! host's file system and network; the root directory is only its working
//! directory. It is meant for trusted code and development. For untrusted
//! code use the Docker backend (`backend-docker`), which adds namespaces,
//! resource limits and a read-only image.
//!
//! What it does do: each command runs under its own supervisor (a child
//! subreaper, see `supervisor.rs`) in a new session, with a parent-death
//! signal (`SIGKILL` when the spawning thread dies), a cleared environment
//! with a short allow-list, stdin closed unless given, byte caps on stdout
//! and stderr (the rest is read and dropped). Every process the command
//! started, including `setsid`, `nohup … &`, double-forked and
//! `SIGTERM`-ignoring ones, is killed at the timeout, when the command's
//! shell exits, when the stream is dropped, and when the sandbox is closed
//! or dropped; a kill that fails ends the call with an error. Optional
//! rlimits bound address space, file size and CPU time.

use std::collections::{BTreeMap, HashSet};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backend_core::exec::collect_output;
use backend_core::{
    Backend, Capabilities, Error, ErrorKind, ExecEvent, ExecOutput, ExecRequest, ExecStream,
    ExitStatus, ForwardBackend, Operation, OutputBudget, Result, Sandbox, VirtualPath,
};
use rustix::process::{Resource, Rlimit, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::LocalBackend;
use crate::error::fail_error;
use crate::supervisor::{
    fork_supervisor, kill_descendants, kill_supervisor, read_status, status_pipe,
};

/// `PATH` given to commands unless [`SandboxOptions::path`] says otherwise.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long readers may keep draining after the shell is gone, when the
/// command exited on its own (after a timeout the bound is shorter, so the
/// call ends within a second of the deadline).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(500);
const DRAIN_AFTER_TIMEOUT: Duration = Duration::from_millis(200);
const CHUNK: usize = 16 * 1024;

/// Resource limits applied to each command (`setrlimit` in the child).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rlimits {
    /// `RLIMIT_AS`: bytes of virtual memory.
    pub address_space: Option<u64>,
    /// `RLIMIT_FSIZE`: the largest file a command may write, in bytes.
    pub file_size: Option<u64>,
    /// `RLIMIT_CPU`: seconds of CPU time.
    pub cpu_seconds: Option<u64>,
}

impl Rlimits {
    /// Sets the address-space limit.
    pub fn address_space(mut self, bytes: u64) -> Self {
        self.address_space = Some(bytes);
        self
    }

    /// Sets the file-size limit.
    pub fn file_size(mut self, bytes: u64) -> Self {
        self.file_size = Some(bytes);
        self
    }

    /// Sets the CPU-time limit.
    pub fn cpu_seconds(mut self, seconds: u64) -> Self {
        self.cpu_seconds = Some(seconds);
        self
    }
}

/// How a [`LocalSandbox`] runs commands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SandboxOptions {
    /// The `PATH` commands see; [`DEFAULT_PATH`] by default.
    pub path: String,
    /// Names of host variables passed through (none by default; the
    /// environment is otherwise cleared so that no host secret leaks).
    pub inherit_env: Vec<String>,
    /// Variables every command gets (a request's own `env` wins).
    pub env: BTreeMap<String, String>,
    /// Resource limits.
    pub rlimits: Rlimits,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            path: DEFAULT_PATH.to_owned(),
            inherit_env: Vec::new(),
            env: BTreeMap::new(),
            rlimits: Rlimits::default(),
        }
    }
}

impl SandboxOptions {
    /// Passes the host variable `name` through.
    pub fn inherit(mut self, name: impl Into<String>) -> Self {
        self.inherit_env.push(name.into());
        self
    }

    /// Sets a variable for every command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the resource limits.
    pub fn rlimits(mut self, rlimits: Rlimits) -> Self {
        self.rlimits = rlimits;
        self
    }

    /// Sets `PATH`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
}

/// A [`LocalBackend`] that also runs commands on the host, in its root.
///
/// **This is not isolation**: commands run as the host user, with the
/// host's file system and network; the root is only their working
/// directory. Use it for trusted code and development, and the Docker
/// backend (`backend-docker`) for anything untrusted.
///
/// Each command runs as `sh -c` under its own supervisor process, a child
/// subreaper in a new session, with a parent-death signal, a cleared
/// environment (`PATH`, `HOME` = the root, `LANG`, then [`SandboxOptions`]
/// and the request's variables), stdin closed unless given, and
/// stdout/stderr capped (the rest is read and dropped). Every process it
/// started (daemonised, `setsid` and `SIGTERM`-ignoring ones included) is
/// killed at the timeout (the call returns within a second of it), when its
/// shell exits, when the event stream is dropped, and on
/// [`close`](Sandbox::close) or drop. A kill that fails (a descendant that
/// changed user, `/proc` unreadable, a supervisor the command killed) ends
/// the call with an `internal` error rather than a silent survivor.
pub struct LocalSandbox {
    backend: LocalBackend,
    id: String,
    options: SandboxOptions,
    groups: Arc<Groups>,
}

/// The supervisors of running commands, whose processes are killed on
/// close and drop.
#[derive(Default)]
struct Groups {
    live: Mutex<HashSet<i32>>,
    closed: AtomicBool,
}

impl Groups {
    /// Kills every command's processes; the first failure is returned.
    fn kill_all(&self) -> std::result::Result<(), String> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let mut outcome = Ok(());
        for supervisor in live.iter() {
            let killed = kill_descendants(*supervisor);
            if outcome.is_ok() {
                outcome = killed;
            }
        }
        outcome
    }
}

/// The error a failed kill ends a call with.
fn kill_error(message: String, operation: Operation) -> Error {
    Error::internal(message).with_operation(operation)
}

impl std::fmt::Debug for LocalSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSandbox")
            .field("id", &self.id)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LocalSandbox {
    /// A sandbox over the existing directory `root`, with default options.
    pub fn new(root: impl AsRef<Path>) -> Result<LocalSandbox> {
        Self::with_backend(LocalBackend::new(root)?, SandboxOptions::default())
    }

    /// A sandbox over a new temporary directory, removed when the sandbox
    /// (and every clone of its backend) is dropped.
    pub fn temporary() -> Result<LocalSandbox> {
        Self::with_backend(LocalBackend::temporary()?, SandboxOptions::default())
    }

    /// A sandbox running commands in `backend`'s root. An overlay backend is
    /// refused: commands would not see its pending changes.
    pub fn with_backend(backend: LocalBackend, options: SandboxOptions) -> Result<LocalSandbox> {
        if backend.is_overlay() {
            return Err(Error::invalid_argument(
                "a LocalSandbox cannot run over an overlay backend: commands would not see its pending changes; commit first or use a plain backend",
            )
            .with_operation(Operation::Create));
        }
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = format!(
            "local-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Ok(LocalSandbox {
            backend,
            id,
            options,
            groups: Arc::default(),
        })
    }

    /// The file backend behind this sandbox.
    pub fn backend(&self) -> &LocalBackend {
        &self.backend
    }

    fn environment(&self, request: &ExecRequest) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        env.insert("PATH".to_owned(), self.options.path.clone());
        env.insert(
            "HOME".to_owned(),
            self.backend.root_path().to_string_lossy().into_owned(),
        );
        env.insert("LANG".to_owned(), "C.UTF-8".to_owned());
        for name in &self.options.inherit_env {
            if let Ok(value) = std::env::var(name) {
                env.insert(name.clone(), value);
            }
        }
        env.extend(self.options.env.clone());
        env.extend(request.env.clone());
        env
    }

    /// Spawns the command; see the module docs for what the child gets.
    fn spawn(&self, request: &ExecRequest) -> Result<(tokio::process::Child, pipe::Receiver)> {
        let op = Operation::Execute;
        let workdir = match &request.workdir {
            Some(dir) => VirtualPath::parse_for(dir, op)?,
            None => VirtualPath::root(),
        };
        let disk = &self.backend.inner().disk;
        let found = disk
            .root
            .locate(&workdir, true, false)
            .map_err(|f| fail_error(f, workdir.as_str(), op))?;
        match &found.stat {
            None => return Err(Error::file_not_found(workdir.as_str()).with_operation(op)),
            Some(st) if crate::disk::kind_of(st) != rustix::fs::FileType::Directory => {
                return Err(Error::not_a_directory(workdir.as_str()).with_operation(op));
            }
            Some(_) => {}
        }
        // The child enters the directory through this descriptor, so a
        // symlink swapped in after the check cannot move it elsewhere.
        let dir = found
            .open_dir()
            .map_err(|f| fail_error(f, workdir.as_str(), op))?;
        let dir_raw = dir.as_raw_fd();
        let (status_read, status_write) = status_pipe(op)?;
        let status_raw = status_write.as_raw_fd();
        let parent = rustix::process::getpid();
        let limits = self.options.rlimits;

        let mut command = tokio::process::Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(&request.command)
            .env_clear()
            .envs(self.environment(request))
            .stdin(if request.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and only
        // makes raw system calls (no allocation, no locks), which is what
        // `pre_exec` requires. `dir_raw` and `status_raw` stay open in the
        // parent until `spawn` returns, so the child's copies are valid.
        unsafe {
            command.pre_exec(move || {
                rustix::process::setsid()?;
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                // The parent may have died before the signal was armed.
                if rustix::process::getppid() != Some(parent) {
                    return Err(rustix::io::Errno::SRCH.into());
                }
                // From here on this is the command; its parent supervises.
                fork_supervisor(status_raw)?;
                rustix::process::fchdir(BorrowedFd::borrow_raw(dir_raw))?;
                apply_rlimits(limits)?;
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("could not start /bin/sh: {e}"),
            )
            .with_operation(op)
            .with_source(e)
        })?;
        drop(dir);
        drop(status_write);
        Ok((child, status_read))
    }
}

fn apply_rlimits(limits: Rlimits) -> std::io::Result<()> {
    let set = |resource, value: Option<u64>| -> std::io::Result<()> {
        if let Some(v) = value {
            rustix::process::setrlimit(
                resource,
                Rlimit {
                    current: Some(v),
                    maximum: Some(v),
                },
            )?;
        }
        Ok(())
    };
    set(Resource::As, limits.address_space)?;
    set(Resource::Fsize, limits.file_size)?;
    set(Resource::Cpu, limits.cpu_seconds)?;
    Ok(())
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        // Nobody is left to tell; the commands' calls report it themselves.
        let _ = self.groups.kill_all();
    }
}

/// Kills a command's processes and its supervisor if its driver ends early
/// (cancelled or panicking), and unregisters it.
struct GroupGuard {
    supervisor: i32,
    /// Set once the supervisor is reaped: its pid may then be reused.
    reaped: bool,
    groups: Arc<Groups>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        let mut live = self.groups.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&self.supervisor);
        if !self.reaped {
            let _ = kill_descendants(self.supervisor);
            kill_supervisor(self.supervisor);
        }
    }
}

/// Kills every process the command started, off the async threads (it may
/// take a few rounds).
async fn end_tree(supervisor: i32) -> Result<()> {
    let killed = tokio::task::spawn_blocking(move || kill_descendants(supervisor))
        .await
        .unwrap_or_else(|e| Err(format!("the kill task failed: {e}")));
    killed.map_err(|m| kill_error(m, Operation::Execute))
}

type Events = mpsc::Sender<Result<ExecEvent>>;

/// Reads one stream to its end, forwarding up to `limit` bytes as events
/// and dropping the rest; returns whether anything was dropped.
async fn pump(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    tx: Events,
    limit: usize,
    wrap: fn(Vec<u8>) -> ExecEvent,
) -> bool {
    let mut buf = vec![0u8; CHUNK];
    let mut budget = OutputBudget::new(limit);
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return budget.truncated(),
            Ok(n) => n,
        };
        let kept = budget.take(&buf[..n]);
        if !kept.is_empty() {
            // A closed receiver means nobody listens; keep draining so the
            // command never blocks on a full pipe.
            let _ = tx.send(Ok(wrap(kept.to_vec()))).await;
        }
    }
}

async fn drive(
    mut child: tokio::process::Child,
    mut status: pipe::Receiver,
    request: ExecRequest,
    tx: Events,
    mut guard: GroupGuard,
) {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + request.timeout;
    let limit = request.output_limit;
    let supervisor = guard.supervisor;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out_task = stdout.map(|r| tokio::spawn(pump(r, tx.clone(), limit, ExecEvent::Stdout)));
    let err_task = stderr.map(|r| tokio::spawn(pump(r, tx.clone(), limit, ExecEvent::Stderr)));
    if let (Some(mut stdin), Some(bytes)) = (child.stdin.take(), request.stdin) {
        tokio::spawn(async move {
            // A command that does not read its input is not an error.
            let _ = stdin.write_all(&bytes).await;
            let _ = stdin.shutdown().await;
        });
    }
    let mut timed_out = false;
    let shell = tokio::select! {
        shell = read_status(&mut status) => shell,
        () = tokio::time::sleep_until(deadline) => {
            timed_out = true;
            None
        }
        () = tx.closed() => {
            // The stream was dropped: nobody wants the result.
            let _ = end_tree(supervisor).await;
            let _ = child.wait().await;
            guard.reaped = true;
            return;
        }
    };
    // Nothing it started runs on; this also closes pipes they hold.
    let killed = end_tree(supervisor).await;
    let shell = match shell {
        Some(raw) => Some(raw),
        None => tokio::time::timeout(DRAIN_AFTER_TIMEOUT, read_status(&mut status))
            .await
            .ok()
            .flatten(),
    };
    // The supervisor exits once its last child is reaped; a stopped one is
    // killed (nothing is left below it by now).
    let reaped = match tokio::time::timeout(DRAIN_AFTER_TIMEOUT, child.wait()).await {
        Ok(done) => done,
        Err(_) => {
            kill_supervisor(supervisor);
            child.wait().await
        }
    };
    if reaped.is_ok() {
        guard.reaped = true;
    }
    let bound = if timed_out {
        DRAIN_AFTER_TIMEOUT
    } else {
        DRAIN_AFTER_EXIT
    };
    let drain_until = tokio::time::Instant::now() + bound;
    let mut truncated = [false, false];
    for (slot, task) in [out_task, err_task].into_iter().enumerate() {
        if let Some(mut task) = task {
            match tokio::time::timeout_at(drain_until, &mut task).await {
                Ok(Ok(dropped)) => truncated[slot] = dropped,
                // Still held open (by a process that left the group): give up
                // on the rest, it is beyond what the caller waits for.
                _ => task.abort(),
            }
        }
    }
    let duration = started.elapsed();
    let event = match (killed, shell) {
        (Err(e), _) => Err(e),
        (Ok(()), Some(raw)) => {
            let status = std::process::ExitStatus::from_raw(raw);
            let exit = match (status.code(), status.signal()) {
                (Some(code), _) => ExitStatus::exited(code, duration),
                (None, Some(signal)) => ExitStatus::signaled(signal, duration),
                (None, None) => ExitStatus::exited(-1, duration),
            };
            Ok(ExecEvent::Exit(
                exit.with_timed_out(timed_out)
                    .with_truncation(truncated[0], truncated[1]),
            ))
        }
        (Ok(()), None) => Err(kill_error(
            "the command's supervisor ended before reporting its exit (was it killed?); processes the command started may still run".to_owned(),
            Operation::Execute,
        )),
    };
    let _ = tx.send(event).await;
    drop(guard);
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Sandbox for LocalSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        request
            .validate()
            .map_err(|e| e.with_operation(Operation::Execute))?;
        if self.groups.closed.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!("sandbox {} is closed; create a new one", self.id),
            )
            .with_operation(Operation::Execute));
        }
        let (child, status) = self.spawn(&request)?;
        let supervisor = child.id().map_or(0, |p| p as i32);
        self.groups
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(supervisor);
        let guard = GroupGuard {
            supervisor,
            reaped: false,
            groups: self.groups.clone(),
        };
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(drive(child, status, request, tx, guard));
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        })))
    }

    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        let limit = request.output_limit;
        let stream = self.execute_stream(request).await?;
        collect_output(stream, limit).await
    }

    async fn close(&self) -> Result<()> {
        self.groups.closed.store(true, Ordering::SeqCst);
        self.groups
            .kill_all()
            .map_err(|m| kill_error(m, Operation::Close))
    }
}

/// Files go to the [`LocalBackend`]; only the capabilities change.
#[async_trait]
impl ForwardBackend for LocalSandbox {
    type Inner = LocalBackend;

    fn inner(&self) -> &LocalBackend {
        &self.backend
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = self.backend.capabilities();
        caps.execute = true;
        caps.execute_streaming = true;
        caps
    }
}
