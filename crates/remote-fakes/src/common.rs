//! What every fake shares: the filesystem guard, real processes, fault
//! injection and the listener.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// A fault to inject into a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After` (whole seconds) and `retry-after-ms`.
    RateLimited {
        /// The wait the server asks for.
        retry_after: Duration,
    },
    /// An error status with the provider's error body (a 5xx, 408, ...).
    Status(u16),
    /// Drops the connection: a streaming response is cut after its first
    /// events; any other response is cut before its body.
    DropConnection,
}

/// A fault and how many more requests it hits.
type PendingFault = (Fault, u32);

/// Faults waiting to hit routes, by route name (each fake documents its
/// route names). Each injected fault hits `times` requests, then is gone.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    pending: Arc<Mutex<HashMap<String, Vec<PendingFault>>>>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Faults {
    /// Makes the next `times` requests to `route` fail with `fault`.
    pub fn inject(&self, route: &str, fault: Fault, times: u32) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending
            .entry(route.to_owned())
            .or_default()
            .push((fault, times));
    }

    /// Takes the fault due for this request to `route`, if any, and counts
    /// the request.
    pub fn take(&self, route: &str) -> Option<Fault> {
        {
            let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
            *hits.entry(route.to_owned()).or_default() += 1;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let queue = pending.get_mut(route)?;
        let (fault, left) = queue.first_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            queue.remove(0);
        }
        Some(fault)
    }

    /// How many requests reached `route` (faulted or not).
    pub fn hits(&self, route: &str) -> u32 {
        let hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        hits.get(route).copied().unwrap_or(0)
    }
}

/// A response whose body breaks off: the client sees the connection drop.
pub fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injection: connection dropped",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The temporary directory every sandbox of a fake keeps its files in.
/// Paths outside it are refused, so tests never touch the host's files.
#[derive(Debug)]
pub struct Disk {
    dir: tempfile::TempDir,
}

impl Disk {
    /// A fresh temporary directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("remote-fake-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory for a fake server: {e}")
            });
        Disk { dir }
    }

    /// The directory itself (the sandboxes' "home").
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh empty directory under the root, as an absolute path string.
    pub fn new_workdir(&self) -> String {
        let path = self
            .dir
            .path()
            .join(format!("ws-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        path.to_string_lossy().into_owned()
    }

    /// `path` when it is absolute, free of `..`, and inside the root.
    pub fn guard(&self, path: &str) -> Option<PathBuf> {
        let candidate = Path::new(path);
        if !candidate.is_absolute()
            || candidate
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            return None;
        }
        candidate
            .starts_with(self.dir.path())
            .then(|| candidate.to_path_buf())
    }
}

impl Default for Disk {
    fn default() -> Self {
        Disk::new()
    }
}

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

/// Collects `proc` in the background into a shared [`Collected`]; the
/// returned watch flips to `true` when the process has ended.
pub fn collect(mut proc: Proc) -> (Arc<Mutex<Collected>>, tokio::sync::watch::Receiver<bool>) {
    let shared = Arc::new(Mutex::new(Collected {
        pgid: proc.pid,
        ..Collected::default()
    }));
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    let target = shared.clone();
    tokio::spawn(async move {
        while let Some(event) = proc.events.recv().await {
            let mut c = target.lock().unwrap_or_else(|p| p.into_inner());
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
    (shared, done_rx)
}

/// Whether an I/O error means "nothing there" (a missing path, or a path
/// through a file), which the providers report as not found.
pub fn is_missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// The value of header `name`, when present and text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request's content type is `expected` (parameters ignored).
pub fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    header(headers, "content-type")
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(expected)
        })
        .unwrap_or(false)
}

/// Metadata of a path as the fakes report it.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The name (last component).
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it is a symbolic link.
    pub is_symlink: bool,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds and nanoseconds since the epoch.
    pub modified: (u64, u32),
}

/// Reads [`Meta`] of `path` without following a final symlink.
pub fn meta(path: &Path) -> std::io::Result<Meta> {
    let m = std::fs::symlink_metadata(path)?;
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0));
    Ok(Meta {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        is_dir: m.is_dir(),
        is_symlink: m.file_type().is_symlink(),
        size: m.len(),
        modified,
    })
}

/// An RFC 3339 UTC timestamp for seconds and nanoseconds since the epoch.
pub fn rfc3339((secs, nanos): (u64, u32)) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `content` to `path` through a temporary file and a rename, so a
/// reader sees the old or the new content; creates parents when asked.
pub fn write_atomic(path: &Path, content: &[u8], create_parents: bool) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    if create_parents {
        std::fs::create_dir_all(parent)?;
    }
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let tmp = parent.join(format!(".upload-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Serves `router` on 127.0.0.1 at a random port; returns `http://addr`.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("a fake server cannot bind 127.0.0.1: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("a fake server has no local address: {e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}
