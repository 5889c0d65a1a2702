//! Runloop configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_core::Result;

use crate::http::{ApiKey, RetryPolicy, Timeouts, optional_env, required_env};

/// How to reach Runloop and what devbox to create. Build it with
/// [`RunloopConfig::new`] or [`RunloopConfig::from_env`] and the chained
/// setters.
#[derive(Debug, Clone)]
pub struct RunloopConfig {
    pub(crate) api_key: ApiKey,
    pub(crate) base_url: String,
    pub(crate) blueprint_name: Option<String>,
    pub(crate) blueprint_id: Option<String>,
    pub(crate) snapshot_id: Option<String>,
    pub(crate) resource_size: Option<String>,
    pub(crate) keep_alive: Duration,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) root_dir: String,
    pub(crate) start_timeout: Duration,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryPolicy,
}

impl RunloopConfig {
    /// The defaults for `api_key`: `https://api.runloop.ai`, the default
    /// image, a 30-minute keep-alive, files under `/home/user/workspace`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        let mut metadata = BTreeMap::new();
        metadata.insert("created-by".to_owned(), "backend-remote".to_owned());
        RunloopConfig {
            api_key: api_key.into(),
            base_url: "https://api.runloop.ai".to_owned(),
            blueprint_name: None,
            blueprint_id: None,
            snapshot_id: None,
            resource_size: None,
            keep_alive: Duration::from_secs(30 * 60),
            env: BTreeMap::new(),
            metadata,
            root_dir: "/home/user/workspace".to_owned(),
            start_timeout: Duration::from_secs(300),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads `RUNLOOP_API_KEY` (required) and `RUNLOOP_BASE_URL`.
    pub fn from_env() -> Result<Self> {
        let mut config = RunloopConfig::new(required_env("RUNLOOP_API_KEY", "Runloop")?);
        if let Some(url) = optional_env("RUNLOOP_BASE_URL") {
            config.base_url = url.trim_end_matches('/').to_owned();
        }
        Ok(config)
    }

    /// The API base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// Starts from the latest build of the blueprint with this name.
    pub fn blueprint_name(mut self, name: impl Into<String>) -> Self {
        self.blueprint_name = Some(name.into());
        self
    }

    /// Starts from this blueprint id.
    pub fn blueprint_id(mut self, id: impl Into<String>) -> Self {
        self.blueprint_id = Some(id.into());
        self
    }

    /// Starts from this disk snapshot.
    pub fn snapshot_id(mut self, id: impl Into<String>) -> Self {
        self.snapshot_id = Some(id.into());
        self
    }

    /// The resource size (`X_SMALL`, `SMALL`, `MEDIUM`, `LARGE`, ...).
    pub fn resource_size(mut self, size: impl Into<String>) -> Self {
        self.resource_size = Some(size.into());
        self
    }

    /// How long the devbox stays up while idle.
    pub fn keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// Adds an environment variable for the devbox.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Adds a metadata label (used to find and reap leftovers).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The directory inside the devbox where the virtual `/` lives.
    pub fn root_dir(mut self, dir: impl Into<String>) -> Self {
        self.root_dir = dir.into();
        self
    }

    /// How long to wait for the devbox to be `running`.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// HTTP timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Retry policy for calls that are safe to repeat.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}
