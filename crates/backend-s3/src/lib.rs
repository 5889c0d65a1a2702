//! An agent backend whose files are objects in an S3 bucket, for files that
//! outlive any machine: AWS S3 or any S3-compatible store (MinIO, Ceph, R2,
//! moto), through `aws-sdk-s3` on the same rustls stack as the rest of the
//! workspace.
//!
//! [`S3Backend`] maps each virtual path to a key under a prefix, lists
//! directories with delimiter listing, narrows `glob` and `grep` to the
//! pattern's literal prefix, fetches grep candidates concurrently, makes
//! `edit` a compare-and-swap on the ETag, uploads large files in parts, and
//! maps S3 errors to the kinds of `docs/semantics.md`.
//!
//! # Example
//! ```no_run
//! use backend_core::{Backend, BackendExt};
//! use backend_s3::{S3Backend, S3Config};
//!
//! # async fn run() -> backend_core::Result<()> {
//! let config = S3Config::new("agent-files")
//!     .prefix("users/42")
//!     .endpoint_url("http://127.0.0.1:9000")
//!     .region("us-east-1")
//!     .force_path_style(true);
//! let backend = S3Backend::connect(config).await?;
//! backend.write_str("/notes/todo.md", "- ship it\n").await?;
//! assert!(backend.capabilities().persistent);
//! # Ok(())
//! # }
//! ```

mod backend;
mod batch;
mod cache;
mod config;
mod edit;
mod error;
mod objects;
mod search;
mod store;

pub use backend::S3Backend;
pub use config::{
    CacheConfig, ConditionalWrites, DEFAULT_MULTIPART_THRESHOLD, MIN_PART_SIZE, S3Config,
};
