//! `cargo xtask bench state`: the in-memory backend against deepagents'
//! `StateBackend` on the same workload, measured in the same run.
//!
//! Workload: 100,000 files of about 2 KiB in 1,000 directories
//! (`/ws/g{0..4}/dNNN/fNNN.{rs,py}`); list one directory (also in a backend
//! of 1,000 files, to show the cost does not grow with the total), glob
//! `**/*.rs`, a literal grep over the 20,000 files of `/ws/g0`, and
//! read/write/edit latency. Set `BENCH_PYTHON` to a Python with `deepagents`
//! (xtask does); without it only our figures are printed.
//!
//! The reference applies each update with deepagents' own `files` channel
//! reducer, as a LangGraph run does; see `deepagents_state.py`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backend_core::{Backend, GlobRequest, GrepRequest};
use backend_state::StateBackend;

const DIRS: usize = 1000;
const FILES_PER_DIR: usize = 100;
const GREP_DIR: &str = "/ws/g0";
const GREP_PATTERN: &str = "TODO: fix";
const LS_DIR: &str = "/ws/g0/d000";

fn path(d: usize, f: usize) -> String {
    let ext = if f.is_multiple_of(2) { "rs" } else { "py" };
    format!("/ws/g{}/d{d:03}/f{f:03}.{ext}", d / 200)
}

/// Must produce the same text as `workload_content` in deepagents_state.py.
fn content(d: usize, f: usize) -> String {
    let mut s = format!("// file {d}-{f}\n");
    for i in 0..40 {
        if i == 20 && (d * 100 + f).is_multiple_of(10) {
            s.push_str("    // TODO: fix this before release\n");
        }
        s.push_str(&format!(
            "line {i}: the quick brown fox jumps over the lazy dog {d} {f}\n"
        ));
    }
    s
}

async fn fill(backend: &StateBackend, dirs: usize) {
    for d in 0..dirs {
        for f in 0..FILES_PER_DIR {
            backend
                .write(&path(d, f), content(d, f).into_bytes())
                .await
                .expect("filling the benchmark backend");
        }
    }
}

async fn median<F, Fut>(iterations: usize, mut op: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let start = Instant::now();
        op(i).await;
        samples.push(start.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

struct Row {
    name: &'static str,
    ours: Duration,
    reference: Option<f64>,
    target: &'static str,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

async fn run() {
    let small = StateBackend::new();
    fill(&small, 10).await;
    let backend = StateBackend::new();
    let start = Instant::now();
    fill(&backend, DIRS).await;
    eprintln!(
        "filled {} files ({} MiB) in {:?}",
        backend.file_count(),
        backend.used_bytes() >> 20,
        start.elapsed()
    );

    let ls_small = median(2000, |_| async {
        assert_eq!(small.ls(LS_DIR).await.expect("ls").len(), FILES_PER_DIR);
    })
    .await;
    let ls = median(2000, |_| async {
        assert_eq!(backend.ls(LS_DIR).await.expect("ls").len(), FILES_PER_DIR);
    })
    .await;
    let glob_request = GlobRequest::new("**/*.rs").limit(usize::MAX);
    let glob_count = backend.glob(&glob_request).await.expect("glob").files.len();
    let glob = median(5, |_| async {
        backend.glob(&glob_request).await.expect("glob");
    })
    .await;
    let grep_request = GrepRequest::new(GREP_PATTERN).path(GREP_DIR);
    let grep_count = backend
        .grep(&grep_request)
        .await
        .expect("grep")
        .matches
        .len();
    let grep = median(5, |_| async {
        backend.grep(&grep_request).await.expect("grep");
    })
    .await;
    let read_path = path(1, 1);
    let read = median(2000, |_| async {
        backend.read(&read_path, 0, 2000).await.expect("read");
    })
    .await;
    let write_path = "/ws/bench/write.txt";
    let write_content = content(7, 7);
    let write = median(2000, |_| async {
        backend
            .write(write_path, write_content.clone().into_bytes())
            .await
            .expect("write");
    })
    .await;
    let edit_path = "/ws/bench/edit.txt";
    backend
        .write(edit_path, format!("{write_content}marker-0\n").into_bytes())
        .await
        .expect("write");
    let edit = median(2000, |i| {
        let (old, new) = (format!("marker-{i}"), format!("marker-{}", i + 1));
        let backend = &backend;
        async move {
            backend
                .edit(edit_path, &old, &new, false)
                .await
                .expect("edit");
        }
    })
    .await;
    eprintln!("ours: glob matched {glob_count} files, grep found {grep_count} lines");

    let reference = reference();
    if let Some(r) = &reference {
        let (rg, rp) = (r["glob_count"].as_u64(), r["grep_count"].as_u64());
        eprintln!("deepagents: glob matched {rg:?} files, grep found {rp:?} lines");
        assert_eq!(
            rg,
            Some(glob_count as u64),
            "glob counts differ from the reference"
        );
        assert_eq!(
            rp,
            Some(grep_count as u64),
            "grep counts differ from the reference"
        );
    }
    let get = |key: &str| reference.as_ref().and_then(|r| r[key].as_f64());
    let rows = [
        Row {
            name: "ls one dir (1,000 files total)",
            ours: ls_small,
            reference: None,
            target: "< 50 µs",
        },
        Row {
            name: "ls one dir (100,000 files total)",
            ours: ls,
            reference: get("ls"),
            target: "< 50 µs, ≥ 20×",
        },
        Row {
            name: "glob **/*.rs (50,000 matches)",
            ours: glob,
            reference: get("glob"),
            target: "≥ 20×",
        },
        Row {
            name: "grep literal, 20,000 files",
            ours: grep,
            reference: get("grep"),
            target: "≥ 20×",
        },
        Row {
            name: "read 2 KiB file",
            ours: read,
            reference: get("read"),
            target: "≥ 20×",
        },
        Row {
            name: "write 2 KiB file",
            ours: write,
            reference: get("write"),
            target: "≥ 20×",
        },
        Row {
            name: "edit (unique match)",
            ours: edit,
            reference: get("edit"),
            target: "≥ 20×",
        },
    ];
    println!();
    println!("| operation | backend-state | deepagents StateBackend | ratio | target |");
    println!("|---|---:|---:|---:|---|");
    for row in rows {
        let (reference, ratio) = match row.reference {
            Some(secs) => (
                fmt(Duration::from_secs_f64(secs)),
                format!("{:.0}×", secs / row.ours.as_secs_f64()),
            ),
            None => ("—".to_owned(), "—".to_owned()),
        };
        println!(
            "| {} | {} | {} | {} | {} |",
            row.name,
            fmt(row.ours),
            reference,
            ratio,
            row.target
        );
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Runs the deepagents measurement, or explains why it was skipped.
fn reference() -> Option<serde_json::Value> {
    let Ok(python) = std::env::var("BENCH_PYTHON") else {
        eprintln!(
            "BENCH_PYTHON is not set: run `cargo xtask bench state` to compare with deepagents"
        );
        return None;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/deepagents_state.py");
    let spec = serde_json::json!({
        "dirs": DIRS,
        "files_per_dir": FILES_PER_DIR,
        "ls_dir": LS_DIR,
        "glob_pattern": "**/*.rs",
        "grep_dir": GREP_DIR,
        "grep_pattern": GREP_PATTERN,
        "read_path": path(1, 1),
        "write_path": "/ws/bench/write.txt",
        "write_content": content(7, 7),
        "edit_path": "/ws/bench/edit.txt",
        "iterations": {"ls": 20, "glob": 3, "grep": 3, "small": 200},
    });
    eprintln!("measuring deepagents' StateBackend with {python} ...");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the reference Python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(spec.to_string().as_bytes())
        .expect("sending the workload");
    let out = child.wait_with_output().expect("running the reference");
    assert!(out.status.success(), "the reference measurement failed");
    Some(serde_json::from_slice(&out.stdout).expect("the reference prints JSON"))
}
