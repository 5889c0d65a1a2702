//! The one forwarding mechanism for wrappers: layers, routers and sandboxes
//! that delegate their file operations to another backend.
//!
//! A wrapper implements [`ForwardBackend`] (and [`ForwardSandbox`] when it
//! can run commands), names the inner backend, and overrides only what it
//! changes. The blanket implementations below turn those into [`Backend`]
//! and [`Sandbox`], and they are checked with
//! `#[deny(clippy::missing_trait_methods)]`: every method, including the
//! provided `read`, `upload_files`, `download_files` and `execute`, goes to
//! the inner backend's own version, so a wrapper never silently falls back
//! to a slower default.
//!
//! # Example
//! ```
//! use backend_core::{async_trait, Backend, Error, ErrorKind, ForwardBackend, Result};
//!
//! /// Refuses deletes and forwards everything else.
//! struct NoDelete<B>(B);
//!
//! #[async_trait]
//! impl<B: Backend> ForwardBackend for NoDelete<B> {
//!     type Inner = B;
//!     fn inner(&self) -> &B {
//!         &self.0
//!     }
//!     async fn delete(&self, path: &str, _recursive: bool) -> Result<()> {
//!         Err(Error::new(ErrorKind::PermissionDenied, "deletes are off").with_path(path))
//!     }
//! }
//! ```
//!
//! # Notes
//! A type gets `Backend` either from this blanket implementation or from an
//! `impl Backend` of its own, never both. The method names are the same as
//! the traits' so that an override reads like the method it replaces; call
//! sites that import both traits must name the one they mean.

use async_trait::async_trait;

use crate::backend::{Backend, Sandbox};
use crate::error::Result;
use crate::exec::{ExecOutput, ExecRequest, ExecStream};
use crate::types::{
    Capabilities, DownloadResult, EditResult, FileInfo, FileUpload, GlobRequest, GlobResult,
    GrepRequest, GrepResult, ReadResult, UploadResult,
};

/// A backend that delegates to [`inner`](Self::inner) unless a method is
/// overridden. Every type implementing it is a [`Backend`].
#[async_trait]
pub trait ForwardBackend: Send + Sync {
    /// The backend calls are forwarded to.
    type Inner: Backend + ?Sized;

    /// The backend calls are forwarded to.
    fn inner(&self) -> &Self::Inner;

    /// See [`Backend::capabilities`].
    fn capabilities(&self) -> Capabilities {
        self.inner().capabilities()
    }

    /// See [`Backend::ls`].
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.inner().ls(path).await
    }

    /// See [`Backend::stat`].
    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.inner().stat(path).await
    }

    /// See [`Backend::read_bytes`].
    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.inner().read_bytes(path).await
    }

    /// See [`Backend::write`].
    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        self.inner().write(path, content).await
    }

    /// See [`Backend::edit`].
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        self.inner().edit(path, old, new, replace_all).await
    }

    /// See [`Backend::delete`].
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        self.inner().delete(path, recursive).await
    }

    /// See [`Backend::glob`].
    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        self.inner().glob(request).await
    }

    /// See [`Backend::grep`].
    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        self.inner().grep(request).await
    }

    /// See [`Backend::read`].
    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        self.inner().read(path, offset, limit).await
    }

    /// See [`Backend::upload_files`].
    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        self.inner().upload_files(files).await
    }

    /// See [`Backend::download_files`].
    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        self.inner().download_files(paths).await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: ForwardBackend> Backend for T {
    fn capabilities(&self) -> Capabilities {
        ForwardBackend::capabilities(self)
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        ForwardBackend::ls(self, path).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        ForwardBackend::stat(self, path).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        ForwardBackend::read_bytes(self, path).await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        ForwardBackend::write(self, path, content).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        ForwardBackend::edit(self, path, old, new, replace_all).await
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        ForwardBackend::delete(self, path, recursive).await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        ForwardBackend::glob(self, request).await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        ForwardBackend::grep(self, request).await
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        ForwardBackend::read(self, path, offset, limit).await
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        ForwardBackend::upload_files(self, files).await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        ForwardBackend::download_files(self, paths).await
    }
}

/// A sandbox that runs commands in [`inner_sandbox`](Self::inner_sandbox)
/// unless a method is overridden. Every type implementing it (and
/// [`Backend`], directly or through [`ForwardBackend`]) is a [`Sandbox`].
#[async_trait]
pub trait ForwardSandbox: Backend {
    /// The sandbox commands are forwarded to.
    type InnerSandbox: Sandbox + ?Sized;

    /// The sandbox commands are forwarded to.
    fn inner_sandbox(&self) -> &Self::InnerSandbox;

    /// See [`Sandbox::id`].
    fn id(&self) -> &str {
        self.inner_sandbox().id()
    }

    /// See [`Sandbox::execute_stream`].
    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.inner_sandbox().execute_stream(request).await
    }

    /// See [`Sandbox::execute`].
    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        self.inner_sandbox().execute(request).await
    }

    /// See [`Sandbox::close`].
    async fn close(&self) -> Result<()> {
        self.inner_sandbox().close().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: ForwardSandbox> Sandbox for T {
    fn id(&self) -> &str {
        ForwardSandbox::id(self)
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        ForwardSandbox::execute_stream(self, request).await
    }

    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        ForwardSandbox::execute(self, request).await
    }

    async fn close(&self) -> Result<()> {
        ForwardSandbox::close(self).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::{Error, ErrorKind};

    /// Counts which methods reach it; everything else is unsupported.
    #[derive(Default)]
    struct Probe {
        reads: AtomicUsize,
        uploads: AtomicUsize,
    }

    #[async_trait]
    impl Backend for Probe {
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn ls(&self, _: &str) -> Result<Vec<FileInfo>> {
            Err(Error::unsupported("ls"))
        }
        async fn stat(&self, _: &str) -> Result<FileInfo> {
            Err(Error::unsupported("stat"))
        }
        async fn read_bytes(&self, _: &str) -> Result<Vec<u8>> {
            Ok(b"bytes".to_vec())
        }
        async fn write(&self, _: &str, _: Vec<u8>) -> Result<()> {
            Ok(())
        }
        async fn edit(&self, _: &str, _: &str, _: &str, _: bool) -> Result<EditResult> {
            Err(Error::unsupported("edit"))
        }
        async fn delete(&self, _: &str, _: bool) -> Result<()> {
            Ok(())
        }
        async fn glob(&self, _: &GlobRequest) -> Result<GlobResult> {
            Err(Error::unsupported("glob"))
        }
        async fn grep(&self, _: &GrepRequest) -> Result<GrepResult> {
            Err(Error::unsupported("grep"))
        }
        async fn read(&self, path: &str, _: usize, _: usize) -> Result<ReadResult> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            crate::text::page(path, b"own read\n", 0, 10)
        }
        async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
            self.uploads.fetch_add(1, Ordering::SeqCst);
            files
                .into_iter()
                .map(|f| UploadResult::new(f.path, Ok(())))
                .collect()
        }
    }

    struct NoDelete(Arc<Probe>);

    #[async_trait]
    impl ForwardBackend for NoDelete {
        type Inner = Probe;
        fn inner(&self) -> &Probe {
            &self.0
        }
        async fn delete(&self, path: &str, _recursive: bool) -> Result<()> {
            Err(Error::new(ErrorKind::PermissionDenied, "no deletes").with_path(path))
        }
    }

    #[tokio::test]
    async fn provided_methods_reach_the_inner_override() {
        let probe = Arc::new(Probe::default());
        let wrapper: Arc<dyn Backend> = Arc::new(NoDelete(probe.clone()));
        let page = wrapper.read("/a", 0, 10).await.expect("read");
        assert_eq!(page.content, "own read\n");
        wrapper
            .upload_files(vec![FileUpload::new("/a", b"x".to_vec())])
            .await;
        assert_eq!(probe.reads.load(Ordering::SeqCst), 1);
        assert_eq!(probe.uploads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn overridden_methods_do_not_reach_the_inner_backend() {
        let wrapper = NoDelete(Arc::new(Probe::default()));
        let err = Backend::delete(&wrapper, "/a", false)
            .await
            .expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(
            Backend::read_bytes(&wrapper, "/a").await.expect("read"),
            b"bytes"
        );
    }
}
