//! Safe shell command lines: quoting, and the line that runs a command with
//! its working directory, environment and stdin.

use std::collections::BTreeMap;

use backend_core::{Error, ErrorKind, Result};
use base64::Engine;

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
}
