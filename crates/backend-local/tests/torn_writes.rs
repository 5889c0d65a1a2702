//! Writes cannot tear: a child process rewriting a 1 MiB file is killed with
//! SIGKILL at random moments, 200 times, and the file always holds one
//! complete version.
//!
//! The child is this test binary run again on the `#[ignore]`d
//! `rewrite_forever_as_child` test, which only does anything when the
//! environment variable below names a directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use backend_core::Backend;
use backend_local::LocalBackend;
use rand::Rng;

const CHILD_DIR: &str = "BACKEND_LOCAL_TORN_WRITE_DIR";
const SIZE: usize = 1024 * 1024;
const ROUNDS: usize = 200;

/// Version `n` of the file: `SIZE` bytes all equal to one value, so that a
/// mix of two versions is visible.
fn version(n: usize) -> Vec<u8> {
    vec![(n % 251) as u8 + 1; SIZE]
}

#[test]
#[ignore = "the child process of writes_survive_sigkill_at_random_moments"]
fn rewrite_forever_as_child() {
    let dir = std::env::var(CHILD_DIR).expect("run only as the child of the torn-write test");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let backend = LocalBackend::new(&dir).expect("backend");
        let mut n = rand::rng().random_range(0..1000);
        println!("ready");
        loop {
            n += 1;
            backend.write("/big.bin", version(n)).await.expect("write");
        }
    });
}

#[test]
fn writes_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("big.bin"), version(0)).expect("initial version");
    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "rewrite_forever_as_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            let line = lines
                .next()
                .expect("the writer ended before it was ready")
                .expect("read");
            if line.contains("ready") {
                break;
            }
        }
        // Anywhere within a few writes: before, during or between them.
        std::thread::sleep(Duration::from_micros(rng.random_range(0..4_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let bytes = std::fs::read(dir.path().join("big.bin")).expect("the file must exist");
        assert_eq!(
            bytes.len(),
            SIZE,
            "round {round}: the file has a torn length"
        );
        let first = bytes[0];
        assert!(
            bytes.iter().all(|b| *b == first),
            "round {round}: the file mixes two versions"
        );
        // A killed writer leaves its temporary file behind; clear it so the
        // rounds do not fill the disk.
        for entry in std::fs::read_dir(dir.path()).expect("list") {
            let entry = entry.expect("entry");
            if entry.file_name() != "big.bin" {
                std::fs::remove_file(entry.path()).expect("remove temp");
            }
        }
    }
}
