//! Warm pools and per-key sessions for any sandbox.
//!
//! A [`SandboxFactory`] says how to create, reset, health-check and destroy
//! one kind of sandbox. Given one, [`SandboxPool`] keeps sandboxes created
//! ahead of demand and resets them between holders, and [`SessionManager`]
//! gives each user or session key its own sandbox, removed after it has
//! been idle. Docker's sandbox builder is a factory with an in-place reset
//! (`backend_docker::SandboxPool` is a pool over it); any other sandbox gets one from a
//! closure with [`FnFactory`], whose reset is "destroy and create anew".
//!
//! # Example
//! ```no_run
//! # async fn demo() -> backend_core::Result<()> {
//! use backend_core::{ExecRequest, Sandbox};
//! use backend_local::LocalSandbox;
//! use backend_pool::{FnFactory, SandboxPool};
//!
//! let factory = FnFactory::new(|_session| async { LocalSandbox::temporary() });
//! let pool = SandboxPool::new(factory, 2).await?;
//! let sandbox = pool.acquire().await?;
//! sandbox.execute(ExecRequest::new("echo hi")).await?;
//! pool.release(sandbox).await;
//! pool.shutdown().await;
//! # Ok(()) }
//! ```

mod factory;
mod pool;
mod session;

pub use factory::{FnFactory, SandboxFactory};
pub use pool::{HEALTH_BYPASS, SandboxPool};
pub use session::{SessionManager, SessionManagerBuilder};
