//! The path rules of docs/semantics.md ("Paths"): what is rejected with
//! `invalid_path` by every operation, and what is normalised and accepted.

use backend_core::{Backend, BackendExt, ErrorKind, FileUpload, GlobRequest, GrepRequest};

use crate::Fixture;
use crate::check::{err_kind, ok};

const DOTDOT: &str = "semantics.md Paths: a `..` segment is rejected with invalid_path";

/// Puts `a/x.txt` and `b.txt` under the root, so that a backend which
/// resolved `a/../b.txt` instead of refusing it would find something.
async fn traversal_setup(fx: &Fixture) {
    fx.put("a/x.txt", "inside a\n").await;
    fx.put("b.txt", "needle\n").await;
}

/// `ls` refuses a path with a `..` segment.
pub async fn ls_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.ls(&fx.path("a/..")).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    err_kind(fx.backend.ls("/..").await, ErrorKind::InvalidPath, DOTDOT);
}

/// `stat` refuses a path with a `..` segment.
pub async fn stat_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.stat(&fx.path("a/../b.txt")).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    err_kind(
        fx.backend.stat("/../etc/passwd").await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// `exists` reports `invalid_path` for a `..` segment, not true or false.
pub async fn exists_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.exists(&fx.path("a/../b.txt")).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// `read` refuses a path with a `..` segment.
pub async fn read_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.read(&fx.path("a/../b.txt"), 0, 10).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    err_kind(
        fx.backend.read("../../etc/passwd", 0, 10).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// `read_bytes` refuses a path with a `..` segment.
pub async fn read_bytes_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.read_bytes(&fx.path("a/../b.txt")).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    err_kind(
        fx.backend.read_bytes(&fx.path("..")).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// `write` refuses a path with a `..` segment and writes nothing anywhere.
pub async fn write_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend
            .write(&fx.path("a/../w.txt"), b"x".to_vec())
            .await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    let written = ok(fx.backend.exists(&fx.path("w.txt")).await, "exists");
    assert!(
        !written,
        "{DOTDOT}: a refused write must not create the resolved file"
    );
}

/// `edit` refuses a path with a `..` segment and changes nothing.
pub async fn edit_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend
            .edit(&fx.path("a/../b.txt"), "needle", "changed", false)
            .await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    assert_eq!(
        fx.get_text("b.txt").await,
        "needle\n",
        "{DOTDOT}: the file must be unchanged"
    );
}

/// `delete` refuses a path with a `..` segment and deletes nothing.
pub async fn delete_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    err_kind(
        fx.backend.delete(&fx.path("a/../b.txt"), false).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    err_kind(
        fx.backend.delete(&fx.path("a/.."), true).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
    assert!(
        ok(fx.backend.exists(&fx.path("b.txt")).await, "exists"),
        "{DOTDOT}: a refused delete must not delete the resolved file"
    );
}

/// `glob` refuses a search path with a `..` segment.
pub async fn glob_rejects_dotdot_path(fx: &Fixture) {
    traversal_setup(fx).await;
    let request = GlobRequest::new("*.txt").path(fx.path("a/.."));
    err_kind(
        fx.backend.glob(&request).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// `grep` refuses a search path with a `..` segment.
pub async fn grep_rejects_dotdot_path(fx: &Fixture) {
    traversal_setup(fx).await;
    let request = GrepRequest::new("needle").path(fx.path("a/.."));
    err_kind(
        fx.backend.grep(&request).await,
        ErrorKind::InvalidPath,
        DOTDOT,
    );
}

/// An upload item with a `..` segment fails alone with `invalid_path`.
pub async fn upload_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    let results = fx
        .backend
        .upload_files(vec![FileUpload::new(fx.path("a/../up.txt"), "x")])
        .await;
    assert_eq!(
        results.len(),
        1,
        "semantics.md upload_files: one result per item"
    );
    let kind = results[0].error.as_ref().map(|e| e.kind());
    assert_eq!(kind, Some(ErrorKind::InvalidPath), "{DOTDOT} (upload item)");
    assert!(
        !ok(fx.backend.exists(&fx.path("up.txt")).await, "exists"),
        "{DOTDOT}: a refused upload must not create the resolved file"
    );
}

/// A download item with a `..` segment fails alone with `invalid_path`.
pub async fn download_rejects_dotdot(fx: &Fixture) {
    traversal_setup(fx).await;
    let results = fx.backend.download_files(vec![fx.path("a/../b.txt")]).await;
    assert_eq!(
        results.len(),
        1,
        "semantics.md download_files: one result per item"
    );
    let kind = results[0].error.as_ref().map(|e| e.kind());
    assert_eq!(
        kind,
        Some(ErrorKind::InvalidPath),
        "{DOTDOT} (download item)"
    );
    assert!(
        results[0].content.is_none(),
        "{DOTDOT}: no content for a refused item"
    );
}

/// Calls every path-taking operation with `path` and lists those that did
/// not fail with `invalid_path`.
async fn operations_accepting(backend: &dyn Backend, path: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let mut check = |op: &str, result: Result<(), backend_core::Error>| match result {
        Err(e) if e.kind() == ErrorKind::InvalidPath => {}
        Err(e) => wrong.push(format!("{op} gave {}", e.kind())),
        Ok(()) => wrong.push(format!("{op} succeeded")),
    };
    check("ls", backend.ls(path).await.map(drop));
    check("stat", backend.stat(path).await.map(drop));
    check("exists", backend.exists(path).await.map(drop));
    check("read", backend.read(path, 0, 10).await.map(drop));
    check("read_bytes", backend.read_bytes(path).await.map(drop));
    check("write", backend.write(path, b"x".to_vec()).await);
    check("edit", backend.edit(path, "x", "y", false).await.map(drop));
    check("delete", backend.delete(path, true).await);
    check(
        "glob",
        backend
            .glob(&GlobRequest::new("*").path(path))
            .await
            .map(drop),
    );
    check(
        "grep",
        backend
            .grep(&GrepRequest::new("x").path(path))
            .await
            .map(drop),
    );
    let upload = backend.upload_files(vec![FileUpload::new(path, "x")]).await;
    check(
        "upload_files",
        upload
            .into_iter()
            .next()
            .and_then(|r| r.error)
            .map_or(Ok(()), Err),
    );
    let download = backend.download_files(vec![path.to_owned()]).await;
    check(
        "download_files",
        download
            .into_iter()
            .next()
            .and_then(|r| r.error)
            .map_or(Ok(()), Err),
    );
    wrong
}

async fn rejected_everywhere(fx: &Fixture, path: &str, rule: &str) {
    let wrong = operations_accepting(fx.backend.as_ref(), path).await;
    assert!(
        wrong.is_empty(),
        "{rule}: every operation must reject {path:?} with invalid_path, but {}",
        wrong.join(", ")
    );
}

/// A leading `~` is rejected by every operation.
pub async fn tilde_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: a leading `~` is rejected with invalid_path";
    rejected_everywhere(fx, "~/notes.txt", rule).await;
    rejected_everywhere(fx, "~", rule).await;
}

/// A Windows drive is rejected by every operation.
pub async fn drive_letter_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: a Windows drive (`C:`) is rejected with invalid_path";
    rejected_everywhere(fx, "C:/Windows/win.ini", rule).await;
    rejected_everywhere(fx, "c:", rule).await;
}

/// A backslash is rejected by every operation.
pub async fn backslash_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: a backslash is rejected with invalid_path";
    rejected_everywhere(fx, &fx.path("a\\b.txt"), rule).await;
    rejected_everywhere(fx, "\\\\server\\share", rule).await;
}

/// A NUL byte is rejected by every operation.
pub async fn nul_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: NUL is rejected with invalid_path";
    rejected_everywhere(fx, &fx.path("a\0b.txt"), rule).await;
}

/// Other control characters (newline, tab, DEL) are rejected too.
pub async fn control_characters_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: control characters are rejected with invalid_path";
    for bad in ["a\nb.txt", "a\tb.txt", "a\rb.txt", "a\u{7f}b.txt"] {
        rejected_everywhere(fx, &fx.path(bad), rule).await;
    }
}

/// A segment over 255 bytes is rejected.
pub async fn long_segment_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: a segment over 255 bytes is rejected with invalid_path";
    let long = "s".repeat(256);
    err_kind(
        fx.backend.write(&fx.path(&long), b"x".to_vec()).await,
        ErrorKind::InvalidPath,
        rule,
    );
    err_kind(
        fx.backend.stat(&fx.path(&long)).await,
        ErrorKind::InvalidPath,
        rule,
    );
    ok(
        fx.backend
            .write(&fx.path(&"s".repeat(255)), b"x".to_vec())
            .await,
        "semantics.md Paths: a 255-byte segment is accepted",
    );
}

/// A path over 4096 bytes is rejected.
pub async fn long_path_rejected(fx: &Fixture) {
    let rule = "semantics.md Paths: a path over 4096 bytes is rejected with invalid_path";
    let long: String = (0..420).map(|_| "/abcdefghi").collect();
    let path = fx.path(&long);
    err_kind(
        fx.backend.write(&path, b"x".to_vec()).await,
        ErrorKind::InvalidPath,
        rule,
    );
    err_kind(
        fx.backend.read_bytes(&path).await,
        ErrorKind::InvalidPath,
        rule,
    );
}

/// `//x` is `/x`: a doubled leading slash names the same file.
pub async fn double_slash_normalised(fx: &Fixture) {
    let rule = "semantics.md Paths: repeated `/` collapse (`//etc/passwd` is `/etc/passwd`)";
    ok(
        fx.backend
            .write(&format!("/{}", fx.path("d.txt")), b"doubled".to_vec())
            .await,
        rule,
    );
    assert_eq!(fx.get("d.txt").await, b"doubled", "{rule}");
    let inner = fx.path("x//y///z.txt");
    ok(fx.backend.write(&inner, b"z".to_vec()).await, rule);
    assert_eq!(fx.get("x/y/z.txt").await, b"z", "{rule}");
}

/// `.` segments and a trailing `/` are dropped.
pub async fn dot_segments_and_trailing_slash_normalised(fx: &Fixture) {
    let rule = "semantics.md Paths: `.` segments collapse and a trailing `/` is dropped";
    fx.put("dir/file.txt", "same").await;
    let read = ok(
        fx.backend.read_bytes(&fx.path("./dir/./file.txt")).await,
        rule,
    );
    assert_eq!(read, b"same", "{rule}");
    let listed = ok(fx.backend.ls(&format!("{}/", fx.path("dir"))).await, rule);
    let names: Vec<String> = listed.iter().map(|f| fx.rel(&f.path)).collect();
    assert_eq!(names, ["dir/file.txt"], "{rule}: ls of `dir/` lists dir");
}

/// A relative path is taken from `/`.
pub async fn relative_path_taken_from_root(fx: &Fixture) {
    let rule = "semantics.md Paths: a relative path is taken from `/`";
    let relative = fx.path("rel.txt").trim_start_matches('/').to_owned();
    ok(fx.backend.write(&relative, b"rel".to_vec()).await, rule);
    assert_eq!(fx.get("rel.txt").await, b"rel", "{rule}");
}

/// Names that merely contain `..` (`a..b`, `..x`, `x..`) are ordinary names.
pub async fn names_containing_dotdot_accepted(fx: &Fixture) {
    let rule = "semantics.md Paths: a name that merely contains `..` (like `a..b`) is fine";
    for name in ["a..b", "..x", "x..", "...", "v1..v2/notes.txt"] {
        let path = fx.path(name);
        ok(
            fx.backend.write(&path, name.as_bytes().to_vec()).await,
            rule,
        );
        assert_eq!(fx.get(name).await, name.as_bytes(), "{rule}: {name}");
    }
}

/// Unicode names are stored, listed and searched as given.
pub async fn unicode_names_round_trip(fx: &Fixture) {
    let rule = "semantics.md Paths: UTF-8 names are ordinary names";
    fx.put("ünïcødé/日本語.txt", "こんにちは\n").await;
    let listed = ok(fx.backend.ls(&fx.path("ünïcødé")).await, rule);
    let names: Vec<String> = listed.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names, ["日本語.txt"], "{rule}");
    let found = ok(
        fx.backend
            .glob(&GlobRequest::new("*.txt").path(fx.root()))
            .await,
        rule,
    );
    let paths: Vec<String> = found.files.iter().map(|f| fx.rel(&f.path)).collect();
    assert_eq!(paths, ["ünïcødé/日本語.txt"], "{rule}");
    assert_eq!(
        fx.get_text("ünïcødé/日本語.txt").await,
        "こんにちは\n",
        "{rule}"
    );
}

/// Spaces in names are ordinary characters.
pub async fn spaces_in_names_round_trip(fx: &Fixture) {
    let rule = "semantics.md Paths: spaces in names are ordinary characters";
    fx.put("my dir/a file.txt", "spaced\n").await;
    let listed = ok(fx.backend.ls(&fx.path("my dir")).await, rule);
    let names: Vec<String> = listed.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(names, ["a file.txt"], "{rule}");
    let hits = ok(
        fx.backend
            .grep(&GrepRequest::new("spaced").path(fx.root()))
            .await,
        rule,
    );
    assert_eq!(hits.matches.len(), 1, "{rule}");
    assert_eq!(fx.rel(&hits.matches[0].path), "my dir/a file.txt", "{rule}");
}

/// `ls`, `glob` and `grep` return virtual paths under the case root.
pub async fn results_carry_virtual_paths(fx: &Fixture) {
    let rule = "semantics.md Paths: results always carry virtual paths, never host paths";
    fx.put("v/file.txt", "virtual\n").await;
    let listed = ok(fx.backend.ls(&fx.path("v")).await, rule);
    assert_eq!(
        listed[0].path.as_str(),
        fx.path("v/file.txt"),
        "{rule} (ls)"
    );
    let found = ok(
        fx.backend
            .glob(&GlobRequest::new("*.txt").path(fx.root()))
            .await,
        rule,
    );
    assert_eq!(
        found.files[0].path.as_str(),
        fx.path("v/file.txt"),
        "{rule} (glob)"
    );
    let hits = ok(
        fx.backend
            .grep(&GrepRequest::new("virtual").path(fx.root()))
            .await,
        rule,
    );
    assert_eq!(
        hits.matches[0].path.as_str(),
        fx.path("v/file.txt"),
        "{rule} (grep)"
    );
    let info = ok(fx.backend.stat(&fx.path("v//file.txt")).await, rule);
    assert_eq!(info.path.as_str(), fx.path("v/file.txt"), "{rule} (stat)");
}
