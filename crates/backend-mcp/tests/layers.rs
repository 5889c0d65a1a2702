//! The layers the server puts around what it opens.

use backend_core::BackendExt;
use backend_mcp::{Config, open, toolset};

#[tokio::test]
async fn read_only_wraps_the_backend_itself_not_only_the_tool_list() {
    let config = Config {
        read_only: true,
        ..Config::default()
    };
    let state = serde_json::json!("state://");
    let opened = open(Some(&state), None).await.expect("a memory backend");
    let tools = toolset(&opened, &config).expect("a toolset");
    let names: Vec<&str> = tools.tools().iter().map(|t| t.name).collect();
    assert_eq!(names, ["ls", "read_file", "glob", "grep"]);
    let refused = tools
        .backend()
        .write_str("/a.txt", "x")
        .await
        .expect_err("a read-only backend refuses writes");
    assert_eq!(refused.code(), "permission_denied");
    assert!(refused.message().contains("read-only"), "{refused}");
}

#[tokio::test]
async fn a_writable_server_keeps_its_sandbox() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let location = serde_json::json!(format!("file://{}?exec=true", dir.path().display()));
    let opened = open(Some(&location), None).await.expect("a local sandbox");
    let tools = toolset(&opened, &Config::default()).expect("a toolset");
    assert!(tools.handle().sandbox().is_some());
    let out = tools
        .call("execute", &serde_json::json!({"command": "echo hi"}))
        .await;
    assert!(out.text.contains("hi"), "{}", out.text);
}
