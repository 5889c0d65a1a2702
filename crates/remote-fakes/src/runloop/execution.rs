//! Executions: run a command (deduplicated by `command_id`), wait for it,
//! kill it.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::check;
use super::error::{Runloop, error};
use super::state::Shared;
use crate::common::{self, Job, Reply};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteRequest {
    command: String,
    command_id: String,
    optimistic_timeout: Option<u64>,
    shell_name: Option<String>,
}

/// An execution as the API returns it: the output once it completed.
fn execution_view(devbox_id: &str, execution_id: &str, job: &Job) -> Value {
    // The flag first: once it is set, the output is complete.
    let finished = job.finished();
    let c = job.output();
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

/// The execution `eid` of devbox `id`, or a 404 naming `missing`.
fn job(server: &Shared, id: &str, eid: &str, missing: &str) -> Result<Job, Response> {
    let state = server.state();
    state
        .by_id
        .get(id)
        .and_then(|d| d.executions.get(eid))
        .cloned()
        .ok_or_else(|| error(404, missing.to_owned()))
}

/// The execution `eid` as the API returns it now.
fn current_view(server: &Shared, id: &str, eid: &str, missing: &str) -> Reply {
    let job = job(server, id, eid, missing)?;
    Ok(axum::Json(execution_view(id, eid, &job)).into_response())
}

/// `POST .../execute`: the same `command_id` again is the same execution;
/// with `optimistic_timeout` it waits that long for the end.
pub(super) async fn execute(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    check::api(&server, "execute", &headers)?;
    let request: ExecuteRequest = common::json_body::<Runloop, _>(&headers, &body)?;
    if request.shell_name.is_some() {
        return Err(error(400, "the fake does not keep persistent shells"));
    }
    if uuid::Uuid::parse_str(&request.command_id).is_err() {
        return Err(error(400, "command_id must be a UUID"));
    }
    if request.optimistic_timeout.is_some_and(|t| t > 600) {
        return Err(error(400, "optimistic_timeout may be at most 600"));
    }
    let (execution_id, job) = {
        let mut state = server.state();
        let devbox = state.devbox(&id)?;
        if devbox.status != "running" {
            return Err(error(
                400,
                format!("devbox {id} is {}, not running", devbox.status),
            ));
        }
        match devbox.by_command_id.get(&request.command_id) {
            Some(eid) => {
                let job = devbox.executions.get(eid).cloned();
                (
                    eid.clone(),
                    job.ok_or_else(|| error(500, "lost execution"))?,
                )
            }
            None => {
                let proc = common::spawn(&request.command, server.disk.root(), &HashMap::new())
                    .map_err(|e| error(500, format!("failed to start the command: {e}")))?;
                let job = common::collect(proc);
                let eid = format!("exe_{}", uuid::Uuid::new_v4().simple());
                devbox.executions.insert(eid.clone(), job.clone());
                devbox
                    .by_command_id
                    .insert(request.command_id.clone(), eid.clone());
                (eid, job)
            }
        }
    };
    if let Some(secs) = request.optimistic_timeout {
        let _ = tokio::time::timeout(Duration::from_secs(secs), job.wait()).await;
    }
    current_view(&server, &id, &execution_id, "execution not found")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct WaitExecution {
    statuses: Vec<String>,
    timeout_seconds: Option<u64>,
    last_n: Option<String>,
}

/// `POST .../executions/{eid}/wait_for_status`: holds until completed (at
/// most 30 s), then a 408.
pub(super) async fn wait(
    State(server): State<Shared>,
    Path((id, eid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    check::api(&server, "wait_command", &headers)?;
    let request: WaitExecution = common::json_body::<Runloop, _>(&headers, &body)?;
    if request.statuses.is_empty()
        || request
            .statuses
            .iter()
            .any(|s| !["queued", "running", "completed"].contains(&s.as_str()))
    {
        return Err(error(
            400,
            "statuses must list queued, running or completed",
        ));
    }
    let missing = format!("execution {eid} not found");
    let job = job(&server, &id, &eid, &missing)?;
    let wants_running = request
        .statuses
        .iter()
        .any(|s| s == "running" || s == "queued");
    if !wants_running {
        let hold = Duration::from_secs(request.timeout_seconds.unwrap_or(10).min(30));
        if tokio::time::timeout(hold, job.wait()).await.is_err() {
            return Err(error(
                408,
                "the execution did not reach the requested status in time",
            ));
        }
    }
    current_view(&server, &id, &eid, &missing)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillRequest {
    kill_process_group: Option<bool>,
}

/// `POST .../executions/{eid}/kill`: the process, or with
/// `kill_process_group` its whole group; answers once it ended (or 2 s).
pub(super) async fn kill(
    State(server): State<Shared>,
    Path((id, eid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    check::api(&server, "kill", &headers)?;
    let request: KillRequest = if body.is_empty() {
        KillRequest {
            kill_process_group: None,
        }
    } else {
        common::json_body::<Runloop, _>(&headers, &body)?
    };
    let missing = format!("execution {eid} not found");
    let job = job(&server, &id, &eid, &missing)?;
    if request.kill_process_group.unwrap_or(false) {
        job.kill_group();
    } else {
        job.kill_leader();
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), job.wait()).await;
    current_view(&server, &id, &eid, &missing)
}
