//! One way to retry a failed call: exponential backoff with jitter, a cap on
//! attempts and on the total time spent, and a server's "retry after" hint
//! honoured. Every backend that talks to a service (HTTP, gRPC, S3) retries
//! through this module, so they all give up the same way: the last error is
//! returned with `retryable: false` and an `attempts` context value, because
//! repeating the call at once has already been tried.
//!
//! # Example
//! ```
//! use std::time::Duration;
//! use backend_core::retry::{RetryPolicy, retry};
//! use backend_core::{Error, ErrorKind, Operation};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let policy = RetryPolicy {
//!     initial_backoff: Duration::from_millis(1),
//!     ..RetryPolicy::default()
//! };
//! let answer = retry(&policy, Operation::Read, |attempt| async move {
//!     if attempt < 2 {
//!         Err(Error::new(ErrorKind::Unavailable, "busy"))
//!     } else {
//!         Ok(42)
//!     }
//! })
//! .await?;
//! assert_eq!(answer, 42);
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

use crate::{Error, Operation, Result};

/// The context key of the number of attempts made, set on an error once
/// retrying has given up.
pub const ATTEMPTS_KEY: &str = "attempts";

/// The context key of a service's "retry after" hint in milliseconds; an
/// error carrying it is retried after that wait (capped at
/// [`RetryPolicy::max_backoff`]) instead of the computed backoff.
pub const RETRY_AFTER_KEY: &str = "retry_after_ms";

/// How failed calls that are safe to repeat are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 turns retrying off; 0 counts
    /// as 1).
    pub max_attempts: u32,
    /// The wait before the first retry; each further retry doubles it.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts, a server's hint included.
    pub max_backoff: Duration,
    /// The most time from the start of the first attempt to the start of the
    /// last: a wait that would end past it is not taken.
    pub total_budget: Duration,
    /// Whether each computed wait is drawn at random from its upper half
    /// (`[backoff / 2, backoff]`), so that clients failing together do not
    /// retry together. A server's hint is never jittered.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    /// Four attempts, 500 ms doubling up to 30 s, two minutes in all, with
    /// jitter.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            total_budget: Duration::from_secs(120),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// A policy that makes one attempt only.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The computed wait before retry number `retry` (0 for the first
    /// retry), before jitter: `initial_backoff * 2^retry`, capped at
    /// `max_backoff`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Do not repeat the call: the failure is final, or repeating it could
    /// do its effect twice.
    Stop,
    /// Repeat it after the policy's backoff.
    Backoff,
    /// Repeat it after this wait, which the service asked for (capped at
    /// [`RetryPolicy::max_backoff`]).
    After(Duration),
}

impl Retry {
    /// The decision an error implies: [`Stop`](Retry::Stop) unless it
    /// [`is_retryable`](Error::is_retryable); then
    /// [`After`](Retry::After) when it carries a [`RETRY_AFTER_KEY`] hint,
    /// else [`Backoff`](Retry::Backoff).
    pub fn of(error: &Error) -> Retry {
        if !error.is_retryable() {
            return Retry::Stop;
        }
        match error
            .context_value(RETRY_AFTER_KEY)
            .and_then(|ms| ms.trim().parse::<u64>().ok())
        {
            Some(ms) => Retry::After(Duration::from_millis(ms)),
            None => Retry::Backoff,
        }
    }
}

/// The bookkeeping of one retried call, for loops that cannot be written as
/// one closure (a stream resumed after a failure, a poll loop). It counts
/// attempts, keeps the time budget and computes the waits.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Backoff {
    /// Starts counting the first attempt now.
    pub fn new(policy: &RetryPolicy) -> Self {
        Backoff {
            policy: *policy,
            started: Instant::now(),
            attempts: 1,
        }
    }

    /// The attempts made so far, the current one included.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts over (after progress, such as a stream that delivered data
    /// before it failed): the next failure is again the first.
    pub fn reset(&mut self) {
        self.started = Instant::now();
        self.attempts = 1;
    }

    /// Records that the current attempt failed and what `decision` the
    /// failure implies. Returns the wait before the next attempt (which it
    /// counts), or `None` to give up: on [`Retry::Stop`], when the attempts
    /// are used up, or when the wait would end past the time budget.
    pub fn next_wait(&mut self, decision: Retry) -> Option<Duration> {
        let wait = match decision {
            Retry::Stop => return None,
            Retry::Backoff => self.jittered(self.policy.backoff(self.attempts - 1)),
            Retry::After(asked) => asked.min(self.policy.max_backoff),
        };
        if self.attempts >= self.policy.max_attempts.max(1) {
            return None;
        }
        let ends = self.started.elapsed().saturating_add(wait);
        if ends > self.policy.total_budget {
            return None;
        }
        self.attempts += 1;
        Some(wait)
    }

    /// The error to return once [`next_wait`](Self::next_wait) gave up after
    /// a retryable failure: not retryable any more, with the attempt count
    /// in [`ATTEMPTS_KEY`]. A failure that was never retryable is returned
    /// as it is.
    pub fn give_up(&self, error: Error) -> Error {
        if error.is_retryable() || self.attempts > 1 {
            error
                .with_retryable(false)
                .with_context(ATTEMPTS_KEY, self.attempts.to_string())
        } else {
            error
        }
    }

    fn jittered(&self, wait: Duration) -> Duration {
        if !self.policy.jitter || wait.is_zero() {
            return wait;
        }
        let half = wait / 2;
        let spread = u64::try_from((wait - half).as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(random_u64() % spread.saturating_add(1))
    }
}

/// A random number for jitter, from the standard library's per-process
/// random hash keys (no generator crate for one number per retry).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos().into())
            .unwrap_or(0),
    );
    hasher.finish()
}

/// Calls `call` until it succeeds, retrying the errors that
/// [`is_retryable`](Error::is_retryable) (after the hint in
/// [`RETRY_AFTER_KEY`] when there is one) as `policy` allows.
///
/// `call` gets the number of attempts made before this one (0 for the
/// first). The error returned names `operation` when it names none yet
/// (pass `None` for a transport used by many operations); once retrying has
/// given up it is not retryable and carries the attempt count.
pub async fn retry<T, F, Fut>(
    policy: &RetryPolicy,
    operation: impl Into<Option<Operation>>,
    call: F,
) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry_with(policy, operation, call, Retry::of).await
}

/// [`retry`] with the decision made by `classify` from each failure, for
/// failures that say more than an [`Error`] does (a status and its headers)
/// or calls that must not be repeated on every retryable error.
pub async fn retry_with<T, E, F, Fut, C>(
    policy: &RetryPolicy,
    operation: impl Into<Option<Operation>>,
    mut call: F,
    mut classify: C,
) -> Result<T>
where
    E: Into<Error>,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    C: FnMut(&E) -> Retry,
{
    let operation = operation.into();
    let mut backoff = Backoff::new(policy);
    loop {
        let failure = match call(backoff.attempts() - 1).await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let decision = classify(&failure);
        match backoff.next_wait(decision) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => {
                let error: Error = failure.into();
                let error = if decision == Retry::Stop {
                    error
                } else {
                    backoff.give_up(error)
                };
                return Err(match operation {
                    Some(op) => error.or_operation(op),
                    None => error,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ErrorKind;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            total_budget: Duration::from_secs(60),
            jitter: false,
        }
    }

    fn busy() -> Error {
        Error::new(ErrorKind::Unavailable, "busy")
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(10), Duration::from_secs(1));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let p = RetryPolicy {
            jitter: true,
            ..policy()
        };
        for _ in 0..100 {
            let mut b = Backoff::new(&p);
            let wait = b.next_wait(Retry::Backoff).expect("a retry is left");
            assert!(wait >= Duration::from_millis(50), "{wait:?}");
            assert!(wait <= Duration::from_millis(100), "{wait:?}");
        }
    }

    #[test]
    fn a_hint_is_capped_and_not_jittered() {
        let p = RetryPolicy {
            jitter: true,
            ..policy()
        };
        let mut b = Backoff::new(&p);
        assert_eq!(
            b.next_wait(Retry::After(Duration::from_millis(250))),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            b.next_wait(Retry::After(Duration::from_secs(3600))),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn the_decision_of_an_error_reads_retryable_and_the_hint() {
        assert_eq!(Retry::of(&Error::file_not_found("/a")), Retry::Stop);
        assert_eq!(Retry::of(&busy()), Retry::Backoff);
        let hinted = busy().with_context(RETRY_AFTER_KEY, "250");
        assert_eq!(Retry::of(&hinted), Retry::After(Duration::from_millis(250)));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts_with_a_final_error() {
        let calls = AtomicU32::new(0);
        let e = retry(&policy(), Operation::Read, |attempt| {
            assert_eq!(attempt, calls.fetch_add(1, Ordering::SeqCst));
            async { Err::<(), _>(busy()) }
        })
        .await
        .expect_err("always busy");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(!e.is_retryable(), "{e}");
        assert_eq!(e.context_value(ATTEMPTS_KEY), Some("4"));
        assert_eq!(e.operation(), Some(Operation::Read));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_follow_the_backoff_schedule() {
        let began = Instant::now();
        let _ = retry(&policy(), None, |_| async { Err::<(), _>(busy()) }).await;
        // 100 + 200 + 400 ms between the four attempts.
        assert_eq!(began.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_is_returned_at_once_and_as_it_is() {
        let calls = AtomicU32::new(0);
        let e = retry(&policy(), None, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(Error::file_not_found("/a")) }
        })
        .await
        .expect_err("missing");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(e.context_value(ATTEMPTS_KEY), None);
        assert_eq!(e.operation(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_budget_ends_retrying_early() {
        let p = RetryPolicy {
            max_attempts: 100,
            total_budget: Duration::from_millis(350),
            ..policy()
        };
        let calls = AtomicU32::new(0);
        let e = retry(&p, None, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>(busy()) }
        })
        .await
        .expect_err("budget spent");
        // Waits of 100 and 200 ms fit in 350 ms; the next 400 ms does not.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(e.context_value(ATTEMPTS_KEY), Some("3"));
        assert!(!e.is_retryable());
    }

    #[tokio::test(start_paused = true)]
    async fn success_after_failures_is_returned() {
        let began = Instant::now();
        let hinted = || busy().with_context(RETRY_AFTER_KEY, "30");
        let value = retry(&policy(), None, |attempt| async move {
            if attempt == 0 {
                Err(hinted())
            } else {
                Ok(attempt)
            }
        })
        .await
        .expect("second attempt succeeds");
        assert_eq!(value, 1);
        assert_eq!(began.elapsed(), Duration::from_millis(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_classifier_can_refuse_a_retryable_error() {
        let calls = AtomicU32::new(0);
        let e = retry_with(
            &policy(),
            Operation::Execute,
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(busy()) }
            },
            |_| Retry::Stop,
        )
        .await
        .expect_err("not repeated");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(
            e.is_retryable(),
            "never retried, so still worth retrying later"
        );
    }

    #[test]
    fn one_attempt_policy_never_waits() {
        let mut b = Backoff::new(&RetryPolicy::never());
        assert_eq!(b.next_wait(Retry::Backoff), None);
        let e = b.give_up(busy());
        assert!(!e.is_retryable());
        assert_eq!(e.context_value(ATTEMPTS_KEY), Some("1"));
    }
}
