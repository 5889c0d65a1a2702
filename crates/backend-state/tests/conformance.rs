//! The in-memory backend against the shared conformance suite.

use std::sync::Arc;

use backend_conformance::Subject;
use backend_state::StateBackend;

/// A fresh, empty backend for each case.
async fn make() -> Subject {
    Subject::backend(Arc::new(StateBackend::new()))
}

backend_conformance::conformance_tests!(
    name: "state",
    factory: make,
    capabilities: [atomic_edit, empty_directories, modified_time, snapshot],
);
