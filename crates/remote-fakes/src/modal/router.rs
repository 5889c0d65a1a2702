//! The task command router: `modal.task_command_router.TaskCommandRouter`.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tonic::{Request, Response, Status};

use super::Shared;
use super::grpc::{self, BoxFuture, BoxStream, Dispatch, HttpRequest, HttpResponse, meta};
use super::proto::*;
use crate::common::lock;

/// Largest chunk sent in one `TaskExecStdioReadResponse`.
const CHUNK: usize = 64 * 1024;

/// The router service.
#[derive(Clone)]
pub(crate) struct RouterService(pub(crate) Arc<Shared>);

impl Dispatch for RouterService {
    const PREFIX: &'static str = "/modal.task_command_router.TaskCommandRouter/";

    fn dispatch(&self, method: &str, request: HttpRequest) -> Option<BoxFuture<HttpResponse>> {
        let shared = self.0.clone();
        Some(match method {
            "TaskExecStart" => Box::pin(grpc::unary(request, move |r| async move {
                shared.exec_start(r).await
            })),
            "TaskExecStdioRead" => Box::pin(grpc::server_streaming(request, move |r| {
                shared.exec_read(r)
            })),
            "TaskExecWait" => Box::pin(grpc::unary(request, move |r| async move {
                shared.exec_wait(r).await
            })),
            "TaskExecStdinWrite" => Box::pin(grpc::unary(request, move |r| async move {
                shared.exec_stdin(r).await
            })),
            _ => return None,
        })
    }
}

/// One output pipe's bytes so far.
#[derive(Default)]
struct Pipe {
    data: Vec<u8>,
    eof: bool,
}

/// Stdin of a running exec.
struct Stdin {
    writer: Option<tokio::process::ChildStdin>,
    written: u64,
}

/// One exec: its process, its output so far and its exit status.
pub struct ExecRecord {
    pub(crate) task_id: String,
    /// The argv the exec was started with.
    pub args: Vec<String>,
    /// `timeout_secs` as sent.
    pub timeout_secs: Option<u32>,
    pid: Option<u32>,
    stdout: Mutex<Pipe>,
    stderr: Mutex<Pipe>,
    exit: Mutex<Option<ExitStatus>>,
    stdin: tokio::sync::Mutex<Stdin>,
    changed: Notify,
}

impl ExecRecord {
    /// Kills the exec's process group.
    pub(crate) fn kill(&self) {
        if let Some(pid) = self.pid {
            kill_group(pid);
        }
    }

    /// Whether the process has exited.
    pub fn exited(&self) -> bool {
        lock(&self.exit).is_some()
    }

    fn pipe(&self, fd: i32) -> &Mutex<Pipe> {
        if fd == 0 { &self.stdout } else { &self.stderr }
    }
}

fn kill_group(pid: u32) {
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "kill -9 -{pid} 2>/dev/null || kill -9 {pid} 2>/dev/null"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Shared {
    /// The JWT check, then the call count and injected faults. Returns the
    /// task's work directory and environment.
    fn admit_router<T>(
        &self,
        method: &str,
        request: &Request<T>,
        task_id: &str,
    ) -> Result<(PathBuf, std::collections::HashMap<String, String>), Status> {
        let bearer = meta(request, "authorization").and_then(|v| v.strip_prefix("Bearer "));
        let state = self.lock();
        let sandbox = state
            .tasks
            .get(task_id)
            .and_then(|id| state.sandboxes.get(id));
        let authorized = match (bearer, sandbox) {
            (Some(jwt), Some(sandbox)) => sandbox.jwts.contains(jwt),
            _ => false,
        };
        drop(state);
        if !authorized {
            self.enter(method);
            return Err(Status::unauthenticated(
                "missing or invalid JWT for this task",
            ));
        }
        if let Some(fault) = self.enter(method) {
            return Err(fault);
        }
        let state = self.lock();
        match state
            .tasks
            .get(task_id)
            .and_then(|id| state.sandboxes.get(id))
        {
            Some(sandbox) if !sandbox.terminated => {
                Ok((sandbox.workdir.clone(), sandbox.env.clone()))
            }
            _ => Err(Status::not_found(format!("task {task_id:?} not found"))),
        }
    }

    fn exec(&self, task_id: &str, exec_id: &str) -> Result<Arc<ExecRecord>, Status> {
        match self.lock().execs.get(exec_id) {
            Some(exec) if exec.task_id == task_id => Ok(exec.clone()),
            _ => Err(Status::not_found(format!("exec {exec_id:?} not found"))),
        }
    }

    async fn exec_start(
        &self,
        request: Request<TaskExecStartRequest>,
    ) -> Result<Response<Empty>, Status> {
        let task_id = request.get_ref().task_id.clone();
        let (workdir, env) = self.admit_router("TaskExecStart", &request, &task_id)?;
        let r = request.into_inner();
        if r.exec_id.is_empty() {
            return Err(Status::invalid_argument("exec_id is required"));
        }
        if r.command_args.is_empty() {
            return Err(Status::invalid_argument("command_args is empty"));
        }
        if !(0..=1).contains(&r.stdout_config) || !(0..=2).contains(&r.stderr_config) {
            return Err(Status::invalid_argument(
                "unknown stdout_config or stderr_config",
            ));
        }
        if let Some(existing) = self.lock().execs.get(&r.exec_id) {
            // Exec ids make starts idempotent.
            return if existing.task_id == task_id {
                Ok(Response::new(Empty {}))
            } else {
                Err(Status::already_exists("exec_id is used by another task"))
            };
        }
        let cwd = match &r.workdir {
            Some(dir) if !dir.starts_with('/') => {
                return Err(Status::invalid_argument("workdir must be absolute"));
            }
            Some(dir) => PathBuf::from(dir),
            None => workdir,
        };
        let mut command = tokio::process::Command::new(&r.command_args[0]);
        command
            .args(&r.command_args[1..])
            .current_dir(&cwd)
            // A container's environment, never the host's.
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("HOME", &cwd)
            .env("LANG", "C.UTF-8")
            .envs(env)
            .envs(&r.env)
            .stdin(Stdio::piped())
            .stdout(if r.stdout_config == 1 {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(if r.stderr_config == 1 {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .process_group(0);
        let mut child = command.spawn().map_err(|e| {
            Status::failed_precondition(format!("could not start {:?}: {e}", r.command_args[0]))
        })?;
        let record = Arc::new(ExecRecord {
            task_id,
            args: r.command_args.clone(),
            timeout_secs: r.timeout_secs,
            pid: child.id(),
            stdout: Mutex::new(Pipe {
                eof: r.stdout_config != 1,
                ..Pipe::default()
            }),
            stderr: Mutex::new(Pipe {
                eof: r.stderr_config != 1,
                ..Pipe::default()
            }),
            exit: Mutex::new(None),
            stdin: tokio::sync::Mutex::new(Stdin {
                writer: child.stdin.take(),
                written: 0,
            }),
            changed: Notify::new(),
        });
        self.lock().execs.insert(r.exec_id.clone(), record.clone());
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, record.clone(), 0));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(pump(err, record.clone(), 1));
        }
        let waiter = record.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            let exit = match status {
                Ok(status) => {
                    use std::os::unix::process::ExitStatusExt;
                    match (status.code(), status.signal()) {
                        (Some(code), _) => ExitStatus::Code(code),
                        (None, Some(signal)) => ExitStatus::Signal(signal),
                        (None, None) => ExitStatus::Code(-1),
                    }
                }
                Err(_) => ExitStatus::Code(-1),
            };
            *lock(&waiter.exit) = Some(exit);
            waiter.changed.notify_waiters();
        });
        if let Some(secs) = r.timeout_secs.filter(|s| *s > 0) {
            let timed = record.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
                if !timed.exited() {
                    timed.kill();
                }
            });
        }
        Ok(Response::new(Empty {}))
    }

    fn exec_read(
        &self,
        request: Request<TaskExecStdioReadRequest>,
    ) -> Result<Response<BoxStream<TaskExecStdioReadResponse>>, Status> {
        let task_id = request.get_ref().task_id.clone();
        self.admit_router("TaskExecStdioRead", &request, &task_id)?;
        let r = request.into_inner();
        if !(0..=1).contains(&r.file_descriptor) {
            return Err(Status::invalid_argument("unknown file_descriptor"));
        }
        let exec = self.exec(&task_id, &r.exec_id)?;
        let fd = r.file_descriptor;
        let offset = usize::try_from(r.offset).unwrap_or(usize::MAX);
        let stream =
            futures::stream::unfold((exec, offset), move |(exec, mut offset)| async move {
                let watched = exec.clone();
                loop {
                    let notified = watched.changed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    {
                        let pipe = lock(exec.pipe(fd));
                        if offset > pipe.data.len() && pipe.eof {
                            return Some((
                                Err(Status::out_of_range("offset is past the end of the output")),
                                (exec.clone(), usize::MAX),
                            ));
                        }
                        if offset == usize::MAX {
                            return None;
                        }
                        if offset < pipe.data.len() {
                            let end = (offset + CHUNK).min(pipe.data.len());
                            let data = pipe.data[offset..end].to_vec();
                            offset = end;
                            drop(pipe);
                            return Some((Ok(TaskExecStdioReadResponse { data }), (exec, offset)));
                        }
                        if pipe.eof {
                            return None;
                        }
                    }
                    notified.await;
                }
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn exec_wait(
        &self,
        request: Request<TaskExecWaitRequest>,
    ) -> Result<Response<TaskExecWaitResponse>, Status> {
        let task_id = request.get_ref().task_id.clone();
        self.admit_router("TaskExecWait", &request, &task_id)?;
        let exec = self.exec(&task_id, &request.get_ref().exec_id)?;
        loop {
            let notified = exec.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(exit) = lock(&exec.exit).clone() {
                return Ok(Response::new(TaskExecWaitResponse {
                    exit_status: Some(exit),
                }));
            }
            notified.await;
        }
    }

    async fn exec_stdin(
        &self,
        request: Request<TaskExecStdinWriteRequest>,
    ) -> Result<Response<Empty>, Status> {
        let task_id = request.get_ref().task_id.clone();
        self.admit_router("TaskExecStdinWrite", &request, &task_id)?;
        let r = request.into_inner();
        let exec = self.exec(&task_id, &r.exec_id)?;
        let mut stdin = exec.stdin.lock().await;
        if r.offset > stdin.written {
            return Err(Status::out_of_range(format!(
                "offset {} is past the {} bytes written so far",
                r.offset, stdin.written
            )));
        }
        // A repeated write (same offset) is skipped up to what was taken.
        let skip = usize::try_from(stdin.written - r.offset)
            .unwrap_or(usize::MAX)
            .min(r.data.len());
        let fresh = &r.data[skip..];
        if !fresh.is_empty() {
            let Some(writer) = stdin.writer.as_mut() else {
                return Err(Status::failed_precondition("stdin is already closed"));
            };
            if let Err(e) = writer.write_all(fresh).await {
                return Err(Status::failed_precondition(format!(
                    "stdin write failed: {e}"
                )));
            }
            stdin.written += fresh.len() as u64;
        }
        if r.eof
            && let Some(mut writer) = stdin.writer.take()
        {
            let _ = writer.shutdown().await;
        }
        Ok(Response::new(Empty {}))
    }
}

/// Copies one pipe into the record until end of file.
async fn pump(mut pipe: impl tokio::io::AsyncRead + Unpin, record: Arc<ExecRecord>, fd: i32) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = pipe.read(&mut buf).await.unwrap_or(0);
        {
            let mut out = lock(record.pipe(fd));
            if n == 0 {
                out.eof = true;
            } else {
                out.data.extend_from_slice(&buf[..n]);
            }
        }
        record.changed.notify_waiters();
        if n == 0 {
            return;
        }
    }
}
