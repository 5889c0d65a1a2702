//! `Timeout`: per-operation deadlines, commands left alone.

use std::sync::Arc;
use std::time::Duration;

use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, Operation, Sandbox};
use backend_layers::{LayerExt, Timeout, Timeouts};

use super::support::Probe;

#[tokio::test(start_paused = true)]
async fn a_slow_operation_fails_with_timeout_naming_the_deadline() {
    let probe = Probe::slow(Duration::from_secs(10));
    let layered: Arc<dyn Backend> = probe.with_timeout(Duration::from_secs(2));
    let err = layered.ls("/").await.expect_err("too slow");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.operation(), Some(Operation::Ls));
    assert_eq!(err.path(), Some("/"));
    assert!(err.message().contains("2s"), "{}", err.message());
    assert_eq!(err.context_value("limit"), Some("2000ms"));
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn deadlines_are_set_per_operation_kind() {
    let probe = Probe::slow(Duration::from_secs(10));
    probe.files.write_str("/a", "a").await.expect("seed");
    let timeouts =
        Timeouts::new(Duration::from_secs(1)).with(Operation::Stat, Duration::from_secs(30));
    let layered = Timeout::new(probe, timeouts);
    assert_eq!(
        layered.timeouts().for_operation(Operation::Stat),
        Duration::from_secs(30)
    );
    assert_eq!(
        layered.timeouts().for_operation(Operation::Ls),
        Duration::from_secs(1)
    );
    layered.stat("/a").await.expect("within its own deadline");
    let err = layered
        .read_bytes("/a")
        .await
        .expect_err("past the default");
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test(start_paused = true)]
async fn a_slow_batch_fails_every_item_with_timeout() {
    let probe = Probe::slow(Duration::from_secs(10));
    let timeouts =
        Timeouts::new(Duration::from_secs(60)).with(Operation::Download, Duration::from_secs(1));
    let layered: Arc<dyn Backend> = probe.with_timeout(timeouts);
    let results = layered.download_files(vec!["/a".into(), "/b".into()]).await;
    assert_eq!(results.len(), 2);
    for (item, path) in results.iter().zip(["/a", "/b"]) {
        assert_eq!(item.path, path);
        let err = item.error.as_ref().expect("timed out");
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert_eq!(err.operation(), Some(Operation::Download));
    }
}

#[tokio::test]
async fn fast_operations_pass_through() {
    let probe = Probe::new();
    let layered: Arc<dyn Backend> = probe.with_timeout(Duration::from_secs(5));
    layered.write_str("/a", "a").await.expect("write");
    assert_eq!(layered.read_to_string("/a").await.expect("read"), "a");
}

#[tokio::test]
async fn commands_keep_their_own_timeout() {
    let sandbox = super::support::local_sandbox();
    let layered: Arc<dyn Sandbox> = sandbox.with_timeout(Duration::from_millis(50));
    assert!(layered.capabilities().execute);
    let output = layered
        .execute(ExecRequest::new("sleep 0.3; echo done"))
        .await
        .expect("not cut by the layer");
    assert_eq!(output.stdout, b"done\n");
    assert!(!output.status.timed_out);
}
