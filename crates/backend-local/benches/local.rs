//! `cargo xtask bench local [PATH]`: grep and glob of `LocalBackend` on a
//! real source tree, against ripgrep and deepagents' `FilesystemBackend`,
//! measured in the same run.
//!
//! The tree is PATH, or the crate sources under `$CARGO_HOME/registry/src`.
//! Every tool searches the same files: hidden ones included, `.git`
//! excluded, no ignore files (`rg --hidden --no-ignore -g '!.git'`).
//! Operations: a literal grep, a regex grep, and `glob("**/*.rs")` (no
//! result cap). Each figure is the median of several warm runs.
//!
//! ripgrep must be on `PATH` (`apt-get install -y ripgrep`); deepagents runs
//! under `$BENCH_PYTHON` (xtask makes a venv with it); without either, that
//! column says how to get it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backend_core::{Backend, GlobRequest, GrepRequest};
use backend_local::LocalBackend;

const LITERAL: &str = "unsafe impl";
const REGEX: &str = r"fn\s+\w+_mut\s*\(";
const GLOB: &str = "**/*.rs";
const ITERATIONS: usize = 7;

fn default_tree() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("set CARGO_HOME or HOME, or pass a tree to search");
    cargo_home.join("registry").join("src")
}

/// Runs ripgrep and counts its output lines (one per match or file).
fn rg(tree: &Path, args: &[&str]) -> Option<usize> {
    let output = Command::new("rg")
        .args(["--hidden", "--no-ignore", "-g", "!.git", "--no-messages"])
        .args(args)
        .arg(tree)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    Some(output.stdout.iter().filter(|b| **b == b'\n').count())
}

struct Row {
    name: &'static str,
    ours: Duration,
    ours_count: usize,
    rg: Option<(Duration, usize)>,
    deepagents: Option<(Duration, usize, bool)>,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let tree = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(default_tree);
    assert!(tree.is_dir(), "{} is not a directory", tree.display());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .build()
        .expect("runtime");
    let backend = LocalBackend::new(&tree).expect("backend over the tree");
    let have_rg = Command::new("rg").arg("--version").output().is_ok();

    // Warm the page cache so every tool reads from memory.
    let _ = runtime.block_on(backend.grep(&GrepRequest::new(LITERAL)));
    if have_rg {
        let _ = rg(&tree, &["-F", "-n", LITERAL]);
    }

    // Ours and rg run alternately, so that load from elsewhere on the
    // machine falls on both alike.
    let paired = |ours: &mut dyn FnMut() -> usize, args: &[&str]| {
        let mut ours_samples = Vec::new();
        let mut rg_samples = Vec::new();
        let (mut ours_n, mut rg_n) = (0, 0);
        for _ in 0..ITERATIONS {
            let start = Instant::now();
            ours_n = ours();
            ours_samples.push(start.elapsed());
            if have_rg {
                let start = Instant::now();
                rg_n = rg(&tree, args).expect("rg");
                rg_samples.push(start.elapsed());
            }
        }
        let mid = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let rg_result = have_rg.then(|| (mid(rg_samples), rg_n));
        (mid(ours_samples), ours_n, rg_result)
    };
    let grep_count = |request: &GrepRequest| {
        runtime
            .block_on(backend.grep(request))
            .expect("grep")
            .matches
            .len()
    };
    let literal = GrepRequest::new(LITERAL);
    let regex = GrepRequest::new(REGEX).regex(true);
    let glob = GlobRequest::new(GLOB).limit(usize::MAX);
    let (lit, lit_n, rg_lit) = paired(&mut || grep_count(&literal), &["-F", "-n", LITERAL]);
    let (re, re_n, rg_re) = paired(&mut || grep_count(&regex), &["-n", REGEX]);
    let (gl, gl_n, rg_glob) = paired(
        &mut || {
            runtime
                .block_on(backend.glob(&glob))
                .expect("glob")
                .files
                .len()
        },
        &["--files", "-g", "*.rs"],
    );

    let deepagents = deepagents(&tree);
    let mut rows = vec![
        Row {
            name: "grep literal",
            ours: lit,
            ours_count: lit_n,
            rg: rg_lit,
            deepagents: deepagents.as_ref().ok().map(|d| d.grep),
        },
        Row {
            name: "grep regex",
            ours: re,
            ours_count: re_n,
            rg: rg_re,
            deepagents: None,
        },
        Row {
            name: "glob **/*.rs",
            ours: gl,
            ours_count: gl_n,
            rg: rg_glob,
            deepagents: deepagents.as_ref().ok().map(|d| d.glob),
        },
    ];

    println!("\nbackend-local vs ripgrep and deepagents FilesystemBackend");
    println!(
        "tree: {} (median of {ITERATIONS} warm runs, ours and rg alternating)",
        tree.display()
    );
    println!("literal: {LITERAL:?}  regex: {REGEX:?}  glob: {GLOB:?}\n");
    println!(
        "{:<14} {:>11} {:>8} | {:>11} {:>8} {:>9} | {:>11} {:>8} {:>11}",
        "operation",
        "ours",
        "results",
        "rg",
        "results",
        "ours/rg",
        "deepagents",
        "results",
        "deep/ours"
    );
    for row in rows.drain(..) {
        let (rg_t, rg_n, rg_ratio) = match row.rg {
            Some((d, n)) => (
                ms(d),
                n.to_string(),
                format!("{:.2}x", row.ours.as_secs_f64() / d.as_secs_f64()),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let (da_t, da_n, da_ratio) = match row.deepagents {
            Some((d, n, cut)) => (
                ms(d),
                format!("{n}{}", if cut { "*" } else { "" }),
                format!("{:.1}x", d.as_secs_f64() / row.ours.as_secs_f64()),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "{:<14} {:>11} {:>8} | {:>11} {:>8} {:>9} | {:>11} {:>8} {:>11}",
            row.name,
            ms(row.ours),
            row.ours_count,
            rg_t,
            rg_n,
            rg_ratio,
            da_t,
            da_n,
            da_ratio
        );
    }
    println!(
        "\nours/rg: below 1.20x meets the grep target; deep/ours: above 10x meets the glob target."
    );
    println!("rg's glob row is `rg --files -g '*.rs'` (its own glob rules; for scale only).");
    match &deepagents {
        Ok(d) => {
            println!(
                "deepagents grep engine: {} (it has no regex mode).",
                d.engine
            );
            for (name, (time, count, cut), ours_n, ours_t) in
                [("grep", d.grep, lit_n, lit), ("glob", d.glob, gl_n, gl)]
            {
                if cut && count > 0 {
                    // Its walk stopped at the budget: scale its time to the
                    // whole result set for an estimate of the full run.
                    let full = time.as_secs_f64() * ours_n as f64 / count as f64;
                    println!(
                        "* deepagents {name} stopped at its time budget after {count} of {ours_n} results; \
                         scaled to all of them: ~{:.0} ms, ~{:.1}x ours.",
                        full * 1000.0,
                        full / ours_t.as_secs_f64()
                    );
                }
            }
        }
        Err(why) => println!("deepagents: not measured: {why}"),
    }
    if !have_rg {
        println!(
            "ripgrep: not measured: install it with `apt-get install -y ripgrep` (or `cargo install ripgrep`)."
        );
    }
}

struct Deepagents {
    engine: String,
    grep: (Duration, usize, bool),
    glob: (Duration, usize, bool),
}

fn deepagents(tree: &Path) -> Result<Deepagents, String> {
    let python = std::env::var("BENCH_PYTHON")
        .map_err(|_| "BENCH_PYTHON is not set; run through `cargo xtask bench local`, which makes a venv with deepagents".to_owned())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/deepagents_local.py");
    let output = Command::new(python)
        .arg(script)
        .arg(tree)
        .arg(LITERAL)
        .arg("3")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run BENCH_PYTHON: {e}"))?;
    if !output.status.success() {
        return Err(format!("the deepagents script failed ({})", output.status));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("unreadable output from the deepagents script: {e}"))?;
    let op = |name: &str| -> Result<(Duration, usize, bool), String> {
        let o = &json[name];
        if let Some(err) = o["error"].as_str() {
            return Err(format!("deepagents {name} failed: {err}"));
        }
        Ok((
            Duration::from_secs_f64(o["seconds"].as_f64().ok_or("missing seconds")?),
            o["count"].as_u64().ok_or("missing count")? as usize,
            o["truncated"].as_bool().unwrap_or(false),
        ))
    };
    Ok(Deepagents {
        engine: json["grep_engine"].as_str().unwrap_or("?").to_owned(),
        grep: op("grep")?,
        glob: op("glob")?,
    })
}
