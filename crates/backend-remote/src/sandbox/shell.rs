//! Safe shell command lines, and the file operations some providers can only
//! do through commands (`find`, `mkdir -p`, `rm`).

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use backend_core::exec::append_capped;
use backend_core::{Error, ErrorKind, Result};
use base64::Engine;
use futures::StreamExt;

use super::remote::{Entry, RawEvent, Remote};

/// The most stdin bytes passed inline (base64 in the command line, whose one
/// argument the kernel caps at 128 KiB).
pub(crate) const MAX_INLINE_STDIN: usize = 64 * 1024;

/// `text` as one single-quoted shell word.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

/// The line that runs `command` with `sh -c` in `cwd`, with `env` added and
/// stdin fed from `stdin` (closed when `None`). Every value is quoted, so no
/// part of `cwd`, `env` or `stdin` is ever read as shell syntax.
pub(crate) fn command_line(
    command: &str,
    cwd: &str,
    env: &BTreeMap<String, String>,
    stdin: Option<&[u8]>,
) -> Result<String> {
    let mut run = format!("cd -- {} && exec", quote(cwd));
    if !env.is_empty() {
        run.push_str(" env");
        for (key, value) in env {
            run.push(' ');
            run.push_str(&quote(&format!("{key}={value}")));
        }
    }
    run.push_str(" sh -c ");
    run.push_str(&quote(command));
    match stdin {
        None => Ok(format!("{run} < /dev/null")),
        Some(bytes) if bytes.len() > MAX_INLINE_STDIN => Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "stdin of {} bytes is over the {MAX_INLINE_STDIN}-byte limit of remote sandboxes; write the input to a file and redirect it instead",
                bytes.len()
            ),
        )),
        Some(bytes) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            Ok(format!(
                "printf '%s' {} | base64 -d | ( {run} )",
                quote(&encoded)
            ))
        }
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
pub(crate) async fn run_script(remote: &dyn Remote, script: String) -> Result<ScriptOutput> {
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

/// Stat through `find -maxdepth 0`; `None` when nothing is there.
#[cfg_attr(not(feature = "runloop"), allow(dead_code))]
pub(crate) async fn stat(remote: &dyn Remote, abs: &str) -> Result<Option<Entry>> {
    let script = format!(
        "if [ -e {p} ] || [ -L {p} ]; then find {p} -maxdepth 0 -printf '{ENTRY_FORMAT}'; else exit 3; fi",
        p = quote(abs)
    );
    let out = run_script(remote, script).await?;
    match out.exit_code {
        Some(0) => Ok(parse_entries(&out.stdout).into_iter().next()),
        Some(3) => Ok(None),
        _ => Err(Error::internal(format!(
            "stat of {abs} failed: {}",
            out.stderr_text()
        ))),
    }
}

/// The direct children of `abs` (names relative to it).
#[cfg_attr(not(feature = "runloop"), allow(dead_code))]
pub(crate) async fn list_dir(remote: &dyn Remote, abs: &str) -> Result<Vec<Entry>> {
    walk_depth(remote, abs, Some(1)).await
}

/// Every entry below `abs`, with paths relative to it.
pub(crate) async fn walk(remote: &dyn Remote, abs: &str) -> Result<Vec<Entry>> {
    walk_depth(remote, abs, None).await
}

async fn walk_depth(remote: &dyn Remote, abs: &str, depth: Option<u32>) -> Result<Vec<Entry>> {
    let max = depth.map(|d| format!(" -maxdepth {d}")).unwrap_or_default();
    let script = format!(
        "find {} -mindepth 1{max} -printf '{ENTRY_FORMAT}'",
        quote(abs)
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

/// `mkdir -p`.
#[cfg_attr(not(feature = "runloop"), allow(dead_code))]
pub(crate) async fn make_dir(remote: &dyn Remote, abs: &str) -> Result<()> {
    let out = run_script(remote, format!("mkdir -p -- {}", quote(abs))).await?;
    if out.exit_code == Some(0) {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "mkdir {abs} failed: {}",
            out.stderr_text()
        )))
    }
}

/// `rm -rf`.
#[cfg_attr(not(feature = "runloop"), allow(dead_code))]
pub(crate) async fn remove(remote: &dyn Remote, abs: &str) -> Result<()> {
    let out = run_script(remote, format!("rm -rf -- {}", quote(abs))).await?;
    if out.exit_code == Some(0) {
        Ok(())
    } else {
        Err(Error::internal(format!(
            "removing {abs} failed: {}",
            out.stderr_text()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_survives_single_quotes_and_metacharacters() {
        assert_eq!(quote("a'b"), "'a'\\''b'");
        assert_eq!(quote("$(rm -rf /); `x`"), "'$(rm -rf /); `x`'");
    }

    #[test]
    fn command_line_quotes_cwd_env_and_command() {
        let mut env = BTreeMap::new();
        env.insert("GREETING".to_owned(), "it's $HOME".to_owned());
        let line = command_line("echo $GREETING", "/w/my dir", &env, None).expect("line");
        assert_eq!(
            line,
            "cd -- '/w/my dir' && exec env 'GREETING=it'\\''s $HOME' sh -c 'echo $GREETING' < /dev/null"
        );
    }

    #[test]
    fn command_line_feeds_stdin_through_base64() {
        let line = command_line("cat", "/w", &BTreeMap::new(), Some(b"hi")).expect("line");
        assert!(
            line.starts_with("printf '%s' 'aGk=' | base64 -d | ("),
            "{line}"
        );
    }

    #[test]
    fn oversized_stdin_is_refused() {
        let big = vec![b'x'; MAX_INLINE_STDIN + 1];
        let e = command_line("cat", "/w", &BTreeMap::new(), Some(&big)).expect_err("too large");
        assert_eq!(e.kind(), ErrorKind::TooLarge);
    }

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
