//! E2B configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_core::Result;

use crate::http::{ApiKey, RetryPolicy, Timeouts, optional_env, required_env};

/// How to reach E2B and what sandbox to create. Build it with
/// [`E2bConfig::new`] or [`E2bConfig::from_env`] and the chained setters.
#[derive(Debug, Clone)]
pub struct E2bConfig {
    pub(crate) api_key: ApiKey,
    pub(crate) api_url: String,
    pub(crate) domain: String,
    pub(crate) envd_url: Option<String>,
    pub(crate) template: String,
    pub(crate) lifetime: Duration,
    pub(crate) metadata: BTreeMap<String, String>,
    pub(crate) env_vars: BTreeMap<String, String>,
    pub(crate) root_dir: String,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryPolicy,
}

impl E2bConfig {
    /// The defaults for `api_key`: `https://api.e2b.app`, template `base`,
    /// a 30-minute lifetime, files under `/home/user/workspace`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        let mut metadata = BTreeMap::new();
        metadata.insert("created-by".to_owned(), "backend-remote".to_owned());
        E2bConfig {
            api_key: api_key.into(),
            api_url: "https://api.e2b.app".to_owned(),
            domain: "e2b.app".to_owned(),
            envd_url: None,
            template: "base".to_owned(),
            lifetime: Duration::from_secs(30 * 60),
            metadata,
            env_vars: BTreeMap::new(),
            root_dir: "/home/user/workspace".to_owned(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads `E2B_API_KEY` (required), `E2B_DOMAIN` (default `e2b.app`) and
    /// `E2B_API_URL` (default `https://api.<domain>`).
    pub fn from_env() -> Result<Self> {
        let mut config = E2bConfig::new(required_env("E2B_API_KEY", "E2B")?);
        if let Some(domain) = optional_env("E2B_DOMAIN") {
            config.api_url = format!("https://api.{domain}");
            config.domain = domain;
        }
        if let Some(url) = optional_env("E2B_API_URL") {
            config.api_url = url.trim_end_matches('/').to_owned();
        }
        Ok(config)
    }

    /// The control-plane base URL.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The sandbox domain (envd is at `https://49983-<id>.<domain>`).
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = domain.into();
        self
    }

    /// Reaches envd at this base URL instead of the one derived from the
    /// domain (for tests and proxies).
    pub fn envd_url(mut self, url: impl Into<String>) -> Self {
        self.envd_url = Some(url.into());
        self
    }

    /// The template (image) to start from.
    pub fn template(mut self, template: impl Into<String>) -> Self {
        self.template = template.into();
        self
    }

    /// How long the sandbox lives unless closed or extended.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Adds a metadata label (used to find and reap leftovers).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds an environment variable for every process in the sandbox.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.insert(key.into(), value.into());
        self
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub fn root_dir(mut self, dir: impl Into<String>) -> Self {
        self.root_dir = dir.into();
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
