//! What a case works on: the backend under test and a private root directory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use backend_core::{Backend, Capabilities, ErrorKind, Sandbox};

/// The thing under test, as a factory hands it to the suite.
///
/// Build one with [`Subject::backend`] for a file store or
/// [`Subject::sandbox`] for something that also runs commands.
#[derive(Clone)]
pub struct Subject {
    backend: Arc<dyn Backend>,
    sandbox: Option<Arc<dyn Sandbox>>,
}

impl Subject {
    /// A backend that stores files only.
    pub fn backend(backend: Arc<dyn Backend>) -> Self {
        Subject {
            backend,
            sandbox: None,
        }
    }

    /// A sandbox: its files are checked like any backend's, and its commands
    /// by the `exec` cases. The suite calls [`Sandbox::close`] after each case.
    pub fn sandbox(sandbox: Arc<dyn Sandbox>) -> Self {
        Subject {
            backend: sandbox.clone(),
            sandbox: Some(sandbox),
        }
    }

    /// What the subject declares it can do.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }
}

/// One case's view of the subject: the backend, the sandbox when there is
/// one, and a fresh random root directory that only this case uses.
///
/// Cases create everything under [`Fixture::root`] (see [`Fixture::path`]);
/// the runner deletes the root afterwards.
#[derive(Clone)]
pub struct Fixture {
    /// The backend under test.
    pub backend: Arc<dyn Backend>,
    /// The same object as a sandbox, when the subject is one.
    pub sandbox: Option<Arc<dyn Sandbox>>,
    root: String,
}

impl Fixture {
    /// A fixture with a new random root on `subject`.
    pub fn new(subject: Subject) -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Fixture {
            backend: subject.backend,
            sandbox: subject.sandbox,
            root: format!("/conformance-{:016x}", hasher.finish()),
        }
    }

    /// The case's root directory, e.g. `/conformance-1f2e3d4c5b6a7988`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// `relative` under the case's root: `fx.path("a/b.txt")` is
    /// `/<root>/a/b.txt`. An empty `relative` gives the root itself.
    pub fn path(&self, relative: &str) -> String {
        let relative = relative.trim_start_matches('/');
        if relative.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{relative}", self.root)
        }
    }

    /// The part of a virtual path below the case's root (`/<root>/a/b` →
    /// `a/b`), so that results can be compared with fixed expectations.
    /// A path outside the root is returned whole, prefixed with `!outside:`,
    /// so that it never equals an expectation.
    pub fn rel(&self, path: impl AsRef<str>) -> String {
        let path = path.as_ref();
        match path.strip_prefix(&self.root) {
            Some("") => String::new(),
            Some(rest) if rest.starts_with('/') => rest[1..].to_owned(),
            _ => format!("!outside:{path}"),
        }
    }

    /// What the backend declares it can do.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// The sandbox; fails the case when the subject is not one (a backend
    /// that declares `execute` must be handed over with [`Subject::sandbox`]).
    pub fn sandbox(&self) -> &dyn Sandbox {
        match &self.sandbox {
            Some(sandbox) => sandbox.as_ref(),
            None => panic!(
                "the backend declares the `execute` capability but the factory returned \
                 Subject::backend; return Subject::sandbox so that commands can be checked"
            ),
        }
    }

    /// Writes `content` to `relative` under the root, failing the case if the
    /// write fails (setup, not the behaviour under test).
    pub async fn put(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.path(relative);
        if let Err(e) = self.backend.write(&path, content.as_ref().to_vec()).await {
            panic!("semantics.md write (setting up the case): write({path}) failed: {e}");
        }
    }

    /// Reads `relative` under the root as bytes, failing the case on error.
    pub async fn get(&self, relative: &str) -> Vec<u8> {
        let path = self.path(relative);
        match self.backend.read_bytes(&path).await {
            Ok(bytes) => bytes,
            Err(e) => {
                panic!("semantics.md read_bytes: {path} should exist and read back, but: {e}")
            }
        }
    }

    /// Reads `relative` under the root as (lossy) text, failing the case on error.
    pub async fn get_text(&self, relative: &str) -> String {
        String::from_utf8_lossy(&self.get(relative).await).into_owned()
    }

    /// Closes the sandbox, if any, without touching files (for cases that
    /// were skipped before they ran).
    pub async fn close_only(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(sandbox) = &self.sandbox
            && let Err(e) = sandbox.close().await
        {
            problems.push(format!("closing sandbox {}: {e}", sandbox.id()));
        }
        problems
    }

    /// Deletes the root and closes the sandbox. Called by the runner after
    /// each case, whether it passed or not; errors are reported, not raised.
    pub async fn cleanup(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match self.backend.delete(&self.root, true).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::FileNotFound => {}
            Err(e) => problems.push(format!("deleting the case root {}: {e}", self.root)),
        }
        if let Some(sandbox) = &self.sandbox
            && let Err(e) = sandbox.close().await
        {
            problems.push(format!("closing sandbox {}: {e}", sandbox.id()));
        }
        problems
    }
}
