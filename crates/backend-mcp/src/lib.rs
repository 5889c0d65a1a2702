//! Placeholder: the MCP server is being written.
