//! The shared conformance suite against the S3 backend on the harness's
//! local server (see `support/`), each case under a fresh key prefix.

mod support;

use std::sync::Arc;

use backend_conformance::Subject;

async fn make() -> Subject {
    Subject::backend(Arc::new(support::backend("conformance").await))
}

backend_conformance::conformance_tests!(
    name: "s3",
    factory: make,
    capabilities: [persistent, atomic_edit, modified_time],
);
