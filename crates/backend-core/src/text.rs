//! Text rules shared by every backend: read paging, exact-match editing and
//! binary detection.

use std::borrow::Cow;

use crate::error::{Error, ErrorKind, Result};
use crate::types::ReadResult;

/// How many leading bytes are checked for a NUL to call a file binary.
pub const BINARY_CHECK_BYTES: usize = 8 * 1024;

/// Whether `bytes` look binary: a NUL in the first [`BINARY_CHECK_BYTES`].
pub fn is_binary(bytes: &[u8]) -> bool {
    memchr::memchr(0, &bytes[..bytes.len().min(BINARY_CHECK_BYTES)]).is_some()
}

/// Counts lines the way [`page`] does: every `\n` ends a line, and a last
/// line without one counts too.
pub fn count_lines(text: &str) -> usize {
    let newlines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Returns lines `offset..offset + limit` (0-based) of `bytes` as a
/// [`ReadResult`], keeping line endings.
///
/// Errors: bytes that are not UTF-8 give `not_a_text_file`; a `limit` of 0,
/// or an `offset` at or past the end of a non-empty file, gives
/// `invalid_argument`. An empty file reads as empty with offset 0.
pub fn page(path: &str, bytes: &[u8], offset: usize, limit: usize) -> Result<ReadResult> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::not_a_text_file(path))?;
    page_str(path, text, offset, limit)
}

/// [`page`] for text already known to be UTF-8.
pub fn page_str(path: &str, text: &str, offset: usize, limit: usize) -> Result<ReadResult> {
    if limit == 0 {
        return Err(Error::invalid_argument("limit must be at least 1").with_path(path));
    }
    let total = count_lines(text);
    if total == 0 && offset == 0 {
        return Ok(ReadResult::new(String::new(), 0, 0, 0, None));
    }
    if offset >= total {
        return Err(Error::invalid_argument(format!(
            "offset {offset} is past the end of the file, which has {total} lines; use an offset below {total}"
        ))
        .with_path(path));
    }
    let start = nth_line_start(text, offset);
    let end_line = offset.saturating_add(limit).min(total);
    let end = if end_line == total {
        text.len()
    } else {
        nth_line_start(text, end_line)
    };
    let next = (end_line < total).then_some(end_line);
    Ok(ReadResult::new(
        text[start..end].to_owned(),
        total,
        offset + 1,
        end_line,
        next,
    ))
}

/// The byte index where line `n` (0-based) starts, or `text.len()` past the end.
fn nth_line_start(text: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    memchr::memchr_iter(b'\n', text.as_bytes())
        .nth(n - 1)
        .map_or(text.len(), |i| i + 1)
}

/// Applies an exact-match edit to `content`; returns the new content and the
/// number of replacements.
///
/// Empty `old` → `invalid_argument`; no match → `string_not_found`; several
/// matches without `replace_all` → `multiple_occurrences` with the count. When
/// the exact match fails and the file uses CRLF line endings, `old` and `new`
/// are retried with their `\n` turned into `\r\n`.
pub fn apply_edit(
    path: &str,
    content: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, usize)> {
    if old.is_empty() {
        return Err(
            Error::invalid_argument("old_string is empty; give the exact text to replace")
                .with_path(path),
        );
    }
    let (mut old, mut new) = (Cow::Borrowed(old), Cow::Borrowed(new));
    let mut first = content.find(old.as_ref());
    if first.is_none() && content.contains("\r\n") && old.contains('\n') {
        let crlf_old = to_crlf(&old);
        if let Some(i) = content.find(crlf_old.as_str()) {
            first = Some(i);
            old = Cow::Owned(crlf_old);
            new = Cow::Owned(to_crlf(&new));
        }
    }
    let Some(first) = first else {
        return Err(Error::new(
            ErrorKind::StringNotFound,
            format!(
                "old_string was not found in {path}; read the file and copy the text exactly, including whitespace"
            ),
        )
        .with_path(path));
    };
    let after_first = first + old.len();
    if replace_all {
        let count = 1 + content[after_first..].matches(old.as_ref()).count();
        return Ok((content.replace(old.as_ref(), &new), count));
    }
    if content[after_first..].contains(old.as_ref()) {
        let n = 1 + content[after_first..].matches(old.as_ref()).count();
        return Err(Error::new(
            ErrorKind::MultipleOccurrences,
            format!(
                "old_string occurs {n} times in {path}; add surrounding lines to make it unique, or set replace_all"
            ),
        )
        .with_path(path)
        .with_context("count", n.to_string()));
    }
    // One occurrence: splice it without a second scan.
    let mut updated = String::with_capacity(content.len() - old.len() + new.len());
    updated.push_str(&content[..first]);
    updated.push_str(&new);
    updated.push_str(&content[after_first..]);
    Ok((updated, 1))
}

/// Turns lone `\n` into `\r\n`, leaving existing `\r\n` alone.
fn to_crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_keep_endings_and_report_position() {
        let r = page("/f", b"a\r\nb\nc", 1, 1).unwrap();
        assert_eq!(r.content, "b\n");
        assert_eq!(
            (r.total_lines, r.first_line, r.last_line, r.next_offset),
            (3, 2, 2, Some(2))
        );
        let r = page("/f", b"a\r\nb\nc", 0, 10).unwrap();
        assert_eq!(r.content, "a\r\nb\nc");
        assert_eq!(r.next_offset, None);
        let r = page("/f", b"a\r\nb\nc", 2, 10).unwrap();
        assert_eq!((r.content.as_str(), r.first_line, r.last_line), ("c", 3, 3));
    }

    #[test]
    fn empty_file_and_bad_offsets() {
        let r = page("/f", b"", 0, 10).unwrap();
        assert_eq!(
            (r.content.as_str(), r.total_lines, r.first_line),
            ("", 0, 0)
        );
        assert_eq!(
            page("/f", b"", 1, 10).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            page("/f", b"a\n", 1, 10).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            page("/f", b"a\n", 0, 0).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
        assert_eq!(
            page("/f", &[0xff, 0xfe], 0, 1).unwrap_err().kind(),
            ErrorKind::NotATextFile
        );
    }

    #[test]
    fn edit_rules() {
        assert_eq!(
            apply_edit("/f", "a b a", "b", "c", false).unwrap(),
            ("a c a".into(), 1)
        );
        assert_eq!(
            apply_edit("/f", "a b a", "a", "x", true).unwrap(),
            ("x b x".into(), 2)
        );
        let e = apply_edit("/f", "a b a", "a", "x", false).unwrap_err();
        assert_eq!(
            (e.kind(), e.context_value("count")),
            (ErrorKind::MultipleOccurrences, Some("2"))
        );
        assert_eq!(
            apply_edit("/f", "a", "z", "x", false).unwrap_err().kind(),
            ErrorKind::StringNotFound
        );
        assert_eq!(
            apply_edit("/f", "a", "", "x", false).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }

    #[test]
    fn edit_retries_with_crlf() {
        let (out, n) = apply_edit(
            "/f",
            "one\r\ntwo\r\nthree\r\n",
            "one\ntwo\n",
            "1\n2\n",
            false,
        )
        .unwrap();
        assert_eq!((out.as_str(), n), ("1\r\n2\r\nthree\r\n", 1));
    }

    #[test]
    fn binary_detection_looks_at_first_8k() {
        assert!(is_binary(b"ab\0c"));
        assert!(!is_binary(b"abc"));
        let mut late = vec![b'a'; BINARY_CHECK_BYTES];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
