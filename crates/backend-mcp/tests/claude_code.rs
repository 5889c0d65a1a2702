//! End to end with the real Claude Code CLI (npm `@anthropic-ai/claude-code`):
//! `claude -p` runs our server over stdio as an MCP server, talks to a fake
//! Messages API on loopback (`claude_code/fake_api.rs`) that scripts calls
//! of our tools, and the test checks the tool results the CLI handed back
//! to the "model": they must be the designed text (line numbers, the paging
//! hint, cut notes), not JSON.
//!
//! The CLI is looked up in `$CLAUDE_CODE_BIN`, else in
//! `<target dir>/claude-code/node_modules/.bin/claude` (where `cargo xtask ci`
//! installs it). Without it the test fails saying how to install it. All
//! traffic besides loopback is sent to a dead proxy, so nothing leaves the
//! machine.

#[path = "claude_code/fake_api.rs"]
mod fake_api;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fake_api::{FakeApi, Step, ToolResult};
use serde_json::json;

/// The CLI version the test was written against (the one `cargo xtask ci` installs).
const CLAUDE_CODE_PACKAGE: &str = "@anthropic-ai/claude-code@2.1.197";

const BINARY: &str = env!("CARGO_BIN_EXE_agent-backend");

/// The MCP server's name in the CLI's config; tools are `mcp__ab__NAME`.
const SERVER: &str = "ab";

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf()
}

fn claude_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("CLAUDE_CODE_BIN") {
        return PathBuf::from(path);
    }
    let install = target_dir().join("claude-code");
    let cli = install.join("node_modules/.bin/claude");
    assert!(
        cli.exists(),
        "the Claude Code CLI is not installed at {}; install it with\n  npm install --no-audit --no-fund --prefix {} {CLAUDE_CODE_PACKAGE}\n(or point CLAUDE_CODE_BIN at a `claude` binary); `cargo xtask ci` does this",
        cli.display(),
        install.display()
    );
    cli
}

fn tool(name: &str) -> String {
    format!("mcp__{SERVER}__{name}")
}

/// Runs `claude -p` against `api` with our server over stdio; returns its
/// combined output for failure messages.
async fn run_claude(
    api: &FakeApi,
    home: &Path,
    workspace: &Path,
    config: &Path,
    extra_args: &[&str],
) -> String {
    let mut args = vec![
        json!("serve"),
        json!("--config"),
        json!(config),
        json!("--backend"),
        json!(workspace),
        json!("--sandbox"),
        json!("local"),
    ];
    args.extend(extra_args.iter().map(|a| json!(a)));
    let mcp_config = json!({"mcpServers": {SERVER: {
        "type": "stdio",
        "command": BINARY,
        "args": args,
    }}});
    let mcp_config_path = home.join("mcp.json");
    std::fs::write(&mcp_config_path, mcp_config.to_string()).expect("writing the MCP config");
    let allowed = ["read_file", "grep", "execute"].map(tool).join(",");
    let mut command = tokio::process::Command::new(claude_cli());
    command
        .current_dir(home)
        .args([
            "-p",
            "Use the tools as scripted.",
            "--bare",
            "--strict-mcp-config",
        ])
        .arg("--mcp-config")
        .arg(&mcp_config_path)
        .args(["--allowedTools", &allowed, "--output-format", "text"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join(".claude"))
        .env("ANTHROPIC_BASE_URL", format!("http://{}", api.addr))
        .env("ANTHROPIC_API_KEY", "sk-ant-fake-key-for-tests")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("IS_SANDBOX", "1")
        // Anything that is not loopback goes to a port nobody listens on.
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("claude -p did not finish within 180 s")
        .expect("running the Claude Code CLI");
    let transcript = format!(
        "claude exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- fake API ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        api.describe()
    );
    assert!(output.status.success(), "{transcript}");
    transcript
}

fn result<'a>(results: &'a [ToolResult], step: usize, transcript: &str) -> &'a ToolResult {
    results
        .iter()
        .find(|r| r.step == step)
        .unwrap_or_else(|| panic!("no tool result for step {step}; got {results:?}\n{transcript}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_shows_the_model_the_text_of_our_tool_results() {
    let home = tempfile::tempdir().expect("a temporary home");
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("mkdir workspace");
    std::fs::write(
        workspace.join("notes.txt"),
        "alpha\nbeta\ngamma\ndelta\nepsilon\n",
    )
    .expect("seed notes");
    let many: String = (0..200).map(|i| format!("match line {i}\n")).collect();
    std::fs::write(workspace.join("many.txt"), many).expect("seed many");
    let config = home.path().join("agent.toml");
    std::fs::write(&config, "[limits]\nmax_output_chars = 400\n").expect("writing the config");

    let script = vec![
        Step {
            tool: tool("read_file"),
            input: json!({"file_path": "/notes.txt", "limit": 2}),
        },
        Step {
            tool: tool("grep"),
            input: json!({"pattern": "match line", "output_mode": "content"}),
        },
        Step {
            tool: tool("execute"),
            input: json!({"command": "echo building; echo 'error: it broke' >&2; exit 3"}),
        },
        Step {
            tool: tool("read_file"),
            input: json!({"file_path": "/missing.txt"}),
        },
    ];
    let api = FakeApi::start(script).await;
    let transcript = run_claude(&api, home.path(), &workspace, &config, &[]).await;
    let results = api.results();
    for r in &results {
        eprintln!(
            "step {} (is_error {}): {}",
            r.step,
            r.is_error,
            serde_json::to_string(&r.raw).unwrap_or_default()
        );
    }

    let read = result(&results, 0, &transcript);
    assert_eq!(
        read.text,
        "     1\talpha\n     2\tbeta\n[Showing lines 1-2 of 5. To read more, call read_file with offset=2.]\n",
        "{transcript}"
    );
    assert!(!read.is_error);

    let grep = result(&results, 1, &transcript);
    assert!(
        grep.text.starts_with("/many.txt:1:match line 0\n"),
        "{}",
        grep.text
    );
    assert!(
        grep.text
            .contains("[Output cut at 400 characters. Showing matching lines 1-")
            && grep
                .text
                .contains("of 200. To see more, call grep again with offset="),
        "{}",
        grep.text
    );
    assert!(grep.text.len() < 1000, "{}", grep.text);

    let execute = result(&results, 2, &transcript);
    assert!(
        execute.text.starts_with("Exit code: 3 ("),
        "{}",
        execute.text
    );
    assert!(
        execute
            .text
            .contains("--- stdout ---\nbuilding\n--- stderr ---\nerror: it broke\n"),
        "{}",
        execute.text
    );

    let missing = result(&results, 3, &transcript);
    assert!(missing.is_error, "{missing:?}");
    assert!(
        missing
            .text
            .contains("Error [file_not_found]: /missing.txt"),
        "{}",
        missing.text
    );
}

/// Why structuredContent is off by default: with it on, Claude Code hands
/// the model the JSON instead of the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_structured_content_on_claude_code_shows_the_model_json() {
    let home = tempfile::tempdir().expect("a temporary home");
    let workspace = home.path().join("workspace");
    std::fs::create_dir_all(&workspace).expect("mkdir workspace");
    std::fs::write(workspace.join("notes.txt"), "alpha\nbeta\ngamma\n").expect("seed notes");
    let config = home.path().join("agent.toml");
    std::fs::write(&config, "").expect("writing the config");
    let api = FakeApi::start(vec![Step {
        tool: tool("read_file"),
        input: json!({"file_path": "/notes.txt", "limit": 2}),
    }])
    .await;
    let transcript = run_claude(
        &api,
        home.path(),
        &workspace,
        &config,
        &["--structured-content"],
    )
    .await;
    let results = api.results();
    let read = result(&results, 0, &transcript);
    eprintln!("with structuredContent: {}", read.text);
    let json: serde_json::Value = serde_json::from_str(&read.text).expect("the model got the JSON");
    assert_eq!(json["next_offset"], 2);
    assert!(!read.text.contains("Showing lines"));
}
