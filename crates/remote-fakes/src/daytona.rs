//! A fake of Daytona: the API (`POST /sandbox`, `GET`/`DELETE
//! /sandbox/{id}`, `Authorization: Bearer`) and each sandbox's toolbox at
//! `{toolboxProxyUrl}/{sandboxId}`: files (`GET`/`DELETE /files`,
//! `/files/info`, `/files/download`, `/files/bulk-upload`,
//! `/files/folder`) and the session API (`/process/session`, `.../exec`,
//! `.../command/{id}`, `.../logs`).
//!
//! A sandbox is `creating` when created and `started` from the first `GET`;
//! one created from the snapshot [`BROKEN_SNAPSHOT`] goes to `error`.
//!
//! Fault routes: `create`, `get`, `delete`, `files`, `session`, `exec`,
//! `command`, `logs`.

// Handlers build ready-made error responses and pass them up with `?`.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{self, Collected, Disk, Fault, Faults};

/// The API key the fake accepts.
pub const API_KEY: &str = "dtn_fake_key_0123456789";

/// A snapshot name that makes the sandbox end in state `error`.
pub const BROKEN_SNAPSHOT: &str = "fake-broken-snapshot";

struct Command {
    command: String,
    output: Arc<Mutex<Collected>>,
}

struct Sbx {
    broken: bool,
    started: bool,
    sessions: HashMap<String, HashMap<String, Command>>,
}

struct Inner {
    disk: Disk,
    faults: Faults,
    sandboxes: Mutex<HashMap<String, Sbx>>,
    url: OnceLock<String>,
}

type Shared = Arc<Inner>;

/// A running fake Daytona.
pub struct FakeDaytona {
    inner: Shared,
}

impl FakeDaytona {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            disk: Disk::new(),
            faults: Faults::default(),
            sandboxes: Mutex::new(HashMap::new()),
            url: OnceLock::new(),
        });
        let t = "/toolbox/{id}";
        let router = Router::new()
            .route("/sandbox", post(create))
            .route("/sandbox/{id}", get(get_sandbox).delete(delete_sandbox))
            .route(&format!("{t}/files"), get(list_files).delete(delete_file))
            .route(&format!("{t}/files/info"), get(file_info))
            .route(&format!("{t}/files/download"), get(download))
            .route(&format!("{t}/files/bulk-upload"), post(bulk_upload))
            .route(&format!("{t}/files/folder"), post(folder))
            .route(&format!("{t}/process/session"), post(create_session))
            .route(
                &format!("{t}/process/session/{{sid}}"),
                delete(delete_session),
            )
            .route(&format!("{t}/process/session/{{sid}}/exec"), post(exec))
            .route(
                &format!("{t}/process/session/{{sid}}/command/{{cid}}"),
                get(command),
            )
            .route(
                &format!("{t}/process/session/{{sid}}/command/{{cid}}/logs"),
                get(logs),
            )
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(inner.clone());
        let url = common::serve(router).await;
        let _ = inner.url.set(url);
        FakeDaytona { inner }
    }

    /// The API base URL (for `DAYTONA_API_URL`).
    pub fn api_url(&self) -> String {
        self.inner.url.get().cloned().unwrap_or_default()
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

/// Daytona's error body: `{statusCode, message, error}`.
fn error(status: u16, message: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = code.canonical_reason().unwrap_or("Error");
    (
        code,
        axum::Json(json!({ "statusCode": status, "message": message.into(), "error": reason })),
    )
        .into_response()
}

fn check(inner: &Inner, route: &str, headers: &HeaderMap) -> Result<(), Response> {
    if let Some(fault) = inner.faults.take(route) {
        return Err(match fault {
            Fault::RateLimited { retry_after } => {
                let mut r = error(429, "ThrottlerException: Too Many Requests");
                if let Ok(v) = retry_after.as_secs().max(1).to_string().parse() {
                    r.headers_mut().insert("retry-after", v);
                }
                r
            }
            Fault::Status(status) => error(status, format!("injected failure {status}")),
            Fault::DropConnection => common::dropped_connection(),
        });
    }
    match common::header(headers, "authorization") {
        Some(v) if v == format!("Bearer {API_KEY}") => Ok(()),
        _ => Err(error(401, "Invalid credentials")),
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
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)] // Fields are read to check their types.
struct CreateSandbox {
    name: Option<String>,
    snapshot: Option<String>,
    user: Option<String>,
    env: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
    public: Option<bool>,
    network_block_all: Option<bool>,
    network_allow_list: Option<String>,
    domain_allow_list: Option<String>,
    target: Option<String>,
    cpu: Option<u32>,
    gpu: Option<u32>,
    gpu_type: Option<Vec<String>>,
    memory: Option<u32>,
    disk: Option<u32>,
    auto_stop_interval: Option<u32>,
    auto_archive_interval: Option<u32>,
    auto_delete_interval: Option<u32>,
    volumes: Option<Value>,
    build_info: Option<Value>,
    linked_sandbox: Option<String>,
}

fn dto(inner: &Inner, id: &str, sbx: &Sbx) -> Value {
    let state = if sbx.broken && sbx.started {
        "error"
    } else if sbx.started {
        "started"
    } else {
        "creating"
    };
    json!({
        "id": id,
        "organizationId": "fake-org",
        "name": id,
        "user": "daytona",
        "env": {},
        "labels": {},
        "public": false,
        "networkBlockAll": false,
        "target": "us",
        "cpu": 1,
        "gpu": 0,
        "memory": 1,
        "disk": 3,
        "state": state,
        "errorReason": if sbx.broken { Value::from("the snapshot failed to start") } else { Value::Null },
        "toolboxProxyUrl": format!("{}/toolbox", inner.url.get().cloned().unwrap_or_default()),
    })
}

async fn create(State(inner): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check(&inner, "create", &headers) {
        return r;
    }
    let request: CreateSandbox = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let id = uuid::Uuid::new_v4().to_string();
    let sbx = Sbx {
        broken: request.snapshot.as_deref() == Some(BROKEN_SNAPSHOT),
        started: false,
        sessions: HashMap::new(),
    };
    let body = dto(&inner, &id, &sbx);
    inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, sbx);
    axum::Json(body).into_response()
}

async fn get_sandbox(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&inner, "get", &headers) {
        return r;
    }
    let mut sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    match sandboxes.get_mut(&id) {
        Some(sbx) => {
            sbx.started = true;
            axum::Json(dto(&inner, &id, sbx)).into_response()
        }
        None => error(404, format!("Sandbox with ID or name {id} not found")),
    }
}

async fn delete_sandbox(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check(&inner, "delete", &headers) {
        return r;
    }
    let removed = inner
        .sandboxes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match removed {
        Some(sbx) => {
            for commands in sbx.sessions.values() {
                kill_all(commands);
            }
            StatusCode::OK.into_response()
        }
        None => error(404, format!("Sandbox with ID or name {id} not found")),
    }
}

fn kill_all(commands: &HashMap<String, Command>) {
    for command in commands.values() {
        let pgid = command
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pgid;
        common::kill_group(pgid);
    }
}

/// Checks the toolbox request: fault, auth, and a live, started sandbox.
fn toolbox(inner: &Inner, route: &str, id: &str, headers: &HeaderMap) -> Result<(), Response> {
    check(inner, route, headers)?;
    let sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    match sandboxes.get(id) {
        Some(sbx) if sbx.started && !sbx.broken => Ok(()),
        Some(_) => Err(error(400, "sandbox is not started")),
        None => Err(error(404, format!("sandbox {id} not found"))),
    }
}

#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
    recursive: Option<String>,
    mode: Option<String>,
}

fn required_path(inner: &Inner, query: &PathQuery) -> Result<std::path::PathBuf, Response> {
    let Some(path) = query.path.as_deref() else {
        return Err(error(400, "path is required"));
    };
    inner.disk.guard(path).ok_or_else(|| {
        error(
            400,
            format!("path {path} is outside the fake sandbox's directory"),
        )
    })
}

fn file_info_json(path: &Path) -> std::io::Result<Value> {
    let m = common::meta(path)?;
    let modified = common::rfc3339(m.modified);
    Ok(json!({
        "name": m.name,
        "isDir": m.is_dir,
        "size": m.size,
        "modTime": modified.replace('T', " ").replace('Z', " +0000 UTC"),
        "modifiedAt": modified,
        "mode": if m.is_dir { "drwxr-xr-x" } else { "-rw-r--r--" },
        "permissions": if m.is_dir { "0755" } else { "0644" },
        "owner": "daytona",
        "group": "daytona",
    }))
}

fn io_error(path: &Path, e: &std::io::Error) -> Response {
    match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => {
            error(404, format!("file not found: {}", path.display()))
        }
        _ => error(400, format!("{}: {e}", path.display())),
    }
}

async fn list_files(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    let path = match required_path(&inner, &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(e) => return io_error(&path, &e),
    };
    let mut list = Vec::new();
    for entry in entries.flatten() {
        match file_info_json(&entry.path()) {
            Ok(info) => list.push(info),
            Err(e) => return io_error(&entry.path(), &e),
        }
    }
    axum::Json(list).into_response()
}

async fn file_info(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    let path = match required_path(&inner, &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match file_info_json(&path) {
        Ok(info) => axum::Json(info).into_response(),
        Err(e) => io_error(&path, &e),
    }
}

async fn download(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    let path = match required_path(&inner, &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if path.is_dir() {
        return error(400, format!("{} is a directory", path.display()));
    }
    match std::fs::read(&path) {
        Ok(bytes) => ([("content-type", "application/octet-stream")], bytes).into_response(),
        Err(e) => io_error(&path, &e),
    }
}

async fn delete_file(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    let path = match required_path(&inner, &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let recursive = match q.recursive.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return error(
                400,
                format!("recursive must be true or false, got {other:?}"),
            );
        }
    };
    let outcome = match std::fs::symlink_metadata(&path) {
        Err(e) => return io_error(&path, &e),
        Ok(m) if m.is_dir() && !recursive => {
            return error(400, "cannot delete a directory without recursive=true");
        }
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
    };
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => io_error(&path, &e),
    }
}

async fn folder(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<PathQuery>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    let path = match required_path(&inner, &q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match q.mode.as_deref() {
        Some(mode) if !mode.is_empty() && mode.chars().all(|c| ('0'..='7').contains(&c)) => {}
        Some(mode) => {
            return error(
                400,
                format!("invalid mode {mode:?}: give an octal permission such as 755"),
            );
        }
        None => return error(400, "mode is required"),
    }
    match std::fs::create_dir_all(&path) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(e) => io_error(&path, &e),
    }
}

async fn bulk_upload(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    if let Err(r) = toolbox(&inner, "files", &id, &headers) {
        return r;
    }
    if !common::content_type_is(&headers, "multipart/form-data") {
        return error(400, "Content-Type must be multipart/form-data");
    }
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return error(400, format!("invalid multipart form: {e}")),
    };
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<String, Bytes> = HashMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return error(400, format!("invalid multipart form: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        let Some(rest) = name.strip_prefix("files[") else {
            return error(
                400,
                format!("unexpected form field {name:?}; expected files[N].path and files[N].file"),
            );
        };
        let Some((index, key)) = rest.split_once("].") else {
            return error(400, format!("unexpected form field {name:?}"));
        };
        if index.parse::<usize>().is_err() {
            return error(400, format!("unexpected form field {name:?}"));
        }
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return error(400, format!("invalid multipart form: {e}")),
        };
        match key {
            "path" => {
                paths.insert(
                    index.to_owned(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                );
            }
            "file" => {
                files.insert(index.to_owned(), bytes);
            }
            _ => return error(400, format!("unexpected form field {name:?}")),
        }
    }
    if paths.is_empty() || paths.len() != files.len() {
        return error(400, "every files[N].path needs a files[N].file");
    }
    for (index, target) in &paths {
        let Some(content) = files.get(index) else {
            return error(400, format!("files[{index}].file is missing"));
        };
        let Some(path) = inner.disk.guard(target) else {
            return error(
                400,
                format!("path {target} is outside the fake sandbox's directory"),
            );
        };
        if let Err(e) = common::write_atomic(&path, content, true) {
            return io_error(&path, &e);
        }
    }
    StatusCode::OK.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateSessionRequest {
    session_id: String,
}

async fn create_session(
    State(inner): State<Shared>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = toolbox(&inner, "session", &id, &headers) {
        return r;
    }
    let request: CreateSessionRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    let Some(sbx) = sandboxes.get_mut(&id) else {
        return error(404, "sandbox not found");
    };
    if sbx.sessions.contains_key(&request.session_id) {
        return error(
            409,
            format!("session {} already exists", request.session_id),
        );
    }
    sbx.sessions.insert(request.session_id, HashMap::new());
    StatusCode::CREATED.into_response()
}

async fn delete_session(
    State(inner): State<Shared>,
    UrlPath((id, sid)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "session", &id, &headers) {
        return r;
    }
    let mut sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    let Some(sbx) = sandboxes.get_mut(&id) else {
        return error(404, "sandbox not found");
    };
    match sbx.sessions.remove(&sid) {
        Some(commands) => {
            kill_all(&commands);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(404, format!("session {sid} not found")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SessionExecuteRequest {
    command: String,
    run_async: Option<bool>,
    #[serde(rename = "async")]
    is_async: Option<bool>,
    suppress_input_echo: Option<bool>,
}

async fn exec(
    State(inner): State<Shared>,
    UrlPath((id, sid)): UrlPath<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = toolbox(&inner, "exec", &id, &headers) {
        return r;
    }
    let request: SessionExecuteRequest = match json_body(&headers, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let proc = match common::spawn(&request.command, inner.disk.root(), &HashMap::new()) {
        Ok(p) => p,
        Err(e) => return error(500, format!("failed to start the command: {e}")),
    };
    let (output, mut done) = common::collect(proc);
    let cmd_id = uuid::Uuid::new_v4().to_string();
    {
        let mut sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
        let Some(session) = sandboxes
            .get_mut(&id)
            .and_then(|s| s.sessions.get_mut(&sid))
        else {
            let pgid = output.lock().unwrap_or_else(|p| p.into_inner()).pgid;
            common::kill_group(pgid);
            return error(404, format!("session {sid} not found"));
        };
        session.insert(
            cmd_id.clone(),
            Command {
                command: request.command,
                output: output.clone(),
            },
        );
    }
    if request.run_async.unwrap_or(false) || request.is_async.unwrap_or(false) {
        return (StatusCode::ACCEPTED, axum::Json(json!({ "cmdId": cmd_id }))).into_response();
    }
    let _ = done.wait_for(|finished| *finished).await;
    let c = output.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let stdout = String::from_utf8_lossy(&c.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&c.stderr).into_owned();
    axum::Json(json!({
        "cmdId": cmd_id,
        "exitCode": c.exit_code,
        "output": format!("{stdout}{stderr}"),
        "stdout": stdout,
        "stderr": stderr,
    }))
    .into_response()
}

fn find_command(
    inner: &Inner,
    id: &str,
    sid: &str,
    cid: &str,
) -> Result<(String, Collected), Response> {
    let sandboxes = inner.sandboxes.lock().unwrap_or_else(|p| p.into_inner());
    let session = sandboxes
        .get(id)
        .and_then(|s| s.sessions.get(sid))
        .ok_or_else(|| error(404, format!("session {sid} not found")))?;
    let command = session
        .get(cid)
        .ok_or_else(|| error(404, format!("command {cid} not found")))?;
    let output = command
        .output
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok((command.command.clone(), output))
}

async fn command(
    State(inner): State<Shared>,
    UrlPath((id, sid, cid)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "command", &id, &headers) {
        return r;
    }
    match find_command(&inner, &id, &sid, &cid) {
        Ok((command, output)) => {
            axum::Json(json!({ "id": cid, "command": command, "exitCode": output.exit_code }))
                .into_response()
        }
        Err(r) => r,
    }
}

async fn logs(
    State(inner): State<Shared>,
    UrlPath((id, sid, cid)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = toolbox(&inner, "logs", &id, &headers) {
        return r;
    }
    let (_, output) = match find_command(&inner, &id, &sid, &cid) {
        Ok(found) => found,
        Err(r) => return r,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let combined = format!("{stdout}{stderr}");
    let wants_json =
        common::header(&headers, "accept").is_some_and(|a| a.contains("application/json"));
    if wants_json {
        axum::Json(json!({ "output": combined, "stdout": stdout, "stderr": stderr }))
            .into_response()
    } else {
        ([("content-type", "text/plain")], combined).into_response()
    }
}
