//! The JSON Schemas of the tools' structured results ([`ToolOutput::structured`]
//! of a successful call), for clients that validate MCP `structuredContent`
//! against a tool's `outputSchema`.
//!
//! [`ToolOutput::structured`]: crate::ToolOutput::structured

use serde_json::{Value, json};

use crate::specs::ToolName;

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
    })
}

fn nullable_integer() -> Value {
    json!({"type": ["integer", "null"]})
}

/// The schema of `tool`'s structured result.
pub(crate) fn output_schema(tool: ToolName) -> Value {
    let integer = json!({"type": "integer", "minimum": 0});
    let string = json!({"type": "string"});
    let boolean = json!({"type": "boolean"});
    let strings = json!({"type": "array", "items": {"type": "string"}});
    match tool {
        ToolName::Ls => object(
            json!({
                "path": string,
                "entries": {"type": "array", "items": object(
                    json!({"path": string, "is_dir": boolean, "size": integer, "modified_unix": integer}),
                    &["path", "is_dir"],
                )},
                "total": integer,
                "hidden": integer,
                "truncated": boolean,
            }),
            &["path", "entries", "total", "hidden", "truncated"],
        ),
        ToolName::ReadFile => object(
            json!({
                "file_path": string,
                "content": string,
                "first_line": integer,
                "last_line": integer,
                "total_lines": integer,
                "next_offset": nullable_integer(),
                "cut_lines": {"type": "array", "items": integer},
                "output_cut": boolean,
            }),
            &[
                "file_path",
                "content",
                "first_line",
                "last_line",
                "total_lines",
                "next_offset",
                "cut_lines",
                "output_cut",
            ],
        ),
        ToolName::WriteFile => object(
            json!({"file_path": string, "bytes_written": integer}),
            &["file_path", "bytes_written"],
        ),
        ToolName::EditFile => object(
            json!({"file_path": string, "replacements": integer}),
            &["file_path", "replacements"],
        ),
        ToolName::Delete => object(
            json!({"file_path": string, "recursive": boolean}),
            &["file_path", "recursive"],
        ),
        ToolName::Glob => object(
            json!({
                "pattern": string,
                "path": string,
                "files": strings,
                "total": integer,
                "truncated": boolean,
                "hidden": integer,
            }),
            &["pattern", "path", "files", "total", "truncated", "hidden"],
        ),
        ToolName::Grep => {
            let context_line = object(
                json!({"line_number": integer, "line": string}),
                &["line_number", "line"],
            );
            let context = json!({"type": "array", "items": context_line});
            let a_match = object(
                json!({
                    "path": string,
                    "line_number": integer,
                    "line": string,
                    "line_truncated": boolean,
                    "before": context,
                    "after": context,
                }),
                &["path", "line_number", "line"],
            );
            let count = object(
                json!({"path": string, "count": integer}),
                &["path", "count"],
            );
            object(
                json!({
                    "pattern": string,
                    "path": string,
                    "output_mode": {"type": "string", "enum": crate::specs::GREP_MODES},
                    "truncated": boolean,
                    "hidden": integer,
                    "offset": integer,
                    "total": integer,
                    "next_offset": nullable_integer(),
                    "files": strings,
                    "matches": {"type": "array", "items": a_match},
                    "counts": {"type": "array", "items": count},
                }),
                &[
                    "pattern",
                    "path",
                    "output_mode",
                    "truncated",
                    "hidden",
                    "offset",
                    "total",
                    "next_offset",
                ],
            )
        }
        ToolName::Execute => object(
            json!({
                "command": string,
                "exit_code": {"type": ["integer", "null"]},
                "signal": {"type": ["integer", "null"]},
                "timed_out": boolean,
                "stdout": string,
                "stderr": string,
                "stdout_truncated": boolean,
                "stderr_truncated": boolean,
                "output_cut": boolean,
                "duration_ms": integer,
            }),
            &[
                "command",
                "exit_code",
                "signal",
                "timed_out",
                "stdout",
                "stderr",
                "stdout_truncated",
                "stderr_truncated",
                "output_cut",
                "duration_ms",
            ],
        ),
    }
}
