//! What a provider must offer ([`Remote`]): a few primitives on absolute
//! paths inside the sandbox, and a way to start a shell line. Everything
//! else (the semantics of docs/semantics.md) is built on them once, in
//! [`super::files`] and [`super::exec`].

use std::pin::Pin;
use std::time::{Duration, SystemTime};

use backend_core::{Error, Result};
use futures::Stream;
use futures::future::BoxFuture;

/// One directory entry as a provider reports it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The name (or, from a walk, the path relative to the walked directory).
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) is_symlink: bool,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// An event of a running command, before caps and deadlines are applied.
#[derive(Debug)]
pub(crate) enum RawEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// The events of a started command.
pub(crate) type RawStream = Pin<Box<dyn Stream<Item = Result<RawEvent>> + Send>>;

/// Kills a started command (best effort; errors are logged).
pub(crate) type Killer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// A command the provider has accepted.
pub(crate) struct Running {
    pub(crate) events: RawStream,
    pub(crate) kill: Killer,
}

/// What a provider must offer. Paths are absolute paths inside the sandbox.
#[async_trait::async_trait]
pub(crate) trait Remote: Send + Sync + 'static {
    /// The provider's name, for messages.
    fn provider(&self) -> &'static str;
    /// The sandbox id.
    fn sandbox_id(&self) -> &str;
    /// Whether commands stream their output as it comes.
    fn streams_output(&self) -> bool;
    /// Starts `sh -c line`; `timeout` is the caller's deadline (the caller
    /// also kills at it; providers pass it on where the API takes one).
    async fn start(&self, line: String, timeout: Duration) -> Result<Running>;
    /// A file's bytes; `file_not_found` when missing.
    async fn read_file(&self, abs: &str) -> Result<Vec<u8>>;
    /// Creates or replaces a file.
    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()>;
    /// Facts about a path; `None` when nothing is there.
    async fn stat(&self, abs: &str) -> Result<Option<Entry>>;
    /// The direct children of a directory.
    async fn list_dir(&self, abs: &str) -> Result<Vec<Entry>>;
    /// Creates a directory and its parents.
    async fn make_dir(&self, abs: &str) -> Result<()>;
    /// Removes a file or a whole directory tree.
    async fn remove(&self, abs: &str) -> Result<()>;
    /// Removes the sandbox itself; already gone counts as done.
    async fn destroy(&self) -> Result<()>;
    /// Sets the sandbox to expire `lifetime` from now, where the provider
    /// can (E2B).
    async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        let _ = lifetime;
        Err(Error::unsupported(format!(
            "changing the lifetime of a running {} sandbox",
            self.provider()
        )))
    }
}
