//! What `conformance_tests!` generates, on the in-memory backend: one test
//! per case, where the cases that need a capability the backend does not
//! declare (here every `exec` case) are ignored rather than passed.

use std::sync::Arc;

use backend_conformance::{Capability, CaseFuture, Fixture, Subject};
use backend_state::StateBackend;

async fn make() -> Subject {
    Subject::backend(Arc::new(StateBackend::new()))
}

mod state {
    backend_conformance::conformance_tests!(
        name: "state-generated",
        factory: super::make,
        capabilities: [atomic_edit, empty_directories, modified_time, snapshot],
    );
}

fn nothing(_: Fixture) -> CaseFuture {
    Box::pin(async {})
}

#[test]
#[should_panic(
    expected = "conformance_tests! lists capabilities [execute] but the subject \
                           declares [atomic_edit, empty_directories, modified_time, snapshot]"
)]
fn a_declaration_that_differs_from_the_backend_fails_the_test() {
    backend_conformance::__case_test(make, &[Capability::Execute], &[], nothing);
}

#[test]
fn a_declaration_in_another_order_is_the_same_declaration() {
    backend_conformance::__case_test(
        make,
        &[
            Capability::Snapshot,
            Capability::ModifiedTime,
            Capability::EmptyDirectories,
            Capability::AtomicEdit,
        ],
        &[],
        nothing,
    );
}
