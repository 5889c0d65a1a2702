//! The pool's and session manager's rules, with a counting fake factory
//! (no real sandboxes): reuse after an in-place reset, replacement after a
//! failed one, refills bounded by what the pool lacks, health checks,
//! shutdown, one creation per new session key.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{Error, ErrorKind, Result};
use backend_pool::{HEALTH_BYPASS, SandboxFactory, SandboxPool, SessionManager};

/// A stand-in sandbox: a number and whether it was used.
#[derive(Debug)]
struct Fake {
    n: u64,
    dirty: AtomicBool,
}

#[derive(Debug, Default)]
struct Counts {
    next: AtomicU64,
    created: AtomicUsize,
    destroyed: Mutex<Vec<u64>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    unhealthy: Mutex<HashSet<u64>>,
    sessions: Mutex<Vec<Option<String>>>,
}

#[derive(Debug, Clone, Default)]
struct FakeFactory {
    counts: Arc<Counts>,
    create_delay: Duration,
    /// `None`: reset in place; `Some(false)`: cannot reset; `Some(true)`: the reset fails.
    reset_fails: Option<bool>,
    /// Creation numbers that fail.
    failing: std::ops::Range<u64>,
}

#[async_trait]
impl SandboxFactory for FakeFactory {
    type Sandbox = Fake;
    type Probe = u64;

    async fn create(&self, session: Option<&str>) -> Result<Fake> {
        let c = &self.counts;
        let now = c.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        c.most_in_flight.fetch_max(now, Ordering::AcqRel);
        tokio::time::sleep(self.create_delay).await;
        c.in_flight.fetch_sub(1, Ordering::AcqRel);
        c.sessions
            .lock()
            .expect("lock")
            .push(session.map(str::to_owned));
        let n = c.next.fetch_add(1, Ordering::AcqRel);
        if self.failing.contains(&n) {
            return Err(Error::new(ErrorKind::Unavailable, "creation refused"));
        }
        c.created.fetch_add(1, Ordering::AcqRel);
        Ok(Fake {
            n,
            dirty: AtomicBool::new(false),
        })
    }

    async fn reset(&self, sandbox: &Fake) -> Result<bool> {
        match self.reset_fails {
            None => {
                sandbox.dirty.store(false, Ordering::Release);
                Ok(true)
            }
            Some(false) => Ok(false),
            Some(true) => Err(Error::internal("reset refused")),
        }
    }

    async fn destroy(&self, sandbox: &Fake) {
        self.counts.destroyed.lock().expect("lock").push(sandbox.n);
    }

    fn probe(&self, sandbox: &Fake) -> u64 {
        sandbox.n
    }

    async fn is_healthy(&self, n: &u64) -> bool {
        !self.counts.unhealthy.lock().expect("lock").contains(n)
    }
}

impl FakeFactory {
    fn created(&self) -> usize {
        self.counts.created.load(Ordering::Acquire)
    }
    fn destroyed(&self) -> Vec<u64> {
        self.counts.destroyed.lock().expect("lock").clone()
    }
}

/// Waits until `check` holds (up to 5 s); returns whether it did.
async fn eventually(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..100 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_released_sandbox_is_reset_in_place_and_handed_out_again() {
    // Refills fail, so the pool has room for the released one.
    let factory = FakeFactory {
        failing: 1..u64::MAX,
        ..FakeFactory::default()
    };
    let pool = SandboxPool::new(factory.clone(), 1).await.expect("pool");
    assert_eq!(pool.warm_count().await, 1);
    let first = pool.acquire().await.expect("acquire");
    first.dirty.store(true, Ordering::Release);
    let n = first.n;
    assert!(eventually(async || factory.counts.next.load(Ordering::Acquire) >= 2).await);
    pool.release(first).await;
    assert_eq!(pool.warm_count().await, 1);
    let again = pool.acquire().await.expect("acquire");
    assert_eq!(again.n, n, "the reset sandbox came back");
    assert!(!again.dirty.load(Ordering::Acquire), "reset before reuse");
    pool.release(again).await;
    pool.shutdown().await;
    assert_eq!(pool.warm_count().await, 0);
    let mut destroyed = factory.destroyed();
    destroyed.sort();
    assert_eq!(
        destroyed.len(),
        factory.created(),
        "all destroyed: {destroyed:?}"
    );
}

#[tokio::test]
async fn a_sandbox_that_cannot_be_reset_is_destroyed_and_replaced() {
    for fails in [false, true] {
        let factory = FakeFactory {
            reset_fails: Some(fails),
            ..FakeFactory::default()
        };
        let pool = SandboxPool::new(factory.clone(), 1).await.expect("pool");
        let lent = pool.acquire().await.expect("acquire");
        let n = lent.n;
        assert!(eventually(async || pool.warm_count().await == 1).await);
        pool.release(lent).await;
        assert_eq!(factory.destroyed(), [n], "destroyed at once");
        let next = pool.acquire().await.expect("acquire");
        assert_ne!(next.n, n);
        pool.release(next).await;
        pool.shutdown().await;
        assert_eq!(factory.destroyed().len(), factory.created());
    }
}

#[tokio::test]
async fn refills_never_exceed_what_the_pool_lacks() {
    let factory = FakeFactory {
        create_delay: Duration::from_millis(300),
        reset_fails: Some(false),
        ..FakeFactory::default()
    };
    let pool = SandboxPool::new(factory.clone(), 2).await.expect("pool");
    let a = pool.acquire().await.expect("acquire");
    let b = pool.acquire().await.expect("acquire");
    // Two refills are under way: a third acquire creates its own and
    // starts no refill beyond the size.
    let c = pool.acquire().await.expect("acquire");
    assert!(eventually(async || pool.warm_count().await == 2).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(factory.created(), 2 + 2 + 1);
    assert!(factory.counts.most_in_flight.load(Ordering::Acquire) <= 3);
    assert_eq!(pool.warm_count().await, 2);
    for lent in [a, b, c] {
        pool.release(lent).await;
    }
    pool.shutdown().await;
    assert_eq!(factory.destroyed().len(), factory.created());
}

#[tokio::test]
async fn an_unhealthy_warm_sandbox_is_discarded_on_acquire() {
    let factory = FakeFactory::default();
    let pool = SandboxPool::new(factory.clone(), 2).await.expect("pool");
    factory.counts.unhealthy.lock().expect("lock").insert(0);
    // Past the bypass window the background check no longer vouches for it.
    tokio::time::sleep(HEALTH_BYPASS + Duration::from_millis(300)).await;
    let lent = [
        pool.acquire().await.expect("acquire"),
        pool.acquire().await.expect("acquire"),
    ];
    assert!(
        lent.iter().all(|s| s.n != 0),
        "the unhealthy one was not handed out"
    );
    assert!(eventually(async || factory.destroyed().contains(&0)).await);
    for sandbox in lent {
        pool.release(sandbox).await;
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_acquire_is_unavailable_and_release_destroys() {
    let factory = FakeFactory::default();
    let pool = SandboxPool::new(factory.clone(), 2).await.expect("pool");
    let lent = pool.acquire().await.expect("acquire");
    pool.shutdown().await;
    assert_eq!(pool.warm_count().await, 0);
    let e = pool.acquire().await.expect_err("shut down");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let n = lent.n;
    pool.release(lent).await;
    assert!(factory.destroyed().contains(&n));
    assert_eq!(factory.destroyed().len(), factory.created());
}

#[tokio::test]
async fn a_failed_warm_up_destroys_what_was_made() {
    let factory = FakeFactory {
        failing: 1..2,
        ..FakeFactory::default()
    };
    let e = SandboxPool::new(factory.clone(), 3)
        .await
        .expect_err("one creation fails");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(factory.created(), 2);
    assert_eq!(factory.destroyed().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_for_a_new_key_create_once_and_name_the_key() {
    let factory = FakeFactory {
        create_delay: Duration::from_millis(100),
        ..FakeFactory::default()
    };
    let manager = Arc::new(
        SessionManager::builder(factory.clone())
            .build()
            .await
            .expect("manager"),
    );
    let requests = (0..16).map(|_| {
        let manager = manager.clone();
        tokio::spawn(async move { manager.get_or_create("k").await })
    });
    let got: Vec<Arc<Fake>> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(|joined| joined.expect("joined").expect("session"))
        .collect();
    assert!(got.iter().all(|s| Arc::ptr_eq(s, &got[0])));
    assert_eq!(factory.created(), 1);
    assert_eq!(
        *factory.counts.sessions.lock().expect("lock"),
        [Some("k".to_owned())]
    );
    manager.remove("k").await;
    assert_eq!(manager.live_sessions(), 0);
    assert!(eventually(async || factory.destroyed() == [0]).await);
    manager.shutdown().await;
}
