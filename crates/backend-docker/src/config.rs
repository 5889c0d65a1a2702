//! The settings of a sandbox container and the builder that creates one.

use std::collections::BTreeMap;

use backend_core::{Error, ErrorKind, Operation, Result};
use bollard::Docker;

use crate::sandbox::DockerSandbox;

/// Default work directory inside the container (the virtual `/`).
pub const DEFAULT_WORK_DIR: &str = "/workspace";
/// Default user commands run as.
pub const DEFAULT_USER: &str = "1000:1000";
/// The user of the container's idle main process: a different user from the
/// one commands run as, so that a command cannot kill it (and the container).
pub const DEFAULT_KEEPALIVE_USER: &str = "65534:65534";

/// The resource limits and isolation settings of a sandbox container.
///
/// The defaults are the hardened ones of SPEC.md: no network, 512 MiB of
/// memory without extra swap, one CPU, 256 processes, every capability
/// dropped, no-new-privileges, a read-only root filesystem with the work
/// directory on a volume and a 64 MiB `/tmp`, a non-root user and an init
/// process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// The image to run.
    pub image: String,
    /// Whether the container gets a network (`false`: network mode `none`).
    pub network: bool,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// Swap allowed on top of the memory limit, in bytes.
    pub extra_swap_bytes: i64,
    /// CPU quota in billionths of a CPU.
    pub nano_cpus: i64,
    /// Most processes (and threads) alive at once.
    pub pids_limit: i64,
    /// Capabilities kept; all others are dropped.
    pub cap_add: Vec<String>,
    /// Whether processes may gain privileges (setuid binaries).
    pub no_new_privileges: bool,
    /// Whether the root filesystem is read-only.
    pub read_only_root: bool,
    /// The directory holding the virtual `/`; a fresh volume is mounted there.
    pub work_dir: String,
    /// Size of the tmpfs mounted at `/tmp`, in bytes.
    pub tmp_bytes: u64,
    /// The user (`uid:gid`) commands run as.
    pub user: String,
    /// The user of the idle main process.
    pub keepalive_user: String,
    /// Whether an init process reaps orphans (`--init`).
    pub init: bool,
    /// The OCI runtime, e.g. `runsc` for gVisor; the engine's default if unset.
    pub runtime: Option<String>,
    /// Extra labels on the container and its volume.
    pub labels: BTreeMap<String, String>,
    /// Environment every command starts with (besides `PATH` and `HOME`).
    pub env: BTreeMap<String, String>,
}

impl SandboxConfig {
    /// The hardened defaults for `image`.
    pub fn new(image: impl Into<String>) -> Self {
        SandboxConfig {
            image: image.into(),
            network: false,
            memory_bytes: 512 * 1024 * 1024,
            extra_swap_bytes: 0,
            nano_cpus: 1_000_000_000,
            pids_limit: 256,
            cap_add: Vec::new(),
            no_new_privileges: true,
            read_only_root: true,
            work_dir: DEFAULT_WORK_DIR.to_owned(),
            tmp_bytes: 64 * 1024 * 1024,
            user: DEFAULT_USER.to_owned(),
            keepalive_user: DEFAULT_KEEPALIVE_USER.to_owned(),
            init: true,
            runtime: None,
            labels: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    /// The numeric uid and gid of [`user`](Self::user), for file ownership.
    pub(crate) fn numeric_user(&self) -> Option<(u64, u64)> {
        let (uid, gid) = self
            .user
            .split_once(':')
            .unwrap_or((&self.user, &self.user));
        Some((uid.parse().ok()?, gid.parse().ok()?))
    }

    fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::invalid_argument(why).with_operation(Operation::Create));
        if self.image.trim().is_empty() {
            return bad("the image name is empty".into());
        }
        if !self.work_dir.starts_with('/') || self.work_dir == "/" || self.work_dir.contains("..") {
            return bad(format!(
                "work_dir {:?} must be an absolute directory other than /",
                self.work_dir
            ));
        }
        if self.numeric_user().is_none() {
            return bad(format!(
                "user {:?} must be numeric `uid:gid` (files are written with that owner)",
                self.user
            ));
        }
        if self.memory_bytes < 6 * 1024 * 1024 || self.pids_limit < 8 || self.nano_cpus <= 0 {
            return bad("memory (≥ 6 MiB), pids (≥ 8) and CPU limits must be positive".into());
        }
        Ok(())
    }
}

/// Builds a [`DockerSandbox`]; cheap to clone, so pools and session managers
/// keep one and create many sandboxes from it.
///
/// # Example
/// ```no_run
/// # async fn demo() -> backend_core::Result<()> {
/// use backend_docker::DockerSandbox;
/// let sandbox = DockerSandbox::builder("agent-backend-test:busybox")
///     .memory_bytes(256 * 1024 * 1024)
///     .pids_limit(128)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DockerSandboxBuilder {
    pub(crate) config: SandboxConfig,
    pub(crate) docker: Option<Docker>,
    pub(crate) session: Option<String>,
}

impl DockerSandboxBuilder {
    /// A builder with the hardened defaults for `image`.
    pub fn new(image: impl Into<String>) -> Self {
        DockerSandboxBuilder {
            config: SandboxConfig::new(image),
            docker: None,
            session: None,
        }
    }

    /// Starts from a whole configuration.
    pub fn from_config(config: SandboxConfig) -> Self {
        DockerSandboxBuilder {
            config,
            docker: None,
            session: None,
        }
    }

    /// The configuration as it stands.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Uses this engine connection instead of the local default (which is
    /// connected on first use, negotiating the API version).
    pub fn docker(mut self, docker: Docker) -> Self {
        self.docker = Some(docker);
        self
    }

    /// Gives the container a network (off by default).
    pub fn network(mut self, enabled: bool) -> Self {
        self.config.network = enabled;
        self
    }

    /// Sets the memory limit.
    pub fn memory_bytes(mut self, bytes: i64) -> Self {
        self.config.memory_bytes = bytes;
        self
    }

    /// Allows swap on top of the memory limit (none by default).
    pub fn extra_swap_bytes(mut self, bytes: i64) -> Self {
        self.config.extra_swap_bytes = bytes;
        self
    }

    /// Sets the CPU quota, in CPUs.
    pub fn cpus(mut self, cpus: f64) -> Self {
        self.config.nano_cpus = (cpus * 1e9) as i64;
        self
    }

    /// Sets the process limit.
    pub fn pids_limit(mut self, pids: i64) -> Self {
        self.config.pids_limit = pids;
        self
    }

    /// Keeps a capability (all are dropped by default), e.g. `NET_BIND_SERVICE`.
    pub fn cap_add(mut self, capability: impl Into<String>) -> Self {
        self.config.cap_add.push(capability.into());
        self
    }

    /// Whether no-new-privileges is set (on by default).
    pub fn no_new_privileges(mut self, yes: bool) -> Self {
        self.config.no_new_privileges = yes;
        self
    }

    /// Whether the root filesystem is read-only (on by default).
    pub fn read_only_root(mut self, yes: bool) -> Self {
        self.config.read_only_root = yes;
        self
    }

    /// Sets the work directory (the virtual `/`).
    pub fn work_dir(mut self, dir: impl Into<String>) -> Self {
        self.config.work_dir = dir.into();
        self
    }

    /// Sets the size of `/tmp`.
    pub fn tmp_bytes(mut self, bytes: u64) -> Self {
        self.config.tmp_bytes = bytes;
        self
    }

    /// Sets the numeric `uid:gid` commands run as.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.config.user = user.into();
        self
    }

    /// Whether an init process runs as PID 1 (on by default).
    pub fn init(mut self, yes: bool) -> Self {
        self.config.init = yes;
        self
    }

    /// Names the OCI runtime, e.g. `runsc`.
    pub fn runtime(mut self, runtime: impl Into<String>) -> Self {
        self.config.runtime = Some(runtime.into());
        self
    }

    /// Adds a label to the container and its volume.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.labels.insert(key.into(), value.into());
        self
    }

    /// Adds a variable to every command's environment.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.env.insert(key.into(), value.into());
        self
    }

    /// Names the session this sandbox serves (recorded in a label).
    pub fn session(mut self, key: impl Into<String>) -> Self {
        self.session = Some(key.into());
        self
    }

    /// The engine connection, made once.
    pub(crate) async fn connect(&mut self) -> Result<Docker> {
        if let Some(docker) = &self.docker {
            return Ok(docker.clone());
        }
        let docker = connect().await?;
        self.docker = Some(docker.clone());
        Ok(docker)
    }

    /// Creates and starts the container.
    pub async fn build(mut self) -> Result<DockerSandbox> {
        self.config.validate()?;
        let docker = self.connect().await?;
        let first =
            DockerSandbox::create(docker.clone(), self.config.clone(), self.session.clone()).await;
        match first {
            // An engine under pressure sometimes fails to start a container
            // (a containerd shim error): once more after a pause.
            Err(e) if e.is_retryable() || e.kind() == ErrorKind::Internal => {
                tracing::warn!(error = %e, "creating a sandbox failed; retrying once");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                DockerSandbox::create(docker, self.config, self.session).await
            }
            other => other,
        }
    }
}

/// Connects to the local engine (`DOCKER_HOST` or the default socket) and
/// negotiates the API version.
pub async fn connect() -> Result<Docker> {
    let unavailable = |e: bollard::errors::Error| {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "no Docker engine answers ({e}): start one, e.g. `cargo xtask docker-up`, or set DOCKER_HOST"
            ),
        )
        .with_operation(Operation::Create)
        .with_retryable(true)
    };
    let docker = Docker::connect_with_local_defaults().map_err(unavailable)?;
    docker.negotiate_version().await.map_err(unavailable)
}
