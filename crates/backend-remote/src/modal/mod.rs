//! Modal sandboxes over gRPC (experimental: Modal calls this API unstable).
//!
//! The flow: `AppGetOrCreate`, `ImageGetOrCreate` (+ `ImageJoinStreaming`
//! while it builds), `SandboxCreate`, `SandboxGetTaskId`,
//! `SandboxGetCommandRouterAccess`, then commands on a second connection to
//! the sandbox's task command router (`TaskExecStart`, `TaskExecStdioRead`,
//! `TaskExecWait`, `TaskExecStdinWrite`), and `SandboxTerminate` on close.
//! Files go through commands; the messages are hand-written prost structs
//! (no protoc).

mod config;
mod grpc;
mod pid_line;
mod proto;
mod task;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backend_core::{Error, ErrorKind, Result};

pub use config::{DEFAULT_SERVER_URL, Modal, ModalConfig, ModalSettings};

use crate::options::RemoteOptions;
use crate::provider::{Defaults, Provider};
use crate::sandbox::SandboxCore;
use grpc::{GrpcConn, Repeat, Side, secret_value};
use proto::*;
use task::{ModalRemote, Task, router_access, router_conn};

/// A live Modal sandbox. Implements [`backend_core::Sandbox`]; `close()`
/// terminates it.
pub type ModalSandbox = crate::RemoteSandbox<Modal>;

const APP_GET_OR_CREATE: &str = "/modal.client.ModalClient/AppGetOrCreate";
const IMAGE_GET_OR_CREATE: &str = "/modal.client.ModalClient/ImageGetOrCreate";
const IMAGE_JOIN: &str = "/modal.client.ModalClient/ImageJoinStreaming";
const SANDBOX_CREATE: &str = "/modal.client.ModalClient/SandboxCreate";
const SANDBOX_TASK_ID: &str = "/modal.client.ModalClient/SandboxGetTaskId";

/// `x-modal-client-type`: `CLIENT_TYPE_LIBMODAL`, the type of non-Python SDKs.
const CLIENT_TYPE: &str = "7";
/// `x-modal-client-version`: the Python SDK version whose behaviour the
/// client follows.
const CLIENT_VERSION: &str = "1.0.0";

impl Provider for Modal {
    const NAME: &'static str = "Modal";
    const DEFAULTS: Defaults = Defaults {
        api_url: DEFAULT_SERVER_URL,
        root_dir: "/workspace",
        start_secs: 300,
    };
    const ENV: &'static [(&'static str, &'static str)] = &[
        ("MODAL_TOKEN_ID", "token_id"),
        ("MODAL_TOKEN_SECRET", "token_secret"),
        ("MODAL_SERVER_URL", "api_url"),
    ];
    const KEYS: &'static [&'static str] = &[
        "token_id",
        "token_secret",
        "app",
        "environment",
        "image",
        "builder_version",
        "milli_cpu",
        "memory_mb",
        "timeout",
        "idle_timeout",
    ];

    type Settings = ModalSettings;

    /// The shared keys but the single key ones: Modal has a token pair.
    fn accepts(key: &str) -> bool {
        !matches!(key, "api_key" | "api_key_env")
            && (crate::options::KEYS.contains(&key) || Self::KEYS.contains(&key))
    }

    fn validate(options: &RemoteOptions, settings: &ModalSettings) -> Result<()> {
        settings.validate(options)
    }

    /// Gets or creates the app, builds (or reuses) the image, creates the
    /// sandbox, waits for its task, connects to its command router and
    /// prepares the root directory. A sandbox that fails to start is
    /// terminated.
    async fn create(
        api_url: String,
        options: RemoteOptions,
        settings: ModalSettings,
    ) -> Result<SandboxCore> {
        let config = ModalConfig { options, settings };
        let api = control_plane(&config, &api_url)?;
        let app_id = get_app(&api, &config).await?;
        let image_id = build_image(&api, &config, &app_id).await?;
        let sandbox_id = create_sandbox(&api, &config, &app_id, &image_id).await?;
        let task = match connect(&api, &config, &sandbox_id).await {
            Ok(task) => Arc::new(task),
            Err(e) => {
                let gone = Task::terminate_by_id(&api, &sandbox_id).await;
                if let Err(t) = gone {
                    tracing::warn!(sandbox = %sandbox_id, error = %t, "could not terminate a sandbox that failed to start");
                }
                return Err(e.with_context("sandbox", sandbox_id));
            }
        };
        SandboxCore::open(Arc::new(ModalRemote(task)), &config.options.root_dir).await
    }
}

fn control_plane(config: &ModalConfig, api_url: &str) -> Result<GrpcConn> {
    let metadata = vec![
        (
            "x-modal-token-id",
            secret_value(config.settings.token_id.expose(), "MODAL_TOKEN_ID")?,
        ),
        (
            "x-modal-token-secret",
            secret_value(config.options.api_key.expose(), "MODAL_TOKEN_SECRET")?,
        ),
        (
            "x-modal-client-type",
            tonic::metadata::AsciiMetadataValue::from_static(CLIENT_TYPE),
        ),
        (
            "x-modal-client-version",
            tonic::metadata::AsciiMetadataValue::from_static(CLIENT_VERSION),
        ),
    ];
    GrpcConn::new(
        api_url,
        Side::ControlPlane,
        metadata,
        config.options.timeouts,
        config.options.retry,
    )
}

async fn get_app(api: &GrpcConn, config: &ModalConfig) -> Result<String> {
    let request = AppGetOrCreateRequest {
        app_name: config.settings.app_name.clone(),
        environment_name: config.settings.environment.clone(),
        object_creation_type: OBJECT_CREATION_TYPE_CREATE_IF_MISSING,
    };
    let response: AppGetOrCreateResponse = api
        .unary(APP_GET_OR_CREATE, request, Repeat::Safe, None)
        .await?;
    if response.app_id.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "Modal AppGetOrCreate returned no app id",
        ));
    }
    Ok(response.app_id)
}

/// `ImageGetOrCreate` for `FROM <tag>`, then `ImageJoinStreaming` until the
/// build has a result.
async fn build_image(api: &GrpcConn, config: &ModalConfig, app_id: &str) -> Result<String> {
    let request = ImageGetOrCreateRequest {
        image: Some(Image {
            dockerfile_commands: vec![format!("FROM {}", config.settings.image)],
        }),
        app_id: app_id.to_owned(),
        builder_version: config.settings.builder_version.clone(),
    };
    let response: ImageGetOrCreateResponse = api
        .unary(IMAGE_GET_OR_CREATE, request, Repeat::Safe, None)
        .await?;
    let image_id = response.image_id;
    let began = Instant::now();
    let mut result = response
        .result
        .filter(|r| r.status != generic_status::UNSPECIFIED);
    let mut last_entry_id = String::new();
    while result.is_none() {
        if began.elapsed() > config.options.start_timeout {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "the Modal image {} was not built within {:?}",
                    config.settings.image, config.options.start_timeout
                ),
            )
            .with_retryable(true));
        }
        let join = ImageJoinStreamingRequest {
            image_id: image_id.clone(),
            timeout: 55.0,
            last_entry_id: last_entry_id.clone(),
        };
        let mut stream = match api
            .open_stream::<_, ImageJoinStreamingResponse>(IMAGE_JOIN, join)
            .await
        {
            Ok(stream) => stream,
            Err(status) if grpc::transient(&status) => {
                tokio::time::sleep(api.retry_policy().backoff(0)).await;
                continue;
            }
            Err(status) => return Err(api.status_error(IMAGE_JOIN, &status)),
        };
        loop {
            match stream.message().await {
                Ok(Some(item)) => {
                    if !item.entry_id.is_empty() {
                        last_entry_id = item.entry_id;
                    }
                    if let Some(r) = item
                        .result
                        .filter(|r| r.status != generic_status::UNSPECIFIED)
                    {
                        result = Some(r);
                        break;
                    }
                    if item.eof {
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) if grpc::transient(&status) => break,
                Err(status) => return Err(api.status_error(IMAGE_JOIN, &status)),
            }
        }
    }
    match result {
        Some(r) if r.status == generic_status::SUCCESS => Ok(image_id),
        Some(r) => {
            let why = match r.status {
                generic_status::TIMEOUT => "timed out".to_owned(),
                generic_status::TERMINATED => "was stopped".to_owned(),
                _ => format!("failed: {}", r.exception.trim()),
            };
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "building the Modal image from {} {why}",
                    config.settings.image
                ),
            )
            .with_context("provider", "Modal"))
        }
        None => Err(Error::internal("image build loop ended without a result")),
    }
}

async fn create_sandbox(
    api: &GrpcConn,
    config: &ModalConfig,
    app_id: &str,
    image_id: &str,
) -> Result<String> {
    let secs = |d: Duration| u32::try_from(d.as_secs().max(1)).unwrap_or(u32::MAX);
    let resources = (config.settings.milli_cpu.is_some() || config.settings.memory_mb.is_some())
        .then(|| Resources {
            memory_mb: config.settings.memory_mb.unwrap_or(0),
            milli_cpu: config.settings.milli_cpu.unwrap_or(0),
        });
    let env = (!config.options.env.is_empty()).then(|| StringMap {
        contents: config.options.env.clone().into_iter().collect(),
    });
    let request = SandboxCreateRequest {
        app_id: app_id.to_owned(),
        definition: Some(SandboxDefinition {
            entrypoint_args: Vec::new(),
            image_id: image_id.to_owned(),
            resources,
            timeout_secs: secs(config.settings.lifetime),
            workdir: Some(config.options.root_dir.clone()),
            idle_timeout_secs: config.settings.idle_timeout.map(secs),
            environment_variables: env,
        }),
        tags: config
            .options
            .labels
            .iter()
            .map(|(name, value)| SandboxTag {
                tag_name: name.clone(),
                tag_value: value.clone(),
            })
            .collect(),
    };
    // Not retried: a second attempt could create a second sandbox.
    let response: SandboxCreateResponse = api
        .unary(SANDBOX_CREATE, request, Repeat::Never, None)
        .await?;
    if response.sandbox_id.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "Modal SandboxCreate returned no sandbox id",
        ));
    }
    Ok(response.sandbox_id)
}

/// Waits for the sandbox's task and connects to its command router.
async fn connect(api: &GrpcConn, config: &ModalConfig, sandbox_id: &str) -> Result<Task> {
    let began = Instant::now();
    let task_id = loop {
        let left = config.options.start_timeout.saturating_sub(began.elapsed());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "Modal sandbox {sandbox_id} was not scheduled within {:?}",
                    config.options.start_timeout
                ),
            )
            .with_retryable(true));
        }
        let wait = left.min(Duration::from_secs(50));
        let request = SandboxGetTaskIdRequest {
            sandbox_id: sandbox_id.to_owned(),
            timeout: Some(wait.as_secs_f32()),
            wait_until_ready: false,
        };
        let response: SandboxGetTaskIdResponse = api
            .unary(
                SANDBOX_TASK_ID,
                request,
                Repeat::Safe,
                Some(wait + Duration::from_secs(10)),
            )
            .await?;
        if let Some(result) = response
            .task_result
            .filter(|r| r.status != generic_status::UNSPECIFIED)
        {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "Modal sandbox {sandbox_id} ended while starting (status {}, exit code {}): {}",
                    result.status,
                    result.exitcode,
                    result.exception.trim()
                ),
            ));
        }
        if let Some(task_id) = response.task_id.filter(|t| !t.is_empty()) {
            break task_id;
        }
    };
    let access = router_access(api, sandbox_id).await?;
    let router = router_conn(&access, config.options.timeouts, config.options.retry)?;
    Ok(Task {
        api: api.clone(),
        router: Mutex::new(router),
        sandbox_id: sandbox_id.to_owned(),
        task_id,
        timeouts: config.options.timeouts,
        retry: config.options.retry,
    })
}
