//! A pool of warm sandboxes.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backend_core::{Error, ErrorKind, Operation, Result};
use tokio::sync::Mutex;
use tokio_util::task::TaskTracker;

use crate::factory::SandboxFactory;

/// A sandbox seen working this recently (created, reset, or found healthy
/// by the background check) is handed out without asking the factory
/// again; the background check runs twice per this window.
pub const HEALTH_BYPASS: Duration = Duration::from_secs(1);

/// One warm sandbox with what the health check needs of it.
struct Warm<F: SandboxFactory> {
    /// Tells this entry apart while the health check runs unlocked.
    id: u64,
    sandbox: F::Sandbox,
    probe: Arc<F::Probe>,
    /// When it was last seen working.
    checked: Instant,
}

/// Keeps `size` sandboxes created and started, so that
/// [`acquire`](Self::acquire) hands one out at once.
///
/// A sandbox handed out is checked first (the factory's
/// [`is_healthy`](SandboxFactory::is_healthy); one seen working within
/// [`HEALTH_BYPASS`] counts: a background task checks the warm ones twice
/// a second, and a creation or reset counts too);
/// [`release`](Self::release) resets it through the factory and puts it
/// back, or destroys it and warms a new one when it cannot be reset. Refills
/// run in the background, never more at once than the pool lacks. Cheap to
/// clone (shared state).
///
/// # Example
/// ```no_run
/// # async fn demo() -> backend_core::Result<()> {
/// use backend_core::{ExecRequest, Sandbox};
/// use backend_local::LocalSandbox;
/// use backend_pool::{FnFactory, SandboxPool};
///
/// let pool = SandboxPool::new(FnFactory::new(|_| async { LocalSandbox::temporary() }), 4).await?;
/// let sandbox = pool.acquire().await?;
/// sandbox.execute(ExecRequest::new("echo hi")).await?;
/// pool.release(sandbox).await;
/// pool.shutdown().await;
/// # Ok(()) }
/// ```
pub struct SandboxPool<F: SandboxFactory> {
    inner: Arc<PoolInner<F>>,
}

impl<F: SandboxFactory> Clone for SandboxPool<F> {
    fn clone(&self) -> Self {
        SandboxPool {
            inner: self.inner.clone(),
        }
    }
}

impl<F: SandboxFactory + fmt::Debug> fmt::Debug for SandboxPool<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxPool")
            .field("factory", &self.inner.factory)
            .field("size", &self.inner.size)
            .field("closed", &self.inner.closed.load(Ordering::Acquire))
            .field("creating", &self.inner.creating.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

struct PoolInner<F: SandboxFactory> {
    factory: F,
    size: usize,
    warm: Mutex<VecDeque<Warm<F>>>,
    tasks: TaskTracker,
    closed: AtomicBool,
    /// Sandboxes being created to refill the pool.
    creating: AtomicUsize,
    next_id: AtomicU64,
}

impl<F: SandboxFactory> PoolInner<F> {
    fn warm(&self, sandbox: F::Sandbox) -> Warm<F> {
        Warm {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            probe: Arc::new(self.factory.probe(&sandbox)),
            sandbox,
            checked: Instant::now(),
        }
    }

    /// Checks the warm sandboxes (without holding the lock during the
    /// checks) and marks the healthy ones as checked, so that `acquire`
    /// finds them within the bypass window; failing ones are left for
    /// `acquire` to discard.
    async fn check_warm(&self) {
        let probes: Vec<(u64, Arc<F::Probe>)> = self
            .warm
            .lock()
            .await
            .iter()
            .map(|w| (w.id, w.probe.clone()))
            .collect();
        let mut healthy = HashSet::new();
        for (id, probe) in probes {
            if self.factory.is_healthy(&probe).await {
                healthy.insert(id);
            }
        }
        let now = Instant::now();
        for warm in self.warm.lock().await.iter_mut() {
            if healthy.contains(&warm.id) {
                warm.checked = now;
            }
        }
    }
}

impl<F: SandboxFactory> SandboxPool<F> {
    /// Creates the pool and warms `size` sandboxes (concurrently); the
    /// first failure is returned after the others are destroyed.
    pub async fn new(mut factory: F, size: usize) -> Result<SandboxPool<F>> {
        factory.prepare().await?;
        let created = futures::future::join_all((0..size).map(|_| factory.create(None))).await;
        let mut made = Vec::with_capacity(size);
        let mut first_error = None;
        for sandbox in created {
            match sandbox {
                Ok(sandbox) => made.push(sandbox),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        if let Some(e) = first_error {
            futures::future::join_all(made.iter().map(|s| factory.destroy(s))).await;
            return Err(e);
        }
        let inner = Arc::new(PoolInner {
            factory,
            size,
            warm: Mutex::new(VecDeque::with_capacity(size)),
            tasks: TaskTracker::new(),
            closed: AtomicBool::new(false),
            creating: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        });
        inner
            .warm
            .lock()
            .await
            .extend(made.into_iter().map(|s| inner.warm(s)));
        let weak = Arc::downgrade(&inner);
        inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_BYPASS / 2);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::Acquire) {
                    break;
                }
                inner.check_warm().await;
            }
        });
        Ok(SandboxPool { inner })
    }

    /// The factory the pool creates its sandboxes with.
    pub fn factory(&self) -> &F {
        &self.inner.factory
    }

    /// How many sandboxes the pool keeps warm.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// How many sandboxes are warm right now.
    pub async fn warm_count(&self) -> usize {
        self.inner.warm.lock().await.len()
    }

    /// A sandbox for exclusive use: a warm one at once, else a new one.
    /// Hand it back with [`release`](Self::release). After
    /// [`shutdown`](Self::shutdown): `unavailable`.
    pub async fn acquire(&self) -> Result<F::Sandbox> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(
                Error::new(ErrorKind::Unavailable, "the sandbox pool is shut down")
                    .with_operation(Operation::Other),
            );
        }
        loop {
            let next = self.inner.warm.lock().await.pop_front();
            let Some(warm) = next else { break };
            self.refill().await;
            // A sandbox seen working within the bypass window (its reset on
            // release, its creation, the background check) is handed out
            // without another round trip; older ones are checked first.
            if warm.checked.elapsed() < HEALTH_BYPASS
                || self.inner.factory.is_healthy(&warm.probe).await
            {
                return Ok(warm.sandbox);
            }
            let inner = self.inner.clone();
            self.inner.tasks.spawn(async move {
                inner.factory.destroy(&warm.sandbox).await;
            });
        }
        self.inner.factory.create(None).await
    }

    /// Takes a sandbox back: resets it and keeps it warm, or destroys it
    /// (warming a replacement) when it cannot be reset, or destroys it when
    /// the pool is full or shut down.
    pub async fn release(&self, sandbox: F::Sandbox) {
        let inner = &self.inner;
        if inner.closed.load(Ordering::Acquire) {
            inner.factory.destroy(&sandbox).await;
            return;
        }
        match inner.factory.reset(&sandbox).await {
            Ok(true) => {
                let mut warm = inner.warm.lock().await;
                if warm.len() < inner.size {
                    // Most recently checked first.
                    let entry = inner.warm(sandbox);
                    warm.push_front(entry);
                    return;
                }
                drop(warm);
                inner.factory.destroy(&sandbox).await;
            }
            Ok(false) => {
                inner.factory.destroy(&sandbox).await;
                self.refill().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "pool reset failed; replacing the sandbox");
                inner.factory.destroy(&sandbox).await;
                self.refill().await;
            }
        }
    }

    /// Starts creating one sandbox in the background when the warm ones
    /// and those already being created fall short of the size.
    async fn refill(&self) {
        let inner = self.inner.clone();
        {
            let warm = inner.warm.lock().await;
            let creating = inner.creating.load(Ordering::Acquire);
            if inner.closed.load(Ordering::Acquire) || warm.len() + creating >= inner.size {
                return;
            }
            inner.creating.fetch_add(1, Ordering::AcqRel);
        }
        self.inner.tasks.spawn(async move {
            let created = inner.factory.create(None).await;
            let mut warm = inner.warm.lock().await;
            inner.creating.fetch_sub(1, Ordering::AcqRel);
            match created {
                Ok(sandbox) => {
                    if inner.closed.load(Ordering::Acquire) || warm.len() >= inner.size {
                        drop(warm);
                        inner.factory.destroy(&sandbox).await;
                    } else {
                        let entry = inner.warm(sandbox);
                        warm.push_back(entry);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "warming a pool sandbox failed"),
            }
        });
    }

    /// Destroys every warm sandbox and waits for background work;
    /// sandboxes handed out stay their holders' to close (or are destroyed
    /// on release).
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::Release);
        inner.tasks.close();
        inner.tasks.wait().await;
        let drained: Vec<Warm<F>> = inner.warm.lock().await.drain(..).collect();
        futures::future::join_all(drained.iter().map(|w| inner.factory.destroy(&w.sandbox))).await;
    }
}
