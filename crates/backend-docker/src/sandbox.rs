//! The sandbox: one hardened container, its work volume, and command
//! execution in it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backend_core::{
    Error, ErrorKind, ExecEvent, ExecRequest, ExecStream, KeyedLocks, Operation, Result,
    VirtualPath,
};
use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, MountVolumeOptions};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use tokio::sync::mpsc;

use crate::config::SandboxConfig;
use crate::engine;
use crate::error;
use crate::exec::{self, ExecJob};
use crate::reap::{LABEL_SESSION, Owner};
use crate::rename_shell::RenameShell;

/// The text of a file as this sandbox last wrote it by `edit`, with the
/// engine's modification time and size right after; when both still match,
/// the next edit of the file skips downloading it.
#[derive(Debug, Clone)]
pub(crate) struct EditCacheEntry {
    pub modified: String,
    pub size: i64,
    pub text: Arc<String>,
}

/// Housekeeping commands (stat, ls, moves) get this long.
pub(crate) const HOUSEKEEPING_TIMEOUT: Duration = Duration::from_secs(60);

/// A sandbox backed by one Docker container.
///
/// Files live in the container's work directory (a volume), which is the
/// virtual `/`; commands run there as a non-root user under the hardened
/// limits of [`SandboxConfig`]. [`close`](backend_core::Sandbox::close) or
/// dropping it removes the container and its volume.
///
/// # What the image must contain
/// - A POSIX `sh` and, on `PATH`, the programs the backend runs with
///   argument vectors: `kill`, `find` (with `-mindepth`, `-maxdepth`,
///   `-type`, `-print0`, `-exec ... {} +`), `stat -c`, `mv`, `rm`,
///   `readlink -f`, `cat`, `ls`, `sleep`, `printf`. Busybox provides them
///   all; `cargo xtask docker-image` builds such an image from Debian's
///   `busybox-static`.
/// - The work directory (default `/workspace`), owned by the command user
///   (default `1000:1000`): the volume mounted there copies its owner.
/// - Nothing else: no package manager, no network tools, no users besides
///   the numeric ids (the idle main process runs as `65534:65534`, so that
///   commands cannot kill it).
///
/// `/sys/fs/cgroup` (visible by default) lets out-of-memory kills be told
/// apart from other kills.
#[derive(Debug)]
pub struct DockerSandbox {
    pub(crate) docker: Docker,
    pub(crate) container: String,
    pub(crate) config: Arc<SandboxConfig>,
    pub(crate) uid_gid: (u64, u64),
    closed: AtomicBool,
    oom_kills_seen: Arc<AtomicU64>,
    /// Serialises edits of one path through this sandbox.
    pub(crate) edit_locks: KeyedLocks<String>,
    pub(crate) edit_cache: Mutex<HashMap<String, EditCacheEntry>>,
    pub(crate) rename_shell: RenameShell,
}

impl DockerSandbox {
    pub(crate) async fn create(
        docker: Docker,
        config: SandboxConfig,
        session: Option<String>,
    ) -> Result<DockerSandbox> {
        let uid_gid = config
            .numeric_user()
            .ok_or_else(|| Error::invalid_argument("the user must be numeric `uid:gid`"))?;
        let mut labels = Owner::current().labels();
        labels.insert(LABEL_SESSION.to_owned(), session.unwrap_or_default());
        for (k, v) in &config.labels {
            labels.insert(k.clone(), v.clone());
        }
        let name = format!("agent-sandbox-{}", uuid::Uuid::new_v4().simple());
        let mut env = vec![
            "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".to_owned(),
            format!("HOME={}", config.work_dir),
        ];
        env.extend(config.env.iter().map(|(k, v)| format!("{k}={v}")));
        let host_config = HostConfig {
            network_mode: Some(if config.network { "bridge" } else { "none" }.to_owned()),
            memory: Some(config.memory_bytes),
            memory_swap: Some(config.memory_bytes + config.extra_swap_bytes),
            nano_cpus: Some(config.nano_cpus),
            pids_limit: Some(config.pids_limit),
            cap_drop: Some(vec!["ALL".to_owned()]),
            cap_add: (!config.cap_add.is_empty()).then(|| config.cap_add.clone()),
            security_opt: config
                .no_new_privileges
                .then(|| vec!["no-new-privileges".to_owned()]),
            readonly_rootfs: Some(config.read_only_root),
            // An anonymous volume: removed with the container (`rm -v`), and
            // first filled from the image (so it keeps the directory's owner).
            mounts: Some(vec![Mount {
                target: Some(config.work_dir.clone()),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_owned(),
                format!("rw,nosuid,nodev,size={},mode=1777", config.tmp_bytes),
            )])),
            init: Some(config.init),
            runtime: config.runtime.clone(),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(config.image.clone()),
            user: Some(config.keepalive_user.clone()),
            // The idle main process; commands arrive as execs.
            cmd: Some(vec!["sleep".to_owned(), "2147483647".to_owned()]),
            entrypoint: Some(Vec::new()),
            env: Some(env),
            working_dir: Some(config.work_dir.clone()),
            labels: Some(labels),
            network_disabled: Some(!config.network),
            host_config: Some(host_config),
            ..Default::default()
        };
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(|e| match error::status_of(&e) {
                Some((404, _)) => Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "image {:?} is not present: build it (for tests: `cargo xtask docker-image`)",
                        config.image
                    ),
                )
                .with_operation(Operation::Create)
                .with_source(e),
                _ => error::engine(Operation::Create, "creating the container", e),
            })?;
        let sandbox = DockerSandbox {
            docker,
            container: created.id,
            config: Arc::new(config),
            uid_gid,
            closed: AtomicBool::new(false),
            oom_kills_seen: Arc::new(AtomicU64::new(0)),
            edit_locks: KeyedLocks::new(),
            edit_cache: Mutex::new(HashMap::new()),
            rename_shell: RenameShell::new(),
        };
        if let Err(e) = sandbox
            .docker
            .start_container(&sandbox.container, None)
            .await
        {
            let error = error::engine(Operation::Create, "starting the container", e);
            let _ = sandbox.remove().await;
            return Err(error);
        }
        Ok(sandbox)
    }

    /// The container id.
    pub fn container_id(&self) -> &str {
        &self.container
    }

    /// The settings this sandbox was made with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The engine connection.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Whether the container still runs (one inspect call; cheap).
    pub async fn is_healthy(&self) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        engine::is_running(&self.docker, &self.container).await
    }

    /// Kills every process of the command user and empties the work
    /// directory and `/tmp`, then checks that a command runs: what a pool
    /// does before handing the sandbox to someone else.
    pub async fn reset(&self) -> Result<()> {
        const RESET: &str = "kill -KILL -1 2>/dev/null; \
            for d in \"$1\" /tmp; do rm -rf -- \"$d\"/* \"$d\"/.[!.]* \"$d\"/..?* 2>/dev/null; done; \
            [ -z \"$(ls -A -- \"$1\")\" ] && echo clean";
        let out = self
            .housekeeping(vec![
                "sh".into(),
                "-c".into(),
                RESET.into(),
                "sh".into(),
                self.config.work_dir.clone(),
            ])
            .await?;
        if out.code == Some(0) && out.stdout == b"clean\n" {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "resetting the sandbox failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            )
            .with_operation(Operation::Other))
        }
    }

    /// Runs a housekeeping program as the command user.
    pub(crate) async fn housekeeping(&self, argv: Vec<String>) -> Result<exec::ArgvOutput> {
        self.ensure_open(Operation::Other)?;
        exec::run_argv(
            &self.docker,
            &self.container,
            &self.config.user,
            argv,
            HOUSEKEEPING_TIMEOUT,
        )
        .await
    }

    pub(crate) fn ensure_open(&self, op: Operation) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::new(
                ErrorKind::Unavailable,
                "the sandbox is closed; create a new one",
            )
            .with_operation(op))
        } else {
            Ok(())
        }
    }

    /// The container path of a virtual path.
    pub(crate) fn host_path(&self, path: &VirtualPath) -> String {
        if path.is_root() {
            self.config.work_dir.clone()
        } else {
            format!("{}{}", self.config.work_dir, path.as_str())
        }
    }

    async fn remove(&self) -> Result<()> {
        match self
            .docker
            .remove_container(
                &self.container,
                Some(
                    RemoveContainerOptionsBuilder::new()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if error::status_of(&e).is_some_and(|(s, _)| s == 404) => Ok(()),
            Err(e) => Err(error::engine(Operation::Close, "removing the container", e)),
        }
    }

    pub(crate) async fn start_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.ensure_open(Operation::Execute)?;
        request
            .validate()
            .map_err(|e| e.or_operation(Operation::Execute))?;
        let workdir = match &request.workdir {
            Some(dir) => {
                let vpath = VirtualPath::parse_for(dir, Operation::Execute)?;
                let info = self.stat_path(&vpath, Operation::Execute).await?;
                if !info.is_dir {
                    return Err(
                        Error::not_a_directory(vpath.as_str()).with_operation(Operation::Execute)
                    );
                }
                self.host_path(&vpath)
            }
            None => self.config.work_dir.clone(),
        };
        let env = request
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let job = ExecJob {
            container: self.container.clone(),
            user: self.config.user.clone(),
            command: request.command,
            env,
            workdir,
            stdin: request.stdin,
            timeout: request.timeout,
            output_limit: request.output_limit,
        };
        let (tx, rx) = mpsc::channel::<Result<ExecEvent>>(16);
        let docker = self.docker.clone();
        let memory_limit = self.config.memory_bytes;
        let oom_probe = OomProbe {
            docker: self.docker.clone(),
            container: self.container.clone(),
            user: self.config.user.clone(),
            seen: self.oom_kills_seen.load(Ordering::Acquire),
        };
        let seen_out = self.oom_kills_seen.clone();
        tokio::spawn(async move {
            let end = exec::run_streaming(&docker, job, tx.clone()).await;
            let event = match end {
                Ok(end) if !end.status.timed_out && exec::was_killed(end.raw_exit_code) => {
                    match oom_probe.new_kills().await {
                        Some(count) => {
                            seen_out.fetch_max(count, Ordering::AcqRel);
                            Err(out_of_memory(memory_limit))
                        }
                        None => Ok(ExecEvent::Exit(end.status)),
                    }
                }
                Ok(end) => Ok(ExecEvent::Exit(end.status)),
                Err(e) => Err(e),
            };
            let _ = tx.send(event).await;
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(stream))
    }

    pub(crate) async fn close_now(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.remove().await
    }
}

fn out_of_memory(limit: i64) -> Error {
    Error::new(
        ErrorKind::QuotaExceeded,
        format!(
            "out of memory: the command used more than the sandbox's {} MiB and was killed; use less memory or a sandbox with a higher memory limit",
            limit / (1024 * 1024)
        ),
    )
    .with_operation(Operation::Execute)
}

/// Reads the container's OOM-kill counter after a command was killed.
struct OomProbe {
    docker: Docker,
    container: String,
    user: String,
    seen: u64,
}

impl OomProbe {
    /// The new count when it went up since the command started.
    async fn new_kills(&self) -> Option<u64> {
        const READ: &str =
            "cat /sys/fs/cgroup/memory.events /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null";
        let out = exec::run_argv(
            &self.docker,
            &self.container,
            &self.user,
            vec!["sh".into(), "-c".into(), READ.into()],
            Duration::from_secs(5),
        )
        .await
        .ok()?;
        let count: u64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| line.strip_prefix("oom_kill ")?.trim().parse().ok())?;
        (count > self.seen).then_some(count)
    }
}

impl Drop for DockerSandbox {
    fn drop(&mut self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        // Removal needs async I/O and Drop may run inside or outside a
        // runtime; a short-lived thread with its own runtime and connection
        // works in both, and joining it makes drop as final as close.
        let container = self.container.clone();
        let remover = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(docker) = engine::connect().await else {
                    return;
                };
                let _ = docker
                    .remove_container(
                        &container,
                        Some(
                            RemoveContainerOptionsBuilder::new()
                                .force(true)
                                .v(true)
                                .build(),
                        ),
                    )
                    .await;
            });
        });
        let _ = remover.join();
    }
}
