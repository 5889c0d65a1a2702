//! `cargo xtask conformance [--backend NAME ...]`: runs each selected
//! backend's `tests/conformance.rs` through the suite's runner and prints one
//! table of backends by area, with their capabilities and every failure.
//!
//! Each backend crate's `tests/conformance.rs` expands
//! `backend_conformance::conformance_tests!`, whose ignored
//! `conformance_report` test writes `$CONFORMANCE_REPORT_DIR/<name>.json`;
//! this command runs that test per crate and reads the JSON back.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::{cargo, project_root};

/// A backend name, the package whose `tests/conformance.rs` runs it, the
/// package's directory, and extra `cargo test` arguments (`--all-features`
/// where a variant sits behind a feature: the local sandbox needs
/// `local-exec`, each remote provider its own).
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    package: &'static str,
    pub(crate) dir: &'static str,
    /// The integration test target (`tests/<test>.rs`) that runs it.
    pub(crate) test: &'static str,
    cargo_args: &'static [&'static str],
}

pub(crate) const TARGETS: &[Target] = &[
    Target {
        name: "state",
        package: "backend-state",
        dir: "crates/backend-state",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "local",
        package: "backend-local",
        dir: "crates/backend-local",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "local-overlay",
        package: "backend-local",
        dir: "crates/backend-local",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "local-sandbox",
        package: "backend-local",
        dir: "crates/backend-local",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "docker",
        package: "backend-docker",
        dir: "crates/backend-docker",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "s3",
        package: "backend-s3",
        dir: "crates/backend-s3",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "e2b",
        package: "backend-remote",
        dir: "crates/backend-remote",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "daytona",
        package: "backend-remote",
        dir: "crates/backend-remote",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "runloop",
        package: "backend-remote",
        dir: "crates/backend-remote",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "modal",
        package: "backend-remote",
        dir: "crates/backend-remote",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "composite",
        package: "backend-composite",
        dir: "crates/backend-composite",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "composite-local",
        package: "backend-composite",
        dir: "crates/backend-composite",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "composite-exec",
        package: "backend-composite",
        dir: "crates/backend-composite",
        test: "conformance",
        cargo_args: &[],
    },
    Target {
        name: "layers",
        package: "backend-layers",
        dir: "crates/backend-layers",
        test: "conformance",
        cargo_args: &["--all-features"],
    },
    Target {
        name: "custom-example",
        package: "custom-backend-example",
        dir: "examples/custom-backend",
        test: "conformance",
        cargo_args: &[],
    },
];

/// Stands for "every package" in the list of cargo runs.
const WORKSPACE: &str = "--workspace";

const USAGE: &str = "usage: cargo xtask conformance [--backend NAME ...]";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let selected = select(args)?;
    let root = project_root();
    let report_dir = root.join("target").join("conformance");
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;

    // Why a backend produced no report, by name.
    let mut missing: Vec<(&str, String)> = Vec::new();
    // One `cargo test` per test binary; it writes a report per backend in it.
    let mut runs: Vec<(&str, &str, &[&str])> = Vec::new();
    for t in &selected {
        if !runs
            .iter()
            .any(|(p, test, _)| *p == t.package && *test == t.test)
        {
            runs.push((t.package, t.test, t.cargo_args));
        }
    }
    // The whole table (as CI asks for it) is one workspace-wide invocation
    // with the feature set of the main test run, so nothing is rebuilt.
    let whole_table = selected.len() == TARGETS.len();
    if whole_table {
        runs = vec![(WORKSPACE, "conformance", &["--all-features"])];
    }
    for (package, test, cargo_args) in runs {
        let group: Vec<&&Target> = selected
            .iter()
            .filter(|t| package == WORKSPACE || (t.package == package && t.test == test))
            .collect();
        let mut present = Vec::new();
        for t in &group {
            if root
                .join(t.dir)
                .join(format!("tests/{}.rs", t.test))
                .exists()
            {
                present.push(*t);
            } else {
                missing.push((
                    t.name,
                    format!("{}/tests/{}.rs does not exist", t.dir, t.test),
                ));
            }
        }
        if present.is_empty() {
            continue;
        }
        let group = present;
        for t in &group {
            // A stale report must not stand in for this run's.
            let _ = std::fs::remove_file(report_dir.join(format!("{}.json", t.name)));
        }
        let mut cmd = cargo();
        if package == WORKSPACE {
            cmd.args(["test", "--workspace", "--test", test]);
        } else {
            cmd.args(["test", "-p", package, "--test", test]);
        }
        cmd.args(cargo_args)
            .args(["--", "--ignored", "conformance_report"])
            .env("CONFORMANCE_REPORT_DIR", &report_dir);
        eprintln!(
            "$ CONFORMANCE_REPORT_DIR={} {}",
            report_dir.display(),
            crate::display(&cmd)
        );
        let status = cmd
            .status()
            .with_context(|| format!("running the conformance tests of {package}"))?;
        for t in &group {
            if !report_dir.join(format!("{}.json", t.name)).exists() {
                missing.push((
                    t.name,
                    format!(
                        "`{}` ({status}) wrote no {}.json; \
                         does tests/{test}.rs call conformance_tests!(name: \"{}\", ...)?",
                        crate::display(&cmd),
                        t.name,
                        t.name
                    ),
                ));
            }
        }
    }

    let mut reports = Vec::new();
    for t in &selected {
        let path = report_dir.join(format!("{}.json", t.name));
        if path.exists() {
            reports.push(read_report(&path)?);
        }
    }
    println!("{}", render(&reports, &missing));
    let failed: usize = reports.iter().map(|r| r.failures.len()).sum();
    if failed > 0 || !missing.is_empty() {
        bail!(
            "{failed} conformance case(s) failed, {} backend(s) without a report",
            missing.len()
        );
    }
    Ok(())
}

/// The targets named by `--backend` (all of them when none is named).
fn select(args: &[String]) -> Result<Vec<&'static Target>> {
    let mut names = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let value = if arg == "--backend" {
            iter.next()
                .with_context(|| format!("--backend needs a name\n{USAGE}"))?
                .as_str()
        } else if let Some(v) = arg.strip_prefix("--backend=") {
            v
        } else {
            bail!("unexpected argument {arg:?}\n{USAGE}");
        };
        names.extend(
            value
                .split(',')
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
        );
    }
    if names.is_empty() {
        return Ok(TARGETS.iter().collect());
    }
    let mut selected = Vec::new();
    for name in names {
        let Some(t) = TARGETS.iter().find(|t| t.name == name) else {
            let known: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            bail!("unknown backend {name:?}; one of {}", known.join(", "));
        };
        if !selected.iter().any(|s: &&Target| s.name == t.name) {
            selected.push(t);
        }
    }
    Ok(selected)
}

/// What the table needs from one JSON report.
#[derive(Debug)]
struct Summary {
    backend: String,
    /// `(area, passed, failed, skipped)`.
    areas: Vec<(String, usize, usize, usize)>,
    capabilities: Vec<String>,
    /// `(area::case, message)`.
    failures: Vec<(String, String)>,
}

fn read_report(path: &Path) -> Result<Summary> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    summarise(&json).with_context(|| format!("{} is not a conformance report", path.display()))
}

fn summarise(json: &Value) -> Result<Summary> {
    let backend = json["backend"]
        .as_str()
        .context("no backend name")?
        .to_owned();
    let capabilities = json["capabilities"]
        .as_object()
        .context("no capabilities")?
        .iter()
        .filter(|(_, v)| v.as_bool() == Some(true))
        .map(|(k, _)| k.clone())
        .collect();
    let mut areas: Vec<(String, usize, usize, usize)> = Vec::new();
    let mut failures = Vec::new();
    for case in json["cases"].as_array().context("no cases")? {
        let area = case["area"].as_str().context("a case without an area")?;
        let name = case["name"].as_str().context("a case without a name")?;
        let index = match areas.iter().position(|(a, ..)| a == area) {
            Some(i) => i,
            None => {
                areas.push((area.to_owned(), 0, 0, 0));
                areas.len() - 1
            }
        };
        match case["outcome"].as_str() {
            Some("passed") => areas[index].1 += 1,
            Some("failed") => {
                areas[index].2 += 1;
                let message = case["message"].as_str().unwrap_or("").to_owned();
                failures.push((format!("{area}::{name}"), message));
            }
            Some("skipped") => areas[index].3 += 1,
            other => bail!("case {name} has an unknown outcome {other:?}"),
        }
    }
    Ok(Summary {
        backend,
        areas,
        capabilities,
        failures,
    })
}

/// One table: a row per backend, a `passed/run` column per area, skipped and
/// capabilities; then missing backends and every failure with its message.
fn render(reports: &[Summary], missing: &[(&str, String)]) -> String {
    let areas: Vec<&str> = {
        let mut seen: Vec<&str> = Vec::new();
        for r in reports {
            for (a, ..) in &r.areas {
                if !seen.contains(&a.as_str()) {
                    seen.push(a);
                }
            }
        }
        seen
    };
    let mut header = vec!["backend".to_owned()];
    header.extend(areas.iter().map(|a| (*a).to_owned()));
    header.extend([
        "total".to_owned(),
        "skipped".to_owned(),
        "capabilities".to_owned(),
    ]);
    let mut rows = vec![header];
    for r in reports {
        let mut row = vec![r.backend.clone()];
        let (mut passed, mut run, mut skipped) = (0, 0, 0);
        for area in &areas {
            match r.areas.iter().find(|(a, ..)| a == area) {
                Some((_, p, f, s)) => {
                    row.push(format!("{p}/{}", p + f));
                    passed += p;
                    run += p + f;
                    skipped += s;
                }
                None => row.push("-".to_owned()),
            }
        }
        row.push(format!("{passed}/{run}"));
        row.push(skipped.to_string());
        row.push(r.capabilities.join(","));
        rows.push(row);
    }
    for (name, _) in missing {
        let mut row = vec![(*name).to_owned()];
        row.extend(areas.iter().map(|_| "-".to_owned()));
        row.extend(["MISSING".to_owned(), "-".to_owned(), "-".to_owned()]);
        rows.push(row);
    }
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .join("  ")
            );
        }
    }
    for (name, why) in missing {
        let _ = writeln!(out, "MISSING {name}: {why}");
    }
    for r in reports {
        for (case, message) in &r.failures {
            let _ = writeln!(
                out,
                "FAILED {}: {case}: {}",
                r.backend,
                message.replace('\n', " ")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_backend_selects_all() {
        assert_eq!(select(&[]).unwrap().len(), TARGETS.len());
    }

    #[test]
    fn backends_are_selected_by_flag_equals_and_commas_without_duplicates() {
        let picked = select(&args(&[
            "--backend",
            "state",
            "--backend=e2b,state",
            "--backend",
            "custom-example",
        ]))
        .unwrap();
        let names: Vec<&str> = picked.iter().map(|t| t.name).collect();
        assert_eq!(names, ["state", "e2b", "custom-example"]);
        assert_eq!(picked[1].cargo_args, ["--all-features"]);
        let modal = select(&args(&["--backend", "modal"])).unwrap();
        assert_eq!(
            (modal[0].package, modal[0].test),
            ("backend-remote", "conformance")
        );
    }

    #[test]
    fn unknown_backend_is_an_error_listing_the_known_ones() {
        let e = select(&args(&["--backend", "ftp"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ftp") && e.contains("custom-example"), "{e}");
    }

    #[test]
    fn table_counts_per_area_lists_capabilities_failures_and_missing() {
        let json = serde_json::json!({
            "backend": "demo",
            "capabilities": {"execute": false, "atomic_edit": true, "snapshot": true},
            "cases": [
                {"name": "a", "area": "paths", "outcome": "passed", "duration_ms": 1.0},
                {"name": "b", "area": "paths", "outcome": "failed", "message": "semantics.md x\nbroke", "duration_ms": 1.0},
                {"name": "c", "area": "exec", "outcome": "skipped", "message": "needs execute", "duration_ms": 0.0}
            ],
            "duration_ms": 2.0
        });
        let summary = summarise(&json).unwrap();
        let table = render(&[summary], &[("docker", "no report".to_owned())]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("backend")
                && lines[0].contains("paths")
                && lines[0].contains("exec"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("demo") && lines[2].contains("1/2") && lines[2].contains("0/0"),
            "{table}"
        );
        assert!(lines[2].contains("atomic_edit,snapshot"), "{table}");
        assert!(
            table.contains("docker") && table.contains("MISSING docker: no report"),
            "{table}"
        );
        assert!(
            table.contains("FAILED demo: paths::b: semantics.md x broke"),
            "{table}"
        );
    }
}
