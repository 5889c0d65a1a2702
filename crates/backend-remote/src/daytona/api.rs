//! Daytona's API (`/sandbox`) for one sandbox: its state while it starts,
//! and its deletion.

use std::time::{Duration, Instant};

use backend_core::{Error, ErrorKind, Result};
use serde::Deserialize;

use crate::http::client::{HttpClient, Repeat};
use crate::secret::ApiKey;

/// The API side of one sandbox.
#[derive(Debug)]
pub(crate) struct Api {
    pub(crate) client: HttpClient,
    pub(crate) api_url: String,
    pub(crate) api_key: ApiKey,
    pub(crate) sandbox_id: String,
}

/// A sandbox as the API describes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SandboxDto {
    pub(crate) id: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    pub(crate) toolbox_proxy_url: Option<String>,
    #[serde(default)]
    error_reason: Option<String>,
}

impl Api {
    async fn get(&self) -> Result<SandboxDto> {
        let url = format!("{}/sandbox/{}", self.api_url, self.sandbox_id);
        let response = self
            .client
            .send("get sandbox", Repeat::Idempotent, |http| {
                http.get(&url).bearer_auth(self.api_key.expose())
            })
            .await?;
        self.client.read_json("get sandbox", response).await
    }

    /// Polls every `poll_interval` until the sandbox is `started`; fails
    /// fast on `error` or `build_failed`, and after `start_timeout`.
    pub(crate) async fn wait_started(
        &self,
        mut dto: SandboxDto,
        start_timeout: Duration,
        poll_interval: Duration,
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
            if began.elapsed() > start_timeout {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "Daytona sandbox {} did not start within {start_timeout:?} (last state {})",
                        self.sandbox_id,
                        dto.state.as_deref().unwrap_or("unknown")
                    ),
                )
                .with_retryable(true));
            }
            tokio::time::sleep(poll_interval).await;
            dto = self.get().await?;
        }
    }

    /// `DELETE /sandbox/{id}`; 404 means already gone.
    pub(crate) async fn delete(&self) -> Result<()> {
        let url = format!("{}/sandbox/{}", self.api_url, self.sandbox_id);
        match self
            .client
            .send("delete sandbox", Repeat::Idempotent, |http| {
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
