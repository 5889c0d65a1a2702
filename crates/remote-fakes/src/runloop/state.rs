//! What the fake Runloop keeps about its devboxes and their executions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::response::Response;
use serde_json::{Value, json};

use super::error::error;

use crate::common::{Job, Server};

/// The devboxes of a fake Runloop by id, and the create requests seen (the
/// state [`super::FakeRunloop`] keeps).
#[derive(Debug, Default)]
pub struct Devboxes {
    pub(super) by_id: HashMap<String, Devbox>,
    /// `x-request-id` of a create → the devbox it made.
    pub(super) request_ids: HashMap<String, String>,
}

/// One devbox: its status and executions.
#[derive(Debug)]
pub(super) struct Devbox {
    pub(super) status: String,
    pub(super) executions: HashMap<String, Job>,
    /// `command_id` → execution id, so a repeated execute is the same run.
    pub(super) by_command_id: HashMap<String, String>,
}

impl Devboxes {
    /// Devbox `id`, or the API's 404.
    pub(super) fn devbox(&mut self, id: &str) -> Result<&mut Devbox, Response> {
        self.by_id
            .get_mut(id)
            .ok_or_else(|| error(404, format!("devbox {id} not found")))
    }
}

/// The state every handler gets.
pub(super) type Shared = Arc<Server<Devboxes>>;

/// A devbox as the API returns it.
pub(super) fn view(id: &str, status: &str) -> Value {
    json!({
        "id": id,
        "status": status,
        "capabilities": [],
        "create_time_ms": 0,
        "launch_parameters": {},
        "metadata": {},
        "state_transitions": [],
    })
}
