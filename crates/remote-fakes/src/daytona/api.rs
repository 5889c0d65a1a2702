//! The sandbox API: create, fetch (which starts a sandbox) and delete.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::check;
use super::error::{Daytona, error};
use super::state::{Sandbox, Shared, kill_all};
use crate::common::{self, Reply};

/// A snapshot name that makes the sandbox end in state `error`.
pub const BROKEN_SNAPSHOT: &str = "fake-broken-snapshot";

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

/// The sandbox as the API returns it.
fn dto(server: &Shared, id: &str, sandbox: &Sandbox) -> Value {
    let state = if sandbox.broken && sandbox.started {
        "error"
    } else if sandbox.started {
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
        "errorReason": if sandbox.broken { Value::from("the snapshot failed to start") } else { Value::Null },
        "toolboxProxyUrl": format!("{}/toolbox", server.url()),
    })
}

/// `POST /sandbox`.
pub(super) async fn create(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    check::api(&server, "create", &headers)?;
    let request: CreateSandbox = common::json_body::<Daytona, _>(&headers, &body)?;
    let id = uuid::Uuid::new_v4().to_string();
    let sandbox = Sandbox {
        broken: request.snapshot.as_deref() == Some(BROKEN_SNAPSHOT),
        started: false,
        sessions: HashMap::new(),
    };
    let body = dto(&server, &id, &sandbox);
    server.state().by_id.insert(id, sandbox);
    Ok(axum::Json(body).into_response())
}

/// `GET /sandbox/{id}`: the first fetch starts the sandbox.
pub(super) async fn get(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    check::api(&server, "get", &headers)?;
    let mut state = server.state();
    let sandbox = state
        .by_id
        .get_mut(&id)
        .ok_or_else(|| error(404, format!("Sandbox with ID or name {id} not found")))?;
    sandbox.started = true;
    Ok(axum::Json(dto(&server, &id, sandbox)).into_response())
}

/// `DELETE /sandbox/{id}`: kills its commands too.
pub(super) async fn delete(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    check::api(&server, "delete", &headers)?;
    let removed = server.state().by_id.remove(&id);
    let sandbox =
        removed.ok_or_else(|| error(404, format!("Sandbox with ID or name {id} not found")))?;
    for session in sandbox.sessions.values() {
        kill_all(session);
    }
    Ok(StatusCode::OK.into_response())
}
