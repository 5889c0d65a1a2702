//! The checks Daytona requests pass before their handler runs: a due
//! fault, the API key, and for the toolbox a live, started sandbox.

use axum::http::HeaderMap;
use axum::response::Response;

use super::error::{Daytona, error};
use super::state::Shared;
use crate::common;

/// The API key the fake accepts.
pub const API_KEY: &str = "dtn_fake_key_0123456789";

/// Counts the request to `route`, fails it with a due fault, checks the key.
pub(super) fn api(server: &Shared, route: &str, headers: &HeaderMap) -> Result<(), Response> {
    common::injected::<Daytona>(&server.faults, route)?;
    common::bearer::<Daytona>(headers, API_KEY, "Invalid credentials")
}

/// [`api`], then: sandbox `id` exists and is started.
pub(super) fn toolbox(
    server: &Shared,
    route: &str,
    id: &str,
    headers: &HeaderMap,
) -> Result<(), Response> {
    api(server, route, headers)?;
    match server.state().by_id.get(id) {
        Some(sandbox) if sandbox.started && !sandbox.broken => Ok(()),
        Some(_) => Err(error(400, "sandbox is not started")),
        None => Err(error(404, format!("sandbox {id} not found"))),
    }
}
