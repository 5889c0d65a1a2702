//! A fake of E2B: the control plane (`POST /v2/sandboxes`,
//! `DELETE /sandboxes/{id}`, `POST /sandboxes/{id}/timeout`, header
//! `X-API-Key`) and envd (`GET`/`POST /files`, Connect RPC
//! `filesystem.Filesystem/{Stat,ListDir,MakeDir,Remove}`,
//! `process.Process/{Start,SendSignal}`, header `X-Access-Token`), served
//! from one address; the access token tells sandboxes apart.
//!
//! Fault routes: `create`, `kill`, `timeout`, `files`, `filesystem`,
//! `process`, `signal`.

mod api;
mod check;
mod error;
mod files;
mod filesystem;
mod process;
mod state;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::common::{Fake, ProviderState};

pub use check::API_KEY;
pub use state::Sandboxes;

/// A running fake E2B.
pub type FakeE2b = Fake<Sandboxes>;

impl ProviderState for Sandboxes {
    const API_KEY: &'static str = API_KEY;
}

impl FakeE2b {
    /// Starts the fake on a random local port.
    pub async fn start() -> Self {
        let routes = Router::new()
            .route("/v2/sandboxes", post(api::create))
            .route("/sandboxes/{id}", delete(api::kill))
            .route("/sandboxes/{id}/timeout", post(api::set_timeout))
            .route("/files", get(files::download).post(files::upload))
            .route(
                "/filesystem.Filesystem/{method}",
                post(filesystem::filesystem),
            )
            .route("/process.Process/Start", post(process::start))
            .route("/process.Process/SendSignal", post(process::send_signal));
        Fake::serve(routes).await
    }

    /// The control-plane base URL (for `E2B_API_URL`).
    pub fn api_url(&self) -> String {
        self.url()
    }

    /// The envd base URL (the client's envd override).
    pub fn envd_url(&self) -> String {
        self.url()
    }

    /// How many sandboxes are alive.
    pub fn live_sandboxes(&self) -> usize {
        self.state().by_id.len()
    }
}
