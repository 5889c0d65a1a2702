//! The MCP server: lists the tools of a [`Toolset`] and runs their calls.

use std::sync::Arc;
use std::time::Instant;

use backend_tools::{ToolName, ToolOutput, ToolSpec, Toolset};
use rmcp::ErrorData as McpError;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

/// The server's instructions: the workspace, one clause per listed tool,
/// and the error format.
fn instructions(specs: &[ToolSpec]) -> String {
    let tools: Vec<&str> = specs
        .iter()
        .filter_map(|spec| ToolName::parse(spec.name))
        .map(ToolName::summary)
        .collect();
    format!(
        "Files of a workspace whose root is `/`; use absolute paths everywhere. Tools: {}. Find files with ls, glob and grep, and read a file before editing it. Errors start with a stable code in brackets, such as `Error [file_not_found]: ...`.",
        tools.join("; ")
    )
}

/// An MCP server handler over a [`Toolset`]. Cloning is cheap and shares
/// everything; every HTTP session gets [`McpServer::new_session`].
#[derive(Clone, Debug)]
pub struct McpServer {
    tools: Arc<Toolset>,
    listed: Arc<Vec<Tool>>,
    instructions: Arc<str>,
    structured: bool,
}

impl McpServer {
    /// A server offering `tools`. Results are text only; see
    /// [`McpServer::structured_content`].
    pub fn new(tools: Toolset) -> Self {
        let specs = tools.tools();
        McpServer {
            listed: Arc::new(specs.iter().map(|s| to_mcp_tool(s, false)).collect()),
            instructions: instructions(&specs).into(),
            tools: Arc::new(tools),
            structured: false,
        }
    }

    /// Also declares each tool's `outputSchema` and sends successful
    /// results' JSON as `structuredContent` (capped like the text). Off by
    /// default: Claude Code and the Agent SDK then show the model that JSON
    /// instead of the text with its line numbers and hints.
    pub fn structured_content(mut self, on: bool) -> Self {
        let specs = self.tools.tools();
        self.listed = Arc::new(specs.iter().map(|s| to_mcp_tool(s, on)).collect());
        self.structured = on;
        self
    }

    /// A server for another client session: the same tools, with its own
    /// read-before-write record.
    pub fn new_session(&self) -> McpServer {
        McpServer {
            tools: Arc::new(self.tools.new_session()),
            ..self.clone()
        }
    }

    /// The toolset behind the server.
    pub fn toolset(&self) -> &Toolset {
        &self.tools
    }

    /// The instructions sent to clients at initialisation.
    pub fn instructions(&self) -> &str {
        &self.instructions
    }
}

fn to_mcp_tool(spec: &ToolSpec, with_output_schema: bool) -> Tool {
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
    let tool =
        Tool::new(spec.name, spec.description, Arc::new(schema)).with_annotations(annotations);
    match &spec.output_schema {
        Value::Object(map) if with_output_schema => {
            tool.with_raw_output_schema(Arc::new(map.clone()))
        }
        _ => tool,
    }
}

/// The MCP form of a tool result: the text as the content (what clients
/// show the model), `isError` for failures, and with `structured` the JSON
/// of a successful call as `structuredContent` (errors have none: they do
/// not match a tool's `outputSchema`).
pub fn to_mcp_result(output: ToolOutput, structured: bool) -> CallToolResult {
    if output.is_error {
        return CallToolResult::error(vec![ContentBlock::text(output.text)]);
    }
    let mut result = CallToolResult::success(vec![ContentBlock::text(output.text)]);
    if structured {
        result.structured_content = Some(output.structured);
    }
    result
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "agent-backend",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.instructions.to_string())
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
        if !self.tools.offers_tool(&request.name) {
            // A name that is not listed is a protocol error, not a tool failure.
            let error = self.tools.unknown_tool(&request.name);
            tracing::warn!(tool = %request.name, "call of an unknown tool");
            return Err(McpError::invalid_params(error.message().to_owned(), None));
        }
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
        Ok(to_mcp_result(output, self.structured).into())
    }
}
