//! What the fake E2B keeps about its sandboxes.

use std::collections::HashMap;
use std::sync::Arc;

use crate::common::Server;

/// The sandboxes of a fake E2B by id (the state [`super::FakeE2b`] keeps).
#[derive(Debug, Default)]
pub struct Sandboxes {
    pub(super) by_id: HashMap<String, Sandbox>,
}

/// One sandbox: its envd access token and the process groups it started.
#[derive(Debug)]
pub(super) struct Sandbox {
    pub(super) token: String,
    pub(super) pids: Vec<u32>,
}

/// The state every handler gets.
pub(super) type Shared = Arc<Server<Sandboxes>>;

impl Sandboxes {
    /// The id of the sandbox whose access token is `token`.
    pub(super) fn by_token(&self, token: &str) -> Option<String> {
        self.by_id
            .iter()
            .find(|(_, s)| s.token == token)
            .map(|(id, _)| id.clone())
    }
}
