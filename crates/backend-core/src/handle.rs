//! [`BackendHandle`]: a backend, and the same object as a sandbox when it
//! runs commands.

use std::fmt;
use std::sync::Arc;

use crate::backend::{Backend, Sandbox};
use crate::error::Result;

/// A shared backend together with its sandbox view, when it has one.
///
/// Code that serves files and, when it can, commands (a tool set, a router
/// route, a server) holds one of these instead of an
/// `(Arc<dyn Backend>, Option<Arc<dyn Sandbox>>)` pair.
///
/// When `sandbox` is set it is the same object as `backend`; build handles
/// with [`from_backend`](Self::from_backend) and
/// [`from_sandbox`](Self::from_sandbox) to keep it so.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use backend_core::{Backend, BackendHandle, Sandbox};
///
/// fn describe(handle: &BackendHandle) -> &'static str {
///     if handle.sandbox().is_some() { "files and commands" } else { "files only" }
/// }
/// # fn wrap(store: Arc<dyn Backend>, sandbox: Arc<dyn Sandbox>) {
/// assert_eq!(describe(&BackendHandle::from_backend(store)), "files only");
/// assert_eq!(describe(&BackendHandle::from_sandbox(sandbox)), "files and commands");
/// # }
/// # let _ = wrap;
/// ```
#[derive(Clone)]
pub struct BackendHandle {
    /// The files.
    pub backend: Arc<dyn Backend>,
    /// The same object as a sandbox, when it runs commands.
    pub sandbox: Option<Arc<dyn Sandbox>>,
}

impl BackendHandle {
    /// A plain file store, running no commands.
    pub fn from_backend(backend: Arc<dyn Backend>) -> Self {
        BackendHandle {
            backend,
            sandbox: None,
        }
    }

    /// A sandbox; its files are the backend.
    pub fn from_sandbox(sandbox: Arc<dyn Sandbox>) -> Self {
        BackendHandle {
            backend: sandbox.clone(),
            sandbox: Some(sandbox),
        }
    }

    /// The files.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The same object as a sandbox, when it runs commands.
    pub fn sandbox(&self) -> Option<&Arc<dyn Sandbox>> {
        self.sandbox.as_ref()
    }

    /// Splits into the backend and the optional sandbox.
    pub fn into_parts(self) -> (Arc<dyn Backend>, Option<Arc<dyn Sandbox>>) {
        (self.backend, self.sandbox)
    }

    /// Closes the sandbox, if any; a plain backend holds nothing to release.
    pub async fn close(&self) -> Result<()> {
        match &self.sandbox {
            Some(sandbox) => sandbox.close().await,
            None => Ok(()),
        }
    }
}

impl From<Arc<dyn Backend>> for BackendHandle {
    fn from(backend: Arc<dyn Backend>) -> Self {
        BackendHandle::from_backend(backend)
    }
}

impl From<Arc<dyn Sandbox>> for BackendHandle {
    fn from(sandbox: Arc<dyn Sandbox>) -> Self {
        BackendHandle::from_sandbox(sandbox)
    }
}

impl fmt::Debug for BackendHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendHandle")
            .field("sandbox", &self.sandbox.as_ref().map(|s| s.id()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{ExecOutput, ExecRequest, ExecStream, ExitStatus};
    use crate::{
        Capabilities, EditResult, Error, FileInfo, GlobRequest, GlobResult, GrepRequest,
        GrepResult, async_trait,
    };
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A sandbox that records `close` and supports nothing else.
    #[derive(Default)]
    struct Probe {
        closed: AtomicBool,
    }

    #[async_trait]
    impl Backend for Probe {
        fn capabilities(&self) -> Capabilities {
            Capabilities {
                execute: true,
                ..Capabilities::default()
            }
        }
        async fn ls(&self, _: &str) -> Result<Vec<FileInfo>> {
            Err(Error::unsupported("ls"))
        }
        async fn stat(&self, _: &str) -> Result<FileInfo> {
            Err(Error::unsupported("stat"))
        }
        async fn read_bytes(&self, _: &str) -> Result<Vec<u8>> {
            Err(Error::unsupported("read"))
        }
        async fn write(&self, _: &str, _: Vec<u8>) -> Result<()> {
            Err(Error::unsupported("write"))
        }
        async fn edit(&self, _: &str, _: &str, _: &str, _: bool) -> Result<EditResult> {
            Err(Error::unsupported("edit"))
        }
        async fn delete(&self, _: &str, _: bool) -> Result<()> {
            Err(Error::unsupported("delete"))
        }
        async fn glob(&self, _: &GlobRequest) -> Result<GlobResult> {
            Err(Error::unsupported("glob"))
        }
        async fn grep(&self, _: &GrepRequest) -> Result<GrepResult> {
            Err(Error::unsupported("grep"))
        }
    }

    #[async_trait]
    impl Sandbox for Probe {
        fn id(&self) -> &str {
            "probe"
        }
        async fn execute_stream(&self, _: ExecRequest) -> Result<ExecStream> {
            let out = ExecOutput::new(Vec::new(), Vec::new(), ExitStatus::default());
            Ok(Box::pin(futures::stream::iter(
                out.into_events().into_iter().map(Ok),
            )))
        }
        async fn close(&self) -> Result<()> {
            self.closed.store(true, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn from_sandbox_points_both_fields_at_it() {
        let probe = Arc::new(Probe::default());
        let handle = BackendHandle::from_sandbox(probe.clone());
        let sandbox = handle.sandbox().expect("a sandbox handle has a sandbox");
        assert_eq!(sandbox.id(), "probe");
        assert!(handle.backend().capabilities().execute);
        assert_eq!(
            format!("{handle:?}"),
            "BackendHandle { sandbox: Some(\"probe\"), .. }"
        );
        handle.close().await.expect("close succeeds");
        assert!(probe.closed.load(Ordering::SeqCst));
        let (backend, sandbox) = handle.into_parts();
        assert!(sandbox.is_some());
        assert!(backend.capabilities().execute);
    }

    #[tokio::test]
    async fn from_backend_has_no_sandbox() {
        let store: Arc<dyn Backend> = Arc::new(Probe::default());
        let handle = BackendHandle::from(store);
        assert!(handle.sandbox().is_none());
        handle
            .close()
            .await
            .expect("closing a plain backend is a no-op");
        assert!(handle.into_parts().1.is_none());
    }
}
