//! [`Operation`]: which backend call an error came from.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The operation an error came from.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// [`Backend::ls`](crate::Backend::ls).
    Ls,
    /// [`Backend::stat`](crate::Backend::stat).
    Stat,
    /// [`Backend::read`](crate::Backend::read).
    Read,
    /// [`Backend::read_bytes`](crate::Backend::read_bytes).
    ReadBytes,
    /// [`Backend::write`](crate::Backend::write).
    Write,
    /// [`Backend::edit`](crate::Backend::edit).
    Edit,
    /// [`Backend::delete`](crate::Backend::delete).
    Delete,
    /// [`Backend::glob`](crate::Backend::glob).
    Glob,
    /// [`Backend::grep`](crate::Backend::grep).
    Grep,
    /// [`Backend::upload_files`](crate::Backend::upload_files).
    Upload,
    /// [`Backend::download_files`](crate::Backend::download_files).
    Download,
    /// [`Sandbox::execute`](crate::Sandbox::execute) and its streaming form.
    Execute,
    /// Creating a backend or sandbox.
    Create,
    /// [`Sandbox::close`](crate::Sandbox::close).
    Close,
    /// Saving or restoring a backend's state.
    Snapshot,
    /// Anything else (configuration, pools, sessions).
    Other,
}

impl Operation {
    /// A short lowercase name, such as `read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Ls => "ls",
            Operation::Stat => "stat",
            Operation::Read => "read",
            Operation::ReadBytes => "read_bytes",
            Operation::Write => "write",
            Operation::Edit => "edit",
            Operation::Delete => "delete",
            Operation::Glob => "glob",
            Operation::Grep => "grep",
            Operation::Upload => "upload",
            Operation::Download => "download",
            Operation::Execute => "execute",
            Operation::Create => "create",
            Operation::Close => "close",
            Operation::Snapshot => "snapshot",
            Operation::Other => "other",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
