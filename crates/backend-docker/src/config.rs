//! The settings of a sandbox container: plain data and its checks.

use std::collections::BTreeMap;

use backend_core::{Error, Operation, Result};

/// Default work directory inside the container (the virtual `/`).
pub const DEFAULT_WORK_DIR: &str = "/workspace";
/// Default user commands run as.
pub const DEFAULT_USER: &str = "1000:1000";
/// The user of the container's idle main process: a different user from the
/// one commands run as, so that a command cannot kill it (and the container).
pub const DEFAULT_KEEPALIVE_USER: &str = "65534:65534";

/// The resource limits and isolation settings of a sandbox container.
///
/// The defaults are the hardened ones of `docs/semantics.md`: no network, 512 MiB of
/// memory without extra swap, one CPU, 256 processes, every capability
/// dropped, no-new-privileges, a read-only root filesystem with the work
/// directory on a volume and a 64 MiB `/tmp`, a non-root user and an init
/// process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// The image to run.
    pub image: String,
    /// Whether the container gets a network (`false`: network mode `none`).
    pub network: bool,
    /// Memory limit in bytes.
    pub memory_bytes: i64,
    /// Swap allowed on top of the memory limit, in bytes.
    pub extra_swap_bytes: i64,
    /// CPU quota in billionths of a CPU.
    pub nano_cpus: i64,
    /// Most processes (and threads) alive at once.
    pub pids_limit: i64,
    /// Capabilities kept; all others are dropped.
    pub cap_add: Vec<String>,
    /// Whether processes may gain privileges (setuid binaries).
    pub no_new_privileges: bool,
    /// Whether the root filesystem is read-only.
    pub read_only_root: bool,
    /// The directory holding the virtual `/`; a fresh volume is mounted there.
    pub work_dir: String,
    /// Size of the tmpfs mounted at `/tmp`, in bytes.
    pub tmp_bytes: u64,
    /// The user (`uid:gid`) commands run as.
    pub user: String,
    /// The user of the idle main process.
    pub keepalive_user: String,
    /// Whether an init process reaps orphans (`--init`).
    pub init: bool,
    /// The OCI runtime, e.g. `runsc` for gVisor; the engine's default if unset.
    pub runtime: Option<String>,
    /// Extra labels on the container and its volume.
    pub labels: BTreeMap<String, String>,
    /// Environment every command starts with (besides `PATH` and `HOME`).
    pub env: BTreeMap<String, String>,
}

impl SandboxConfig {
    /// The hardened defaults for `image`.
    pub fn new(image: impl Into<String>) -> Self {
        SandboxConfig {
            image: image.into(),
            network: false,
            memory_bytes: 512 * 1024 * 1024,
            extra_swap_bytes: 0,
            nano_cpus: 1_000_000_000,
            pids_limit: 256,
            cap_add: Vec::new(),
            no_new_privileges: true,
            read_only_root: true,
            work_dir: DEFAULT_WORK_DIR.to_owned(),
            tmp_bytes: 64 * 1024 * 1024,
            user: DEFAULT_USER.to_owned(),
            keepalive_user: DEFAULT_KEEPALIVE_USER.to_owned(),
            init: true,
            runtime: None,
            labels: BTreeMap::new(),
            env: BTreeMap::new(),
        }
    }

    /// The numeric uid and gid of [`user`](Self::user), for file ownership.
    pub(crate) fn numeric_user(&self) -> Option<(u64, u64)> {
        let (uid, gid) = self
            .user
            .split_once(':')
            .unwrap_or((&self.user, &self.user));
        Some((uid.parse().ok()?, gid.parse().ok()?))
    }

    /// Refuses settings a container cannot be made with.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::invalid_argument(why).with_operation(Operation::Create));
        if self.image.trim().is_empty() {
            return bad("the image name is empty".into());
        }
        if !self.work_dir.starts_with('/') || self.work_dir == "/" || self.work_dir.contains("..") {
            return bad(format!(
                "work_dir {:?} must be an absolute directory other than /",
                self.work_dir
            ));
        }
        if self.numeric_user().is_none() {
            return bad(format!(
                "user {:?} must be numeric `uid:gid` (files are written with that owner)",
                self.user
            ));
        }
        if self.memory_bytes < 6 * 1024 * 1024 || self.pids_limit < 8 || self.nano_cpus <= 0 {
            return bad("memory (≥ 6 MiB), pids (≥ 8) and CPU limits must be positive".into());
        }
        Ok(())
    }
}
