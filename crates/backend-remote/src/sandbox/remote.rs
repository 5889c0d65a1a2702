//! What a provider must offer ([`Remote`]): a few primitives on absolute
//! paths inside the sandbox, and a way to start a shell line. Directory work
//! defaults to shell commands (`find`, `mkdir -p`, `rm -rf`) for providers
//! whose API has no call for it. Everything else (the semantics of
//! docs/semantics.md) is built on them once, in [`super::files`] and
//! [`super::exec`].

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_core::exec::append_capped;
use backend_core::{Error, ErrorKind, Result};
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};

use super::shell;

/// One directory entry as a provider reports it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The name (or, from a walk, the path relative to the walked directory).
    pub(crate) name: String,
    pub(crate) is_dir: bool,
    pub(crate) is_symlink: bool,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// An event of a running command, before caps and deadlines are applied.
#[derive(Debug)]
pub(crate) enum RawEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Exit {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// The events of a started command.
pub(crate) type RawStream = Pin<Box<dyn Stream<Item = Result<RawEvent>> + Send>>;

/// Kills a started command (best effort; errors are logged).
pub(crate) type Killer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

impl RawEvent {
    /// The events of a command whose whole output is reported once it has
    /// exited.
    #[cfg_attr(not(any(feature = "daytona", feature = "runloop")), allow(dead_code))]
    pub(crate) fn exited(stdout: Vec<u8>, stderr: Vec<u8>, code: Option<i32>) -> Vec<RawEvent> {
        vec![
            RawEvent::Stdout(stdout),
            RawEvent::Stderr(stderr),
            RawEvent::Exit { code, signal: None },
        ]
    }
}

/// `kill` as a [`Killer`].
#[cfg_attr(
    not(any(feature = "daytona", feature = "runloop", feature = "e2b")),
    allow(dead_code)
)]
pub(crate) fn killer<K, F>(kill: K) -> Killer
where
    K: FnOnce() -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    Box::new(move || Box::pin(kill()))
}

/// A command the provider has accepted.
pub(crate) struct Running {
    pub(crate) events: RawStream,
    pub(crate) kill: Killer,
}

impl Running {
    /// A command whose provider reports its output only after it has
    /// ended: `outcome` resolves to all of its events; `kill` stops it.
    #[cfg_attr(not(any(feature = "daytona", feature = "runloop")), allow(dead_code))]
    pub(crate) fn reported_at_exit<O, K, F>(outcome: O, kill: K) -> Running
    where
        O: Future<Output = Result<Vec<RawEvent>>> + Send + 'static,
        K: FnOnce() -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let events = futures::stream::once(outcome).flat_map(|result| {
            let items: Vec<Result<RawEvent>> = match result {
                Ok(events) => events.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        });
        Running {
            events: Box::pin(events),
            kill: killer(kill),
        }
    }
}

/// What a provider must offer. Paths are absolute paths inside the sandbox.
#[async_trait::async_trait]
pub(crate) trait Remote: Send + Sync + 'static {
    /// The provider's name, for messages.
    fn provider(&self) -> &'static str;
    /// The sandbox id.
    fn sandbox_id(&self) -> &str;
    /// Whether commands stream their output as it comes.
    fn streams_output(&self) -> bool;
    /// Starts `sh -c line`; `timeout` is the caller's deadline (the caller
    /// also kills at it; providers pass it on where the API takes one).
    async fn start(&self, line: String, timeout: Duration) -> Result<Running>;
    /// A file's bytes; `file_not_found` when missing.
    async fn read_file(&self, abs: &str) -> Result<Vec<u8>>;
    /// Creates or replaces a file.
    async fn write_file(&self, abs: &str, content: Vec<u8>) -> Result<()>;
    /// Facts about a path; `None` when nothing is there. By default through
    /// `find -maxdepth 0`.
    async fn stat(&self, abs: &str) -> Result<Option<Entry>> {
        let script = format!(
            "if [ -e {p} ] || [ -L {p} ]; then find {p} -maxdepth 0 -printf '{ENTRY_FORMAT}'; else exit 3; fi",
            p = shell::quote(abs)
        );
        let out = run_script(self, script).await?;
        match out.exit_code {
            Some(0) => Ok(parse_entries(&out.stdout).into_iter().next()),
            Some(3) => Ok(None),
            _ => Err(Error::internal(format!(
                "stat of {abs} failed: {}",
                out.stderr_text()
            ))),
        }
    }
    /// The direct children of a directory (names relative to it). By
    /// default through `find -maxdepth 1`.
    async fn list_dir(&self, abs: &str) -> Result<Vec<Entry>> {
        walk_depth(self, abs, Some(1)).await
    }
    /// Creates a directory and its parents. By default `mkdir -p`.
    async fn make_dir(&self, abs: &str) -> Result<()> {
        let script = format!("mkdir -p -- {}", shell::quote(abs));
        run_to_success(self, script, &format!("mkdir {abs}")).await
    }
    /// Removes a file or a whole directory tree. By default `rm -rf`.
    async fn remove(&self, abs: &str) -> Result<()> {
        let script = format!("rm -rf -- {}", shell::quote(abs));
        run_to_success(self, script, &format!("removing {abs}")).await
    }
    /// Removes the sandbox itself; already gone counts as done.
    async fn destroy(&self) -> Result<()>;
    /// Sets the sandbox to expire `lifetime` from now, where the provider
    /// can (E2B).
    async fn set_lifetime(&self, lifetime: Duration) -> Result<()> {
        let _ = lifetime;
        Err(Error::unsupported(format!(
            "changing the lifetime of a running {} sandbox",
            self.provider()
        )))
    }
}

/// What a helper command printed.
pub(crate) struct ScriptOutput {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) exit_code: Option<i32>,
}

impl ScriptOutput {
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_owned()
    }
}

/// Runs a helper `script` to completion (a minute at most) and collects it.
pub(crate) async fn run_script<R: Remote + ?Sized>(
    remote: &R,
    script: String,
) -> Result<ScriptOutput> {
    const LIMIT: usize = 256 * 1024 * 1024;
    let timeout = Duration::from_secs(60);
    let running = remote.start(script, timeout).await?;
    let mut events = running.events;
    let mut out = ScriptOutput {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit_code: None,
    };
    let collect = async {
        while let Some(event) = events.next().await {
            match event? {
                RawEvent::Stdout(b) => {
                    append_capped(&mut out.stdout, &b, LIMIT);
                }
                RawEvent::Stderr(b) => {
                    append_capped(&mut out.stderr, &b, LIMIT);
                }
                RawEvent::Exit { code, .. } => {
                    out.exit_code = code;
                    return Ok(());
                }
            }
        }
        Err(Error::new(
            ErrorKind::Unavailable,
            "a helper command's output ended without an exit status",
        ))
    };
    match tokio::time::timeout(timeout, collect).await {
        Ok(Ok(())) => Ok(out),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            (running.kill)().await;
            Err(Error::new(
                ErrorKind::Timeout,
                "a helper command did not finish within a minute",
            ))
        }
    }
}

/// The `find -printf` format of one entry: type, size, mtime, name.
const ENTRY_FORMAT: &str = "%y\\t%s\\t%T@\\t%P\\0";

/// Parses NUL-terminated `find` records in [`ENTRY_FORMAT`].
fn parse_entries(stdout: &[u8]) -> Vec<Entry> {
    stdout
        .split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|record| {
            let text = String::from_utf8_lossy(record);
            let mut fields = text.splitn(4, '\t');
            let kind = fields.next()?;
            let size = fields.next()?.parse::<u64>().unwrap_or(0);
            let mtime = fields.next()?.parse::<f64>().ok();
            let name = fields.next()?.to_owned();
            Some(Entry {
                name,
                is_dir: kind == "d",
                is_symlink: kind == "l",
                size,
                modified: mtime
                    .and_then(|s| UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(s).ok()?)),
            })
        })
        .collect()
}

/// Every entry below `abs`, with paths relative to it.
pub(crate) async fn walk<R: Remote + ?Sized>(remote: &R, abs: &str) -> Result<Vec<Entry>> {
    walk_depth(remote, abs, None).await
}

async fn walk_depth<R: Remote + ?Sized>(
    remote: &R,
    abs: &str,
    depth: Option<u32>,
) -> Result<Vec<Entry>> {
    let max = depth.map(|d| format!(" -maxdepth {d}")).unwrap_or_default();
    let script = format!(
        "find {} -mindepth 1{max} -printf '{ENTRY_FORMAT}'",
        shell::quote(abs)
    );
    let out = run_script(remote, script).await?;
    if out.exit_code != Some(0) {
        return Err(Error::internal(format!(
            "listing {abs} failed: {}",
            out.stderr_text()
        )));
    }
    Ok(parse_entries(&out.stdout))
}

/// Runs `script`; an exit status other than 0 fails with `what` and the
/// script's stderr.
async fn run_to_success<R: Remote + ?Sized>(remote: &R, script: String, what: &str) -> Result<()> {
    let out = run_script(remote, script).await?;
    if out.exit_code == Some(0) {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "{what} failed: {}",
            out.stderr_text()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_records_parse_into_entries() {
        let entries =
            parse_entries(b"d\t4096\t1700000000.5\tsub\0f\t3\t1700000000.0\tsub/a b.txt\0");
        assert_eq!(entries.len(), 2);
        assert!(entries[0].is_dir);
        assert_eq!(entries[1].name, "sub/a b.txt");
        assert_eq!(entries[1].size, 3);
    }
}
