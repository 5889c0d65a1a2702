//! `cargo xtask bench s3`: glob and grep over 2,000 objects and 500 small
//! writes, through `S3Backend` and through the boto3 backend a Python user
//! writes today (`boto3_s3.py`, one request at a time), against the same
//! local moto server in one run. Prints the median of a few rounds and the
//! ratio.
//!
//! `BENCH_PYTHON` names a python with boto3 (xtask sets it).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use backend_core::{Backend, FileUpload, GlobRequest, GrepRequest};
use backend_s3::S3Backend;

const OBJECTS: usize = 2000;
const WRITES: usize = 500;
const ROUNDS: usize = 3;

fn corpus() -> Vec<FileUpload> {
    (0..OBJECTS)
        .map(|i| {
            let mut text = String::new();
            for line in 0..40 {
                text.push_str(&format!(
                    "file {i} line {line}: lorem ipsum dolor sit amet\n"
                ));
            }
            if i % 50 == 0 {
                text.push_str("the needle is here\n");
            }
            FileUpload::new(format!("/src/dir{:02}/file{i:04}.txt", i % 20), text)
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn secs(samples: &serde_like::Samples, name: &str) -> Duration {
    let mut v: Vec<Duration> = samples
        .get(name)
        .iter()
        .map(|s| Duration::from_secs_f64(*s))
        .collect();
    v.sort();
    v[v.len() / 2]
}

/// A tiny reader for the reference's JSON output (`{"glob": [..], ...}`),
/// so the benchmark needs no JSON dependency.
mod serde_like {
    pub struct Samples(pub String);

    impl Samples {
        /// The list of numbers under `"name": [...]`.
        pub fn get(&self, name: &str) -> Vec<f64> {
            let key = format!("\"{name}\": [");
            let Some(start) = self.0.find(&key) else {
                return Vec::new();
            };
            let rest = &self.0[start + key.len()..];
            let end = rest.find(']').unwrap_or(rest.len());
            rest[..end]
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect()
        }

        /// The number under `"name": N`.
        pub fn count(&self, name: &str) -> Option<usize> {
            let key = format!("\"{name}\": ");
            let start = self.0.find(&key)? + key.len();
            let digits: String = self.0[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        }
    }
}

fn main() {
    let python = std::env::var("BENCH_PYTHON").unwrap_or_else(|_| {
        panic!("BENCH_PYTHON is not set: run this benchmark with `cargo xtask bench s3`, which creates a venv with boto3")
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the runtime");
    let server = support::MotoServer::start(None);
    let endpoint = server.endpoint();
    let bucket = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let corpus_prefix = "corpus";
    // Requests in flight per operation; the backend's default unless set.
    let concurrency: usize = std::env::var("BENCH_S3_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);

    let ours = runtime.block_on(async {
        support::ensure_bucket(&endpoint, &bucket).await;
        let backend = S3Backend::connect(
            support::config_for(&endpoint, &bucket, corpus_prefix).concurrency(concurrency),
        )
        .await
        .expect("connecting");
        for result in backend.upload_files(corpus()).await {
            assert!(
                result.is_ok(),
                "seeding {} failed: {:?}",
                result.path,
                result.error
            );
        }
        let (mut glob, mut grep, mut writes, mut write_one_by_one) =
            (vec![], vec![], vec![], vec![]);
        for round in 0..ROUNDS {
            let start = Instant::now();
            let found = backend
                .glob(&GlobRequest::new("*.txt"))
                .await
                .expect("glob");
            glob.push(start.elapsed());
            assert_eq!(found.files.len(), OBJECTS);

            let start = Instant::now();
            let hits = backend
                .grep(&GrepRequest::new("needle"))
                .await
                .expect("grep");
            grep.push(start.elapsed());
            assert_eq!(hits.matches.len(), OBJECTS / 50);

            let writer = S3Backend::connect(
                support::config_for(&endpoint, &bucket, &format!("ours-writes-{round}"))
                    .concurrency(concurrency),
            )
            .await
            .expect("connecting");
            let files: Vec<FileUpload> = (0..WRITES)
                .map(|i| FileUpload::new(format!("/w/{i:04}.txt"), format!("small write {i}\n")))
                .collect();
            let start = Instant::now();
            let results = writer.upload_files(files).await;
            writes.push(start.elapsed());
            assert!(results.iter().all(|r| r.is_ok()));

            let start = Instant::now();
            for i in 0..WRITES {
                writer
                    .write(
                        &format!("/seq/{i:04}.txt"),
                        format!("small write {i}\n").into_bytes(),
                    )
                    .await
                    .expect("write");
            }
            write_one_by_one.push(start.elapsed());
        }
        [
            median(glob),
            median(grep),
            median(writes),
            median(write_one_by_one),
        ]
    });

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/boto3_s3.py");
    let output = Command::new(&python)
        .arg(&script)
        .args([
            &endpoint,
            &bucket,
            corpus_prefix,
            "boto3-writes",
            &ROUNDS.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("running {} with {python}: {e}", script.display()));
    assert!(
        output.status.success(),
        "the boto3 reference failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference = serde_like::Samples(String::from_utf8_lossy(&output.stdout).into_owned());
    assert_eq!(
        reference.count("glob_count"),
        Some(OBJECTS),
        "the reference globbed differently"
    );
    assert_eq!(
        reference.count("grep_count"),
        Some(OBJECTS / 50),
        "the reference grepped differently"
    );
    let theirs = [
        secs(&reference, "glob"),
        secs(&reference, "grep"),
        secs(&reference, "writes"),
        secs(&reference, "writes"),
    ];
    let names = [
        "glob *.txt over 2,000 objects",
        "grep \"needle\" over 2,000 objects",
        "500 small writes (upload_files)",
        "500 small writes (write, one at a time)",
    ];

    println!(
        "\nS3 backend (concurrency {concurrency}) vs boto3 reference (moto on 127.0.0.1, median of {ROUNDS} rounds)\n"
    );
    println!("| operation | backend-s3 | boto3 (one request at a time) | speed-up |");
    println!("|---|---:|---:|---:|");
    for ((name, ours), theirs) in names.iter().zip(ours).zip(theirs) {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1}x |",
            ours.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() * 1000.0,
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
    }
    drop(server);
}
