//! Repository automation, run as `cargo xtask <command>`.
//!
//! Commands:
//! - `ci`: everything CI checks (format, clippy per feature set, tests, cargo deny).
//! - `conformance [--backend NAME ...]`: the conformance table.
//! - `readme`: builds and runs the README's library snippet in a fresh project.
//! - `bench <state|local|composite|docker|s3>`: a benchmark against its reference.
//! - `docker-up`: install and start a Docker engine when none answers.
//! - `docker-image`: build the local test image without a registry.
//! - `s3-up`: start the local S3-compatible test server.

mod bench;
mod ci;
mod conformance;
mod docker;
mod features;
mod node;
mod python;
mod readme;
mod s3;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <ci | conformance [--backend NAME ...] | readme | bench <state|local|composite|docker|s3> | docker-up | docker-image | s3-up>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    std::env::set_current_dir(project_root()).context("entering the project root")?;
    match command.as_str() {
        "ci" => ci::run(rest),
        "conformance" => conformance::run(rest),
        "readme" => readme::run(rest),
        "bench" => bench::run(rest),
        "docker-up" => docker::up(rest),
        "docker-image" => docker::image(rest),
        "s3-up" => s3::up(rest),
        "-h" | "--help" | "help" => {
            eprintln!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// The workspace root (the parent of this crate's directory).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

/// Runs a command, echoing it, and fails when it fails.
pub(crate) fn run_cmd(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {}", display(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", display(cmd)))?;
    if !status.success() {
        bail!("{} failed with {status}", display(cmd));
    }
    Ok(())
}

/// `cargo` as the running toolchain knows it.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

/// A command as a shell would show it, for echoing and messages.
pub(crate) fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}
