//! A fake of E2B: the control plane (`POST /v2/sandboxes`,
//! `DELETE /sandboxes/{id}`, `POST /sandboxes/{id}/timeout`, header
//! `X-API-Key`) and envd (`GET`/`POST /files`, Connect RPC
//! `filesystem.Filesystem/{Stat,ListDir,MakeDir,Remove}`,
//! `process.Process/{Start,SendSignal}`, header `X-Access-Token`), served
//! from one address; the access token tells sandboxes apart.
//!
//! Fault routes: `create`, `kill`, `timeout`, `files`, `filesystem`,
//! `process`, `signal`.

// Handlers build ready-made error responses and pass them up with `?`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{self, Disk, Fault, Faults, ProcEvent};

/// The API key the fake accepts.
pub const API_KEY: &str = "e2b_fake_key_0123456789";

struct Sbx {
    token: String,
    pids: Vec<u32>,
}

struct Inner {
    disk: Disk,
    faults: Faults,
    sandboxes: Mutex<HashMap<String, Sbx>>,
}

type Shared = Arc<Inner>;

/// A running fake E2B.
pub struct FakeE2b {
    inner: Shared,
    url: String,
}

impl FakeE2b {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            disk: Disk::new(),
            faults: Faults::default(),
            sandboxes: Mutex::new(HashMap::new()),
        });
        let router = Router::new()
            .route("/v2/sandboxes", post(create))
            .route("/sandboxes/{id}", delete(kill))
            .route("/sandboxes/{id}/timeout", post(set_timeout))
            .route("/files", axum::routing::get(download).post(upload))
            .route("/filesystem.Filesystem/{method}", post(filesystem))
            .route("/process.Process/Start", post(start_process))
            .route("/process.Process/SendSignal", post(send_signal))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(inner.clone());
        let url = common::serve(router).await;
        FakeE2b { inner, url }
    }

    /// The control-plane base URL (for `E2B_API_URL`).
    pub fn api_url(&self) -> String {
        self.url.clone()
    }

    /// The envd base URL (the client's envd override).
    pub fn envd_url(&self) -> String {
        self.url.clone()
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> &'static str {
        API_KEY
    }

    /// A fresh directory for one sandbox's files.
    pub fn new_workdir(&self) -> String {
        self.inner.disk.new_workdir()
    }

    /// Fault injection and request counts.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// How many sandboxes are alive.
    pub fn live_sandboxes(&self) -> usize {
        self.inner
            .sandboxes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// E2B's REST error body.
fn rest_error(status: u16, message: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        axum::Json(json!({ "code": status, "message": message.into() })),
    )
        .into_response()
}

/// A Connect error: status from the code, JSON `{code, message}`.
fn connect_error(code: &str, message: impl Into<String>) -> Response {
    let status = match code {
        "invalid_argument" | "out_of_range" | "failed_precondition" => StatusCode::BAD_REQUEST,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "already_exists" | "aborted" => StatusCode::CONFLICT,
        "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "unimplemented" => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (
        status,
        axum::Json(json!({ "code": code, "message": message.into() })),
    )
        .into_response()
}

fn fault_response(inner: &Inner, route: &str, connect: bool) -> Option<Response> {
    let fault = inner.faults.take(route)?;
    Some(match fault {
        Fault::RateLimited { retry_after } => {
            let mut r = if connect {
                connect_error("resource_exhausted", "rate limit exceeded")
            } else {
                rest_error(429, "rate limit exceeded")
            };
            let h = r.headers_mut();
            h.insert(
                "retry-after",
                retry_after.as_secs().max(1).to_string().parse().ok()?,
            );
            r
        }
        Fault::Status(status) => rest_error(status, format!("injected failure {status}")),
        Fault::DropConnection => common::dropped_connection(),
    })
}

fn check_api_key(headers: &HeaderMap) -> Result<(), Response> {
    match common::header(headers, "x-api-key") {
        Some(API_KEY) => Ok(()),
        Some(_) => Err(rest_error(
            401,
            "Invalid API key, it must start with 'e2b_' prefix",
        )),
        None => Err(rest_error(401, "Missing X-API-Key header")),
    }
}

/// The sandbox whose envd access token the request carries.
fn sandbox_of(inner: &Inner, headers: &HeaderMap) -> Result<String, String> {
    let token = common::header(headers, "x-access-token").ok_or("missing X-Access-Token header")?;
    let sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    sandboxes
        .iter()
        .find(|(_, s)| s.token == token)
        .map(|(id, _)| id.clone())
        .ok_or_else(|| "invalid access token (or the sandbox is gone)".to_owned())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // Fields are read to check their types.
struct NewSandbox {
    #[serde(rename = "templateID")]
    template_id: String,
    timeout: Option<u32>,
    auto_pause: Option<bool>,
    auto_pause_memory: Option<bool>,
    auto_resume: Option<Value>,
    secure: Option<bool>,
    #[serde(rename = "allow_internet_access")]
    allow_internet_access: Option<bool>,
    network: Option<Value>,
    metadata: Option<HashMap<String, String>>,
    env_vars: Option<HashMap<String, String>>,
    mcp: Option<Value>,
    iam: Option<Value>,
    volume_mounts: Option<Value>,
}

async fn create(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fault_response(&inner, "create", false) {
        return r;
    }
    if let Err(r) = check_api_key(&headers) {
        return r;
    }
    if !common::content_type_is(&headers, "application/json") {
        return rest_error(
            400,
            "request body has an error: header Content-Type has unexpected value",
        );
    }
    let request: NewSandbox = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return rest_error(400, format!("request body has an error: {e}")),
    };
    let id = format!("i{}", &uuid::Uuid::new_v4().simple().to_string()[..19]);
    let token = uuid::Uuid::new_v4().simple().to_string();
    inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            id.clone(),
            Sbx {
                token: token.clone(),
                pids: Vec::new(),
            },
        );
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "templateID": request.template_id,
            "sandboxID": id,
            "clientID": "fake-client",
            "envdVersion": "0.2.0",
            "envdAccessToken": token,
            "domain": null,
        })),
    )
        .into_response()
}

async fn kill(
    State(inner): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = fault_response(&inner, "kill", false) {
        return r;
    }
    if let Err(r) = check_api_key(&headers) {
        return r;
    }
    let removed = inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match removed {
        Some(sbx) => {
            for pid in sbx.pids {
                common::kill_group(pid);
            }
            StatusCode::NO_CONTENT.into_response()
        }
        None => rest_error(
            404,
            format!("sandbox \"{id}\" doesn't exist or you don't have access to it"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutRequest {
    #[allow(dead_code)]
    timeout: u32,
}

async fn set_timeout(
    State(inner): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = fault_response(&inner, "timeout", false) {
        return r;
    }
    if let Err(r) = check_api_key(&headers) {
        return r;
    }
    if let Err(e) = serde_json::from_slice::<TimeoutRequest>(&body) {
        return rest_error(400, format!("request body has an error: {e}"));
    }
    if !inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(&id)
    {
        return rest_error(404, format!("sandbox \"{id}\" doesn't exist"));
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
    #[allow(dead_code)]
    username: Option<String>,
}

fn file_path(inner: &Inner, query: &PathQuery) -> Result<std::path::PathBuf, Response> {
    let Some(path) = query.path.as_deref() else {
        return Err(rest_error(
            400,
            "the fake requires the path query parameter",
        ));
    };
    inner.disk.guard(path).ok_or_else(|| {
        rest_error(
            400,
            format!("path '{path}' is outside the fake sandbox's directory"),
        )
    })
}

async fn download(
    State(inner): State<Shared>,
    Query(query): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = fault_response(&inner, "files", false) {
        return r;
    }
    if let Err(m) = sandbox_of(&inner, &headers) {
        return rest_error(401, m);
    }
    let path = match file_path(&inner, &query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let shown = path.display();
    if path.is_dir() {
        return rest_error(400, format!("path '{shown}' is a directory"));
    }
    match std::fs::read(&path) {
        Ok(bytes) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Err(e) if common::is_missing(&e) => {
            rest_error(404, format!("path '{shown}' does not exist"))
        }
        Err(e) => rest_error(500, format!("error reading file '{shown}': {e}")),
    }
}

async fn upload(
    State(inner): State<Shared>,
    Query(query): Query<PathQuery>,
    request: Request,
) -> Response {
    if let Some(r) = fault_response(&inner, "files", false) {
        return r;
    }
    let headers = request.headers().clone();
    if let Err(m) = sandbox_of(&inner, &headers) {
        return rest_error(401, m);
    }
    let path = match file_path(&inner, &query) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let content = if common::content_type_is(&headers, "multipart/form-data") {
        let mut multipart = match Multipart::from_request(request, &()).await {
            Ok(m) => m,
            Err(e) => return rest_error(400, format!("error parsing multipart form: {e}")),
        };
        let mut content = None;
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                    Ok(b) => content = Some(b),
                    Err(e) => return rest_error(400, format!("error reading part: {e}")),
                },
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_owned();
                    return rest_error(
                        400,
                        format!(
                            "unexpected multipart part {name:?}; the file goes in part \"file\""
                        ),
                    );
                }
                Ok(None) => break,
                Err(e) => return rest_error(400, format!("error parsing multipart form: {e}")),
            }
        }
        match content {
            Some(c) => c,
            None => return rest_error(400, "multipart form has no part named \"file\""),
        }
    } else if common::content_type_is(&headers, "application/octet-stream") {
        match axum::body::to_bytes(request.into_body(), usize::MAX).await {
            Ok(b) => b,
            Err(e) => return rest_error(400, format!("error reading body: {e}")),
        }
    } else {
        return rest_error(
            400,
            "Content-Type must be multipart/form-data or application/octet-stream",
        );
    };
    let shown = path.display().to_string();
    match common::write_atomic(&path, &content, true) {
        Ok(()) => axum::Json(json!([{
            "path": shown,
            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "type": "file",
        }]))
        .into_response(),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            rest_error(400, format!("path '{shown}' is a directory"))
        }
        Err(e) => rest_error(400, format!("error writing file '{shown}': {e}")),
    }
}

fn entry_info(path: &Path) -> std::io::Result<Value> {
    let m = common::meta(path)?;
    let kind = if m.is_symlink {
        "FILE_TYPE_SYMLINK"
    } else if m.is_dir {
        "FILE_TYPE_DIRECTORY"
    } else {
        "FILE_TYPE_FILE"
    };
    Ok(json!({
        "name": m.name,
        "type": kind,
        "path": path.display().to_string(),
        "size": m.size.to_string(),
        "mode": if m.is_dir { 0o755 } else { 0o644 },
        "permissions": if m.is_dir { "drwxr-xr-x" } else { "-rw-r--r--" },
        "owner": "user",
        "group": "user",
        "modifiedTime": common::rfc3339(m.modified),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PathRequest {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDirRequest {
    path: String,
    #[serde(default)]
    depth: u32,
}

fn check_connect_unary(headers: &HeaderMap) -> Result<(), Response> {
    if !common::content_type_is(headers, "application/json") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        )
            .into_response());
    }
    match common::header(headers, "connect-protocol-version") {
        None | Some("1") => Ok(()),
        Some(other) => Err(connect_error(
            "invalid_argument",
            format!("connect-protocol-version must be \"1\": got {other:?}"),
        )),
    }
}

fn list(dir: &Path, depth: u32, out: &mut Vec<Value>) -> std::io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    children.sort();
    for child in children {
        out.push(entry_info(&child)?);
        if depth > 1 && child.is_dir() && !child.is_symlink() {
            list(&child, depth - 1, out)?;
        }
    }
    Ok(())
}

async fn filesystem(
    State(inner): State<Shared>,
    axum::extract::Path(method): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = fault_response(&inner, "filesystem", true) {
        return r;
    }
    if let Err(r) = check_connect_unary(&headers) {
        return r;
    }
    if let Err(m) = sandbox_of(&inner, &headers) {
        return connect_error("unauthenticated", m);
    }
    let guard = |path: &str| {
        inner.disk.guard(path).ok_or_else(|| {
            connect_error(
                "invalid_argument",
                format!("path '{path}' is outside the fake sandbox's directory"),
            )
        })
    };
    let bad = |e: serde_json::Error| {
        connect_error("invalid_argument", format!("invalid request body: {e}"))
    };
    match method.as_str() {
        "Stat" => {
            let req: PathRequest = match serde_json::from_slice(&body) {
                Ok(r) => r,
                Err(e) => return bad(e),
            };
            let path = match guard(&req.path) {
                Ok(p) => p,
                Err(r) => return r,
            };
            match entry_info(&path) {
                Ok(entry) => axum::Json(json!({ "entry": entry })).into_response(),
                Err(e) if common::is_missing(&e) => {
                    connect_error("not_found", format!("file not found: {}", req.path))
                }
                Err(e) => connect_error("internal", e.to_string()),
            }
        }
        "ListDir" => {
            let req: ListDirRequest = match serde_json::from_slice(&body) {
                Ok(r) => r,
                Err(e) => return bad(e),
            };
            let path = match guard(&req.path) {
                Ok(p) => p,
                Err(r) => return r,
            };
            if !path.exists() {
                return connect_error("not_found", format!("directory not found: {}", req.path));
            }
            if !path.is_dir() {
                return connect_error(
                    "invalid_argument",
                    format!("path is not a directory: {}", req.path),
                );
            }
            let mut entries = Vec::new();
            match list(&path, req.depth.max(1), &mut entries) {
                Ok(()) => axum::Json(json!({ "entries": entries })).into_response(),
                Err(e) => connect_error("internal", e.to_string()),
            }
        }
        "MakeDir" => {
            let req: PathRequest = match serde_json::from_slice(&body) {
                Ok(r) => r,
                Err(e) => return bad(e),
            };
            let path = match guard(&req.path) {
                Ok(p) => p,
                Err(r) => return r,
            };
            if path.exists() {
                return connect_error(
                    "already_exists",
                    format!("directory already exists: {}", req.path),
                );
            }
            match std::fs::create_dir_all(&path).and_then(|()| entry_info(&path)) {
                Ok(entry) => axum::Json(json!({ "entry": entry })).into_response(),
                Err(e) => {
                    connect_error("invalid_argument", format!("error creating directory: {e}"))
                }
            }
        }
        "Remove" => {
            let req: PathRequest = match serde_json::from_slice(&body) {
                Ok(r) => r,
                Err(e) => return bad(e),
            };
            let path = match guard(&req.path) {
                Ok(p) => p,
                Err(r) => return r,
            };
            let outcome = match std::fs::symlink_metadata(&path) {
                Err(_) => {
                    return connect_error("not_found", format!("file not found: {}", req.path));
                }
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                Ok(_) => std::fs::remove_file(&path),
            };
            match outcome {
                Ok(()) => axum::Json(json!({})).into_response(),
                Err(e) => connect_error("internal", e.to_string()),
            }
        }
        other => connect_error(
            "unimplemented",
            format!("filesystem.Filesystem/{other} is not implemented by the fake"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessConfig {
    cmd: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    envs: HashMap<String, String>,
    cwd: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StartRequest {
    process: ProcessConfig,
    pty: Option<Value>,
    tag: Option<String>,
    stdin: Option<bool>,
}

fn frame(flag: u8, message: &Value) -> Bytes {
    let payload = message.to_string().into_bytes();
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(flag);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    Bytes::from(out)
}

/// A Connect streaming error: HTTP 200 with only an end-of-stream frame.
fn stream_error(code: &str, message: &str) -> Response {
    let body = frame(
        0x02,
        &json!({ "error": { "code": code, "message": message } }),
    );
    ([("content-type", "application/connect+json")], body).into_response()
}

async fn start_process(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = inner.faults.take("process");
    match &fault {
        Some(Fault::RateLimited { .. }) | Some(Fault::Status(_)) => {
            // Put it back for the shared handler to shape.
            inner
                .faults
                .inject("process", fault.clone().unwrap_or(Fault::Status(500)), 1);
            if let Some(r) = fault_response(&inner, "process", true) {
                return r;
            }
        }
        _ => {}
    }
    if !common::content_type_is(&headers, "application/connect+json") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        )
            .into_response();
    }
    let sandbox = match sandbox_of(&inner, &headers) {
        Ok(id) => id,
        Err(m) => return connect_error("unauthenticated", m),
    };
    if body.len() < 5 || body[0] != 0 {
        return stream_error(
            "invalid_argument",
            "the request must be one uncompressed Connect envelope",
        );
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() != 5 + len {
        return stream_error(
            "invalid_argument",
            "the envelope length does not match the body",
        );
    }
    let request: StartRequest = match serde_json::from_slice(&body[5..]) {
        Ok(r) => r,
        Err(e) => {
            return stream_error("invalid_argument", &format!("invalid request message: {e}"));
        }
    };
    let deadline = match common::header(&headers, "connect-timeout-ms") {
        None => None,
        Some(ms) => match ms.parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => {
                return stream_error(
                    "invalid_argument",
                    "Connect-Timeout-Ms must be a whole number",
                );
            }
        },
    };
    if request.process.cmd != "/bin/sh"
        && request.process.cmd != "sh"
        && request.process.cmd != "/bin/bash"
    {
        return stream_error(
            "invalid_argument",
            "the fake runs only /bin/sh, sh or /bin/bash",
        );
    }
    let script = match request.process.args.as_slice() {
        [flag, script] if flag == "-c" => script.clone(),
        [login, flag, script] if login == "-l" && flag == "-c" => script.clone(),
        _ => return stream_error("invalid_argument", "the fake expects args [\"-c\", script]"),
    };
    let cwd = match request.process.cwd.as_deref() {
        None => inner.disk.root().to_path_buf(),
        Some(dir) => match inner.disk.guard(dir) {
            Some(p) => p,
            None => {
                return stream_error(
                    "invalid_argument",
                    "cwd is outside the fake sandbox's directory",
                );
            }
        },
    };
    let mut proc = match common::spawn(&script, &cwd, &request.process.envs) {
        Ok(p) => p,
        Err(e) => return stream_error("internal", &format!("failed to start the process: {e}")),
    };
    let pid = proc.pid;
    if let Some(sbx) = inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_mut(&sandbox)
    {
        sbx.pids.push(pid);
    }
    let drop_mid_stream = fault == Some(Fault::DropConnection);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    tokio::spawn(async move {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        if tx
            .send(Ok(frame(
                0,
                &json!({ "event": { "start": { "pid": pid } } }),
            )))
            .await
            .is_err()
        {
            common::kill_group(pid);
            return;
        }
        if drop_mid_stream {
            tokio::time::sleep(Duration::from_millis(50)).await;
            common::kill_group(pid);
            let _ = tx
                .send(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault injection: connection dropped",
                )))
                .await;
            return;
        }
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => futures::future::pending().await,
            }
        };
        tokio::pin!(timer);
        loop {
            let event = tokio::select! {
                e = proc.events.recv() => e,
                () = &mut timer => { common::kill_group(pid); continue; }
            };
            let Some(event) = event else { break };
            let message = match event {
                ProcEvent::Stdout(b) => json!({ "event": { "data": { "stdout": b64(&b) } } }),
                ProcEvent::Stderr(b) => json!({ "event": { "data": { "stderr": b64(&b) } } }),
                ProcEvent::Exit {
                    code: Some(code), ..
                } => {
                    json!({ "event": { "end": { "exitCode": code, "exited": true, "status": format!("exit status {code}") } } })
                }
                ProcEvent::Exit { .. } => {
                    json!({ "event": { "end": { "exitCode": -1, "exited": false, "status": "signal: killed" } } })
                }
            };
            if tx.send(Ok(frame(0, &message))).await.is_err() {
                common::kill_group(pid);
                return;
            }
        }
        let _ = tx.send(Ok(frame(0x02, &json!({})))).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/connect+json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessSelector {
    pid: Option<u32>,
    tag: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendSignalRequest {
    process: ProcessSelector,
    signal: String,
}

async fn send_signal(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = fault_response(&inner, "signal", true) {
        return r;
    }
    if let Err(r) = check_connect_unary(&headers) {
        return r;
    }
    let sandbox = match sandbox_of(&inner, &headers) {
        Ok(id) => id,
        Err(m) => return connect_error("unauthenticated", m),
    };
    let request: SendSignalRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return connect_error("invalid_argument", format!("invalid request body: {e}")),
    };
    if !matches!(request.signal.as_str(), "SIGNAL_SIGKILL" | "SIGNAL_SIGTERM") {
        return connect_error(
            "invalid_argument",
            format!("unknown signal {:?}", request.signal),
        );
    }
    let Some(pid) = request.process.pid else {
        let tag = request.process.tag.unwrap_or_default();
        return connect_error("not_found", format!("process with tag {tag:?} not found"));
    };
    let owned = inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&sandbox)
        .is_some_and(|s| s.pids.contains(&pid));
    if !owned {
        return connect_error("not_found", format!("process with pid {pid} not found"));
    }
    common::kill_group(pid);
    axum::Json(json!({})).into_response()
}
