//! What the fake Daytona keeps about its sandboxes and their sessions.

use std::collections::HashMap;
use std::sync::Arc;

use crate::common::{Job, Server};

/// The sandboxes of a fake Daytona by id (the state
/// [`super::FakeDaytona`] keeps).
#[derive(Debug, Default)]
pub struct Sandboxes {
    pub(super) by_id: HashMap<String, Sandbox>,
}

/// One sandbox: its lifecycle and its sessions.
#[derive(Debug)]
pub(super) struct Sandbox {
    /// Created from [`super::BROKEN_SNAPSHOT`]: it ends in `error`.
    pub(super) broken: bool,
    /// Fetched at least once (the fake starts a sandbox on its first `GET`).
    pub(super) started: bool,
    pub(super) sessions: HashMap<String, Session>,
}

/// A session's commands by id.
pub(super) type Session = HashMap<String, Command>;

/// One command run in a session.
#[derive(Debug)]
pub(super) struct Command {
    pub(super) command: String,
    pub(super) job: Job,
}

/// The state every handler gets.
pub(super) type Shared = Arc<Server<Sandboxes>>;

/// Kills every command of `session`.
pub(super) fn kill_all(session: &Session) {
    for command in session.values() {
        command.job.kill_group();
    }
}
