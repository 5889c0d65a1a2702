//! The shared conformance suite against the three local variants: a plain
//! directory, overlay mode, and the sandbox that also runs commands.

use std::sync::Arc;

use backend_conformance::Subject;
use backend_local::LocalBackend;
#[cfg(feature = "local-exec")]
use backend_local::LocalSandbox;

/// A plain backend over a fresh temporary directory.
async fn make_local() -> Subject {
    Subject::backend(Arc::new(
        LocalBackend::temporary().expect("temporary directory"),
    ))
}

/// An overlay over a fresh temporary directory.
async fn make_overlay() -> Subject {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
    let backend = LocalBackend::overlay(dir.path()).expect("overlay backend");
    // The overlay never writes to the directory before commit, so what is
    // kept is an empty directory under the target's scratch space.
    let _ = dir.keep();
    Subject::backend(Arc::new(backend))
}

/// A sandbox over a fresh temporary directory.
#[cfg(feature = "local-exec")]
async fn make_sandbox() -> Subject {
    Subject::sandbox(Arc::new(
        LocalSandbox::temporary().expect("temporary directory"),
    ))
}

mod local {
    backend_conformance::conformance_tests!(
        name: "local",
        factory: super::make_local,
        capabilities: [persistent, atomic_edit, empty_directories, modified_time],
    );
}

mod local_overlay {
    backend_conformance::conformance_tests!(
        name: "local-overlay",
        factory: super::make_overlay,
        capabilities: [atomic_edit, modified_time],
    );
}

#[cfg(feature = "local-exec")]
mod local_sandbox {
    backend_conformance::conformance_tests!(
        name: "local-sandbox",
        factory: super::make_sandbox,
        capabilities: [execute, execute_streaming, persistent, atomic_edit, empty_directories, modified_time],
    );
}
