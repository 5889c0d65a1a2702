//! Docker's [`SandboxFactory`] (the sandbox builder: containers reset in
//! place, checked with one inspect call) and the pool and session manager
//! over it.

use async_trait::async_trait;
use backend_core::{Result, Sandbox};
use backend_pool::SandboxFactory;

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
pub type SandboxPool = backend_pool::SandboxPool<DockerSandboxBuilder>;

/// One Docker sandbox per session key (see
/// [`backend_pool::SessionManager`]); each container carries the key in its
/// [`LABEL_SESSION`](crate::LABEL_SESSION) label.
pub type SessionManager = backend_pool::SessionManager<DockerSandboxBuilder>;

/// Settings of a Docker [`SessionManager`].
pub type SessionManagerBuilder = backend_pool::SessionManagerBuilder<DockerSandboxBuilder>;

/// The builder is the factory: [`prepare`](SandboxFactory::prepare) makes
/// the engine connection every sandbox then shares, reset is
/// [`DockerSandbox::reset`], and the health check inspects the container.
#[async_trait]
impl SandboxFactory for DockerSandboxBuilder {
    type Sandbox = DockerSandbox;
    /// The container id.
    type Probe = String;

    async fn prepare(&mut self) -> Result<()> {
        self.connect().await.map(|_| ())
    }

    async fn create(&self, session: Option<&str>) -> Result<DockerSandbox> {
        let mut builder = self.clone();
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
        match &self.docker {
            Some(docker) => engine::is_running(docker, container).await,
            None => false,
        }
    }
}
