//! envd's Connect service `filesystem.Filesystem`: `Stat`, `ListDir`,
//! `MakeDir`, `Remove`.

use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::check::{connect_unary, sandbox_of};
use super::error::{Connect, connect_error};
use super::state::Shared;
use crate::common::{self, Reply};

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

/// `POST /filesystem.Filesystem/{method}`.
pub(super) async fn filesystem(
    State(server): State<Shared>,
    axum::extract::Path(method): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    common::injected::<Connect>(&server.faults, "filesystem")?;
    connect_unary(&headers)?;
    sandbox_of(&server, &headers).map_err(|m| connect_error("unauthenticated", m))?;
    match method.as_str() {
        "Stat" => stat(&server, &body),
        "ListDir" => list_dir(&server, &body),
        "MakeDir" => make_dir(&server, &body),
        "Remove" => remove(&server, &body),
        other => Err(connect_error(
            "unimplemented",
            format!("filesystem.Filesystem/{other} is not implemented by the fake"),
        )),
    }
}

/// The request message as `T`.
fn message<T: DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body)
        .map_err(|e| connect_error("invalid_argument", format!("invalid request body: {e}")))
}

/// `path` when it is inside the fake's directory.
fn guard(server: &Shared, path: &str) -> Result<PathBuf, Response> {
    server.disk.guard(path).ok_or_else(|| {
        connect_error(
            "invalid_argument",
            format!("path '{path}' is outside the fake sandbox's directory"),
        )
    })
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

fn stat(server: &Shared, body: &[u8]) -> Reply {
    let req: PathRequest = message(body)?;
    let path = guard(server, &req.path)?;
    match entry_info(&path) {
        Ok(entry) => Ok(axum::Json(json!({ "entry": entry })).into_response()),
        Err(e) if common::is_missing(&e) => Err(connect_error(
            "not_found",
            format!("file not found: {}", req.path),
        )),
        Err(e) => Err(connect_error("internal", e.to_string())),
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

fn list_dir(server: &Shared, body: &[u8]) -> Reply {
    let req: ListDirRequest = message(body)?;
    let path = guard(server, &req.path)?;
    if !path.exists() {
        return Err(connect_error(
            "not_found",
            format!("directory not found: {}", req.path),
        ));
    }
    if !path.is_dir() {
        return Err(connect_error(
            "invalid_argument",
            format!("path is not a directory: {}", req.path),
        ));
    }
    let mut entries = Vec::new();
    list(&path, req.depth.max(1), &mut entries)
        .map_err(|e| connect_error("internal", e.to_string()))?;
    Ok(axum::Json(json!({ "entries": entries })).into_response())
}

fn make_dir(server: &Shared, body: &[u8]) -> Reply {
    let req: PathRequest = message(body)?;
    let path = guard(server, &req.path)?;
    if path.exists() {
        return Err(connect_error(
            "already_exists",
            format!("directory already exists: {}", req.path),
        ));
    }
    match std::fs::create_dir_all(&path).and_then(|()| entry_info(&path)) {
        Ok(entry) => Ok(axum::Json(json!({ "entry": entry })).into_response()),
        Err(e) => Err(connect_error(
            "invalid_argument",
            format!("error creating directory: {e}"),
        )),
    }
}

fn remove(server: &Shared, body: &[u8]) -> Reply {
    let req: PathRequest = message(body)?;
    let path = guard(server, &req.path)?;
    let outcome = match std::fs::symlink_metadata(&path) {
        Err(_) => {
            return Err(connect_error(
                "not_found",
                format!("file not found: {}", req.path),
            ));
        }
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
    };
    outcome.map_err(|e| connect_error("internal", e.to_string()))?;
    Ok(axum::Json(json!({})).into_response())
}
