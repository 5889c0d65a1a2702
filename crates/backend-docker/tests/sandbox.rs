//! Focused behaviour of one `DockerSandbox` against the real engine.

mod common;

use std::time::{Duration, Instant};

use backend_core::{
    Backend, BackendExt, ErrorKind, ExecEvent, ExecRequest, FileUpload, GlobRequest, GrepRequest,
    Sandbox,
};
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread")]
async fn container_gets_the_hardened_defaults() {
    let sandbox = common::sandbox().await;
    let info = sandbox
        .docker()
        .inspect_container(sandbox.container_id(), None)
        .await
        .unwrap();
    let host = info.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.memory, Some(512 * 1024 * 1024));
    assert_eq!(host.memory_swap, Some(512 * 1024 * 1024), "no extra swap");
    assert_eq!(host.nano_cpus, Some(1_000_000_000));
    assert_eq!(host.pids_limit, Some(256));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_owned()])
    );
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.init, Some(true));
    assert!(host.tmpfs.unwrap()["/tmp"].contains("size=67108864"));
    let out = sandbox
        .execute(ExecRequest::new(
            "id -u; touch /etc/x 2>/dev/null && echo writable-root; ls -ld . | cut -c1-10",
        ))
        .await
        .unwrap();
    assert_eq!(
        out.stdout_text(),
        "1000\ndrwxr-xr-x\n",
        "{}",
        out.stderr_text()
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_and_runtime_are_configurable() {
    let sandbox = common::builder()
        .await
        .memory_bytes(64 * 1024 * 1024)
        .pids_limit(32)
        .cpus(0.5)
        .tmp_bytes(1024 * 1024)
        .env("GREETING", "hello")
        .label("test.purpose", "configurable")
        .build()
        .await
        .unwrap();
    let info = sandbox
        .docker()
        .inspect_container(sandbox.container_id(), None)
        .await
        .unwrap();
    let host = info.host_config.unwrap();
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.pids_limit, Some(32));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(
        info.config.unwrap().labels.unwrap()["test.purpose"],
        "configurable"
    );
    let out = sandbox
        .execute(ExecRequest::new("echo $GREETING"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "hello\n");
    sandbox.close().await.unwrap();
    let missing_runtime = common::builder()
        .await
        .runtime("no-such-runtime")
        .build()
        .await;
    assert!(missing_runtime.is_err(), "an unknown runtime is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_round_trip_through_the_archive_api() {
    let sandbox = common::sandbox().await;
    sandbox
        .write("/a/b/c.txt", b"one\ntwo\n".to_vec())
        .await
        .unwrap();
    assert_eq!(
        sandbox.read_bytes("/a/b/c.txt").await.unwrap(),
        b"one\ntwo\n"
    );
    let out = sandbox
        .execute(ExecRequest::new("cat a/b/c.txt; stat -c %u a/b/c.txt"))
        .await
        .unwrap();
    assert_eq!(
        out.stdout_text(),
        "one\ntwo\n1000\n",
        "owned by the command user"
    );
    let listing = sandbox.ls("/a").await.unwrap();
    assert_eq!(listing.len(), 1);
    assert!(listing[0].is_dir);
    let info = sandbox.stat("/a/b/c.txt").await.unwrap();
    assert_eq!(info.size, Some(8));
    assert!(info.modified.is_some());
    assert_eq!(
        sandbox.read_bytes("/a").await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    assert_eq!(
        sandbox.read_bytes("/nope").await.unwrap_err().kind(),
        ErrorKind::FileNotFound
    );
    assert_eq!(
        sandbox.ls("/a/b/c.txt").await.unwrap_err().kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        sandbox
            .write("/a/b/c.txt/d", b"x".to_vec())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotADirectory
    );
    assert_eq!(
        sandbox.write("/a", b"x".to_vec()).await.unwrap_err().kind(),
        ErrorKind::IsDirectory
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_file_names_are_data_not_shell() {
    let sandbox = common::sandbox().await;
    let names = [
        "/$(touch pwned)",
        "/`touch pwned`",
        "/a b;touch pwned",
        "/-rf",
        "/'quote\"s",
    ];
    for name in names {
        sandbox.write(name, b"x".to_vec()).await.unwrap();
        assert_eq!(sandbox.read_bytes(name).await.unwrap(), b"x");
        assert!(sandbox.exists(name).await.unwrap());
    }
    let listed: Vec<String> = sandbox
        .ls("/")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path.into_string())
        .collect();
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for name in names {
        sandbox.delete(name, false).await.unwrap();
    }
    assert!(
        !sandbox.exists("/pwned").await.unwrap(),
        "no name was run as a command"
    );
    assert!(sandbox.ls("/").await.unwrap().is_empty());
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_out_of_the_work_directory_is_refused() {
    let sandbox = common::sandbox().await;
    sandbox
        .execute(ExecRequest::new(
            "ln -s /etc/passwd out; echo in > real; ln -s real inside",
        ))
        .await
        .unwrap();
    assert_eq!(
        sandbox.read_bytes("/out").await.unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(sandbox.read_bytes("/inside").await.unwrap(), b"in\n");
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_go_in_one_batch_with_per_item_results() {
    let sandbox = common::sandbox().await;
    sandbox.write("/file", b"f".to_vec()).await.unwrap();
    let results = sandbox
        .upload_files(vec![
            FileUpload::new("/ok/one.txt", "1"),
            FileUpload::new("/../bad", "2"),
            FileUpload::new("/file/under", "3"),
            FileUpload::new("/ok/two.txt", "4"),
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
            Some(ErrorKind::InvalidPath),
            Some(ErrorKind::NotADirectory),
            None
        ]
    );
    let downloads = sandbox
        .download_files(vec![
            "/ok/one.txt".into(),
            "/missing".into(),
            "/ok/two.txt".into(),
        ])
        .await;
    assert_eq!(downloads[0].content.as_deref(), Some(&b"1"[..]));
    assert_eq!(
        downloads[1].error.as_ref().map(|e| e.kind()),
        Some(ErrorKind::FileNotFound)
    );
    assert_eq!(downloads[2].content.as_deref(), Some(&b"4"[..]));
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn glob_and_grep_follow_the_shared_rules() {
    let sandbox = common::sandbox().await;
    for (path, text) in [
        ("/src/a.rs", "fn main() {}\n"),
        ("/src/b.py", "main = 1\n"),
        ("/.hidden/c.rs", "main\n"),
        ("/.git/d.rs", "main\n"),
    ] {
        sandbox.write(path, text.as_bytes().to_vec()).await.unwrap();
    }
    let found = sandbox.glob_paths("*.rs").await.unwrap();
    assert_eq!(found, ["/src/a.rs"], "wildcards skip hidden directories");
    let limited = sandbox
        .glob(&GlobRequest::new("**/*").limit(1))
        .await
        .unwrap();
    assert!(limited.truncated);
    let hits = sandbox.grep(&GrepRequest::new("main")).await.unwrap();
    let paths: Vec<&str> = hits.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/.hidden/c.rs", "/src/a.rs", "/src/b.py"],
        ".git skipped, hidden searched"
    );
    let filtered = sandbox
        .grep(&GrepRequest::new("main").glob("*.py").path("/src"))
        .await
        .unwrap();
    assert_eq!(filtered.matches.len(), 1);
    let one = sandbox
        .grep(&GrepRequest::new("fn").path("/src/a.rs"))
        .await
        .unwrap();
    assert_eq!(one.matches[0].path.as_str(), "/src/a.rs");
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_edits_lose_no_update() {
    let sandbox = std::sync::Arc::new(common::sandbox().await);
    let initial: String = (0..8).map(|i| format!("line{i}\n")).collect();
    sandbox.write_str("/f.txt", &initial).await.unwrap();
    let edits = (0..8).map(|i| {
        let sandbox = sandbox.clone();
        async move {
            sandbox
                .edit(
                    "/f.txt",
                    &format!("line{i}\n"),
                    &format!("done{i}\n"),
                    false,
                )
                .await
        }
    });
    for outcome in futures::future::join_all(edits).await {
        assert_eq!(outcome.unwrap().replacements, 1);
    }
    let text = sandbox.read_to_string("/f.txt").await.unwrap();
    assert_eq!(
        text,
        (0..8).map(|i| format!("done{i}\n")).collect::<String>()
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_separates_streams_and_feeds_stdin() {
    let sandbox = common::sandbox().await;
    let out = sandbox
        .execute(
            ExecRequest::new("cat; echo err >&2; exit 7")
                .stdin(b"in\n".to_vec())
                .env("X", "y"),
        )
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "in\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.exit_code(), Some(7));
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn streaming_yields_chunks_before_the_end() {
    let sandbox = common::sandbox().await;
    let mut stream = sandbox
        .execute_stream(ExecRequest::new("echo first; sleep 2; echo second"))
        .await
        .unwrap();
    let started = Instant::now();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, ExecEvent::Stdout(b"first\n".to_vec()));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "the first chunk came before the command ended"
    );
    let mut rest = Vec::new();
    while let Some(event) = stream.next().await {
        rest.push(event.unwrap());
    }
    assert!(matches!(rest.last(), Some(ExecEvent::Exit(s)) if s.exit_code == Some(0)));
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_kills_the_tree_and_the_sandbox_stays_usable() {
    let sandbox = common::sandbox().await;
    let started = Instant::now();
    let out = sandbox
        .execute(
            ExecRequest::new("(sleep 60; touch late) & sleep 60").timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(out.timed_out());
    assert!(
        took < Duration::from_secs(2),
        "returned {took:?} after a 1 s deadline"
    );
    let ps = sandbox
        .execute(ExecRequest::new("ps -o user,args | grep -c '[s]leep 60'"))
        .await
        .unwrap();
    assert_eq!(
        ps.stdout_text().trim(),
        "0",
        "no process of the command survived"
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_workdir_is_file_not_found() {
    let sandbox = common::sandbox().await;
    let e = sandbox
        .execute(ExecRequest::new("pwd").workdir("/nope"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    sandbox.write("/sub/x", b"".to_vec()).await.unwrap();
    let out = sandbox
        .execute(ExecRequest::new("pwd").workdir("/sub"))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/workspace/sub\n");
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn close_and_drop_remove_container_and_volume() {
    let docker = common::engine().await;
    let closed = common::sandbox().await;
    let id = closed.container_id().to_owned();
    closed.close().await.unwrap();
    closed.close().await.unwrap();
    assert!(docker.inspect_container(&id, None).await.is_err());
    assert_eq!(
        closed.ls("/").await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    let dropped = common::sandbox().await;
    let id = dropped.container_id().to_owned();
    let info = docker.inspect_container(&id, None).await.unwrap();
    let volume = info.mounts.unwrap()[0].name.clone().unwrap();
    drop(dropped);
    assert!(
        docker.inspect_container(&id, None).await.is_err(),
        "drop removed the container"
    );
    assert!(
        docker.inspect_volume(&volume).await.is_err(),
        "and its volume"
    );
}
