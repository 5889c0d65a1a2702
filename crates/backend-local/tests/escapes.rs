//! No operation reaches outside the root: not through `..`, not through a
//! symlink at any component, not through a symlink swapped in while
//! operations run, not through a hard link. Every case runs with `openat2`
//! and with the portable `O_NOFOLLOW` walk.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backend_core::{Backend, BackendExt, ErrorKind, GlobRequest, GrepRequest};
use backend_local::{LocalBackend, LocalOptions};

/// The root and a directory beside it standing for "outside".
struct Setup {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
}

fn setup() -> Setup {
    let setup = Setup {
        root: tempfile::tempdir().expect("root"),
        outside: tempfile::tempdir().expect("outside"),
    };
    std::fs::write(setup.outside.path().join("secret.txt"), "SECRET\n").expect("secret");
    setup
}

/// The same root through `openat2` and through the walk.
fn both(root: &Path) -> Vec<LocalBackend> {
    let fast = LocalBackend::new(root).expect("backend");
    assert!(
        fast.uses_openat2(),
        "openat2 is unavailable here, so the fast path is untested; run on Linux 5.6+ without a seccomp filter blocking openat2"
    );
    let walk =
        LocalBackend::with_options(root, LocalOptions::default().openat2(false)).expect("backend");
    assert!(!walk.uses_openat2());
    vec![fast, walk]
}

fn assert_denied<T: std::fmt::Debug>(result: backend_core::Result<T>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{what}: {err}");
    let host = std::env::temp_dir();
    assert!(
        !err.to_string()
            .contains(host.to_str().expect("utf-8 temp dir")),
        "{what}: the message shows a host path: {err}"
    );
}

#[tokio::test]
async fn symlink_to_etc_in_a_middle_component_is_refused() {
    let s = setup();
    symlink("/etc", s.root.path().join("etc")).expect("symlink");
    for b in both(s.root.path()) {
        assert_denied(b.read_bytes("/etc/passwd").await, "read through /etc link");
        assert_denied(b.ls("/etc").await, "ls of /etc link");
        assert_denied(b.stat("/etc/hostname").await, "stat through /etc link");
        assert_denied(
            b.write("/etc/backend-local-test", b"x".to_vec()).await,
            "write through /etc link",
        );
        assert_denied(
            b.delete("/etc/hostname", false).await,
            "delete through /etc link",
        );
        assert_denied(
            b.glob(&GlobRequest::new("*").path("/etc")).await,
            "glob in /etc link",
        );
        assert_denied(
            b.grep(&GrepRequest::new("root").path("/etc")).await,
            "grep in /etc link",
        );
    }
    assert!(!Path::new("/etc/backend-local-test").exists());
}

#[tokio::test]
async fn symlink_to_etc_passwd_at_the_leaf_is_refused() {
    let s = setup();
    symlink("/etc/passwd", s.root.path().join("passwd")).expect("symlink");
    for b in both(s.root.path()) {
        assert_denied(b.read_bytes("/passwd").await, "read of leaf link");
        assert_denied(b.read("/passwd", 0, 10).await, "paged read of leaf link");
        assert_denied(
            b.edit("/passwd", "root", "toor", false).await,
            "edit of leaf link",
        );
        assert_denied(b.stat("/passwd").await, "stat of leaf link");
    }
}

#[tokio::test]
async fn writes_through_outward_links_change_nothing_outside() {
    let s = setup();
    let out = s.outside.path();
    symlink(out, s.root.path().join("out")).expect("dir link");
    symlink(out.join("secret.txt"), s.root.path().join("leaf")).expect("leaf link");
    for b in both(s.root.path()) {
        assert_denied(
            b.write("/out/new.txt", b"x".to_vec()).await,
            "write under dir link",
        );
        assert_denied(
            b.write("/out/secret.txt", b"x".to_vec()).await,
            "overwrite under dir link",
        );
        assert_denied(
            b.write("/leaf", b"x".to_vec()).await,
            "write onto leaf link",
        );
        assert_denied(
            b.edit("/leaf", "SECRET", "x", false).await,
            "edit of leaf link",
        );
    }
    assert_eq!(
        std::fs::read_to_string(out.join("secret.txt")).expect("secret"),
        "SECRET\n"
    );
    assert!(!out.join("new.txt").exists());
}

#[tokio::test]
async fn deleting_an_outward_link_removes_the_link_only() {
    let s = setup();
    let out = s.outside.path();
    symlink(out, s.root.path().join("out")).expect("dir link");
    for b in both(s.root.path()) {
        let _ = b.delete("/out", true).await;
        assert!(
            out.join("secret.txt").exists(),
            "the outside file must survive"
        );
        symlink(out, s.root.path().join("out")).ok();
    }
}

#[tokio::test]
async fn symlink_to_dotdot_is_refused() {
    let s = setup();
    let parent_name = s
        .outside
        .path()
        .file_name()
        .expect("name")
        .to_str()
        .expect("utf-8");
    symlink("..", s.root.path().join("up")).expect("symlink");
    std::fs::create_dir(s.root.path().join("a")).expect("dir");
    symlink("../..", s.root.path().join("a/up2")).expect("symlink");
    for b in both(s.root.path()) {
        assert_denied(b.ls("/up").await, "ls of .. link");
        assert_denied(
            b.read_bytes(&format!("/up/{parent_name}/secret.txt")).await,
            "read through .. link",
        );
        assert_denied(
            b.read_bytes(&format!("/a/up2/{parent_name}/secret.txt"))
                .await,
            "read through ../.. link",
        );
    }
}

#[tokio::test]
async fn symlinks_that_stay_inside_work() {
    let s = setup();
    let root = s.root.path();
    std::fs::create_dir_all(root.join("real/sub")).expect("dirs");
    std::fs::write(root.join("real/f.txt"), "inside\n").expect("file");
    symlink("real", root.join("link")).expect("dir link");
    std::fs::create_dir(root.join("a")).expect("dir");
    symlink("../real/f.txt", root.join("a/f-link")).expect("leaf link");
    // `..` after a followed link is the physical parent, as the kernel does.
    symlink("../f.txt", root.join("real/sub/up")).expect("up link");
    symlink("link/sub/up", root.join("chain")).expect("chain");
    for b in both(root) {
        assert_eq!(b.read_to_string("/link/f.txt").await.unwrap(), "inside\n");
        assert_eq!(b.read_to_string("/a/f-link").await.unwrap(), "inside\n");
        assert_eq!(b.read_to_string("/chain").await.unwrap(), "inside\n");
        assert!(b.stat("/link").await.unwrap().is_dir);
        let names: Vec<_> = b
            .ls("/link")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.path.into_string())
            .collect();
        assert_eq!(names, ["/link/f.txt", "/link/sub"]);
    }
    let b = LocalBackend::new(root).expect("backend");
    b.write_str("/a/f-link", "written through\n").await.unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("real/f.txt")).unwrap(),
        "written through\n"
    );
    assert!(
        std::fs::symlink_metadata(root.join("a/f-link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[tokio::test]
async fn a_hard_link_to_an_outside_file_is_replaced_not_written_through() {
    let s = setup();
    let outside_file = s.outside.path().join("secret.txt");
    std::fs::hard_link(&outside_file, s.root.path().join("hl")).expect("hard link");
    std::fs::hard_link(&outside_file, s.root.path().join("hl2")).expect("hard link");
    let b = LocalBackend::new(s.root.path()).expect("backend");
    b.write_str("/hl", "replaced\n").await.unwrap();
    b.edit("/hl2", "SECRET", "edited", false).await.unwrap();
    assert_eq!(std::fs::read_to_string(&outside_file).unwrap(), "SECRET\n");
    assert_eq!(b.read_to_string("/hl").await.unwrap(), "replaced\n");
    assert_eq!(b.read_to_string("/hl2").await.unwrap(), "edited\n");
}

#[tokio::test]
async fn searches_do_not_follow_outward_links() {
    let s = setup();
    symlink(s.outside.path(), s.root.path().join("out")).expect("dir link");
    symlink(
        s.outside.path().join("secret.txt"),
        s.root.path().join("leaf.txt"),
    )
    .expect("leaf");
    std::fs::write(s.root.path().join("mine.txt"), "SECRET mine\n").expect("file");
    for b in both(s.root.path()) {
        let hits = b.grep(&GrepRequest::new("SECRET")).await.unwrap();
        let paths: Vec<_> = hits.matches.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["/mine.txt"]);
        let files = b.glob_paths("**/*.txt").await.unwrap();
        assert_eq!(files, ["/mine.txt"]);
    }
}

/// A symlink is swapped in and out (atomically, with `RENAME_EXCHANGE`)
/// while 10,000 reads and writes run through it: none of them reads the
/// outside file or changes anything outside.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_symlink_swapped_in_and_out_never_lets_an_operation_escape() {
    for walk in [false, true] {
        let s = setup();
        let root = s.root.path();
        std::fs::create_dir(root.join("sw")).expect("dir");
        std::fs::write(root.join("sw/secret.txt"), "inside\n").expect("file");
        symlink(s.outside.path(), root.join("other")).expect("link");
        let options = LocalOptions::default().openat2(!walk);
        let b = Arc::new(LocalBackend::with_options(root, options).expect("backend"));

        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, root) = (stop.clone(), root.to_owned());
            std::thread::spawn(move || {
                let dir = rustix::fs::open(
                    &root,
                    rustix::fs::OFlags::DIRECTORY,
                    rustix::fs::Mode::empty(),
                )
                .expect("open root");
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    rustix::fs::renameat_with(
                        &dir,
                        "sw",
                        &dir,
                        "other",
                        rustix::fs::RenameFlags::EXCHANGE,
                    )
                    .expect("exchange");
                    swaps += 1;
                }
                swaps
            })
        };
        let mut tasks = Vec::new();
        for worker in 0..4 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move {
                let mut leaked = Vec::new();
                let mut denied = 0usize;
                for i in 0..2_500 {
                    if i % 2 == 0 {
                        match b.read_bytes("/sw/secret.txt").await {
                            Ok(bytes) if bytes.starts_with(b"SECRET") => {
                                leaked.push(format!("read {i}"));
                            }
                            Err(e) if e.kind() == ErrorKind::PermissionDenied => denied += 1,
                            _ => {}
                        }
                    } else {
                        let _ = b
                            .write("/sw/secret.txt", format!("w{worker}-{i}\n").into_bytes())
                            .await;
                        let _ = b
                            .write(&format!("/sw/new-{worker}-{i}"), b"x".to_vec())
                            .await;
                    }
                }
                (leaked, denied)
            }));
        }
        let (mut leaked, mut denied) = (Vec::new(), 0);
        for t in tasks {
            let (l, d) = t.await.unwrap();
            leaked.extend(l);
            denied += d;
        }
        // The race was really run: some reads met the link and were refused.
        assert!(
            denied > 0,
            "walk={walk}: no read ever met the swapped-in link"
        );
        stop.store(true, Ordering::Relaxed);
        let swaps = swapper.join().expect("swapper");
        assert!(swaps > 100, "the swapper hardly ran ({swaps} swaps)");
        assert!(
            leaked.is_empty(),
            "walk={walk}: outside content was read: {leaked:?}"
        );
        let outside: Vec<_> = std::fs::read_dir(s.outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            outside,
            ["secret.txt"],
            "walk={walk}: files appeared outside"
        );
        assert_eq!(
            std::fs::read_to_string(s.outside.path().join("secret.txt")).unwrap(),
            "SECRET\n",
            "walk={walk}: the outside file changed"
        );
    }
}
