//! Runloop devboxes: create and wait (`wait_for_status` long poll), run
//! commands with an idempotent UUIDv7 `command_id` and wait for them, move
//! bytes with `upload_file`/`download_file`, and do directory work through
//! commands with quoted arguments (the API has no list, delete or mkdir).

mod config;
mod devbox;

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_core::{Error, ErrorKind, Operation, Result};
use serde::Deserialize;

pub use config::RunloopConfig;

use crate::http::client::{HttpClient, Retry};
use crate::http::forward_sandbox;
use crate::http::remote::RemoteSandbox;
use devbox::Devbox;

/// A live Runloop devbox. Implements [`backend_core::Sandbox`]; `close()`
/// shuts it down.
#[derive(Debug)]
pub struct RunloopSandbox {
    inner: RemoteSandbox,
}

#[derive(Deserialize)]
struct DevboxView {
    id: String,
    #[serde(default)]
    status: Option<String>,
}

/// The longest hold Runloop grants a `wait_for_status` call, in seconds.
pub(crate) const MAX_HOLD_SECS: u64 = 30;

impl RunloopSandbox {
    /// Creates a devbox (`POST /v1/devboxes` with an `x-request-id`, so a
    /// retried create is not doubled), waits until it is `running`, and
    /// prepares its work directory. A devbox that fails to start is shut
    /// down.
    pub async fn create(config: RunloopConfig) -> Result<Self> {
        let client = HttpClient::new("Runloop", "RUNLOOP_API_KEY", config.timeouts, config.retry)
            .map_err(|e| e.with_operation(Operation::Create))?;
        let mut launch =
            serde_json::json!({ "keep_alive_time_seconds": config.keep_alive.as_secs() });
        if let Some(size) = &config.resource_size {
            launch["resource_size_request"] = size.clone().into();
        }
        let mut body = serde_json::json!({
            "environment_variables": config.env,
            "metadata": config.metadata,
            "launch_parameters": launch,
        });
        for (name, value) in [
            ("blueprint_name", &config.blueprint_name),
            ("blueprint_id", &config.blueprint_id),
            ("snapshot_id", &config.snapshot_id),
        ] {
            if let Some(value) = value {
                body[name] = value.clone().into();
            }
        }
        let url = format!("{}/v1/devboxes", config.base_url);
        let request_id = uuid::Uuid::now_v7().to_string();
        let response = client
            .send("create devbox", Retry::Idempotent, |http| {
                http.post(&url)
                    .bearer_auth(config.api_key.expose())
                    .header("x-request-id", &request_id)
                    .json(&body)
            })
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let created: DevboxView = client
            .read_json("create devbox", response)
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let devbox = Arc::new(Devbox {
            client,
            base: format!("{}/v1/devboxes/{}", config.base_url, created.id),
            api_key: config.api_key.clone(),
            id: created.id.clone(),
        });
        if created.status.as_deref() != Some("running")
            && let Err(e) = wait_running(&devbox, config.start_timeout).await
        {
            let _ = devbox.shutdown().await;
            return Err(e.with_operation(Operation::Create));
        }
        let inner = RemoteSandbox::open(devbox, &config.root_dir)
            .await
            .map_err(|e| e.or_operation(Operation::Create))?;
        Ok(RunloopSandbox { inner })
    }

    /// Reads [`RunloopConfig::from_env`] and creates a devbox.
    pub async fn from_env() -> Result<Self> {
        Self::create(RunloopConfig::from_env()?).await
    }

    /// The directory inside the devbox where the virtual `/` lives.
    pub fn root_dir(&self) -> &str {
        self.inner.root_dir()
    }
}

/// Long-polls `wait_for_status` (re-issued when the hold expires with 408)
/// until the devbox is running; fails fast on `failure` or `shutdown`.
async fn wait_running(devbox: &Devbox, limit: Duration) -> Result<()> {
    let began = Instant::now();
    let url = format!("{}/wait_for_status", devbox.base);
    loop {
        let left = limit.saturating_sub(began.elapsed());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "Runloop devbox {} was not running within {limit:?}",
                    devbox.id
                ),
            )
            .with_retryable(true));
        }
        let hold = left.as_secs().clamp(1, MAX_HOLD_SECS);
        let body = serde_json::json!({ "statuses": ["running", "failure", "shutdown"], "timeout_seconds": hold });
        let outcome = devbox
            .client
            .send("wait for devbox", Retry::Throttled, |http| {
                http.post(&url)
                    .bearer_auth(devbox.api_key.expose())
                    .timeout(Duration::from_secs(hold + 30))
                    .json(&body)
            })
            .await;
        let view: DevboxView = match outcome {
            Ok(response) => devbox.client.read_json("wait for devbox", response).await?,
            Err(e) if e.kind() == ErrorKind::Timeout => continue,
            Err(e) => return Err(e),
        };
        match view.status.as_deref() {
            Some("running") => return Ok(()),
            Some(state @ ("failure" | "shutdown")) => {
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "Runloop devbox {} ended in state {state} while starting",
                        devbox.id
                    ),
                )
                .with_context("provider", "Runloop"));
            }
            _ => {}
        }
    }
}

forward_sandbox!(RunloopSandbox);
