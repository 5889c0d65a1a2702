//! Shared helpers: the engine, the test image, sandboxes.
#![allow(dead_code)]

use std::time::Duration;

use backend_docker::{Docker, DockerSandbox, DockerSandboxBuilder, LABEL_MANAGED};

/// The image `cargo xtask docker-image` builds.
pub const IMAGE: &str = "agent-backend-test:busybox";
const HOW: &str = "no Docker engine: run `cargo xtask docker-up && cargo xtask docker-image`";

/// The engine, or a panic saying how to start it.
pub async fn engine() -> Docker {
    let docker = backend_docker::connect()
        .await
        .unwrap_or_else(|e| panic!("{HOW} ({e})"));
    if docker.inspect_image(IMAGE).await.is_err() {
        panic!("the test image {IMAGE} is missing: run `cargo xtask docker-image`");
    }
    docker
}

/// A builder for the test image on the checked engine.
pub async fn builder() -> DockerSandboxBuilder {
    DockerSandbox::builder(IMAGE).docker(engine().await)
}

/// A fresh sandbox with the hardened defaults.
pub async fn sandbox() -> DockerSandbox {
    builder().await.build().await.expect("creating a sandbox")
}

/// Ids of the containers carrying the managed label whose label `key` is `value`.
pub async fn labelled_containers(docker: &Docker, key: &str, value: &str) -> Vec<String> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let filters = std::collections::HashMap::from([(
        "label",
        vec![LABEL_MANAGED.to_owned(), format!("{key}={value}")],
    )]);
    docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("listing containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Names of the volumes carrying the managed label whose label `key` is `value`.
pub async fn labelled_volumes(docker: &Docker, key: &str, value: &str) -> Vec<String> {
    use bollard::query_parameters::ListVolumesOptionsBuilder;
    let filters = std::collections::HashMap::from([(
        "label",
        vec![LABEL_MANAGED.to_owned(), format!("{key}={value}")],
    )]);
    docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::new().filters(&filters).build(),
        ))
        .await
        .expect("listing volumes")
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect()
}

/// Waits until `check` holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
