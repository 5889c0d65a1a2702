//! `cargo xtask ci`: everything CI checks, in the order that fails fastest.
//!
//! It installs what it needs when missing (cargo-deny; a Docker engine and
//! the test image, as root; npm and the end-to-end clients), so it works
//! on a fresh machine.
//!
//! Flags: `--skip-tests` (lint only), `--skip-deny`.

use anyhow::{Context, Result};

use crate::{cargo, run_cmd};

pub(crate) fn run(args: &[String]) -> Result<()> {
    let skip_tests = args.iter().any(|a| a == "--skip-tests");
    let skip_deny = args.iter().any(|a| a == "--skip-deny");

    step("format")?;
    run_cmd(cargo().args(["fmt", "--all", "--", "--check"]))
        .context("code is not formatted: run `cargo fmt --all`")?;

    step("clippy, all features")?;
    run_cmd(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;

    step("feature sets of the umbrella crate")?;
    crate::features::check()?;

    if !skip_deny {
        step("cargo deny")?;
        ensure_cargo_deny()?;
        run_cmd(cargo().args([
            "deny",
            "--all-features",
            "check",
            "bans",
            "licenses",
            "sources",
        ]))
        .context("cargo deny failed (install it with `cargo install --locked cargo-deny`)")?;
    }

    if !skip_tests {
        step("README library snippet in a fresh project")?;
        crate::readme::run(&[])?;
        step("Docker engine and test image")?;
        crate::docker::ensure_engine_and_image()?;
        step("npm clients for the end-to-end tests")?;
        crate::node::ensure_clients()?;
        step("tests")?;
        run_cmd(cargo().args(["test", "--workspace", "--all-features", "--no-fail-fast"]))?;
        step("conformance table")?;
        crate::conformance::run(&[])?;
    }
    Ok(())
}

/// Installs cargo-deny from crates.io when it is missing.
fn ensure_cargo_deny() -> Result<()> {
    let present = cargo()
        .args(["deny", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        run_cmd(cargo().args(["install", "--locked", "cargo-deny"]))?;
    }
    Ok(())
}

fn step(name: &str) -> Result<()> {
    eprintln!("\n==> {name}");
    Ok(())
}
