//! The toolbox's session API: sessions, commands run in them (waited for
//! or in the background), a command's state and its logs.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::check::toolbox;
use super::error::{Daytona, error};
use super::state::{Command, Shared, kill_all};
use crate::common::{self, Collected, Reply};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateSessionRequest {
    session_id: String,
}

/// `POST /process/session`.
pub(super) async fn create(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    toolbox(&server, "session", &id, &headers)?;
    let request: CreateSessionRequest = common::json_body::<Daytona, _>(&headers, &body)?;
    let mut state = server.state();
    let sandbox = state
        .by_id
        .get_mut(&id)
        .ok_or_else(|| error(404, "sandbox not found"))?;
    if sandbox.sessions.contains_key(&request.session_id) {
        return Err(error(
            409,
            format!("session {} already exists", request.session_id),
        ));
    }
    sandbox.sessions.insert(request.session_id, HashMap::new());
    Ok(StatusCode::CREATED.into_response())
}

/// `DELETE /process/session/{sid}`: kills its commands.
pub(super) async fn delete(
    State(server): State<Shared>,
    Path((id, sid)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    toolbox(&server, "session", &id, &headers)?;
    let mut state = server.state();
    let sandbox = state
        .by_id
        .get_mut(&id)
        .ok_or_else(|| error(404, "sandbox not found"))?;
    let session = sandbox
        .sessions
        .remove(&sid)
        .ok_or_else(|| error(404, format!("session {sid} not found")))?;
    kill_all(&session);
    Ok(StatusCode::NO_CONTENT.into_response())
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

/// `POST /process/session/{sid}/exec`: waits for the command unless it is
/// asynchronous.
pub(super) async fn exec(
    State(server): State<Shared>,
    Path((id, sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    toolbox(&server, "exec", &id, &headers)?;
    let request: SessionExecuteRequest = common::json_body::<Daytona, _>(&headers, &body)?;
    let proc = common::spawn(&request.command, server.disk.root(), &HashMap::new())
        .map_err(|e| error(500, format!("failed to start the command: {e}")))?;
    let job = common::collect(proc);
    let cmd_id = uuid::Uuid::new_v4().to_string();
    {
        let mut state = server.state();
        let Some(session) = state
            .by_id
            .get_mut(&id)
            .and_then(|s| s.sessions.get_mut(&sid))
        else {
            job.kill_group();
            return Err(error(404, format!("session {sid} not found")));
        };
        session.insert(
            cmd_id.clone(),
            Command {
                command: request.command,
                job: job.clone(),
            },
        );
    }
    if request.run_async.unwrap_or(false) || request.is_async.unwrap_or(false) {
        return Ok((StatusCode::ACCEPTED, axum::Json(json!({ "cmdId": cmd_id }))).into_response());
    }
    job.wait().await;
    let c = job.output();
    let stdout = String::from_utf8_lossy(&c.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&c.stderr).into_owned();
    Ok(axum::Json(json!({
        "cmdId": cmd_id,
        "exitCode": c.exit_code,
        "output": format!("{stdout}{stderr}"),
        "stdout": stdout,
        "stderr": stderr,
    }))
    .into_response())
}

/// The command `cid` of session `sid`: its command line and its output.
fn find_command(
    server: &Shared,
    id: &str,
    sid: &str,
    cid: &str,
) -> Result<(String, Collected), Response> {
    let state = server.state();
    let session = state
        .by_id
        .get(id)
        .and_then(|s| s.sessions.get(sid))
        .ok_or_else(|| error(404, format!("session {sid} not found")))?;
    let command = session
        .get(cid)
        .ok_or_else(|| error(404, format!("command {cid} not found")))?;
    Ok((command.command.clone(), command.job.output()))
}

/// `GET /process/session/{sid}/command/{cid}`.
pub(super) async fn command(
    State(server): State<Shared>,
    Path((id, sid, cid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    toolbox(&server, "command", &id, &headers)?;
    let (command, output) = find_command(&server, &id, &sid, &cid)?;
    Ok(
        axum::Json(json!({ "id": cid, "command": command, "exitCode": output.exit_code }))
            .into_response(),
    )
}

/// `GET /process/session/{sid}/command/{cid}/logs`: JSON when asked for,
/// else the combined output as text.
pub(super) async fn logs(
    State(server): State<Shared>,
    Path((id, sid, cid)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    toolbox(&server, "logs", &id, &headers)?;
    let (_, output) = find_command(&server, &id, &sid, &cid)?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let combined = format!("{stdout}{stderr}");
    let wants_json =
        common::header(&headers, "accept").is_some_and(|a| a.contains("application/json"));
    if wants_json {
        Ok(
            axum::Json(json!({ "output": combined, "stdout": stdout, "stderr": stderr }))
                .into_response(),
        )
    } else {
        Ok(([("content-type", "text/plain")], combined).into_response())
    }
}
