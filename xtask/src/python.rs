//! A Python virtual environment under `target/` for reference measurements.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{project_root, run_cmd};

/// Creates (once) `target/bench-venv` with `packages` installed and returns
/// the path of its `python`.
pub(crate) fn venv_with(packages: &[&str]) -> Result<PathBuf> {
    let venv = project_root().join("target").join("bench-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating the benchmark virtual environment (is python3-venv installed?)")?;
    }
    let marker = venv.join(format!(
        "installed-{}",
        packages.join("+").replace(['/', '=', '<', '>'], "_")
    ));
    if !marker.exists() {
        run_cmd(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(packages),
        )
        .with_context(|| format!("installing {packages:?} from PyPI"))?;
        std::fs::write(&marker, b"")?;
    }
    Ok(python)
}
