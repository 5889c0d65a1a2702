//! The structured (JSON) results: they match each tool's output schema, and
//! they hold no more than the text shows.

use std::sync::Arc;

use backend_core::Backend;
use backend_local::LocalSandbox;
use backend_state::StateBackend;
use backend_tools::{OutputLimits, ToolOutput, Toolset};
use serde_json::{Value, json};

/// Checks `value` against the subset of JSON Schema the output schemas use
/// (type, properties, required, items, enum, minimum); returns the first
/// mismatch.
fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return Err(format!("{at}: bad type in schema")),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {value} is not {types:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    // The schemas' only minimum is 0, which every u64 meets.
    if schema.get("minimum").is_some() && value.is_number() && value.as_u64().is_none() {
        return Err(format!("{at}: {value} is not a non-negative integer"));
    }
    if let Some(object) = value.as_object() {
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{at}: missing {key}"));
            }
        }
        let properties = schema["properties"].as_object();
        for (key, field) in object {
            let Some(field_schema) = properties.and_then(|p| p.get(key)) else {
                return Err(format!("{at}: {key} is not in the schema"));
            };
            validate(field_schema, field, &format!("{at}.{key}"))?;
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            validate(items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

async fn call(tools: &Toolset, name: &str, arguments: Value) -> ToolOutput {
    tools.call(name, &arguments).await
}

#[tokio::test]
async fn every_tool_result_matches_its_output_schema() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = Arc::new(LocalSandbox::new(dir.path()).expect("a local sandbox"));
    let tools = Toolset::with_sandbox(sandbox);
    let schemas: std::collections::HashMap<&str, Value> = tools
        .tools()
        .into_iter()
        .map(|t| (t.name, t.output_schema))
        .collect();
    let calls = [
        (
            "write_file",
            json!({"file_path": "/src/a.py", "content": "x = 1  # TODO\ny = 2\n"}),
        ),
        ("read_file", json!({"file_path": "/src/a.py", "limit": 1})),
        ("read_file", json!({"file_path": "/src/a.py"})),
        (
            "edit_file",
            json!({"file_path": "/src/a.py", "old_string": "y = 2", "new_string": "y = 3"}),
        ),
        ("ls", json!({"path": "/src"})),
        ("glob", json!({"pattern": "**/*.py"})),
        ("grep", json!({"pattern": "TODO"})),
        (
            "grep",
            json!({"pattern": "TODO", "output_mode": "content", "context": 1}),
        ),
        ("grep", json!({"pattern": "=", "output_mode": "count"})),
        (
            "execute",
            json!({"command": "echo out; echo err >&2; exit 2"}),
        ),
        ("delete", json!({"file_path": "/src", "recursive": true})),
    ];
    for (name, arguments) in calls {
        let out = call(&tools, name, arguments.clone()).await;
        assert!(!out.is_error, "{name} {arguments}: {}", out.text);
        if let Err(mismatch) = validate(&schemas[name], &out.structured, name) {
            panic!("{name} {arguments}: {mismatch}\n{}", out.structured);
        }
    }
}

fn small(max_output_chars: usize) -> OutputLimits {
    OutputLimits {
        max_output_chars,
        ..OutputLimits::default()
    }
}

#[tokio::test]
async fn a_cut_grep_lists_in_json_only_the_matches_the_text_shows() {
    let backend = Arc::new(StateBackend::new());
    let lines: String = (0..500).map(|i| format!("match {i}\n")).collect();
    backend
        .write("/m.txt", lines.into_bytes())
        .await
        .expect("seed");
    let tools = Toolset::new(backend).limits(small(500));
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "match", "output_mode": "content"}),
    )
    .await;
    let shown = out
        .text
        .lines()
        .filter(|l| l.starts_with("/m.txt:"))
        .count();
    let listed = out.structured["matches"].as_array().expect("matches").len();
    assert!(
        listed <= shown && listed > 0,
        "{listed} in JSON, {shown} in the text"
    );
    assert_eq!(out.structured["truncated"], json!(true));
    assert!(
        out.structured.to_string().len() <= 500,
        "{}",
        out.structured
    );
}

#[tokio::test]
async fn cut_listings_and_command_output_are_capped_alike() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = Arc::new(LocalSandbox::new(dir.path()).expect("a local sandbox"));
    for i in 0..300 {
        sandbox
            .write(&format!("/f{i:03}.txt"), b"x".to_vec())
            .await
            .expect("seed");
    }
    let tools = Toolset::with_sandbox(sandbox).limits(small(600));
    for (name, arguments, key) in [
        ("glob", json!({"pattern": "*.txt"}), "files"),
        ("ls", json!({}), "entries"),
    ] {
        let out = call(&tools, name, arguments).await;
        assert_eq!(out.structured["truncated"], json!(true), "{name}");
        assert_eq!(out.structured["total"], json!(300), "{name}");
        assert!(out.structured[key].as_array().expect("a list").len() < 300);
        assert!(
            out.structured.to_string().len() <= 600,
            "{name}: {}",
            out.structured
        );
    }
    let out = call(&tools, "execute", json!({"command": "seq 1 5000"})).await;
    assert_eq!(out.structured["output_cut"], json!(true));
    let stdout = out.structured["stdout"].as_str().expect("stdout");
    assert!(
        stdout.starts_with("1\n2\n") && stdout.len() < 600,
        "{stdout}"
    );
}

#[tokio::test]
async fn edit_file_with_equal_strings_is_an_invalid_argument() {
    let backend = Arc::new(StateBackend::new());
    backend
        .write("/a.txt", b"same\n".to_vec())
        .await
        .expect("seed");
    let tools = Toolset::new(backend.clone());
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "same", "new_string": "same"}),
    )
    .await;
    assert_eq!(out.error_code(), Some("invalid_argument"), "{}", out.text);
    assert!(out.text.contains("the same"), "{}", out.text);
}
