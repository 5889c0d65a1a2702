//! envd's `/files`: download and upload one file.

use std::path::PathBuf;

use axum::extract::{Query, Request, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::check::sandbox_of;
use super::error::{Rest, rest_error};
use super::state::Shared;
use crate::common::{self, FormError, Reply};

#[derive(Deserialize)]
pub(super) struct PathQuery {
    path: Option<String>,
    #[allow(dead_code)]
    username: Option<String>,
}

/// The guarded path of the `path` query parameter.
fn file_path(server: &Shared, query: &PathQuery) -> Result<PathBuf, axum::response::Response> {
    let Some(path) = query.path.as_deref() else {
        return Err(rest_error(
            400,
            "the fake requires the path query parameter",
        ));
    };
    server.disk.guard(path).ok_or_else(|| {
        rest_error(
            400,
            format!("path '{path}' is outside the fake sandbox's directory"),
        )
    })
}

/// `GET /files?path=`.
pub(super) async fn download(
    State(server): State<Shared>,
    Query(query): Query<PathQuery>,
    headers: axum::http::HeaderMap,
) -> Reply {
    common::injected::<Rest>(&server.faults, "files")?;
    sandbox_of(&server, &headers).map_err(|m| rest_error(401, m))?;
    let path = file_path(&server, &query)?;
    let shown = path.display();
    if path.is_dir() {
        return Err(rest_error(400, format!("path '{shown}' is a directory")));
    }
    match std::fs::read(&path) {
        Ok(bytes) => Ok(common::octet_stream(bytes)),
        Err(e) if common::is_missing(&e) => {
            Err(rest_error(404, format!("path '{shown}' does not exist")))
        }
        Err(e) => Err(rest_error(
            500,
            format!("error reading file '{shown}': {e}"),
        )),
    }
}

/// `POST /files?path=`: the content as a multipart part `file` or the raw
/// body; parents are created.
pub(super) async fn upload(
    State(server): State<Shared>,
    Query(query): Query<PathQuery>,
    request: Request,
) -> Reply {
    common::injected::<Rest>(&server.faults, "files")?;
    let headers = request.headers().clone();
    sandbox_of(&server, &headers).map_err(|m| rest_error(401, m))?;
    let path = file_path(&server, &query)?;
    let content = if common::content_type_is(&headers, "multipart/form-data") {
        let parts = common::form_parts(request).await.map_err(|e| match e {
            FormError::Malformed(e) => {
                rest_error(400, format!("error parsing multipart form: {e}"))
            }
            FormError::Part(e) => rest_error(400, format!("error reading part: {e}")),
        })?;
        let mut content = None;
        for (name, bytes) in parts {
            if name != "file" {
                return Err(rest_error(
                    400,
                    format!("unexpected multipart part {name:?}; the file goes in part \"file\""),
                ));
            }
            content = Some(bytes);
        }
        content.ok_or_else(|| rest_error(400, "multipart form has no part named \"file\""))?
    } else if common::content_type_is(&headers, "application/octet-stream") {
        axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .map_err(|e| rest_error(400, format!("error reading body: {e}")))?
    } else {
        return Err(rest_error(
            400,
            "Content-Type must be multipart/form-data or application/octet-stream",
        ));
    };
    let shown = path.display().to_string();
    match common::write_atomic(&path, &content, true) {
        Ok(()) => Ok(axum::Json(json!([{
            "path": shown,
            "name": path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            "type": "file",
        }]))
        .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            Err(rest_error(400, format!("path '{shown}' is a directory")))
        }
        Err(e) => Err(rest_error(
            400,
            format!("error writing file '{shown}': {e}"),
        )),
    }
}
