//! Docker sandboxes for agents: each [`DockerSandbox`] is one hardened
//! container (no network, memory/CPU/process limits, no capabilities,
//! read-only root, non-root user) whose work directory holds the agent's
//! files and where its commands run. [`SandboxPool`] keeps sandboxes warm;
//! [`SessionManager`] gives each user or session its own (both are
//! `backend-pool`'s, with the builder as their factory and its fast reset); [`reap`]
//! removes what a crashed process left behind.
//!
//! Talks to the engine with bollard, negotiating the API version. Images
//! need only a POSIX shell and busybox-style utilities (see
//! [`DockerSandbox`] for the list). For tests, `cargo xtask docker-up &&
//! cargo xtask docker-image` starts an engine and builds
//! `agent-backend-test:busybox` without a registry.
//!
//! # Example
//! ```no_run
//! use backend_core::{BackendExt, ExecRequest, Sandbox};
//! use backend_docker::DockerSandbox;
//!
//! # async fn demo() -> backend_core::Result<()> {
//! let sandbox = DockerSandbox::builder("agent-backend-test:busybox").build().await?;
//! sandbox.write_str("/hello.txt", "hi\n").await?;
//! let out = sandbox.execute(ExecRequest::new("cat hello.txt")).await?;
//! assert_eq!(out.stdout_text(), "hi\n");
//! sandbox.close().await?;
//! # Ok(()) }
//! ```

mod backend;
mod builder;
mod config;
mod engine;
mod error;
mod exec;
mod factory;
mod files;
mod reap;
mod rename_shell;
mod sandbox;

pub use builder::DockerSandboxBuilder;
pub use config::{DEFAULT_KEEPALIVE_USER, DEFAULT_USER, DEFAULT_WORK_DIR, SandboxConfig};
pub use engine::connect;
pub use factory::{SandboxPool, SessionManager, SessionManagerBuilder};
pub use reap::{
    LABEL_MANAGED, LABEL_OWNER_HOST, LABEL_OWNER_PID, LABEL_OWNER_START, LABEL_SESSION, ReapReport,
    reap,
};
pub use sandbox::DockerSandbox;

/// Re-exported so callers can pass their own engine connection.
pub use bollard::Docker;
