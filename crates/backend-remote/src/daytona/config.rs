//! Daytona configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_core::Result;

use crate::http::{ApiKey, RetryPolicy, Timeouts, optional_env, required_env};

/// How to reach Daytona and what sandbox to create. Build it with
/// [`DaytonaConfig::new`] or [`DaytonaConfig::from_env`] and the chained
/// setters.
#[derive(Debug, Clone)]
pub struct DaytonaConfig {
    pub(crate) api_key: ApiKey,
    pub(crate) api_url: String,
    pub(crate) target: Option<String>,
    pub(crate) snapshot: Option<String>,
    pub(crate) cpu: Option<u32>,
    pub(crate) memory_gib: Option<u32>,
    pub(crate) disk_gib: Option<u32>,
    pub(crate) auto_stop_minutes: Option<u32>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) root_dir: String,
    pub(crate) start_timeout: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryPolicy,
}

impl DaytonaConfig {
    /// The defaults for `api_key`: `https://app.daytona.io/api`, the default
    /// snapshot, files under `/home/daytona/workspace`, two minutes to start.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        let mut labels = BTreeMap::new();
        labels.insert("created-by".to_owned(), "backend-remote".to_owned());
        DaytonaConfig {
            api_key: api_key.into(),
            api_url: "https://app.daytona.io/api".to_owned(),
            target: None,
            snapshot: None,
            cpu: None,
            memory_gib: None,
            disk_gib: None,
            auto_stop_minutes: Some(30),
            env: BTreeMap::new(),
            labels,
            root_dir: "/home/daytona/workspace".to_owned(),
            start_timeout: Duration::from_secs(120),
            poll_interval: Duration::from_millis(250),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads `DAYTONA_API_KEY` (required), `DAYTONA_API_URL` and
    /// `DAYTONA_TARGET`.
    pub fn from_env() -> Result<Self> {
        let mut config = DaytonaConfig::new(required_env("DAYTONA_API_KEY", "Daytona")?);
        if let Some(url) = optional_env("DAYTONA_API_URL") {
            config.api_url = url.trim_end_matches('/').to_owned();
        }
        config.target = optional_env("DAYTONA_TARGET");
        Ok(config)
    }

    /// The API base URL (ending in `/api` for Daytona Cloud).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The region (`us`, `eu`, ...).
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The snapshot (image) to start from.
    pub fn snapshot(mut self, snapshot: impl Into<String>) -> Self {
        self.snapshot = Some(snapshot.into());
        self
    }

    /// CPU cores, memory and disk in GiB.
    pub fn resources(mut self, cpu: u32, memory_gib: u32, disk_gib: u32) -> Self {
        self.cpu = Some(cpu);
        self.memory_gib = Some(memory_gib);
        self.disk_gib = Some(disk_gib);
        self
    }

    /// Minutes of inactivity before Daytona stops the sandbox (0: never).
    pub fn auto_stop_minutes(mut self, minutes: u32) -> Self {
        self.auto_stop_minutes = Some(minutes);
        self
    }

    /// Adds an environment variable for the sandbox.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Adds a label (used to find and reap leftovers).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub fn root_dir(mut self, dir: impl Into<String>) -> Self {
        self.root_dir = dir.into();
        self
    }

    /// How long to wait for the sandbox to reach `started`.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How often to poll while waiting (for the sandbox or a command).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
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
