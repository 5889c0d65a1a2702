//! The exec cases run against a small host sandbox written here (files in a
//! temporary directory, `sh -c` in its own process group), and catch the
//! faults they are written for when that sandbox is broken on purpose.
//!
//! Only the `exec` area runs here: the sandbox's file operations are the
//! minimum those cases use, not a backend under test.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backend_conformance::{Outcome, Report, Subject, cases, run_cases};
use backend_core::exec::{append_capped, collect_output};
use backend_core::{
    Backend, Capabilities, EditResult, Error, ExecEvent, ExecOutput, ExecRequest, ExecStream,
    ExitStatus, FileInfo, GlobRequest, GlobResult, GrepCollector, GrepMatcher, GrepRequest,
    GrepResult, Operation, Result, Sandbox, VirtualPath,
};
use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// One deliberate bug in command execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// Passes the host environment through.
    InheritsHostEnv,
    /// On timeout kills the shell but not its process group.
    KillsOnlyTheShell,
    /// Leaves stdin open when none is given.
    StdinLeftOpen,
    /// Ignores the output cap.
    NoOutputCap,
    /// Buffers output until the command ends while claiming streaming.
    BuffersUntilExit,
    /// Sends stderr into stdout.
    MergesStderr,
}

struct HostSandbox {
    dir: PathBuf,
    id: String,
    fault: Fault,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl HostSandbox {
    fn new(fault: Fault) -> Self {
        let id = format!(
            "host-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(format!("conformance-{id}"));
        std::fs::create_dir_all(&dir).expect("creating the sandbox directory");
        HostSandbox { dir, id, fault }
    }

    fn host(&self, path: &VirtualPath) -> PathBuf {
        self.dir.join(&path.as_str()[1..])
    }
}

fn parse(path: &str, op: Operation) -> Result<VirtualPath> {
    VirtualPath::parse(path).map_err(|e| e.with_operation(op))
}

fn io_error(path: &VirtualPath, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::file_not_found(path.as_str()),
        std::io::ErrorKind::IsADirectory => Error::is_directory(path.as_str()),
        _ => Error::internal(e.to_string()).with_path(path.as_str()),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[async_trait]
impl Backend for HostSandbox {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.execute = true;
        caps.execute_streaming = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = parse(path, Operation::Ls)?;
        let entries = std::fs::read_dir(self.host(&path)).map_err(|e| io_error(&path, e))?;
        let mut out: Vec<FileInfo> = entries
            .flatten()
            .map(|e| {
                let child = path.child(&e.file_name().to_string_lossy());
                match e.metadata() {
                    Ok(m) if m.is_dir() => FileInfo::dir(child),
                    Ok(m) => FileInfo::file(child, m.len()),
                    Err(_) => FileInfo::file(child, 0),
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = parse(path, Operation::Stat)?;
        let meta = std::fs::metadata(self.host(&path)).map_err(|e| io_error(&path, e))?;
        Ok(if meta.is_dir() {
            FileInfo::dir(path)
        } else {
            FileInfo::file(path, meta.len())
        })
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = parse(path, Operation::ReadBytes)?;
        std::fs::read(self.host(&path)).map_err(|e| io_error(&path, e))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = parse(path, Operation::Write)?;
        let host = self.host(&path);
        if let Some(parent) = host.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(&path, e))?;
        }
        std::fs::write(host, content).map_err(|e| io_error(&path, e))
    }

    async fn edit(&self, _: &str, _: &str, _: &str, _: bool) -> Result<EditResult> {
        Err(Error::unsupported("edit in this test sandbox"))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = parse(path, Operation::Delete)?;
        let host = self.host(&path);
        let result = if host.is_dir() && recursive {
            std::fs::remove_dir_all(host)
        } else {
            std::fs::remove_file(host)
        };
        result.map_err(|e| io_error(&path, e))
    }

    async fn glob(&self, _: &GlobRequest) -> Result<GlobResult> {
        Err(Error::unsupported("glob in this test sandbox"))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let base = parse(&request.path, Operation::Grep)?;
        let matcher = GrepMatcher::new(request)?;
        let mut collector = GrepCollector::new(request);
        let mut files = Vec::new();
        walk(&self.host(&base), &mut files);
        files.sort();
        for file in files {
            let Ok(relative) = file.strip_prefix(self.host(&base)) else {
                continue;
            };
            let relative = relative.to_string_lossy().into_owned();
            if matcher.wants(&relative) {
                let content = std::fs::read(&file).unwrap_or_default();
                collector.search(&matcher, &base.join(&relative)?, &content);
            }
        }
        Ok(collector.finish())
    }
}

/// Output held back until the command ends: `(is_stderr, chunk)` in arrival order.
type Held = Arc<std::sync::Mutex<Vec<(bool, Vec<u8>)>>>;

/// Reads a pipe, forwarding at most `limit` bytes as events and draining
/// the rest. Returns whether anything was dropped.
async fn pump(
    mut pipe: impl AsyncRead + Unpin,
    limit: usize,
    stderr: bool,
    tx: mpsc::UnboundedSender<Result<ExecEvent>>,
    buffered: Option<Held>,
) -> bool {
    let (mut sent, mut cut) = (Vec::new(), false);
    let mut buf = vec![0u8; 8192];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return cut,
            Ok(n) => n,
        };
        let before = sent.len();
        cut |= append_capped(&mut sent, &buf[..n], limit);
        let chunk = sent[before..].to_vec();
        if chunk.is_empty() {
            continue;
        }
        match &buffered {
            Some(held) => held.lock().expect("buffer").push((stderr, chunk)),
            None => {
                let event = if stderr {
                    ExecEvent::Stderr(chunk)
                } else {
                    ExecEvent::Stdout(chunk)
                };
                let _ = tx.send(Ok(event));
            }
        }
    }
}

#[async_trait]
impl Sandbox for HostSandbox {
    fn id(&self) -> &str {
        &self.id
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        request.validate()?;
        let workdir = parse(
            request.workdir.as_deref().unwrap_or("/"),
            Operation::Execute,
        )?;
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(&request.command)
            .current_dir(self.host(&workdir));
        if self.fault != Fault::InheritsHostEnv {
            cmd.env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", &self.dir);
        }
        cmd.envs(&request.env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(
                if request.stdin.is_some() || self.fault == Fault::StdinLeftOpen {
                    Stdio::piped()
                } else {
                    Stdio::null()
                },
            )
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::internal(format!("spawning sh: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let mut stdin_pipe = child.stdin.take();
        if let Some(bytes) = request.stdin.clone()
            && let Some(mut pipe) = stdin_pipe.take()
        {
            // Written, then dropped: the command sees the end of its input.
            tokio::spawn(async move {
                let _ = pipe.write_all(&bytes).await;
            });
        }
        let limit = if self.fault == Fault::NoOutputCap {
            usize::MAX
        } else {
            request.output_limit
        };
        let held = (self.fault == Fault::BuffersUntilExit)
            .then(|| Arc::new(std::sync::Mutex::new(Vec::new())));
        let merge = self.fault == Fault::MergesStderr;
        let (tx, rx) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out_task = tokio::spawn(pump(stdout, limit, false, tx.clone(), held.clone()));
        let err_task = tokio::spawn(pump(stderr, limit, !merge, tx.clone(), held.clone()));
        let kill_group = self.fault != Fault::KillsOnlyTheShell;
        tokio::spawn(async move {
            let _keep_stdin_open = stdin_pipe;
            let (status, timed_out) = tokio::select! {
                status = child.wait() => (status.ok(), false),
                () = tokio::time::sleep(request.timeout) => {
                    if kill_group && pid > 1 {
                        let _ = std::process::Command::new("kill").args(["-s", "KILL", "--", &format!("-{pid}")]).status();
                    }
                    let _ = child.start_kill();
                    (child.wait().await.ok(), true)
                }
            };
            // Grandchildren may hold the pipes: bound the final reads.
            let bound = Duration::from_millis(200);
            let out_cut = tokio::time::timeout(bound, out_task)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or(false);
            let err_cut = tokio::time::timeout(bound, err_task)
                .await
                .ok()
                .and_then(|r| r.ok())
                .unwrap_or(false);
            if let Some(held) = held {
                for (is_err, chunk) in held.lock().expect("buffer").drain(..) {
                    let event = if is_err {
                        ExecEvent::Stderr(chunk)
                    } else {
                        ExecEvent::Stdout(chunk)
                    };
                    let _ = tx.send(Ok(event));
                }
            }
            let duration = started.elapsed();
            let mut exit = match status.and_then(|s| s.code()) {
                Some(code) => ExitStatus::exited(code, duration),
                None => ExitStatus::signaled(9, duration),
            };
            exit = exit
                .with_timed_out(timed_out)
                .with_truncation(out_cut, err_cut);
            let _ = tx.send(Ok(ExecEvent::Exit(exit)));
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|event| (event, rx))
        })))
    }

    async fn execute(&self, request: ExecRequest) -> Result<ExecOutput> {
        let limit = request.output_limit;
        let mut stream = self.execute_stream(request).await?;
        if self.fault != Fault::NoOutputCap {
            return collect_output(stream, limit).await;
        }
        let mut output = ExecOutput::default();
        while let Some(event) = stream.next().await {
            match event? {
                ExecEvent::Stdout(chunk) => output.stdout.extend(chunk),
                ExecEvent::Stderr(chunk) => output.stderr.extend(chunk),
                ExecEvent::Exit(status) => output.status = status,
                _ => {}
            }
        }
        Ok(output)
    }

    async fn close(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(
                Error::internal(format!("removing {}: {e}", self.dir.display()))
                    .with_operation(Operation::Close),
            ),
        }
    }
}

async fn exec_report(fault: Fault) -> Report {
    let exec_cases: Vec<_> = cases().into_iter().filter(|c| c.area == "exec").collect();
    run_cases(
        &format!("host-{fault:?}"),
        move || async move { Subject::sandbox(Arc::new(HostSandbox::new(fault))) },
        &exec_cases,
    )
    .await
}

async fn assert_caught(fault: Fault, expected: &[&str]) {
    let report = exec_report(fault).await;
    for case in expected {
        assert_eq!(
            report.case(case).map(|c| c.outcome),
            Some(Outcome::Failed),
            "{fault:?}: {case} should fail; failed: {:?}",
            report.failed_names()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_correct_sandbox_passes_every_exec_case() {
    let report = exec_report(Fault::None).await;
    assert!(report.is_success(), "{}", report.summary());
    assert_eq!(
        report.count(Outcome::Passed),
        report.cases.len(),
        "{}",
        report.summary()
    );
    assert!(report.cases.len() >= 20, "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread")]
async fn inheriting_the_host_environment_is_caught() {
    assert_caught(
        Fault::InheritsHostEnv,
        &["exec_does_not_inherit_host_secrets"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_only_the_shell_on_timeout_is_caught() {
    assert_caught(
        Fault::KillsOnlyTheShell,
        &["exec_timeout_kills_process_tree"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn leaving_stdin_open_is_caught() {
    assert_caught(Fault::StdinLeftOpen, &["exec_stdin_closed_unless_given"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_the_output_cap_is_caught() {
    assert_caught(Fault::NoOutputCap, &["exec_output_cap_truncates"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn buffering_a_stream_until_exit_is_caught() {
    assert_caught(
        Fault::BuffersUntilExit,
        &["stream_yields_before_the_command_ends"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn merging_stderr_into_stdout_is_caught() {
    assert_caught(Fault::MergesStderr, &["exec_separates_stdout_and_stderr"]).await;
}
