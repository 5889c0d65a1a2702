//! A running Modal sandbox: commands through its task command router
//! (`TaskExecStart`, `TaskExecStdioRead`, `TaskExecWait`, and
//! `TaskExecStdinWrite` for file uploads), files through commands whose
//! arguments travel as separate argv entries (never parsed by a shell).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{Error, ErrorKind, Result};
use futures::StreamExt;
use tokio::sync::mpsc;

use backend_core::retry::{Backoff, Retry, RetryPolicy};

use super::grpc::{GrpcConn, Repeat, Side, secret_value, transient};
use super::pid_line::PidLine;
use super::proto::*;
use crate::options::Timeouts;
use crate::sandbox::remote::{self, RawEvent, RawStream, Remote, Running};
use crate::sandbox::shell::quote;

const EXEC_START: &str = "/modal.task_command_router.TaskCommandRouter/TaskExecStart";
const EXEC_READ: &str = "/modal.task_command_router.TaskCommandRouter/TaskExecStdioRead";
const EXEC_WAIT: &str = "/modal.task_command_router.TaskCommandRouter/TaskExecWait";
const EXEC_STDIN: &str = "/modal.task_command_router.TaskCommandRouter/TaskExecStdinWrite";
const ROUTER_ACCESS: &str = "/modal.client.ModalClient/SandboxGetCommandRouterAccess";
const TERMINATE: &str = "/modal.client.ModalClient/SandboxTerminate";

/// Stdin bytes per `TaskExecStdinWrite` call.
const STDIN_CHUNK: usize = 1024 * 1024;

/// Prints the command's pid as the first stdout line (the client strips it
/// and keeps it, so a deadline can kill the command), then runs the line in
/// the same process. `$1` is the line: an argv entry, never re-parsed.
const WRAPPER: &str = r#"echo "$$"; exec sh -c "$1""#;

/// Kills the process group of the pid in `$1` (or the process alone).
const KILLER: &str = r#"kill -9 -"$1" 2>/dev/null || kill -9 "$1""#;

/// Writes stdin to `$1` through a temporary file beside it, so a failed
/// upload never leaves a half-written file.
const WRITER: &str = r#"t="$(dirname -- "$1")/.upload-$$"; if cat > "$t"; then mv -f -- "$t" "$1"; else s=$?; rm -f -- "$t"; exit $s; fi"#;

/// Where the router is and the token it wants.
pub(crate) struct RouterAccess {
    pub(crate) url: String,
    pub(crate) jwt: String,
}

/// Asks the control plane for the command router of `sandbox_id`.
pub(crate) async fn router_access(api: &GrpcConn, sandbox_id: &str) -> Result<RouterAccess> {
    let response: SandboxGetCommandRouterAccessResponse = api
        .unary(
            ROUTER_ACCESS,
            SandboxGetCommandRouterAccessRequest {
                target: Some(RouterTarget::SandboxId(sandbox_id.to_owned())),
            },
            Repeat::Safe,
            None,
        )
        .await?;
    if response.url.is_empty() || response.jwt.is_empty() {
        return Err(Error::new(
            ErrorKind::Unavailable,
            format!("Modal returned no command router for sandbox {sandbox_id}"),
        ));
    }
    Ok(RouterAccess {
        url: response.url,
        jwt: response.jwt,
    })
}

/// The router connection for `access`. Plain `http://` is accepted only for
/// a router on this machine (tests, local development).
pub(crate) fn router_conn(
    access: &RouterAccess,
    timeouts: Timeouts,
    retry: RetryPolicy,
) -> Result<GrpcConn> {
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| access.url.starts_with(p));
    if !access.url.starts_with("https://") && !local {
        return Err(Error::new(
            ErrorKind::Unavailable,
            "Modal's command router URL is not https; refusing to send the sandbox's token over plain text",
        ));
    }
    let bearer = secret_value(
        &format!("Bearer {}", access.jwt),
        "the command router token",
    )?;
    GrpcConn::new(
        &access.url,
        Side::CommandRouter,
        vec![("authorization", bearer)],
        timeouts,
        retry,
    )
}

/// The shared state of one sandbox.
pub(crate) struct Task {
    pub(crate) api: GrpcConn,
    pub(crate) router: Mutex<GrpcConn>,
    pub(crate) sandbox_id: String,
    pub(crate) task_id: String,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryPolicy,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModalTask")
            .field("sandbox_id", &self.sandbox_id)
            .field("task_id", &self.task_id)
            .finish_non_exhaustive()
    }
}

/// An exec the router accepted.
#[derive(Clone)]
struct Exec {
    task: Arc<Task>,
    exec_id: String,
    /// For commands run through [`WRAPPER`]: their pid line, stripped from
    /// stdout.
    pid: Option<Arc<Mutex<PidLine>>>,
}

impl Task {
    fn router(&self) -> GrpcConn {
        self.router
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Fetches a fresh router token after the router refused the old one.
    async fn refresh_router(&self) -> Result<()> {
        let access = router_access(&self.api, &self.sandbox_id).await?;
        let conn = router_conn(&access, self.timeouts, self.retry)?;
        *self.router.lock().unwrap_or_else(|p| p.into_inner()) = conn;
        Ok(())
    }

    /// A unary router call, retried when safe, with one token refresh.
    async fn router_call<Req, Resp>(
        &self,
        method: &'static str,
        message: Req,
        timeout: Option<Duration>,
    ) -> Result<Resp>
    where
        Req: prost::Message + Clone + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        match self
            .router()
            .unary(method, message.clone(), Repeat::Safe, timeout)
            .await
        {
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Unauthenticated | ErrorKind::PermissionDenied
                ) =>
            {
                self.refresh_router().await?;
                self.router()
                    .unary(method, message, Repeat::Safe, timeout)
                    .await
            }
            other => other,
        }
    }

    /// Starts `args` (argv, no shell parsing) with stdout and stderr piped.
    /// `TaskExecStart` is keyed by `exec_id`, so retrying it is safe.
    async fn start_exec(self: &Arc<Self>, args: Vec<String>, timeout: Duration) -> Result<Exec> {
        let exec_id = uuid::Uuid::new_v4().to_string();
        // Modal kills the command a little after our own deadline, as a backstop.
        let secs = u32::try_from(timeout.as_secs())
            .unwrap_or(u32::MAX)
            .saturating_add(2);
        let request = TaskExecStartRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.clone(),
            command_args: args,
            stdout_config: STDOUT_CONFIG_PIPE,
            stderr_config: STDERR_CONFIG_PIPE,
            timeout_secs: Some(secs),
            workdir: None,
        };
        let _: TaskExecStartResponse = self.router_call(EXEC_START, request, None).await?;
        Ok(Exec {
            task: self.clone(),
            exec_id,
            pid: None,
        })
    }

    /// `SandboxTerminate`; a sandbox that is already gone counts as done.
    pub(crate) async fn terminate(&self) -> Result<()> {
        Self::terminate_by_id(&self.api, &self.sandbox_id).await
    }

    /// `SandboxTerminate` of `sandbox_id` on `api`.
    pub(crate) async fn terminate_by_id(api: &GrpcConn, sandbox_id: &str) -> Result<()> {
        let request = SandboxTerminateRequest {
            sandbox_id: sandbox_id.to_owned(),
        };
        match api
            .unary::<_, SandboxTerminateResponse>(TERMINATE, request, Repeat::Safe, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::FileNotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Exec {
    /// Streams the exec's stdout and stderr (resuming at the last offset
    /// after a transient failure), then its exit status, into a channel.
    fn events(self) -> RawStream {
        let (tx, rx) = mpsc::channel::<Result<RawEvent>>(32);
        tokio::spawn(async move {
            // The exit status is asked for at once but passed on only after
            // all output; the first failure ends everything.
            let all = futures::future::try_join3(
                self.read_fd(FD_STDOUT, &tx),
                self.read_fd(FD_STDERR, &tx),
                self.wait(),
            );
            let event = tokio::select! {
                all = all => all.map(|(_, _, exit)| exit),
                () = tx.closed() => return,
            };
            let _ = tx.send(event).await;
        });
        Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        }))
    }

    /// Forwards one descriptor until its end of file. Returns early (Ok)
    /// when the reader went away.
    async fn read_fd(&self, fd: i32, tx: &mpsc::Sender<Result<RawEvent>>) -> Result<()> {
        let mut offset = 0u64;
        let mut backoff = Backoff::new(&self.task.retry);
        let mut refreshed = false;
        let router = || self.task.router();
        loop {
            let request = TaskExecStdioReadRequest {
                task_id: self.task.task_id.clone(),
                exec_id: self.exec_id.clone(),
                offset,
                file_descriptor: fd,
            };
            let conn = router();
            let failure = match tokio::select! {
                opened = conn.open_stream::<_, TaskExecStdioReadResponse>(EXEC_READ, request) => opened,
                () = tx.closed() => return Ok(()),
            } {
                Err(status) => status,
                Ok(mut stream) => loop {
                    let next = tokio::select! {
                        next = stream.message() => next,
                        () = tx.closed() => return Ok(()),
                    };
                    match next {
                        Ok(Some(chunk)) => {
                            backoff.reset();
                            refreshed = false;
                            offset += chunk.data.len() as u64;
                            let data = match (&self.pid, fd) {
                                (Some(pid), FD_STDOUT) => pid
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .strip(chunk.data),
                                _ => chunk.data,
                            };
                            if data.is_empty() {
                                continue;
                            }
                            let event = if fd == FD_STDOUT {
                                RawEvent::Stdout(data)
                            } else {
                                RawEvent::Stderr(data)
                            };
                            if tx.send(Ok(event)).await.is_err() {
                                return Ok(());
                            }
                        }
                        Ok(None) => {
                            let rest = match (&self.pid, fd) {
                                (Some(pid), FD_STDOUT) => {
                                    pid.lock().unwrap_or_else(|p| p.into_inner()).rest()
                                }
                                _ => Vec::new(),
                            };
                            if !rest.is_empty() {
                                let _ = tx.send(Ok(RawEvent::Stdout(rest))).await;
                            }
                            return Ok(());
                        }
                        Err(status) => break status,
                    }
                },
            };
            if failure.code() == tonic::Code::Unauthenticated && !refreshed {
                refreshed = true;
                self.task.refresh_router().await?;
                continue;
            }
            let decision = if transient(&failure) {
                Retry::Backoff
            } else {
                Retry::Stop
            };
            match backoff.next_wait(decision) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => {
                    let e = conn.status_error(EXEC_READ, &failure);
                    let e = if decision == Retry::Stop {
                        e
                    } else {
                        backoff.give_up(Error::new(
                            ErrorKind::Unavailable,
                            format!(
                                "the connection to the Modal sandbox was lost while reading the command's output and could not be re-established: {}",
                                e.message()
                            ),
                        ))
                    };
                    return Err(e.with_context("exec", self.exec_id.clone()));
                }
            }
        }
    }

    /// `TaskExecWait` until the exit status arrives.
    async fn wait(&self) -> Result<RawEvent> {
        let request = TaskExecWaitRequest {
            task_id: self.task.task_id.clone(),
            exec_id: self.exec_id.clone(),
        };
        loop {
            let outcome: Result<TaskExecWaitResponse> = self
                .task
                .router_call(EXEC_WAIT, request.clone(), Some(Duration::from_secs(60)))
                .await;
            match outcome {
                Ok(TaskExecWaitResponse {
                    exit_status: Some(ExitStatus::Code(code)),
                }) => {
                    return Ok(RawEvent::Exit {
                        code: Some(code),
                        signal: None,
                    });
                }
                Ok(TaskExecWaitResponse {
                    exit_status: Some(ExitStatus::Signal(signal)),
                }) => {
                    return Ok(RawEvent::Exit {
                        code: None,
                        signal: Some(signal),
                    });
                }
                // No status yet, or the long wait timed out: ask again.
                Ok(TaskExecWaitResponse { exit_status: None }) => {}
                Err(e) if e.kind() == ErrorKind::Timeout => {}
                // Retries are spent: the router is gone, as a lost stdout
                // stream would say too.
                Err(e) if e.kind() == ErrorKind::Unavailable => {
                    let message = format!(
                        "the connection to the Modal sandbox was lost while waiting for the command's exit status and could not be re-established: {}",
                        e.message()
                    );
                    let e = e.with_message(message);
                    return Err(e.with_context("exec", self.exec_id.clone()));
                }
                Err(e) => return Err(e.with_context("exec", self.exec_id.clone())),
            }
        }
    }

    /// Sends `content` as the exec's stdin, then end of file.
    async fn write_stdin(&self, content: &[u8]) -> Result<()> {
        let mut offset = 0usize;
        loop {
            let end = (offset + STDIN_CHUNK).min(content.len());
            let request = TaskExecStdinWriteRequest {
                task_id: self.task.task_id.clone(),
                exec_id: self.exec_id.clone(),
                offset: offset as u64,
                data: content[offset..end].to_vec(),
                eof: end == content.len(),
            };
            let _: TaskExecStdinWriteResponse =
                self.task.router_call(EXEC_STDIN, request, None).await?;
            if end == content.len() {
                return Ok(());
            }
            offset = end;
        }
    }
}

/// Kills the wrapped command whose pid line arrived (best effort; before
/// it arrives, Modal's own `timeout_secs` is what ends the command).
async fn kill(task: Arc<Task>, pid: Arc<Mutex<PidLine>>) {
    let Some(pid) = pid.lock().unwrap_or_else(|p| p.into_inner()).pid else {
        tracing::debug!("no pid yet for a Modal command to kill");
        return;
    };
    let args = vec![
        "sh".into(),
        "-c".into(),
        KILLER.into(),
        "sh".into(),
        pid.to_string(),
    ];
    let outcome = async {
        let exec = task.start_exec(args, Duration::from_secs(10)).await?;
        let mut events = exec.events();
        while let Some(event) = events.next().await {
            if matches!(event?, RawEvent::Exit { .. }) {
                break;
            }
        }
        Ok::<(), Error>(())
    };
    if let Err(e) = outcome.await {
        tracing::warn!(error = %e, "could not kill a Modal command");
    }
}

/// The [`Remote`] face of a sandbox.
#[derive(Debug)]
pub(crate) struct ModalRemote(pub(crate) Arc<Task>);

#[async_trait]
impl Remote for ModalRemote {
    fn provider(&self) -> &'static str {
        "Modal"
    }

    fn sandbox_id(&self) -> &str {
        &self.0.sandbox_id
    }

    fn streams_output(&self) -> bool {
        true
    }

    async fn start(&self, line: String, timeout: Duration) -> Result<Running> {
        let args = vec!["sh".into(), "-c".into(), WRAPPER.into(), "sh".into(), line];
        let mut exec = self.0.start_exec(args, timeout).await?;
        let pid = Arc::new(Mutex::new(PidLine::default()));
        exec.pid = Some(pid.clone());
        let task = self.0.clone();
        Ok(Running {
            events: exec.events(),
            kill: Box::new(move || Box::pin(kill(task, pid))),
        })
    }

    async fn read_file(&self, abs: &str) -> Result<Vec<u8>> {
        let out = remote::run_script(self, format!("cat -- {}", quote(abs))).await?;
        if out.exit_code == Some(0) {
            Ok(out.stdout)
        } else {
            Err(Error::internal(format!(
                "reading {abs} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()> {
        let timeout = Duration::from_secs(300);
        let args = vec![
            "sh".into(),
            "-c".into(),
            WRITER.into(),
            "sh".into(),
            abs.to_owned(),
        ];
        let exec = self.0.start_exec(args, timeout).await?;
        let mut events = exec.clone().events();
        let writing = exec.write_stdin(&content);
        let collect = async {
            let mut stderr = Vec::new();
            while let Some(event) = events.next().await {
                match event? {
                    RawEvent::Stderr(bytes) => {
                        backend_core::exec::append_capped(&mut stderr, &bytes, 4096);
                    }
                    RawEvent::Stdout(_) => {}
                    RawEvent::Exit { code: Some(0), .. } => return Ok(()),
                    RawEvent::Exit { .. } => {
                        return Err(Error::internal(format!(
                            "writing {abs} failed: {}",
                            String::from_utf8_lossy(&stderr).trim()
                        )));
                    }
                }
            }
            Err(Error::new(
                ErrorKind::Unavailable,
                "the upload's exit status never arrived",
            ))
        };
        let both = async {
            let (written, done) = tokio::join!(writing, collect);
            // When the command failed early (stdin then breaks), its own
            // error says why; otherwise a failed upload is the error.
            match (written, done) {
                (_, Err(e)) if e.kind() == ErrorKind::Internal => Err(e),
                (Err(e), _) => Err(e),
                (Ok(()), done) => done,
            }
        };
        match tokio::time::timeout(timeout, both).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("writing {abs} did not finish within {timeout:?}"),
            )),
        }
    }

    async fn destroy(&self) -> Result<()> {
        self.0.terminate().await
    }
}
