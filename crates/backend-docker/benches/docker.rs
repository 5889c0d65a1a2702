//! `cargo xtask bench docker`: the Docker sandbox against the `docker` CLI
//! and against its own targets, measured in one run on the test image.
//!
//! - exec round trip of `true` through the sandbox vs `docker exec` (p50 at
//!   most half the CLI's);
//! - pool acquire with the pool warm (p99 under 5 ms);
//! - cold creation to the first command's end (under 400 ms);
//! - 100 small files written as one batch vs one by one.

use std::process::Command;
use std::time::{Duration, Instant};

use backend_core::{Backend, ExecRequest, FileUpload, Sandbox};
use backend_docker::{DockerSandbox, SandboxPool};

const IMAGE: &str = "agent-backend-test:busybox";

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Row {
    what: &'static str,
    value: Duration,
    reference: Option<(&'static str, Duration)>,
    target: String,
    met: Option<bool>,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let docker = backend_docker::connect()
        .await
        .expect("no Docker engine: run `cargo xtask docker-up && cargo xtask docker-image`");
    let builder = DockerSandbox::builder(IMAGE).docker(docker);
    let mut rows = Vec::new();

    // Exec round trip.
    let sandbox = builder.clone().build().await.expect("a sandbox");
    for _ in 0..5 {
        sandbox
            .execute(ExecRequest::new("true"))
            .await
            .expect("warm-up");
    }
    let mut ours = Vec::new();
    for _ in 0..60 {
        let started = Instant::now();
        let out = sandbox
            .execute(ExecRequest::new("true"))
            .await
            .expect("exec");
        ours.push(started.elapsed());
        assert_eq!(out.exit_code(), Some(0));
    }
    let mut cli = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let status = Command::new("docker")
            .args(["exec", "-u", "1000:1000", sandbox.id(), "true"])
            .status()
            .expect("docker CLI");
        cli.push(started.elapsed());
        assert!(status.success());
    }
    let (ours_p50, cli_p50) = (percentile(&mut ours, 0.5), percentile(&mut cli, 0.5));
    rows.push(Row {
        what: "exec `true` round trip, p50",
        value: ours_p50,
        reference: Some(("docker exec CLI p50", cli_p50)),
        target: "≤ 0.5 × CLI".into(),
        met: Some(ours_p50.as_secs_f64() <= 0.5 * cli_p50.as_secs_f64()),
    });

    // 100 small files: one batch vs one by one.
    let files: Vec<FileUpload> = (0..100)
        .map(|i| FileUpload::new(format!("/batch/f{i:03}.txt"), format!("file {i}\n")))
        .collect();
    let started = Instant::now();
    let results = sandbox.upload_files(files.clone()).await;
    let batched = started.elapsed();
    assert!(results.iter().all(|r| r.is_ok()));
    let started = Instant::now();
    for file in &files {
        let path = file.path.replace("/batch/", "/single/");
        sandbox
            .write(&path, file.content.clone())
            .await
            .expect("write");
    }
    let single = started.elapsed();
    rows.push(Row {
        what: "100 small files, one batch",
        value: batched,
        reference: Some(("one by one", single)),
        target: "faster than one by one".into(),
        met: Some(batched < single),
    });
    sandbox.close().await.expect("close");

    // Cold start to first command.
    let mut cold = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let fresh = builder.clone().build().await.expect("create");
        fresh
            .execute(ExecRequest::new("true"))
            .await
            .expect("first command");
        cold.push(started.elapsed());
        fresh.close().await.expect("close");
    }
    let cold_p50 = percentile(&mut cold, 0.5);
    rows.push(Row {
        what: "cold create → first command, p50",
        value: cold_p50,
        reference: None,
        target: "< 400 ms".into(),
        met: Some(cold_p50 < Duration::from_millis(400)),
    });

    // Warm pool acquire.
    let pool = SandboxPool::new(builder.clone(), 4).await.expect("pool");
    let mut acquire = Vec::new();
    for _ in 0..100 {
        // Wait until the pool is full again so every acquire finds it warm.
        while pool.warm_count().await < 4 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let started = Instant::now();
        let lent = pool.acquire().await.expect("acquire");
        acquire.push(started.elapsed());
        pool.release(lent).await;
    }
    let (acq_p50, acq_p99) = (
        percentile(&mut acquire, 0.5),
        percentile(&mut acquire, 0.99),
    );
    rows.push(Row {
        what: "pool acquire (warm), p50",
        value: acq_p50,
        reference: None,
        target: "-".into(),
        met: None,
    });
    rows.push(Row {
        what: "pool acquire (warm), p99",
        value: acq_p99,
        reference: None,
        target: "< 5 ms".into(),
        met: Some(acq_p99 < Duration::from_millis(5)),
    });
    pool.shutdown().await;

    println!();
    println!("| measurement | value | reference | ratio | target | met |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        let (reference, ratio) = match row.reference {
            Some((name, value)) => (
                format!("{name}: {}", ms(value)),
                format!("{:.2}×", row.value.as_secs_f64() / value.as_secs_f64()),
            ),
            None => ("-".into(), "-".into()),
        };
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.what,
            ms(row.value),
            reference,
            ratio,
            row.target,
            met
        );
    }
}
