//! E2B sandboxes: the control plane (`/v2/sandboxes`) for the lifecycle, the
//! in-sandbox daemon (envd) for files (`/files`) and, over Connect RPC, for
//! commands (`process.Process/Start`) and directories
//! (`filesystem.Filesystem/*`).

mod config;
mod connect;
mod envd;

use std::sync::Arc;

use backend_core::Result;
use serde::Deserialize;

pub use config::{E2b, E2bConfig, E2bSettings};

use crate::http::client::{HttpClient, Repeat};
use crate::options::RemoteOptions;
use crate::provider::{Defaults, Provider};
use crate::sandbox::SandboxCore;
use crate::secret::ApiKey;
use envd::{Control, Envd};

/// A live E2B sandbox. Implements [`backend_core::Sandbox`]; `close()` kills
/// it (an already-gone sandbox counts as closed), and
/// [`set_lifetime`](crate::RemoteSandbox::set_lifetime) extends it.
pub type E2bSandbox = crate::RemoteSandbox<E2b>;

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

impl Provider for E2b {
    const NAME: &'static str = "E2B";
    const DEFAULTS: Defaults = Defaults {
        api_url: "https://api.e2b.app",
        root_dir: "/home/user/workspace",
        start_secs: 60,
    };
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("E2B_API_KEY", "api_key"),
        ("E2B_DOMAIN", "domain"),
        ("E2B_API_URL", "api_url"),
    ];
    const KEYS: &'static [&'static str] = &["template", "domain", "envd_url", "timeout"];

    type Settings = E2bSettings;

    fn default_api_url(settings: &E2bSettings) -> String {
        format!("https://api.{}", settings.domain)
    }

    /// `POST /v2/sandboxes` with an explicit lifetime, then the work
    /// directory through envd.
    async fn create(
        api_url: String,
        options: RemoteOptions,
        settings: E2bSettings,
    ) -> Result<SandboxCore> {
        let client = HttpClient::for_options(Self::NAME, &options)?;
        let body = serde_json::json!({
            "templateID": settings.template,
            "timeout": settings.lifetime.as_secs(),
            "metadata": options.labels,
            "envVars": options.env,
        });
        let url = format!("{api_url}/v2/sandboxes");
        let response = client
            .send("create sandbox", Repeat::Throttled, |http| {
                http.post(&url)
                    .header("X-API-Key", options.api_key.expose())
                    .json(&body)
            })
            .await?;
        let created: Created = client.read_json("create sandbox", response).await?;
        let control = Arc::new(Control {
            client: client.clone(),
            api_url,
            api_key: options.api_key.clone(),
            sandbox_id: created.sandbox_id.clone(),
        });
        let envd_url = match &settings.envd_url {
            Some(url) => url.clone(),
            None => {
                let domain = created.domain.as_deref().unwrap_or(&settings.domain);
                format!("https://49983-{}.{}", created.sandbox_id, domain)
            }
        };
        tracing::debug!(sandbox = %created.sandbox_id, "created E2B sandbox");
        let envd = Envd {
            client,
            base: envd_url,
            token: created.envd_access_token.map(ApiKey::new),
            control,
        };
        SandboxCore::open(Arc::new(envd), &options.root_dir).await
    }
}
