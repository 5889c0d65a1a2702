//! The stand-in sandbox of a composite whose default backend cannot run
//! commands, so that the composite always has a sandbox to forward to.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, Error, ExecOutput, ExecRequest, ExecStream, ForwardBackend, Operation, Result, Sandbox,
};

/// The id of a composite without a default sandbox.
pub(crate) const COMPOSITE_ID: &str = "composite";

/// The default backend's files, and `unsupported` for every command.
pub(crate) struct NoCommands {
    files: Arc<dyn Backend>,
}

impl NoCommands {
    pub(crate) fn new(files: Arc<dyn Backend>) -> Self {
        NoCommands { files }
    }
}

/// Why a composite cannot run commands.
pub(crate) fn no_sandbox() -> Error {
    Error::unsupported(
        "running commands: the composite's default backend is not a sandbox (build it with CompositeBackend::builder_with_sandbox)",
    )
    .with_operation(Operation::Execute)
}

#[async_trait]
impl ForwardBackend for NoCommands {
    type Inner = dyn Backend;

    fn inner(&self) -> &Self::Inner {
        &*self.files
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Sandbox for NoCommands {
    fn id(&self) -> &str {
        COMPOSITE_ID
    }

    async fn execute_stream(&self, _request: ExecRequest) -> Result<ExecStream> {
        Err(no_sandbox())
    }

    async fn execute(&self, _request: ExecRequest) -> Result<ExecOutput> {
        Err(no_sandbox())
    }

    /// Nothing to release: the files belong to the default backend.
    async fn close(&self) -> Result<()> {
        Ok(())
    }
}
