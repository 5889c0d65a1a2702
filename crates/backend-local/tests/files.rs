//! File operations on a real directory: the behaviours docs/semantics.md asks for,
//! checked against what is on disk.

use backend_core::{Backend, BackendExt, ErrorKind, GlobRequest, GrepRequest};
use backend_local::LocalBackend;

fn setup() -> (tempfile::TempDir, LocalBackend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = LocalBackend::new(dir.path()).expect("backend");
    (dir, backend)
}

#[tokio::test]
async fn write_creates_parents_and_lands_on_disk() {
    let (dir, b) = setup();
    b.write_str("/a/b/c.txt", "hello\n").await.unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("a/b/c.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(b.read_to_string("/a/b/c.txt").await.unwrap(), "hello\n");
}

#[tokio::test]
async fn ls_lists_children_sorted_with_dirs_flagged() {
    let (dir, b) = setup();
    std::fs::create_dir(dir.path().join("zdir")).unwrap();
    std::fs::write(dir.path().join("b.txt"), "bb").unwrap();
    std::fs::write(dir.path().join(".hidden"), "h").unwrap();
    let list = b.ls("/").await.unwrap();
    let names: Vec<_> = list
        .iter()
        .map(|f| (f.path.as_str().to_owned(), f.is_dir, f.size))
        .collect();
    assert_eq!(
        names,
        [
            ("/.hidden".to_owned(), false, Some(1)),
            ("/b.txt".to_owned(), false, Some(2)),
            ("/zdir".to_owned(), true, None)
        ]
    );
}

#[tokio::test]
async fn errors_use_the_shared_kinds() {
    let (dir, b) = setup();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    assert_eq!(
        b.read_bytes("/nope").await.unwrap_err().kind(),
        ErrorKind::FileNotFound
    );
    assert_eq!(
        b.read_bytes("/d").await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.ls("/f").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        b.write("/d", vec![]).await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.write("/f/x", vec![]).await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        b.delete("/d", false).await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.delete("/", true).await.unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        b.read_bytes("/../x").await.unwrap_err().kind(),
        ErrorKind::InvalidPath
    );
}

#[tokio::test]
async fn edit_and_delete_recursive() {
    let (dir, b) = setup();
    b.write_str("/d/f.txt", "one two one").await.unwrap();
    assert_eq!(
        b.edit("/d/f.txt", "one", "1", true)
            .await
            .unwrap()
            .replacements,
        2
    );
    assert_eq!(b.read_to_string("/d/f.txt").await.unwrap(), "1 two 1");
    b.delete("/d", true).await.unwrap();
    assert!(!dir.path().join("d").exists());
}

#[tokio::test]
async fn glob_and_grep_find_files() {
    let (_dir, b) = setup();
    b.write_str("/src/lib.rs", "fn main() {}\n// main\n")
        .await
        .unwrap();
    b.write_str("/src/.hidden.rs", "main\n").await.unwrap();
    b.write_str("/README.md", "no\n").await.unwrap();
    b.write_str("/.git/config", "main\n").await.unwrap();
    let g = b.glob(&GlobRequest::new("**/*.rs")).await.unwrap();
    let paths: Vec<_> = g.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/src/lib.rs"]);
    let r = b.grep(&GrepRequest::new("main")).await.unwrap();
    let hits: Vec<_> = r
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.line_number))
        .collect();
    assert_eq!(
        hits,
        [
            ("/src/.hidden.rs", 1),
            ("/src/lib.rs", 1),
            ("/src/lib.rs", 2)
        ]
    );
}

#[tokio::test]
async fn write_and_edit_drop_setuid_and_setgid() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, b) = setup();
    let mode_of = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .expect("metadata")
            .permissions()
            .mode()
            & 0o7777
    };
    for (name, mode) in [("suid", 0o4755), ("sgid", 0o2755)] {
        let file = dir.path().join(name);
        std::fs::write(&file, "old\n").expect("seed");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        assert_eq!(mode_of(name), mode, "the seed has its bit");
        b.write_str(&format!("/{name}"), "new\n")
            .await
            .expect("write");
        assert_eq!(mode_of(name), 0o755, "write kept a set-id bit on {name}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
        b.edit(&format!("/{name}"), "new", "edited", false)
            .await
            .expect("edit");
        assert_eq!(mode_of(name), 0o755, "edit kept a set-id bit on {name}");
    }
}
