//! [`RemoteConfig`]: one config type for every provider, the shared
//! [`RemoteOptions`] plus the provider's own settings, with the same
//! setters, string keys and environment variables for all four.

use std::time::Duration;

use backend_core::retry::RetryPolicy;
use backend_core::{Error, Result};

use crate::options::{ENV_PREFIX, LABEL_PREFIX, RemoteOptions, Timeouts, optional_env};
use crate::provider::{Provider, Settings};
use crate::secret::ApiKey;

/// Writes chained setters of [`RemoteConfig`]: `name(arg: Type) => field =
/// value;` becomes `pub fn name(mut self, arg: Type) -> Self`, which sets
/// `self.field` to `value` and returns the config.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+ = $value:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $value;
                self
            }
        )*
    };
}
pub(crate) use setters;

/// How to reach a provider and what sandbox to create: `E2bConfig` is
/// `RemoteConfig<E2b>`, and so on. Build it with the provider's `new`, with
/// [`from_env`](Self::from_env), or from string keys with
/// [`with_option`](Self::with_option), then chain setters. `Debug` never
/// shows the key.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig<P: Provider> {
    /// What every provider has.
    pub options: RemoteOptions,
    /// What only this provider has.
    pub settings: P::Settings,
}

impl<P: Provider> RemoteConfig<P> {
    /// The defaults, with `api_key`.
    pub(crate) fn with_api_key(api_key: impl Into<ApiKey>) -> Self {
        let defaults = P::DEFAULTS;
        let start = Duration::from_secs(defaults.start_secs);
        let mut options = RemoteOptions::new(P::key_env(), defaults.root_dir, start);
        options.api_key = api_key.into();
        RemoteConfig {
            options,
            settings: P::Settings::default(),
        }
    }

    /// Reads the provider's variables ([`Provider::ENV`]: the key, which is
    /// required, and the API URL and such, which are not).
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(std::iter::empty::<(&str, &str)>())
    }

    /// Reads the provider's variables, then applies `options` (string keys,
    /// as [`with_option`](Self::with_option)); the key is required only
    /// after both, so `api_key_env` can name another variable.
    pub fn from_env_with<K, V>(options: impl IntoIterator<Item = (K, V)>) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_lookup(optional_env, options)
    }

    /// [`from_env_with`](Self::from_env_with) with the variables read
    /// through `lookup`.
    pub(crate) fn from_lookup<K, V>(
        lookup: impl Fn(&str) -> Option<String>,
        options: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut config = Self::with_api_key("");
        for (var, key) in P::ENV {
            if let Some(value) = lookup(var).filter(|v| !v.trim().is_empty()) {
                config.set_option(key, &value)?;
            }
        }
        for (key, value) in options {
            config.set_option(key.as_ref(), value.as_ref())?;
        }
        P::validate(&config.options, &config.settings)?;
        Ok(config)
    }

    /// Sets an option from its string key (see [`Provider::KEYS`]), as a
    /// location's parameters or a config file give them.
    pub fn with_option(mut self, key: &str, value: &str) -> Result<Self> {
        self.set_option(key, value)?;
        Ok(self)
    }

    /// [`with_option`](Self::with_option) in place.
    pub fn set_option(&mut self, key: &str, value: &str) -> Result<()> {
        let prefixed = key.starts_with(ENV_PREFIX) || key.starts_with(LABEL_PREFIX);
        if !prefixed && !P::accepts(key) {
            return Err(Error::invalid_argument(format!(
                "unknown option `{key}` for {}; accepted: {}, {ENV_PREFIX}NAME, {LABEL_PREFIX}NAME",
                P::NAME,
                Self::option_keys().join(", ")
            )));
        }
        if self.options.set(key, value)? || self.settings.set(&mut self.options, key, value)? {
            return Ok(());
        }
        Err(Error::internal(format!(
            "option `{key}` of {} is listed but not handled",
            P::NAME
        )))
    }

    /// Every key [`with_option`](Self::with_option) accepts, besides
    /// `env.NAME` and `label.NAME`.
    pub fn option_keys() -> Vec<&'static str> {
        crate::options::KEYS
            .iter()
            .chain(P::KEYS)
            .copied()
            .filter(|key| P::accepts(key))
            .collect()
    }

    /// The API's base URL: `api_url`, or the provider's public one.
    pub fn resolved_api_url(&self) -> String {
        match &self.options.api_url {
            Some(url) => url.clone(),
            None => P::default_api_url(&self.settings),
        }
    }

    /// Adds an environment variable for every process in the sandbox.
    pub fn env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.env.insert(key.into(), value.into());
        self
    }

    /// Adds a label (used to find and reap leftovers).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.labels.insert(key.into(), value.into());
        self
    }

    setters! {
        /// The API key (for Modal: the token secret).
        api_key(key: impl Into<ApiKey>) => options.api_key = key.into();
        /// The API's base URL, when not the public one.
        api_url(url: impl Into<String>) =>
            options.api_url = Some(url.into().trim_end_matches('/').to_owned());
        /// The directory inside the sandbox where the virtual `/` lives.
        root_dir(dir: impl Into<String>) => options.root_dir = dir.into();
        /// How long to wait for a new sandbox to be ready.
        start_timeout(timeout: Duration) => options.start_timeout = timeout;
        /// Connection and request timeouts.
        timeouts(timeouts: Timeouts) => options.timeouts = timeouts;
        /// Retry policy for calls that are safe to repeat.
        retry(retry: RetryPolicy) => options.retry = retry;
    }
}
