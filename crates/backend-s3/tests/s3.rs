//! The S3 backend against a real S3-compatible server (moto), started by
//! the harness in `support/`.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_core::{Backend, BackendExt, ErrorKind, FileUpload, GlobRequest, GrepRequest};
use backend_s3::{CacheConfig, ConditionalWrites, S3Backend};

fn numbered_uploads(dir: &str, n: usize) -> Vec<FileUpload> {
    (0..n)
        .map(|i| FileUpload::new(format!("{dir}/f{i:05}.txt"), format!("line {i}\n")))
        .collect()
}

async fn upload_all(backend: &S3Backend, files: Vec<FileUpload>) {
    for result in backend.upload_files(files).await {
        assert!(
            result.is_ok(),
            "upload of {} failed: {:?}",
            result.path,
            result.error
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn write_then_read_round_trips_bytes_and_lists_parents() {
    let b = support::backend("roundtrip").await;
    b.write("/a/b/c.bin", vec![0, 159, 146, 150, 10])
        .await
        .unwrap();
    assert_eq!(
        b.read_bytes("/a/b/c.bin").await.unwrap(),
        [0, 159, 146, 150, 10]
    );
    let root = b.ls("/").await.unwrap();
    assert_eq!(root.len(), 1);
    assert!(root[0].is_dir && root[0].path == "/a");
    let info = b.stat("/a/b/c.bin").await.unwrap();
    assert_eq!((info.is_dir, info.size), (false, Some(5)));
    assert!(info.modified.is_some());
    assert!(b.stat("/a/b").await.unwrap().is_dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_paths_and_wrong_kinds_give_spec_errors() {
    let b = support::backend("kinds").await;
    b.write_str("/dir/file.txt", "x").await.unwrap();
    let kind = |r: backend_core::Result<Vec<u8>>| r.unwrap_err().kind();
    assert_eq!(kind(b.read_bytes("/nope").await), ErrorKind::FileNotFound);
    assert_eq!(kind(b.read_bytes("/dir").await), ErrorKind::IsDirectory);
    assert_eq!(
        b.ls("/dir/file.txt").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        b.ls("/missing").await.unwrap_err().kind(),
        ErrorKind::FileNotFound
    );
    assert_eq!(
        b.write_str("/dir", "x").await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        b.write_str("/dir/file.txt/under", "x")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        b.read_bytes("/../x").await.unwrap_err().kind(),
        ErrorKind::InvalidPath
    );
    assert_eq!(
        b.delete("/", true).await.unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(
        b.delete("/dir", false).await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn store_supports_conditional_writes_so_edits_are_atomic() {
    let b = support::backend("probe").await;
    assert!(b.uses_conditional_writes(), "moto honours If-Match");
    assert!(b.capabilities().atomic_edit);
    let plain = support::backend_with("probe-off", |c| {
        c.conditional_writes(ConditionalWrites::Disabled)
    })
    .await;
    assert!(!plain.capabilities().atomic_edit);
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_replaces_text_and_reports_count() {
    let b = support::backend("edit").await;
    b.write_str("/e.txt", "a b a\n").await.unwrap();
    assert_eq!(
        b.edit("/e.txt", "a", "z", true).await.unwrap().replacements,
        2
    );
    assert_eq!(b.read_to_string("/e.txt").await.unwrap(), "z b z\n");
    assert_eq!(
        b.edit("/e.txt", "q", "z", false).await.unwrap_err().kind(),
        ErrorKind::StringNotFound
    );
    assert_eq!(
        b.edit("/none.txt", "q", "z", false)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::FileNotFound
    );
}

/// 32 tasks each append 20 distinct markers to one object; every marker
/// must survive.
async fn concurrent_edits_lose_nothing(backends: Vec<Arc<S3Backend>>) {
    backends[0]
        .write_str("/counter.txt", "END\n")
        .await
        .expect("seeding the counter");
    let mut tasks = Vec::new();
    for task in 0..32 {
        let b = backends[task % backends.len()].clone();
        tasks.push(tokio::spawn(async move {
            for edit in 0..20 {
                let marker = format!("t{task}e{edit}\nEND\n");
                b.edit("/counter.txt", "END\n", &marker, false)
                    .await
                    .expect("an edit failed");
            }
        }));
    }
    for t in tasks {
        t.await.expect("an edit task panicked");
    }
    let text = backends[0]
        .read_to_string("/counter.txt")
        .await
        .expect("reading the counter");
    for task in 0..32 {
        for edit in 0..20 {
            assert!(
                text.contains(&format!("t{task}e{edit}\n")),
                "lost t{task}e{edit}"
            );
        }
    }
    assert_eq!(text.lines().count(), 32 * 20 + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_two_tasks_editing_one_object_through_one_backend_lose_no_update() {
    let b = Arc::new(support::backend("cas-one").await);
    concurrent_edits_lose_nothing(vec![b]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_through_separate_backends_race_by_compare_and_swap_and_lose_no_update() {
    // Separate backends share no lock: only If-Match keeps updates.
    let (endpoint, bucket) = (support::endpoint(), support::bucket());
    support::ensure_bucket(&endpoint, &bucket).await;
    let prefix = support::fresh_prefix("cas-many");
    let mut backends = Vec::new();
    for _ in 0..4 {
        let config = support::config_for(&endpoint, &bucket, &prefix).edit_attempts(200);
        backends.push(Arc::new(S3Backend::connect(config).await.unwrap()));
    }
    concurrent_edits_lose_nothing(backends).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ls_pages_past_one_thousand_keys() {
    let b = support::backend("ls-pages").await;
    upload_all(&b, numbered_uploads("/many", 1100)).await;
    let listed = b.ls("/many").await.unwrap();
    assert_eq!(listed.len(), 1100);
    assert_eq!(listed[0].name(), "f00000.txt");
    assert_eq!(listed[1099].name(), "f01099.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn glob_pages_past_one_thousand_keys_and_narrows_to_the_literal_prefix() {
    let b = support::backend("glob-pages").await;
    upload_all(&b, numbered_uploads("/src/many", 1100)).await;
    b.write_str("/other/f.txt", "x").await.unwrap();
    let all = b.glob(&GlobRequest::new("src/many/*.txt")).await.unwrap();
    assert_eq!(all.files.len(), 1100);
    assert!(!all.truncated);
    let some = b.glob(&GlobRequest::new("**/f0105?.txt")).await.unwrap();
    assert_eq!(some.files.len(), 10);
    let capped = b
        .glob(&GlobRequest::new("*.txt").limit(1050))
        .await
        .unwrap();
    assert_eq!((capped.files.len(), capped.truncated), (1050, true));
    assert!(capped.files.windows(2).all(|w| w[0].path < w[1].path));
}

#[tokio::test(flavor = "multi_thread")]
async fn recursive_delete_removes_more_than_one_thousand_keys() {
    let b = support::backend("rm-pages").await;
    upload_all(&b, numbered_uploads("/doomed/sub", 1100)).await;
    b.write_str("/kept.txt", "x").await.unwrap();
    b.delete("/doomed", true).await.unwrap();
    assert!(!b.exists("/doomed").await.unwrap());
    assert_eq!(b.glob_paths("**/*.txt").await.unwrap(), ["/kept.txt"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn grep_stops_at_max_count_and_keeps_path_then_line_order() {
    let b = support::backend("grep").await;
    let files: Vec<FileUpload> = (0..60)
        .map(|i| FileUpload::new(format!("/g/{i:02}.txt"), "hit\nmiss\nhit\n"))
        .collect();
    upload_all(&b, files).await;
    b.write("/g/bin.dat", b"hit\0".to_vec()).await.unwrap();
    let all = b.grep(&GrepRequest::new("hit")).await.unwrap();
    assert_eq!(all.matches.len(), 120);
    assert!(
        all.matches
            .windows(2)
            .all(|w| (&w[0].path, w[0].line_number) < (&w[1].path, w[1].line_number))
    );
    let capped = b.grep(&GrepRequest::new("hit").max_count(5)).await.unwrap();
    assert!(capped.truncated);
    let got: Vec<(String, u64)> = capped
        .matches
        .iter()
        .map(|m| (m.path.to_string(), m.line_number))
        .collect();
    assert_eq!(
        got,
        [
            ("/g/00.txt".into(), 1),
            ("/g/00.txt".into(), 3),
            ("/g/01.txt".into(), 1),
            ("/g/01.txt".into(), 3),
            ("/g/02.txt".into(), 1)
        ]
    );
    let one = b
        .grep(&GrepRequest::new("hit").path("/g/07.txt"))
        .await
        .unwrap();
    assert_eq!(one.matches.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn forty_mib_round_trips_through_multipart_upload() {
    let b = support::backend("multipart").await;
    let content: Vec<u8> = (0..40 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    b.write("/big.bin", content.clone()).await.unwrap();
    assert_eq!(
        b.stat("/big.bin").await.unwrap().size,
        Some(content.len() as u64)
    );
    let back = b.read_bytes("/big.bin").await.unwrap();
    assert!(back == content, "the 40 MiB object came back different");
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_serves_reads_and_own_writes_invalidate_it() {
    let b = support::backend_with("cache", |c| c.cache(CacheConfig::default())).await;
    b.write_str("/c.txt", "one").await.unwrap();
    assert_eq!(b.read_to_string("/c.txt").await.unwrap(), "one");
    b.write_str("/c.txt", "two").await.unwrap();
    assert_eq!(b.read_to_string("/c.txt").await.unwrap(), "two");
    assert_eq!(b.ls("/").await.unwrap().len(), 1);
    b.write_str("/d.txt", "x").await.unwrap();
    assert_eq!(b.ls("/").await.unwrap().len(), 2);
    b.edit("/c.txt", "two", "three", false).await.unwrap();
    assert_eq!(b.read_to_string("/c.txt").await.unwrap(), "three");
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_markers_from_other_tools_count_as_directories() {
    let b = support::backend("markers").await;
    // An S3 console "folder" is a zero-byte key ending with `/`.
    let (endpoint, bucket) = (support::endpoint(), support::bucket());
    let marker_key = format!("{}empty/", b.key_prefix());
    put_raw(&endpoint, &bucket, &marker_key).await;
    let root = b.ls("/").await.unwrap();
    assert_eq!(root.len(), 1);
    assert!(root[0].is_dir && root[0].path == "/empty");
    assert!(b.ls("/empty").await.unwrap().is_empty());
    assert!(b.stat("/empty").await.unwrap().is_dir);
    b.delete("/empty", false).await.unwrap();
    assert!(b.ls("/").await.unwrap().is_empty());
}

async fn put_raw(endpoint: &str, bucket: &str, key: &str) {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            support::ACCESS_KEY,
            support::SECRET_KEY,
            None,
            None,
            "tests",
        ))
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(Vec::new().into())
        .send()
        .await
        .expect("putting a raw key");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_appear_in_debug_or_errors() {
    let config = support::config_for("http://127.0.0.1:9", "bkt", "p");
    assert!(!format!("{config:?}").contains(support::SECRET_KEY));
    let mut server = support::MotoServer::start(None);
    let endpoint = server.endpoint();
    support::ensure_bucket(&endpoint, "secret-check").await;
    let b = S3Backend::connect(support::config_for(&endpoint, "secret-check", "p").retries(
        1,
        Duration::from_millis(10),
        Duration::from_millis(10),
    ))
    .await
    .unwrap();
    assert!(!format!("{b:?}").contains(support::SECRET_KEY));
    server.stop();
    let err = b.write_str("/x", "y").await.unwrap_err();
    for shown in [format!("{err}"), format!("{err:?}")] {
        assert!(!shown.contains(support::SECRET_KEY), "{shown}");
        assert!(!shown.contains(support::ACCESS_KEY), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_server_gives_unavailable_errors_and_a_restarted_one_works_again() {
    let mut server = support::MotoServer::start(None);
    let endpoint = server.endpoint();
    support::ensure_bucket(&endpoint, "outage").await;
    let b = S3Backend::connect(
        support::config_for(&endpoint, "outage", "p")
            .retries(3, Duration::from_millis(50), Duration::from_millis(200))
            .timeouts(
                Duration::from_secs(1),
                Duration::from_secs(3),
                Duration::from_secs(10),
            ),
    )
    .await
    .unwrap();
    b.write_str("/before.txt", "ok").await.unwrap();

    server.stop();
    let started = Instant::now();
    let write = b.write_str("/during.txt", "x").await.unwrap_err();
    let read = b.read_bytes("/before.txt").await.unwrap_err();
    let ls = b.ls("/").await.unwrap_err();
    let grep = b.grep(&GrepRequest::new("ok")).await.unwrap_err();
    for err in [&write, &read, &ls, &grep] {
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert!(err.is_retryable());
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "errors took {:?}: the backend hangs on a dead server",
        started.elapsed()
    );

    // moto keeps its state in memory: the restarted server is empty.
    let port = server.port;
    drop(server);
    let _restarted = support::MotoServer::start(Some(port));
    support::ensure_bucket(&endpoint, "outage").await;
    b.write_str("/after.txt", "back").await.unwrap();
    assert_eq!(b.read_to_string("/after.txt").await.unwrap(), "back");
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_batch_checks_each_item_and_fails_only_the_bad_ones() {
    let b = support::backend("batch").await;
    b.write_str("/d/sub/x.txt", "x").await.unwrap();
    b.write_str("/d/file", "f").await.unwrap();
    let results = b
        .upload_files(vec![
            FileUpload::new("/d/a.txt", "a"),
            FileUpload::new("/d/sub", "onto a directory"),
            FileUpload::new("/d/file/under", "below a file"),
            FileUpload::new("/d/../escape", "bad path"),
            FileUpload::new("/d/b.txt", "b"),
        ])
        .await;
    let kinds: Vec<Option<ErrorKind>> = results
        .iter()
        .map(|r| r.error.as_ref().map(|e| e.kind()))
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(ErrorKind::IsDirectory),
            Some(ErrorKind::NotADirectory),
            Some(ErrorKind::InvalidPath),
            None
        ]
    );
    assert_eq!(results[3].path, "/d/../escape");
    assert_eq!(b.read_to_string("/d/b.txt").await.unwrap(), "b");
    assert_eq!(b.read_to_string("/d/sub/x.txt").await.unwrap(), "x");
}
