//! The agent-backend MCP server: gives Claude Code, the Claude Agent SDK or
//! any MCP client the tools of [`backend_tools`] (`ls`, `read_file`,
//! `write_file`, `edit_file`, `delete`, `glob`, `grep`, and `execute` when a
//! sandbox is configured) over any backend of this workspace.
//!
//! The `agent-backend` binary wraps this library: `agent-backend serve`
//! speaks MCP over stdio (or streamable HTTP with `--http ADDR`), and
//! `agent-backend call TOOL 'JSON'` runs one tool call for scripts.
//!
//! # Example
//! ```no_run
//! use backend_mcp::McpServer;
//! use backend_tools::Toolset;
//! use rmcp::ServiceExt;
//!
//! # async fn run() -> anyhow::Result<()> {
//! let opened = backend_mcp::open(None, None).await?; // ./workspace
//! let server = McpServer::new(Toolset::new(opened.backend.clone()));
//! server.serve(rmcp::transport::stdio()).await?.waiting().await?;
//! # Ok(())
//! # }
//! ```

pub mod config;
pub mod http;
pub mod open;
mod server;

pub use config::Config;
pub use open::{DEFAULT_BACKEND, Opened, open, resolve, runs_commands};
pub use server::{McpServer, to_mcp_result};

/// Builds the toolset a configuration describes over an opened backend.
pub fn toolset(opened: &Opened, config: &Config) -> anyhow::Result<backend_tools::Toolset> {
    let mut tools = backend_tools::Toolset::new(opened.backend.clone())
        .permissions(config.permissions()?)
        .limits(config.limits()?);
    if let Some(sandbox) = &opened.sandbox {
        tools = tools.sandbox(sandbox.clone());
    }
    Ok(tools)
}

/// Builds the MCP server a configuration describes over an opened backend.
pub fn server(opened: &Opened, config: &Config) -> anyhow::Result<McpServer> {
    Ok(McpServer::new(toolset(opened, config)?).structured_content(config.structured_content))
}
