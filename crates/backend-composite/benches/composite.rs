//! `cargo xtask bench composite`: what routing costs, and what fanning a
//! search out buys.
//!
//! - read and write through a composite (to a routed backend) against the
//!   same backend called directly, in memory and on disk; the target is
//!   under 5% more;
//! - grep over four routes at once against the same four backends searched
//!   one after another.
//!
//! Each case alternates rounds of the reference and of the composite and
//! reports the fastest round of each (the one least disturbed by other work
//! on a shared machine), with their ratio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_composite::CompositeBackend;
use backend_core::{Backend, GrepRequest};
use backend_local::LocalBackend;
use backend_state::StateBackend;

const ROUNDS: usize = 21;
const FILES: usize = 2_000;
const DISK_FILES: usize = 200;
const GREP_FILES_PER_ROUTE: usize = 500;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(run());
}

struct Row {
    case: &'static str,
    reference: Duration,
    measured: Duration,
    per: usize,
}

async fn run() {
    let content = "line of text that an agent wrote\n".repeat(32).into_bytes();
    let mut rows = Vec::new();

    // Write and read: the same state backend, directly and as a route.
    let direct = Arc::new(StateBackend::new());
    let routed = Arc::new(StateBackend::new());
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/memories/", routed.clone())
        .route("/scratch/", Arc::new(StateBackend::new()))
        .route("/tools/cache/", Arc::new(StateBackend::new()))
        .build()
        .expect("valid routes");
    let direct_paths: Vec<String> = (0..FILES).map(|i| format!("/notes/n{i}.md")).collect();
    let routed_paths: Vec<String> = (0..FILES)
        .map(|i| format!("/memories/notes/n{i}.md"))
        .collect();

    let (reference, measured) = interleaved(
        || write_all(direct.as_ref(), &direct_paths, &content),
        || write_all(&composite, &routed_paths, &content),
    )
    .await;
    rows.push(Row {
        case: "write 1 KiB",
        reference,
        measured,
        per: FILES,
    });

    let (reference, measured) = interleaved(
        || read_all(direct.as_ref(), &direct_paths),
        || read_all(&composite, &routed_paths),
    )
    .await;
    rows.push(Row {
        case: "read 32 lines",
        reference,
        measured,
        per: FILES,
    });

    // The same through a local (disk) backend, where routing is a smaller
    // share of each call.
    let disk_dir = tempfile::tempdir().expect("a temporary directory");
    let direct_disk = Arc::new(LocalBackend::new(disk_dir.path()).expect("a local backend"));
    let routed_dir = tempfile::tempdir().expect("a temporary directory");
    let routed_disk = Arc::new(LocalBackend::new(routed_dir.path()).expect("a local backend"));
    let disk_composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/memories/", routed_disk)
        .route("/scratch/", Arc::new(StateBackend::new()))
        .build()
        .expect("valid routes");
    let disk_direct_paths = &direct_paths[..DISK_FILES];
    let disk_routed_paths = &routed_paths[..DISK_FILES];
    let (reference, measured) = interleaved(
        || write_all(direct_disk.as_ref(), disk_direct_paths, &content),
        || write_all(&disk_composite, disk_routed_paths, &content),
    )
    .await;
    rows.push(Row {
        case: "local write 1 KiB",
        reference,
        measured,
        per: DISK_FILES,
    });
    let (reference, measured) = interleaved(
        || read_all(direct_disk.as_ref(), disk_direct_paths),
        || read_all(&disk_composite, disk_routed_paths),
    )
    .await;
    rows.push(Row {
        case: "local read 32 lines",
        reference,
        measured,
        per: DISK_FILES,
    });

    // Grep: four routes searched at once, or one after another.
    let stores: Vec<Arc<StateBackend>> = (0..4).map(|_| Arc::new(StateBackend::new())).collect();
    let mut builder = CompositeBackend::builder(Arc::new(StateBackend::new()));
    for (i, store) in stores.iter().enumerate() {
        for f in 0..GREP_FILES_PER_ROUTE {
            let mut text = "nothing to see here\n".repeat(40);
            if f % 10 == 0 {
                text.push_str("the needle is here\n");
            }
            store
                .write(&format!("/src/f{f}.txt"), text.into_bytes())
                .await
                .expect("write");
        }
        builder = builder.route(format!("/r{i}/"), store.clone());
    }
    let fanned = builder.build().expect("valid routes");
    let request = GrepRequest::new("needle");
    let (reference, measured) = interleaved(
        || async {
            let mut total = 0;
            for store in &stores {
                total += store.grep(&request).await.expect("grep").matches.len();
            }
            assert_eq!(total, 4 * GREP_FILES_PER_ROUTE / 10);
        },
        || async {
            let found = fanned.grep(&request).await.expect("grep");
            assert_eq!(found.matches.len(), 4 * GREP_FILES_PER_ROUTE / 10);
        },
    )
    .await;
    rows.push(Row {
        case: "grep 4 routes",
        reference,
        measured,
        per: 1,
    });

    println!();
    println!(
        "{:<20} {:>18} {:>16} {:>8}",
        "case", "direct/sequential", "composite", "ratio"
    );
    for row in &rows {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / row.per as f64;
        println!(
            "{:<20} {:>16.2}µs {:>14.2}µs {:>8.3}",
            row.case,
            per(row.reference),
            per(row.measured),
            row.measured.as_secs_f64() / row.reference.as_secs_f64()
        );
    }
    println!(
        "\n(per operation; fastest of {ROUNDS} rounds; ratio = composite / reference; write/read target < 1.05)"
    );
}

/// Runs reference and measured rounds alternately, so that drift in the
/// machine's load touches both alike, and returns the fastest of each.
async fn interleaved<R, M, FR, FM>(mut reference: R, mut measured: M) -> (Duration, Duration)
where
    R: FnMut() -> FR,
    M: FnMut() -> FM,
    FR: Future<Output = ()>,
    FM: Future<Output = ()>,
{
    // One warm-up round each.
    reference().await;
    measured().await;
    let mut refs = Vec::with_capacity(ROUNDS);
    let mut meas = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        reference().await;
        refs.push(start.elapsed());
        let start = Instant::now();
        measured().await;
        meas.push(start.elapsed());
    }
    (fastest(&refs), fastest(&meas))
}

fn fastest(samples: &[Duration]) -> Duration {
    samples.iter().copied().min().unwrap_or_default()
}

async fn write_all(backend: &dyn Backend, paths: &[String], content: &[u8]) {
    for path in paths {
        backend.write(path, content.to_vec()).await.expect("write");
    }
}

async fn read_all(backend: &dyn Backend, paths: &[String]) {
    for path in paths {
        let page = backend.read(path, 0, 100).await.expect("read");
        assert_eq!(page.total_lines, 32);
    }
}
