//! `ls`, `stat`, `exists`, `write`, `read_bytes` and `delete`
//! (docs/semantics.md, "Files").

use backend_core::{BackendExt, ErrorKind, GlobRequest};

use crate::Fixture;
use crate::check::{err_kind, is_err, ok, sorted};

const WRITE: &str = "semantics.md write: creates or overwrites the exact bytes";
const LS: &str = "semantics.md ls: the direct children, sorted by name, directories flagged";

/// What `write` stored comes back byte for byte.
pub async fn write_then_read_bytes_round_trips(fx: &Fixture) {
    let content = b"first line\nsecond line\n".to_vec();
    ok(
        fx.backend.write(&fx.path("f.txt"), content.clone()).await,
        WRITE,
    );
    assert_eq!(
        ok(fx.backend.read_bytes(&fx.path("f.txt")).await, WRITE),
        content,
        "{WRITE}"
    );
}

/// A second `write` replaces the whole content, also with a shorter one.
pub async fn write_overwrites(fx: &Fixture) {
    fx.put("f.txt", "a much longer first version\n").await;
    ok(
        fx.backend.write(&fx.path("f.txt"), b"short".to_vec()).await,
        WRITE,
    );
    assert_eq!(
        fx.get("f.txt").await,
        b"short",
        "{WRITE}: overwrite replaces everything"
    );
}

/// An empty file can be written and read back.
pub async fn write_empty_file(fx: &Fixture) {
    ok(fx.backend.write(&fx.path("empty"), Vec::new()).await, WRITE);
    assert_eq!(fx.get("empty").await, b"", "{WRITE}");
    let info = ok(
        fx.backend.stat(&fx.path("empty")).await,
        "semantics.md stat",
    );
    assert!(!info.is_dir, "semantics.md stat: an empty file is a file");
    if let Some(size) = info.size {
        assert_eq!(size, 0, "semantics.md stat: an empty file has size 0");
    }
}

/// `write` creates missing parent directories.
pub async fn write_creates_missing_parents(fx: &Fixture) {
    let rule = "semantics.md write: creates missing parents";
    ok(
        fx.backend
            .write(&fx.path("p/q/r/deep.txt"), b"deep".to_vec())
            .await,
        rule,
    );
    for dir in ["p", "p/q", "p/q/r"] {
        let info = ok(fx.backend.stat(&fx.path(dir)).await, rule);
        assert!(info.is_dir, "{rule}: {dir} is a directory");
    }
    assert_eq!(fx.get("p/q/r/deep.txt").await, b"deep", "{rule}");
}

/// Writing onto a directory fails with `is_directory` and keeps its files.
pub async fn write_onto_directory_is_directory(fx: &Fixture) {
    let rule = "semantics.md write: writing onto a directory → is_directory";
    fx.put("dir/inside.txt", "kept").await;
    err_kind(
        fx.backend.write(&fx.path("dir"), b"x".to_vec()).await,
        ErrorKind::IsDirectory,
        rule,
    );
    assert_eq!(
        fx.get("dir/inside.txt").await,
        b"kept",
        "{rule}: nothing is lost"
    );
}

/// Writing under a file fails with `not_a_directory` and keeps the file.
pub async fn write_under_file_not_a_directory(fx: &Fixture) {
    let rule = "semantics.md write: writing under a file → not_a_directory";
    fx.put("plain.txt", "kept").await;
    err_kind(
        fx.backend
            .write(&fx.path("plain.txt/child.txt"), b"x".to_vec())
            .await,
        ErrorKind::NotADirectory,
        rule,
    );
    assert_eq!(
        fx.get("plain.txt").await,
        b"kept",
        "{rule}: nothing is lost"
    );
}

/// All 256 byte values survive a round trip.
pub async fn binary_round_trip_all_byte_values(fx: &Fixture) {
    let rule = "semantics.md read_bytes/write: exact bytes";
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    ok(
        fx.backend.write(&fx.path("all.bin"), all.clone()).await,
        rule,
    );
    assert_eq!(
        fx.get("all.bin").await,
        all,
        "{rule}: every byte value round-trips"
    );
}

/// A 32 MiB file survives a round trip.
pub async fn large_file_round_trip(fx: &Fixture) {
    let rule = "semantics.md read_bytes/write: exact bytes, also for a 32 MiB file";
    let big: Vec<u8> = (0..32 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    ok(
        fx.backend.write(&fx.path("big.bin"), big.clone()).await,
        rule,
    );
    let back = fx.get("big.bin").await;
    assert_eq!(back.len(), big.len(), "{rule}: length");
    assert!(back == big, "{rule}: content differs");
    if let Some(size) = ok(fx.backend.stat(&fx.path("big.bin")).await, rule).size {
        assert_eq!(
            size,
            big.len() as u64,
            "semantics.md stat: size of the 32 MiB file"
        );
    }
}

/// `read_bytes` of a missing file fails with `file_not_found`.
pub async fn read_bytes_missing_is_file_not_found(fx: &Fixture) {
    let rule = "semantics.md read_bytes: a missing file → file_not_found";
    err_kind(
        fx.backend.read_bytes(&fx.path("nope.txt")).await,
        ErrorKind::FileNotFound,
        rule,
    );
}

/// `read_bytes` of a directory fails with `is_directory`.
pub async fn read_bytes_directory_is_directory(fx: &Fixture) {
    let rule = "semantics.md read_bytes: a directory → is_directory";
    fx.put("dir/x.txt", "x").await;
    err_kind(
        fx.backend.read_bytes(&fx.path("dir")).await,
        ErrorKind::IsDirectory,
        rule,
    );
}

/// `ls` lists only direct children, sorted by name.
pub async fn ls_lists_direct_children_sorted(fx: &Fixture) {
    for name in [
        "b.txt",
        "a.txt",
        "c/inner.txt",
        "c/deeper/x.txt",
        "B.md",
        "_u.txt",
    ] {
        fx.put(name, name).await;
    }
    let listed = ok(fx.backend.ls(fx.root()).await, LS);
    let names: Vec<String> = listed.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names, ["B.md", "_u.txt", "a.txt", "b.txt", "c"], "{LS}");
}

/// `ls` flags directories and not files.
pub async fn ls_flags_directories(fx: &Fixture) {
    fx.put("sub/x.txt", "x").await;
    fx.put("file.txt", "f").await;
    let listed = ok(fx.backend.ls(fx.root()).await, LS);
    let flags: Vec<(String, bool)> = listed
        .iter()
        .map(|f| (f.name().to_owned(), f.is_dir))
        .collect();
    assert_eq!(
        flags,
        [("file.txt".to_owned(), false), ("sub".to_owned(), true)],
        "{LS}"
    );
}

/// Sizes that `ls` reports are the files' sizes.
pub async fn ls_reports_file_sizes(fx: &Fixture) {
    let rule = "semantics.md ls: size where known";
    fx.put("three", "abc").await;
    fx.put("ten", "0123456789").await;
    for info in ok(fx.backend.ls(fx.root()).await, rule) {
        let expected = if info.name() == "three" { 3 } else { 10 };
        if let Some(size) = info.size {
            assert_eq!(size, expected, "{rule}: {}", info.name());
        }
    }
}

/// `ls` entries carry the full virtual path.
pub async fn ls_entries_carry_full_paths(fx: &Fixture) {
    fx.put("d/e/f.txt", "x").await;
    let listed = ok(fx.backend.ls(&fx.path("d")).await, LS);
    let paths: Vec<&str> = listed.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [fx.path("d/e").as_str()],
        "{LS}: entries carry their full path"
    );
}

/// `ls` of a file fails with `not_a_directory`.
pub async fn ls_file_is_not_a_directory(fx: &Fixture) {
    fx.put("f.txt", "x").await;
    err_kind(
        fx.backend.ls(&fx.path("f.txt")).await,
        ErrorKind::NotADirectory,
        "semantics.md ls: a file → not_a_directory",
    );
}

/// `ls` of a missing path fails with `file_not_found`.
pub async fn ls_missing_is_file_not_found(fx: &Fixture) {
    err_kind(
        fx.backend.ls(&fx.path("missing")).await,
        ErrorKind::FileNotFound,
        "semantics.md ls: missing → file_not_found",
    );
}

/// `ls /` shows the case root as a directory.
pub async fn ls_root_shows_top_level_directories(fx: &Fixture) {
    fx.put("x.txt", "x").await;
    let listed = ok(fx.backend.ls("/").await, LS);
    let mine = listed.iter().find(|f| f.path.as_str() == fx.root());
    assert!(
        mine.is_some_and(|f| f.is_dir),
        "{LS}: ls / must list {} as a directory, got {:?}",
        fx.root(),
        listed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>()
    );
    let names: Vec<&str> = listed.iter().map(|f| f.name()).collect();
    sorted(&names, LS);
}

/// `stat` describes a file.
pub async fn stat_file(fx: &Fixture) {
    let rule = "semantics.md stat: facts about a file";
    fx.put("s.txt", "12345").await;
    let info = ok(fx.backend.stat(&fx.path("s.txt")).await, rule);
    assert_eq!(info.path.as_str(), fx.path("s.txt"), "{rule}: path");
    assert!(!info.is_dir, "{rule}: a file is not a directory");
    if let Some(size) = info.size {
        assert_eq!(size, 5, "{rule}: size");
    }
}

/// `stat` describes a directory.
pub async fn stat_directory(fx: &Fixture) {
    fx.put("d/x", "x").await;
    let info = ok(fx.backend.stat(&fx.path("d")).await, "semantics.md stat");
    assert!(info.is_dir, "semantics.md stat: a directory is flagged");
}

/// `stat` of a missing path fails with `file_not_found`.
pub async fn stat_missing_is_file_not_found(fx: &Fixture) {
    err_kind(
        fx.backend.stat(&fx.path("none")).await,
        ErrorKind::FileNotFound,
        "semantics.md stat: missing → file_not_found",
    );
}

/// A backend that reports modification times reports them from `stat`.
pub async fn stat_reports_modified_time(fx: &Fixture) {
    let rule = "Capabilities::modified_time: stat reports a modification time";
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(300);
    fx.put("m.txt", "m").await;
    let info = ok(fx.backend.stat(&fx.path("m.txt")).await, rule);
    let modified = info.modified.unwrap_or_else(|| panic!("{rule}: got none"));
    assert!(
        modified >= before,
        "{rule}: {modified:?} is older than the write"
    );
}

/// `exists` is true for files and directories and false for missing paths.
pub async fn exists_reports_presence(fx: &Fixture) {
    let rule = "semantics.md exists";
    fx.put("e/f.txt", "x").await;
    assert!(
        ok(fx.backend.exists(&fx.path("e/f.txt")).await, rule),
        "{rule}: file"
    );
    assert!(
        ok(fx.backend.exists(&fx.path("e")).await, rule),
        "{rule}: directory"
    );
    assert!(
        !ok(fx.backend.exists(&fx.path("e/g.txt")).await, rule),
        "{rule}: missing"
    );
}

/// Deleting a file removes it and nothing else.
pub async fn delete_file_removes_only_it(fx: &Fixture) {
    let rule = "semantics.md delete: a file";
    fx.put("d/a.txt", "a").await;
    fx.put("d/b.txt", "b").await;
    ok(fx.backend.delete(&fx.path("d/a.txt"), false).await, rule);
    assert!(
        !ok(fx.backend.exists(&fx.path("d/a.txt")).await, rule),
        "{rule}: gone"
    );
    assert_eq!(fx.get("d/b.txt").await, b"b", "{rule}: the sibling stays");
}

/// Deleting a missing file fails with `file_not_found`.
pub async fn delete_missing_is_file_not_found(fx: &Fixture) {
    err_kind(
        fx.backend.delete(&fx.path("ghost.txt"), false).await,
        ErrorKind::FileNotFound,
        "semantics.md delete: missing → file_not_found",
    );
}

/// A directory is not deleted without `recursive`; its files stay.
pub async fn delete_directory_needs_recursive(fx: &Fixture) {
    let rule = "semantics.md delete: a directory needs `recursive`";
    fx.put("tree/leaf.txt", "leaf").await;
    is_err(fx.backend.delete(&fx.path("tree"), false).await, rule);
    assert_eq!(
        fx.get("tree/leaf.txt").await,
        b"leaf",
        "{rule}: nothing is deleted"
    );
}

/// A recursive delete removes the whole tree, and only it.
pub async fn delete_recursive_removes_tree_only(fx: &Fixture) {
    let rule = "semantics.md delete: recursive removes the directory and everything in it";
    fx.put("tree/a.txt", "a").await;
    fx.put("tree/sub/b.txt", "b").await;
    fx.put("tree2/keep.txt", "sibling with the same prefix")
        .await;
    fx.put("treex.txt", "file with the same prefix").await;
    ok(fx.backend.delete(&fx.path("tree"), true).await, rule);
    for gone in ["tree", "tree/a.txt", "tree/sub", "tree/sub/b.txt"] {
        assert!(
            !ok(fx.backend.exists(&fx.path(gone)).await, rule),
            "{rule}: {gone} remains"
        );
    }
    assert_eq!(
        fx.get("tree2/keep.txt").await,
        b"sibling with the same prefix",
        "{rule}: tree2 must stay"
    );
    assert_eq!(
        fx.get("treex.txt").await,
        b"file with the same prefix",
        "{rule}: treex.txt must stay"
    );
    let found = ok(
        fx.backend
            .glob(&GlobRequest::new("**").path(fx.root()))
            .await,
        rule,
    );
    let paths: Vec<String> = found.files.iter().map(|f| fx.rel(&f.path)).collect();
    assert_eq!(
        paths,
        ["tree2/keep.txt", "treex.txt"],
        "{rule}: glob after the delete"
    );
}

/// `/` cannot be deleted.
pub async fn delete_root_is_permission_denied(fx: &Fixture) {
    let rule = "semantics.md delete: `/` cannot be deleted (permission_denied)";
    fx.put("survivor.txt", "still here").await;
    for root in ["/", "//", "/."] {
        err_kind(
            fx.backend.delete(root, true).await,
            ErrorKind::PermissionDenied,
            rule,
        );
    }
    assert_eq!(
        fx.get("survivor.txt").await,
        b"still here",
        "{rule}: nothing is deleted"
    );
}

/// With `empty_directories`, a directory stays after its last file goes.
pub async fn directory_survives_deleting_its_last_file(fx: &Fixture) {
    let rule = "Capabilities::empty_directories: directories exist on their own";
    fx.put("keep/only.txt", "x").await;
    ok(
        fx.backend.delete(&fx.path("keep/only.txt"), false).await,
        rule,
    );
    let info = ok(fx.backend.stat(&fx.path("keep")).await, rule);
    assert!(info.is_dir, "{rule}");
    assert!(
        ok(fx.backend.ls(&fx.path("keep")).await, rule).is_empty(),
        "{rule}: empty"
    );
}

/// After a write and a delete, a file is gone from listings and searches.
pub async fn deleted_file_leaves_listings(fx: &Fixture) {
    let rule = "semantics.md delete: the file is gone from ls and glob";
    fx.put("l/a.txt", "a").await;
    fx.put("l/b.txt", "b").await;
    ok(fx.backend.delete(&fx.path("l/a.txt"), false).await, rule);
    let names: Vec<String> = ok(fx.backend.ls(&fx.path("l")).await, rule)
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    assert_eq!(names, ["b.txt"], "{rule} (ls)");
    let found = ok(
        fx.backend
            .glob(&GlobRequest::new("*.txt").path(fx.root()))
            .await,
        rule,
    );
    assert_eq!(found.files.len(), 1, "{rule} (glob)");
}

/// Overwriting a file keeps a single listing entry.
pub async fn overwrite_keeps_one_entry(fx: &Fixture) {
    fx.put("o.txt", "1").await;
    fx.put("o.txt", "22").await;
    let listed = ok(fx.backend.ls(fx.root()).await, LS);
    assert_eq!(listed.len(), 1, "{LS}: an overwritten file is listed once");
}

/// Names that share a prefix (`a`, `a-b.txt`, `a.txt`) stay separate in
/// `ls`, `glob`, `grep` and a recursive `delete`; a sorted store puts
/// `a-b.txt` and `a.txt` between `a` and `a/x.txt`.
pub async fn names_sharing_a_prefix_stay_apart(fx: &Fixture) {
    let rule = "semantics.md ls/glob/grep/delete: a directory holds exactly the entries under it";
    for name in ["d/a/x.txt", "d/a-b.txt", "d/a.txt", "d/a/y.txt"] {
        fx.put(name, "needle\n").await;
    }
    let names = |list: Vec<backend_core::FileInfo>| -> Vec<String> {
        list.iter().map(|f| f.name().to_owned()).collect()
    };
    assert_eq!(
        names(ok(fx.backend.ls(&fx.path("d")).await, rule)),
        ["a", "a-b.txt", "a.txt"],
        "{rule}"
    );
    assert_eq!(
        names(ok(fx.backend.ls(&fx.path("d/a")).await, rule)),
        ["x.txt", "y.txt"],
        "{rule}"
    );
    let found = ok(
        fx.backend
            .glob(&GlobRequest::new("*").path(fx.path("d/a")))
            .await,
        rule,
    );
    assert_eq!(names(found.files), ["x.txt", "y.txt"], "{rule} (glob)");
    let hits = ok(
        fx.backend
            .grep(&backend_core::GrepRequest::new("needle").path(fx.path("d/a")))
            .await,
        rule,
    );
    assert_eq!(hits.matches.len(), 2, "{rule} (grep)");
    ok(fx.backend.delete(&fx.path("d/a"), true).await, rule);
    assert_eq!(
        names(ok(fx.backend.ls(&fx.path("d")).await, rule)),
        ["a-b.txt", "a.txt"],
        "{rule} (delete)"
    );
}

/// Errors carry the operation and the path they are about.
pub async fn errors_name_operation_and_path(fx: &Fixture) {
    let rule = "semantics.md Errors: an error carries the operation and the path";
    let missing = fx.path("missing.txt");
    let e = err_kind(
        fx.backend.read_bytes(&missing).await,
        ErrorKind::FileNotFound,
        rule,
    );
    assert_eq!(
        e.operation(),
        Some(backend_core::Operation::ReadBytes),
        "{rule}: {e}"
    );
    assert!(
        e.path().is_some_and(|p| p.ends_with("missing.txt")),
        "{rule}: path {:?}",
        e.path()
    );
    assert!(!e.message().is_empty(), "{rule}: a message to act on");
    let e = err_kind(fx.backend.ls(&missing).await, ErrorKind::FileNotFound, rule);
    assert_eq!(
        e.operation(),
        Some(backend_core::Operation::Ls),
        "{rule}: {e}"
    );
    let e = err_kind(
        fx.backend.write("/a/../b", Vec::new()).await,
        ErrorKind::InvalidPath,
        rule,
    );
    assert_eq!(
        e.operation(),
        Some(backend_core::Operation::Write),
        "{rule}: {e}"
    );
}
