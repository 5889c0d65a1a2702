//! The checks Runloop requests pass before their handler runs: a due
//! fault, the API key, and for files a running devbox.

use axum::http::HeaderMap;
use axum::response::Response;

use super::error::{Runloop, error};
use super::state::Shared;
use crate::common;

/// The API key the fake accepts.
pub const API_KEY: &str = "ak_fake_runloop_0123456789";

/// Counts the request to `route`, fails it with a due fault, checks the key.
pub(super) fn api(server: &Shared, route: &str, headers: &HeaderMap) -> Result<(), Response> {
    common::injected::<Runloop>(&server.faults, route)?;
    common::bearer::<Runloop>(headers, API_KEY, "Unauthorized: invalid or missing API key")
}

/// Devbox `id` exists and is running.
pub(super) fn running(server: &Shared, id: &str) -> Result<(), Response> {
    let mut state = server.state();
    let devbox = state.devbox(id)?;
    if devbox.status == "running" {
        Ok(())
    } else {
        Err(error(
            400,
            format!("devbox {id} is {}, not running", devbox.status),
        ))
    }
}
