//! Agent tools over any backend: `ls`, `read_file`, `write_file`,
//! `edit_file`, `delete`, `glob`, `grep` and (with a sandbox) `execute`.
//!
//! A [`Toolset`] holds a backend, permission rules and output limits. It
//! lists the tools with a description and a JSON Schema each
//! ([`Toolset::tools`]), and runs a call from a tool name and JSON arguments
//! ([`Toolset::call`]): the arguments are checked against the schema (a
//! missing, mistyped or unknown field gives an error naming it), the
//! permission rules are applied, the backend is called, and the result comes
//! back as text for a model plus the same facts as JSON (holding no more
//! than the text shows, described by [`ToolSpec::output_schema`]). Errors are one line,
//! `Error [code]: message`, with the stable code of
//! [`backend_core::ErrorKind`].
//!
//! The argument names follow the convention models know from Claude Code
//! and deepagents.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use backend_tools::{Permissions, Toolset};
//! use serde_json::json;
//!
//! # async fn demo(backend: Arc<dyn backend_core::Backend>) {
//! let tools = Toolset::new(backend).permissions(Permissions::read_only());
//! let out = tools.call("read_file", &json!({"file_path": "/README.md"})).await;
//! println!("{}", out.text); // "     1\t# Title\n..." or "Error [file_not_found]: ..."
//! # }
//! ```

mod args;
mod output;
mod output_schema;
pub mod permissions;
mod read_state;
mod specs;
mod tools_exec;
mod tools_files;
mod tools_search;
mod toolset;

pub use args::{Field, FieldKind};
pub use output::{DEFAULT_MAX_LINE_CHARS, DEFAULT_MAX_OUTPUT_CHARS, OutputLimits, ToolOutput};
pub use permissions::{
    Access, Action, CommandRuleConfig, Decision, PathRuleConfig, Permissions, PermissionsConfig,
};
pub use specs::{GREP_MODES, MAX_EXEC_TIMEOUT_SECS, ToolName};
pub use toolset::{ApprovalRequest, Approver, ToolSpec, Toolset, offered_tools};
