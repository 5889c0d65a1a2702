//! Docker's [`SandboxFactory`]: containers from a builder, reset in place,
//! checked with one inspect call; and the pool and session manager over it.

use async_trait::async_trait;
use backend_core::{Result, Sandbox};
use bollard::Docker;
use tokio::sync::OnceCell;

use crate::builder::DockerSandboxBuilder;
use crate::engine;
use crate::sandbox::DockerSandbox;

/// A warm pool of Docker sandboxes (see [`backend_pool::SandboxPool`]):
/// released sandboxes are reset in place (their processes killed, their
/// work directory and `/tmp` emptied) rather than recreated.
///
/// # Example
/// ```no_run
/// # async fn demo() -> backend_core::Result<()> {
/// use backend_core::Sandbox;
/// use backend_docker::{DockerSandbox, SandboxPool};
/// let pool = SandboxPool::new(DockerSandbox::builder("agent-backend-test:busybox"), 4).await?;
/// let sandbox = pool.acquire().await?;
/// sandbox.execute(backend_core::ExecRequest::new("echo hi")).await?;
/// pool.release(sandbox).await;
/// pool.shutdown().await;
/// # Ok(()) }
/// ```
pub type SandboxPool = backend_pool::SandboxPool<DockerFactory>;

/// One Docker sandbox per session key (see
/// [`backend_pool::SessionManager`]); each container carries the key in its
/// [`LABEL_SESSION`](crate::LABEL_SESSION) label.
pub type SessionManager = backend_pool::SessionManager<DockerFactory>;

/// Settings of a Docker [`SessionManager`].
pub type SessionManagerBuilder = backend_pool::SessionManagerBuilder<DockerFactory>;

/// Creates Docker sandboxes from a [`DockerSandboxBuilder`] for a pool or
/// session manager, over one engine connection made on first use.
///
/// Reset is [`DockerSandbox::reset`]; the health check inspects the
/// container. Converts from a builder, so `SandboxPool::new(builder, n)`
/// works.
#[derive(Debug)]
pub struct DockerFactory {
    builder: DockerSandboxBuilder,
    docker: OnceCell<Docker>,
}

impl DockerFactory {
    /// A factory building sandboxes with `builder` (its engine connection
    /// if it has one, else the local default).
    pub fn new(builder: DockerSandboxBuilder) -> Self {
        DockerFactory {
            builder,
            docker: OnceCell::new(),
        }
    }

    /// The builder each sandbox starts from.
    pub fn builder(&self) -> &DockerSandboxBuilder {
        &self.builder
    }

    /// The engine connection, made once.
    async fn engine(&self) -> Result<&Docker> {
        self.docker
            .get_or_try_init(|| async {
                match &self.builder.docker {
                    Some(docker) => Ok(docker.clone()),
                    None => engine::connect().await,
                }
            })
            .await
    }
}

impl From<DockerSandboxBuilder> for DockerFactory {
    fn from(builder: DockerSandboxBuilder) -> Self {
        DockerFactory::new(builder)
    }
}

#[async_trait]
impl backend_pool::SandboxFactory for DockerFactory {
    type Sandbox = DockerSandbox;
    /// The container id.
    type Probe = String;

    async fn prepare(&self) -> Result<()> {
        self.engine().await.map(|_| ())
    }

    async fn create(&self, session: Option<&str>) -> Result<DockerSandbox> {
        let mut builder = self.builder.clone().docker(self.engine().await?.clone());
        if let Some(key) = session {
            builder = builder.session(key);
        }
        builder.build().await
    }

    async fn reset(&self, sandbox: &DockerSandbox) -> Result<bool> {
        sandbox.reset().await.map(|()| true)
    }

    async fn destroy(&self, sandbox: &DockerSandbox) {
        if let Err(e) = sandbox.close().await {
            tracing::warn!(container = %sandbox.container_id(), error = %e, "removing a pooled sandbox failed");
        }
    }

    fn probe(&self, sandbox: &DockerSandbox) -> String {
        sandbox.container_id().to_owned()
    }

    async fn is_healthy(&self, container: &String) -> bool {
        match self.engine().await {
            Ok(docker) => engine::is_running(docker, container).await,
            Err(_) => false,
        }
    }
}
