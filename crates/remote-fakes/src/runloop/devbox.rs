//! Devboxes: create (idempotent by `x-request-id`), fetch, wait for a
//! status, shut down.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use super::check;
use super::error::{Runloop, error};
use super::state::{Devbox, Shared, view};
use crate::common::{self, Reply};

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

/// `POST /v1/devboxes`: a repeated `x-request-id` returns the devbox it
/// made the first time.
pub(super) async fn create(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    check::api(&server, "create", &headers)?;
    let request: CreateDevbox = common::json_body::<Runloop, _>(&headers, &body)?;
    let chosen = [
        &request.blueprint_id,
        &request.blueprint_name,
        &request.snapshot_id,
    ]
    .iter()
    .filter(|v| v.is_some())
    .count();
    if chosen > 1 {
        return Err(error(
            400,
            "only one of blueprint_id, blueprint_name and snapshot_id may be given",
        ));
    }
    let request_id = common::header(&headers, "x-request-id").map(str::to_owned);
    let mut state = server.state();
    if let Some(id) = request_id
        .as_ref()
        .and_then(|rid| state.request_ids.get(rid))
    {
        let status = state
            .by_id
            .get(id)
            .map(|d| d.status.clone())
            .unwrap_or_default();
        return Ok(axum::Json(view(id, &status)).into_response());
    }
    let id = format!("dbx_{}", uuid::Uuid::new_v4().simple());
    state.by_id.insert(
        id.clone(),
        Devbox {
            status: "provisioning".to_owned(),
            executions: HashMap::new(),
            by_command_id: HashMap::new(),
        },
    );
    if let Some(rid) = request_id {
        state.request_ids.insert(rid, id.clone());
    }
    Ok(axum::Json(view(&id, "provisioning")).into_response())
}

/// `GET /v1/devboxes/{id}`.
pub(super) async fn get(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    check::api(&server, "get", &headers)?;
    let mut state = server.state();
    let devbox = state.devbox(&id)?;
    Ok(axum::Json(view(&id, &devbox.status)).into_response())
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

/// `POST .../wait_for_status`: a provisioning devbox is running from the
/// first wait; a status not reached is a 408.
pub(super) async fn wait(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    check::api(&server, "wait", &headers)?;
    let request: WaitDevbox = common::json_body::<Runloop, _>(&headers, &body)?;
    if request.statuses.is_empty()
        || request
            .statuses
            .iter()
            .any(|s| !DEVBOX_STATUSES.contains(&s.as_str()))
    {
        return Err(error(400, "statuses must list at least one devbox status"));
    }
    if request.timeout_seconds.is_some_and(|t| t > 30) {
        return Err(error(400, "timeout_seconds may be at most 30"));
    }
    let mut state = server.state();
    let devbox = state.devbox(&id)?;
    if devbox.status == "provisioning" {
        devbox.status = "running".to_owned();
    }
    if request.statuses.contains(&devbox.status) {
        Ok(axum::Json(view(&id, &devbox.status)).into_response())
    } else {
        Err(error(
            408,
            "the devbox did not reach the requested status in time",
        ))
    }
}

/// `POST .../shutdown`: kills its executions.
pub(super) async fn shutdown(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    check::api(&server, "shutdown", &headers)?;
    let mut state = server.state();
    let devbox = state.devbox(&id)?;
    for job in devbox.executions.values() {
        job.kill_group();
    }
    devbox.status = "shutdown".to_owned();
    Ok(axum::Json(view(&id, "shutdown")).into_response())
}
