//! Command execution in sandboxes (docs/semantics.md, "Execution").
//!
//! Every case here needs the `execute` capability; the ones about chunks
//! arriving while a command runs also need `execute_streaming`.

use std::time::{Duration, Instant};

use backend_core::{BackendExt, ErrorKind, ExecEvent, ExecOutput, ExecRequest};
use futures::StreamExt;

use crate::Fixture;
use crate::check::{err_kind, ok};

/// Extra time allowed for starting a command (a container exec, an HTTP
/// round trip) on top of docs/semantics.md's "within a second of the deadline".
const START_ALLOWANCE: Duration = Duration::from_millis(500);

/// A request that runs `command` in the case root, which it creates.
async fn in_root(fx: &Fixture, command: &str) -> ExecRequest {
    fx.put(".keep", "").await;
    ExecRequest::new(command)
        .workdir(fx.root())
        .timeout(Duration::from_secs(60))
}

async fn run(fx: &Fixture, request: ExecRequest, rule: &str) -> ExecOutput {
    ok(fx.sandbox().execute(request).await, rule)
}

/// The exit code is reported, zero or not.
pub async fn exec_reports_exit_code(fx: &Fixture) {
    let rule = "semantics.md execute: returns the exit code";
    for (command, code) in [
        ("true", 0),
        ("false", 1),
        ("exit 3", 3),
        ("sh -c 'exit 42'", 42),
    ] {
        let out = run(fx, in_root(fx, command).await, rule).await;
        assert_eq!(out.exit_code(), Some(code), "{rule}: `{command}`");
        assert!(!out.timed_out(), "{rule}: `{command}` did not time out");
    }
}

/// Stdout and stderr come back separately.
pub async fn exec_separates_stdout_and_stderr(fx: &Fixture) {
    let rule = "semantics.md execute: returns stdout and stderr separately";
    let out = run(
        fx,
        in_root(fx, "echo to-out; echo to-err >&2; echo more-out").await,
        rule,
    )
    .await;
    assert_eq!(out.stdout_text(), "to-out\nmore-out\n", "{rule}");
    assert_eq!(out.stderr_text(), "to-err\n", "{rule}");
}

/// Output bytes come back exactly, including NUL and non-UTF-8 bytes.
pub async fn exec_output_is_exact_bytes(fx: &Fixture) {
    let rule = "semantics.md execute: stdout is returned as bytes";
    let out = run(fx, in_root(fx, r"printf 'a\000b\377\n'").await, rule).await;
    assert_eq!(out.stdout, b"a\0b\xff\n", "{rule}");
}

/// `env` adds variables to the command's environment.
pub async fn exec_passes_environment(fx: &Fixture) {
    let rule = "semantics.md execute: options include environment";
    let request = in_root(fx, r#"printf '%s|%s' "$CONFORMANCE_A" "$CONFORMANCE_B""#)
        .await
        .env("CONFORMANCE_A", "alpha")
        .env("CONFORMANCE_B", "two words = fine");
    let out = run(fx, request, rule).await;
    assert_eq!(out.stdout_text(), "alpha|two words = fine", "{rule}");
}

/// A file written with `write` is visible to a command (the virtual `/` is the work directory).
pub async fn exec_sees_files_written_with_write(fx: &Fixture) {
    let rule = "semantics.md execute: a file written with write is visible to a command";
    fx.put("data/in.txt", "from write\n").await;
    let out = run(fx, in_root(fx, "cat data/in.txt").await, rule).await;
    assert_eq!(out.stdout_text(), "from write\n", "{rule}");
    assert_eq!(out.exit_code(), Some(0), "{rule}: {}", out.stderr_text());
}

/// Without `workdir`, the command starts where the virtual `/` lives.
pub async fn exec_starts_at_virtual_root(fx: &Fixture) {
    let rule = "semantics.md execute: runs in the work directory where the virtual / lives";
    fx.put("a.txt", "at root\n").await;
    let relative = fx.path("a.txt").trim_start_matches('/').to_owned();
    let request = ExecRequest::new(format!("cat '{relative}'")).timeout(Duration::from_secs(60));
    let out = run(fx, request, rule).await;
    assert_eq!(
        out.stdout_text(),
        "at root\n",
        "{rule}: stderr {}",
        out.stderr_text()
    );
}

/// Files a command creates are visible to `read`, `ls` and `grep`.
pub async fn exec_files_created_visible_to_read(fx: &Fixture) {
    let rule = "semantics.md execute: files created by commands are visible to the file operations";
    let command = "mkdir -p made && printf 'one\\ntwo\\n' > made/out.txt";
    let out = run(fx, in_root(fx, command).await, rule).await;
    assert_eq!(out.exit_code(), Some(0), "{rule}: {}", out.stderr_text());
    let page = ok(fx.backend.read(&fx.path("made/out.txt"), 0, 10).await, rule);
    assert_eq!(page.content, "one\ntwo\n", "{rule}");
    let listed = ok(fx.backend.ls(&fx.path("made")).await, rule);
    assert_eq!(listed.len(), 1, "{rule}: ls");
    let hits = ok(
        fx.backend
            .grep(&backend_core::GrepRequest::new("two").path(fx.root()))
            .await,
        rule,
    );
    assert_eq!(hits.matches.len(), 1, "{rule}: grep");
}

/// `workdir` names a virtual subdirectory to run in.
pub async fn exec_runs_in_working_subdirectory(fx: &Fixture) {
    let rule = "semantics.md execute: options include a working subdirectory";
    fx.put("sub/dir/here.txt", "here\n").await;
    let request = ExecRequest::new("cat here.txt && basename \"$(pwd)\"")
        .workdir(fx.path("sub/dir"))
        .timeout(Duration::from_secs(60));
    let out = run(fx, request, rule).await;
    assert_eq!(
        out.stdout_text(),
        "here\ndir\n",
        "{rule}: stderr {}",
        out.stderr_text()
    );
}

/// A `workdir` with `..` is `invalid_path`.
pub async fn exec_workdir_traversal_is_invalid_path(fx: &Fixture) {
    let rule = "semantics.md Paths: a `..` segment is rejected with invalid_path (workdir too)";
    let request = in_root(fx, "pwd").await.workdir(fx.path("../.."));
    err_kind(
        fx.sandbox().execute(request).await,
        ErrorKind::InvalidPath,
        rule,
    );
}

/// An empty command is `invalid_argument`.
pub async fn exec_empty_command_is_invalid_argument(fx: &Fixture) {
    let rule = "ExecRequest::validate: an empty command → invalid_argument";
    err_kind(
        fx.sandbox().execute(ExecRequest::new("  ")).await,
        ErrorKind::InvalidArgument,
        rule,
    );
}

/// Given stdin bytes reach the command.
pub async fn exec_feeds_stdin(fx: &Fixture) {
    let rule = "semantics.md execute: options include stdin bytes";
    let out = run(
        fx,
        in_root(fx, "cat")
            .await
            .stdin(b"line one\nline two\n".to_vec()),
        rule,
    )
    .await;
    assert_eq!(out.stdout_text(), "line one\nline two\n", "{rule}");
    let out = run(
        fx,
        in_root(fx, "wc -l").await.stdin(b"a\nb\nc\n".to_vec()),
        rule,
    )
    .await;
    assert_eq!(out.stdout_text().trim(), "3", "{rule}");
}

/// Without stdin, stdin is closed: `cat` ends at once.
pub async fn exec_stdin_closed_unless_given(fx: &Fixture) {
    let rule = "semantics.md execute: stdin is closed unless given";
    let started = Instant::now();
    let request = in_root(fx, "cat; echo done")
        .await
        .timeout(Duration::from_secs(20));
    let out = run(fx, request, rule).await;
    assert!(
        !out.timed_out(),
        "{rule}: `cat` waited for input until the timeout"
    );
    assert_eq!(out.stdout_text(), "done\n", "{rule}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{rule}: `cat` took {:?}",
        started.elapsed()
    );
}

/// A timeout is a result with `timed_out`, not an error.
pub async fn exec_timeout_is_reported(fx: &Fixture) {
    let rule = "semantics.md execute: returns timed_out; a timeout is a result, not an error";
    let request = in_root(fx, "echo before; sleep 30")
        .await
        .timeout(Duration::from_secs(1));
    let out = run(fx, request, rule).await;
    assert!(out.timed_out(), "{rule}");
    assert!(
        !out.status.success(),
        "{rule}: a timed-out command is not a success"
    );
    assert_eq!(
        out.stdout_text(),
        "before\n",
        "{rule}: output before the deadline is kept"
    );
}

/// On timeout the whole tree dies (a background grandchild too) and the call
/// returns within a second of the deadline.
pub async fn exec_timeout_kills_process_tree(fx: &Fixture) {
    let rule = "semantics.md execute: on timeout the whole process tree is killed, and the call returns within a second of the deadline";
    let timeout = Duration::from_secs(1);
    // The grandchild keeps stdout open and would write a file after 3 s.
    let command = "(sleep 3; echo leaked > grandchild.txt) & sleep 30";
    let request = in_root(fx, command).await.timeout(timeout);
    let started = Instant::now();
    let out = run(fx, request, rule).await;
    let took = started.elapsed();
    assert!(out.timed_out(), "{rule}: timed_out must be set");
    assert!(
        took <= timeout + Duration::from_secs(1) + START_ALLOWANCE,
        "{rule}: returned after {took:?} with a {timeout:?} timeout"
    );
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(started.elapsed())).await;
    let leaked = ok(fx.backend.exists(&fx.path("grandchild.txt")).await, rule);
    assert!(
        !leaked,
        "{rule}: the background grandchild survived the timeout and wrote its file"
    );
}

/// Output beyond the cap is dropped and flagged, per stream.
pub async fn exec_output_cap_truncates(fx: &Fixture) {
    let rule = "semantics.md execute: output beyond the cap is dropped; truncated is set";
    let command = "head -c 200000 /dev/zero | tr '\\0' o; head -c 300 /dev/zero | tr '\\0' e >&2";
    let out = run(fx, in_root(fx, command).await.output_limit(1000), rule).await;
    assert_eq!(out.stdout.len(), 1000, "{rule}: stdout is cut at the cap");
    assert!(
        out.stdout.iter().all(|&b| b == b'o'),
        "{rule}: the kept part is the start"
    );
    assert!(out.status.stdout_truncated, "{rule}: stdout_truncated");
    assert_eq!(
        out.stderr.len(),
        300,
        "{rule}: stderr under its own cap is whole"
    );
    assert!(
        !out.status.stderr_truncated,
        "{rule}: stderr was not truncated"
    );
    assert_eq!(
        out.exit_code(),
        Some(0),
        "{rule}: the command still runs to the end"
    );
}

/// Output under the cap is whole and not flagged.
pub async fn exec_output_under_cap_is_whole(fx: &Fixture) {
    let rule = "semantics.md execute: output within the cap is returned whole";
    let out = run(fx, in_root(fx, "seq 1 20000").await, rule).await;
    let expected: String = (1..=20000).map(|i| format!("{i}\n")).collect();
    assert!(
        out.stdout_text() == expected,
        "{rule}: {} bytes instead of {}",
        out.stdout.len(),
        expected.len()
    );
    assert!(!out.truncated(), "{rule}");
}

/// The name of a variable set in this (host) process for the secrets case.
pub const HOST_SECRET_VAR: &str = "CONFORMANCE_HOST_SECRET";

fn plant_host_secret() -> &'static str {
    static PLANTED: std::sync::Once = std::sync::Once::new();
    const VALUE: &str = "host-secret-9f1c2e";
    PLANTED.call_once(|| {
        if std::env::var(HOST_SECRET_VAR).is_err() {
            // SAFETY: set once, before the command under test starts; nothing in
            // this suite reads the environment from another thread through libc
            // at the same time (std's own accesses are serialised by std).
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(HOST_SECRET_VAR, VALUE)
            };
        }
    });
    VALUE
}

/// A command does not inherit the host's environment (its secrets).
pub async fn exec_does_not_inherit_host_secrets(fx: &Fixture) {
    let rule = "semantics.md execute: a command never inherits the host's secrets";
    let value = plant_host_secret();
    let out = run(fx, in_root(fx, "env").await, rule).await;
    let seen = out.stdout_text();
    assert!(
        !seen.contains(HOST_SECRET_VAR),
        "{rule}: {HOST_SECRET_VAR} reached the command"
    );
    assert!(
        !seen.contains(value),
        "{rule}: the host secret's value reached the command"
    );
    for (name, host_value) in std::env::vars() {
        let secret_like = ["SECRET", "TOKEN", "PASSWORD", "API_KEY", "ACCESS_KEY"]
            .iter()
            .any(|word| name.to_uppercase().contains(word));
        if secret_like && host_value.len() >= 8 {
            assert!(
                !seen.contains(&host_value),
                "{rule}: the value of host variable {name} reached the command"
            );
        }
    }
}

/// `(stream, text)` runs of a streamed command, coalescing adjacent chunks of one stream.
async fn stream_runs(
    fx: &Fixture,
    request: ExecRequest,
    rule: &str,
) -> (Vec<(&'static str, String)>, usize, bool) {
    let mut stream = ok(fx.sandbox().execute_stream(request).await, rule);
    let mut runs: Vec<(&'static str, String)> = Vec::new();
    let (mut exits, mut exit_last) = (0, false);
    while let Some(event) = stream.next().await {
        let (name, bytes) = match ok(event, rule) {
            ExecEvent::Stdout(bytes) => ("stdout", bytes),
            ExecEvent::Stderr(bytes) => ("stderr", bytes),
            ExecEvent::Exit(_) => {
                exits += 1;
                exit_last = true;
                continue;
            }
            other => panic!("{rule}: unexpected event {other:?}"),
        };
        exit_last = false;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match runs.last_mut() {
            Some((last, acc)) if *last == name => acc.push_str(&text),
            _ => runs.push((name, text)),
        }
    }
    (runs, exits, exit_last)
}

/// A stream carries the output and ends with exactly one `Exit`.
pub async fn stream_ends_with_one_exit(fx: &Fixture) {
    let rule = "semantics.md execute: the streaming form yields output, then the exit status";
    let (runs, exits, exit_last) = stream_runs(
        fx,
        in_root(fx, "echo out; echo err >&2; exit 5").await,
        rule,
    )
    .await;
    assert_eq!(exits, 1, "{rule}: exactly one Exit");
    assert!(exit_last, "{rule}: Exit comes last");
    let text = |name: &str| -> String {
        runs.iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
            .collect()
    };
    assert_eq!(text("stdout"), "out\n", "{rule}");
    assert_eq!(text("stderr"), "err\n", "{rule}");
    let mut stream = ok(
        fx.sandbox()
            .execute_stream(in_root(fx, "exit 5").await)
            .await,
        rule,
    );
    let mut code = None;
    while let Some(event) = stream.next().await {
        if let ExecEvent::Exit(status) = ok(event, rule) {
            code = status.exit_code;
        }
    }
    assert_eq!(code, Some(5), "{rule}: the Exit event carries the code");
}

/// Chunks from both streams arrive in the order the command wrote them.
pub async fn stream_events_in_order(fx: &Fixture) {
    let rule =
        "semantics.md execute: the streaming form yields stdout and stderr chunks as they come";
    let command =
        "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three; sleep 0.3; echo four >&2";
    let (runs, exits, exit_last) = stream_runs(fx, in_root(fx, command).await, rule).await;
    let expected = [
        ("stdout", "one\n"),
        ("stderr", "two\n"),
        ("stdout", "three\n"),
        ("stderr", "four\n"),
    ];
    let got: Vec<(&str, &str)> = runs.iter().map(|(n, t)| (*n, t.as_str())).collect();
    assert_eq!(got, expected, "{rule}");
    assert!(exits == 1 && exit_last, "{rule}: one Exit, last");
}

/// The first chunk arrives while the command is still running.
pub async fn stream_yields_before_the_command_ends(fx: &Fixture) {
    let rule = "semantics.md execute: streaming yields chunks as they come, before the exit";
    let request = in_root(fx, "echo early; sleep 3; echo late").await;
    let started = Instant::now();
    let mut stream = ok(fx.sandbox().execute_stream(request).await, rule);
    let first = loop {
        match stream.next().await.map(|e| ok(e, rule)) {
            Some(ExecEvent::Stdout(bytes)) if !bytes.is_empty() => break Some(bytes),
            Some(ExecEvent::Exit(_)) | None => break None,
            Some(_) => {}
        }
    };
    let took = started.elapsed();
    assert_eq!(first.as_deref(), Some(&b"early\n"[..]), "{rule}");
    assert!(
        took < Duration::from_secs(2),
        "{rule}: the first chunk came after {took:?}, with the command sleeping 3 s"
    );
    while stream.next().await.is_some() {}
}
