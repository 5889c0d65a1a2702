//! E2B sandboxes: the control plane (`/v2/sandboxes`) for the lifecycle, the
//! in-sandbox daemon (envd) for files (`/files`) and, over Connect RPC, for
//! commands (`process.Process/Start`) and directories
//! (`filesystem.Filesystem/*`).

mod config;
mod connect;
mod envd;

use std::sync::Arc;
use std::time::Duration;

use backend_core::{Operation, Result};
use serde::Deserialize;

pub use config::E2bConfig;

use crate::http::client::{HttpClient, Retry};
use crate::http::remote::RemoteSandbox;
use crate::http::{ApiKey, forward_sandbox};
use envd::Envd;

/// A live E2B sandbox. Implements [`backend_core::Sandbox`]; `close()` kills
/// it (an already-gone sandbox counts as closed).
#[derive(Debug)]
pub struct E2bSandbox {
    inner: RemoteSandbox,
    control: Arc<Control>,
}

/// The control-plane side: the API base URL, key and sandbox id.
#[derive(Debug)]
pub(crate) struct Control {
    client: HttpClient,
    api_url: String,
    api_key: ApiKey,
    sandbox_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    #[serde(rename = "sandboxID")]
    sandbox_id: String,
    #[serde(default)]
    envd_access_token: Option<String>,
    #[serde(default)]
    domain: Option<String>,
}

impl E2bSandbox {
    /// Creates a sandbox from `config` (`POST /v2/sandboxes`, with an
    /// explicit lifetime) and prepares its work directory.
    pub async fn create(config: E2bConfig) -> Result<Self> {
        let client = HttpClient::new("E2B", "E2B_API_KEY", config.timeouts, config.retry)
            .map_err(|e| e.with_operation(Operation::Create))?;
        let body = serde_json::json!({
            "templateID": config.template,
            "timeout": config.lifetime.as_secs(),
            "metadata": config.metadata,
            "envVars": config.env_vars,
        });
        let url = format!("{}/v2/sandboxes", config.api_url);
        let response = client
            .send("create sandbox", Retry::Throttled, |http| {
                http.post(&url)
                    .header("X-API-Key", config.api_key.expose())
                    .json(&body)
            })
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let created: Created = client
            .read_json("create sandbox", response)
            .await
            .map_err(|e| e.with_operation(Operation::Create))?;
        let control = Arc::new(Control {
            client: client.clone(),
            api_url: config.api_url.clone(),
            api_key: config.api_key.clone(),
            sandbox_id: created.sandbox_id.clone(),
        });
        let envd_url = match &config.envd_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let domain = created.domain.as_deref().unwrap_or(&config.domain);
                format!("https://49983-{}.{}", created.sandbox_id, domain)
            }
        };
        tracing::debug!(sandbox = %created.sandbox_id, "created E2B sandbox");
        let envd = Envd {
            client,
            base: envd_url,
            token: created.envd_access_token.map(ApiKey::new),
            control: control.clone(),
        };
        let inner = RemoteSandbox::open(Arc::new(envd), &config.root_dir)
            .await
            .map_err(|e| e.or_operation(Operation::Create))?;
        Ok(E2bSandbox { inner, control })
    }

    /// Reads [`E2bConfig::from_env`] and creates a sandbox.
    pub async fn from_env() -> Result<Self> {
        Self::create(E2bConfig::from_env()?).await
    }

    /// The directory inside the sandbox where the virtual `/` lives.
    pub fn root_dir(&self) -> &str {
        self.inner.root_dir()
    }

    /// Sets the sandbox to expire `lifetime` from now
    /// (`POST /sandboxes/{id}/timeout`).
    pub async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        let c = &self.control;
        let url = format!("{}/sandboxes/{}/timeout", c.api_url, c.sandbox_id);
        let body = serde_json::json!({ "timeout": lifetime.as_secs() });
        c.client
            .send("set sandbox timeout", Retry::Idempotent, |http| {
                http.post(&url)
                    .header("X-API-Key", c.api_key.expose())
                    .json(&body)
            })
            .await
            .map(drop)
    }
}

impl Control {
    /// `DELETE /sandboxes/{id}`; 404 means already gone.
    pub(crate) async fn kill(&self) -> Result<()> {
        let url = format!("{}/sandboxes/{}", self.api_url, self.sandbox_id);
        match self
            .client
            .send("kill sandbox", Retry::Idempotent, |http| {
                http.delete(&url).header("X-API-Key", self.api_key.expose())
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == backend_core::ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

forward_sandbox!(E2bSandbox);
