//! Modal client behaviour under faults, against the local fake Modal server:
//! retries of safe calls, failed creates, a router connection that drops
//! mid-command, bad tokens, and clean-up on close.
#![cfg(feature = "modal")]

use std::time::Duration;

use backend_core::{Backend, BackendExt, ErrorKind, ExecEvent, ExecRequest, Sandbox};
use backend_remote::RetryPolicy;
use backend_remote::modal::{ModalConfig, ModalSandbox};
use futures::StreamExt;
use remote_fakes::modal::{FakeModal, TOKEN_ID, TOKEN_SECRET};
use tonic::Code;

/// Quick retries so the tests stay short.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..Default::default()
    }
}

fn config(fake: &FakeModal) -> ModalConfig {
    ModalConfig::new(TOKEN_ID, TOKEN_SECRET)
        .api_url(fake.api_url())
        .root_dir(fake.new_workdir())
        .retry(fast_retry())
}

#[tokio::test(flavor = "multi_thread")]
async fn safe_call_is_retried_after_unavailable_and_resource_exhausted() {
    let fake = FakeModal::start().await;
    fake.inject("AppGetOrCreate", Code::Unavailable, 1);
    fake.inject("AppGetOrCreate", Code::ResourceExhausted, 1);
    let sandbox = ModalSandbox::create(config(&fake))
        .await
        .expect("create after retries");
    assert_eq!(
        fake.calls("AppGetOrCreate"),
        3,
        "two failures, then success"
    );
    sandbox.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_of_a_safe_call_give_up_with_unavailable_and_terminate_the_sandbox() {
    let fake = FakeModal::start().await;
    fake.inject("SandboxGetTaskId", Code::Unavailable, 10);
    let e = ModalSandbox::create(config(&fake))
        .await
        .expect_err("task id never comes");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(
        !e.is_retryable(),
        "retrying has already been tried and given up: {e}"
    );
    assert_eq!(e.context_value("attempts"), Some("4"), "{e}");
    assert_eq!(fake.calls("SandboxGetTaskId"), 4, "all of max_attempts");
    assert_eq!(fake.created_sandboxes(), 1);
    assert_eq!(
        fake.live_sandboxes(),
        0,
        "a sandbox that failed to start is terminated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sandbox_create_is_not_retried_and_leaves_nothing() {
    let fake = FakeModal::start().await;
    fake.inject("SandboxCreate", Code::Unavailable, 1);
    let e = ModalSandbox::create(config(&fake))
        .await
        .expect_err("create fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.message().contains("SandboxCreate"), "{e}");
    assert_eq!(
        fake.calls("SandboxCreate"),
        1,
        "SandboxCreate is never sent twice"
    );
    assert_eq!(fake.created_sandboxes(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_create_refused_by_modal_keeps_modals_message() {
    let fake = FakeModal::start().await;
    fake.inject("SandboxCreate", Code::InvalidArgument, 1);
    let e = ModalSandbox::create(config(&fake))
        .await
        .expect_err("create fails");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.message().contains("injected fault on SandboxCreate"),
        "{e}"
    );
    assert!(!e.is_retryable());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_router_connection_mid_command_is_unavailable_without_hanging() {
    let fake = FakeModal::start().await;
    let sandbox = ModalSandbox::create(config(&fake)).await.expect("create");
    let request = ExecRequest::new("echo started; sleep 30").timeout(Duration::from_secs(60));
    let mut stream = sandbox.execute_stream(request).await.expect("start");
    match stream.next().await {
        Some(Ok(ExecEvent::Stdout(bytes))) => assert_eq!(bytes, b"started\n"),
        other => panic!("expected the first stdout chunk, got {other:?}"),
    }
    fake.cut_router();
    let rest = tokio::time::timeout(Duration::from_secs(20), async {
        let mut last = None;
        while let Some(event) = stream.next().await {
            last = Some(event);
        }
        last
    })
    .await
    .expect("the stream must end well before the command's own deadline");
    match rest {
        Some(Err(e)) => {
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
            assert!(e.message().contains("connection"), "{e}");
        }
        other => panic!("expected an unavailable error, got {other:?}"),
    }
    fake.restore_router();
    sandbox.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_token_is_refused_with_the_variables_to_set() {
    let fake = FakeModal::start().await;
    let config = ModalConfig::new("ak-wrong", "as-wrong")
        .api_url(fake.api_url())
        .root_dir(fake.new_workdir());
    let e = ModalSandbox::create(config).await.expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert!(e.message().contains("MODAL_TOKEN_ID"), "{e}");
    assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
    assert!(
        !e.message().contains("as-wrong"),
        "the secret never appears in errors: {e}"
    );
    assert_eq!(
        fake.calls("AppGetOrCreate"),
        1,
        "an auth failure is not retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_token_is_reported_before_any_call() {
    let fake = FakeModal::start().await;
    let config = ModalConfig::new("", "")
        .api_url(fake.api_url())
        .root_dir(fake.new_workdir());
    let e = ModalSandbox::create(config).await.expect_err("no token");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("MODAL_TOKEN_ID"), "{e}");
    assert!(e.message().contains("MODAL_TOKEN_SECRET"), "{e}");
    assert_eq!(fake.calls("AppGetOrCreate"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_terminates_the_sandbox_and_its_files() {
    let fake = FakeModal::start().await;
    let config = config(&fake);
    let sandbox = ModalSandbox::create(config).await.expect("create");
    let root = sandbox.root_dir().to_owned();
    sandbox.write_str("/a.txt", "x").await.expect("write");
    assert!(std::path::Path::new(&root).join("a.txt").exists());
    sandbox.close().await.expect("close");
    assert_eq!(fake.live_sandboxes(), 0);
    assert!(
        !std::path::Path::new(&root).exists(),
        "the fake removes a terminated sandbox's files"
    );
    sandbox.close().await.expect("a second close is a no-op");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_larger_than_one_stdin_chunk_round_trip() {
    let fake = FakeModal::start().await;
    let sandbox = ModalSandbox::create(config(&fake)).await.expect("create");
    let content: Vec<u8> = (0..3 * 1024 * 1024 + 17)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    sandbox
        .write("/big.bin", content.clone())
        .await
        .expect("write");
    assert_eq!(sandbox.read_bytes("/big.bin").await.expect("read"), content);
    sandbox.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_get_a_modal_side_deadline_as_a_backstop() {
    let fake = FakeModal::start().await;
    let sandbox = ModalSandbox::create(config(&fake)).await.expect("create");
    let out = sandbox
        .execute(ExecRequest::new("echo hi").timeout(Duration::from_secs(7)))
        .await
        .expect("run");
    assert_eq!(out.stdout_text(), "hi\n");
    let execs = fake.execs();
    let user = execs
        .iter()
        .find(|e| e.args.last().is_some_and(|line| line.contains("echo hi")))
        .expect("the exec of the command");
    assert_eq!(
        user.timeout_secs,
        Some(9),
        "the caller's deadline plus a margin"
    );
    sandbox.close().await.expect("close");
}

#[test]
fn config_debug_never_shows_the_secret() {
    let config = ModalConfig::new("ak-id", "as-top-secret");
    assert!(!format!("{config:?}").contains("as-top-secret"));
}
