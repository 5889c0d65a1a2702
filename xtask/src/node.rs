//! The npm clients the end-to-end tests drive: the Claude Code CLI and the
//! TypeScript MCP SDK, installed (once) into `<target>/claude-code`, where
//! backend-mcp's `claude_code` and `ts_client` tests look for them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{project_root, run_cmd};

/// Pinned so that CI drives the same client versions the tests were
/// written against.
const PACKAGES: &[&str] = &[
    "@anthropic-ai/claude-code@2.1.197",
    "@modelcontextprotocol/sdk@1.32.2",
];

/// Installs npm (with apt, as root) and the client packages when missing.
pub(crate) fn ensure_clients() -> Result<()> {
    let dir = install_dir();
    let cli = dir.join("node_modules/.bin/claude");
    let sdk = dir.join("node_modules/@modelcontextprotocol/sdk/package.json");
    if cli.exists() && sdk.exists() {
        eprintln!("node clients: present in {}", dir.display());
        return Ok(());
    }
    if !answers("npm") {
        if !crate::docker::is_root() {
            bail!("npm is missing and this user cannot install it: install Node.js and npm");
        }
        run_cmd(Command::new("apt-get").arg("update"))?;
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "npm"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    run_cmd(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .args(PACKAGES),
    )
    .context("installing the Claude Code CLI and the TypeScript MCP SDK from npm")
}

/// `<target dir>/claude-code`, honouring `CARGO_TARGET_DIR`.
fn install_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"));
    let target = if target.is_relative() {
        project_root().join(target)
    } else {
        target
    };
    target.join("claude-code")
}

fn answers(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
