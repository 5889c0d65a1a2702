//! An agent backend over a real directory on the host.
//!
//! [`LocalBackend`] maps the virtual `/` onto one directory and keeps every
//! operation inside it: paths are resolved beneath a directory file
//! descriptor (`openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, or an
//! `O_NOFOLLOW` walk where that is unavailable), so neither `..`, nor a
//! symlink, nor a symlink swapped in mid-operation reaches outside. Symlinks
//! that stay inside the root work; ones that leave it give
//! `permission_denied`. Writes go to a temporary file in the same directory
//! and are renamed into place, so a reader sees the old or the new content
//! (the temporary file of a writer killed mid-way is never listed, globbed
//! or grepped, and opening the root removes it); replacing a file drops its
//! setuid and setgid bits;
//! `edit` is serialised per file and refuses (`conflict`) when the file
//! changed on disk between its read and its write. `glob` and `grep` run in
//! process (the `ignore` walker, `grep-searcher`), with the rules of
//! `backend_core`. Names on disk that are not valid virtual paths (control
//! characters, a backslash) are shown escaped in results, never raw. An
//! optional byte quota ([`LocalOptions::quota_bytes`]) refuses writes that
//! would pass it with `quota_exceeded`.
//!
//! [`LocalBackend::overlay`] keeps writes and deletes in memory over a
//! read-only view of the directory until [`LocalBackend::commit`].
//!
//! With the `local-exec` feature, `LocalSandbox` also runs commands on the
//! host in the root directory. That is a convenience for trusted code and
//! development, **not isolation**: use the Docker backend for untrusted code.
//!
//! # Example
//! ```
//! use backend_core::{Backend, BackendExt, GrepRequest};
//! use backend_local::LocalBackend;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> backend_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let backend = LocalBackend::new(dir.path())?;
//! backend.write_str("/src/main.rs", "fn main() {}\n").await?;
//! let hits = backend.grep(&GrepRequest::new("main")).await?;
//! assert_eq!(hits.matches[0].path, "/src/main.rs");
//! assert_eq!(backend.read("/../etc/passwd", 0, 10).await.unwrap_err().code(), "invalid_path");
//! # Ok(())
//! # }
//! ```

mod backend;
mod disk;
mod error;
mod name;
mod overlay;
mod quota;
mod root;
#[cfg(feature = "local-exec")]
mod sandbox;
mod search;
#[cfg(feature = "local-exec")]
mod supervisor;
mod temp;

pub use backend::{LocalBackend, LocalOptions};
pub use overlay::Change;
#[cfg(feature = "local-exec")]
pub use sandbox::{DEFAULT_PATH, LocalSandbox, Rlimits, SandboxOptions};
