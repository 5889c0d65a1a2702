//! One Runloop devbox: executions, files, and directory work through
//! commands.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use backend_core::{Error, ErrorKind, Result};
use serde::Deserialize;
use serde_json::json;

use crate::http::client::{HttpClient, Repeat};
use crate::sandbox::remote::{RawEvent, Remote, Running};
use crate::sandbox::shell::quote;
use crate::secret::ApiKey;

/// The longest hold Runloop grants a `wait_for_status` call, in seconds.
const MAX_HOLD_SECS: u64 = 30;

/// A devbox as the API describes it.
#[derive(Deserialize)]
pub(crate) struct DevboxView {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Devbox {
    pub(crate) client: HttpClient,
    /// `{base_url}/v1/devboxes/{id}`.
    pub(crate) base: String,
    pub(crate) api_key: ApiKey,
    pub(crate) id: String,
}

#[derive(Deserialize)]
struct ExecutionView {
    execution_id: String,
    status: String,
    #[serde(default)]
    exit_status: Option<i32>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

impl ExecutionView {
    fn into_events(self) -> Vec<RawEvent> {
        RawEvent::exited(
            self.stdout.unwrap_or_default().into_bytes(),
            self.stderr.unwrap_or_default().into_bytes(),
            Some(self.exit_status.unwrap_or(-1)),
        )
    }
}

/// What a started execution needs to be waited for and killed.
#[derive(Clone)]
struct Execution {
    client: HttpClient,
    url: String,
    api_key: ApiKey,
}

impl Execution {
    /// Long-polls until the execution completes (408 = hold expired, ask again).
    async fn wait(&self) -> Result<ExecutionView> {
        let url = format!("{}/wait_for_status", self.url);
        let body = json!({ "statuses": ["completed"], "timeout_seconds": MAX_HOLD_SECS });
        loop {
            let outcome = self
                .client
                .send("wait for command", Repeat::Idempotent, |http| {
                    http.post(&url)
                        .bearer_auth(self.api_key.expose())
                        .timeout(Duration::from_secs(MAX_HOLD_SECS + 30))
                        .json(&body)
                })
                .await;
            let view: ExecutionView = match outcome {
                Ok(response) => self.client.read_json("wait for command", response).await?,
                Err(e) if e.kind() == ErrorKind::Timeout => continue,
                Err(e) => return Err(e),
            };
            if view.status == "completed" {
                return Ok(view);
            }
        }
    }

    async fn kill(&self) {
        let url = format!("{}/kill", self.url);
        let body = json!({ "kill_process_group": true });
        let outcome = self
            .client
            .post_json(
                "kill command",
                Repeat::Idempotent,
                &url,
                &self.api_key,
                &body,
            )
            .await;
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "could not kill a Runloop execution");
        }
    }
}

impl Devbox {
    /// `POST .../shutdown`; 404 means already gone.
    pub(crate) async fn shutdown(&self) -> Result<()> {
        let url = format!("{}/shutdown", self.base);
        match self
            .client
            .send("shutdown devbox", Repeat::Idempotent, |http| {
                http.post(&url).bearer_auth(self.api_key.expose())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Remote for Devbox {
    fn provider(&self) -> &'static str {
        "Runloop"
    }

    fn sandbox_id(&self) -> &str {
        &self.id
    }

    fn streams_output(&self) -> bool {
        false
    }

    async fn start(&self, line: String, timeout: Duration) -> Result<Running> {
        let url = format!("{}/execute", self.base);
        // The same command_id on every attempt makes retrying safe.
        let command_id = uuid::Uuid::now_v7().to_string();
        let mut body =
            json!({ "command": format!("sh -c {}", quote(&line)), "command_id": command_id });
        // Wait a little for quick commands, never past the caller's deadline.
        if timeout >= Duration::from_secs(2) {
            body["optimistic_timeout"] = 1.into();
        }
        let response = self
            .client
            .post_json(
                "execute command",
                Repeat::Idempotent,
                &url,
                &self.api_key,
                &body,
            )
            .await?;
        let view: ExecutionView = self.client.read_json("execute command", response).await?;
        let execution = Execution {
            client: self.client.clone(),
            url: format!("{}/executions/{}", self.base, view.execution_id),
            api_key: self.api_key.clone(),
        };
        let waiter = execution.clone();
        let outcome = async move {
            let done = if view.status == "completed" {
                view
            } else {
                waiter.wait().await?
            };
            Ok(done.into_events())
        };
        Ok(Running::reported_at_exit(outcome, move || async move {
            execution.kill().await
        }))
    }

    async fn read_file(&self, abs: &str) -> Result<Vec<u8>> {
        let url = format!("{}/download_file", self.base);
        let body = json!({ "path": abs });
        self.client
            .download_file(|http| {
                http.post(&url)
                    .bearer_auth(self.api_key.expose())
                    .json(&body)
            })
            .await
    }

    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()> {
        let url = format!("{}/upload_file", self.base);
        self.client
            .upload_file(abs, content, Some("path"), "file", |http| {
                http.post(&url).bearer_auth(self.api_key.expose())
            })
            .await
    }

    async fn destroy(&self) -> Result<()> {
        self.shutdown().await
    }
}

/// Long-polls `wait_for_status` (re-issued when the hold expires with 408)
/// until the devbox is running; fails fast on `failure` or `shutdown`.
pub(crate) async fn wait_running(devbox: &Devbox, limit: Duration) -> Result<()> {
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
            .send("wait for devbox", Repeat::Throttled, |http| {
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
