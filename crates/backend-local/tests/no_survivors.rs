//! No process a command starts outlives its `execute` call: not a `setsid`
//! one, not a double-forked `nohup … &` daemon, not one ignoring `SIGTERM`,
//! neither after a normal exit nor after the timeout.
#![cfg(feature = "local-exec")]

use std::time::Duration;

use backend_core::{ErrorKind, ExecEvent, ExecRequest, Sandbox};
use backend_local::LocalSandbox;
use futures::StreamExt;

/// Pids of live processes whose command line holds `marker`. Panics when
/// `/proc` cannot be read (or does not even show this test), so a missing
/// `/proc` fails the test instead of counting zero.
fn survivors(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut saw_myself = false;
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc must be readable to count processes") {
        let entry = entry.expect("a /proc entry");
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if pid == me {
            saw_myself = !cmdline.is_empty();
            continue;
        }
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(marker) {
            found.push(pid);
        }
    }
    assert!(saw_myself, "/proc does not show this process: cannot count");
    found
}

/// Kills what a failing test left behind, so it does not linger either.
fn reap(pids: &[i32]) {
    for pid in pids {
        if let Some(p) = rustix::process::Pid::from_raw(*pid) {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
    }
}

fn assert_none_left(marker: &str, case: &str) {
    let left = survivors(marker);
    reap(&left);
    assert!(left.is_empty(), "{case}: {left:?} outlived the call");
}

async fn run(command: &str) -> backend_core::ExecOutput {
    let sb = LocalSandbox::temporary().expect("sandbox");
    let out = sb
        .execute(ExecRequest::new(command).timeout(Duration::from_secs(10)))
        .await
        .expect("execute");
    // Still open: the sandbox's drop must not be what kills them.
    std::mem::forget(sb);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setsid_process_does_not_outlive_a_normal_exit() {
    let out = run("setsid sleep 1234.51 > /dev/null 2>&1 &").await;
    assert_eq!(out.exit_code(), Some(0));
    assert_none_left("sleep 1234.51", "setsid");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_double_forked_nohup_daemon_does_not_outlive_a_normal_exit() {
    let out = run("sh -c 'nohup sleep 1234.52 > /dev/null 2>&1 &'; echo started").await;
    assert_eq!(out.stdout_text(), "started\n");
    assert_none_left("sleep 1234.52", "nohup double fork");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sigterm_ignoring_daemon_does_not_outlive_a_normal_exit() {
    run("(trap '' TERM HUP INT; setsid sh -c 'trap \"\" TERM; sleep 1234.53' > /dev/null 2>&1 &) ")
        .await;
    assert_none_left("sleep 1234.53", "SIGTERM ignored");
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_outlives_a_timeout() {
    let sb = LocalSandbox::temporary().expect("sandbox");
    let out = sb
        .execute(
            ExecRequest::new(
                "setsid sh -c 'trap \"\" TERM; sleep 1234.54' > /dev/null 2>&1 & \
                 sh -c 'nohup sleep 1234.54 > /dev/null 2>&1 &'; sleep 30",
            )
            .timeout(Duration::from_millis(500)),
        )
        .await
        .expect("execute");
    assert!(out.status.timed_out, "{:?}", out.status);
    assert_none_left("sleep 1234.54", "timeout");
    drop(sb);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_kills_daemons_of_a_running_command() {
    let sb = LocalSandbox::temporary().expect("sandbox");
    let mut stream = sb
        .execute_stream(ExecRequest::new(
            "setsid sleep 1234.55 > /dev/null 2>&1 & echo up; sleep 30",
        ))
        .await
        .expect("stream");
    let Some(Ok(ExecEvent::Stdout(_))) = stream.next().await else {
        panic!("expected the first line");
    };
    // The shell's own command line holds the marker too.
    assert!(!survivors("sleep 1234.55").is_empty(), "the daemon started");
    sb.close().await.expect("close");
    assert_none_left("sleep 1234.55", "close");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_kills_its_supervisor_gets_an_error_not_a_silent_survivor() {
    let sb = LocalSandbox::temporary().expect("sandbox");
    let err = sb
        .execute(ExecRequest::new(
            "(setsid sleep 1234.56 > /dev/null 2>&1 &); kill -9 $PPID; sleep 5",
        ))
        .await
        .expect_err("an escaped process is reported");
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(err.to_string().contains("supervisor"), "{err}");
    // The escaped daemon is the test's to clean up.
    reap(&survivors("sleep 1234.56"));
}
