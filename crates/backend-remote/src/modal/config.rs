//! Modal configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use backend_core::{Error, ErrorKind, Result};

use crate::http::{ApiKey, RetryPolicy, Timeouts};

/// Modal's public control-plane endpoint.
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";

/// How to reach Modal and what sandbox to create. Build it with
/// [`ModalConfig::new`] or [`ModalConfig::from_env`] and the chained setters.
/// `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct ModalConfig {
    pub(crate) token_id: ApiKey,
    pub(crate) token_secret: ApiKey,
    pub(crate) server_url: String,
    pub(crate) environment: String,
    pub(crate) app_name: String,
    pub(crate) image: String,
    pub(crate) builder_version: String,
    pub(crate) milli_cpu: Option<u32>,
    pub(crate) memory_mb: Option<u32>,
    pub(crate) lifetime: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) root_dir: String,
    pub(crate) start_timeout: Duration,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryPolicy,
}

impl ModalConfig {
    /// The defaults for a token pair: `https://api.modal.com`, the app
    /// `backend-remote`, the registry image `python:3.13-slim`, a one-hour
    /// lifetime, files under `/workspace`.
    pub fn new(token_id: impl Into<ApiKey>, token_secret: impl Into<ApiKey>) -> Self {
        let mut tags = BTreeMap::new();
        tags.insert("created-by".to_owned(), "backend-remote".to_owned());
        ModalConfig {
            token_id: token_id.into(),
            token_secret: token_secret.into(),
            server_url: DEFAULT_SERVER_URL.to_owned(),
            environment: String::new(),
            app_name: "backend-remote".to_owned(),
            image: "python:3.13-slim".to_owned(),
            builder_version: "2024.10".to_owned(),
            milli_cpu: None,
            memory_mb: None,
            lifetime: Duration::from_secs(60 * 60),
            idle_timeout: None,
            env: BTreeMap::new(),
            tags,
            root_dir: "/workspace".to_owned(),
            start_timeout: Duration::from_secs(300),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
        }
    }

    /// Reads `MODAL_TOKEN_ID` and `MODAL_TOKEN_SECRET` (both required) and
    /// `MODAL_SERVER_URL` (optional).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let (id, secret) = (get("MODAL_TOKEN_ID"), get("MODAL_TOKEN_SECRET"));
        let (Some(id), Some(secret)) = (id, secret) else {
            return Err(missing_token());
        };
        let mut config = ModalConfig::new(id, secret);
        if let Some(url) = get("MODAL_SERVER_URL") {
            config = config.server_url(url);
        }
        Ok(config)
    }

    /// The control-plane URL (`MODAL_SERVER_URL`).
    pub fn server_url(mut self, url: impl Into<String>) -> Self {
        self.server_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The Modal environment (empty: the workspace's default).
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = name.into();
        self
    }

    /// The app the sandboxes belong to (created when missing).
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = name.into();
        self
    }

    /// The registry image the sandbox starts from (`FROM <tag>`). It needs a
    /// POSIX `sh`, GNU `find`, `cat`, `mv`, `base64` and `kill`.
    pub fn image(mut self, tag: impl Into<String>) -> Self {
        self.image = tag.into();
        self
    }

    /// Modal's image builder version.
    pub fn builder_version(mut self, version: impl Into<String>) -> Self {
        self.builder_version = version.into();
        self
    }

    /// CPU reservation in thousandths of a core.
    pub fn milli_cpu(mut self, milli_cpu: u32) -> Self {
        self.milli_cpu = Some(milli_cpu);
        self
    }

    /// Memory reservation in MiB.
    pub fn memory_mb(mut self, memory_mb: u32) -> Self {
        self.memory_mb = Some(memory_mb);
        self
    }

    /// The sandbox's longest lifetime (whole seconds; Modal ends it after).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Ends the sandbox after this long without activity.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = Some(idle);
        self
    }

    /// Adds an environment variable for the sandbox.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Adds a sandbox tag (used to find and reap leftovers).
    pub fn tag(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(name.into(), value.into());
        self
    }

    /// The directory inside the sandbox where the virtual `/` lives; it is
    /// also the sandbox's working directory.
    pub fn root_dir(mut self, dir: impl Into<String>) -> Self {
        self.root_dir = dir.into();
        self
    }

    /// How long to wait for the image build and for the sandbox to be scheduled.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Connection and per-call timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Retry policy for calls that are safe to repeat.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks what can be checked before any call.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.token_id.is_empty() || self.token_secret.is_empty() {
            return Err(missing_token());
        }
        if !self.root_dir.starts_with('/') {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the Modal root_dir must be an absolute path, got {:?}",
                    self.root_dir
                ),
            ));
        }
        if self.image.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the Modal image tag is empty",
            ));
        }
        Ok(())
    }
}

fn missing_token() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "no Modal token: export MODAL_TOKEN_ID=<token id> and MODAL_TOKEN_SECRET=<token secret> (`modal token new` creates a pair) to use Modal sandboxes",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_names_both_variables() {
        let only_id = |name: &str| (name == "MODAL_TOKEN_ID").then(|| "ak-1".to_owned());
        let e = ModalConfig::from_lookup(only_id).expect_err("no secret");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("MODAL_TOKEN_ID"), "{e}");
        assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
    }

    #[test]
    fn env_sets_tokens_and_server_url() {
        let env = |name: &str| match name {
            "MODAL_TOKEN_ID" => Some("ak-1".to_owned()),
            "MODAL_TOKEN_SECRET" => Some("as-very-secret".to_owned()),
            "MODAL_SERVER_URL" => Some("http://127.0.0.1:9/".to_owned()),
            _ => None,
        };
        let config = ModalConfig::from_lookup(env).expect("config");
        assert_eq!(config.server_url, "http://127.0.0.1:9");
        assert!(config.validate().is_ok());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let config = ModalConfig::new("ak-visible-id", "as-very-secret");
        let shown = format!("{config:?}");
        assert!(!shown.contains("as-very-secret"), "{shown}");
        assert!(!shown.contains("ak-visible-id"), "{shown}");
    }

    #[test]
    fn empty_token_is_refused_before_any_call() {
        let e = ModalConfig::new("", " ").validate().expect_err("empty");
        assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
    }
}
