//! The shared conformance suite against a fresh hardened `DockerSandbox`
//! per case (the suite closes it after the case).

mod common;

use std::sync::Arc;

use backend_conformance::Subject;

async fn make() -> Subject {
    Subject::sandbox(Arc::new(common::sandbox().await))
}

backend_conformance::conformance_tests!(
    name: "docker",
    factory: make,
    capabilities: [execute, execute_streaming, atomic_edit, empty_directories, modified_time],
);
