//! `LocalSandbox`: host execution with the guarantees docs/semantics.md asks for.
#![cfg(feature = "local-exec")]

use std::time::{Duration, Instant};

use backend_core::{Backend, BackendExt, ErrorKind, ExecEvent, ExecRequest, Sandbox};
use backend_local::{LocalBackend, LocalSandbox, Rlimits, SandboxOptions};
use futures::StreamExt;

fn sandbox() -> LocalSandbox {
    LocalSandbox::temporary().expect("sandbox")
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks existence; a zombie is reaped by init soon after.
    rustix::process::test_kill_process(rustix::process::Pid::from_raw(pid).expect("pid")).is_ok()
}

async fn wait_dead(pid: i32) -> bool {
    for _ in 0..50 {
        if !alive(pid) || is_zombie(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Whether a process that answers signal 0 is a zombie; an unreadable
/// `/proc` fails the test rather than counting the process dead.
fn is_zombie(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        // It ended between the signal and the read.
        Err(_) if !alive(pid) => true,
        Err(e) => panic!("cannot read /proc/{pid}/stat to tell whether it runs: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_in_the_root_and_sees_written_files() {
    let sb = sandbox();
    sb.write_str("/sub/a.txt", "hello").await.unwrap();
    let out = sb
        .execute(ExecRequest::new("cat sub/a.txt; pwd"))
        .await
        .unwrap();
    let root = sb.backend().root_path();
    assert_eq!(out.stdout_text(), format!("hello{}\n", root.display()));
    let out = sb
        .execute(ExecRequest::new("cat a.txt").workdir("/sub"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "hello");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_environment_does_not_leak() {
    #[allow(unsafe_code)]
    // SAFETY: nothing else in this test binary reads or writes this variable,
    // and the process environment is only read by the spawn below.
    unsafe {
        std::env::set_var("BACKEND_LOCAL_TEST_SECRET", "hunter2");
    }
    let sb = LocalSandbox::with_backend(
        LocalBackend::temporary().unwrap(),
        SandboxOptions::default().env("FROM_OPTIONS", "o"),
    )
    .unwrap();
    let out = sb
        .execute(ExecRequest::new("env").env("FROM_REQUEST", "r"))
        .await
        .unwrap();
    let env = out.stdout_text();
    assert!(!env.contains("hunter2"), "{env}");
    assert!(
        env.contains("FROM_REQUEST=r") && env.contains("FROM_OPTIONS=o"),
        "{env}"
    );
    assert!(
        env.contains("PATH=") && env.contains("HOME=") && env.contains("LANG=C.UTF-8"),
        "{env}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_closed_unless_given() {
    let sb = sandbox();
    let out = sb
        .execute(ExecRequest::new("cat; echo done").timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "done\n");
    assert!(!out.timed_out());
    let out = sb
        .execute(ExecRequest::new("tr a-z A-Z").stdin("shout"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "SHOUT");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_beyond_the_cap_is_dropped_while_the_command_runs_on() {
    let sb = sandbox();
    let out = sb
        .execute(
            ExecRequest::new("head -c 5000000 /dev/zero; echo err >&2; exit 4").output_limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout.len(), 1000);
    assert!(out.status.stdout_truncated);
    assert!(!out.status.stderr_truncated);
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit_code(), Some(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_kills_the_whole_group_and_returns_promptly() {
    let sb = sandbox();
    let started = Instant::now();
    let out = sb
        .execute(
            ExecRequest::new("sleep 30 & echo $! > bg.pid; sleep 30")
                .timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(out.timed_out());
    assert!(
        took < Duration::from_millis(1500),
        "returned {took:?} after start"
    );
    let pid: i32 = sb
        .read_to_string("/bg.pid")
        .await
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_dead(pid).await,
        "the background sleep survived the timeout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grandchild_outside_the_group_holding_the_pipes_does_not_delay_the_timeout() {
    let sb = sandbox();
    let started = Instant::now();
    let out = sb
        .execute(ExecRequest::new("setsid sleep 3 & sleep 30").timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    assert!(out.timed_out());
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn background_processes_do_not_outlive_the_command() {
    let sb = sandbox();
    let out = sb
        .execute(ExecRequest::new("sleep 30 & echo $!"))
        .await
        .unwrap();
    let pid: i32 = out.stdout_text().trim().parse().unwrap();
    assert!(
        wait_dead(pid).await,
        "the background process was left running"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_streams_before_the_command_ends() {
    let sb = sandbox();
    let started = Instant::now();
    let mut stream = sb
        .execute_stream(ExecRequest::new("echo first; sleep 1; echo second"))
        .await
        .unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, ExecEvent::Stdout(b"first\n".to_vec()));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    while let Some(event) = stream.next().await {
        rest.push(event.unwrap());
    }
    assert_eq!(rest[0], ExecEvent::Stdout(b"second\n".to_vec()));
    assert!(matches!(rest.last(), Some(ExecEvent::Exit(s)) if s.exit_code == Some(0)));
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_stream_kills_the_command() {
    let sb = sandbox();
    let mut stream = sb
        .execute_stream(ExecRequest::new("echo $$; sleep 30"))
        .await
        .unwrap();
    let Some(Ok(ExecEvent::Stdout(pid))) = stream.next().await else {
        panic!("expected the pid first");
    };
    let pid: i32 = String::from_utf8(pid).unwrap().trim().parse().unwrap();
    drop(stream);
    assert!(
        wait_dead(pid).await,
        "the command outlived its dropped stream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn close_and_drop_kill_running_commands() {
    for close in [true, false] {
        let sb = sandbox();
        let mut stream = sb
            .execute_stream(ExecRequest::new("echo $$; sleep 30"))
            .await
            .unwrap();
        let Some(Ok(ExecEvent::Stdout(pid))) = stream.next().await else {
            panic!("expected the pid first");
        };
        let pid: i32 = String::from_utf8(pid).unwrap().trim().parse().unwrap();
        if close {
            sb.close().await.unwrap();
            let err = sb.execute(ExecRequest::new("true")).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unavailable);
        } else {
            drop(sb);
        }
        assert!(wait_dead(pid).await, "close={close}: the command survived");
        drop(stream);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_signals_are_reported() {
    let sb = sandbox();
    assert_eq!(
        sb.execute(ExecRequest::new("exit 3"))
            .await
            .unwrap()
            .exit_code(),
        Some(3)
    );
    let out = sb.execute(ExecRequest::new("kill -9 $$")).await.unwrap();
    assert_eq!((out.exit_code(), out.status.signal), (None, Some(9)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_size_rlimit_stops_large_writes() {
    let sb = LocalSandbox::with_backend(
        LocalBackend::temporary().unwrap(),
        SandboxOptions::default().rlimits(Rlimits::default().file_size(4096)),
    )
    .unwrap();
    let out = sb
        .execute(ExecRequest::new(
            "head -c 100000 /dev/zero > big; echo rc=$?",
        ))
        .await
        .unwrap();
    let size = sb.stat("/big").await.unwrap().size.unwrap();
    assert!(size <= 4096, "wrote {size} bytes past the limit");
    assert!(!out.stdout_text().contains("rc=0"), "{}", out.stdout_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_typed_errors() {
    let sb = sandbox();
    let empty = sb.execute(ExecRequest::new("  ")).await.unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument);
    let missing = sb
        .execute(ExecRequest::new("true").workdir("/nope"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::FileNotFound);
    let escape = sb
        .execute(ExecRequest::new("true").workdir("/../x"))
        .await
        .unwrap_err();
    assert_eq!(escape.kind(), ErrorKind::InvalidPath);
    std::os::unix::fs::symlink("/etc", sb.backend().root_path().join("etc")).unwrap();
    let outward = sb
        .execute(ExecRequest::new("true").workdir("/etc"))
        .await
        .unwrap_err();
    assert_eq!(outward.kind(), ErrorKind::PermissionDenied);
    let overlay = LocalSandbox::with_backend(
        LocalBackend::overlay(sb.backend().root_path()).unwrap(),
        SandboxOptions::default(),
    )
    .unwrap_err();
    assert_eq!(overlay.kind(), ErrorKind::InvalidArgument);
}
