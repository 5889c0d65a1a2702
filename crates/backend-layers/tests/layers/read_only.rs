//! `ReadOnly`: changes and commands refused, reads forwarded.

use std::sync::Arc;

use backend_core::{
    Backend, BackendExt, ErrorKind, ExecRequest, FileUpload, GrepRequest, Operation, Sandbox,
};
use backend_layers::{LayerExt, ReadOnly};
use backend_state::StateBackend;

async fn seeded() -> Arc<StateBackend> {
    let files = Arc::new(StateBackend::new());
    files.write_str("/a.txt", "alpha\n").await.expect("seed");
    files
}

#[tokio::test]
async fn reads_listings_and_searches_are_forwarded() {
    let layered: Arc<dyn Backend> = seeded().await.read_only();
    assert_eq!(
        layered.read_to_string("/a.txt").await.expect("read"),
        "alpha\n"
    );
    assert_eq!(layered.ls("/").await.expect("ls").len(), 1);
    let hits = layered.grep(&GrepRequest::new("alp")).await.expect("grep");
    assert_eq!(hits.matches.len(), 1);
}

#[tokio::test]
async fn write_edit_delete_and_upload_are_permission_denied() {
    let files = seeded().await;
    let layered: Arc<dyn Backend> = files.clone().read_only();
    let write = layered
        .write("/a.txt", b"x".to_vec())
        .await
        .expect_err("write");
    assert_eq!(write.kind(), ErrorKind::PermissionDenied);
    assert_eq!(write.operation(), Some(Operation::Write));
    assert_eq!(write.path(), Some("/a.txt"));
    assert!(write.message().contains("read-only"), "{}", write.message());
    let edit = layered
        .edit("/a.txt", "alpha", "beta", false)
        .await
        .expect_err("edit");
    assert_eq!(edit.kind(), ErrorKind::PermissionDenied);
    let delete = layered.delete("/a.txt", false).await.expect_err("delete");
    assert_eq!(delete.kind(), ErrorKind::PermissionDenied);
    let uploads = layered
        .upload_files(vec![FileUpload::new("/b.txt", b"b".to_vec())])
        .await;
    let upload = uploads[0].error.as_ref().expect("refused upload");
    assert_eq!(upload.kind(), ErrorKind::PermissionDenied);
    assert_eq!(upload.operation(), Some(Operation::Upload));
    // Nothing reached the files.
    assert_eq!(
        files.read_to_string("/a.txt").await.expect("read"),
        "alpha\n"
    );
    assert!(!files.exists("/b.txt").await.expect("stat"));
}

#[tokio::test]
async fn a_bad_path_is_still_invalid_path() {
    let layered: Arc<dyn Backend> = seeded().await.read_only();
    let err = layered
        .write("/../x", Vec::new())
        .await
        .expect_err("bad path");
    assert_eq!(err.kind(), ErrorKind::InvalidPath);
}

#[tokio::test]
async fn capabilities_promise_no_changes() {
    let sandbox = super::support::local_sandbox();
    assert!(sandbox.capabilities().execute);
    let layered: Arc<dyn Sandbox> = sandbox.read_only();
    let caps = layered.capabilities();
    assert!(!caps.execute && !caps.execute_streaming && !caps.atomic_edit && !caps.snapshot);
}

#[tokio::test]
async fn commands_are_refused_on_a_sandbox() {
    let sandbox = super::support::local_sandbox();
    let layered: Arc<dyn Sandbox> = Arc::new(ReadOnly::new(sandbox.clone()));
    let err = layered
        .execute(ExecRequest::new("touch made"))
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.message().contains("could change"), "{}", err.message());
    assert!(
        layered
            .execute_stream(ExecRequest::new("true"))
            .await
            .is_err()
    );
    assert_eq!(layered.id(), sandbox.id());
    assert!(!sandbox.exists("/made").await.expect("stat"));
}
