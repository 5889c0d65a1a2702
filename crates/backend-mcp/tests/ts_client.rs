//! End to end with the official TypeScript MCP SDK (npm
//! `@modelcontextprotocol/sdk`), whose client validates `structuredContent`
//! against each tool's `outputSchema`: with `--structured-content` every
//! tool's result must pass (`tests/e2e/ts_client.cjs` holds the checks).
//!
//! The SDK is looked up in `<target dir>/claude-code/node_modules`, where
//! `cargo xtask ci` installs it with the Claude Code CLI; without it (or without
//! `node`) the test fails saying how to install it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The SDK version the checks were written against.
const SDK_PACKAGE: &str = "@modelcontextprotocol/sdk@1.32.2";

const BINARY: &str = env!("CARGO_BIN_EXE_agent-backend");

fn node_modules() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
    let install = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("claude-code");
    let modules = install.join("node_modules");
    assert!(
        modules
            .join("@modelcontextprotocol/sdk/package.json")
            .exists(),
        "the TypeScript MCP SDK is not installed in {}; install it (and node) with\n  npm install --no-audit --no-fund --prefix {} {SDK_PACKAGE}\n`cargo xtask ci` does this",
        modules.display(),
        install.display()
    );
    modules
}

#[test]
fn the_typescript_sdk_accepts_every_tools_structured_result() {
    let modules = node_modules();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/ts_client.cjs");
    let output = Command::new("node")
        .arg(script)
        .arg(&modules)
        .arg(dir.path())
        .arg(BINARY)
        .args([
            "--backend",
            "ws",
            "--sandbox",
            "local",
            "--structured-content",
        ])
        .output()
        .expect("running node (install it: apt-get install -y nodejs npm)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("\"kind\":\"done\""),
        "the TypeScript MCP client failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
}
