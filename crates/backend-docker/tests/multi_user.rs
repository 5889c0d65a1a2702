//! The pool, the session manager and the reaper.

mod common;

use std::sync::Arc;
use std::time::Duration;

use backend_core::{Backend, BackendExt, ErrorKind, ExecRequest, Sandbox};
use backend_docker::{LABEL_OWNER_PID, LABEL_SESSION, SandboxPool, SessionManager};

#[tokio::test(flavor = "multi_thread")]
async fn sixteen_concurrent_requests_for_one_key_make_one_container() {
    let docker = common::engine().await;
    let key = format!("one-key-{}", std::process::id());
    let manager = Arc::new(
        SessionManager::builder(common::builder().await)
            .build()
            .await
            .unwrap(),
    );
    let requests = (0..16).map(|_| {
        let (manager, key) = (manager.clone(), key.clone());
        tokio::spawn(async move { manager.get_or_create(&key).await })
    });
    let sandboxes: Vec<_> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    assert!(
        sandboxes.iter().all(|s| s.id() == sandboxes[0].id()),
        "all got the same sandbox"
    );
    assert_eq!(
        common::labelled_containers(&docker, LABEL_SESSION, &key)
            .await
            .len(),
        1
    );
    manager.shutdown().await;
    assert!(
        common::labelled_containers(&docker, LABEL_SESSION, &key)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn eight_keys_make_eight_and_shutdown_removes_them_all() {
    let docker = common::engine().await;
    let prefix = format!("eight-{}-", std::process::id());
    let manager = Arc::new(
        SessionManager::builder(common::builder().await)
            .build()
            .await
            .unwrap(),
    );
    let requests = (0..8).map(|i| {
        let (manager, key) = (manager.clone(), format!("{prefix}{i}"));
        tokio::spawn(async move { manager.get_or_create(&key).await })
    });
    let sandboxes: Vec<_> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|joined| joined.unwrap().unwrap())
        .collect();
    let mut ids: Vec<&str> = sandboxes.iter().map(|s| s.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
    assert_eq!(manager.live_sessions(), 8);
    sandboxes[3].write_str("/mine.txt", "3").await.unwrap();
    assert!(
        !sandboxes[4].exists("/mine.txt").await.unwrap(),
        "sessions do not share files"
    );
    manager.shutdown().await;
    for i in 0..8 {
        let key = format!("{prefix}{i}");
        assert!(
            common::labelled_containers(&docker, LABEL_SESSION, &key)
                .await
                .is_empty(),
            "{key} left"
        );
        assert!(
            common::labelled_volumes(&docker, LABEL_SESSION, &key)
                .await
                .is_empty(),
            "{key} volume left"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_expire_and_are_removed() {
    let docker = common::engine().await;
    let key = format!("idle-{}", std::process::id());
    let manager = SessionManager::builder(common::builder().await)
        .idle_timeout(Duration::from_secs(1))
        .maintenance_interval(Duration::from_millis(200))
        .build()
        .await
        .unwrap();
    let sandbox = manager.get_or_create(&key).await.unwrap();
    drop(sandbox);
    let gone = common::eventually(Duration::from_secs(15), || async {
        common::labelled_containers(&docker, LABEL_SESSION, &key)
            .await
            .is_empty()
    })
    .await;
    assert!(gone, "the idle session's container was removed");
    assert_eq!(manager.live_sessions(), 0);
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_beyond_the_cap_are_quota_exceeded() {
    let prefix = format!("cap-{}-", std::process::id());
    let manager = SessionManager::builder(common::builder().await)
        .max_sessions(2)
        .build()
        .await
        .unwrap();
    manager.get_or_create(&format!("{prefix}a")).await.unwrap();
    manager.get_or_create(&format!("{prefix}b")).await.unwrap();
    let e = manager
        .get_or_create(&format!("{prefix}c"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
    manager
        .get_or_create(&format!("{prefix}a"))
        .await
        .expect("an existing session is still served");
    manager.remove(&format!("{prefix}a")).await;
    manager
        .get_or_create(&format!("{prefix}c"))
        .await
        .expect("room after a removal");
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_kills_processes_and_empties_the_work_directory() {
    let sandbox = common::sandbox().await;
    sandbox.write_str("/left-behind.txt", "x").await.unwrap();
    sandbox.write_str("/.hidden/y", "y").await.unwrap();
    let detached = ExecRequest::new("sleep 300 >/dev/null 2>&1 & echo t > /tmp/t");
    sandbox.execute(detached).await.unwrap();
    sandbox.reset().await.unwrap();
    assert!(
        sandbox.ls("/").await.unwrap().is_empty(),
        "the work directory was emptied"
    );
    let ps = sandbox
        .execute(ExecRequest::new(
            "ps -o args | grep -c '[s]leep 300'; ls -A /tmp | wc -l",
        ))
        .await
        .unwrap();
    assert_eq!(
        ps.stdout_text(),
        "0\n0\n",
        "processes killed and /tmp emptied"
    );
    sandbox.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_hands_out_warm_sandboxes_and_keeps_released_ones_clean() {
    let docker = common::engine().await;
    let pool = SandboxPool::new(common::builder().await, 2).await.unwrap();
    assert_eq!(pool.warm_count().await, 2);
    let sandbox = pool.acquire().await.unwrap();
    let id = sandbox.id().to_owned();
    sandbox.write_str("/left-behind.txt", "x").await.unwrap();
    pool.release(sandbox).await;
    // Back in the pool only after its reset, or removed when the pool had
    // already warmed a replacement: never handed out dirty, never leaked.
    let mut lent = Vec::new();
    for _ in 0..2 {
        lent.push(pool.acquire().await.unwrap());
    }
    match lent.iter().find(|s| s.id() == id) {
        Some(reused) => assert!(
            reused.ls("/").await.unwrap().is_empty(),
            "reset before reuse"
        ),
        None => assert!(
            docker.inspect_container(&id, None).await.is_err(),
            "removed, not leaked"
        ),
    }
    for sandbox in lent {
        assert_eq!(
            sandbox
                .execute(ExecRequest::new("echo ok"))
                .await
                .unwrap()
                .stdout_text(),
            "ok\n"
        );
        pool.release(sandbox).await;
    }
    pool.shutdown().await;
    assert!(
        docker.inspect_container(&id, None).await.is_err(),
        "shutdown removed the warm ones"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_replaces_a_dead_sandbox() {
    let pool = SandboxPool::new(common::builder().await, 1).await.unwrap();
    let sandbox = pool.acquire().await.unwrap();
    let dead_id = sandbox.id().to_owned();
    sandbox.close().await.unwrap();
    pool.release(sandbox).await;
    let next = pool.acquire().await.unwrap();
    assert_ne!(next.id(), dead_id);
    assert_eq!(
        next.execute(ExecRequest::new("echo ok"))
            .await
            .unwrap()
            .stdout_text(),
        "ok\n"
    );
    pool.release(next).await;
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pool_discards_a_warm_sandbox_whose_container_died() {
    let docker = common::engine().await;
    let mark = format!("warm-dies-{}", std::process::id());
    let builder = common::builder().await.label("test.pool", &mark);
    let pool = SandboxPool::new(builder, 1).await.unwrap();
    let warm = common::labelled_containers(&docker, "test.pool", &mark).await;
    assert_eq!(warm.len(), 1);
    docker
        .remove_container(
            &warm[0],
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    // Past the window in which its creation vouches for it.
    tokio::time::sleep(backend_pool::HEALTH_BYPASS + Duration::from_millis(300)).await;
    let next = pool.acquire().await.unwrap();
    assert_ne!(next.id(), warm[0], "the dead one was not handed out");
    assert_eq!(
        next.execute(ExecRequest::new("echo ok"))
            .await
            .unwrap()
            .stdout_text(),
        "ok\n"
    );
    pool.release(next).await;
    pool.shutdown().await;
    assert!(
        common::eventually(Duration::from_secs(15), || async {
            common::labelled_containers(&docker, "test.pool", &mark)
                .await
                .is_empty()
        })
        .await,
        "shutdown removed the pool's containers"
    );
}

/// Set in the child process of the reaper test.
const CHILD_ENV: &str = "BACKEND_DOCKER_REAP_CHILD";

#[tokio::test(flavor = "multi_thread")]
async fn reap_removes_what_a_killed_owner_left() {
    if std::env::var_os(CHILD_ENV).is_some() {
        // The child: create a sandbox, say its id, and wait to be killed.
        let sandbox = common::sandbox().await;
        println!("SANDBOX {}", sandbox.id());
        tokio::time::sleep(Duration::from_secs(300)).await;
        return;
    }
    let docker = common::engine().await;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reap_removes_what_a_killed_owner_left",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let id = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the child made a sandbox in time")
            .unwrap()
            .expect("the child printed its sandbox");
        // libtest may print its "test ... " prefix on the same line.
        if let Some(at) = line.find("SANDBOX ") {
            break line[at + "SANDBOX ".len()..].trim().to_owned();
        }
    };
    assert_eq!(
        common::labelled_containers(&docker, LABEL_OWNER_PID, &pid).await,
        std::slice::from_ref(&id)
    );
    child.kill().await.unwrap();
    child.wait().await.unwrap();
    // Alive owners are left alone; this process is alive.
    let mine = common::sandbox().await;
    let report = backend_docker::reap(&docker).await.unwrap();
    assert!(report.containers.contains(&id));
    assert!(!report.containers.iter().any(|c| c == mine.id()));
    assert!(
        common::labelled_containers(&docker, LABEL_OWNER_PID, &pid)
            .await
            .is_empty()
    );
    assert!(
        common::labelled_volumes(&docker, LABEL_OWNER_PID, &pid)
            .await
            .is_empty()
    );
    assert!(mine.is_healthy().await);
    mine.close().await.unwrap();
}
