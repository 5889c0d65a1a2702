//! Modal configuration: what only Modal has (its token id, app, image and
//! sizes), on top of the shared options, whose key is the token secret.

use std::time::Duration;

use backend_core::{Error, ErrorKind, Result};

use crate::config::{RemoteConfig, setters};
use crate::options::{RemoteOptions, number, seconds};
use crate::provider::{Sealed, Settings};
use crate::secret::ApiKey;

/// Modal's public control-plane endpoint.
pub const DEFAULT_SERVER_URL: &str = "https://api.modal.com";

/// The Modal provider, the parameter of [`ModalConfig`] and
/// [`ModalSandbox`](super::ModalSandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modal;

impl Sealed for Modal {}

/// How to reach Modal and what sandbox to create: the shared
/// [`RemoteOptions`] (whose `api_key` is the token secret) and
/// [`ModalSettings`]. `Debug` never shows the tokens.
pub type ModalConfig = RemoteConfig<Modal>;

/// What only Modal has. Option keys: `token_id`, `token_secret`, `app`,
/// `environment`, `image`, `builder_version`, `milli_cpu`, `memory_mb`, and
/// in seconds `timeout` (the lifetime) and `idle_timeout`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct ModalSettings {
    /// The token id (the secret is the shared `api_key`).
    pub token_id: ApiKey,
    /// The Modal environment (empty: the workspace's default).
    pub environment: String,
    /// The app the sandboxes belong to (created when missing).
    pub app_name: String,
    /// The registry image the sandbox starts from (`FROM <tag>`).
    pub image: String,
    /// Modal's image builder version.
    pub builder_version: String,
    /// CPU reservation in thousandths of a core.
    pub milli_cpu: Option<u32>,
    /// Memory reservation in MiB.
    pub memory_mb: Option<u32>,
    /// The sandbox's longest lifetime (whole seconds; Modal ends it after).
    pub lifetime: Duration,
    /// Ends the sandbox after this long without activity.
    pub idle_timeout: Option<Duration>,
}

impl Default for ModalSettings {
    /// No token id yet, the app `backend-remote`, the registry image
    /// `python:3.13-slim`, a one-hour lifetime.
    fn default() -> Self {
        ModalSettings {
            token_id: ApiKey::new(""),
            environment: String::new(),
            app_name: "backend-remote".to_owned(),
            image: "python:3.13-slim".to_owned(),
            builder_version: "2024.10".to_owned(),
            milli_cpu: None,
            memory_mb: None,
            lifetime: Duration::from_secs(60 * 60),
            idle_timeout: None,
        }
    }
}

impl Settings for ModalSettings {
    /// Sets the option `key`; `Ok(false)` when it is not Modal's.
    fn set(&mut self, options: &mut RemoteOptions, key: &str, value: &str) -> Result<bool> {
        match key {
            "token_id" => self.token_id = ApiKey::new(value),
            "token_secret" => options.api_key = ApiKey::new(value),
            "app" => self.app_name = value.to_owned(),
            "environment" => self.environment = value.to_owned(),
            "image" => self.image = value.to_owned(),
            "builder_version" => self.builder_version = value.to_owned(),
            "milli_cpu" => self.milli_cpu = Some(number(key, value)?),
            "memory_mb" => self.memory_mb = Some(number(key, value)?),
            "timeout" => self.lifetime = seconds(key, value)?,
            "idle_timeout" => self.idle_timeout = Some(seconds(key, value)?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl ModalSettings {
    /// Checks what can be checked before any call.
    pub(super) fn validate(&self, options: &RemoteOptions) -> Result<()> {
        if self.token_id.is_empty() || options.api_key.is_empty() {
            return Err(missing_token());
        }
        if !options.root_dir.starts_with('/') {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the Modal root_dir must be an absolute path, got {:?}",
                    options.root_dir
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

impl RemoteConfig<Modal> {
    /// The defaults for a token pair: `https://api.modal.com`, the app
    /// `backend-remote`, the registry image `python:3.13-slim`, a one-hour
    /// lifetime, files under `/workspace`.
    pub fn new(token_id: impl Into<ApiKey>, token_secret: impl Into<ApiKey>) -> Self {
        let mut config = Self::with_api_key(token_secret);
        config.settings.token_id = token_id.into();
        config
    }

    /// CPU reservation in thousandths of a core, and memory in MiB.
    pub fn reservation(mut self, milli_cpu: u32, memory_mb: u32) -> Self {
        self.settings.milli_cpu = Some(milli_cpu);
        self.settings.memory_mb = Some(memory_mb);
        self
    }

    setters! {
        /// The Modal environment (empty: the workspace's default).
        environment(name: impl Into<String>) => settings.environment = name.into();
        /// The app the sandboxes belong to (created when missing).
        app_name(name: impl Into<String>) => settings.app_name = name.into();
        /// The registry image the sandbox starts from (`FROM <tag>`). It needs a
        /// POSIX `sh`, GNU `find`, `cat`, `mv`, `base64` and `kill`.
        image(tag: impl Into<String>) => settings.image = tag.into();
        /// Modal's image builder version.
        builder_version(version: impl Into<String>) => settings.builder_version = version.into();
        /// The sandbox's longest lifetime (whole seconds; Modal ends it after).
        lifetime(lifetime: Duration) => settings.lifetime = lifetime;
        /// Ends the sandbox after this long without activity.
        idle_timeout(idle: Duration) => settings.idle_timeout = Some(idle);
    }
}

/// No usable token pair, and how to get one.
pub(super) fn missing_token() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "no Modal token: export MODAL_TOKEN_ID=<token id> and MODAL_TOKEN_SECRET=<token secret> (`modal token new` creates a pair) to use Modal sandboxes",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ModalConfig> {
        ModalConfig::from_lookup(lookup, std::iter::empty::<(&str, &str)>())
    }

    #[test]
    fn missing_token_names_both_variables() {
        let only_id = |name: &str| (name == "MODAL_TOKEN_ID").then(|| "ak-1".to_owned());
        let e = from_lookup(only_id).expect_err("no secret");
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
        let config = from_lookup(env).expect("config");
        assert_eq!(config.resolved_api_url(), "http://127.0.0.1:9");
        assert!(config.settings.validate(&config.options).is_ok());
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
        let config = ModalConfig::new("", " ");
        let e = config
            .settings
            .validate(&config.options)
            .expect_err("empty");
        assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
    }

    #[test]
    fn single_key_options_are_not_modals() {
        let e = ModalConfig::new("a", "b")
            .with_option("api_key_env", "X")
            .expect_err("Modal has a token pair");
        assert!(e.message().contains("unknown option `api_key_env`"), "{e}");
        assert!(e.message().contains("token_secret"), "{e}");
    }
}
