//! Running commands through the engine's exec API.
//!
//! Docker cannot kill an exec, so every agent command runs under a tiny
//! wrapper: `sh -c 'echo $$ >&2; exec sh -c "$1"'`. An exec process leads its
//! own process group, so the pid the wrapper prints first on stderr (and
//! which this module strips) names the group of the command's whole process
//! tree; at the deadline a second exec sends `SIGKILL` to that group.

use std::time::{Duration, Instant};

use backend_core::exec::OutputBudget;
use backend_core::{Error, ErrorKind, ExecEvent, ExitStatus, Operation, Result};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::timeout_at;

use crate::error;

/// Prints its pid (the process group) on stderr, then becomes the command.
const WRAPPER: &str = "echo $$ >&2; exec sh -c \"$1\"";
/// How long the output is still drained after the kill, before giving up.
const DRAIN_AFTER_KILL: Duration = Duration::from_millis(400);
/// The exit code the engine reports for a process killed by `SIGKILL`.
const KILLED_CODE: i64 = 128 + 9;

/// One command to run, already validated and mapped into the container.
#[derive(Debug, Clone)]
pub(crate) struct ExecJob {
    pub container: String,
    pub user: String,
    pub command: String,
    pub env: Vec<String>,
    pub workdir: String,
    pub stdin: Option<Vec<u8>>,
    pub timeout: Duration,
    pub output_limit: usize,
}

/// How a command's run ended, before the caller adds its own judgement
/// (such as "out of memory").
#[derive(Debug)]
pub(crate) struct RunEnd {
    pub status: ExitStatus,
    pub raw_exit_code: Option<i64>,
}

/// Runs `job`, sending stdout/stderr events into `tx` (capped per stream),
/// and returns how it ended. A receiver that goes away kills the command.
pub(crate) async fn run_streaming(
    docker: &Docker,
    job: ExecJob,
    tx: mpsc::Sender<Result<ExecEvent>>,
) -> Result<RunEnd> {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + job.timeout;
    let created = docker
        .create_exec(
            &job.container,
            CreateExecOptions {
                attach_stdin: Some(job.stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                env: Some(job.env.clone()),
                cmd: Some(vec![
                    "sh".to_owned(),
                    "-c".to_owned(),
                    WRAPPER.to_owned(),
                    "sh".to_owned(),
                    job.command.clone(),
                ]),
                user: Some(job.user.clone()),
                working_dir: Some(job.workdir.clone()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| error::engine(Operation::Execute, "creating the exec", e))?;
    let started_exec = docker
        .start_exec(
            &created.id,
            Some(StartExecOptions {
                output_capacity: Some(64 * 1024),
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| error::engine(Operation::Execute, "starting the exec", e))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started_exec
    else {
        return Err(Error::internal("the engine started the exec detached"));
    };
    let feeder = job.stdin.clone().map(|bytes| {
        tokio::spawn(async move {
            // A command that exits without reading its input is not an error.
            let _ = input.write_all(&bytes).await;
            let _ = input.shutdown().await;
        })
    });

    let mut pid: Option<u32> = None;
    let mut pid_line = Vec::new();
    let mut out_budget = OutputBudget::new(job.output_limit);
    let mut err_budget = OutputBudget::new(job.output_limit);
    let mut timed_out = false;
    let mut receiver_gone = false;
    loop {
        let next = match timeout_at(deadline, output.next()).await {
            Ok(next) => next,
            Err(_) => {
                timed_out = true;
                break;
            }
        };
        let Some(item) = next else { break };
        let chunk = match item {
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::debug!(error = %e, "exec output stream failed");
                break;
            }
        };
        let event = match chunk {
            LogOutput::StdOut { message } => {
                let kept = out_budget.take(&message);
                (!kept.is_empty()).then(|| ExecEvent::Stdout(kept.to_vec()))
            }
            LogOutput::StdErr { message } => {
                let mut bytes: &[u8] = &message;
                if pid.is_none() {
                    match memchr_newline(bytes) {
                        Some(end) => {
                            pid_line.extend_from_slice(&bytes[..end]);
                            pid = std::str::from_utf8(&pid_line)
                                .ok()
                                .and_then(|s| s.trim().parse().ok())
                                .or(Some(0));
                            bytes = &bytes[end + 1..];
                        }
                        None => {
                            pid_line.extend_from_slice(bytes);
                            bytes = &[];
                        }
                    }
                }
                let kept = err_budget.take(bytes);
                (!kept.is_empty()).then(|| ExecEvent::Stderr(kept.to_vec()))
            }
            _ => None,
        };
        if let Some(event) = event {
            match timeout_at(deadline, tx.send(Ok(event))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    receiver_gone = true;
                    break;
                }
                Err(_) => {
                    timed_out = true;
                    break;
                }
            }
        }
    }

    if timed_out || receiver_gone {
        kill_group(docker, &job, pid).await;
        // Let the stream end on its own now that the tree is dead, briefly.
        let drain_until = tokio::time::Instant::now() + DRAIN_AFTER_KILL;
        while let Ok(Some(_)) = timeout_at(drain_until, output.next()).await {}
    }
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    let duration = started.elapsed();
    let raw_exit_code = if timed_out {
        None
    } else {
        inspect_exit_code(docker, &created.id).await
    };
    let status = if timed_out {
        ExitStatus::signaled(9, duration).with_timed_out(true)
    } else {
        match raw_exit_code {
            Some(code) => ExitStatus::exited(code as i32, duration),
            None => ExitStatus::signaled(9, duration),
        }
    }
    .with_truncation(out_budget.truncated(), err_budget.truncated());
    Ok(RunEnd {
        status,
        raw_exit_code,
    })
}

/// Whether `code` is what the engine reports for a `SIGKILL`ed process.
pub(crate) fn was_killed(code: Option<i64>) -> bool {
    code == Some(KILLED_CODE)
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// The exit code once the engine has recorded it (it can lag the end of
/// the output stream by a moment).
async fn inspect_exit_code(docker: &Docker, exec_id: &str) -> Option<i64> {
    for _ in 0..50 {
        match docker.inspect_exec(exec_id).await {
            Ok(info) if info.running == Some(false) => return info.exit_code,
            Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(_) => return None,
        }
    }
    None
}

/// Kills the command's process group; without a known group, every process
/// of the command's user (the last resort, which also ends its other commands).
async fn kill_group(docker: &Docker, job: &ExecJob, pid: Option<u32>) {
    let argv: Vec<String> = match pid {
        Some(pid) if pid > 1 => ["kill", "-KILL", "--", &format!("-{pid}")]
            .map(str::to_owned)
            .to_vec(),
        _ => ["kill", "-KILL", "-1"].map(str::to_owned).to_vec(),
    };
    let outcome = tokio::time::timeout(
        Duration::from_secs(2),
        run_argv(
            docker,
            &job.container,
            &job.user,
            argv,
            Duration::from_secs(2),
        ),
    )
    .await;
    if !matches!(outcome, Ok(Ok(_))) {
        tracing::warn!(container = %job.container, "killing a timed-out command failed");
    }
}

/// The result of a helper program run with an argument vector.
#[derive(Debug)]
pub(crate) struct ArgvOutput {
    pub code: Option<i64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `argv` (no shell involved unless `argv` names one, and then paths
/// travel as separate arguments) and collects its whole output. Used for
/// file operations and housekeeping, never for agent commands.
pub(crate) async fn run_argv(
    docker: &Docker,
    container: &str,
    user: &str,
    argv: Vec<String>,
    limit: Duration,
) -> Result<ArgvOutput> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(argv),
                user: Some(user.to_owned()),
                working_dir: Some("/".to_owned()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| error::engine(Operation::Other, "creating a helper exec", e))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| error::engine(Operation::Other, "starting a helper exec", e))?;
    let StartExecResults::Attached { mut output, .. } = started else {
        return Err(Error::internal("the engine started a helper exec detached"));
    };
    let deadline = tokio::time::Instant::now() + limit;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    loop {
        match timeout_at(deadline, output.next()).await {
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("a helper command in the container took longer than {limit:?}"),
                )
                .with_retryable(true));
            }
            Ok(None) => break,
            Ok(Some(Ok(LogOutput::StdOut { message }))) => stdout.extend_from_slice(&message),
            Ok(Some(Ok(LogOutput::StdErr { message }))) => stderr.extend_from_slice(&message),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                return Err(error::engine(Operation::Other, "reading a helper exec", e));
            }
        }
    }
    Ok(ArgvOutput {
        code: inspect_exit_code(docker, &created.id).await,
        stdout,
        stderr,
    })
}
