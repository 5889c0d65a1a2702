//! envd's Connect service `process.Process`: `Start` (a server stream of
//! the process's events) and `SendSignal`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::check::{connect_unary, sandbox_of};
use super::error::{Connect, connect_error};
use super::state::Shared;
use crate::common::{self, Fault, Proc, ProcEvent, Reply};

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

/// One Connect envelope: flags, big-endian length, JSON message.
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

/// The one request envelope of a server-streaming call, as its message.
fn start_request(body: &[u8]) -> Result<StartRequest, Response> {
    if body.len() < 5 || body[0] != 0 {
        return Err(stream_error(
            "invalid_argument",
            "the request must be one uncompressed Connect envelope",
        ));
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if body.len() != 5 + len {
        return Err(stream_error(
            "invalid_argument",
            "the envelope length does not match the body",
        ));
    }
    serde_json::from_slice(&body[5..])
        .map_err(|e| stream_error("invalid_argument", &format!("invalid request message: {e}")))
}

/// The deadline of `Connect-Timeout-Ms`, when given.
fn deadline(headers: &HeaderMap) -> Result<Option<Duration>, Response> {
    match common::header(headers, "connect-timeout-ms") {
        None => Ok(None),
        Some(ms) => ms
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| {
                stream_error(
                    "invalid_argument",
                    "Connect-Timeout-Ms must be a whole number",
                )
            }),
    }
}

/// The script of `sh -c script` (the only command the fake runs).
fn script(process: &ProcessConfig) -> Result<String, Response> {
    if !matches!(process.cmd.as_str(), "/bin/sh" | "sh" | "/bin/bash") {
        return Err(stream_error(
            "invalid_argument",
            "the fake runs only /bin/sh, sh or /bin/bash",
        ));
    }
    match process.args.as_slice() {
        [flag, script] if flag == "-c" => Ok(script.clone()),
        [login, flag, script] if login == "-l" && flag == "-c" => Ok(script.clone()),
        _ => Err(stream_error(
            "invalid_argument",
            "the fake expects args [\"-c\", script]",
        )),
    }
}

/// The working directory: the fake's root unless given.
fn cwd(server: &Shared, process: &ProcessConfig) -> Result<PathBuf, Response> {
    match process.cwd.as_deref() {
        None => Ok(server.disk.root().to_path_buf()),
        Some(dir) => server.disk.guard(dir).ok_or_else(|| {
            stream_error(
                "invalid_argument",
                "cwd is outside the fake sandbox's directory",
            )
        }),
    }
}

/// `POST /process.Process/Start`.
pub(super) async fn start(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    // A dropped connection hits mid-stream, after the process started.
    let fault = server.faults.take("process");
    if let Some(fault @ (Fault::RateLimited { .. } | Fault::Status(_))) = fault.clone() {
        return Err(common::fault_reply::<Connect>(fault));
    }
    if !common::content_type_is(&headers, "application/connect+json") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported content type",
        )
            .into_response());
    }
    let sandbox = sandbox_of(&server, &headers).map_err(|m| connect_error("unauthenticated", m))?;
    let request = start_request(&body)?;
    let deadline = deadline(&headers)?;
    let script = script(&request.process)?;
    let cwd = cwd(&server, &request.process)?;
    let proc = common::spawn(&script, &cwd, &request.process.envs)
        .map_err(|e| stream_error("internal", &format!("failed to start the process: {e}")))?;
    if let Some(sandbox) = server.state().by_id.get_mut(&sandbox) {
        sandbox.pids.push(proc.pid);
    }
    let drop_mid_stream = fault == Some(Fault::DropConnection);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(32);
    tokio::spawn(stream_events(proc, deadline, drop_mid_stream, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/connect+json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}

/// Sends the process's events as Connect frames until it ends (killing it
/// at the deadline), or cuts the stream after the start event.
async fn stream_events(
    mut proc: Proc,
    deadline: Option<Duration>,
    drop_mid_stream: bool,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let pid = proc.pid;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let start = frame(0, &json!({ "event": { "start": { "pid": pid } } }));
    if tx.send(Ok(start)).await.is_err() {
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

/// `POST /process.Process/SendSignal`: kills the process's group.
pub(super) async fn send_signal(
    State(server): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    common::injected::<Connect>(&server.faults, "signal")?;
    connect_unary(&headers)?;
    let sandbox = sandbox_of(&server, &headers).map_err(|m| connect_error("unauthenticated", m))?;
    let request: SendSignalRequest = serde_json::from_slice(&body)
        .map_err(|e| connect_error("invalid_argument", format!("invalid request body: {e}")))?;
    if !matches!(request.signal.as_str(), "SIGNAL_SIGKILL" | "SIGNAL_SIGTERM") {
        return Err(connect_error(
            "invalid_argument",
            format!("unknown signal {:?}", request.signal),
        ));
    }
    let Some(pid) = request.process.pid else {
        let tag = request.process.tag.unwrap_or_default();
        return Err(connect_error(
            "not_found",
            format!("process with tag {tag:?} not found"),
        ));
    };
    let owned = server
        .state()
        .by_id
        .get(&sandbox)
        .is_some_and(|s| s.pids.contains(&pid));
    if !owned {
        return Err(connect_error(
            "not_found",
            format!("process with pid {pid} not found"),
        ));
    }
    common::kill_group(pid);
    Ok(axum::Json(json!({})).into_response())
}
