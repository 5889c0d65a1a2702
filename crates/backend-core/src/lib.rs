//! The core of the agent backend layer: the [`Backend`] and [`Sandbox`]
//! traits, the types that cross them, the one [`Error`] type with stable
//! codes, [`VirtualPath`] (the path security gate), and the glob and grep
//! rules every backend shares.
//!
//! Backends live in sibling crates (`backend-state`, `backend-local`, ...);
//! the `backend-conformance` crate checks any implementation against the
//! semantics written down in `docs/semantics.md`.
//!
//! # Example
//! ```
//! use backend_core::{Backend, BackendExt, Error, VirtualPath};
//!
//! async fn show(backend: &dyn Backend) -> Result<(), Error> {
//!     backend.write_str("/notes/todo.md", "- ship it\n").await?;
//!     let page = backend.read("/notes/todo.md", 0, 100).await?;
//!     assert_eq!(page.content, "- ship it\n");
//!     Ok(())
//! }
//! # let _ = show;
//! # assert_eq!(VirtualPath::parse("notes//todo.md").unwrap().as_str(), "/notes/todo.md");
//! ```

mod backend;
mod error;
pub mod exec;
mod forward;
pub mod glob;
pub mod grep;
mod handle;
mod operation;
mod path;
pub mod retry;
pub mod sync;
pub mod text;
mod types;

pub use backend::{Backend, BackendExt, Sandbox};
pub use error::{Error, ErrorKind, KNOWN_CONTEXT_KEYS, Result};
pub use exec::{
    ExecEvent, ExecOutput, ExecRequest, ExecStream, ExitStatus, OutputBudget, OutputBudgets,
};
pub use forward::{ForwardBackend, ForwardSandbox};
pub use glob::GlobPattern;
pub use grep::{GrepCollector, GrepMatcher};
pub use handle::BackendHandle;
pub use operation::Operation;
pub use path::{MAX_PATH_BYTES, MAX_SEGMENT_BYTES, VirtualPath};
pub use sync::{KeyedLockGuard, KeyedLocks};
pub use types::{
    Capabilities, ContextLine, DEFAULT_GLOB_LIMIT, DEFAULT_MAX_LINE_CHARS, DEFAULT_READ_LIMIT,
    DownloadResult, EditResult, FileInfo, FileUpload, GlobRequest, GlobResult, GrepMatch,
    GrepRequest, GrepResult, ReadResult, UploadResult,
};

/// Re-exported so that implementors use the same `async_trait` as the traits.
pub use async_trait::async_trait;
