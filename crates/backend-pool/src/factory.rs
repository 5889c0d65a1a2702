//! What a pool or session manager needs of a kind of sandbox.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use async_trait::async_trait;
use backend_core::{Result, Sandbox};

/// Creates, resets, checks and destroys sandboxes of one kind, for a
/// [`SandboxPool`](crate::SandboxPool) or a
/// [`SessionManager`](crate::SessionManager).
///
/// The pool's background health check must not hold a warm sandbox while
/// it asks about it (that would keep it from being acquired), so it asks
/// through a [`Probe`](Self::Probe): a small handle taken from the sandbox
/// when it enters the pool (for Docker, its container id).
#[async_trait]
pub trait SandboxFactory: Send + Sync + 'static {
    /// The sandboxes made.
    type Sandbox: Send + Sync + 'static;
    /// What a health check needs of a sandbox without holding it.
    type Probe: Send + Sync + 'static;

    /// Called once by the pool's or manager's constructor, before the
    /// first creation, so that e.g. an engine that does not answer fails
    /// there and a connection made here is shared by every sandbox. By
    /// default does nothing.
    async fn prepare(&mut self) -> Result<()> {
        Ok(())
    }

    /// Creates and starts one sandbox; `session` names the key when a
    /// session manager asks (for labels, names), `None` for a pool.
    async fn create(&self, session: Option<&str>) -> Result<Self::Sandbox>;

    /// Readies a used sandbox for its next holder: `Ok(true)` when it was
    /// reset in place, `Ok(false)` when this kind cannot be reset (the pool
    /// destroys it and creates another), an error when the reset failed
    /// (the same, logged).
    async fn reset(&self, sandbox: &Self::Sandbox) -> Result<bool>;

    /// Releases everything the sandbox holds. Failures are the factory's to
    /// log: the pool has nothing left to do with the sandbox.
    async fn destroy(&self, sandbox: &Self::Sandbox);

    /// The handle [`is_healthy`](Self::is_healthy) checks `sandbox` by.
    fn probe(&self, sandbox: &Self::Sandbox) -> Self::Probe;

    /// Whether the sandbox behind `probe` still works (should be cheap: the
    /// pool asks about every warm sandbox twice a second).
    async fn is_healthy(&self, probe: &Self::Probe) -> bool;
}

/// A factory from a closure creating sandboxes: any [`Sandbox`] (local,
/// remote) gets a pool and sessions.
///
/// Its sandboxes cannot be reset in place: a released one is closed and a
/// new one created, so a holder never sees another's files or processes.
/// The health check counts every warm sandbox as healthy (a sandbox
/// stays warm only between its creation and its first holder); implement [`SandboxFactory`] for a kind that can be asked more
/// cheaply or reset faster.
///
/// The closure gets the session key (`None` for a pool) and returns a
/// future of the new sandbox.
pub struct FnFactory<S, C> {
    create: C,
    made: PhantomData<fn() -> S>,
}

impl<S, C> FnFactory<S, C> {
    /// A factory calling `create` for each new sandbox.
    pub fn new<Fut>(create: C) -> Self
    where
        C: Fn(Option<String>) -> Fut,
        Fut: Future<Output = Result<S>>,
    {
        FnFactory {
            create,
            made: PhantomData,
        }
    }
}

impl<S, C> fmt::Debug for FnFactory<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnFactory")
            .field("sandbox", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S, C, Fut> SandboxFactory for FnFactory<S, C>
where
    S: Sandbox + 'static,
    C: Fn(Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S>> + Send + 'static,
{
    type Sandbox = S;
    type Probe = ();

    async fn create(&self, session: Option<&str>) -> Result<S> {
        (self.create)(session.map(str::to_owned)).await
    }

    async fn reset(&self, _sandbox: &S) -> Result<bool> {
        Ok(false)
    }

    async fn destroy(&self, sandbox: &S) {
        if let Err(e) = sandbox.close().await {
            tracing::warn!(sandbox = sandbox.id(), error = %e, "closing a pooled sandbox failed");
        }
    }

    fn probe(&self, _sandbox: &S) -> Self::Probe {}

    async fn is_healthy(&self, _probe: &()) -> bool {
        true
    }
}
