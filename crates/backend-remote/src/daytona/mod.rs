//! Daytona sandboxes: the API (`/sandbox`) for the lifecycle, and the
//! sandbox's toolbox (reached through its `toolboxProxyUrl`) for files and,
//! through the session API, for commands with stdout and stderr kept apart.

mod api;
mod config;
mod toolbox;

use std::sync::Arc;

use backend_core::{Error, Result};

pub use config::{Daytona, DaytonaConfig, DaytonaSettings};

use crate::http::client::{HttpClient, Repeat};
use crate::options::RemoteOptions;
use crate::provider::{Defaults, Provider};
use crate::sandbox::SandboxCore;
use api::{Api, SandboxDto};
use toolbox::Toolbox;

/// A live Daytona sandbox. Implements [`backend_core::Sandbox`]; `close()`
/// deletes it.
pub type DaytonaSandbox = crate::RemoteSandbox<Daytona>;

impl Provider for Daytona {
    const NAME: &'static str = "Daytona";
    const DEFAULTS: Defaults = Defaults {
        api_url: "https://app.daytona.io/api",
        root_dir: "/home/daytona/workspace",
        start_secs: 120,
    };
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("DAYTONA_API_KEY", "api_key"),
        ("DAYTONA_API_URL", "api_url"),
        ("DAYTONA_TARGET", "target"),
    ];
    const KEYS: &'static [&'static str] =
        &["snapshot", "target", "cpu", "memory", "disk", "timeout"];

    type Settings = DaytonaSettings;

    /// `POST /sandbox`, then waits until it is `started` (failing fast on
    /// `error` or `build_failed`) and prepares its work directory. A sandbox
    /// that fails to start is deleted.
    async fn create(
        api_url: String,
        options: RemoteOptions,
        settings: DaytonaSettings,
    ) -> Result<SandboxCore> {
        let client = HttpClient::for_options(Self::NAME, &options)?;
        let mut body = serde_json::json!({ "env": options.env, "labels": options.labels });
        let fields = [
            (
                "snapshot",
                settings.snapshot.clone().map(serde_json::Value::from),
            ),
            (
                "target",
                settings.target.clone().map(serde_json::Value::from),
            ),
            ("cpu", settings.cpu.map(serde_json::Value::from)),
            ("memory", settings.memory_gib.map(serde_json::Value::from)),
            ("disk", settings.disk_gib.map(serde_json::Value::from)),
            (
                "autoStopInterval",
                settings.auto_stop_minutes.map(serde_json::Value::from),
            ),
        ];
        for (name, value) in fields {
            if let Some(value) = value {
                body[name] = value;
            }
        }
        let url = format!("{api_url}/sandbox");
        let response = client
            .post_json(
                "create sandbox",
                Repeat::Throttled,
                &url,
                &options.api_key,
                &body,
            )
            .await?;
        let created: SandboxDto = client.read_json("create sandbox", response).await?;
        let api = Arc::new(Api {
            client: client.clone(),
            api_url,
            api_key: options.api_key.clone(),
            sandbox_id: created.id.clone(),
        });
        let started = api
            .wait_started(created, options.start_timeout, settings.poll_interval)
            .await;
        let proxy = match started.map(|dto| dto.toolbox_proxy_url) {
            Ok(Some(proxy)) => proxy,
            failed => {
                let _ = api.delete().await;
                return Err(failed.err().unwrap_or_else(|| {
                    Error::internal("Daytona returned a started sandbox without a toolboxProxyUrl")
                }));
            }
        };
        let toolbox = Toolbox {
            client,
            base: format!("{}/{}", proxy.trim_end_matches('/'), api.sandbox_id),
            api_key: options.api_key.clone(),
            poll_interval: settings.poll_interval,
            api,
        };
        SandboxCore::open(Arc::new(toolbox), &options.root_dir).await
    }
}
