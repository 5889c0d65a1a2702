//! Running cases: one at a time in their own task, so that a failed
//! assertion becomes a recorded failure with its message.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use backend_core::Capabilities;

use crate::capability::Capability;
use crate::fixture::{Fixture, Subject};
use crate::report::{CaseReport, Outcome, Report};

/// The future a case runs as.
pub type CaseFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How long one case may take before it is recorded as failed. Generous:
/// remote backends move 32 MiB in one case.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(300);

/// One entry of the suite's table.
#[derive(Clone, Copy)]
pub struct Case {
    /// The case's name, which is also the name of its test function.
    pub name: &'static str,
    /// The area (module) it belongs to.
    pub area: &'static str,
    /// The capabilities it needs.
    pub requires: &'static [Capability],
    /// Runs the case on a fixture.
    pub run: fn(Fixture) -> CaseFuture,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case")
            .field("name", &self.name)
            .field("area", &self.area)
            .field("requires", &self.requires)
            .finish()
    }
}

impl Case {
    /// The capabilities this case needs that `caps` lacks.
    pub fn missing(&self, caps: &Capabilities) -> Vec<Capability> {
        missing(self.requires, caps)
    }
}

fn missing(requires: &[Capability], caps: &Capabilities) -> Vec<Capability> {
    requires
        .iter()
        .copied()
        .filter(|needed| !needed.is_set(caps))
        .collect()
}

/// Why the capabilities listed in `conformance_tests!` differ from those the
/// subject declares, if they do: the list decides which tests are ignored,
/// so it must not drift from the backend.
fn declared_mismatch(declared: &[Capability], caps: &Capabilities) -> Option<String> {
    let actual = Capability::declared_by(caps);
    let mut listed = declared.to_vec();
    listed.sort();
    listed.dedup();
    if listed == actual {
        return None;
    }
    let names = |list: &[Capability]| list.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ");
    Some(format!(
        "conformance_tests! lists capabilities [{}] but the subject declares [{}]; \
         make `capabilities: [...]` match the backend's capabilities()",
        names(&listed),
        names(&actual)
    ))
}

/// Every case of the suite, in table order.
pub fn cases() -> Vec<Case> {
    crate::__for_each_case!(list)
}

/// Runs the whole suite against the subjects `factory` makes (one fresh
/// subject per case) and reports every case's outcome.
///
/// A case whose required capabilities the subject lacks is recorded as
/// skipped; a case that panics, times out or leaves a cleanup error is
/// recorded as failed with the message.
pub async fn run_suite<F, Fut>(name: &str, factory: F) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = Subject>,
{
    run_cases(name, factory, &cases()).await
}

/// Like [`run_suite`] for a chosen list of cases.
pub async fn run_cases<F, Fut>(name: &str, factory: F, cases: &[Case]) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = Subject>,
{
    let started = Instant::now();
    let mut capabilities = None;
    let mut reports = Vec::with_capacity(cases.len());
    for case in cases {
        let subject = factory().await;
        capabilities.get_or_insert(subject.capabilities());
        let (outcome, message, duration) = run_one(subject, case.requires, case.run).await;
        reports.push(CaseReport {
            name: case.name.to_owned(),
            area: case.area.to_owned(),
            outcome,
            message,
            duration_ms: duration.as_secs_f64() * 1000.0,
        });
    }
    Report {
        backend: name.to_owned(),
        capabilities: capabilities.unwrap_or_default(),
        cases: reports,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
    }
}

/// Runs one case on `subject`: skip check, own task, timeout, cleanup.
async fn run_one(
    subject: Subject,
    requires: &[Capability],
    run: fn(Fixture) -> CaseFuture,
) -> (Outcome, Option<String>, Duration) {
    let started = Instant::now();
    let lacking = missing(requires, &subject.capabilities());
    if !lacking.is_empty() {
        // Not run, but still handed back: a sandbox must be closed.
        let problems = Fixture::new(subject).close_only().await;
        let names: Vec<&str> = lacking.iter().map(|c| c.name()).collect();
        let message = format!("needs capability {}", names.join(", "));
        return if problems.is_empty() {
            (Outcome::Skipped, Some(message), started.elapsed())
        } else {
            (
                Outcome::Failed,
                Some(problems.join("; ")),
                started.elapsed(),
            )
        };
    }
    let fixture = Fixture::new(subject);
    let mut task = tokio::spawn(run(fixture.clone()));
    let failure = match tokio::time::timeout(CASE_TIMEOUT, &mut task).await {
        Ok(Ok(())) => None,
        Ok(Err(join)) if join.is_panic() => Some(panic_message(join.into_panic())),
        Ok(Err(join)) => Some(format!("the case's task ended abnormally: {join}")),
        Err(_) => {
            task.abort();
            Some(format!(
                "the case did not finish within {} s (a hang or deadlock?)",
                CASE_TIMEOUT.as_secs()
            ))
        }
    };
    let problems = fixture.cleanup().await;
    let message = match (failure, problems.is_empty()) {
        (Some(f), true) => Some(f),
        (Some(f), false) => Some(format!("{f}; cleanup: {}", problems.join("; "))),
        (None, false) => Some(format!("cleanup failed: {}", problems.join("; "))),
        (None, true) => None,
    };
    let outcome = if message.is_some() {
        Outcome::Failed
    } else {
        Outcome::Passed
    };
    (outcome, message, started.elapsed())
}

fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "the case panicked with a non-text payload".to_owned()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start a tokio runtime for the conformance case: {e}"),
    }
}

/// The body of one generated `#[test]`: checks the declared capabilities,
/// runs one case on a fresh subject in a multi-threaded runtime and fails the
/// test with the case's message. Used by
/// [`conformance_tests!`](crate::conformance_tests).
#[doc(hidden)]
pub fn case_test<F, Fut>(
    factory: F,
    declared: &'static [Capability],
    requires: &'static [Capability],
    run: fn(Fixture) -> CaseFuture,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = Subject>,
{
    let rt = runtime();
    let (outcome, message, _) = rt.block_on(async {
        let subject = factory().await;
        if let Some(mut message) = declared_mismatch(declared, &subject.capabilities()) {
            // Not run, but handed back: a sandbox must be closed.
            let problems = Fixture::new(subject).close_only().await;
            if !problems.is_empty() {
                message.push_str(&format!("; {}", problems.join("; ")));
            }
            return (Outcome::Failed, Some(message), Duration::ZERO);
        }
        run_one(subject, requires, run).await
    });
    match outcome {
        Outcome::Passed => {}
        Outcome::Skipped => eprintln!("skipped: {}", message.unwrap_or_default()),
        Outcome::Failed => panic!("{}", message.unwrap_or_default()),
    }
}

/// The body of the generated, ignored `conformance_report` test: runs the
/// suite, prints a summary, writes `$CONFORMANCE_REPORT_DIR/<name>.json`
/// when that variable is set, and fails if any case failed or the declared
/// capabilities differ from the subject's.
#[doc(hidden)]
pub fn report_test<F, Fut>(name: &str, factory: F, declared: &'static [Capability])
where
    F: Fn() -> Fut,
    Fut: Future<Output = Subject>,
{
    let rt = runtime();
    let report = rt.block_on(run_suite(name, factory));
    if let Some(message) = declared_mismatch(declared, &report.capabilities) {
        panic!("{message}");
    }
    eprintln!("{}", report.summary());
    if let Some(dir) = std::env::var_os("CONFORMANCE_REPORT_DIR") {
        match report.write_to_dir(std::path::Path::new(&dir)) {
            Ok(path) => eprintln!("report written to {}", path.display()),
            Err(e) => panic!("cannot write the conformance report: {e}"),
        }
    }
    let failures: Vec<String> = report
        .failures()
        .map(|c| {
            format!(
                "{}::{}: {}",
                c.area,
                c.name,
                c.message.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed for {name}:\n{}",
        failures.len(),
        report.cases.len(),
        failures.join("\n")
    );
}
