//! One sandbox per user or session key.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backend_core::{Error, ErrorKind, Operation, Result};
use moka::future::Cache;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::factory::SandboxFactory;

/// Gives each session key its own sandbox: created once even when many
/// requests for a new key arrive together, removed after it has been idle
/// for a while, with a cap on live sessions.
///
/// A background task drives the cache's pending work (expiry) every
/// `maintenance_interval`; evicted sandboxes are destroyed by spawned
/// tasks (holders of the `Arc` find theirs closed). [`shutdown`](Self::shutdown)
/// removes every sandbox and waits.
///
/// Must be created inside a Tokio runtime.
///
/// # Example
/// ```no_run
/// # async fn demo() -> backend_core::Result<()> {
/// use backend_core::BackendExt;
/// use backend_local::LocalSandbox;
/// use backend_pool::{FnFactory, SessionManager};
///
/// let manager = SessionManager::builder(FnFactory::new(|_key| async { LocalSandbox::temporary() }))
///     .max_sessions(8)
///     .build()
///     .await?;
/// let mine = manager.get_or_create("alice").await?;
/// mine.write_str("/notes.txt", "hi").await?;
/// manager.shutdown().await;
/// # Ok(()) }
/// ```
pub struct SessionManager<F: SandboxFactory> {
    cache: Cache<String, Arc<F::Sandbox>>,
    factory: Arc<F>,
    live: Arc<AtomicUsize>,
    max_sessions: usize,
    removals: TaskTracker,
    ticker: JoinHandle<()>,
}

impl<F: SandboxFactory + fmt::Debug> fmt::Debug for SessionManager<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("factory", &self.factory)
            .field("live", &self.live.load(Ordering::Acquire))
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`SessionManager`].
#[derive(Debug, Clone)]
pub struct SessionManagerBuilder<F> {
    factory: F,
    idle_timeout: Duration,
    max_sessions: usize,
    maintenance_interval: Duration,
}

impl<F: SandboxFactory> SessionManagerBuilder<F> {
    /// Removes a session's sandbox after it has gone unused this long
    /// (default 15 minutes).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// The most live sessions (default 64); more is `quota_exceeded`.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max;
        self
    }

    /// How often expired sessions are looked for (default 1 s).
    pub fn maintenance_interval(mut self, every: Duration) -> Self {
        self.maintenance_interval = every;
        self
    }

    /// Starts the manager (and its maintenance task).
    pub async fn build(mut self) -> Result<SessionManager<F>> {
        self.factory.prepare().await?;
        let factory = Arc::new(self.factory);
        let live = Arc::new(AtomicUsize::new(0));
        let removals = TaskTracker::new();
        let handle = tokio::runtime::Handle::current();
        let (listener_live, listener_tasks, listener_factory) =
            (live.clone(), removals.clone(), factory.clone());
        let cache: Cache<String, Arc<F::Sandbox>> = Cache::builder()
            .time_to_idle(self.idle_timeout)
            .eviction_listener(move |_key, sandbox: Arc<F::Sandbox>, _cause| {
                listener_live.fetch_sub(1, Ordering::AcqRel);
                let factory = listener_factory.clone();
                // The listener must not block: removal happens in a task.
                listener_tasks.spawn_on(async move { factory.destroy(&sandbox).await }, &handle);
            })
            .build();
        let ticking = cache.clone();
        let every = self.maintenance_interval;
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            loop {
                interval.tick().await;
                ticking.run_pending_tasks().await;
            }
        });
        Ok(SessionManager {
            cache,
            factory,
            live,
            max_sessions: self.max_sessions,
            removals,
            ticker,
        })
    }
}

impl<F: SandboxFactory> SessionManager<F> {
    /// Settings for a manager creating sandboxes with `factory`.
    pub fn builder(factory: F) -> SessionManagerBuilder<F> {
        SessionManagerBuilder {
            factory,
            idle_timeout: Duration::from_secs(15 * 60),
            max_sessions: 64,
            maintenance_interval: Duration::from_secs(1),
        }
    }

    /// The factory the manager creates its sandboxes with.
    pub fn factory(&self) -> &F {
        &self.factory
    }

    /// The sandbox of `key`, created on first use (the factory is told the
    /// key). Concurrent calls for a new key wait for one creation. Beyond
    /// the cap: `quota_exceeded` (retryable: sessions expire).
    pub async fn get_or_create(&self, key: &str) -> Result<Arc<F::Sandbox>> {
        let init = async {
            let taken = self.live.fetch_add(1, Ordering::AcqRel);
            if taken >= self.max_sessions {
                self.live.fetch_sub(1, Ordering::AcqRel);
                return Err(Error::new(
                    ErrorKind::QuotaExceeded,
                    format!(
                        "{} sessions are live, the most allowed; close one or wait for idle sessions to expire",
                        self.max_sessions
                    ),
                )
                .with_operation(Operation::Other)
                .with_retryable(true));
            }
            match self.factory.create(Some(key)).await {
                Ok(sandbox) => Ok(Arc::new(sandbox)),
                Err(e) => {
                    self.live.fetch_sub(1, Ordering::AcqRel);
                    Err(e)
                }
            }
        };
        self.cache
            .try_get_with(key.to_owned(), init)
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    /// How many sessions are live.
    pub fn live_sessions(&self) -> usize {
        self.live.load(Ordering::Acquire)
    }

    /// Ends one session now, removing its sandbox.
    pub async fn remove(&self, key: &str) {
        self.cache.invalidate(key).await;
        self.cache.run_pending_tasks().await;
    }

    /// Removes every session's sandbox and waits until they are gone.
    pub async fn shutdown(&self) {
        self.ticker.abort();
        self.cache.invalidate_all();
        self.cache.run_pending_tasks().await;
        self.removals.close();
        self.removals.wait().await;
    }
}

impl<F: SandboxFactory> Drop for SessionManager<F> {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}
