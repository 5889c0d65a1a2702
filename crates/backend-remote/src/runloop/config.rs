//! Runloop configuration: what only Runloop has, on top of the shared
//! options.

use std::time::Duration;

use backend_core::Result;

use crate::config::{RemoteConfig, setters};
use crate::options::RemoteOptions;
use crate::options::seconds;
use crate::provider::{Sealed, Settings};
use crate::secret::ApiKey;

/// The Runloop provider, the parameter of [`RunloopConfig`] and
/// [`RunloopSandbox`](super::RunloopSandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runloop;

impl Sealed for Runloop {}

/// How to reach Runloop and what devbox to create: the shared
/// [`RemoteOptions`](crate::RemoteOptions) and [`RunloopSettings`].
pub type RunloopConfig = RemoteConfig<Runloop>;

/// What only Runloop has. Option keys: `blueprint` (a `bpt_...` id or a
/// name), `blueprint_name`, `blueprint_id`, `snapshot_id`, `resource_size`,
/// and `timeout` (the idle keep-alive, in seconds).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunloopSettings {
    /// Starts from the latest build of the blueprint with this name.
    pub blueprint_name: Option<String>,
    /// Starts from this blueprint id.
    pub blueprint_id: Option<String>,
    /// Starts from this disk snapshot.
    pub snapshot_id: Option<String>,
    /// The resource size (`X_SMALL`, `SMALL`, `MEDIUM`, `LARGE`, ...).
    pub resource_size: Option<String>,
    /// How long the devbox stays up while idle.
    pub keep_alive: Duration,
}

impl Default for RunloopSettings {
    /// The default image and size, a 30-minute keep-alive.
    fn default() -> Self {
        RunloopSettings {
            blueprint_name: None,
            blueprint_id: None,
            snapshot_id: None,
            resource_size: None,
            keep_alive: Duration::from_secs(30 * 60),
        }
    }
}

impl Settings for RunloopSettings {
    /// Sets the option `key`; `Ok(false)` when it is not Runloop's.
    fn set(&mut self, _: &mut RemoteOptions, key: &str, value: &str) -> Result<bool> {
        let text = Some(value.to_owned());
        match key {
            // Runloop ids carry a `bpt_` prefix; anything else is a name.
            "blueprint" if value.starts_with("bpt_") => self.blueprint_id = text,
            "blueprint" | "blueprint_name" => self.blueprint_name = text,
            "blueprint_id" => self.blueprint_id = text,
            "snapshot_id" => self.snapshot_id = text,
            "resource_size" => self.resource_size = text,
            "timeout" => self.keep_alive = seconds(key, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl RemoteConfig<Runloop> {
    /// The defaults for `api_key`: `https://api.runloop.ai`, the default
    /// image, a 30-minute keep-alive, files under `/home/user/workspace`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        Self::with_api_key(api_key)
    }

    setters! {
        /// Starts from the latest build of the blueprint with this name.
        blueprint_name(name: impl Into<String>) => settings.blueprint_name = Some(name.into());
        /// Starts from this blueprint id.
        blueprint_id(id: impl Into<String>) => settings.blueprint_id = Some(id.into());
        /// Starts from this disk snapshot.
        snapshot_id(id: impl Into<String>) => settings.snapshot_id = Some(id.into());
        /// The resource size (`X_SMALL`, `SMALL`, `MEDIUM`, `LARGE`, ...).
        resource_size(size: impl Into<String>) => settings.resource_size = Some(size.into());
        /// How long the devbox stays up while idle.
        keep_alive(keep_alive: Duration) => settings.keep_alive = keep_alive;
    }
}
