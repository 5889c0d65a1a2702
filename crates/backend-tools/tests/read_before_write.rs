//! Read before write: with it on, a session must have read the current
//! version of an existing file before `write_file` replaces it or
//! `edit_file` changes it.

use std::sync::Arc;

use backend_core::{Backend, BackendExt, FileInfo, ForwardBackend};
use backend_local::LocalSandbox;
use backend_state::StateBackend;
use backend_tools::{ToolOutput, Toolset};
use serde_json::json;

async fn call(tools: &Toolset, name: &str, arguments: serde_json::Value) -> ToolOutput {
    tools.call(name, &arguments).await
}

fn assert_conflict(out: &ToolOutput, why: &str) {
    assert_eq!(out.error_code(), Some("conflict"), "{}", out.text);
    assert!(out.text.contains(why), "{}", out.text);
    assert!(out.text.contains("read it with read_file"), "{}", out.text);
}

/// The checks, over one store (with or without modification times).
async fn check_on(backend: Arc<dyn Backend>) {
    backend.write_str("/a.txt", "one\n").await.expect("seed");
    let tools = Toolset::new(backend.clone()).read_before_write(true);

    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/a.txt", "content": "two\n"}),
    )
    .await;
    assert_conflict(&out, "this session has not read it");
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "one", "new_string": "two"}),
    )
    .await;
    assert_conflict(&out, "this session has not read it");
    assert_eq!(
        backend.read_to_string("/a.txt").await.expect("read"),
        "one\n"
    );

    call(&tools, "read_file", json!({"file_path": "/a.txt"})).await;
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "one", "new_string": "three"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);
    // Its own change is known: no read needed in between.
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/a.txt", "content": "four!\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);

    // Someone else changes the file.
    backend
        .write_str("/a.txt", "changed elsewhere\n")
        .await
        .expect("write");
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/a.txt", "content": "x\n"}),
    )
    .await;
    assert_conflict(&out, "it changed since this session last read it");

    // New files need no read; another session starts with an empty record.
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/new.txt", "content": "n\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);
    let other = tools.new_session();
    let out = call(
        &other,
        "write_file",
        json!({"file_path": "/new.txt", "content": "m\n"}),
    )
    .await;
    assert_conflict(&out, "this session has not read it");
}

/// A store that keeps no modification times (like some object stores).
struct NoTimes(StateBackend);

#[async_trait::async_trait]
impl ForwardBackend for NoTimes {
    type Inner = StateBackend;

    fn inner(&self) -> &StateBackend {
        &self.0
    }

    async fn stat(&self, path: &str) -> backend_core::Result<FileInfo> {
        Ok(self.0.stat(path).await?.with_modified(None))
    }
}

#[tokio::test]
async fn a_store_with_times_compares_size_and_time() {
    check_on(Arc::new(StateBackend::new())).await;
}

#[tokio::test]
async fn a_store_without_times_compares_contents() {
    check_on(Arc::new(NoTimes(StateBackend::new()))).await;
}

#[tokio::test]
async fn a_directory_compares_size_and_modification_time() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    check_on(Arc::new(
        LocalSandbox::new(dir.path()).expect("a local sandbox"),
    ))
    .await;
}

#[tokio::test]
async fn it_is_off_unless_asked_for() {
    let backend = Arc::new(StateBackend::new());
    backend.write_str("/a.txt", "one\n").await.expect("seed");
    let tools = Toolset::new(backend);
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/a.txt", "content": "two\n"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);
}
