//! Layers: wrappers that add one cross-cutting behaviour to any
//! [`Backend`], and stay a [`Sandbox`](backend_core::Sandbox) when the backend they wrap is one.
//!
//! - [`ReadOnly`] refuses every change (and commands) with
//!   `permission_denied`.
//! - [`Traced`] opens one `tracing` span per operation.
//! - [`Timeout`] gives each operation a deadline (`timeout`).
//! - [`Limits`] caps the bytes read and stored (`too_large`).
//! - [`ReadRetry`] retries the operations that only read.
//!
//! Each is built on [`ForwardBackend`](backend_core::ForwardBackend) and
//! [`ForwardSandbox`](backend_core::ForwardSandbox): it overrides only what
//! it changes, and everything else, including the provided `read`,
//! `upload_files` and `download_files`, reaches the inner backend's own
//! version. [`LayerExt`] stacks them on an `Arc` of any backend or sandbox;
//! the first layer applied is the innermost.
//!
//! # Example
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_core::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use backend_core::{Backend, BackendExt, Operation};
//! use backend_layers::{ByteLimits, LayerExt, RetryPolicy, Timeouts};
//! use backend_state::StateBackend;
//!
//! let files = Arc::new(StateBackend::new());
//! files.write_str("/notes.md", "ship it\n").await?;
//!
//! let layered: Arc<dyn Backend> = files
//!     .with_limits(ByteLimits::new().max_read_bytes(1 << 20))
//!     .with_timeout(Timeouts::new(Duration::from_secs(30)).with(Operation::Grep, Duration::from_secs(120)))
//!     .with_read_retry(RetryPolicy::default())
//!     .traced("notes")
//!     .read_only();
//!
//! assert_eq!(layered.read_to_string("/notes.md").await?, "ship it\n");
//! let refused = layered.write_str("/notes.md", "").await.unwrap_err();
//! assert_eq!(refused.code(), "permission_denied");
//! # Ok(())
//! # }
//! ```
//!
//! # Notes
//! Order matters where layers interact: put [`Timeout`] inside a retrying
//! layer so that each attempt is timed, and [`Traced`] outside the others
//! to see what the caller sees (or inside, to see each attempt).

use std::sync::Arc;

use backend_core::Backend;
/// How [`ReadRetry`] retries; re-exported from `backend_core::retry`.
pub use backend_core::retry::RetryPolicy;

mod limits;
mod read_only;
mod read_retry;
mod timeout;
mod traced;

pub use limits::{ByteLimits, Limits};
pub use read_only::ReadOnly;
pub use read_retry::ReadRetry;
pub use timeout::{DEFAULT_OPERATION_TIMEOUT, Timeout, Timeouts};
pub use traced::{SPAN_NAME, Traced};

/// Stacks layers on an `Arc` of any backend or sandbox.
///
/// Each method wraps `self` in one layer and returns it in an `Arc`; the
/// result is a [`Backend`], and a [`Sandbox`](backend_core::Sandbox) when `self` is one, so it
/// coerces to `Arc<dyn Backend>` or `Arc<dyn Sandbox>`.
pub trait LayerExt {
    /// The wrapped type (such as `dyn Sandbox` or `StateBackend`).
    type Wrapped: ?Sized;

    /// Wraps in [`ReadOnly`].
    fn read_only(self) -> Arc<ReadOnly<Self::Wrapped>>;

    /// Wraps in [`Traced`], whose spans carry `backend = name`.
    fn traced(self, name: impl Into<String>) -> Arc<Traced<Self::Wrapped>>;

    /// Wraps in [`Timeout`] (a `Duration` sets one deadline for all).
    fn with_timeout(self, timeouts: impl Into<Timeouts>) -> Arc<Timeout<Self::Wrapped>>;

    /// Wraps in [`Limits`].
    fn with_limits(self, limits: ByteLimits) -> Arc<Limits<Self::Wrapped>>;

    /// Wraps in [`ReadRetry`].
    fn with_read_retry(self, policy: RetryPolicy) -> Arc<ReadRetry<Self::Wrapped>>;
}

impl<B: Backend + ?Sized> LayerExt for Arc<B> {
    type Wrapped = B;

    fn read_only(self) -> Arc<ReadOnly<B>> {
        Arc::new(ReadOnly::new(self))
    }

    fn traced(self, name: impl Into<String>) -> Arc<Traced<B>> {
        Arc::new(Traced::new(self, name))
    }

    fn with_timeout(self, timeouts: impl Into<Timeouts>) -> Arc<Timeout<B>> {
        Arc::new(Timeout::new(self, timeouts.into()))
    }

    fn with_limits(self, limits: ByteLimits) -> Arc<Limits<B>> {
        Arc::new(Limits::new(self, limits))
    }

    fn with_read_retry(self, policy: RetryPolicy) -> Arc<ReadRetry<B>> {
        Arc::new(ReadRetry::new(self, policy))
    }
}
