//! Real processes: `sh -c` in its own process group, its events, kills and
//! collected output.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, watch};

use super::lock::lock;

/// An event of a real process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcEvent {
    /// Bytes on stdout.
    Stdout(Vec<u8>),
    /// Bytes on stderr.
    Stderr(Vec<u8>),
    /// The process ended with a code or by a signal.
    Exit {
        /// The exit code.
        code: Option<i32>,
        /// The signal.
        signal: Option<i32>,
    },
}

/// A running `sh -c` process in its own process group.
#[derive(Debug)]
pub struct Proc {
    /// Its pid (also its process group id).
    pub pid: u32,
    /// Its events; `Exit` comes last.
    pub events: mpsc::UnboundedReceiver<ProcEvent>,
}

/// Starts `sh -c command` in `cwd` with a clean environment plus `env`.
pub fn spawn(command: &str, cwd: &Path, env: &HashMap<String, String>) -> std::io::Result<Proc> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", cwd)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    let mut child = cmd.spawn()?;
    let pid = child.id().unwrap_or(0);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_tx = tx.clone();
    let out = tokio::spawn(async move {
        if let Some(pipe) = stdout.as_mut() {
            pump(pipe, |b| out_tx.send(ProcEvent::Stdout(b)).is_ok()).await;
        }
    });
    let err_tx = tx.clone();
    let err = tokio::spawn(async move {
        if let Some(pipe) = stderr.as_mut() {
            pump(pipe, |b| err_tx.send(ProcEvent::Stderr(b)).is_ok()).await;
        }
    });
    tokio::spawn(async move {
        let status = child.wait().await;
        let _ = out.await;
        let _ = err.await;
        let event = match status {
            Ok(s) => ProcEvent::Exit {
                code: s.code(),
                signal: s.signal(),
            },
            Err(_) => ProcEvent::Exit {
                code: Some(-1),
                signal: None,
            },
        };
        let _ = tx.send(event);
    });
    Ok(Proc { pid, events: rx })
}

async fn pump(pipe: &mut (impl AsyncReadExt + Unpin), mut send: impl FnMut(Vec<u8>) -> bool) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if !send(buf[..n].to_vec()) {
                    return;
                }
            }
        }
    }
}

/// Kills the whole process group `pgid` with SIGKILL.
pub fn kill_group(pgid: u32) {
    if pgid == 0 {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The collected result of a process, for APIs that report output at the end.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    /// All of stdout.
    pub stdout: Vec<u8>,
    /// All of stderr.
    pub stderr: Vec<u8>,
    /// The exit code (-1 when killed by a signal), once it ended.
    pub exit_code: Option<i32>,
    /// The process group, for kills.
    pub pgid: u32,
}

/// A process whose output is collected in the background, for APIs that
/// report output at the end (clones share the process).
#[derive(Debug, Clone)]
pub struct Job {
    output: Arc<Mutex<Collected>>,
    done: watch::Receiver<bool>,
}

impl Job {
    /// What the process wrote so far, and its exit code once it ended.
    pub fn output(&self) -> Collected {
        lock(&self.output).clone()
    }

    /// Whether the process has ended (its output is complete).
    pub fn finished(&self) -> bool {
        *self.done.borrow()
    }

    /// Waits until the process has ended.
    pub async fn wait(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|finished| *finished).await;
    }

    /// Kills the process's whole group.
    pub fn kill_group(&self) {
        kill_group(lock(&self.output).pgid);
    }

    /// Kills only the process itself (its children live on).
    pub fn kill_leader(&self) {
        let pid = lock(&self.output).pgid;
        let _ = std::process::Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .status();
    }
}

/// Collects `proc` in the background into a [`Job`].
pub fn collect(mut proc: Proc) -> Job {
    let shared = Arc::new(Mutex::new(Collected {
        pgid: proc.pid,
        ..Collected::default()
    }));
    let (done_tx, done_rx) = watch::channel(false);
    let target = shared.clone();
    tokio::spawn(async move {
        while let Some(event) = proc.events.recv().await {
            let mut c = lock(&target);
            match event {
                ProcEvent::Stdout(b) => c.stdout.extend_from_slice(&b),
                ProcEvent::Stderr(b) => c.stderr.extend_from_slice(&b),
                ProcEvent::Exit { code, signal } => {
                    c.exit_code = Some(match (code, signal) {
                        (Some(code), _) => code,
                        (None, Some(sig)) => 128 + sig,
                        (None, None) => -1,
                    });
                }
            }
        }
        let _ = done_tx.send(true);
    });
    Job {
        output: shared,
        done: done_rx,
    }
}
