//! The server over stdio, spoken to line by line in raw JSON-RPC: what a
//! client gets for tool listings, calls and unknown tools, what appears on
//! stderr, and how fast a signal ends the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_agent-backend");

/// A running `agent-backend serve` with an initialised MCP session.
struct Session {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
    /// The `initialize` result.
    init: Value,
}

impl Session {
    fn start(dir: &std::path::Path, args: &[&str]) -> Session {
        let mut child = Command::new(BINARY)
            .current_dir(dir)
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting agent-backend serve");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut session = Session {
            child,
            stdin,
            stdout,
            next_id: 1,
            init: Value::Null,
        };
        let init = session.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "raw-test", "version": "0"},
            }),
        );
        session.init = init["result"].clone();
        session.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        session
    }

    fn send(&mut self, message: &Value) {
        writeln!(self.stdin, "{message}").expect("writing to the server");
        self.stdin.flush().expect("flushing to the server");
    }

    /// Sends a request and returns the whole response message.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let mut line = String::new();
            let read = self
                .stdout
                .read_line(&mut line)
                .expect("reading the server");
            assert!(
                read > 0,
                "the server closed stdout before answering {method}"
            );
            let message: Value = serde_json::from_str(&line).expect("a JSON-RPC line");
            if message["id"] == id {
                return message;
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    /// Closes stdin, waits for the exit and returns everything on stderr.
    fn finish(mut self) -> String {
        drop(self.stdin);
        let status = self.child.wait().expect("waiting for the server");
        assert!(status.success(), "{status}");
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .expect("piped stderr")
            .read_to_string(&mut stderr)
            .expect("reading stderr");
        stderr
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn results_are_text_only_by_default() {
    let dir = temp_dir();
    let mut session = Session::start(dir.path(), &["--backend", "state://"]);
    let listed = session.request("tools/list", json!({}));
    for tool in listed["result"]["tools"].as_array().expect("tools") {
        assert!(tool.get("outputSchema").is_none(), "{tool}");
    }
    let written = session.call(
        "write_file",
        json!({"file_path": "/a.txt", "content": "x\n"}),
    );
    assert_eq!(
        written["result"]["content"],
        json!([{"type": "text", "text": "Wrote 2 bytes to /a.txt\n"}])
    );
    assert!(
        written["result"].get("structuredContent").is_none(),
        "{written}"
    );
    let failed = session.call("read_file", json!({"file_path": "/missing"}));
    assert_eq!(failed["result"]["isError"], json!(true));
    assert!(
        failed["result"].get("structuredContent").is_none(),
        "{failed}"
    );
    session.finish();
}

#[test]
fn structured_content_comes_with_output_schemas_when_asked_for() {
    let dir = temp_dir();
    let mut session = Session::start(
        dir.path(),
        &["--backend", "state://", "--structured-content"],
    );
    let listed = session.request("tools/list", json!({}));
    for tool in listed["result"]["tools"].as_array().expect("tools") {
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
    }
    let written = session.call(
        "write_file",
        json!({"file_path": "/a.txt", "content": "x\n"}),
    );
    assert_eq!(
        written["result"]["structuredContent"],
        json!({"file_path": "/a.txt", "bytes_written": 2})
    );
    assert_eq!(
        written["result"]["content"][0]["text"],
        "Wrote 2 bytes to /a.txt\n"
    );
    // Errors match no output schema, so they carry none.
    let failed = session.call("read_file", json!({"file_path": "/missing"}));
    assert_eq!(failed["result"]["isError"], json!(true));
    assert!(
        failed["result"].get("structuredContent").is_none(),
        "{failed}"
    );
    session.finish();
}

#[test]
fn an_unknown_tool_is_a_json_rpc_error_naming_the_tools() {
    let dir = temp_dir();
    let mut session = Session::start(dir.path(), &["--backend", "state://"]);
    let response = session.call("no_such_tool", json!({}));
    assert!(response.get("result").is_none(), "{response}");
    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    let message = response["error"]["message"].as_str().expect("a message");
    assert!(
        message.contains("no_such_tool") && message.contains("read_file"),
        "{message}"
    );
    // execute is not offered without a sandbox: also a protocol error.
    let response = session.call("execute", json!({"command": "true"}));
    assert!(
        response["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no sandbox")),
        "{response}"
    );
    session.finish();
}

#[test]
fn the_instructions_describe_every_listed_tool() {
    let dir = temp_dir();
    for args in [
        &["--backend", "state://"][..],
        &["--backend", "ws", "--sandbox", "local"][..],
        &["--backend", "state://", "--read-only"][..],
    ] {
        let mut session = Session::start(dir.path(), args);
        let instructions = session.init["instructions"]
            .as_str()
            .expect("instructions")
            .to_owned();
        let listed = session.request("tools/list", json!({}));
        let names: Vec<String> = listed["result"]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .map(|t| t["name"].as_str().expect("a name").to_owned())
            .collect();
        assert!(!names.is_empty());
        for name in &names {
            assert!(
                instructions.contains(&format!("`{name}`")),
                "{name} missing from {instructions:?} ({args:?})"
            );
        }
        if !names.iter().any(|n| n == "execute") {
            assert!(!instructions.contains("`execute`"), "{instructions}");
        }
        session.finish();
    }
}

#[test]
fn stderr_stays_quiet_by_default_and_verbose_logs_each_call() {
    let dir = temp_dir();
    let mut session = Session::start(dir.path(), &["--backend", "state://"]);
    session.call("ls", json!({}));
    session.call("read_file", json!({"file_path": "/missing"}));
    let stderr = session.finish();
    assert_eq!(stderr, "", "a quiet server wrote to stderr");

    let mut session = Session::start(dir.path(), &["--backend", "state://", "-v"]);
    session.call("ls", json!({}));
    let stderr = session.finish();
    assert!(
        stderr.contains("INFO") && stderr.contains("tool call"),
        "{stderr}"
    );
}

#[test]
fn the_server_exits_within_50_ms_of_sigint() {
    let dir = temp_dir();
    let mut session = Session::start(dir.path(), &["--backend", "state://"]);
    // A call that has finished proves the session is up.
    session.call("ls", json!({}));
    let pid = session.child.id().to_string();
    let started = Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("running kill");
    assert!(sent.success());
    let status = session.child.wait().expect("waiting for the server");
    // Includes starting `kill` itself: the budget is for the server.
    let elapsed = started.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        elapsed < Duration::from_millis(50),
        "the server took {elapsed:?} to exit after SIGINT (clients send SIGTERM after 100 ms)"
    );
}

#[test]
fn the_server_requires_a_read_before_a_write_unless_told_not_to() {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.path().join("ws")).expect("mkdir");
    std::fs::write(dir.path().join("ws/a.txt"), "one\n").expect("seed");
    let mut session = Session::start(dir.path(), &["--backend", "ws"]);
    let edit = json!({"file_path": "/a.txt", "old_string": "one", "new_string": "two"});
    let refused = session.call("edit_file", edit.clone());
    let text = refused["result"]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert!(text.starts_with("Error [conflict]: "), "{text}");
    session.call("read_file", json!({"file_path": "/a.txt"}));
    let done = session.call("edit_file", edit);
    assert_eq!(done["result"]["isError"], json!(false), "{done}");
    session.finish();

    let mut session = Session::start(dir.path(), &["--backend", "ws", "--no-read-before-write"]);
    let done = session.call(
        "write_file",
        json!({"file_path": "/a.txt", "content": "x\n"}),
    );
    assert_eq!(done["result"]["isError"], json!(false), "{done}");
    session.finish();
}
