//! The request, result and event types of command execution.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Default time a command may run.
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// Default cap on each output stream, in bytes.
pub const DEFAULT_OUTPUT_LIMIT: usize = 1024 * 1024;

/// A command to run with `sh -c` in a sandbox's work directory.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The shell command line.
    pub command: String,
    /// How long it may run before its whole process tree is killed.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// A virtual directory to run in instead of `/` (the work directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// Environment variables added to the sandbox's base environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Bytes fed to standard input; standard input is closed when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Vec<u8>>,
    /// The most bytes kept of each of stdout and stderr; the rest is dropped.
    #[serde(default = "default_output_limit")]
    pub output_limit: usize,
}

fn default_timeout() -> Duration {
    DEFAULT_EXEC_TIMEOUT
}

fn default_output_limit() -> usize {
    DEFAULT_OUTPUT_LIMIT
}

impl ExecRequest {
    /// Runs `command` with the default timeout and output cap.
    pub fn new(command: impl Into<String>) -> Self {
        ExecRequest {
            command: command.into(),
            timeout: DEFAULT_EXEC_TIMEOUT,
            workdir: None,
            env: BTreeMap::new(),
            stdin: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs in the virtual directory `dir`.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Feeds `bytes` to standard input.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Caps each output stream at `bytes`.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Checks the fields every sandbox relies on: a non-empty command, no NUL
    /// in it or in the environment, valid variable names, a non-zero timeout.
    pub fn validate(&self) -> Result<()> {
        use crate::error::Error;
        if self.command.trim().is_empty() {
            return Err(Error::invalid_argument("the command is empty"));
        }
        if self.command.contains('\0') {
            return Err(Error::invalid_argument("the command contains a NUL byte"));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid_argument(
                "the timeout must be greater than zero",
            ));
        }
        for (key, value) in &self.env {
            let valid_name = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return Err(Error::invalid_argument(format!(
                    "environment variable name {key:?} is not valid (letters, digits and _, not starting with a digit)"
                )));
            }
            if value.contains('\0') {
                return Err(Error::invalid_argument(format!(
                    "environment variable {key} contains a NUL byte"
                )));
            }
        }
        Ok(())
    }
}

/// How a command ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code, when the command exited on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Whether it was killed for running past its timeout.
    pub timed_out: bool,
    /// Whether stdout went past the output cap (the rest was dropped).
    pub stdout_truncated: bool,
    /// Whether stderr went past the output cap (the rest was dropped).
    pub stderr_truncated: bool,
    /// How long it ran.
    pub duration: Duration,
}

impl ExitStatus {
    /// A status for a command that exited with `code`.
    pub fn exited(code: i32, duration: Duration) -> Self {
        ExitStatus {
            exit_code: Some(code),
            duration,
            ..ExitStatus::default()
        }
    }

    /// A status for a command ended by `signal`.
    pub fn signaled(signal: i32, duration: Duration) -> Self {
        ExitStatus {
            signal: Some(signal),
            duration,
            ..ExitStatus::default()
        }
    }

    /// Marks the command as killed at its timeout.
    pub fn with_timed_out(mut self, timed_out: bool) -> Self {
        self.timed_out = timed_out;
        self
    }

    /// Sets the truncation flags.
    pub fn with_truncation(mut self, stdout: bool, stderr: bool) -> Self {
        self.stdout_truncated = stdout;
        self.stderr_truncated = stderr;
        self
    }

    /// Whether the command exited with code 0 within its time.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

/// The collected result of a command.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOutput {
    /// Standard output, up to the cap.
    pub stdout: Vec<u8>,
    /// Standard error, up to the cap.
    pub stderr: Vec<u8>,
    /// How the command ended.
    pub status: ExitStatus,
}

impl ExecOutput {
    /// Builds an output.
    pub fn new(stdout: Vec<u8>, stderr: Vec<u8>, status: ExitStatus) -> Self {
        ExecOutput {
            stdout,
            stderr,
            status,
        }
    }

    /// The exit code, when the command exited on its own.
    pub fn exit_code(&self) -> Option<i32> {
        self.status.exit_code
    }

    /// Whether the command was killed at its timeout.
    pub fn timed_out(&self) -> bool {
        self.status.timed_out
    }

    /// Whether either stream was cut at the cap.
    pub fn truncated(&self) -> bool {
        self.status.stdout_truncated || self.status.stderr_truncated
    }

    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Replays this output as the events a stream would have produced, for
    /// sandboxes that cannot stream.
    pub fn into_events(self) -> Vec<ExecEvent> {
        let mut events = Vec::with_capacity(3);
        if !self.stdout.is_empty() {
            events.push(ExecEvent::Stdout(self.stdout));
        }
        if !self.stderr.is_empty() {
            events.push(ExecEvent::Stderr(self.stderr));
        }
        events.push(ExecEvent::Exit(self.status));
        events
    }
}

/// One event of a streaming execution; [`ExecEvent::Exit`] is always last.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "data")]
pub enum ExecEvent {
    /// A chunk of standard output.
    Stdout(Vec<u8>),
    /// A chunk of standard error.
    Stderr(Vec<u8>),
    /// The command ended.
    Exit(ExitStatus),
}

/// The events of a streaming execution.
pub type ExecStream = Pin<Box<dyn Stream<Item = Result<ExecEvent>> + Send + 'static>>;

/// A per-stream byte cap: the first `limit` bytes of a stream pass, the
/// rest is counted and dropped, never buffered.
///
/// Every exec implementation keeps one budget for stdout and one for stderr
/// (sized by [`ExecRequest::output_limit`]) and reports
/// [`truncated`](Self::truncated) in [`ExitStatus`].
///
/// # Example
/// ```
/// use backend_core::exec::OutputBudget;
/// let mut budget = OutputBudget::new(5);
/// assert_eq!(budget.take(b"abc"), b"abc");
/// assert_eq!(budget.take(b"defg"), b"de");
/// assert_eq!(budget.take(b"h"), b"");
/// assert!(budget.truncated());
/// assert_eq!(budget.dropped(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBudget {
    limit: usize,
    kept: usize,
    dropped: u64,
}

impl OutputBudget {
    /// A budget letting `limit` bytes through.
    pub fn new(limit: usize) -> Self {
        OutputBudget {
            limit,
            kept: 0,
            dropped: 0,
        }
    }

    /// The part of `chunk` that still fits; the rest is counted as dropped.
    pub fn take<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let room = self.remaining();
        let (kept, cut) = chunk.split_at(chunk.len().min(room));
        self.kept += kept.len();
        self.dropped = self.dropped.saturating_add(cut.len() as u64);
        kept
    }

    /// Whether any byte was dropped.
    pub fn truncated(&self) -> bool {
        self.dropped > 0
    }

    /// How many bytes were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many bytes were let through.
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// How many more bytes may pass.
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.kept)
    }

    /// The cap this budget was made with.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// The two [`OutputBudget`]s of one command, stdout's and stderr's, applied
/// to its events: chunks are cut to what fits and the exit status gets the
/// truncation flags.
///
/// An exec implementation passes every event it produces through
/// [`cap`](Self::cap) (or wraps its stream with [`cap_stream`]), so that all
/// sandboxes cap output alike.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use backend_core::exec::{ExecEvent, ExitStatus, OutputBudgets};
/// let mut budgets = OutputBudgets::new(3);
/// let first = budgets.cap(ExecEvent::Stdout(b"hello".to_vec()));
/// assert_eq!(first, Some(ExecEvent::Stdout(b"hel".to_vec())));
/// assert_eq!(budgets.cap(ExecEvent::Stdout(b"!".to_vec())), None);
/// let status = budgets.finish(ExitStatus::exited(0, Duration::ZERO));
/// assert!(status.stdout_truncated && !status.stderr_truncated);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBudgets {
    /// Standard output's budget.
    pub stdout: OutputBudget,
    /// Standard error's budget.
    pub stderr: OutputBudget,
}

impl OutputBudgets {
    /// `limit` bytes for each stream.
    pub fn new(limit: usize) -> Self {
        OutputBudgets {
            stdout: OutputBudget::new(limit),
            stderr: OutputBudget::new(limit),
        }
    }

    /// The budgets `request` asks for ([`ExecRequest::output_limit`]).
    pub fn for_request(request: &ExecRequest) -> Self {
        OutputBudgets::new(request.output_limit)
    }

    /// `event` with its chunk cut to what fits, or `None` when none of it
    /// does (nothing to send); an [`ExecEvent::Exit`] comes back with
    /// [`finish`](Self::finish) applied.
    pub fn cap(&mut self, event: ExecEvent) -> Option<ExecEvent> {
        fn cut(budget: &mut OutputBudget, mut chunk: Vec<u8>) -> Option<Vec<u8>> {
            let fits = budget.take(&chunk).len();
            chunk.truncate(fits);
            (!chunk.is_empty()).then_some(chunk)
        }
        match event {
            ExecEvent::Stdout(chunk) => cut(&mut self.stdout, chunk).map(ExecEvent::Stdout),
            ExecEvent::Stderr(chunk) => cut(&mut self.stderr, chunk).map(ExecEvent::Stderr),
            ExecEvent::Exit(status) => Some(ExecEvent::Exit(self.finish(status))),
        }
    }

    /// `status` with the truncation flags of these budgets added (flags
    /// already set stay set).
    pub fn finish(&self, status: ExitStatus) -> ExitStatus {
        let (out, err) = (status.stdout_truncated, status.stderr_truncated);
        status.with_truncation(
            out || self.stdout.truncated(),
            err || self.stderr.truncated(),
        )
    }
}

/// `stream` with each output stream capped at `limit` bytes (see
/// [`OutputBudgets`]); for sandboxes whose source does not cap output itself.
pub fn cap_stream(stream: ExecStream, limit: usize) -> ExecStream {
    use futures::StreamExt;
    let capped = stream
        .scan(OutputBudgets::new(limit), |budgets, item| {
            let item = match item {
                Ok(event) => budgets.cap(event).map(Ok),
                Err(e) => Some(Err(e)),
            };
            futures::future::ready(Some(item))
        })
        .filter_map(futures::future::ready);
    Box::pin(capped)
}

/// Collects a stream into an [`ExecOutput`], keeping at most `limit` bytes of
/// each stream (the sandbox has normally capped them already).
pub async fn collect_output(mut stream: ExecStream, limit: usize) -> Result<ExecOutput> {
    use futures::StreamExt;
    let mut out = ExecOutput::default();
    let mut budgets = OutputBudgets::new(limit);
    while let Some(event) = stream.next().await {
        match budgets.cap(event?) {
            Some(ExecEvent::Stdout(chunk)) => out.stdout.extend_from_slice(&chunk),
            Some(ExecEvent::Stderr(chunk)) => out.stderr.extend_from_slice(&chunk),
            Some(ExecEvent::Exit(status)) => {
                out.status = status;
                return Ok(out);
            }
            None => {}
        }
    }
    Err(crate::Error::new(
        crate::ErrorKind::Unavailable,
        "the command's output stream ended without an exit status",
    )
    .with_operation(crate::Operation::Execute))
}

/// Appends as much of `chunk` as keeps `buf` within `limit` bytes; returns
/// whether any was dropped. For a stream, keep an [`OutputBudget`] instead:
/// it also counts what was dropped.
pub fn append_capped(buf: &mut Vec<u8>, chunk: &[u8], limit: usize) -> bool {
    let mut budget = OutputBudget::new(limit.saturating_sub(buf.len()));
    buf.extend_from_slice(budget.take(chunk));
    budget.truncated()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_lets_the_limit_through_and_counts_the_rest() {
        let mut budget = OutputBudget::new(4);
        assert!(!budget.truncated());
        assert_eq!(budget.take(b""), b"");
        assert_eq!(budget.take(b"ab"), b"ab");
        assert_eq!(budget.take(b"cd"), b"cd");
        assert!(!budget.truncated(), "exactly the limit is not a cut");
        assert_eq!(budget.take(b"efg"), b"");
        assert!(budget.truncated());
        assert_eq!(
            (budget.kept(), budget.dropped(), budget.remaining()),
            (4, 3, 0)
        );
    }

    #[test]
    fn zero_budget_drops_everything() {
        let mut budget = OutputBudget::new(0);
        assert_eq!(budget.take(b"x"), b"");
        assert_eq!(budget.dropped(), 1);
    }

    #[test]
    fn append_capped_counts_what_the_buffer_holds() {
        let mut buf = b"abc".to_vec();
        assert!(!append_capped(&mut buf, b"d", 4));
        assert!(append_capped(&mut buf, b"ef", 4));
        assert_eq!(buf, b"abcd");
        // A buffer already past the limit takes nothing.
        let mut full = b"abcdef".to_vec();
        assert!(append_capped(&mut full, b"g", 4));
        assert_eq!(full, b"abcdef");
    }

    #[tokio::test]
    async fn collect_output_caps_each_stream_and_sets_the_flags() {
        let events = vec![
            Ok(ExecEvent::Stdout(b"hello ".to_vec())),
            Ok(ExecEvent::Stderr(b"e".to_vec())),
            Ok(ExecEvent::Stdout(b"world".to_vec())),
            Ok(ExecEvent::Exit(ExitStatus::exited(0, Duration::ZERO))),
        ];
        let stream: ExecStream = Box::pin(futures::stream::iter(events));
        let out = collect_output(stream, 8)
            .await
            .expect("the stream ends with an exit");
        assert_eq!(out.stdout, b"hello wo");
        assert_eq!(out.stderr, b"e");
        assert!(out.status.stdout_truncated && !out.status.stderr_truncated);
    }

    #[tokio::test]
    async fn cap_stream_cuts_chunks_and_keeps_errors() {
        use futures::StreamExt;
        let events = vec![
            Ok(ExecEvent::Stderr(b"abc".to_vec())),
            Ok(ExecEvent::Stderr(b"def".to_vec())),
            Err(crate::Error::internal("lost")),
            Ok(ExecEvent::Exit(
                ExitStatus::exited(1, Duration::ZERO).with_truncation(true, false),
            )),
        ];
        let capped: Vec<_> = cap_stream(Box::pin(futures::stream::iter(events)), 4)
            .collect()
            .await;
        assert_eq!(capped.len(), 4);
        assert_eq!(
            capped[0].as_ref().ok(),
            Some(&ExecEvent::Stderr(b"abc".to_vec()))
        );
        assert_eq!(
            capped[1].as_ref().ok(),
            Some(&ExecEvent::Stderr(b"d".to_vec()))
        );
        assert!(capped[2].is_err());
        let Some(Ok(ExecEvent::Exit(status))) = capped.last() else {
            panic!("the exit event comes last: {capped:?}");
        };
        assert!(status.stdout_truncated, "a flag the source set stays set");
        assert!(status.stderr_truncated);
    }

    #[test]
    fn budgets_drop_empty_events_but_never_the_exit() {
        let mut budgets = OutputBudgets::new(0);
        assert_eq!(budgets.cap(ExecEvent::Stdout(Vec::new())), None);
        assert!(!budgets.stdout.truncated());
        assert_eq!(budgets.cap(ExecEvent::Stdout(b"x".to_vec())), None);
        let status = ExitStatus::exited(0, Duration::ZERO);
        let Some(ExecEvent::Exit(status)) = budgets.cap(ExecEvent::Exit(status)) else {
            panic!("the exit event passes");
        };
        assert!(status.stdout_truncated && !status.stderr_truncated);
        let request = ExecRequest::new("true").output_limit(7);
        assert_eq!(OutputBudgets::for_request(&request).stderr.limit(), 7);
    }

    #[tokio::test]
    async fn collect_output_without_exit_is_unavailable() {
        let stream: ExecStream = Box::pin(futures::stream::iter(vec![Ok(ExecEvent::Stdout(
            b"x".to_vec(),
        ))]));
        let err = collect_output(stream, 8).await.expect_err("no exit status");
        assert_eq!(err.kind(), crate::ErrorKind::Unavailable);
    }
}
