//! End to end with a real MCP client that is not ours: the official Python
//! SDK (`mcp` on PyPI) drives the `agent-backend` binary over stdio and over
//! streamable HTTP, lists the tools and calls each one
//! (`tests/e2e/mcp_client.py` holds the checks).
//!
//! The harness installs the SDK into a virtual environment under the target
//! directory the first time. It needs `python3` with the `venv` module and
//! access to PyPI; without them the tests fail saying what to install.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The SDK version the checks were written against.
const MCP_PACKAGE: &str = "mcp==2.3.0";

const BINARY: &str = env!("CARGO_BIN_EXE_agent-backend");

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/mcp_client.py")
}

/// The venv's python, creating the venv and installing the SDK if needed.
fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(prepare_venv) {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

fn prepare_venv() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mcp-e2e-venv");
    let python = venv.join("bin/python");
    let has_sdk = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import mcp, importlib.metadata as m; assert m.version('mcp') == '2.3.0'",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && has_sdk(&python) {
        return Ok(python);
    }
    let created = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .output()
        .map_err(|e| {
            format!("the external MCP client tests need python3 (install it: apt-get install -y python3 python3-venv): {e}")
        })?;
    if !created.status.success() {
        return Err(format!(
            "`python3 -m venv {}` failed (install the venv module: apt-get install -y python3-venv): {}",
            venv.display(),
            String::from_utf8_lossy(&created.stderr)
        ));
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MCP_PACKAGE,
        ])
        .output()
        .map_err(|e| format!("cannot run pip in {}: {e}", venv.display()))?;
    if !installed.status.success() || !has_sdk(&python) {
        return Err(format!(
            "installing the Python MCP SDK ({MCP_PACKAGE}) from PyPI into {} failed; check network access to PyPI: {}",
            venv.display(),
            String::from_utf8_lossy(&installed.stderr)
        ));
    }
    Ok(python)
}

/// Runs the client script; returns its transcript (stdout), failing the test
/// with the script's own message when a check fails.
fn run_client(args: &[&str]) -> String {
    let output = Command::new(python())
        .arg(client_script())
        .args(args)
        .output()
        .expect("running the Python MCP client");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python MCP client failed ({}):\n--- transcript ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("\"kind\": \"done\""),
        "no end of session in:\n{stdout}"
    );
    stdout
}

/// A server started with `serve --http 127.0.0.1:0`, killed on drop.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(dir: &Path, args: &[&str]) -> HttpServer {
        let mut child = Command::new(BINARY)
            .current_dir(dir)
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting agent-backend serve --http");
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        // Reads stderr for the whole run so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("agent-backend: MCP over HTTP at ") {
                    let _ = sender.send(url.to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(url) = receiver.recv_timeout(Duration::from_millis(100)) {
                break url;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("agent-backend serve --http exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "agent-backend did not report its HTTP address within 30 s"
            );
        };
        HttpServer { child, url }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[test]
fn stdio_session_lists_the_tools_and_calls_each_one() {
    let dir = temp_dir();
    let dir_str = dir.path().to_str().expect("a UTF-8 temp path");
    let transcript = run_client(&[
        "stdio",
        dir_str,
        BINARY,
        "--sandbox",
        "local",
        "--structured-content",
    ]);
    for tool in [
        "ls",
        "read_file",
        "write_file",
        "edit_file",
        "delete",
        "glob",
        "grep",
        "execute",
    ] {
        assert!(
            transcript.contains(&format!("\"kind\": \"call\", \"tool\": \"{tool}\"")),
            "{tool} was not called:\n{transcript}"
        );
    }
}

#[test]
fn serve_without_flags_uses_a_workspace_directory_and_offers_no_execute() {
    let dir = temp_dir();
    let dir_str = dir.path().to_str().expect("a UTF-8 temp path");
    // The script checks that exactly the file tools are listed (no execute),
    // with text results and no structuredContent or outputSchema.
    run_client(&["stdio", dir_str, BINARY]);
    assert!(
        dir.path().join("workspace").is_dir(),
        "serve did not create ./workspace"
    );
}

#[test]
fn http_session_lists_the_tools_and_calls_each_one() {
    let dir = temp_dir();
    let server = HttpServer::start(
        dir.path(),
        &["--backend", "state://", "--structured-content"],
    );
    let transcript = run_client(&["http", &server.url]);
    assert!(transcript.contains("\"kind\": \"list_tools\""));
}

#[test]
fn fifty_parallel_calls_over_one_http_session_complete_correctly() {
    let dir = temp_dir();
    let server = HttpServer::start(
        dir.path(),
        &["--backend", "file://./files", "--structured-content"],
    );
    let transcript = run_client(&["http-parallel", &server.url, "50"]);
    assert!(
        transcript.contains("\"kind\": \"parallel\""),
        "{transcript}"
    );
    let written = std::fs::read_dir(dir.path().join("files/p"))
        .expect("the parallel writes' directory")
        .count();
    assert_eq!(written, 50);
}
