//! The example backend passes the whole conformance suite.

use std::sync::Arc;

use backend_conformance::Subject;
use custom_backend_example::MapBackend;

/// A fresh, empty backend for each case.
async fn make() -> Subject {
    Subject::backend(Arc::new(MapBackend::new()))
}

backend_conformance::conformance_tests!(
    name: "custom-example",
    factory: make,
    capabilities: [atomic_edit],
);
