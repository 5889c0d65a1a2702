//! Remote sandboxes as agent backends: E2B, Daytona and Runloop over HTTP
//! (reqwest), and Modal over gRPC (tonic; experimental, since Modal calls
//! its API unstable), each behind its own cargo feature, so a user builds
//! only the provider they pay for.
//!
//! Every provider is the same two types with a different parameter:
//! [`RemoteConfig<P>`] (the shared [`RemoteOptions`] plus the provider's own
//! settings; `E2bConfig` is `RemoteConfig<E2b>`) and [`RemoteSandbox<P>`],
//! which implements [`backend_core::Sandbox`] with the semantics of
//! docs/semantics.md (files, edit, glob, grep, execution), is created from a
//! config, and is removed on `close()`. A config is built with the setters,
//! from the provider's environment variables ([`RemoteConfig::from_env`]),
//! or from string keys ([`RemoteConfig::with_option`]: the shared
//! [`options::KEYS`] and each provider's own, listed in [`Provider::KEYS`]).
//!
//! # Example
//! ```no_run
//! # #[cfg(feature = "e2b")]
//! # async fn demo() -> backend_core::Result<()> {
//! use backend_core::{BackendExt, ExecRequest, Sandbox};
//! use backend_remote::e2b::{E2bConfig, E2bSandbox};
//!
//! let config = E2bConfig::from_env()?
//!     .template("base")
//!     .with_option("env.GREETING", "hi")?;
//! let sandbox = E2bSandbox::create(config).await?;
//! sandbox.write_str("/hello.txt", "hi\n").await?;
//! let out = sandbox.execute(ExecRequest::new("cat hello.txt")).await?;
//! assert_eq!(out.stdout_text(), "hi\n");
//! sandbox.close().await?;
//! # Ok(())
//! # }
//! ```

#![cfg_attr(
    not(any(
        feature = "e2b",
        feature = "daytona",
        feature = "runloop",
        feature = "modal"
    )),
    allow(dead_code, unused_imports)
)]

mod config;
pub mod options;
mod provider;
mod remote_sandbox;
mod sandbox;
mod secret;

#[cfg(feature = "http-client")]
mod http;

#[cfg(feature = "e2b")]
pub mod e2b;

#[cfg(feature = "daytona")]
pub mod daytona;

#[cfg(feature = "runloop")]
pub mod runloop;

#[cfg(feature = "modal")]
pub mod modal;

pub use backend_core::retry::RetryPolicy;
pub use config::RemoteConfig;
pub use options::{RemoteOptions, Timeouts};
pub use provider::{Defaults, Provider, Settings};
pub use remote_sandbox::RemoteSandbox;
pub use secret::ApiKey;
