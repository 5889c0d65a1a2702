//! A fake of Runloop: devboxes (`POST /v1/devboxes` with `x-request-id`
//! idempotency, `GET /v1/devboxes/{id}`, `.../wait_for_status` long poll
//! answering 408 when the hold expires, `.../shutdown`), executions
//! (`.../execute` with `command_id` deduplication,
//! `.../executions/{eid}/wait_for_status`, `.../kill`) and files
//! (`.../upload_file` multipart, `.../download_file`), all with
//! `Authorization: Bearer`. Like the service, it has no command timeout,
//! no cwd or env parameter, and no list, delete or mkdir call;
//! `upload_file` does not create parent directories.
//!
//! Errors are JSON `{"message": ...}` with the HTTP status (the route index
//! the fake follows does not define an error body).
//!
//! Fault routes: `create`, `get`, `wait`, `execute`, `wait_command`,
//! `kill`, `files`, `shutdown`.

mod check;
mod devbox;
mod error;
mod execution;
mod files;
mod state;

use axum::Router;
use axum::routing::{get, post};

use crate::common::{Fake, ProviderState};

pub use check::API_KEY;
pub use state::Devboxes;

/// A running fake Runloop.
pub type FakeRunloop = Fake<Devboxes>;

impl ProviderState for Devboxes {
    const API_KEY: &'static str = API_KEY;
}

impl FakeRunloop {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let d = "/v1/devboxes/{id}";
        let e = format!("{d}/executions/{{eid}}");
        let routes = Router::new()
            .route("/v1/devboxes", post(devbox::create))
            .route(d, get(devbox::get))
            .route(&format!("{d}/wait_for_status"), post(devbox::wait))
            .route(&format!("{d}/execute"), post(execution::execute))
            .route(&format!("{e}/wait_for_status"), post(execution::wait))
            .route(&format!("{e}/kill"), post(execution::kill))
            .route(&format!("{d}/download_file"), post(files::download))
            .route(&format!("{d}/upload_file"), post(files::upload))
            .route(&format!("{d}/shutdown"), post(devbox::shutdown));
        Fake::serve(routes).await
    }

    /// The API base URL (for `RUNLOOP_BASE_URL`).
    pub fn base_url(&self) -> String {
        self.url()
    }

    /// How many devboxes are not shut down.
    pub fn live_devboxes(&self) -> usize {
        let state = self.state();
        state
            .by_id
            .values()
            .filter(|d| d.status != "shutdown")
            .count()
    }

    /// How many executions each devbox ran, summed.
    pub fn executions(&self) -> usize {
        let state = self.state();
        state.by_id.values().map(|d| d.executions.len()).sum()
    }
}
