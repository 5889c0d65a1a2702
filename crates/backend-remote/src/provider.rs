//! [`Provider`]: what tells the four providers apart in the shared
//! [`RemoteConfig`](crate::RemoteConfig) and
//! [`RemoteSandbox`](crate::RemoteSandbox): their name, their own settings
//! and option keys, the variables they read, how a sandbox is created.

use std::fmt;
use std::future::Future;

use backend_core::{Error, ErrorKind, Result};

use crate::options::RemoteOptions;
use crate::sandbox::SandboxCore;

/// A remote sandbox provider: the type parameter of
/// [`RemoteConfig`](crate::RemoteConfig) and
/// [`RemoteSandbox`](crate::RemoteSandbox) (`E2bConfig` is
/// `RemoteConfig<E2b>`). Implemented by
/// the marker types of this crate only.
pub trait Provider: private::Sealed + fmt::Debug + Clone + Send + Sync + Sized + 'static {
    /// The provider's name in messages, such as `E2B`.
    const NAME: &'static str;
    /// The provider's defaults: the public API, the work directory, the
    /// time a sandbox gets to start.
    const DEFAULTS: Defaults;
    /// The environment variables [`RemoteConfig::from_env`](crate::RemoteConfig::from_env)
    /// reads, in order, each with the option key its value sets; the one
    /// setting `api_key` (Modal: `token_secret`) is the key's variable.
    const ENV: &'static [(&'static str, &'static str)];
    /// The provider's own option keys;
    /// [`RemoteConfig::with_option`](crate::RemoteConfig::with_option)
    /// accepts them, the shared [`crate::options::KEYS`] (see
    /// [`accepts`](Self::accepts)), `env.NAME` and `label.NAME`.
    const KEYS: &'static [&'static str];

    /// The settings only this provider has (a template, an image, sizes).
    type Settings: Settings;

    /// The environment variable of the API key: the one of [`ENV`](Self::ENV)
    /// that sets `api_key` or `token_secret`.
    fn key_env() -> &'static str {
        Self::ENV
            .iter()
            .find(|(_, key)| matches!(*key, "api_key" | "token_secret"))
            .map_or("", |(var, _)| *var)
    }

    /// Whether `key`, a shared or provider key, applies to this provider
    /// (by default all of them do).
    fn accepts(key: &str) -> bool {
        crate::options::KEYS.contains(&key) || Self::KEYS.contains(&key)
    }

    /// The API's base URL when `api_url` is not set (by default the public
    /// one in [`DEFAULTS`](Self::DEFAULTS)).
    fn default_api_url(settings: &Self::Settings) -> String {
        let _ = settings;
        Self::DEFAULTS.api_url.to_owned()
    }

    /// Checks what can be checked before any call (by default: that there
    /// is a key, else an error saying which variable to set).
    fn validate(options: &RemoteOptions, settings: &Self::Settings) -> Result<()> {
        let _ = settings;
        if options.api_key.is_empty() {
            let var = &options.api_key_env;
            let name = Self::NAME;
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{var} is not set: export {var}=<your {name} API key> to use {name} sandboxes"
                ),
            ));
        }
        Ok(())
    }

    /// Creates a sandbox at `api_url` from a validated config (through
    /// [`RemoteSandbox::create`](crate::RemoteSandbox::create)).
    #[doc(hidden)]
    fn create(
        api_url: String,
        options: RemoteOptions,
        settings: Self::Settings,
    ) -> impl Future<Output = Result<SandboxCore>> + Send;
}

/// A provider's defaults ([`Provider::DEFAULTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Defaults {
    /// The public API's base URL.
    pub api_url: &'static str,
    /// The directory inside the sandbox where the virtual `/` lives.
    pub root_dir: &'static str,
    /// How long a new sandbox gets to be ready, in seconds.
    pub start_secs: u64,
}

/// A provider's own settings ([`Provider::Settings`]).
pub trait Settings: fmt::Debug + Clone + PartialEq + Default + Send + Sync + 'static {
    /// Sets the option `key` (which may also set a shared option, as
    /// Modal's `token_secret` does); `Ok(false)` when `key` is not the
    /// provider's.
    fn set(&mut self, options: &mut RemoteOptions, key: &str, value: &str) -> Result<bool>;
}

mod private {
    /// Keeps [`super::Provider`] to the providers of this crate.
    pub trait Sealed {}
}
pub(crate) use private::Sealed;
