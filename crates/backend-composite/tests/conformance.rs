//! The conformance suite through the router: each case works under its own
//! root in the default backend, with routes mounted beside it, so the suite
//! checks that routing leaves the default's behaviour intact. What happens
//! inside routes is checked by `tests/routing.rs`.

use std::sync::Arc;

use backend_composite::CompositeBackend;
use backend_conformance::Subject;
use backend_local::{LocalBackend, LocalSandbox};
use backend_state::StateBackend;

/// A fresh host directory for a local backend; kept (not deleted) because
/// the backend outlives this function.
fn scratch_dir() -> std::path::PathBuf {
    tempfile::Builder::new()
        .prefix("composite-conformance-")
        .tempdir()
        .expect("a temporary directory")
        .keep()
}

fn local() -> Arc<LocalBackend> {
    Arc::new(LocalBackend::new(scratch_dir()).expect("a local backend over a fresh directory"))
}

/// State default, a state route and a local route.
async fn make_state_default() -> Subject {
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/memories/", Arc::new(StateBackend::new()))
        .route("/workspace/", local())
        .build()
        .expect("valid routes");
    Subject::backend(Arc::new(composite))
}

/// Local default with a state route: the local backend's behaviour through
/// the router.
async fn make_local_default() -> Subject {
    let composite = CompositeBackend::builder(local())
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .expect("valid routes");
    Subject::backend(Arc::new(composite))
}

/// A local sandbox as the default, with a state route: commands go through
/// the router to the sandbox.
async fn make_sandbox_default() -> Subject {
    let sandbox = LocalSandbox::new(scratch_dir()).expect("a local sandbox over a fresh directory");
    let composite = CompositeBackend::builder_with_sandbox(Arc::new(sandbox))
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .expect("valid routes");
    Subject::sandbox(Arc::new(composite))
}

mod state_default {
    backend_conformance::conformance_tests!(
        name: "composite",
        factory: super::make_state_default,
        capabilities: [atomic_edit, empty_directories, modified_time],
    );
}

mod local_default {
    backend_conformance::conformance_tests!(
        name: "composite-local",
        factory: super::make_local_default,
        capabilities: [atomic_edit, empty_directories, modified_time],
    );
}

mod sandbox_default {
    backend_conformance::conformance_tests!(
        name: "composite-exec",
        factory: super::make_sandbox_default,
        capabilities: [execute, execute_streaming, atomic_edit, empty_directories, modified_time],
    );
}
