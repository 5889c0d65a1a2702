//! One sandbox per user or session key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backend_core::{Error, ErrorKind, Operation, Result, Sandbox};
use moka::future::Cache;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::config::DockerSandboxBuilder;
use crate::sandbox::DockerSandbox;

/// Gives each session key its own sandbox: created once even when many
/// requests for a new key arrive together, removed after it has been idle
/// for a while, with a cap on live sessions.
///
/// A background task drives the cache's pending work (expiry) every
/// `maintenance_interval`; evicted sandboxes are closed by spawned tasks.
/// [`shutdown`](Self::shutdown) removes every sandbox and waits.
///
/// Must be created inside a Tokio runtime.
#[derive(Debug)]
pub struct SessionManager {
    cache: Cache<String, Arc<DockerSandbox>>,
    builder: DockerSandboxBuilder,
    live: Arc<AtomicUsize>,
    max_sessions: usize,
    removals: TaskTracker,
    ticker: JoinHandle<()>,
}

/// Settings of a [`SessionManager`].
#[derive(Debug, Clone)]
pub struct SessionManagerBuilder {
    builder: DockerSandboxBuilder,
    idle_timeout: Duration,
    max_sessions: usize,
    maintenance_interval: Duration,
}

impl SessionManagerBuilder {
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
    pub async fn build(self) -> Result<SessionManager> {
        let mut builder = self.builder;
        let docker = builder.connect().await?;
        builder = builder.docker(docker);
        let live = Arc::new(AtomicUsize::new(0));
        let removals = TaskTracker::new();
        let handle = tokio::runtime::Handle::current();
        let (listener_live, listener_tasks) = (live.clone(), removals.clone());
        let cache: Cache<String, Arc<DockerSandbox>> = Cache::builder()
            .time_to_idle(self.idle_timeout)
            .eviction_listener(move |_key, sandbox: Arc<DockerSandbox>, _cause| {
                listener_live.fetch_sub(1, Ordering::AcqRel);
                // The listener must not block: removal happens in a task.
                listener_tasks.spawn_on(
                    async move {
                        if let Err(e) = sandbox.close().await {
                            tracing::warn!(error = %e, "removing a session sandbox failed");
                        }
                    },
                    &handle,
                );
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
            builder,
            live,
            max_sessions: self.max_sessions,
            removals,
            ticker,
        })
    }
}

impl SessionManager {
    /// Settings for a manager creating sandboxes with `builder`.
    pub fn builder(builder: DockerSandboxBuilder) -> SessionManagerBuilder {
        SessionManagerBuilder {
            builder,
            idle_timeout: Duration::from_secs(15 * 60),
            max_sessions: 64,
            maintenance_interval: Duration::from_secs(1),
        }
    }

    /// The sandbox of `key`, created on first use. Concurrent calls for a
    /// new key wait for one creation. Beyond the cap: `quota_exceeded`.
    pub async fn get_or_create(&self, key: &str) -> Result<Arc<DockerSandbox>> {
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
            match self.builder.clone().session(key).build().await {
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

impl Drop for SessionManager {
    fn drop(&mut self) {
        self.ticker.abort();
    }
}
