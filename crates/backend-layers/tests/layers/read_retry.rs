//! `ReadRetry`: reads retried, changes and commands never.

use std::sync::Arc;
use std::time::Duration;

use backend_core::retry::{ATTEMPTS_KEY, RetryPolicy};
use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, Operation, Sandbox};
use backend_layers::LayerExt;

use super::support::{Flaky, Probe};

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        total_budget: Duration::from_secs(5),
        jitter: false,
    }
}

#[tokio::test]
async fn a_read_that_fails_briefly_succeeds() {
    let flaky = Flaky::failing(2);
    flaky.files.write_str("/a", "a").await.expect("seed");
    let layered: Arc<dyn Backend> = flaky.clone().with_read_retry(quick(4));
    assert_eq!(layered.read_bytes("/a").await.expect("third attempt"), b"a");
    assert_eq!(Probe::count(&flaky.calls), 3);
}

#[tokio::test]
async fn after_the_last_attempt_the_error_is_final_and_counts_attempts() {
    let flaky = Flaky::failing(10);
    let layered: Arc<dyn Backend> = flaky.clone().with_read_retry(quick(3));
    let err = layered.ls("/").await.expect_err("still failing");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.is_retryable());
    assert_eq!(err.context_value(ATTEMPTS_KEY), Some("3"));
    assert_eq!(err.operation(), Some(Operation::Ls));
    assert_eq!(Probe::count(&flaky.calls), 3);
}

#[tokio::test]
async fn writes_and_edits_are_tried_once() {
    let flaky = Flaky::failing(10);
    let layered: Arc<dyn Backend> = flaky.clone().with_read_retry(quick(5));
    let err = layered
        .write("/a", b"a".to_vec())
        .await
        .expect_err("one try");
    assert!(err.is_retryable(), "the caller decides");
    layered
        .edit("/a", "a", "b", false)
        .await
        .expect_err("one try");
    assert_eq!(Probe::count(&flaky.calls), 2);
}

#[tokio::test]
async fn downloads_retry_only_the_failed_items() {
    let flaky = Flaky::failing(1);
    flaky.files.write_str("/a", "a").await.expect("seed");
    flaky.files.write_str("/b", "b").await.expect("seed");
    let layered: Arc<dyn Backend> = flaky.clone().with_read_retry(quick(3));
    let results = layered
        .download_files(vec!["/a".into(), "/b".into(), "/missing".into()])
        .await;
    assert_eq!(results[0].content.as_deref(), Some(&b"a"[..]));
    assert_eq!(results[1].content.as_deref(), Some(&b"b"[..]));
    let missing = results[2].error.as_ref().expect("missing");
    assert_eq!(missing.kind(), ErrorKind::FileNotFound);
    // Three items, then the one that failed once more.
    assert_eq!(Probe::count(&flaky.calls), 4);
}

#[tokio::test]
async fn commands_are_run_once_and_the_sandbox_stays_a_sandbox() {
    let sandbox = super::support::local_sandbox();
    let layered: Arc<dyn Sandbox> = sandbox.clone().with_read_retry(quick(5));
    let output = layered
        .execute(ExecRequest::new("echo x >> runs; cat runs"))
        .await
        .expect("execute");
    assert_eq!(output.stdout, b"x\n");
    assert_eq!(layered.id(), sandbox.id());
}
