//! A fake of Daytona: the API (`POST /sandbox`, `GET`/`DELETE
//! /sandbox/{id}`, `Authorization: Bearer`) and each sandbox's toolbox at
//! `{toolboxProxyUrl}/{sandboxId}`: files (`GET`/`DELETE /files`,
//! `/files/info`, `/files/download`, `/files/bulk-upload`,
//! `/files/folder`) and the session API (`/process/session`, `.../exec`,
//! `.../command/{id}`, `.../logs`).
//!
//! A sandbox is `creating` when created and `started` from the first `GET`;
//! one created from the snapshot [`BROKEN_SNAPSHOT`] goes to `error`.
//!
//! Fault routes: `create`, `get`, `delete`, `files`, `session`, `exec`,
//! `command`, `logs`.

mod api;
mod check;
mod error;
mod files;
mod session;
mod state;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::common::{Fake, ProviderState};

pub use api::BROKEN_SNAPSHOT;
pub use check::API_KEY;
pub use state::Sandboxes;

/// A running fake Daytona.
pub type FakeDaytona = Fake<Sandboxes>;

impl ProviderState for Sandboxes {
    const API_KEY: &'static str = API_KEY;
}

impl FakeDaytona {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let t = "/toolbox/{id}";
        let s = format!("{t}/process/session/{{sid}}");
        let routes = Router::new()
            .route("/sandbox", post(api::create))
            .route("/sandbox/{id}", get(api::get).delete(api::delete))
            .route(
                &format!("{t}/files"),
                get(files::list).delete(files::delete),
            )
            .route(&format!("{t}/files/info"), get(files::info))
            .route(&format!("{t}/files/download"), get(files::download))
            .route(&format!("{t}/files/bulk-upload"), post(files::bulk_upload))
            .route(&format!("{t}/files/folder"), post(files::folder))
            .route(&format!("{t}/process/session"), post(session::create))
            .route(&s, delete(session::delete))
            .route(&format!("{s}/exec"), post(session::exec))
            .route(&format!("{s}/command/{{cid}}"), get(session::command))
            .route(&format!("{s}/command/{{cid}}/logs"), get(session::logs));
        Fake::serve(routes).await
    }

    /// The API base URL (for `DAYTONA_API_URL`).
    pub fn api_url(&self) -> String {
        self.url()
    }

    /// How many sandboxes are alive.
    pub fn live_sandboxes(&self) -> usize {
        self.state().by_id.len()
    }
}
