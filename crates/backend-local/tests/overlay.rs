//! Overlay mode: reads fall through to the directory, writes and deletes
//! stay in memory until `commit`, and the directory is untouched before it.

use std::path::Path;

use backend_core::{Backend, BackendExt, ErrorKind, GrepRequest};
use backend_local::{Change, LocalBackend};

/// A directory with `/keep.txt`, `/gone.txt` and `/dir/inner.txt`.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("keep.txt"), "keep needle\n").expect("file");
    std::fs::write(dir.path().join("gone.txt"), "gone needle\n").expect("file");
    std::fs::create_dir(dir.path().join("dir")).expect("dir");
    std::fs::write(dir.path().join("dir/inner.txt"), "inner needle\n").expect("file");
    dir
}

/// Every file under `root` with its content, to compare before and after.
fn snapshot(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in ignore::WalkBuilder::new(root)
        .hidden(false)
        .ignore(false)
        .git_ignore(false)
        .build()
    {
        let entry = entry.expect("entry");
        if entry.file_type().is_some_and(|t| t.is_file()) {
            let rel = entry
                .path()
                .strip_prefix(root)
                .expect("rel")
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read(entry.path()).expect("read")));
        }
    }
    out.sort();
    out
}

fn vp(path: &str) -> backend_core::VirtualPath {
    backend_core::VirtualPath::parse(path).expect("path")
}

#[tokio::test]
async fn changes_stay_in_memory_and_the_directory_is_untouched() {
    let dir = tree();
    let before = snapshot(dir.path());
    let b = LocalBackend::overlay(dir.path()).expect("overlay");
    b.write_str("/new/file.txt", "fresh needle\n")
        .await
        .unwrap();
    b.write_str("/keep.txt", "rewritten\n").await.unwrap();
    b.delete("/gone.txt", false).await.unwrap();
    b.edit("/dir/inner.txt", "inner", "edited", false)
        .await
        .unwrap();
    assert_eq!(snapshot(dir.path()), before);

    assert_eq!(b.read_to_string("/keep.txt").await.unwrap(), "rewritten\n");
    assert_eq!(
        b.read_to_string("/dir/inner.txt").await.unwrap(),
        "edited needle\n"
    );
    assert_eq!(
        b.read_bytes("/gone.txt").await.unwrap_err().kind(),
        ErrorKind::FileNotFound
    );
    let names: Vec<_> = b
        .ls("/")
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.path.into_string(), f.is_dir))
        .collect();
    assert_eq!(
        names,
        [
            ("/dir".into(), true),
            ("/keep.txt".into(), false),
            ("/new".into(), true)
        ]
    );
    let hits = b.grep(&GrepRequest::new("needle")).await.unwrap();
    let paths: Vec<_> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/dir/inner.txt", "/new/file.txt"]);
    assert_eq!(
        b.glob_paths("**/*.txt").await.unwrap(),
        ["/dir/inner.txt", "/keep.txt", "/new/file.txt"]
    );
}

#[tokio::test]
async fn changes_lists_commit_applies_and_the_overlay_empties() {
    let dir = tree();
    let b = LocalBackend::overlay(dir.path()).expect("overlay");
    b.write_str("/new.txt", "n").await.unwrap();
    b.delete("/dir", true).await.unwrap();
    b.write_str("/dir/again.txt", "a").await.unwrap();
    assert_eq!(
        b.changes(),
        [
            Change::Deleted { path: vp("/dir") },
            Change::Written {
                path: vp("/dir/again.txt"),
                size: 1
            },
            Change::Written {
                path: vp("/new.txt"),
                size: 1
            },
        ]
    );
    b.commit().await.unwrap();
    assert!(b.changes().is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dir/again.txt")).unwrap(),
        "a"
    );
    assert!(!dir.path().join("dir/inner.txt").exists());
    assert_eq!(b.read_to_string("/dir/again.txt").await.unwrap(), "a");
}

#[tokio::test]
async fn discard_drops_every_change() {
    let dir = tree();
    let before = snapshot(dir.path());
    let b = LocalBackend::overlay(dir.path()).expect("overlay");
    b.write_str("/keep.txt", "x").await.unwrap();
    b.delete("/dir", true).await.unwrap();
    b.discard();
    assert!(b.changes().is_empty());
    assert_eq!(
        b.read_to_string("/keep.txt").await.unwrap(),
        "keep needle\n"
    );
    assert_eq!(
        b.read_to_string("/dir/inner.txt").await.unwrap(),
        "inner needle\n"
    );
    b.commit().await.unwrap();
    assert_eq!(snapshot(dir.path()), before);
}

#[tokio::test]
async fn the_overlay_view_keeps_file_and_directory_rules() {
    let dir = tree();
    let b = LocalBackend::overlay(dir.path()).expect("overlay");
    assert_eq!(
        b.write_str("/dir", "x").await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.write_str("/keep.txt/x", "x").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        b.delete("/dir", false).await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    b.write_str("/n/x.txt", "x").await.unwrap();
    assert_eq!(
        b.write_str("/n", "x").await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.write_str("/n/x.txt/y", "x").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    // Once deleted, a directory's name is free for a file.
    b.delete("/dir", true).await.unwrap();
    b.write_str("/dir", "now a file").await.unwrap();
    assert_eq!(
        b.read_bytes("/dir/inner.txt").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    b.commit().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("dir")).unwrap(),
        "now a file"
    );
}

#[tokio::test]
async fn overlay_reads_are_confined_like_plain_ones() {
    let dir = tree();
    std::os::unix::fs::symlink("/etc", dir.path().join("etc")).expect("symlink");
    let b = LocalBackend::overlay(dir.path()).expect("overlay");
    let err = b.read_bytes("/etc/passwd").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    b.write_str("/etc/x", "x").await.unwrap_err();
}
