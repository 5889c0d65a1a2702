//! Daytona sandboxes: the API (`/sandbox`) for the lifecycle, and the
//! sandbox's toolbox (reached through its `toolboxProxyUrl`) for files and,
//! through the session API, for commands with stdout and stderr kept apart.

mod config;
mod toolbox;

use std::sync::Arc;
use std::time::Instant;

use backend_core::{Error, ErrorKind, Operation, Result};
use serde::Deserialize;

pub use config::DaytonaConfig;

use crate::http::client::{HttpClient, Retry};
use crate::http::remote::RemoteSandbox;
use crate::http::{ApiKey, forward_sandbox};
use toolbox::Toolbox;

/// A live Daytona sandbox. Implements [`backend_core::Sandbox`]; `close()`
/// deletes it.
#[derive(Debug)]
pub struct DaytonaSandbox {
    inner: RemoteSandbox,
}

/// The API side of one sandbox.
#[derive(Debug)]
pub(crate) struct Api {
    client: HttpClient,
    api_url: String,
    api_key: ApiKey,
    sandbox_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SandboxDto {
    id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    toolbox_proxy_url: Option<String>,
    #[serde(default)]
    error_reason: Option<String>,
}

impl DaytonaSandbox {
    /// Creates a sandbox (`POST /sandbox`), waits until it is `started`
    /// (failing fast on `error` or `build_failed`), and prepares its work
    /// directory. A sandbox that fails to start is deleted.
    pub async fn create(config: DaytonaConfig) -> Result<Self> {
        let client = HttpClient::new("Daytona", "DAYTONA_API_KEY", config.timeouts, config.retry)
            .map_err(|e| e.with_operation(Operation::Create))?;
        let mut body = serde_json::json!({
            "env": config.env,
            "labels": config.labels,
        });
        let fields = [
            (
                "snapshot",
                config.snapshot.clone().map(serde_json::Value::from),
            ),
            ("target", config.target.clone().map(serde_json::Value::from)),
            ("cpu", config.cpu.map(serde_json::Value::from)),
            ("memory", config.memory_gib.map(serde_json::Value::from)),
            ("disk", config.disk_gib.map(serde_json::Value::from)),
            (
                "autoStopInterval",
                config.auto_stop_minutes.map(serde_json::Value::from),
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                body[name] = value;
            }
        }
        let url = format!("{}/sandbox", config.api_url);
        let response = client
            .send("create sandbox", Retry::Throttled, |http| {
                http.post(&url)
                    .bearer_auth(config.api_key.expose())
                    .json(&body)
            })
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let created: SandboxDto = client
            .read_json("create sandbox", response)
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let api = Arc::new(Api {
            client: client.clone(),
            api_url: config.api_url.clone(),
            api_key: config.api_key.clone(),
            sandbox_id: created.id.clone(),
        });
        let started = match api.wait_started(created, &config).await {
            Ok(dto) => dto,
            Err(e) => {
                let _ = api.delete().await;
                return Err(e.with_operation(Operation::Create));
            }
        };
        let Some(proxy) = started.toolbox_proxy_url else {
            let _ = api.delete().await;
            return Err(Error::internal(
                "Daytona returned a started sandbox without a toolboxProxyUrl",
            )
            .with_operation(Operation::Create));
        };
        let toolbox = Toolbox {
            client,
            base: format!("{}/{}", proxy.trim_end_matches('/'), api.sandbox_id),
            api_key: config.api_key.clone(),
            poll_interval: config.poll_interval,
            api,
        };
        let inner = RemoteSandbox::open(Arc::new(toolbox), &config.root_dir)
            .await
            .map_err(|e| e.or_operation(Operation::Create))?;
        Ok(DaytonaSandbox { inner })
    }

    /// Reads [`DaytonaConfig::from_env`] and creates a sandbox.
    pub async fn from_env() -> Result<Self> {
        Self::create(DaytonaConfig::from_env()?).await
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub fn root_dir(&self) -> &str {
        self.inner.root_dir()
    }
}

impl Api {
    async fn get(&self) -> Result<SandboxDto> {
        let url = format!("{}/sandbox/{}", self.api_url, self.sandbox_id);
        let response = self
            .client
            .send("get sandbox", Retry::Idempotent, |http| {
                http.get(&url).bearer_auth(self.api_key.expose())
            })
            .await?;
        self.client.read_json("get sandbox", response).await
    }

    async fn wait_started(
        &self,
        mut dto: SandboxDto,
        config: &DaytonaConfig,
    ) -> Result<SandboxDto> {
        let began = Instant::now();
        loop {
            match dto.state.as_deref() {
                Some("started") => return Ok(dto),
                Some(state @ ("error" | "build_failed")) => {
                    let reason = dto.error_reason.as_deref().unwrap_or("no reason given");
                    return Err(Error::new(
                        ErrorKind::Unavailable,
                        format!(
                            "Daytona sandbox {} ended in state {state}: {reason}",
                            self.sandbox_id
                        ),
                    )
                    .with_context("provider", "Daytona"));
                }
                _ => {}
            }
            if began.elapsed() > config.start_timeout {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "Daytona sandbox {} did not start within {:?} (last state {})",
                        self.sandbox_id,
                        config.start_timeout,
                        dto.state.as_deref().unwrap_or("unknown")
                    ),
                )
                .with_retryable(true));
            }
            tokio::time::sleep(config.poll_interval).await;
            dto = self.get().await?;
        }
    }

    /// `DELETE /sandbox/{id}`; 404 means already gone.
    pub(crate) async fn delete(&self) -> Result<()> {
        let url = format!("{}/sandbox/{}", self.api_url, self.sandbox_id);
        match self
            .client
            .send("delete sandbox", Retry::Idempotent, |http| {
                http.delete(&url).bearer_auth(self.api_key.expose())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

forward_sandbox!(DaytonaSandbox);
