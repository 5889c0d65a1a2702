//! The router's own behaviour: where paths go, what listings show, how
//! searches fan out, and how errors, batches and commands are handled.

mod support;

use std::sync::Arc;

use backend_composite::CompositeBackend;
use backend_core::{
    Backend, BackendExt, ErrorKind, ExecRequest, FileUpload, GlobRequest, GrepRequest, Operation,
    Sandbox,
};
use backend_state::StateBackend;

use support::{FailingBackend, FakeSandbox, names};

struct Fixture {
    composite: CompositeBackend,
    default: Arc<StateBackend>,
    memories: Arc<StateBackend>,
}

fn fixture() -> Fixture {
    let default = Arc::new(StateBackend::new());
    let memories = Arc::new(StateBackend::new());
    let composite = CompositeBackend::builder(default.clone())
        .route("/memories/", memories.clone())
        .build()
        .expect("valid routes");
    Fixture {
        composite,
        default,
        memories,
    }
}

#[tokio::test]
async fn routed_backend_sees_the_path_with_its_prefix_replaced_by_root() {
    let f = fixture();
    f.composite
        .write_str("/memories/a/b.md", "x")
        .await
        .unwrap();
    assert_eq!(f.memories.read_to_string("/a/b.md").await.unwrap(), "x");
    assert!(!f.default.exists("/memories/a/b.md").await.unwrap());
    assert_eq!(
        f.composite
            .read_to_string("/memories/a/b.md")
            .await
            .unwrap(),
        "x"
    );
}

#[tokio::test]
async fn prefix_matches_on_segment_boundaries_only() {
    let f = fixture();
    f.composite.write_str("/memoriesx/a.md", "d").await.unwrap();
    assert!(f.default.exists("/memoriesx/a.md").await.unwrap());
    assert!(f.memories.ls("/").await.unwrap().is_empty());
}

#[tokio::test]
async fn paths_are_normalised_before_routing() {
    let f = fixture();
    f.composite.write_str("//memories/x", "1").await.unwrap();
    f.composite.write_str("/memories/./y", "2").await.unwrap();
    f.composite.write_str("memories//z/", "3").await.unwrap();
    assert_eq!(names(&f.memories.ls("/").await.unwrap()), ["x", "y", "z"]);
    assert!(f.default.ls("/").await.unwrap().is_empty());
}

#[tokio::test]
async fn invalid_paths_are_refused_before_routing() {
    let f = fixture();
    let err = f
        .composite
        .read_bytes("/memories/../etc/passwd")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidPath);
    assert_eq!(err.operation(), Some(Operation::ReadBytes));
}

#[tokio::test]
async fn entries_listed_inside_a_route_carry_the_composite_paths() {
    let f = fixture();
    f.memories.write_str("/notes/a.md", "x").await.unwrap();
    let listed = f.composite.ls("/memories/notes").await.unwrap();
    assert_eq!(listed[0].path.as_str(), "/memories/notes/a.md");
    let stat = f.composite.stat("/memories/notes/a.md").await.unwrap();
    assert_eq!(stat.path.as_str(), "/memories/notes/a.md");
}

#[tokio::test]
async fn mount_points_show_as_directories_merged_with_real_entries() {
    let f = fixture();
    f.default.write_str("/zeta.txt", "z").await.unwrap();
    f.default.write_str("/alpha/x", "a").await.unwrap();
    let root = f.composite.ls("/").await.unwrap();
    assert_eq!(names(&root), ["alpha", "memories", "zeta.txt"]);
    let memories = root.iter().find(|e| e.name() == "memories").unwrap();
    assert!(memories.is_dir);
    assert_eq!(memories.path.as_str(), "/memories");
}

#[tokio::test]
async fn nested_mount_points_show_at_every_level_above_them() {
    let default = Arc::new(StateBackend::new());
    let deep = Arc::new(StateBackend::new());
    deep.write_str("/inside.txt", "i").await.unwrap();
    let composite = CompositeBackend::builder(default.clone())
        .route("/a/b/c/", deep)
        .build()
        .unwrap();
    assert_eq!(names(&composite.ls("/").await.unwrap()), ["a"]);
    assert_eq!(names(&composite.ls("/a").await.unwrap()), ["b"]);
    assert_eq!(names(&composite.ls("/a/b").await.unwrap()), ["c"]);
    assert_eq!(
        names(&composite.ls("/a/b/c").await.unwrap()),
        ["inside.txt"]
    );
    assert!(composite.stat("/a/b").await.unwrap().is_dir);
    assert!(composite.exists("/a").await.unwrap());
    let err = composite.ls("/a/nothing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound);
}

#[tokio::test]
async fn a_mount_hides_a_file_of_the_same_name_in_its_parent() {
    let default = Arc::new(StateBackend::new());
    default
        .write_str("/docs", "a file in the default")
        .await
        .unwrap();
    let composite = CompositeBackend::builder(default)
        .route("/docs/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    let root = composite.ls("/").await.unwrap();
    assert_eq!(root.len(), 1);
    assert!(root[0].is_dir);
}

#[tokio::test]
async fn a_route_nested_in_a_route_wins_for_its_own_paths() {
    let outer = Arc::new(StateBackend::new());
    let inner = Arc::new(StateBackend::new());
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/a/", outer.clone())
        .route("/a/b/", inner.clone())
        .build()
        .unwrap();
    composite.write_str("/a/x.txt", "outer").await.unwrap();
    composite.write_str("/a/b/y.txt", "inner").await.unwrap();
    composite
        .write_str("/a/bb/z.txt", "outer too")
        .await
        .unwrap();
    assert!(outer.exists("/x.txt").await.unwrap());
    assert!(inner.exists("/y.txt").await.unwrap());
    assert!(outer.exists("/bb/z.txt").await.unwrap());
    assert_eq!(
        names(&composite.ls("/a").await.unwrap()),
        ["b", "bb", "x.txt"]
    );
    let all = composite.glob_paths("**/*.txt").await.unwrap();
    assert_eq!(all, ["/a/b/y.txt", "/a/bb/z.txt", "/a/x.txt"]);
}

#[tokio::test]
async fn files_a_route_hides_in_its_parent_are_never_returned() {
    let default = Arc::new(StateBackend::new());
    default
        .write_str("/memories/stale.md", "old")
        .await
        .unwrap();
    let composite = CompositeBackend::builder(default)
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    assert!(composite.glob_paths("**/*.md").await.unwrap().is_empty());
    let hits = composite.grep(&GrepRequest::new("old")).await.unwrap();
    assert!(hits.matches.is_empty());
}

#[tokio::test]
async fn glob_spanning_routes_merges_in_path_order() {
    let f = fixture();
    f.composite.write_str("/b.md", "").await.unwrap();
    f.composite.write_str("/memories/a.md", "").await.unwrap();
    f.composite.write_str("/z/c.md", "").await.unwrap();
    f.composite
        .write_str("/memories/sub/d.md", "")
        .await
        .unwrap();
    let found = f.composite.glob_paths("*.md").await.unwrap();
    assert_eq!(
        found,
        ["/b.md", "/memories/a.md", "/memories/sub/d.md", "/z/c.md"]
    );
}

#[tokio::test]
async fn glob_patterns_naming_the_mount_reach_into_the_route() {
    let f = fixture();
    f.composite.write_str("/memories/a.md", "").await.unwrap();
    f.composite
        .write_str("/memories/deep/b.md", "")
        .await
        .unwrap();
    f.composite.write_str("/other/a.md", "").await.unwrap();
    let found = f.composite.glob_paths("memories/*.md").await.unwrap();
    assert_eq!(found, ["/memories/a.md"]);
    let inside = f
        .composite
        .glob(&GlobRequest::new("*.md").path("/memories/deep"))
        .await
        .unwrap();
    assert_eq!(inside.files[0].path.as_str(), "/memories/deep/b.md");
}

#[tokio::test]
async fn glob_limit_applies_to_the_whole_with_exact_truncation() {
    let f = fixture();
    for name in ["/a.txt", "/memories/b.txt", "/memories/c.txt", "/d.txt"] {
        f.composite.write_str(name, "").await.unwrap();
    }
    let cut = f
        .composite
        .glob(&GlobRequest::new("*.txt").limit(3))
        .await
        .unwrap();
    let paths: Vec<&str> = cut.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/a.txt", "/d.txt", "/memories/b.txt"]);
    assert!(cut.truncated);
    let exact = f
        .composite
        .glob(&GlobRequest::new("*.txt").limit(4))
        .await
        .unwrap();
    assert_eq!(exact.files.len(), 4);
    assert!(!exact.truncated);
}

#[tokio::test]
async fn grep_fans_out_and_max_count_applies_to_the_whole() {
    let memories = Arc::new(StateBackend::new());
    let scratch = Arc::new(StateBackend::new());
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/memories/", memories)
        .route("/scratch/", scratch)
        .build()
        .unwrap();
    composite
        .write_str("/a.txt", "hit 1\nhit 2\n")
        .await
        .unwrap();
    composite
        .write_str("/memories/m.txt", "hit 3\n")
        .await
        .unwrap();
    composite
        .write_str("/scratch/s.txt", "hit 4\nhit 5\n")
        .await
        .unwrap();

    let all = composite.grep(&GrepRequest::new("hit")).await.unwrap();
    let found: Vec<(&str, u64)> = all
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.line_number))
        .collect();
    assert_eq!(
        found,
        [
            ("/a.txt", 1),
            ("/a.txt", 2),
            ("/memories/m.txt", 1),
            ("/scratch/s.txt", 1),
            ("/scratch/s.txt", 2)
        ]
    );
    assert!(!all.truncated);

    let capped = composite
        .grep(&GrepRequest::new("hit").max_count(3))
        .await
        .unwrap();
    assert_eq!(capped.matches.len(), 3);
    assert_eq!(capped.matches[2].path.as_str(), "/memories/m.txt");
    assert!(capped.truncated);
    let exact = composite
        .grep(&GrepRequest::new("hit").max_count(5))
        .await
        .unwrap();
    assert_eq!(exact.matches.len(), 5);
    assert!(!exact.truncated);
}

#[tokio::test]
async fn grep_glob_filter_is_relative_to_the_search_path_across_routes() {
    let f = fixture();
    f.composite
        .write_str("/memories/a.md", "needle")
        .await
        .unwrap();
    f.composite
        .write_str("/memories/a.txt", "needle")
        .await
        .unwrap();
    f.composite
        .write_str("/notes/a.md", "needle")
        .await
        .unwrap();
    let hits = f
        .composite
        .grep(&GrepRequest::new("needle").glob("memories/*.md"))
        .await
        .unwrap();
    let paths: Vec<&str> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/memories/a.md"]);
}

#[tokio::test]
async fn grep_over_a_directory_only_routes_make_finds_their_files() {
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/a/b/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    composite.write_str("/a/b/f.txt", "needle").await.unwrap();
    let hits = composite
        .grep(&GrepRequest::new("needle").path("/a"))
        .await
        .unwrap();
    assert_eq!(hits.matches[0].path.as_str(), "/a/b/f.txt");
    assert_eq!(
        composite
            .glob(&GlobRequest::new("*").path("/a"))
            .await
            .unwrap()
            .files
            .len(),
        1
    );
}

#[tokio::test]
async fn an_erroring_route_fails_the_search_and_is_named() {
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/good/", Arc::new(StateBackend::new()))
        .route("/broken/", Arc::new(FailingBackend))
        .build()
        .unwrap();
    let err = composite.grep(&GrepRequest::new("x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.context_value("route"), Some("/broken/"));
    assert_eq!(err.operation(), Some(Operation::Grep));
    let err = composite.glob(&GlobRequest::new("*")).await.unwrap_err();
    assert_eq!(err.context_value("route"), Some("/broken/"));
}

#[tokio::test]
async fn errors_from_a_route_carry_the_composite_path() {
    let f = fixture();
    let err = f
        .composite
        .read_bytes("/memories/missing.md")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FileNotFound);
    assert_eq!(err.path(), Some("/memories/missing.md"));
    assert!(
        err.message()
            .starts_with("/memories/missing.md does not exist"),
        "{}",
        err.message()
    );
    assert_eq!(err.context_value("route"), Some("/memories/"));
}

#[tokio::test]
async fn writing_editing_or_reading_a_mount_point_is_refused_as_a_directory() {
    let f = fixture();
    for path in ["/memories", "/memories/"] {
        let err = f.composite.write_str(path, "x").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IsDirectory, "{path}");
        assert_eq!(err.context_value("route"), Some("/memories/"));
    }
    let err = f
        .composite
        .edit("/memories", "a", "b", false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IsDirectory);
    let err = f.composite.read("/memories", 0, 10).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IsDirectory);
}

#[tokio::test]
async fn deleting_a_mount_point_or_a_directory_holding_one_is_denied() {
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .route("/a/b/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    composite.write_str("/a/b/keep.txt", "k").await.unwrap();
    for path in ["/a/b", "/a"] {
        let err = composite.delete(path, true).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{path}");
    }
    assert!(composite.exists("/a/b/keep.txt").await.unwrap());
    composite.delete("/a/b/keep.txt", false).await.unwrap();
}

#[tokio::test]
async fn routes_are_validated_when_built() {
    let state = || -> Arc<dyn Backend> { Arc::new(StateBackend::new()) };
    let dup = CompositeBackend::builder(state())
        .route("/memories", state())
        .route("//memories/", state())
        .build()
        .unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::InvalidArgument);
    assert!(dup.message().contains("given twice"), "{}", dup.message());
    for bad in ["/", "", "/a/../b", "C:/x"] {
        let err = CompositeBackend::builder(state())
            .route(bad, state())
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
    }
    let ok = CompositeBackend::builder(state())
        .route("memories", state())
        .route("/a/b/", state())
        .build()
        .unwrap();
    assert_eq!(
        ok.route_prefixes().collect::<Vec<_>>(),
        ["/a/b/", "/memories/"]
    );
}

#[tokio::test]
async fn batch_results_keep_input_order_across_routes() {
    let f = fixture();
    let uploads = vec![
        FileUpload::new("/memories/1", "one"),
        FileUpload::new("/2", "two"),
        FileUpload::new("/memories", "refused"),
        FileUpload::new("/memories/3", "three"),
        FileUpload::new("/../bad", "bad"),
        FileUpload::new("/4", "four"),
    ];
    let results = f.composite.upload_files(uploads).await;
    let given: Vec<&str> = results.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        given,
        [
            "/memories/1",
            "/2",
            "/memories",
            "/memories/3",
            "/../bad",
            "/4"
        ]
    );
    let ok: Vec<bool> = results.iter().map(|r| r.is_ok()).collect();
    assert_eq!(ok, [true, true, false, true, false, true]);
    assert_eq!(f.memories.read_to_string("/3").await.unwrap(), "three");

    let paths = ["/4", "/memories/missing", "/memories/1", "/2"]
        .map(String::from)
        .to_vec();
    let downloads = f.composite.download_files(paths).await;
    let contents: Vec<Option<&[u8]>> = downloads.iter().map(|d| d.content.as_deref()).collect();
    assert_eq!(
        contents,
        [
            Some(&b"four"[..]),
            None,
            Some(&b"one"[..]),
            Some(&b"two"[..])
        ]
    );
    let missing = downloads[1].error.as_ref().unwrap();
    assert_eq!(missing.path(), Some("/memories/missing"));
    assert_eq!(missing.context_value("route"), Some("/memories/"));
    assert_eq!(downloads[1].path, "/memories/missing");
}

#[tokio::test]
async fn execute_goes_to_a_sandbox_default() {
    let sandbox = Arc::new(FakeSandbox::new("box-1"));
    let composite = CompositeBackend::builder_with_sandbox(sandbox.clone())
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    let out = composite
        .execute(ExecRequest::new("echo hi"))
        .await
        .unwrap();
    assert_eq!(out.stdout, b"ran: echo hi");
    assert_eq!(composite.id(), "box-1");
    assert!(composite.capabilities().execute);
    composite.close().await.unwrap();
    assert!(sandbox.is_closed());
}

#[tokio::test]
async fn commands_cannot_run_inside_a_route() {
    let composite = CompositeBackend::builder_with_sandbox(Arc::new(FakeSandbox::new("box")))
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    let err = composite
        .execute(ExecRequest::new("ls").workdir("/memories/notes"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(err.context_value("route"), Some("/memories/"));
    let ok = composite
        .execute(ExecRequest::new("ls").workdir("/memoriesx"))
        .await
        .unwrap();
    assert_eq!(ok.stdout, b"ran: ls");
}

#[tokio::test]
async fn execute_without_a_sandbox_default_is_unsupported() {
    let f = fixture();
    let err = f
        .composite
        .execute(ExecRequest::new("true"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.operation(), Some(Operation::Execute));
    let err = f
        .composite
        .execute_stream(ExecRequest::new("true"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(!f.composite.capabilities().execute);
}

#[tokio::test]
async fn close_reaches_routes_given_as_sandboxes() {
    let routed = Arc::new(FakeSandbox::new("routed"));
    let composite = CompositeBackend::builder(Arc::new(StateBackend::new()))
        .sandbox_route("/box/", routed.clone())
        .build()
        .unwrap();
    composite.close().await.unwrap();
    assert!(routed.is_closed());
}

#[tokio::test]
async fn hidden_files_of_the_default_do_not_shorten_a_limited_search() {
    let default = Arc::new(StateBackend::new());
    for i in 0..3 {
        default
            .write_str(&format!("/memories/old{i}.txt"), "hit")
            .await
            .unwrap();
    }
    default.write_str("/z.txt", "hit").await.unwrap();
    let composite = CompositeBackend::builder(default)
        .route("/memories/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    let globbed = composite
        .glob(&GlobRequest::new("*.txt").limit(1))
        .await
        .unwrap();
    assert_eq!(globbed.files.len(), 1);
    assert_eq!(globbed.files[0].path.as_str(), "/z.txt");
    assert!(!globbed.truncated);
    let grepped = composite
        .grep(&GrepRequest::new("hit").max_count(1))
        .await
        .unwrap();
    assert_eq!(grepped.matches.len(), 1);
    assert_eq!(grepped.matches[0].path.as_str(), "/z.txt");
    assert!(!grepped.truncated);
}

#[tokio::test]
async fn a_file_turned_into_a_directory_by_a_mount_is_not_searched() {
    let default = Arc::new(StateBackend::new());
    default
        .write_str("/a", "needle in a shadowed file")
        .await
        .unwrap();
    let composite = CompositeBackend::builder(default)
        .route("/a/b/", Arc::new(StateBackend::new()))
        .build()
        .unwrap();
    composite.write_str("/a/b/f.txt", "needle").await.unwrap();
    let hits = composite.grep(&GrepRequest::new("needle")).await.unwrap();
    let paths: Vec<&str> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/a/b/f.txt"]);
    assert_eq!(composite.glob_paths("**").await.unwrap(), ["/a/b/f.txt"]);
}
