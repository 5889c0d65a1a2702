//! A long-lived helper shell in the container for the hot housekeeping step
//! of writes (renaming an uploaded temporary into place), so that a write
//! costs one archive upload and a line over an open connection instead of a
//! new exec each time.
//!
//! The protocol is line based: virtual paths never hold control characters
//! (`VirtualPath` rejects them), so a path is always exactly one line, read
//! with `IFS= read -r` and only ever used as a quoted argument. The helper
//! runs as the command user (it must own the files it moves), so a command
//! can kill it; the next call then starts a new one.

use std::pin::Pin;
use std::time::Duration;

use backend_core::{Error, ErrorKind, Operation, Result};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::error;

/// Reads requests `mv\nTEMP\nFINAL\n` and answers one letter per line:
/// `o` moved, `d` the target is a directory (temporary removed), `e` failed.
const SERVER: &str = r#"while IFS= read -r op; do
  case $op in
    mv)
      IFS= read -r t; IFS= read -r f
      if [ -d "$f" ] && [ ! -L "$f" ]; then rm -f -- "$t"; echo d
      elif mv -f -- "$t" "$f" 2>/dev/null; then echo o
      else rm -f -- "$t"; echo e; fi ;;
    *) echo e ;;
  esac
done"#;

/// How long one batch of requests may take before the helper is dropped.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

type Output =
    Pin<Box<dyn Stream<Item = std::result::Result<LogOutput, bollard::errors::Error>> + Send>>;

struct Conn {
    input: Pin<Box<dyn AsyncWrite + Send>>,
    output: Output,
    pending: Vec<u8>,
}

/// The rename shell of one sandbox, started on first use.
pub(crate) struct RenameShell {
    conn: tokio::sync::Mutex<Option<Conn>>,
}

impl std::fmt::Debug for RenameShell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenameShell").finish_non_exhaustive()
    }
}

impl RenameShell {
    pub(crate) fn new() -> RenameShell {
        RenameShell {
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// Moves each `(temporary, final)` pair into place; one letter per pair.
    pub(crate) async fn rename_all(
        &self,
        docker: &Docker,
        container: &str,
        user: &str,
        pairs: &[(String, String)],
    ) -> Result<Vec<u8>> {
        let mut request = String::new();
        for (temp, target) in pairs {
            request.push_str("mv\n");
            request.push_str(temp);
            request.push('\n');
            request.push_str(target);
            request.push('\n');
        }
        let mut guard = self.conn.lock().await;
        // A dead helper (killed by a command) shows as a failed write or an
        // ended stream: start a new one and try once more.
        for attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(start(docker, container, user).await?);
            }
            let Some(conn) = guard.as_mut() else { continue };
            match tokio::time::timeout(CALL_TIMEOUT, exchange(conn, &request, pairs.len())).await {
                Ok(Ok(letters)) => return Ok(letters),
                Ok(Err(why)) => {
                    *guard = None;
                    if attempt == 1 {
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            format!("the file helper in the container failed: {why}"),
                        )
                        .with_operation(Operation::Write)
                        .with_retryable(true));
                    }
                }
                Err(_) => {
                    *guard = None;
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        "the file helper in the container did not answer",
                    )
                    .with_operation(Operation::Write)
                    .with_retryable(true));
                }
            }
        }
        Err(Error::internal("the file helper could not be started"))
    }
}

async fn start(docker: &Docker, container: &str, user: &str) -> Result<Conn> {
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(false),
                cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), SERVER.to_owned()]),
                user: Some(user.to_owned()),
                working_dir: Some("/".to_owned()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| error::engine(Operation::Write, "creating the file helper", e))?;
    match docker.start_exec(&created.id, None).await {
        Ok(StartExecResults::Attached { output, input }) => Ok(Conn {
            input,
            output,
            pending: Vec::new(),
        }),
        Ok(StartExecResults::Detached) => Err(Error::internal("the file helper started detached")),
        Err(e) => Err(error::engine(
            Operation::Write,
            "starting the file helper",
            e,
        )),
    }
}

async fn exchange(
    conn: &mut Conn,
    request: &str,
    answers: usize,
) -> std::result::Result<Vec<u8>, String> {
    conn.input
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    conn.input.flush().await.map_err(|e| e.to_string())?;
    let mut letters = Vec::with_capacity(answers);
    while letters.len() < answers {
        if let Some(end) = conn.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = conn.pending.drain(..=end).collect();
            letters.push(line.first().copied().unwrap_or(b'e'));
            continue;
        }
        match conn.output.next().await {
            Some(Ok(LogOutput::StdOut { message })) => conn.pending.extend_from_slice(&message),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the helper exited".to_owned()),
        }
    }
    Ok(letters)
}
