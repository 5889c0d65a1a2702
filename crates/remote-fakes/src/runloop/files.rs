//! Files: download one, upload one (parents must exist).

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::check::{api, running};
use super::error::{Runloop, error};
use super::state::Shared;
use crate::common::{self, Reply};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadRequest {
    path: String,
}

/// `path` when it is inside the fake's directory.
fn guard(server: &Shared, path: &str) -> Result<std::path::PathBuf, Response> {
    server.disk.guard(path).ok_or_else(|| {
        error(
            400,
            format!("path {path} is outside the fake devbox's directory"),
        )
    })
}

/// `POST .../download_file`.
pub(super) async fn download(
    State(server): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    api(&server, "files", &headers)?;
    running(&server, &id)?;
    let request: DownloadRequest = common::json_body::<Runloop, _>(&headers, &body)?;
    let path = guard(&server, &request.path)?;
    if path.is_dir() {
        return Err(error(400, format!("{} is a directory", request.path)));
    }
    match std::fs::read(&path) {
        Ok(bytes) => Ok(common::octet_stream(bytes)),
        Err(e) if common::is_missing(&e) => {
            Err(error(404, format!("file {} not found", request.path)))
        }
        Err(e) => Err(error(400, format!("{}: {e}", request.path))),
    }
}

/// `POST .../upload_file`: multipart parts `path` and `file`.
pub(super) async fn upload(
    State(server): State<Shared>,
    Path(id): Path<String>,
    request: Request,
) -> Reply {
    let headers = request.headers().clone();
    api(&server, "files", &headers)?;
    running(&server, &id)?;
    if !common::content_type_is(&headers, "multipart/form-data") {
        return Err(error(400, "Content-Type must be multipart/form-data"));
    }
    let parts = common::form_parts(request)
        .await
        .map_err(|e| error(400, format!("invalid multipart form: {e}")))?;
    let (mut target, mut content): (Option<String>, Option<Bytes>) = (None, None);
    for (name, bytes) in parts {
        match name.as_str() {
            "path" => target = Some(String::from_utf8_lossy(&bytes).into_owned()),
            "file" => content = Some(bytes),
            other => {
                return Err(error(
                    400,
                    format!("unexpected form field {other:?}; expected path and file"),
                ));
            }
        }
    }
    let (Some(target), Some(content)) = (target, content) else {
        return Err(error(400, "the form needs both path and file"));
    };
    let path = guard(&server, &target)?;
    match common::write_atomic(&path, &content, false) {
        Ok(()) => Ok(axum::Json(json!({})).into_response()),
        Err(e) if common::is_missing(&e) => Err(error(
            400,
            format!("the directory of {target} does not exist"),
        )),
        Err(e) => Err(error(400, format!("{target}: {e}"))),
    }
}
