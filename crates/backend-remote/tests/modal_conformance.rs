//! The shared conformance suite against Modal sandboxes on the local fake
//! Modal server (control plane and command router over gRPC).
#![cfg(feature = "modal")]

use std::sync::Arc;

use backend_conformance::Subject;
use backend_remote::modal::{ModalConfig, ModalSandbox};
use remote_fakes::modal::{FakeModal, TOKEN_ID, TOKEN_SECRET};

async fn make_modal() -> Subject {
    let fake = FakeModal::shared();
    let config = ModalConfig::new(TOKEN_ID, TOKEN_SECRET)
        .server_url(fake.api_url())
        .root_dir(fake.new_workdir());
    let sandbox = ModalSandbox::create(config)
        .await
        .unwrap_or_else(|e| panic!("could not create a sandbox on the fake Modal server: {e}"));
    Subject::sandbox(Arc::new(sandbox))
}

mod modal {
    backend_conformance::conformance_tests!(name: "modal", factory: super::make_modal);
}
