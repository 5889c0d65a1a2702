//! Runloop devboxes: create and wait (`wait_for_status` long poll), run
//! commands with an idempotent UUIDv7 `command_id` and wait for them, move
//! bytes with `upload_file`/`download_file`, and do directory work through
//! commands with quoted arguments (the API has no list, delete or mkdir).

mod config;
mod devbox;

use std::sync::Arc;

use backend_core::Result;

pub use config::{Runloop, RunloopConfig, RunloopSettings};

use crate::http::client::{HttpClient, Repeat};
use crate::options::RemoteOptions;
use crate::provider::{Defaults, Provider};
use crate::sandbox::SandboxCore;
use devbox::{Devbox, DevboxView, wait_running};

/// A live Runloop devbox. Implements [`backend_core::Sandbox`]; `close()`
/// shuts it down.
pub type RunloopSandbox = crate::RemoteSandbox<Runloop>;

impl Provider for Runloop {
    const NAME: &'static str = "Runloop";
    const DEFAULTS: Defaults = Defaults {
        api_url: "https://api.runloop.ai",
        root_dir: "/home/user/workspace",
        start_secs: 300,
    };
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("RUNLOOP_API_KEY", "api_key"),
        ("RUNLOOP_BASE_URL", "api_url"),
    ];
    const KEYS: &'static [&'static str] = &[
        "blueprint",
        "blueprint_name",
        "blueprint_id",
        "snapshot_id",
        "resource_size",
        "timeout",
    ];

    type Settings = RunloopSettings;

    /// `POST /v1/devboxes` with an `x-request-id`, so a retried create is
    /// not doubled; waits until it is `running` and prepares its work
    /// directory. A devbox that fails to start is shut down.
    async fn create(
        api_url: String,
        options: RemoteOptions,
        settings: RunloopSettings,
    ) -> Result<SandboxCore> {
        let client = HttpClient::for_options(Self::NAME, &options)?;
        let mut launch =
            serde_json::json!({ "keep_alive_time_seconds": settings.keep_alive.as_secs() });
        if let Some(size) = &settings.resource_size {
            launch["resource_size_request"] = size.clone().into();
        }
        let mut body = serde_json::json!({
            "environment_variables": options.env,
            "metadata": options.labels,
            "launch_parameters": launch,
        });
        for (name, value) in [
            ("blueprint_name", &settings.blueprint_name),
            ("blueprint_id", &settings.blueprint_id),
            ("snapshot_id", &settings.snapshot_id),
        ] {
            if let Some(value) = value {
                body[name] = value.clone().into();
            }
        }
        let url = format!("{api_url}/v1/devboxes");
        let request_id = uuid::Uuid::now_v7().to_string();
        let response = client
            .send("create devbox", Repeat::Idempotent, |http| {
                http.post(&url)
                    .bearer_auth(options.api_key.expose())
                    .header("x-request-id", &request_id)
                    .json(&body)
            })
            .await?;
        let created: DevboxView = client.read_json("create devbox", response).await?;
        let devbox = Arc::new(Devbox {
            client,
            base: format!("{api_url}/v1/devboxes/{}", created.id),
            api_key: options.api_key.clone(),
            id: created.id.clone(),
        });
        if created.status.as_deref() != Some("running")
            && let Err(e) = wait_running(&devbox, options.start_timeout).await
        {
            let _ = devbox.shutdown().await;
            return Err(e);
        }
        SandboxCore::open(devbox, &options.root_dir).await
    }
}
