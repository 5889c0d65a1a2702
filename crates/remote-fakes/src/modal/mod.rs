//! A strict fake of Modal's gRPC API: the control plane
//! (`modal.client.ModalClient`: `AppGetOrCreate`, `ImageGetOrCreate`,
//! `ImageJoinStreaming`, `SandboxCreate`, `SandboxGetTaskId`,
//! `SandboxGetCommandRouterAccess`, `SandboxTerminate`) and a sandbox's task
//! command router (`modal.task_command_router.TaskCommandRouter`:
//! `TaskExecStart`, `TaskExecStdioRead`, `TaskExecWait`,
//! `TaskExecStdinWrite`), each on its own `127.0.0.1` port.
//!
//! Every control-plane call must carry `x-modal-token-id` and
//! `x-modal-token-secret` matching the fake's token; every router call must
//! carry `authorization: Bearer <jwt>` with a JWT the control plane issued
//! for that task. Calls that break the protos' rules get the gRPC status
//! Modal gives (`INVALID_ARGUMENT`, `NOT_FOUND`, `UNAUTHENTICATED`, ...);
//! any other method is `UNIMPLEMENTED`. Commands really run (`argv` as given,
//! each in its own process group) in a real temporary directory. The router
//! is reached through a TCP relay that a test can cut to simulate a dropped
//! connection.

mod api;
mod grpc;
pub mod proto;
mod proxy;
mod router;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::common::lock;
use tonic::Code;

pub use router::ExecRecord;

/// The token the fake accepts unless told otherwise.
pub const TOKEN_ID: &str = "ak-fake-modal-token";
/// The secret the fake accepts unless told otherwise.
pub const TOKEN_SECRET: &str = "as-fake-modal-secret";

/// A running fake; the servers stop when it is dropped.
pub struct FakeModal {
    shared: Arc<Shared>,
    api_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for FakeModal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeModal")
            .field("api", &self.api_addr)
            .finish_non_exhaustive()
    }
}

/// State shared by both services.
pub(crate) struct Shared {
    pub(crate) token_id: String,
    pub(crate) token_secret: String,
    pub(crate) base: tempfile::TempDir,
    pub(crate) router_url: String,
    pub(crate) state: Mutex<State>,
    faults: Mutex<HashMap<String, VecDeque<Code>>>,
    calls: Mutex<HashMap<String, u32>>,
    pub(crate) proxy: Arc<proxy::Relay>,
}

/// Apps, images, sandboxes and execs.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) counter: u64,
    /// (environment, name) -> app id.
    pub(crate) apps: HashMap<(String, String), String>,
    /// image id -> built.
    pub(crate) images: HashMap<String, bool>,
    /// recipe -> image id.
    pub(crate) recipes: HashMap<String, String>,
    pub(crate) sandboxes: HashMap<String, SandboxRecord>,
    /// task id -> sandbox id.
    pub(crate) tasks: HashMap<String, String>,
    pub(crate) execs: HashMap<String, Arc<ExecRecord>>,
}

impl State {
    pub(crate) fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!(
            "{prefix}-{}{:06}",
            uuid::Uuid::new_v4().simple(),
            self.counter
        )
    }
}

/// One sandbox.
pub(crate) struct SandboxRecord {
    pub(crate) task_id: String,
    pub(crate) workdir: PathBuf,
    pub(crate) env: HashMap<String, String>,
    pub(crate) terminated: bool,
    pub(crate) jwts: HashSet<String>,
}

impl Shared {
    /// Counts a call and returns the injected fault for it, if any.
    pub(crate) fn enter(&self, method: &str) -> Option<tonic::Status> {
        *lock(&self.calls).entry(method.to_owned()).or_default() += 1;
        let code = lock(&self.faults)
            .get_mut(method)
            .and_then(VecDeque::pop_front)?;
        Some(tonic::Status::new(
            code,
            format!("injected fault on {method}"),
        ))
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Ends a sandbox: kills its commands and removes its directory.
    pub(crate) fn terminate(&self, sandbox_id: &str) -> bool {
        let (execs, workdir) = {
            let mut state = self.lock();
            let Some(sandbox) = state.sandboxes.get_mut(sandbox_id) else {
                return false;
            };
            if sandbox.terminated {
                return true;
            }
            sandbox.terminated = true;
            sandbox.jwts.clear();
            let task_id = sandbox.task_id.clone();
            let workdir = sandbox.workdir.clone();
            let execs: Vec<_> = state
                .execs
                .values()
                .filter(|e| e.task_id == task_id)
                .cloned()
                .collect();
            (execs, workdir)
        };
        for exec in execs {
            exec.kill();
        }
        if workdir.starts_with(self.base.path()) {
            let _ = std::fs::remove_dir_all(&workdir);
        }
        true
    }
}

impl FakeModal {
    /// One fake for the whole test process, served by its own runtime so it
    /// outlives each test's runtime (tests get fresh sandboxes from it).
    pub fn shared() -> &'static FakeModal {
        static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, FakeModal)> =
            std::sync::OnceLock::new();
        let (_, fake) = SHARED.get_or_init(|| {
            std::thread::spawn(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("the Modal fake could not build its runtime: {e}"));
                let fake = runtime.block_on(FakeModal::start());
                (runtime, fake)
            })
            .join()
            .unwrap_or_else(|_| panic!("the Modal fake failed to start"))
        });
        fake
    }

    /// Starts both services and the relay in front of the router.
    pub async fn start() -> FakeModal {
        let api_listener = bind().await;
        let router_listener = bind().await;
        let api_addr = local(&api_listener);
        let router_addr = local(&router_listener);
        let (relay, relay_addr, relay_task) = proxy::Relay::start(router_addr).await;
        let shared = Arc::new(Shared {
            token_id: TOKEN_ID.to_owned(),
            token_secret: TOKEN_SECRET.to_owned(),
            base: tempfile::Builder::new()
                .prefix("fake-modal-")
                .tempdir()
                .unwrap_or_else(|e| {
                    panic!("the Modal fake could not create its temporary directory: {e}")
                }),
            router_url: format!("http://{relay_addr}"),
            state: Mutex::new(State::default()),
            faults: Mutex::new(HashMap::new()),
            calls: Mutex::new(HashMap::new()),
            proxy: relay,
        });
        let api = grpc::serve(api_listener, api::ApiService(shared.clone()));
        let router = grpc::serve(router_listener, router::RouterService(shared.clone()));
        FakeModal {
            shared,
            api_addr,
            tasks: vec![api, router, relay_task],
        }
    }

    /// The control-plane URL (`MODAL_SERVER_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The URL the control plane hands out for command routers (the relay).
    pub fn router_url(&self) -> &str {
        &self.shared.router_url
    }

    /// A fresh directory under the fake's root, for one sandbox's files
    /// (pass it as the sandbox's workdir / root dir).
    pub fn new_workdir(&self) -> String {
        let dir = self
            .shared
            .base
            .path()
            .join(format!("ws-{}", uuid::Uuid::new_v4().simple()));
        dir.to_string_lossy().into_owned()
    }

    /// The fake's root directory.
    pub fn root(&self) -> &Path {
        self.shared.base.path()
    }

    /// Makes the next `times` calls of `method` (short name, e.g.
    /// `SandboxCreate`) fail with `code` (after the metadata checks).
    pub fn inject(&self, method: &str, code: Code, times: u32) {
        let mut faults = lock(&self.shared.faults);
        let queue = faults.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(code, times as usize));
    }

    /// How many calls of `method` (short name) arrived, failed ones included.
    pub fn calls(&self, method: &str) -> u32 {
        lock(&self.shared.calls).get(method).copied().unwrap_or(0)
    }

    /// Sandboxes created and not terminated.
    pub fn live_sandboxes(&self) -> usize {
        self.shared
            .lock()
            .sandboxes
            .values()
            .filter(|s| !s.terminated)
            .count()
    }

    /// Every sandbox created so far (terminated ones included).
    pub fn created_sandboxes(&self) -> usize {
        self.shared.lock().sandboxes.len()
    }

    /// Drops every open router connection and refuses new ones, as when
    /// the network between client and worker goes away.
    pub fn cut_router(&self) {
        self.shared.proxy.cut();
    }

    /// Accepts router connections again after [`FakeModal::cut_router`].
    pub fn restore_router(&self) {
        self.shared.proxy.restore();
    }

    /// The execs started so far, in no particular order.
    pub fn execs(&self) -> Vec<Arc<ExecRecord>> {
        self.shared.lock().execs.values().cloned().collect()
    }
}

impl Drop for FakeModal {
    fn drop(&mut self) {
        let ids: Vec<String> = self.shared.lock().sandboxes.keys().cloned().collect();
        for id in ids {
            self.shared.terminate(&id);
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn bind() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("the Modal fake could not bind 127.0.0.1: {e}"))
}

fn local(listener: &tokio::net::TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("the Modal fake has no local address: {e}"))
}
