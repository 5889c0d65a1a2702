//! Files and sandboxes for AI agents, in one dependency.
//!
//! This crate gathers the backends of the workspace behind cargo features and
//! makes any of them from a location string or a config, so that an
//! application (or the MCP server) lets its user pick where an agent's files
//! live and where its commands run:
//!
//! | Feature | Backend | Location |
//! |---|---|---|
//! | `state` (default) | in memory ([`StateBackend`]) | `state://` |
//! | `local` | a host directory | `file:///srv/ws` |
//! | `local-exec` | a host directory that runs commands (not isolation) | `file:///srv/ws?exec=true` |
//! | `composite` | routes by path prefix | a table with `default` and `routes` |
//! | `docker` | a hardened container | `docker://python:3.12-slim?memory=512m&cpus=1` |
//! | `s3` | S3 or a compatible store | `s3://bucket/prefix?endpoint=...&region=...` |
//! | `e2b`, `daytona`, `runloop`, `modal` | remote sandboxes | `e2b://TEMPLATE`, ... |
//! | `full` | all of the above | |
//!
//! The traits and types every backend shares are re-exported from
//! `backend-core` at the top level ([`Backend`], [`Sandbox`], [`Error`], ...);
//! each backend crate is re-exported under its feature (`agent_backend::state`,
//! `agent_backend::composite`, ...). [`BackendSpec`] parses a location or a
//! config whatever features are on, and [`BackendSpec::build`] makes the
//! backend, failing with `unsupported` and the name of the missing feature
//! when its scheme is compiled out.
//!
//! # Example
//! ```
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! # block_on(async {
//! use agent_backend::{BackendExt, BackendSpec, open};
//!
//! let built = open("state://?quota=64m").await?;
//! built.backend().write_str("/notes.md", "remember this\n").await?;
//! assert!(built.sandbox().is_none());
//!
//! // A composite from TOML (needs the `composite` and `local` features to build).
//! let spec = BackendSpec::from_toml(r#"
//!     default = "state://"
//!     [routes]
//!     "/memories/" = "file:///srv/memories"
//! "#)?;
//! assert_eq!(spec.scheme(), "composite");
//! # Ok::<(), agent_backend::Error>(())
//! # });
//! ```

mod open;
mod params;
mod spec;

pub use backend_core;
pub use backend_core::*;

/// Layers over any backend or sandbox: read-only, tracing, deadlines, byte
/// caps, read retries.
pub use backend_layers as layers;
pub use backend_layers::LayerExt;
/// Warm pools and per-key sessions for any sandbox.
pub use backend_pool as pool;
pub use backend_pool::{FnFactory, SandboxFactory};

pub use open::{BuildFuture, BuiltBackend, open};
pub use spec::{
    BackendSpec, CompositeSpec, DockerSpec, LocalSpec, Provider, RemoteSpec, S3Spec, SCHEMES,
    StateSpec,
};

/// The in-memory backend (feature `state`).
#[cfg(feature = "state")]
pub use backend_state as state;
#[cfg(feature = "state")]
pub use backend_state::StateBackend;

/// The host-directory backend (feature `local`; `LocalSandbox` with `local-exec`).
#[cfg(feature = "local")]
pub use backend_local as local;
#[cfg(feature = "local")]
pub use backend_local::LocalBackend;
#[cfg(feature = "local-exec")]
pub use backend_local::LocalSandbox;

/// The prefix router (feature `composite`).
#[cfg(feature = "composite")]
pub use backend_composite as composite;
#[cfg(feature = "composite")]
pub use backend_composite::CompositeBackend;

/// Containers (feature `docker`).
#[cfg(feature = "docker")]
pub use backend_docker as docker;

/// S3 and compatible stores (feature `s3`).
#[cfg(feature = "s3")]
pub use backend_s3 as s3;
#[cfg(feature = "s3")]
pub use backend_s3::S3Backend;

/// Remote sandboxes (features `e2b`, `daytona`, `runloop`, `modal`).
#[cfg(any(
    feature = "e2b",
    feature = "daytona",
    feature = "runloop",
    feature = "modal"
))]
pub use backend_remote as remote;
