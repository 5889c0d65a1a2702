//! Hostile commands: each runs in one user's sandbox while a second user's
//! sandbox must keep answering `echo` in under a second, and the hostile
//! sandbox stays usable afterwards.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use backend_core::{ErrorKind, ExecOutput, ExecRequest, Result, Sandbox};
use backend_docker::DockerSandbox;

/// One hostile command at a time: they compete for the same two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `command` in a fresh sandbox while a neighbour is pinged; returns
/// the outcome and the sandbox (still open) for checks afterwards.
async fn run_beside_neighbour(request: ExecRequest) -> (Result<ExecOutput>, DockerSandbox) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let hostile = common::sandbox().await;
    let neighbour = Arc::new(common::sandbox().await);
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let (neighbour, stop) = (neighbour.clone(), stop.clone());
        tokio::spawn(async move {
            let mut slowest = Duration::ZERO;
            let mut answers = 0;
            while !stop.load(Ordering::Acquire) {
                let started = Instant::now();
                let out = neighbour
                    .execute(ExecRequest::new("echo ok"))
                    .await
                    .expect("neighbour echo");
                assert_eq!(out.stdout_text(), "ok\n", "the neighbour answered");
                slowest = slowest.max(started.elapsed());
                answers += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (answers, slowest)
        })
    };
    let outcome = hostile.execute(request).await;
    stop.store(true, Ordering::Release);
    let (answers, slowest) = pinger.await.expect("pinger");
    neighbour.close().await.expect("closing the neighbour");
    assert!(answers >= 1, "the neighbour was asked at least once");
    assert!(
        slowest < Duration::from_secs(1),
        "the neighbour's slowest echo took {slowest:?}"
    );
    (outcome, hostile)
}

/// The hostile sandbox still runs commands, with none of the hostile
/// command's processes left.
async fn assert_usable_and_quiet(sandbox: &DockerSandbox) {
    let out = sandbox
        .execute(
            ExecRequest::new("echo alive; ps -o user | grep -c '^agent' ")
                .timeout(Duration::from_secs(20)),
        )
        .await
        .expect("the sandbox still runs commands");
    let text = out.stdout_text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("alive"));
    // The shell and ps/grep of this very command are the agent's only processes.
    let count: usize = lines
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(99);
    assert!(count <= 4, "{count} agent processes left: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_bomb_is_stopped_by_the_process_limit() {
    let request = ExecRequest::new("bomb() { bomb | bomb & }; bomb; sleep 30")
        .timeout(Duration::from_secs(5));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let out = outcome.expect("a fork bomb is a result, not an error");
    assert!(
        out.timed_out(),
        "the bomb ran until its timeout and was killed"
    );
    assert_usable_and_quiet(&sandbox).await;
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_hog_gets_an_out_of_memory_error() {
    let request = ExecRequest::new("awk 'BEGIN { s = \"xxxxxxxx\"; while (1) s = s s }'")
        .timeout(Duration::from_secs(60));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let e = outcome.expect_err("killed for memory");
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
    assert!(e.message().contains("out of memory"), "{e}");
    assert!(
        sandbox.is_healthy().await,
        "the container survived its command's OOM kill"
    );
    assert_usable_and_quiet(&sandbox).await;
    let fine = sandbox
        .execute(ExecRequest::new("sh -c 'kill -9 $$'"))
        .await
        .unwrap();
    assert_eq!(
        fine.exit_code(),
        Some(137),
        "a later kill is not mistaken for OOM"
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gibibyte_of_output_is_capped() {
    let request = ExecRequest::new("head -c 1073741824 /dev/zero; echo done >&2")
        .timeout(Duration::from_secs(300));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let out = outcome.expect("a result");
    assert_eq!(
        out.stdout.len(),
        1024 * 1024,
        "kept exactly the default cap"
    );
    assert!(out.status.stdout_truncated);
    assert_eq!(out.stderr_text(), "done\n");
    assert_eq!(out.exit_code(), Some(0));
    assert_usable_and_quiet(&sandbox).await;
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn filling_tmp_stops_at_its_size_cap() {
    let request = ExecRequest::new(
        "dd if=/dev/zero of=/tmp/fill bs=1M count=1024; echo exit=$?; du -m /tmp/fill | cut -f1",
    )
    .timeout(Duration::from_secs(60));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let out = outcome.expect("a result");
    assert!(
        out.stderr_text().contains("No space left"),
        "{}",
        out.stderr_text()
    );
    let text = out.stdout_text();
    assert!(text.starts_with("exit=1\n"), "{text}");
    let used: u64 = text
        .lines()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(used <= 64, "/tmp holds {used} MiB, over its 64 MiB cap");
    assert_usable_and_quiet(&sandbox).await;
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_network_connection_attempt_fails() {
    let request =
        ExecRequest::new("ls /sys/class/net; wget -T 3 -q -O - http://1.1.1.1/ ; echo exit=$?")
            .timeout(Duration::from_secs(30));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let out = outcome.expect("a result");
    let text = out.stdout_text();
    assert_eq!(text.lines().next(), Some("lo"), "only loopback: {text}");
    assert!(
        !text.contains("exit=0"),
        "the connection failed: {text} {}",
        out.stderr_text()
    );
    assert_usable_and_quiet(&sandbox).await;
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_ignoring_sigterm_is_killed_at_its_timeout() {
    let request =
        ExecRequest::new("trap '' TERM; while :; do sleep 1; done").timeout(Duration::from_secs(2));
    let (outcome, sandbox) = run_beside_neighbour(request).await;
    let out = outcome.expect("a timeout is a result");
    assert!(out.timed_out());
    assert_eq!(out.status.signal, Some(9));
    // The command's own time (start to killed), not the sandboxes' creation,
    // which a loaded engine can stretch.
    assert!(
        out.status.duration < Duration::from_secs(10),
        "the kill took until {:?}",
        out.status.duration
    );
    assert_usable_and_quiet(&sandbox).await;
    sandbox.close().await.unwrap();
}
