//! Small assertion helpers whose messages name the rule of docs/semantics.md at stake.

use std::fmt::Debug;

use backend_core::{ErrorKind, Result};

/// The value of a call that docs/semantics.md says succeeds; fails the case with the
/// rule and the error otherwise.
#[track_caller]
pub fn ok<T>(result: Result<T>, rule: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{rule}: expected success, got error {e}"),
    }
}

/// Fails the case unless `result` is an error of `kind`.
#[track_caller]
pub fn err_kind<T: Debug>(result: Result<T>, kind: ErrorKind, rule: &str) -> backend_core::Error {
    match result {
        Ok(value) => panic!("{rule}: expected error `{kind}`, got success {value:?}"),
        Err(e) => {
            assert_eq!(
                e.kind(),
                kind,
                "{rule}: expected error `{kind}`, got `{}`: {e}",
                e.kind()
            );
            e
        }
    }
}

/// Fails the case unless `result` is an error (of any kind).
#[track_caller]
pub fn is_err<T: Debug>(result: Result<T>, rule: &str) -> backend_core::Error {
    match result {
        Ok(value) => panic!("{rule}: expected an error, got success {value:?}"),
        Err(e) => e,
    }
}

/// Fails the case unless `items` is sorted (strictly ascending).
#[track_caller]
pub fn sorted<T: Ord + Debug>(items: &[T], rule: &str) {
    assert!(
        items.windows(2).all(|w| w[0] < w[1]),
        "{rule}: results are not sorted: {items:?}"
    );
}
