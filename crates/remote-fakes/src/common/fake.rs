//! The frame of every REST fake: its files, faults, address and the
//! provider's own state, and the handle a test holds.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;

use super::disk::Disk;
use super::fault::Faults;
use super::http::serve;
use super::lock::lock;

/// What a fake's handlers share: the files, the faults, the fake's own
/// address, and the provider's state `S` (sandboxes, ...) behind one lock.
#[derive(Debug)]
pub struct Server<S> {
    /// The sandboxes' files.
    pub disk: Disk,
    /// Faults waiting per route, and request counts.
    pub faults: Faults,
    url: OnceLock<String>,
    state: Mutex<S>,
}

impl<S> Server<S> {
    /// The provider's state, locked.
    pub fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    /// The fake's base URL, `http://127.0.0.1:port`.
    pub fn url(&self) -> &str {
        self.url.get().map(String::as_str).unwrap_or_default()
    }
}

/// The state a provider's fake keeps; it names the key the fake accepts.
pub trait ProviderState: Default + Send + 'static {
    /// The API key the fake accepts.
    const API_KEY: &'static str;
}

/// A running fake server whose provider state is `S`; each provider module
/// names its own (`FakeE2b`, ...) and adds its constructor.
#[derive(Debug)]
pub struct Fake<S> {
    server: Arc<Server<S>>,
}

impl<S: ProviderState> Fake<S> {
    /// Serves `routes` on a random local port, with a fresh disk, no faults
    /// and the default state.
    pub async fn serve(routes: Router<Arc<Server<S>>>) -> Self {
        let server = Arc::new(Server {
            disk: Disk::new(),
            faults: Faults::default(),
            url: OnceLock::new(),
            state: Mutex::new(S::default()),
        });
        let url = serve(routes, server.clone()).await;
        let _ = server.url.set(url);
        Fake { server }
    }

    /// The key the fake accepts.
    pub fn api_key(&self) -> &'static str {
        S::API_KEY
    }
}

impl<S> Fake<S> {
    /// The fake's base URL.
    pub fn url(&self) -> String {
        self.server.url().to_owned()
    }

    /// A fresh directory for one sandbox's files.
    pub fn new_workdir(&self) -> String {
        self.server.disk.new_workdir()
    }

    /// Fault injection and request counts.
    pub fn faults(&self) -> &Faults {
        &self.server.faults
    }

    /// The provider's state, locked (for the provider's own counts).
    pub fn state(&self) -> MutexGuard<'_, S> {
        self.server.state()
    }
}
