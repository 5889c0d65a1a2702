//! The builder that creates a sandbox container.

use backend_core::{ErrorKind, Result};
use bollard::Docker;

use crate::config::SandboxConfig;
use crate::engine;
use crate::sandbox::DockerSandbox;

impl DockerSandbox {
    /// A builder with the hardened defaults for `image`.
    pub fn builder(image: impl Into<String>) -> DockerSandboxBuilder {
        DockerSandboxBuilder::new(image)
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
        let docker = engine::connect().await?;
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
