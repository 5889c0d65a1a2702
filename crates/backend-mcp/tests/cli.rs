//! The `agent-backend call` and `tools` subcommands, as a script uses them.

use std::path::Path;
use std::process::{Command, Output};

const BINARY: &str = env!("CARGO_BIN_EXE_agent-backend");

fn agent_backend(dir: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running agent-backend")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn call_runs_one_tool_against_the_workspace_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(dir.path().join("workspace/src")).expect("mkdir");
    std::fs::write(dir.path().join("workspace/src/a.rs"), "// TODO: test\n").expect("seed");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "grep",
            r#"{"pattern":"TODO","output_mode":"content"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "/src/a.rs:1:// TODO: test\n");
}

#[test]
fn call_with_json_prints_the_structured_result() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "--json",
            "write_file",
            r#"{"file_path":"/n.txt","content":"abc"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(value["bytes_written"], 3);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("workspace/n.txt")).expect("written"),
        "abc"
    );
}

#[test]
fn a_failing_call_prints_the_error_line_and_exits_non_zero() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &["call", "read_file", r#"{"file_path":"/missing"}"#],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Error [file_not_found]: /missing"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn arguments_that_are_not_json_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(dir.path(), &["call", "ls", "{path: /}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));
}

#[test]
fn read_only_offers_only_the_reading_tools() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &["tools", "--read-only", "--backend", "state://"],
    );
    assert!(out.status.success(), "{out:?}");
    let tools: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let names: Vec<&str> = tools
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["ls", "read_file", "glob", "grep"]);
}

#[test]
fn a_config_file_sets_permission_rules() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "backend = \"file://./ws\"\n[permissions]\nrules = [{ action = \"deny\", operations = [\"write\"], path = \"/locked/**\" }]\n",
    )
    .expect("write config");
    let config = config.to_str().expect("UTF-8 path");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "--config",
            config,
            "write_file",
            r#"{"file_path":"/locked/a","content":"x"}"#,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("Error [permission_denied]: "),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("/locked/**"));
    assert!(!dir.path().join("ws/locked/a").exists());
}

#[test]
fn an_unknown_backend_scheme_is_refused_with_the_supported_ones() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(dir.path(), &["call", "--backend", "ftp://x", "ls"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ftp://"), "{stderr}");
}

#[test]
fn a_composite_config_routes_a_prefix_to_its_own_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        "[backend]\ndefault = \"file://./main\"\n[backend.routes]\n\"/memories/\" = \"file://./memories\"\n",
    )
    .expect("write config");
    let config = config.to_str().expect("UTF-8 path");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "--config",
            config,
            "write_file",
            r#"{"file_path":"/memories/m.md","content":"kept"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("memories/m.md")).expect("routed"),
        "kept"
    );
    assert!(!dir.path().join("main/memories").exists());
}

#[test]
fn a_backend_that_runs_commands_offers_execute() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "--backend",
            "file://./ws?exec=true",
            "execute",
            r#"{"command":"echo hi > out.txt; pwd"}"#,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("Exit code: 0"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ws/out.txt")).expect("written by the command"),
        "hi\n"
    );
}

#[test]
fn a_sandbox_location_together_with_a_backend_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &[
            "call",
            "--backend",
            "state://",
            "--sandbox",
            "docker://alpine",
            "ls",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
}

#[test]
fn the_local_sandbox_needs_a_directory_backend() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(
        dir.path(),
        &["call", "--backend", "state://", "--sandbox", "local", "ls"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("file://"));
}

/// Sends `signal` to the server and waits (at most 10 s) for it to exit.
fn stop_with(child: &mut std::process::Child, signal: &str) -> std::process::ExitStatus {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("polling the server") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("agent-backend did not exit within 10 s of {signal}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_stdio_server_exits_cleanly_on_sigint_even_with_stdin_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(BINARY)
        .current_dir(dir.path())
        .args(["serve", "--backend", "state://"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting the server");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = stop_with(&mut child, "-INT");
    assert!(status.success(), "{status}");
}

#[test]
fn an_http_server_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut child = Command::new(BINARY)
        .current_dir(dir.path())
        .args(["serve", "--backend", "state://", "--http", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting the server");
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = stop_with(&mut child, "-TERM");
    assert!(status.success(), "{status}");
}

#[test]
fn tools_lists_without_touching_the_disk() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = agent_backend(dir.path(), &["tools"]);
    assert!(out.status.success(), "{out:?}");
    let out = agent_backend(
        dir.path(),
        &["tools", "--sandbox", "local", "--structured-content"],
    );
    assert!(out.status.success(), "{out:?}");
    let tools: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let tools = tools.as_array().expect("an array");
    assert!(tools.iter().any(|t| t["name"] == "execute"), "{tools:?}");
    assert!(tools.iter().all(|t| t["output_schema"]["type"] == "object"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listing the directory")
        .collect();
    assert!(left.is_empty(), "tools created {left:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
