//! A fake of Runloop: devboxes (`POST /v1/devboxes` with `x-request-id`
//! idempotency, `GET /v1/devboxes/{id}`, `.../wait_for_status` long poll
//! answering 408 when the hold expires, `.../shutdown`), executions
//! (`.../execute` with `command_id` deduplication,
//! `.../executions/{eid}/wait_for_status`, `.../kill`) and files
//! (`.../upload_file` multipart, `.../download_file`), all with
//! `Authorization: Bearer`. Like the service, it has no command timeout,
//! no cwd or env parameter, and no list, delete or mkdir call;
//! `upload_file` does not create parent directories.
//!
//! Errors are JSON `{"message": ...}` with the HTTP status (the route index
//! the fake follows does not define an error body).
//!
//! Fault routes: `create`, `get`, `wait`, `execute`, `wait_command`,
//! `kill`, `files`, `shutdown`.

// Handlers build ready-made error responses and pass them up with `?`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{self, Collected, Disk, Fault, Faults};

/// The API key the fake accepts.
pub const API_KEY: &str = "ak_fake_runloop_0123456789";

struct Execution {
    output: Arc<Mutex<Collected>>,
    done: tokio::sync::watch::Receiver<bool>,
}

struct Devbox {
    status: String,
    executions: HashMap<String, Execution>,
    by_command_id: HashMap<String, String>,
}

struct Inner {
    disk: Disk,
    faults: Faults,
    devboxes: Mutex<HashMap<String, Devbox>>,
    request_ids: Mutex<HashMap<String, String>>,
}

type Shared = Arc<Inner>;

/// A running fake Runloop.
pub struct FakeRunloop {
    inner: Shared,
    url: String,
}

impl FakeRunloop {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            disk: Disk::new(),
            faults: Faults::default(),
            devboxes: Mutex::new(HashMap::new()),
            request_ids: Mutex::new(HashMap::new()),
        });
        let d = "/v1/devboxes/{id}";
        let router = Router::new()
            .route("/v1/devboxes", post(create))
            .route(d, get(get_devbox))
            .route(&format!("{d}/wait_for_status"), post(wait_devbox))
            .route(&format!("{d}/execute"), post(execute))
            .route(
                &format!("{d}/executions/{{eid}}/wait_for_status"),
                post(wait_execution),
            )
            .route(&format!("{d}/executions/{{eid}}/kill"), post(kill))
            .route(&format!("{d}/download_file"), post(download_file))
            .route(&format!("{d}/upload_file"), post(upload_file))
            .route(&format!("{d}/shutdown"), post(shutdown))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(inner.clone());
        let url = common::serve(router).await;
        FakeRunloop { inner, url }
    }

    /// The API base URL (for `RUNLOOP_BASE_URL`).
    pub fn base_url(&self) -> String {
        self.url.clone()
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> &'static str {
        API_KEY
    }

    /// A fresh directory for one devbox's files.
    pub fn new_workdir(&self) -> String {
        self.inner.disk.new_workdir()
    }

    /// Fault injection and request counts.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// How many devboxes are not shut down.
    pub fn live_devboxes(&self) -> usize {
        let devboxes = self
            .inner
            .devboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        devboxes.values().filter(|d| d.status != "shutdown").count()
    }

    /// How many executions each devbox ran, summed.
    pub fn executions(&self) -> usize {
        let devboxes = self
            .inner
            .devboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        devboxes.values().map(|d| d.executions.len()).sum()
    }
}

fn error(status: u16, message: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(json!({ "message": message.into() }))).into_response()
}

fn check(inner: &Inner, route: &str, headers: &HeaderMap) -> Result<(), Response> {
    if let Some(fault) = inner.faults.take(route) {
        return Err(match fault {
            Fault::RateLimited { retry_after } => {
                let mut r = error(429, "rate limit exceeded");
                let h = r.headers_mut();
                if let Ok(v) = retry_after.as_millis().to_string().parse() {
                    h.insert("retry-after-ms", v);
                }
                if let Ok(v) = retry_after.as_secs().max(1).to_string().parse() {
                    h.insert("retry-after", v);
                }
                r
            }
            Fault::Status(status) => error(status, format!("injected failure {status}")),
            Fault::DropConnection => common::dropped_connection(),
        });
    }
    match common::header(headers, "authorization") {
        Some(v) if v == format!("Bearer {API_KEY}") => Ok(()),
        _ => Err(error(401, "Unauthorized: invalid or missing API key")),
    }
}

fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, Response> {
    if !common::content_type_is(headers, "application/json") {
        return Err(error(400, "Content-Type must be application/json"));
    }
    serde_json::from_slice(body).map_err(|e| error(400, format!("invalid request body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Fields are read to check their types.
struct LaunchParameters {
    after_idle: Option<Value>,
    architecture: Option<String>,
    available_ports: Option<Vec<u32>>,
    custom_cpu_cores: Option<u32>,
    custom_disk_size: Option<u32>,
    custom_gb_memory: Option<u32>,
    keep_alive_time_seconds: Option<u64>,
    launch_commands: Option<Vec<String>>,
    required_services: Option<Vec<String>>,
    resource_size_request: Option<String>,
    user_parameters: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateDevbox {
    blueprint_id: Option<String>,
    blueprint_name: Option<String>,
    code_mounts: Option<Value>,
    entrypoint: Option<String>,
    environment_variables: Option<HashMap<String, String>>,
    file_mounts: Option<HashMap<String, String>>,
    gateways: Option<Value>,
    launch_parameters: Option<LaunchParameters>,
    metadata: Option<HashMap<String, String>>,
    mounts: Option<Value>,
    name: Option<String>,
    repo_connection_id: Option<String>,
    secrets: Option<HashMap<String, String>>,
    snapshot_id: Option<String>,
    tunnel: Option<Value>,
}

fn view(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "status": status,
        "capabilities": [],
        "create_time_ms": 0,
        "launch_parameters": {},
        "metadata": {},
        "state_transitions": [],
    })
}

async fn create(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&inner, "create", &headers) {
        return r;
    }
    let request: CreateDevbox = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let chosen = [
        &request.blueprint_id,
        &request.blueprint_name,
        &request.snapshot_id,
    ]
    .iter()
    .filter(|v| v.is_some())
    .count();
    if chosen > 1 {
        return error(
            400,
            "only one of blueprint_id, blueprint_name and snapshot_id may be given",
        );
    }
    let request_id = common::header(&headers, "x-request-id").map(str::to_owned);
    if let Some(rid) = &request_id {
        let known = inner
            .request_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(rid)
            .cloned();
        if let Some(id) = known {
            let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
            let status = devboxes
                .get(&id)
                .map(|d| d.status.clone())
                .unwrap_or_default();
            return axum::Json(view(&id, &status)).into_response();
        }
    }
    let id = format!("dbx_{}", uuid::Uuid::new_v4().simple());
    inner
        .devboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            id.clone(),
            Devbox {
                status: "provisioning".to_owned(),
                executions: HashMap::new(),
                by_command_id: HashMap::new(),
            },
        );
    if let Some(rid) = request_id {
        inner
            .request_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rid, id.clone());
    }
    axum::Json(view(&id, "provisioning")).into_response()
}

async fn get_devbox(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&inner, "get", &headers) {
        return r;
    }
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    match devboxes.get(&id) {
        Some(d) => axum::Json(view(&id, &d.status)).into_response(),
        None => error(404, format!("devbox {id} not found")),
    }
}

const DEVBOX_STATUSES: [&str; 8] = [
    "provisioning",
    "initializing",
    "running",
    "suspending",
    "suspended",
    "resuming",
    "failure",
    "shutdown",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitDevbox {
    statuses: Vec<String>,
    timeout_seconds: Option<u64>,
}

async fn wait_devbox(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&inner, "wait", &headers) {
        return r;
    }
    let request: WaitDevbox = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if request.statuses.is_empty()
        || request
            .statuses
            .iter()
            .any(|s| !DEVBOX_STATUSES.contains(&s.as_str()))
    {
        return error(400, "statuses must list at least one devbox status");
    }
    if request.timeout_seconds.is_some_and(|t| t > 30) {
        return error(400, "timeout_seconds may be at most 30");
    }
    let mut devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    let Some(devbox) = devboxes.get_mut(&id) else {
        return error(404, format!("devbox {id} not found"));
    };
    if devbox.status == "provisioning" {
        devbox.status = "running".to_owned();
    }
    if request.statuses.contains(&devbox.status) {
        axum::Json(view(&id, &devbox.status)).into_response()
    } else {
        error(408, "the devbox did not reach the requested status in time")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    command: String,
    command_id: String,
    optimistic_timeout: Option<u64>,
    shell_name: Option<String>,
}

fn execution_view(devbox_id: &str, execution_id: &str, execution: &Execution) -> Value {
    let c = execution
        .output
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let finished = *execution.done.borrow();
    if finished {
        json!({
            "devbox_id": devbox_id,
            "execution_id": execution_id,
            "status": "completed",
            "exit_status": c.exit_code,
            "stdout": String::from_utf8_lossy(&c.stdout),
            "stderr": String::from_utf8_lossy(&c.stderr),
            "stdout_truncated": false,
            "stderr_truncated": false,
        })
    } else {
        json!({ "devbox_id": devbox_id, "execution_id": execution_id, "status": "running" })
    }
}

async fn execute(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&inner, "execute", &headers) {
        return r;
    }
    let request: ExecuteRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if request.shell_name.is_some() {
        return error(400, "the fake does not keep persistent shells");
    }
    if uuid::Uuid::parse_str(&request.command_id).is_err() {
        return error(400, "command_id must be a UUID");
    }
    if request.optimistic_timeout.is_some_and(|t| t > 600) {
        return error(400, "optimistic_timeout may be at most 600");
    }
    let (execution_id, mut done) = {
        let mut devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(devbox) = devboxes.get_mut(&id) else {
            return error(404, format!("devbox {id} not found"));
        };
        if devbox.status != "running" {
            return error(
                400,
                format!("devbox {id} is {}, not running", devbox.status),
            );
        }
        match devbox.by_command_id.get(&request.command_id) {
            // The same command_id again: the same execution, not a new run.
            Some(eid) => {
                let done = devbox.executions.get(eid).map(|e| e.done.clone());
                match done {
                    Some(done) => (eid.clone(), done),
                    None => return error(500, "lost execution"),
                }
            }
            None => {
                let proc = match common::spawn(&request.command, inner.disk.root(), &HashMap::new())
                {
                    Ok(p) => p,
                    Err(e) => return error(500, format!("failed to start the command: {e}")),
                };
                let (output, done) = common::collect(proc);
                let eid = format!("exe_{}", uuid::Uuid::new_v4().simple());
                devbox.executions.insert(
                    eid.clone(),
                    Execution {
                        output,
                        done: done.clone(),
                    },
                );
                devbox
                    .by_command_id
                    .insert(request.command_id.clone(), eid.clone());
                (eid, done)
            }
        }
    };
    if let Some(secs) = request.optimistic_timeout {
        let _ = tokio::time::timeout(Duration::from_secs(secs), done.wait_for(|d| *d)).await;
    }
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    match devboxes
        .get(&id)
        .and_then(|d| d.executions.get(&execution_id))
    {
        Some(execution) => {
            axum::Json(execution_view(&id, &execution_id, execution)).into_response()
        }
        None => error(404, "execution not found"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WaitExecution {
    statuses: Vec<String>,
    timeout_seconds: Option<u64>,
    last_n: Option<String>,
}

fn execution_done(
    inner: &Inner,
    id: &str,
    eid: &str,
) -> Option<tokio::sync::watch::Receiver<bool>> {
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    devboxes
        .get(id)
        .and_then(|d| d.executions.get(eid))
        .map(|e| e.done.clone())
}

async fn wait_execution(
    State(inner): State<Shared>,
    UrlPath((id, eid)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&inner, "wait_command", &headers) {
        return r;
    }
    let request: WaitExecution = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    if request.statuses.is_empty()
        || request
            .statuses
            .iter()
            .any(|s| !["queued", "running", "completed"].contains(&s.as_str()))
    {
        return error(400, "statuses must list queued, running or completed");
    }
    let Some(mut done) = execution_done(&inner, &id, &eid) else {
        return error(404, format!("execution {eid} not found"));
    };
    let wants_running = request
        .statuses
        .iter()
        .any(|s| s == "running" || s == "queued");
    if !wants_running {
        let hold = Duration::from_secs(request.timeout_seconds.unwrap_or(10).min(30));
        if tokio::time::timeout(hold, done.wait_for(|d| *d))
            .await
            .is_err()
        {
            return error(
                408,
                "the execution did not reach the requested status in time",
            );
        }
    }
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    match devboxes.get(&id).and_then(|d| d.executions.get(&eid)) {
        Some(execution) => axum::Json(execution_view(&id, &eid, execution)).into_response(),
        None => error(404, format!("execution {eid} not found")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillRequest {
    kill_process_group: Option<bool>,
}

async fn kill(
    State(inner): State<Shared>,
    UrlPath((id, eid)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&inner, "kill", &headers) {
        return r;
    }
    let request: KillRequest = if body.is_empty() {
        KillRequest {
            kill_process_group: None,
        }
    } else {
        match json_body(&headers, &body) {
            Ok(r) => r,
            Err(r) => return r,
        }
    };
    let (pgid, mut done) = {
        let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(execution) = devboxes.get(&id).and_then(|d| d.executions.get(&eid)) else {
            return error(404, format!("execution {eid} not found"));
        };
        let pgid = execution
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pgid;
        (pgid, execution.done.clone())
    };
    if request.kill_process_group.unwrap_or(false) {
        common::kill_group(pgid);
    } else {
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(pgid.to_string())
            .status();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), done.wait_for(|d| *d)).await;
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    match devboxes.get(&id).and_then(|d| d.executions.get(&eid)) {
        Some(execution) => axum::Json(execution_view(&id, &eid, execution)).into_response(),
        None => error(404, format!("execution {eid} not found")),
    }
}

fn running(inner: &Inner, id: &str) -> Result<(), Response> {
    let devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    match devboxes.get(id) {
        Some(d) if d.status == "running" => Ok(()),
        Some(d) => Err(error(
            400,
            format!("devbox {id} is {}, not running", d.status),
        )),
        None => Err(error(404, format!("devbox {id} not found"))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadRequest {
    path: String,
}

async fn download_file(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check(&inner, "files", &headers).and_then(|()| running(&inner, &id)) {
        return r;
    }
    let request: DownloadRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Some(path) = inner.disk.guard(&request.path) else {
        return error(
            400,
            format!(
                "path {} is outside the fake devbox's directory",
                request.path
            ),
        );
    };
    if path.is_dir() {
        return error(400, format!("{} is a directory", request.path));
    }
    match std::fs::read(&path) {
        Ok(bytes) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Err(e) if common::is_missing(&e) => error(404, format!("file {} not found", request.path)),
        Err(e) => error(400, format!("{}: {e}", request.path)),
    }
}

async fn upload_file(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if let Err(r) = check(&inner, "files", &headers).and_then(|()| running(&inner, &id)) {
        return r;
    }
    if !common::content_type_is(&headers, "multipart/form-data") {
        return error(400, "Content-Type must be multipart/form-data");
    }
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return error(400, format!("invalid multipart form: {e}")),
    };
    let (mut target, mut content) = (None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return error(400, format!("invalid multipart form: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return error(400, format!("invalid multipart form: {e}")),
        };
        match name.as_str() {
            "path" => target = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => content = Some(bytes),
            other => {
                return error(
                    400,
                    format!("unexpected form field {other:?}; expected path and file"),
                );
            }
        }
    }
    let (Some(target), Some(content)) = (target, content) else {
        return error(400, "the form needs both path and file");
    };
    let Some(path) = inner.disk.guard(&target) else {
        return error(
            400,
            format!("path {target} is outside the fake devbox's directory"),
        );
    };
    match common::write_atomic(&path, &content, false) {
        Ok(()) => axum::Json(json!({})).into_response(),
        Err(e) if common::is_missing(&e) => {
            error(400, format!("the directory of {target} does not exist"))
        }
        Err(e) => error(400, format!("{target}: {e}")),
    }
}

async fn shutdown(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&inner, "shutdown", &headers) {
        return r;
    }
    let mut devboxes = inner.devboxes.lock().unwrap_or_else(|p| p.into_inner());
    let Some(devbox) = devboxes.get_mut(&id) else {
        return error(404, format!("devbox {id} not found"));
    };
    for execution in devbox.executions.values() {
        let pgid = execution
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pgid;
        common::kill_group(pgid);
    }
    devbox.status = "shutdown".to_owned();
    axum::Json(view(&id, "shutdown")).into_response()
}
