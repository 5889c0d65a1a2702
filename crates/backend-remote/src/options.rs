//! [`RemoteOptions`]: what every provider's config holds (the key, the API
//! URL, the work directory, environment, labels, timeouts and retries), and
//! the string keys that set them, shared by all four providers.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_core::retry::RetryPolicy;
use backend_core::{Error, Result};

use crate::secret::ApiKey;

/// Timeouts of the calls to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// A whole ordinary request (command and long-poll calls set their own).
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// The settings every provider shares, embedded in each provider's config
/// ([`crate::RemoteConfig::options`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteOptions {
    /// The API key (for Modal: the token secret).
    pub api_key: ApiKey,
    /// The environment variable the key comes from, named in the errors
    /// about a missing or refused key.
    pub api_key_env: String,
    /// The provider API's base URL; `None` for the provider's public one.
    pub api_url: Option<String>,
    /// The directory inside the sandbox where the virtual `/` lives.
    pub root_dir: String,
    /// Environment variables for every process in the sandbox.
    pub env: BTreeMap<String, String>,
    /// Labels on the sandbox (E2B and Runloop call them metadata, Modal
    /// tags), used to find and reap leftovers; `created-by=backend-remote`
    /// by default.
    pub labels: BTreeMap<String, String>,
    /// How long to wait for a new sandbox to be ready.
    pub start_timeout: Duration,
    /// Connection and request timeouts.
    pub timeouts: Timeouts,
    /// How calls that are safe to repeat are retried.
    pub retry: RetryPolicy,
}

impl RemoteOptions {
    /// No key yet (read from `api_key_env` by `from_env`), the public API,
    /// files under `root_dir`, the `created-by` label and default timeouts
    /// and retries.
    pub fn new(api_key_env: &str, root_dir: &str, start_timeout: Duration) -> Self {
        let mut labels = BTreeMap::new();
        labels.insert("created-by".to_owned(), "backend-remote".to_owned());
        RemoteOptions {
            api_key: ApiKey::new(""),
            api_key_env: api_key_env.to_owned(),
            api_url: None,
            root_dir: root_dir.to_owned(),
            env: BTreeMap::new(),
            labels,
            start_timeout,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Sets the option named `key` (one of [`KEYS`], or `env.NAME` /
    /// `label.NAME`) from its text; `Ok(false)` when the key is not one of
    /// these (a provider's own), an error when the value does not parse.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool> {
        if let Some(name) = key.strip_prefix(ENV_PREFIX) {
            self.env.insert(name.to_owned(), value.to_owned());
            return Ok(true);
        }
        if let Some(name) = key.strip_prefix(LABEL_PREFIX) {
            self.labels.insert(name.to_owned(), value.to_owned());
            return Ok(true);
        }
        match key {
            "api_key" => self.api_key = ApiKey::new(value),
            "api_key_env" => {
                self.api_key = ApiKey::new(key_from_env(value)?);
                self.api_key_env = value.to_owned();
            }
            "api_url" => self.api_url = Some(value.trim_end_matches('/').to_owned()),
            "root_dir" => self.root_dir = value.to_owned(),
            "start_timeout" => self.start_timeout = seconds(key, value)?,
            "connect_timeout" => self.timeouts.connect = seconds(key, value)?,
            "request_timeout" => self.timeouts.request = seconds(key, value)?,
            "retry_attempts" => self.retry.max_attempts = number(key, value)?,
            "retry_budget" => self.retry.total_budget = seconds(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The string keys of [`RemoteOptions`], besides `env.NAME` and
/// `label.NAME`: `api_key`, `api_key_env` (the variable to read the key
/// from), `api_url`, `root_dir`, and in whole seconds `start_timeout`,
/// `connect_timeout`, `request_timeout` and `retry_budget`, and
/// `retry_attempts`.
pub const KEYS: &[&str] = &[
    "api_key",
    "api_key_env",
    "api_url",
    "root_dir",
    "start_timeout",
    "connect_timeout",
    "request_timeout",
    "retry_attempts",
    "retry_budget",
];

/// The prefix of the keys that add an environment variable (`env.HOME=/w`).
pub const ENV_PREFIX: &str = "env.";

/// The prefix of the keys that add a label (`label.team=search`).
pub const LABEL_PREFIX: &str = "label.";

/// The value of the environment variable `name`, or an error saying it is
/// not set.
fn key_from_env(name: &str) -> Result<String> {
    optional_env(name).ok_or_else(|| {
        Error::invalid_argument(format!(
            "the environment variable {name} (named by api_key_env) is not set: export {name}=<your API key>"
        ))
    })
}

/// Reads an optional environment variable (empty counts as unset).
pub(crate) fn optional_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number of seconds.
pub(crate) fn seconds(key: &str, value: &str) -> Result<Duration> {
    number::<u64>(key, value).map(Duration::from_secs)
}

/// A whole number.
pub(crate) fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| {
        Error::invalid_argument(format!(
            "option `{key}` is {value:?}; expected a whole number"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_keys_set_their_fields() {
        let mut o = RemoteOptions::new("X_KEY", "/w", Duration::from_secs(1));
        for (key, value) in [
            ("api_url", "http://h/"),
            ("root_dir", "/srv"),
            ("env.HOME", "/srv"),
            ("label.team", "search"),
            ("start_timeout", "30"),
            ("retry_attempts", "2"),
        ] {
            assert!(o.set(key, value).expect("valid"), "{key}");
        }
        assert_eq!(o.api_url.as_deref(), Some("http://h"));
        assert_eq!(o.root_dir, "/srv");
        assert_eq!(o.env.get("HOME").map(String::as_str), Some("/srv"));
        assert_eq!(o.labels.len(), 2);
        assert_eq!(o.start_timeout, Duration::from_secs(30));
        assert_eq!(o.retry.max_attempts, 2);
        assert!(!o.set("template", "base").expect("not common"));
    }

    #[test]
    fn bad_values_and_unset_key_variables_are_named() {
        let mut o = RemoteOptions::new("X_KEY", "/w", Duration::from_secs(1));
        let e = o.set("start_timeout", "soon").expect_err("not a number");
        assert!(e.message().contains("start_timeout"), "{e}");
        let e = o
            .set("api_key_env", "BACKEND_REMOTE_SURELY_UNSET_VAR")
            .expect_err("unset");
        assert!(
            e.message()
                .contains("export BACKEND_REMOTE_SURELY_UNSET_VAR="),
            "{e}"
        );
    }
}
