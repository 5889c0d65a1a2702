//! The toolbox's file routes: list, info, download, delete, make a folder,
//! bulk upload.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path as UrlPath, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::check::toolbox;
use super::error::error;
use super::state::Shared;
use crate::common::{self, Reply};

#[derive(Deserialize)]
pub(super) struct PathQuery {
    path: Option<String>,
    recursive: Option<String>,
    mode: Option<String>,
}

/// A file route's request that passed the toolbox checks: its guarded
/// `path` and the other query parameters.
pub(super) struct FileRequest {
    path: PathBuf,
    query: PathQuery,
}

impl FromRequestParts<Shared> for FileRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, server: &Shared) -> Result<Self, Response> {
        let UrlPath(id) = UrlPath::<String>::from_request_parts(parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        let Query(query) = Query::<PathQuery>::from_request_parts(parts, server)
            .await
            .map_err(IntoResponse::into_response)?;
        toolbox(server, "files", &id, &parts.headers)?;
        let Some(path) = query.path.as_deref() else {
            return Err(error(400, "path is required"));
        };
        let path = server.disk.guard(path).ok_or_else(|| {
            error(
                400,
                format!("path {path} is outside the fake sandbox's directory"),
            )
        })?;
        Ok(FileRequest { path, query })
    }
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
    if common::is_missing(e) {
        error(404, format!("file not found: {}", path.display()))
    } else {
        error(400, format!("{}: {e}", path.display()))
    }
}

/// `GET /files?path=`: the directory's entries.
pub(super) async fn list(FileRequest { path, .. }: FileRequest) -> Reply {
    let entries = std::fs::read_dir(&path).map_err(|e| io_error(&path, &e))?;
    let mut list = Vec::new();
    for entry in entries.flatten() {
        list.push(file_info_json(&entry.path()).map_err(|e| io_error(&entry.path(), &e))?);
    }
    Ok(axum::Json(list).into_response())
}

/// `GET /files/info?path=`.
pub(super) async fn info(FileRequest { path, .. }: FileRequest) -> Reply {
    let info = file_info_json(&path).map_err(|e| io_error(&path, &e))?;
    Ok(axum::Json(info).into_response())
}

/// `GET /files/download?path=`.
pub(super) async fn download(FileRequest { path, .. }: FileRequest) -> Reply {
    if path.is_dir() {
        return Err(error(400, format!("{} is a directory", path.display())));
    }
    let bytes = std::fs::read(&path).map_err(|e| io_error(&path, &e))?;
    Ok(common::octet_stream(bytes))
}

/// `DELETE /files?path=&recursive=`.
pub(super) async fn delete(FileRequest { path, query }: FileRequest) -> Reply {
    let recursive = match query.recursive.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(error(
                400,
                format!("recursive must be true or false, got {other:?}"),
            ));
        }
    };
    let outcome = match std::fs::symlink_metadata(&path) {
        Err(e) => return Err(io_error(&path, &e)),
        Ok(m) if m.is_dir() && !recursive => {
            return Err(error(
                400,
                "cannot delete a directory without recursive=true",
            ));
        }
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
        Ok(_) => std::fs::remove_file(&path),
    };
    outcome.map_err(|e| io_error(&path, &e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /files/folder?path=&mode=`.
pub(super) async fn folder(FileRequest { path, query }: FileRequest) -> Reply {
    match query.mode.as_deref() {
        Some(mode) if !mode.is_empty() && mode.chars().all(|c| ('0'..='7').contains(&c)) => {}
        Some(mode) => {
            return Err(error(
                400,
                format!("invalid mode {mode:?}: give an octal permission such as 755"),
            ));
        }
        None => return Err(error(400, "mode is required")),
    }
    std::fs::create_dir_all(&path).map_err(|e| io_error(&path, &e))?;
    Ok(StatusCode::CREATED.into_response())
}

/// `POST /files/bulk-upload`: parts `files[N].path` and `files[N].file`;
/// parents are created.
pub(super) async fn bulk_upload(
    State(server): State<Shared>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Reply {
    let headers = request.headers().clone();
    toolbox(&server, "files", &id, &headers)?;
    if !common::content_type_is(&headers, "multipart/form-data") {
        return Err(error(400, "Content-Type must be multipart/form-data"));
    }
    let parts = common::form_parts(request)
        .await
        .map_err(|e| error(400, format!("invalid multipart form: {e}")))?;
    let mut paths: HashMap<String, String> = HashMap::new();
    let mut files: HashMap<String, Bytes> = HashMap::new();
    for (name, bytes) in parts {
        let Some(rest) = name.strip_prefix("files[") else {
            return Err(error(
                400,
                format!("unexpected form field {name:?}; expected files[N].path and files[N].file"),
            ));
        };
        let unexpected = || error(400, format!("unexpected form field {name:?}"));
        let (index, key) = rest.split_once("].").ok_or_else(unexpected)?;
        if index.parse::<usize>().is_err() {
            return Err(unexpected());
        }
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
            _ => return Err(unexpected()),
        }
    }
    if paths.is_empty() || paths.len() != files.len() {
        return Err(error(400, "every files[N].path needs a files[N].file"));
    }
    for (index, target) in &paths {
        let content = files
            .get(index)
            .ok_or_else(|| error(400, format!("files[{index}].file is missing")))?;
        let path = server.disk.guard(target).ok_or_else(|| {
            error(
                400,
                format!("path {target} is outside the fake sandbox's directory"),
            )
        })?;
        common::write_atomic(&path, content, true).map_err(|e| io_error(&path, &e))?;
    }
    Ok(StatusCode::OK.into_response())
}
