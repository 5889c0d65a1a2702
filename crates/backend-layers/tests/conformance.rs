//! The conformance suite through a stack of layers over the in-memory
//! backend: tracing, generous deadlines and generous byte caps must leave
//! every behaviour intact.

use std::sync::Arc;
use std::time::Duration;

use backend_conformance::Subject;
use backend_core::Backend;
use backend_layers::{ByteLimits, LayerExt, RetryPolicy, Timeouts};
use backend_state::StateBackend;

/// A fresh state backend under Limits, Timeout, ReadRetry and Traced
/// (innermost first: each attempt is timed, the caller's view is traced).
async fn make() -> Subject {
    let limits = ByteLimits::new()
        .max_read_bytes(64 << 20)
        .max_write_bytes(64 << 20);
    let layered: Arc<dyn Backend> = Arc::new(StateBackend::new())
        .with_limits(limits)
        .with_timeout(Timeouts::new(Duration::from_secs(60)))
        .with_read_retry(RetryPolicy::default())
        .traced("state");
    Subject::backend(layered)
}

backend_conformance::conformance_tests!(name: "layers", factory: make);
