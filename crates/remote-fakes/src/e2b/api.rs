//! The control plane: create, kill and keep alive sandboxes.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::check;
use super::error::{Rest, rest_error};
use super::state::{Sandbox, Shared};
use crate::common::{self, Reply};

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

/// `POST /v2/sandboxes`.
pub(super) async fn create(State(server): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    common::injected::<Rest>(&server.faults, "create")?;
    check::api_key(&headers)?;
    if !common::content_type_is(&headers, "application/json") {
        return Err(rest_error(
            400,
            "request body has an error: header Content-Type has unexpected value",
        ));
    }
    let request: NewSandbox = serde_json::from_slice(&body)
        .map_err(|e| rest_error(400, format!("request body has an error: {e}")))?;
    let id = format!("i{}", &uuid::Uuid::new_v4().simple().to_string()[..19]);
    let token = uuid::Uuid::new_v4().simple().to_string();
    server.state().by_id.insert(
        id.clone(),
        Sandbox {
            token: token.clone(),
            pids: Vec::new(),
        },
    );
    Ok((
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
        .into_response())
}

/// `DELETE /sandboxes/{id}`: ends its processes too.
pub(super) async fn kill(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Reply {
    common::injected::<Rest>(&server.faults, "kill")?;
    check::api_key(&headers)?;
    let removed = server.state().by_id.remove(&id);
    let sandbox = removed.ok_or_else(|| {
        rest_error(
            404,
            format!("sandbox \"{id}\" doesn't exist or you don't have access to it"),
        )
    })?;
    for pid in sandbox.pids {
        common::kill_group(pid);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeoutRequest {
    #[allow(dead_code)]
    timeout: u32,
}

/// `POST /sandboxes/{id}/timeout`.
pub(super) async fn set_timeout(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    common::injected::<Rest>(&server.faults, "timeout")?;
    check::api_key(&headers)?;
    serde_json::from_slice::<TimeoutRequest>(&body)
        .map_err(|e| rest_error(400, format!("request body has an error: {e}")))?;
    if !server.state().by_id.contains_key(&id) {
        return Err(rest_error(404, format!("sandbox \"{id}\" doesn't exist")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
