//! E2B configuration: what only E2B has, on top of the shared options.

use std::time::Duration;

use backend_core::Result;

use crate::config::{RemoteConfig, setters};
use crate::options::RemoteOptions;
use crate::options::seconds;
use crate::provider::{Sealed, Settings};
use crate::secret::ApiKey;

/// The E2B provider, the parameter of [`E2bConfig`] and
/// [`E2bSandbox`](super::E2bSandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E2b;

impl Sealed for E2b {}

/// How to reach E2B and what sandbox to create: the shared
/// [`RemoteOptions`](crate::RemoteOptions) and [`E2bSettings`].
pub type E2bConfig = RemoteConfig<E2b>;

/// What only E2B has. Option keys: `template`, `domain`, `envd_url`, and
/// `timeout` (the lifetime, in seconds).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E2bSettings {
    /// The template (image) to start from.
    pub template: String,
    /// The sandbox domain (envd is at `https://49983-<id>.<domain>`, the API
    /// at `https://api.<domain>` unless `api_url` is set).
    pub domain: String,
    /// envd's base URL when not derived from the domain (tests, proxies).
    pub envd_url: Option<String>,
    /// How long the sandbox lives unless closed or extended.
    pub lifetime: Duration,
}

impl Default for E2bSettings {
    /// Template `base`, domain `e2b.app`, a 30-minute lifetime.
    fn default() -> Self {
        E2bSettings {
            template: "base".to_owned(),
            domain: "e2b.app".to_owned(),
            envd_url: None,
            lifetime: Duration::from_secs(30 * 60),
        }
    }
}

impl Settings for E2bSettings {
    /// Sets the option `key`; `Ok(false)` when it is not E2B's.
    fn set(&mut self, _: &mut RemoteOptions, key: &str, value: &str) -> Result<bool> {
        match key {
            "template" => self.template = value.to_owned(),
            "domain" => self.domain = value.to_owned(),
            "envd_url" => self.envd_url = Some(value.trim_end_matches('/').to_owned()),
            "timeout" => self.lifetime = seconds(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl RemoteConfig<E2b> {
    /// The defaults for `api_key`: `https://api.e2b.app`, template `base`,
    /// a 30-minute lifetime, files under `/home/user/workspace`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        Self::with_api_key(api_key)
    }

    setters! {
        /// The sandbox domain.
        domain(domain: impl Into<String>) => settings.domain = domain.into();
        /// Reaches envd at this base URL instead of the one derived from the
        /// domain (for tests and proxies).
        envd_url(url: impl Into<String>) =>
            settings.envd_url = Some(url.into().trim_end_matches('/').to_owned());
        /// The template (image) to start from.
        template(template: impl Into<String>) => settings.template = template.into();
        /// How long the sandbox lives unless closed or extended.
        lifetime(lifetime: Duration) => settings.lifetime = lifetime;
    }
}
