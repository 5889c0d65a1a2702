//! Remote sandboxes as agent backends: E2B, Daytona and Runloop over HTTP
//! (reqwest), and Modal over gRPC (tonic; experimental, since Modal calls
//! its API unstable), each behind its own cargo feature, so a user builds
//! only the provider they pay for. Every sandbox implements [`backend_core::Sandbox`]
//! with the semantics of SPEC.md (files, edit, glob, grep, execution), is
//! created from a config with a builder or `from_env()`, and is removed on
//! `close()`.
//!
//! # Example
//! ```no_run
//! # #[cfg(feature = "e2b")]
//! # async fn demo() -> backend_core::Result<()> {
//! use backend_core::{BackendExt, ExecRequest, Sandbox};
//! use backend_remote::e2b::{E2bConfig, E2bSandbox};
//!
//! let sandbox = E2bSandbox::create(E2bConfig::from_env()?.template("base")).await?;
//! sandbox.write_str("/hello.txt", "hi\n").await?;
//! let out = sandbox.execute(ExecRequest::new("cat hello.txt")).await?;
//! assert_eq!(out.stdout_text(), "hi\n");
//! sandbox.close().await?;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "http-client")]
pub mod http;

#[cfg(feature = "e2b")]
pub mod e2b;

#[cfg(feature = "daytona")]
pub mod daytona;

#[cfg(feature = "runloop")]
pub mod runloop;

#[cfg(feature = "modal")]
pub mod modal;
