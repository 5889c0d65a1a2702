//! Daytona configuration: what only Daytona has, on top of the shared
//! options.

use std::time::Duration;

use backend_core::Result;

use crate::config::{RemoteConfig, setters};
use crate::options::RemoteOptions;
use crate::options::{number, seconds};
use crate::provider::{Sealed, Settings};
use crate::secret::ApiKey;

/// The Daytona provider, the parameter of [`DaytonaConfig`] and
/// [`DaytonaSandbox`](super::DaytonaSandbox).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daytona;

impl Sealed for Daytona {}

/// How to reach Daytona and what sandbox to create: the shared
/// [`RemoteOptions`](crate::RemoteOptions) and [`DaytonaSettings`].
pub type DaytonaConfig = RemoteConfig<Daytona>;

/// What only Daytona has. Option keys: `snapshot`, `target`, `cpu`,
/// `memory` and `disk` (GiB), and `timeout` (seconds of inactivity before
/// Daytona stops the sandbox, rounded up to minutes).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaytonaSettings {
    /// The region (`us`, `eu`, ...).
    pub target: Option<String>,
    /// The snapshot (image) to start from.
    pub snapshot: Option<String>,
    /// CPU cores.
    pub cpu: Option<u32>,
    /// Memory in GiB.
    pub memory_gib: Option<u32>,
    /// Disk in GiB.
    pub disk_gib: Option<u32>,
    /// Minutes of inactivity before Daytona stops the sandbox (0: never).
    pub auto_stop_minutes: Option<u32>,
    /// How often to poll while waiting (for the sandbox or a command).
    pub poll_interval: Duration,
}

impl Default for DaytonaSettings {
    /// The default snapshot and size, stopped after 30 idle minutes.
    fn default() -> Self {
        DaytonaSettings {
            target: None,
            snapshot: None,
            cpu: None,
            memory_gib: None,
            disk_gib: None,
            auto_stop_minutes: Some(30),
            poll_interval: Duration::from_millis(250),
        }
    }
}

impl Settings for DaytonaSettings {
    /// Sets the option `key`; `Ok(false)` when it is not Daytona's.
    fn set(&mut self, _: &mut RemoteOptions, key: &str, value: &str) -> Result<bool> {
        match key {
            "snapshot" => self.snapshot = Some(value.to_owned()),
            "target" => self.target = Some(value.to_owned()),
            "cpu" => self.cpu = Some(number(key, value)?),
            "memory" => self.memory_gib = Some(number(key, value)?),
            "disk" => self.disk_gib = Some(number(key, value)?),
            "timeout" => {
                let minutes = seconds(key, value)?.as_secs().div_ceil(60).max(1);
                self.auto_stop_minutes = Some(u32::try_from(minutes).unwrap_or(u32::MAX));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl RemoteConfig<Daytona> {
    /// The defaults for `api_key`: `https://app.daytona.io/api`, the default
    /// snapshot, files under `/home/daytona/workspace`, two minutes to start.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        Self::with_api_key(api_key)
    }

    /// CPU cores, memory and disk in GiB.
    pub fn resources(mut self, cpu: u32, memory_gib: u32, disk_gib: u32) -> Self {
        let s = &mut self.settings;
        (s.cpu, s.memory_gib, s.disk_gib) = (Some(cpu), Some(memory_gib), Some(disk_gib));
        self
    }

    setters! {
        /// The region (`us`, `eu`, ...).
        target(target: impl Into<String>) => settings.target = Some(target.into());
        /// The snapshot (image) to start from.
        snapshot(snapshot: impl Into<String>) => settings.snapshot = Some(snapshot.into());
        /// Minutes of inactivity before Daytona stops the sandbox (0: never).
        auto_stop_minutes(minutes: u32) => settings.auto_stop_minutes = Some(minutes);
        /// How often to poll while waiting (for the sandbox or a command).
        poll_interval(interval: Duration) => settings.poll_interval = interval;
    }
}
