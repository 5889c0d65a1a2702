//! Synchronisation helpers that backends share.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::lock::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One async lock per key, such as one per path so that edits of one file
/// run one at a time while edits of different files run in parallel.
///
/// A key's entry exists only while someone holds or waits for its lock: it is
/// removed when the last [`KeyedLockGuard`] (or waiting [`lock`](Self::lock)
/// call) for the key goes away, so the table does not grow with every key
/// ever locked.
///
/// # Example
/// ```
/// use backend_core::KeyedLocks;
///
/// async fn edit(locks: &KeyedLocks<String>, path: &str) {
///     let _guard = locks.lock(path.to_owned()).await;
///     // read, change and write `path`: no other edit of it runs meanwhile
/// }
/// # let _ = edit;
/// ```
pub struct KeyedLocks<K> {
    table: Arc<Mutex<HashMap<K, Entry>>>,
}

/// A key's lock and how many callers hold or wait for it; the count, kept
/// under the table's mutex, decides when the entry can go.
struct Entry {
    lock: Arc<AsyncMutex<()>>,
    users: usize,
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    /// An empty table.
    pub fn new() -> Self {
        KeyedLocks {
            table: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Waits until no one else holds the lock for `key`, then holds it until
    /// the returned guard is dropped. Waiters are served in arrival order
    /// as far as the underlying async mutex is fair; dropping the future
    /// while it waits gives up its place and leaves no entry behind.
    pub async fn lock(&self, key: K) -> KeyedLockGuard<K> {
        let lock = {
            let mut table = lock_table(&self.table);
            let entry = table.entry(key.clone()).or_insert_with(|| Entry {
                lock: Arc::new(AsyncMutex::new(())),
                users: 0,
            });
            entry.users += 1;
            Arc::clone(&entry.lock)
        };
        // Registered before waiting, so a cancelled wait still unregisters.
        let user = User {
            table: Arc::clone(&self.table),
            key: Some(key),
        };
        let held = lock.lock_owned().await;
        KeyedLockGuard {
            _held: held,
            _user: user,
        }
    }

    /// How many keys are locked or waited for right now.
    pub fn len(&self) -> usize {
        lock_table(&self.table).len()
    }

    /// Whether no key is locked or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Eq + Hash + Clone> Default for KeyedLocks<K> {
    fn default() -> Self {
        KeyedLocks::new()
    }
}

impl<K> fmt::Debug for KeyedLocks<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = lock_table(&self.table).len();
        f.debug_struct("KeyedLocks").field("keys", &keys).finish()
    }
}

/// Holds one key's lock of a [`KeyedLocks`]; dropping it releases the lock
/// (and the key's entry when no one else wants it).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct KeyedLockGuard<K: Eq + Hash> {
    // Declared first so that it is released before the entry is unregistered
    // (either order is correct; this one lets a waiter in sooner).
    _held: OwnedMutexGuard<()>,
    _user: User<K>,
}

impl<K: Eq + Hash> fmt::Debug for KeyedLockGuard<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLockGuard").finish_non_exhaustive()
    }
}

/// One caller's registration for a key; unregisters on drop, removing the
/// entry when it was the last.
struct User<K: Eq + Hash> {
    table: Arc<Mutex<HashMap<K, Entry>>>,
    key: Option<K>,
}

impl<K: Eq + Hash> Drop for User<K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut table = lock_table(&self.table);
        if let Some(entry) = table.get_mut(&key) {
            entry.users -= 1;
            if entry.users == 0 {
                table.remove(&key);
            }
        }
    }
}

/// The table is consistent after any panic (each change is one statement),
/// so a poisoned mutex is used as is rather than turned into a panic.
fn lock_table<K>(table: &Mutex<HashMap<K, Entry>>) -> MutexGuard<'_, HashMap<K, Entry>> {
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn table_is_empty_after_use() {
        let locks = KeyedLocks::new();
        {
            let _a = locks.lock("a").await;
            let _b = locks.lock("b").await;
            assert_eq!(locks.len(), 2);
        }
        assert!(locks.is_empty());
        assert_eq!(locks.len(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lockers_of_one_key_run_one_at_a_time() {
        let locks = Arc::new(KeyedLocks::new());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _guard = locks.lock("/same").await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a locker panicked");
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn the_lock_future_and_guard_are_send() {
        // Backends hold guards across awaits inside `async_trait` futures,
        // which must be `Send`.
        fn assert_send<T: Send>(_: &T) {}
        let locks = KeyedLocks::new();
        let waiting = locks.lock(String::from("k"));
        assert_send(&waiting);
        let guard = waiting.await;
        assert_send(&guard);
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let locks = KeyedLocks::new();
        let _a = locks.lock(1).await;
        let b = tokio::time::timeout(Duration::from_secs(1), locks.lock(2)).await;
        assert!(b.is_ok(), "key 2 waited for key 1");
    }

    #[tokio::test]
    async fn a_cancelled_wait_leaves_no_entry() {
        let locks = KeyedLocks::new();
        let held = locks.lock("k").await;
        let waited = tokio::time::timeout(Duration::from_millis(20), locks.lock("k")).await;
        assert!(waited.is_err(), "the second locker got a held lock");
        assert_eq!(locks.len(), 1);
        drop(held);
        assert!(locks.is_empty());
        // And the key can be locked again.
        let _again = locks.lock("k").await;
        assert_eq!(locks.len(), 1);
    }
}
