//! `read`: paging through text files (docs/semantics.md, "Reading text").

use backend_core::{ErrorKind, ReadResult};

use crate::Fixture;
use crate::check::{err_kind, ok};

const READ: &str =
    "semantics.md read: lines offset..offset+limit with total, first, last and next offset";

fn facts(r: &ReadResult) -> (usize, usize, usize, Option<usize>) {
    (r.total_lines, r.first_line, r.last_line, r.next_offset)
}

/// A small file reads whole, with the facts to page on.
pub async fn read_whole_file(fx: &Fixture) {
    fx.put("f.txt", "one\ntwo\nthree\n").await;
    let r = ok(fx.backend.read(&fx.path("f.txt"), 0, 100).await, READ);
    assert_eq!(r.content, "one\ntwo\nthree\n", "{READ}");
    assert_eq!(
        facts(&r),
        (3, 1, 3, None),
        "{READ}: (total, first, last, next)"
    );
}

/// `offset` and `limit` select a page, 0-based, and say where the next starts.
pub async fn read_page_in_the_middle(fx: &Fixture) {
    fx.put("f.txt", "l1\nl2\nl3\nl4\nl5\n").await;
    let r = ok(fx.backend.read(&fx.path("f.txt"), 1, 2).await, READ);
    assert_eq!(r.content, "l2\nl3\n", "{READ}");
    assert_eq!(
        facts(&r),
        (5, 2, 3, Some(3)),
        "{READ}: (total, first, last, next)"
    );
}

/// Following `next_offset` visits every line once, in order.
pub async fn read_pages_cover_the_file(fx: &Fixture) {
    let text: String = (1..=25).map(|i| format!("line {i}\n")).collect();
    fx.put("f.txt", &text).await;
    let (mut offset, mut joined, mut pages) = (Some(0), String::new(), 0);
    while let Some(at) = offset {
        let r = ok(fx.backend.read(&fx.path("f.txt"), at, 7).await, READ);
        assert_eq!(
            r.first_line,
            at + 1,
            "{READ}: first line of the page at {at}"
        );
        joined.push_str(&r.content);
        offset = r.next_offset;
        pages += 1;
        assert!(pages <= 4, "{READ}: 25 lines in pages of 7 take 4 pages");
    }
    assert_eq!(joined, text, "{READ}: the pages joined give the file");
    assert_eq!(pages, 4, "{READ}");
}

/// A limit beyond the end returns the rest without a next offset.
pub async fn read_limit_past_end_returns_rest(fx: &Fixture) {
    fx.put("f.txt", "a\nb\nc\n").await;
    let r = ok(fx.backend.read(&fx.path("f.txt"), 2, 2000).await, READ);
    assert_eq!(r.content, "c\n", "{READ}");
    assert_eq!(facts(&r), (3, 3, 3, None), "{READ}");
}

/// An empty file reads as empty with total 0.
pub async fn read_empty_file(fx: &Fixture) {
    let rule = "semantics.md read: an empty file reads as empty with total 0";
    fx.put("empty.txt", "").await;
    let r = ok(fx.backend.read(&fx.path("empty.txt"), 0, 10).await, rule);
    assert_eq!(r.content, "", "{rule}");
    assert_eq!(facts(&r), (0, 0, 0, None), "{rule}");
}

/// A last line without a newline counts as a line and comes back as is.
pub async fn read_last_line_without_newline(fx: &Fixture) {
    let rule = "semantics.md read: a last line without newline counts and is returned as is";
    fx.put("f.txt", "a\nb").await;
    let r = ok(fx.backend.read(&fx.path("f.txt"), 0, 10).await, rule);
    assert_eq!(r.content, "a\nb", "{rule}");
    assert_eq!(r.total_lines, 2, "{rule}");
    let last = ok(fx.backend.read(&fx.path("f.txt"), 1, 1).await, rule);
    assert_eq!(last.content, "b", "{rule}");
}

/// CRLF line endings are returned unchanged.
pub async fn read_keeps_crlf(fx: &Fixture) {
    let rule = "semantics.md read: line endings are preserved (CRLF kept)";
    fx.put("dos.txt", "one\r\ntwo\r\nthree\r\n").await;
    let r = ok(fx.backend.read(&fx.path("dos.txt"), 0, 10).await, rule);
    assert_eq!(r.content, "one\r\ntwo\r\nthree\r\n", "{rule}");
    assert_eq!(r.total_lines, 3, "{rule}: CRLF ends one line, not two");
    let page = ok(fx.backend.read(&fx.path("dos.txt"), 1, 1).await, rule);
    assert_eq!(page.content, "two\r\n", "{rule}");
}

/// Blank lines count as lines.
pub async fn read_counts_blank_lines(fx: &Fixture) {
    fx.put("blank.txt", "\n\nx\n\n").await;
    let r = ok(fx.backend.read(&fx.path("blank.txt"), 0, 10).await, READ);
    assert_eq!(r.total_lines, 4, "{READ}: blank lines count");
    let third = ok(fx.backend.read(&fx.path("blank.txt"), 2, 1).await, READ);
    assert_eq!(third.content, "x\n", "{READ}");
}

/// An offset past the end is `invalid_argument`.
pub async fn read_offset_past_end_is_invalid_argument(fx: &Fixture) {
    let rule = "semantics.md read: offset past the end → invalid_argument";
    fx.put("f.txt", "a\nb\n").await;
    err_kind(
        fx.backend.read(&fx.path("f.txt"), 2, 10).await,
        ErrorKind::InvalidArgument,
        rule,
    );
    err_kind(
        fx.backend.read(&fx.path("f.txt"), 1000, 10).await,
        ErrorKind::InvalidArgument,
        rule,
    );
}

/// Bytes that are not UTF-8 are `not_a_text_file`.
pub async fn read_non_utf8_is_not_a_text_file(fx: &Fixture) {
    let rule = "semantics.md read: bytes that are not UTF-8 → not_a_text_file";
    fx.put("latin1.txt", b"caf\xe9\n").await;
    err_kind(
        fx.backend.read(&fx.path("latin1.txt"), 0, 10).await,
        ErrorKind::NotATextFile,
        rule,
    );
    assert_eq!(
        fx.get("latin1.txt").await,
        b"caf\xe9\n",
        "semantics.md read_bytes still reads it"
    );
}

/// Reading a missing file is `file_not_found`.
pub async fn read_missing_is_file_not_found(fx: &Fixture) {
    err_kind(
        fx.backend.read(&fx.path("absent.txt"), 0, 10).await,
        ErrorKind::FileNotFound,
        "semantics.md read: missing → file_not_found",
    );
}

/// Reading a directory is `is_directory`.
pub async fn read_directory_is_directory(fx: &Fixture) {
    fx.put("d/x.txt", "x").await;
    err_kind(
        fx.backend.read(&fx.path("d"), 0, 10).await,
        ErrorKind::IsDirectory,
        "semantics.md read: a directory → is_directory",
    );
}

/// Multi-byte characters are not split or counted as extra lines.
pub async fn read_unicode_lines(fx: &Fixture) {
    fx.put("u.txt", "ünï\n日本語\n🎉\n").await;
    let r = ok(fx.backend.read(&fx.path("u.txt"), 1, 2).await, READ);
    assert_eq!(r.content, "日本語\n🎉\n", "{READ}");
    assert_eq!(facts(&r), (3, 2, 3, None), "{READ}");
}

/// A read sees the latest write.
pub async fn read_sees_latest_write(fx: &Fixture) {
    fx.put("f.txt", "old\n").await;
    fx.put("f.txt", "new\nlines\n").await;
    let r = ok(fx.backend.read(&fx.path("f.txt"), 0, 10).await, READ);
    assert_eq!(
        (r.content.as_str(), r.total_lines),
        ("new\nlines\n", 2),
        "{READ}"
    );
}

/// Extreme offsets and limits are answered, not overflowed.
pub async fn read_extreme_offset_and_limit(fx: &Fixture) {
    let rule =
        "semantics.md read: offset past the end → invalid_argument; backends never panic on input";
    fx.put("f.txt", "a\nb\n").await;
    err_kind(
        fx.backend.read(&fx.path("f.txt"), usize::MAX, 10).await,
        ErrorKind::InvalidArgument,
        rule,
    );
    let r = ok(
        fx.backend.read(&fx.path("f.txt"), 1, usize::MAX).await,
        rule,
    );
    assert_eq!((r.content.as_str(), r.next_offset), ("b\n", None), "{rule}");
}
