//! What is on disk is not always what an agent could have written: names
//! that are not UTF-8, FIFOs and device files.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use backend_core::{Backend, BackendExt, ErrorKind, GrepRequest};
use backend_local::{LocalBackend, LocalOptions};

fn backends(root: &Path) -> Vec<LocalBackend> {
    vec![
        LocalBackend::new(root).expect("backend"),
        LocalBackend::with_options(root, LocalOptions::default().openat2(false)).expect("backend"),
    ]
}

#[tokio::test]
async fn non_utf8_names_are_listed_lossily_and_stay_readable_and_deletable() {
    let dir = tempfile::tempdir().expect("dir");
    let raw = OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::create_dir(dir.path().join(OsStr::from_bytes(b"d\xff"))).expect("dir");
    std::fs::write(dir.path().join(raw), "bonjour\n").expect("file");
    std::fs::write(
        dir.path().join(OsStr::from_bytes(b"d\xff")).join(raw),
        "inner\n",
    )
    .expect("file");
    for b in backends(dir.path()) {
        let names: Vec<_> = b
            .ls("/")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path.into_string())
            .collect();
        assert_eq!(names, ["/caf\u{FFFD}.txt", "/d\u{FFFD}"]);
        assert_eq!(
            b.read_to_string("/caf\u{FFFD}.txt").await.unwrap(),
            "bonjour\n"
        );
        assert_eq!(
            b.read_to_string("/d\u{FFFD}/caf\u{FFFD}.txt")
                .await
                .unwrap(),
            "inner\n"
        );
        let globbed = b.glob_paths("**/*.txt").await.unwrap();
        assert_eq!(globbed, ["/caf\u{FFFD}.txt", "/d\u{FFFD}/caf\u{FFFD}.txt"]);
        let hits = b.grep(&GrepRequest::new("bonjour")).await.unwrap();
        assert_eq!(hits.matches[0].path, "/caf\u{FFFD}.txt");
    }
    let b = LocalBackend::new(dir.path()).expect("backend");
    b.delete("/caf\u{FFFD}.txt", false).await.unwrap();
    b.delete("/d\u{FFFD}", true).await.unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn lossy_names_that_collide_are_refused_rather_than_guessed() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join(OsStr::from_bytes(b"x\xe9")), "one").expect("file");
    std::fs::write(dir.path().join(OsStr::from_bytes(b"x\xe8")), "two").expect("file");
    for b in backends(dir.path()) {
        let err = b.read_bytes("/x\u{FFFD}").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    }
}

/// Makes a FIFO and a thread blocked opening it for writing: that open
/// completes only if something opens the FIFO for reading.
fn fifo_with_watcher(path: &Path) -> std::thread::JoinHandle<()> {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("mkfifo");
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = std::fs::OpenOptions::new().write(true).open(path);
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_is_never_opened_by_read_or_grep() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("a.txt"), "needle\n").expect("file");
    let watcher = fifo_with_watcher(&dir.path().join("pipe"));
    for b in backends(dir.path()) {
        let read = tokio::time::timeout(Duration::from_secs(5), b.read("/pipe", 0, 10))
            .await
            .expect("read must not block on a FIFO");
        assert_eq!(read.unwrap_err().kind(), ErrorKind::NotATextFile);
        assert_eq!(
            b.read_bytes("/pipe").await.unwrap_err().kind(),
            ErrorKind::NotATextFile
        );
        assert_eq!(
            b.edit("/pipe", "a", "b", false).await.unwrap_err().kind(),
            ErrorKind::NotATextFile
        );
        let hits =
            tokio::time::timeout(Duration::from_secs(5), b.grep(&GrepRequest::new("needle")))
                .await
                .expect("grep must not block on a FIFO")
                .unwrap();
        let paths: Vec<_> = hits.matches.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/a.txt"]);
        let grep_one = b.grep(&GrepRequest::new("needle").path("/pipe")).await;
        assert_eq!(grep_one.unwrap_err().kind(), ErrorKind::NotATextFile);
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        !watcher.is_finished(),
        "something opened the FIFO for reading"
    );
    // Release the watcher.
    let _reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(dir.path().join("pipe"))
        .expect("open reader");
    watcher.join().expect("watcher");
}

#[tokio::test]
async fn a_device_file_is_refused_by_read_and_skipped_by_grep() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("a.txt"), "needle\n").expect("file");
    // A copy of /dev/zero: reading it would never end.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("zero"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o644),
        rustix::fs::makedev(1, 5),
    )
    .expect("creating a device node needs CAP_MKNOD: run the tests as root (CI does)");
    for b in backends(dir.path()) {
        assert_eq!(
            b.read_bytes("/zero").await.unwrap_err().kind(),
            ErrorKind::NotATextFile
        );
        let hits =
            tokio::time::timeout(Duration::from_secs(5), b.grep(&GrepRequest::new("needle")))
                .await
                .expect("grep must not read a device")
                .unwrap();
        assert_eq!(hits.matches.len(), 1);
        let info = b.stat("/zero").await.unwrap();
        assert!(!info.is_dir);
    }
}
