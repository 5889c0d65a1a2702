//! Feature hygiene of the umbrella crate `agent-backend`: every feature
//! compiles and passes clippy on its own, and the in-memory build pulls in no
//! HTTP, TLS or Docker crate.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, run_cmd};

const UMBRELLA: &str = "agent-backend";

/// Every feature of the umbrella crate, checked one at a time.
pub(crate) const FEATURES: &[&str] = &[
    "state",
    "local",
    "local-exec",
    "composite",
    "docker",
    "s3",
    "e2b",
    "daytona",
    "runloop",
    "modal",
    "full",
];

/// Crates that must not appear in `--no-default-features --features state`:
/// a name matches exactly, or by prefix when it ends with `*`.
const FORBIDDEN_IN_STATE: &[&str] = &[
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "rustls",
    "tokio-rustls",
    "hyper-rustls",
    "openssl",
    "openssl-sys",
    "native-tls",
    "bollard",
    "tonic",
    "aws-*",
];

pub(crate) fn check() -> Result<()> {
    for feature in FEATURES {
        clippy_alone(feature)?;
    }
    state_pulls_no_transport()
}

/// `cargo clippy -p agent-backend --no-default-features --features F
/// --all-targets -- -D warnings`.
fn clippy_alone(feature: &str) -> Result<()> {
    eprintln!("--- feature `{feature}` alone");
    run_cmd(cargo().args([
        "clippy",
        "-p",
        UMBRELLA,
        "--no-default-features",
        "--features",
        feature,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
    .with_context(|| {
        format!(
            "{UMBRELLA} with only the feature `{feature}` does not build cleanly; reproduce with \
             `cargo clippy -p {UMBRELLA} --no-default-features --features {feature} --all-targets -- -D warnings` \
             (a `#[cfg(feature = ...)]` is likely missing or wrong)"
        )
    })
}

/// The normal dependency tree of the state-only build holds no transport.
fn state_pulls_no_transport() -> Result<()> {
    eprintln!("--- dependency tree of `{UMBRELLA}` with only `state`");
    let mut cmd = cargo();
    cmd.args([
        "tree",
        "-p",
        UMBRELLA,
        "--no-default-features",
        "--features",
        "state",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let tree = output(&mut cmd)?;
    let offenders = forbidden_crates(&tree);
    if !offenders.is_empty() {
        bail!(
            "`{UMBRELLA}` with only the `state` feature pulls in HTTP, TLS or Docker crates: {}.\n\
             Find who brings each in with `cargo tree -p {UMBRELLA} --no-default-features --features state -e normal -i CRATE`, \
             and make that dependency optional behind its backend's feature.",
            offenders.join(", ")
        );
    }
    eprintln!("no HTTP, TLS or Docker crate in the state-only build");
    Ok(())
}

/// The forbidden crates named in `cargo tree --prefix none --format {p}`
/// output (one `name vX.Y.Z [(path)] [(*)]` per line), each once.
fn forbidden_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in tree.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let forbidden = FORBIDDEN_IN_STATE
            .iter()
            .any(|rule| match rule.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == *rule,
            });
        if forbidden && !found.iter().any(|f| f == name) {
            found.push(name.to_owned());
        }
    }
    found
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().context("running cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("cargo tree printed something that is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::forbidden_crates;

    #[test]
    fn forbidden_crates_are_found_by_name_and_prefix() {
        let tree = "agent-backend v0.1.0 (/w/crates/agent-backend)\n\
                    backend-core v0.1.0 (/w/crates/backend-core)\n\
                    hyper v1.7.0\n\
                    aws-smithy-types v1.3.0\n\
                    hyper v1.7.0 (*)\n\
                    hyperlocal-ish v0.1.0\n";
        assert_eq!(forbidden_crates(tree), ["hyper", "aws-smithy-types"]);
    }

    #[test]
    fn a_clean_tree_has_no_offenders() {
        let tree = "agent-backend v0.1.0\nserde v1.0.0\ntoml v1.2.2+spec-1.1.0\n";
        assert!(forbidden_crates(tree).is_empty());
    }
}
