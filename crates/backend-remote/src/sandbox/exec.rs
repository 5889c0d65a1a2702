//! Commands in a remote sandbox: the safe command line, the deadline (the
//! caller's, enforced here by killing the command), the per-stream output
//! caps, and for providers that do not stream, output captured to files.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backend_core::exec::OutputBudgets;
use backend_core::{
    Error, ErrorKind, ExecEvent, ExecRequest, ExecStream, ExitStatus, Operation, Result, Sandbox,
    VirtualPath,
};
use futures::StreamExt;

use super::files::SandboxCore;
use super::remote::{Killer, RawEvent, Remote, Running};
use super::shell;

#[backend_core::async_trait]
impl Sandbox for SandboxCore {
    fn id(&self) -> &str {
        self.remote.sandbox_id()
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        let op = Operation::Execute;
        request.validate().map_err(|e| e.with_operation(op))?;
        let cwd = match &request.workdir {
            None => self.root.clone(),
            Some(dir) => {
                let dir = VirtualPath::parse_for(dir, op)?;
                self.directory(&dir)
                    .await
                    .map_err(|e| self.tag(e, op, &dir))?;
                self.abs(&dir)
            }
        };
        let line = shell::command_line(
            &request.command,
            &cwd,
            &request.env,
            request.stdin.as_deref(),
        )
        .map_err(|e| e.with_operation(op))?;
        // Providers that report output only at the end, as text, would lose
        // non-UTF-8 bytes and everything printed before a timeout kill: send
        // the output to files beside the work directory and fetch them.
        let capture = (!self.remote.streams_output()).then(|| {
            let dir = match self.root.rsplit_once('/') {
                Some((parent, _)) if !parent.is_empty() => parent.to_owned(),
                _ => "/tmp".to_owned(),
            };
            let tag = uuid::Uuid::new_v4().simple().to_string();
            Capture {
                remote: self.remote.clone(),
                out: format!("{dir}/.backend-remote-{tag}.out"),
                err: format!("{dir}/.backend-remote-{tag}.err"),
            }
        });
        let line = match &capture {
            Some(c) => format!(
                "{{ {line} ; }} > {} 2> {}",
                shell::quote(&c.out),
                shell::quote(&c.err)
            ),
            None => line,
        };
        let started = Instant::now();
        let running = self
            .remote
            .start(line, request.timeout)
            .await
            .map_err(|e| {
                e.or_operation(op)
                    .with_context("sandbox", self.id().to_owned())
            })?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(pump(
            running,
            capture,
            request.timeout,
            request.output_limit,
            started,
            tx,
        ));
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        })))
    }

    async fn close(&self) -> Result<()> {
        self.close_remote().await
    }
}

/// Forwards a command's events with the output caps and the deadline
/// applied; kills the command at the deadline or when the reader goes away.
async fn pump(
    running: Running,
    capture: Option<Capture>,
    timeout: Duration,
    limit: usize,
    started: Instant,
    tx: tokio::sync::mpsc::Sender<Result<ExecEvent>>,
) {
    let Running { mut events, kill } = running;
    let mut kill = Some(kill);
    // Measured from before the start call, which may itself take time.
    let deadline = tokio::time::Instant::from_std(started + timeout);
    let mut budgets = OutputBudgets::new(limit);
    let kill_now = |kill: &mut Option<Killer>| {
        let k = kill.take();
        async move {
            if let Some(k) = k {
                // Bounded, so the caller gets its result within a second.
                let _ = tokio::time::timeout(Duration::from_millis(800), k()).await;
            }
        }
    };
    loop {
        let next = tokio::select! {
            next = events.next() => next,
            () = tokio::time::sleep_until(deadline) => {
                kill_now(&mut kill).await;
                if let Some(capture) = &capture
                    && !capture.send(&mut budgets, &tx).await
                {
                    return;
                }
                let status = ExitStatus::signaled(9, started.elapsed()).with_timed_out(true);
                let _ = tx.send(Ok(ExecEvent::Exit(budgets.finish(status)))).await;
                return;
            }
        };
        let event = match next {
            Some(Ok(RawEvent::Stdout(chunk))) => ExecEvent::Stdout(chunk),
            Some(Ok(RawEvent::Stderr(chunk))) => ExecEvent::Stderr(chunk),
            Some(Ok(RawEvent::Exit { code, signal })) => {
                let elapsed = started.elapsed();
                if let Some(capture) = &capture
                    && !capture.send(&mut budgets, &tx).await
                {
                    return;
                }
                let status = match (code, signal) {
                    (_, Some(sig)) => ExitStatus::signaled(sig, elapsed),
                    (Some(code), None) => ExitStatus::exited(code, elapsed),
                    (None, None) => ExitStatus::exited(-1, elapsed),
                };
                let _ = tx.send(Ok(ExecEvent::Exit(budgets.finish(status)))).await;
                return;
            }
            Some(Err(e)) => {
                kill_now(&mut kill).await;
                let _ = tx.send(Err(e.or_operation(Operation::Execute))).await;
                return;
            }
            None => {
                kill_now(&mut kill).await;
                let e = Error::new(
                    ErrorKind::Unavailable,
                    "the connection to the sandbox ended before the command's exit status arrived",
                )
                .with_operation(Operation::Execute)
                .with_retryable(true);
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        // Nothing is buffered: what is over the cap is dropped.
        let Some(event) = budgets.cap(event) else {
            continue;
        };
        if tx.send(Ok(event)).await.is_err() {
            kill_now(&mut kill).await;
            return;
        }
    }
}

/// Where a non-streaming provider's command writes its output.
struct Capture {
    remote: Arc<dyn Remote>,
    out: String,
    err: String,
}

impl Capture {
    /// Reads both files, sends what fits in `budgets` as events, and
    /// removes the files in the background; `false` when the reader is
    /// gone.
    async fn send(
        &self,
        budgets: &mut OutputBudgets,
        tx: &tokio::sync::mpsc::Sender<Result<ExecEvent>>,
    ) -> bool {
        let (out, err) = futures::join!(
            self.remote.read_file(&self.out),
            self.remote.read_file(&self.err)
        );
        let (remote, paths) = (self.remote.clone(), [self.out.clone(), self.err.clone()]);
        tokio::spawn(async move {
            for path in paths {
                if let Err(e) = remote.remove(&path).await {
                    tracing::debug!(error = %e, path, "could not remove a command's output file");
                }
            }
        });
        let events = [
            ExecEvent::Stdout(out.unwrap_or_default()),
            ExecEvent::Stderr(err.unwrap_or_default()),
        ];
        for event in events {
            if let Some(event) = budgets.cap(event)
                && tx.send(Ok(event)).await.is_err()
            {
                return false;
            }
        }
        true
    }
}
