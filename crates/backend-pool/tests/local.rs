//! A pool and sessions of `LocalSandbox`es, each over its own directory
//! under one temporary directory, through `FnFactory`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backend_core::{BackendExt, ErrorKind, ExecRequest, Result, Sandbox};
use backend_local::LocalSandbox;
use backend_pool::{FnFactory, SandboxPool, SessionManager};

/// A factory making a sandbox over a fresh subdirectory of `base`, named
/// by a counter (and the session key, when there is one).
fn factory(
    base: PathBuf,
) -> FnFactory<
    LocalSandbox,
    impl Fn(Option<String>) -> std::future::Ready<Result<LocalSandbox>> + Send + Sync + 'static,
> {
    let made = AtomicUsize::new(0);
    FnFactory::new(move |session: Option<String>| {
        let n = made.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("{}-{n}", session.unwrap_or_default()));
        std::future::ready(
            std::fs::create_dir(&dir)
                .map_err(|e| backend_core::Error::internal(e.to_string()))
                .and_then(|()| LocalSandbox::new(&dir)),
        )
    })
}

async fn echo_ok(sandbox: &LocalSandbox) {
    let out = sandbox
        .execute(ExecRequest::new("echo ok"))
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "ok\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_of_local_sandboxes_never_hands_out_a_used_one() {
    let base = tempfile::tempdir().expect("temporary directory");
    let pool = SandboxPool::new(factory(base.path().to_owned()), 2)
        .await
        .expect("pool");
    assert_eq!(pool.warm_count().await, 2);
    let sandbox = pool.acquire().await.expect("acquire");
    let id = sandbox.id().to_owned();
    sandbox
        .write_str("/left-behind.txt", "x")
        .await
        .expect("write");
    echo_ok(&sandbox).await;
    pool.release(sandbox).await;
    let mut lent = Vec::new();
    for _ in 0..2 {
        lent.push(pool.acquire().await.expect("acquire"));
    }
    for sandbox in &lent {
        assert_ne!(sandbox.id(), id, "closed and replaced, not reused");
        assert!(
            !sandbox.exists("/left-behind.txt").await.expect("exists"),
            "a fresh directory"
        );
        echo_ok(sandbox).await;
    }
    for sandbox in lent {
        pool.release(sandbox).await;
    }
    let refilled = tokio::time::timeout(Duration::from_secs(10), async {
        while pool.warm_count().await < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(refilled.is_ok(), "the pool warmed replacements");
    pool.shutdown().await;
    assert_eq!(pool.warm_count().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_sessions_are_separate_capped_and_expire() {
    let base = tempfile::tempdir().expect("temporary directory");
    let manager = SessionManager::builder(factory(base.path().to_owned()))
        .max_sessions(2)
        .idle_timeout(Duration::from_secs(1))
        .maintenance_interval(Duration::from_millis(100))
        .build()
        .await
        .expect("manager");
    let alice = manager.get_or_create("alice").await.expect("alice");
    let bob = manager.get_or_create("bob").await.expect("bob");
    assert!(Arc::ptr_eq(
        &alice,
        &manager.get_or_create("alice").await.expect("alice again")
    ));
    alice.write_str("/mine.txt", "a").await.expect("write");
    assert!(
        !bob.exists("/mine.txt").await.expect("exists"),
        "sessions do not share files"
    );
    assert!(
        base.path().join("alice-0").join("mine.txt").exists(),
        "the factory was told the key"
    );
    echo_ok(&bob).await;
    let e = manager
        .get_or_create("carol")
        .await
        .expect_err("over the cap");
    assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(manager.live_sessions(), 2);
    drop((alice, bob));
    let expired = tokio::time::timeout(Duration::from_secs(15), async {
        while manager.live_sessions() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(expired.is_ok(), "idle sessions expired");
    manager
        .get_or_create("carol")
        .await
        .expect("room after expiry");
    manager.shutdown().await;
    assert_eq!(manager.live_sessions(), 0);
}
