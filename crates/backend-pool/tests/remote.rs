//! A pool and sessions of remote sandboxes (E2B, on its local fake)
//! through `FnFactory`.

use std::sync::Arc;
use std::time::Duration;

use backend_core::{BackendExt, ExecRequest, Sandbox};
use backend_pool::{FnFactory, SandboxPool, SessionManager};
use backend_remote::e2b::{E2bConfig, E2bSandbox};
use remote_fakes::e2b::FakeE2b;

/// Each sandbox gets its own directory on the fake, as separate remote
/// sandboxes have separate filesystems.
fn config(fake: &FakeE2b) -> E2bConfig {
    E2bConfig::new(fake.api_key())
        .api_url(fake.api_url())
        .envd_url(fake.envd_url())
        .root_dir(fake.new_workdir())
}

/// Waits until the fake has `count` live sandboxes; returns whether it did.
async fn live(fake: &FakeE2b, count: usize) -> bool {
    for _ in 0..200 {
        if fake.live_sandboxes() == count {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_of_remote_sandboxes_replaces_released_ones() {
    let fake = Arc::new(FakeE2b::start().await);
    let server = fake.clone();
    let pool = SandboxPool::new(
        FnFactory::new(move |_| E2bSandbox::create(config(&server))),
        2,
    )
    .await
    .expect("pool");
    assert_eq!(fake.live_sandboxes(), 2);
    let sandbox = pool.acquire().await.expect("acquire");
    let id = sandbox.id().to_owned();
    sandbox.write_str("/used.txt", "x").await.expect("write");
    pool.release(sandbox).await;
    assert!(live(&fake, 2).await, "closed and replaced");
    let next = pool.acquire().await.expect("acquire");
    assert_ne!(next.id(), id);
    assert!(!next.exists("/used.txt").await.expect("exists"));
    let out = next
        .execute(ExecRequest::new("echo ok"))
        .await
        .expect("execute");
    assert_eq!(out.stdout_text(), "ok\n");
    pool.release(next).await;
    pool.shutdown().await;
    assert!(live(&fake, 0).await, "shutdown closed every sandbox");
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_sessions_get_their_own_sandbox_and_are_removed() {
    let fake = Arc::new(FakeE2b::start().await);
    let server = fake.clone();
    let manager = SessionManager::builder(FnFactory::new(move |_key| {
        E2bSandbox::create(config(&server))
    }))
    .build()
    .await
    .expect("manager");
    let a = manager.get_or_create("a").await.expect("a");
    let b = manager.get_or_create("b").await.expect("b");
    assert_ne!(a.id(), b.id());
    a.write_str("/mine.txt", "a").await.expect("write");
    assert!(!b.exists("/mine.txt").await.expect("exists"));
    assert_eq!(fake.live_sandboxes(), 2);
    drop((a, b));
    manager.remove("a").await;
    assert!(live(&fake, 1).await, "the removed session's sandbox closed");
    manager.shutdown().await;
    assert!(live(&fake, 0).await, "shutdown closed the rest");
}
