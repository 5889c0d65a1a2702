//! A pool of warm sandboxes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use backend_core::{Error, ErrorKind, Operation, Result, Sandbox};
use tokio::sync::Mutex;
use tokio_util::task::TaskTracker;

use crate::config::DockerSandboxBuilder;
use crate::sandbox::DockerSandbox;

/// Inspects the warm sandboxes' containers (without holding the pool's
/// lock during the calls) and marks the running ones as checked, so that
/// `acquire` finds them within the bypass window; dead ones are left for
/// `acquire` to discard.
async fn check_warm(inner: &PoolInner) {
    let Some(docker) = inner.builder.docker.clone() else {
        return;
    };
    let ids: Vec<String> = inner
        .warm
        .lock()
        .await
        .iter()
        .map(|s| s.container.clone())
        .collect();
    let mut running = std::collections::HashSet::new();
    for id in ids {
        let info = docker.inspect_container(&id, None).await;
        if info.is_ok_and(|info| info.state.and_then(|s| s.running).unwrap_or(false)) {
            running.insert(id);
        }
    }
    for sandbox in inner.warm.lock().await.iter() {
        if running.contains(&sandbox.container) {
            sandbox.mark_ok();
        }
    }
}

/// A sandbox seen working this recently is not checked again on acquire.
const HEALTH_BYPASS: Duration = Duration::from_secs(1);

/// Keeps `size` sandboxes created and started, so that
/// [`acquire`](Self::acquire) hands one out at once.
///
/// A sandbox handed out is checked first (its container must be running;
/// one seen working within the last second counts: a background task
/// inspects the warm ones twice a second, and a reset counts too);
/// [`release`](Self::release) resets it (kills its processes, empties its
/// work directory and `/tmp`) and puts it back, or destroys it and warms a
/// new one when the reset fails. Cheap to clone (shared state).
///
/// # Example
/// ```no_run
/// # async fn demo() -> backend_core::Result<()> {
/// use backend_core::Sandbox;
/// use backend_docker::{DockerSandbox, SandboxPool};
/// let pool = SandboxPool::new(DockerSandbox::builder("agent-backend-test:busybox"), 4).await?;
/// let sandbox = pool.acquire().await?;
/// sandbox.execute(backend_core::ExecRequest::new("echo hi")).await?;
/// pool.release(sandbox).await;
/// pool.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SandboxPool {
    inner: Arc<PoolInner>,
}

#[derive(Debug)]
struct PoolInner {
    builder: DockerSandboxBuilder,
    size: usize,
    warm: Mutex<VecDeque<DockerSandbox>>,
    tasks: TaskTracker,
    closed: AtomicBool,
    /// Sandboxes being created to refill the pool.
    creating: AtomicUsize,
}

impl SandboxPool {
    /// Creates the pool and warms `size` sandboxes (concurrently).
    pub async fn new(mut builder: DockerSandboxBuilder, size: usize) -> Result<SandboxPool> {
        let docker = builder.connect().await?;
        builder = builder.docker(docker);
        let created = futures::future::join_all((0..size).map(|_| builder.clone().build())).await;
        let mut warm = VecDeque::with_capacity(size);
        let mut first_error = None;
        for sandbox in created {
            match sandbox {
                Ok(sandbox) => warm.push_back(sandbox),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        if let Some(e) = first_error {
            for sandbox in warm {
                let _ = sandbox.close().await;
            }
            return Err(e);
        }
        let pool = SandboxPool {
            inner: Arc::new(PoolInner {
                builder,
                size,
                warm: Mutex::new(warm),
                tasks: TaskTracker::new(),
                closed: AtomicBool::new(false),
                creating: AtomicUsize::new(0),
            }),
        };
        let weak = Arc::downgrade(&pool.inner);
        pool.inner.tasks.spawn(async move {
            let mut tick = tokio::time::interval(HEALTH_BYPASS / 2);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::Acquire) {
                    break;
                }
                check_warm(&inner).await;
            }
        });
        Ok(pool)
    }

    /// How many sandboxes are warm right now.
    pub async fn warm_count(&self) -> usize {
        self.inner.warm.lock().await.len()
    }

    /// A sandbox for exclusive use: a warm one at once, else a new one.
    /// Hand it back with [`release`](Self::release).
    pub async fn acquire(&self) -> Result<DockerSandbox> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(
                Error::new(ErrorKind::Unavailable, "the sandbox pool is shut down")
                    .with_operation(Operation::Other),
            );
        }
        loop {
            let next = self.inner.warm.lock().await.pop_front();
            let Some(sandbox) = next else { break };
            self.refill().await;
            // A sandbox seen working within the bypass window (its reset on
            // release, its creation) is handed out without another
            // round trip; older ones are inspected first.
            if sandbox.checked_within(HEALTH_BYPASS) || sandbox.is_healthy().await {
                return Ok(sandbox);
            }
            self.inner.tasks.spawn(async move {
                let _ = sandbox.close().await;
            });
        }
        self.inner.builder.clone().build().await
    }

    /// Takes a sandbox back: resets it and keeps it warm, or destroys it
    /// (warming a replacement) when the reset fails or the pool is full.
    pub async fn release(&self, sandbox: DockerSandbox) {
        if self.inner.closed.load(Ordering::Acquire) {
            let _ = sandbox.close().await;
            return;
        }
        if sandbox.reset().await.is_ok() {
            let mut warm = self.inner.warm.lock().await;
            if warm.len() < self.inner.size {
                // Most recently checked first.
                warm.push_front(sandbox);
                return;
            }
        } else {
            tracing::warn!(container = %sandbox.container_id(), "pool reset failed; replacing the sandbox");
            let _ = sandbox.close().await;
            self.refill().await;
            return;
        }
        let _ = sandbox.close().await;
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
            let created = inner.builder.clone().build().await;
            let mut warm = inner.warm.lock().await;
            inner.creating.fetch_sub(1, Ordering::AcqRel);
            match created {
                Ok(sandbox) => {
                    if inner.closed.load(Ordering::Acquire) || warm.len() >= inner.size {
                        drop(warm);
                        let _ = sandbox.close().await;
                    } else {
                        warm.push_back(sandbox);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "warming a pool sandbox failed"),
            }
        });
    }

    /// Removes every warm sandbox and waits for background work; sandboxes
    /// handed out stay their holders' to close (or are closed on release).
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        let drained: Vec<DockerSandbox> = self.inner.warm.lock().await.drain(..).collect();
        futures::future::join_all(drained.iter().map(|s| s.close())).await;
    }
}
