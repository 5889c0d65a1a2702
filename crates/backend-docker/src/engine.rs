//! The connection to the Docker engine.

use backend_core::{Error, ErrorKind, Operation, Result};
use bollard::Docker;

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

/// Whether the container `id` is running (one inspect call).
pub(crate) async fn is_running(docker: &Docker, id: &str) -> bool {
    match docker.inspect_container(id, None).await {
        Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
        Err(_) => false,
    }
}
