//! Strict local fake servers of the remote sandbox providers' published
//! APIs (E2B, Daytona, Runloop), for tests of `backend-remote`.
//!
//! Each fake binds `127.0.0.1` on a random port, implements exactly the
//! endpoints the clients use as the specs in `provider-specs/` define them
//! (paths, methods, headers, JSON field names and types, status codes,
//! Connect framing), and answers requests that break the spec with the
//! provider's own error shape. Files live in a real temporary directory and
//! commands really run (`sh -c`, each in its own process group so a kill
//! ends the whole tree). Faults can be injected per route.
//!
//! # Example
//! ```no_run
//! # async fn demo() {
//! let fake = remote_fakes::e2b::FakeE2b::start().await;
//! let workdir = fake.new_workdir(); // a fresh directory for one sandbox's files
//! println!("API at {}, envd at {}, files under {workdir}", fake.api_url(), fake.envd_url());
//! # }
//! ```

// Handlers build ready-made error responses and pass them up with `?`.
#![allow(clippy::result_large_err)]

pub mod common;
pub mod daytona;
pub mod e2b;
pub mod modal;
pub mod runloop;

pub use common::{Fault, Faults};
