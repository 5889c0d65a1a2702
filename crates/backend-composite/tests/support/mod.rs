//! Backends the routing tests mount: one that always fails, and a sandbox
//! that records what it was asked to run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backend_core::{
    Backend, Capabilities, EditResult, Error, ErrorKind, ExecOutput, ExecRequest, ExecStream,
    ExitStatus, FileInfo, GlobRequest, GlobResult, GrepRequest, GrepResult, Result, Sandbox,
    async_trait,
};
use backend_state::StateBackend;

/// Names of listed entries, in order.
pub fn names(entries: &[FileInfo]) -> Vec<String> {
    entries.iter().map(|e| e.name().to_owned()).collect()
}

fn down() -> Error {
    Error::new(ErrorKind::Unavailable, "the store is down")
}

/// A backend whose every operation fails with `unavailable`, like a store
/// that cannot be reached.
pub struct FailingBackend;

#[async_trait]
impl Backend for FailingBackend {
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn ls(&self, _: &str) -> Result<Vec<FileInfo>> {
        Err(down())
    }
    async fn stat(&self, _: &str) -> Result<FileInfo> {
        Err(down())
    }
    async fn read_bytes(&self, _: &str) -> Result<Vec<u8>> {
        Err(down())
    }
    async fn write(&self, _: &str, _: Vec<u8>) -> Result<()> {
        Err(down())
    }
    async fn edit(&self, _: &str, _: &str, _: &str, _: bool) -> Result<EditResult> {
        Err(down())
    }
    async fn delete(&self, _: &str, _: bool) -> Result<()> {
        Err(down())
    }
    async fn glob(&self, _: &GlobRequest) -> Result<GlobResult> {
        Err(down())
    }
    async fn grep(&self, _: &GrepRequest) -> Result<GrepResult> {
        Err(down())
    }
}

/// A sandbox over an in-memory store whose commands echo `ran: <command>`.
pub struct FakeSandbox {
    id: String,
    files: StateBackend,
    closed: AtomicBool,
}

impl FakeSandbox {
    pub fn new(id: &str) -> Self {
        FakeSandbox {
            id: id.to_owned(),
            files: StateBackend::new(),
            closed: AtomicBool::new(false),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Backend for FakeSandbox {
    fn capabilities(&self) -> Capabilities {
        let mut caps = self.files.capabilities();
        caps.execute = true;
        caps
    }
    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.files.ls(path).await
    }
    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.files.stat(path).await
    }
    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.files.read_bytes(path).await
    }
    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        self.files.write(path, content).await
    }
    async fn edit(&self, path: &str, old: &str, new: &str, all: bool) -> Result<EditResult> {
        self.files.edit(path, old, new, all).await
    }
    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        self.files.delete(path, recursive).await
    }
    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        self.files.glob(request).await
    }
    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        self.files.grep(request).await
    }
}

#[async_trait]
impl Sandbox for FakeSandbox {
    fn id(&self) -> &str {
        &self.id
    }
    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        let output = self.execute(request).await?;
        Ok(Box::pin(futures::stream::iter(
            output.into_events().into_iter().map(Ok),
        )))
    }
    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        let stdout = format!("ran: {}", request.command).into_bytes();
        Ok(ExecOutput::new(
            stdout,
            Vec::new(),
            ExitStatus::exited(0, Duration::from_millis(1)),
        ))
    }
    async fn close(&self) -> Result<()> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
