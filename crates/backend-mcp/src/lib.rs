//! The agent-backend MCP server: gives Claude Code, the Claude Agent SDK or
//! any MCP client the tools of [`backend_tools`] (`ls`, `read_file`,
//! `write_file`, `edit_file`, `delete`, `glob`, `grep`, and `execute` when a
//! sandbox is configured) over any backend of this workspace.
//!
//! The `agent-backend` binary wraps this library: `agent-backend serve`
//! speaks MCP over stdio (or streamable HTTP with `--http ADDR`), and
//! `agent-backend call TOOL 'JSON'` runs one tool call for scripts.
//!
//! Results reach the client as text content, the form the tool
//! descriptions promise (numbered lines, paging hints, cut notes): clients
//! such as Claude Code show the model `structuredContent` instead of the
//! text when it is present, so it is sent only when asked for
//! ([`Config::structured_content`], `--structured-content`), together with
//! each tool's `outputSchema`. Writes need a read first
//! ([`Config::read_before_write`], on by default), one record per client
//! session.
//!
//! # Example
//! ```no_run
//! use backend_mcp::McpServer;
//! use backend_tools::Toolset;
//! use rmcp::ServiceExt;
//!
//! # async fn run() -> anyhow::Result<()> {
//! let opened = backend_mcp::open(None, None).await?; // ./workspace
//! let server = McpServer::new(Toolset::from_handle(opened.handle.clone()));
//! server.serve(rmcp::transport::stdio()).await?.waiting().await?;
//! # Ok(())
//! # }
//! ```

use backend_core::BackendHandle;
use backend_layers::LayerExt;
#[cfg(doc)]
use backend_layers::{ReadOnly, Traced};

pub mod config;
pub mod http;
pub mod open;
mod server;

pub use config::Config;
pub use open::{DEFAULT_BACKEND, Opened, open, resolve, runs_commands};
pub use server::{McpServer, to_mcp_result};

/// Builds the toolset a configuration describes over an opened backend:
/// under `read_only` the backend is wrapped in [`ReadOnly`] (so nothing
/// below the tools can change a file either) and only the reading tools
/// are offered; every backend operation gets a `tracing` span ([`Traced`]);
/// read-before-write follows the config (on by default).
pub fn toolset(opened: &Opened, config: &Config) -> anyhow::Result<backend_tools::Toolset> {
    let handle = layered(&opened.handle, config.read_only);
    Ok(backend_tools::Toolset::from_handle(handle)
        .permissions(config.permissions()?)
        .limits(config.limits()?)
        .read_before_write(config.read_before_write()))
}

/// The layers the server puts around what it opened.
fn layered(handle: &BackendHandle, read_only: bool) -> BackendHandle {
    const NAME: &str = "agent-backend";
    match handle.sandbox() {
        Some(sandbox) if read_only => {
            BackendHandle::from_sandbox(sandbox.clone().read_only().traced(NAME))
        }
        Some(sandbox) => BackendHandle::from_sandbox(sandbox.clone().traced(NAME)),
        None if read_only => {
            BackendHandle::from_backend(handle.backend().clone().read_only().traced(NAME))
        }
        None => BackendHandle::from_backend(handle.backend().clone().traced(NAME)),
    }
}

/// Builds the MCP server a configuration describes over an opened backend.
pub fn server(opened: &Opened, config: &Config) -> anyhow::Result<McpServer> {
    Ok(McpServer::new(toolset(opened, config)?).structured_content(config.structured_content))
}
