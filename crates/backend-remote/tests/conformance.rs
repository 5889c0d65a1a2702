//! The shared conformance suite against each provider's fake server. Every
//! case gets a fresh fake (its own port and temporary directory) and a
//! fresh sandbox on it.

#[cfg(any(feature = "e2b", feature = "daytona", feature = "runloop"))]
use std::sync::Arc;
#[cfg(any(feature = "e2b", feature = "daytona", feature = "runloop"))]
use std::time::Duration;

#[cfg(any(feature = "e2b", feature = "daytona", feature = "runloop"))]
use backend_conformance::Subject;

/// Quick retries, so that faults never slow the suite down.
#[cfg(any(feature = "e2b", feature = "daytona", feature = "runloop"))]
fn fast_retries() -> backend_remote::RetryPolicy {
    backend_remote::RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_secs(1),
        ..Default::default()
    }
}

#[cfg(feature = "e2b")]
async fn make_e2b() -> Subject {
    use backend_remote::e2b::{E2bConfig, E2bSandbox};
    let fake = remote_fakes::e2b::FakeE2b::start().await;
    let config = E2bConfig::new(fake.api_key())
        .api_url(fake.api_url())
        .envd_url(fake.envd_url())
        .root_dir(fake.new_workdir())
        .retry(fast_retries());
    let sandbox = E2bSandbox::create(config)
        .await
        .unwrap_or_else(|e| panic!("cannot create a sandbox on the E2B fake: {e}"));
    Subject::sandbox(Arc::new(sandbox))
}

#[cfg(feature = "daytona")]
async fn make_daytona() -> Subject {
    use backend_remote::daytona::{DaytonaConfig, DaytonaSandbox};
    let fake = remote_fakes::daytona::FakeDaytona::start().await;
    let config = DaytonaConfig::new(fake.api_key())
        .api_url(fake.api_url())
        .root_dir(fake.new_workdir())
        .poll_interval(Duration::from_millis(10))
        .retry(fast_retries());
    let sandbox = DaytonaSandbox::create(config)
        .await
        .unwrap_or_else(|e| panic!("cannot create a sandbox on the Daytona fake: {e}"));
    Subject::sandbox(Arc::new(sandbox))
}

#[cfg(feature = "runloop")]
async fn make_runloop() -> Subject {
    use backend_remote::runloop::{RunloopConfig, RunloopSandbox};
    let fake = remote_fakes::runloop::FakeRunloop::start().await;
    let config = RunloopConfig::new(fake.api_key())
        .api_url(fake.base_url())
        .root_dir(fake.new_workdir())
        .retry(fast_retries());
    let sandbox = RunloopSandbox::create(config)
        .await
        .unwrap_or_else(|e| panic!("cannot create a devbox on the Runloop fake: {e}"));
    Subject::sandbox(Arc::new(sandbox))
}

#[cfg(feature = "e2b")]
mod e2b {
    backend_conformance::conformance_tests!(
        name: "e2b",
        factory: super::make_e2b,
        capabilities: [execute, execute_streaming, atomic_edit, empty_directories, modified_time],
    );
}

#[cfg(feature = "daytona")]
mod daytona {
    backend_conformance::conformance_tests!(
        name: "daytona",
        factory: super::make_daytona,
        capabilities: [execute, atomic_edit, empty_directories, modified_time],
    );
}

#[cfg(feature = "runloop")]
mod runloop {
    backend_conformance::conformance_tests!(
        name: "runloop",
        factory: super::make_runloop,
        capabilities: [execute, atomic_edit, empty_directories, modified_time],
    );
}

/// Modal (experimental): one fake Modal server for the whole run, serving
/// its own runtime; every case gets a fresh sandbox (and directory) on it.
#[cfg(feature = "modal")]
mod modal {
    use std::sync::Arc;

    use backend_conformance::Subject;
    use backend_remote::modal::{ModalConfig, ModalSandbox};
    use remote_fakes::modal::{FakeModal, TOKEN_ID, TOKEN_SECRET};

    async fn make_modal() -> Subject {
        let fake = FakeModal::shared();
        let config = ModalConfig::new(TOKEN_ID, TOKEN_SECRET)
            .api_url(fake.api_url())
            .root_dir(fake.new_workdir());
        let sandbox = ModalSandbox::create(config)
            .await
            .unwrap_or_else(|e| panic!("cannot create a sandbox on the Modal fake: {e}"));
        Subject::sandbox(Arc::new(sandbox))
    }

    backend_conformance::conformance_tests!(
        name: "modal",
        factory: make_modal,
        capabilities: [execute, execute_streaming, atomic_edit, empty_directories, modified_time],
    );
}
