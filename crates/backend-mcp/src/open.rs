//! Turning backend and sandbox URLs into live objects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use backend_core::{Backend, Sandbox};
use backend_local::{LocalBackend, LocalSandbox};
use backend_state::StateBackend;

/// A backend, and the sandbox that runs commands when there is one.
#[derive(Clone)]
pub struct Opened {
    /// Where the file tools go.
    pub backend: Arc<dyn Backend>,
    /// Where `execute` goes.
    pub sandbox: Option<Arc<dyn Sandbox>>,
    /// A one-line description for logs.
    pub description: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Opens `backend` (`file://PATH`, a plain path, or `state://`) and, when
/// given, `sandbox` (`local`: commands on the host, in the backend's
/// directory, which must then be a `file://` one).
///
/// A local directory that does not exist is created.
pub async fn open(backend: &str, sandbox: Option<&str>) -> anyhow::Result<Opened> {
    let target = Target::parse(backend)?;
    match (target, sandbox) {
        (Target::State, None) => Ok(Opened {
            backend: Arc::new(StateBackend::new()),
            sandbox: None,
            description: "in-memory state backend (files vanish when the server stops)".into(),
        }),
        (Target::Dir(dir), None) => {
            let dir = ensure_dir(&dir)?;
            let local = LocalBackend::new(&dir)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("cannot open {}", dir.display()))?;
            Ok(Opened {
                backend: Arc::new(local),
                sandbox: None,
                description: format!("local directory {} (no command execution)", dir.display()),
            })
        }
        (target, Some(sandbox)) => match (SandboxKind::parse(sandbox)?, target) {
            (SandboxKind::Local, Target::Dir(dir)) => {
                let dir = ensure_dir(&dir)?;
                let local: Arc<dyn Sandbox> = Arc::new(
                    LocalSandbox::new(&dir)
                        .map_err(|e| anyhow::anyhow!("{e}"))
                        .with_context(|| format!("cannot open {}", dir.display()))?,
                );
                Ok(Opened {
                    backend: local.clone(),
                    sandbox: Some(local),
                    description: format!(
                        "local directory {} with commands run on the host (not isolated)",
                        dir.display()
                    ),
                })
            }
            (SandboxKind::Local, Target::State) => bail!(
                "the `local` sandbox runs commands in a directory, so it needs a file:// backend, not state://"
            ),
        },
    }
}

enum Target {
    State,
    Dir(PathBuf),
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        if url == "state://" || url == "state" {
            return Ok(Target::State);
        }
        if let Some(path) = url.strip_prefix("file://") {
            if path.is_empty() {
                bail!("file:// needs a directory, such as file://./workspace or file:///srv/agent");
            }
            return Ok(Target::Dir(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            bail!(
                "this build of agent-backend cannot open {scheme}:// backends; use file://PATH or state://"
            );
        }
        Ok(Target::Dir(PathBuf::from(url)))
    }
}

enum SandboxKind {
    Local,
}

impl SandboxKind {
    fn parse(url: &str) -> anyhow::Result<SandboxKind> {
        match url {
            "local" | "local://" => Ok(SandboxKind::Local),
            other => match other.split_once("://") {
                Some((scheme, _)) => bail!(
                    "this build of agent-backend cannot open {scheme}:// sandboxes; use `local` (commands on the host)"
                ),
                None => bail!("unknown sandbox {other:?}; use `local` (commands on the host)"),
            },
        }
    }
}

fn ensure_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the workspace directory {}", dir.display()))?;
    dir.canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))
}
