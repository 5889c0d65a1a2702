//! The MCP server: lists the tools of a [`Toolset`] and runs their calls.

use std::sync::Arc;
use std::time::Instant;

use backend_tools::{ToolOutput, ToolSpec, Toolset};
use rmcp::ErrorData as McpError;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

const INSTRUCTIONS: &str = "Files of a workspace whose root is `/`. Use ls, glob and grep to find files, read_file before edit_file, and absolute paths everywhere. Errors start with a stable code in brackets, such as `Error [file_not_found]: ...`.";

/// An MCP server handler over a [`Toolset`]. Cloning is cheap; every HTTP
/// session gets a clone sharing the same backend.
#[derive(Clone, Debug)]
pub struct McpServer {
    tools: Arc<Toolset>,
    listed: Arc<Vec<Tool>>,
}

impl McpServer {
    /// A server offering `tools`.
    pub fn new(tools: Toolset) -> Self {
        let listed = tools.tools().iter().map(to_mcp_tool).collect();
        McpServer {
            tools: Arc::new(tools),
            listed: Arc::new(listed),
        }
    }

    /// The toolset behind the server.
    pub fn toolset(&self) -> &Toolset {
        &self.tools
    }
}

fn to_mcp_tool(spec: &ToolSpec) -> Tool {
    let schema = match &spec.input_schema {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let annotations = ToolAnnotations::from_raw(
        None,
        Some(spec.read_only),
        Some(spec.destructive),
        Some(spec.read_only),
        Some(spec.name == "execute"),
    );
    Tool::new(spec.name, spec.description, Arc::new(schema)).with_annotations(annotations)
}

/// The MCP form of a tool result: the text as the content, the JSON as
/// `structuredContent`, and `isError` for failures.
pub fn to_mcp_result(output: ToolOutput) -> CallToolResult {
    let mut result = if output.is_error {
        CallToolResult::error(vec![ContentBlock::text(output.text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(output.text)])
    };
    result.structured_content = Some(output.structured);
    result
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "agent-backend",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.listed.to_vec()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let arguments = request.arguments.map_or(Value::Null, Value::Object);
        let started = Instant::now();
        let output = self.tools.call(&request.name, &arguments).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match output.error_code() {
            Some(code) => {
                tracing::info!(tool = %request.name, elapsed_ms, error = code, "tool call failed")
            }
            None => tracing::info!(tool = %request.name, elapsed_ms, "tool call"),
        }
        Ok(to_mcp_result(output).into())
    }
}
