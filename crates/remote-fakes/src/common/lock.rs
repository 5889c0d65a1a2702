//! Locking shared state that a panicking handler may have poisoned.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, taking the state as it is when a holder panicked: a fake
/// keeps serving the other tests' requests.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
