//! `Limits`: `too_large` past the read and write caps, naming the cap.

use std::sync::Arc;

use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, FileUpload, Operation, Sandbox};
use backend_layers::{ByteLimits, LayerExt};

use super::support::Probe;

fn caps(read: u64, write: u64) -> ByteLimits {
    ByteLimits::new()
        .max_read_bytes(read)
        .max_write_bytes(write)
}

#[tokio::test]
async fn a_file_over_the_read_cap_is_refused_before_it_is_read() {
    let probe = Probe::new();
    probe
        .files
        .write_str("/big", &"x".repeat(100))
        .await
        .expect("seed");
    probe.files.write_str("/small", "x").await.expect("seed");
    let layered: Arc<dyn Backend> = probe.clone().with_limits(caps(10, 1000));
    let err = layered.read_bytes("/big").await.expect_err("too large");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.operation(), Some(Operation::ReadBytes));
    assert_eq!(err.path(), Some("/big"));
    assert!(
        err.message().contains("10 bytes") && err.message().contains("max_read_bytes"),
        "{}",
        err.message()
    );
    assert_eq!(err.context_value("limit"), Some("10"));
    assert_eq!(Probe::count(&probe.stats), 1);
    assert_eq!(layered.read_bytes("/small").await.expect("small"), b"x");
}

#[tokio::test]
async fn downloads_over_the_cap_fail_alone_and_the_rest_go_in_one_batch() {
    let probe = Probe::new();
    probe
        .files
        .write_str("/big", &"x".repeat(100))
        .await
        .expect("seed");
    probe.files.write_str("/small", "x").await.expect("seed");
    let layered: Arc<dyn Backend> = probe.clone().with_limits(caps(10, 1000));
    let results = layered
        .download_files(vec!["/small".into(), "/big".into(), "/missing".into()])
        .await;
    let paths: Vec<&str> = results.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/small", "/big", "/missing"]);
    assert_eq!(results[0].content.as_deref(), Some(&b"x"[..]));
    let big = results[1].error.as_ref().expect("too large");
    assert_eq!(big.kind(), ErrorKind::TooLarge);
    assert_eq!(big.operation(), Some(Operation::Download));
    let missing = results[2].error.as_ref().expect("missing");
    assert_eq!(missing.kind(), ErrorKind::FileNotFound);
    assert_eq!(Probe::count(&probe.downloads), 1);
}

#[tokio::test]
async fn a_read_page_over_the_cap_is_refused() {
    let probe = Probe::new();
    probe
        .files
        .write_str("/lines", &"0123456789\n".repeat(5))
        .await
        .expect("seed");
    let layered: Arc<dyn Backend> = probe.with_limits(caps(25, 1000));
    let err = layered
        .read("/lines", 0, 5)
        .await
        .expect_err("page too large");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.message().contains("fewer lines"), "{}", err.message());
    let page = layered.read("/lines", 0, 2).await.expect("a smaller page");
    assert_eq!(page.content.len(), 22);
}

#[tokio::test]
async fn writes_and_uploads_over_the_write_cap_are_refused() {
    let probe = Probe::new();
    let layered: Arc<dyn Backend> = probe.clone().with_limits(caps(1000, 4));
    let err = layered
        .write("/a", b"12345".to_vec())
        .await
        .expect_err("too large");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(
        err.message().contains("max_write_bytes"),
        "{}",
        err.message()
    );
    assert!(!probe.files.exists("/a").await.expect("stat"));
    let results = layered
        .upload_files(vec![
            FileUpload::new("/big", b"12345".to_vec()),
            FileUpload::new("/ok", b"1234".to_vec()),
        ])
        .await;
    assert_eq!(
        results[0].error.as_ref().map(|e| e.kind()),
        Some(ErrorKind::TooLarge)
    );
    assert!(results[1].is_ok());
    assert_eq!(
        probe.files.read_to_string("/ok").await.expect("read"),
        "1234"
    );
    assert_eq!(Probe::count(&probe.uploads), 1);
}

#[tokio::test]
async fn edits_are_checked_on_their_input_and_their_result() {
    let probe = Probe::new();
    probe.files.write_str("/f", "a a a").await.expect("seed");
    let layered: Arc<dyn Backend> = probe.clone().with_limits(caps(1000, 8));
    let err = layered
        .edit("/f", "a", "123456789", false)
        .await
        .expect_err("new too long");
    assert!(err.message().contains("new_string"), "{}", err.message());
    // One replacement fits (7 bytes), all three do not (11 bytes).
    let err = layered
        .edit("/f", "a", "bbb", true)
        .await
        .expect_err("result too large");
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.operation(), Some(Operation::Edit));
    assert_eq!(
        probe.files.read_to_string("/f").await.expect("read"),
        "a a a"
    );
    layered
        .edit("/f", "a a a", "bbb a", false)
        .await
        .expect("fits");
    layered.edit("/f", "a", "ccc", false).await.expect("fits");
    assert_eq!(
        probe.files.read_to_string("/f").await.expect("read"),
        "bbb ccc"
    );
    // Inner errors stay the inner backend's.
    let err = layered
        .edit("/f", "zzz", "y", false)
        .await
        .expect_err("absent");
    assert_eq!(err.kind(), ErrorKind::StringNotFound);
}

#[tokio::test]
async fn a_limited_sandbox_still_runs_commands() {
    let sandbox = super::support::local_sandbox();
    let layered: Arc<dyn Sandbox> = sandbox.with_limits(caps(1, 1));
    let output = layered
        .execute(ExecRequest::new("echo hi"))
        .await
        .expect("execute");
    assert_eq!(output.stdout, b"hi\n");
}
