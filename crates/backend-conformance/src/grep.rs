//! `grep` (docs/semantics.md, "Grep").

use backend_core::{ErrorKind, GrepRequest, GrepResult};

use crate::Fixture;
use crate::check::{err_kind, ok};

async fn grep(fx: &Fixture, request: GrepRequest, rule: &str) -> GrepResult {
    ok(fx.backend.grep(&request).await, rule)
}

fn under(fx: &Fixture, pattern: &str) -> GrepRequest {
    GrepRequest::new(pattern).path(fx.root())
}

/// `(relative path, line number, line)` of each match.
fn hits(fx: &Fixture, r: &GrepResult) -> Vec<(String, u64, String)> {
    r.matches
        .iter()
        .map(|m| (fx.rel(&m.path), m.line_number, m.line.clone()))
        .collect()
}

fn hit(path: &str, line: u64, text: &str) -> (String, u64, String) {
    (path.to_owned(), line, text.to_owned())
}

/// Regex metacharacters are searched literally by default.
pub async fn grep_fixed_string_by_default(fx: &Fixture) {
    let rule = "semantics.md grep: fixed-string search by default";
    fx.put("m.txt", "call f(x)\nabc\na.c\n[x]*\n").await;
    let r = grep(fx, under(fx, "a.c"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("m.txt", 3, "a.c")],
        "{rule}: `.` is literal"
    );
    let r = grep(fx, under(fx, "f(x"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("m.txt", 1, "call f(x)")],
        "{rule}: `(` is literal"
    );
    let r = grep(fx, under(fx, "[x]*"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("m.txt", 4, "[x]*")],
        "{rule}: `[`, `*` are literal"
    );
}

/// `regex: true` uses regular expressions, anchored per line.
pub async fn grep_regex_mode(fx: &Fixture) {
    let rule = "semantics.md grep: regex: true uses Rust regex syntax";
    fx.put("r.txt", "abc\na.c\naXc\nxabc\n").await;
    let r = grep(fx, under(fx, "^a.c$").regex(true), rule).await;
    assert_eq!(
        hits(fx, &r),
        [
            hit("r.txt", 1, "abc"),
            hit("r.txt", 2, "a.c"),
            hit("r.txt", 3, "aXc")
        ],
        "{rule}: `^` and `$` anchor each line"
    );
    let r = grep(fx, under(fx, r"\d{3}").regex(true), rule).await;
    assert!(r.matches.is_empty(), "{rule}");
}

/// An invalid regex is `invalid_pattern`.
pub async fn grep_invalid_regex_is_invalid_pattern(fx: &Fixture) {
    let rule = "semantics.md grep: an invalid regex → invalid_pattern";
    fx.put("x.txt", "x\n").await;
    for bad in ["(unclosed", "[z-a]", "a{2,1}"] {
        err_kind(
            fx.backend.grep(&under(fx, bad).regex(true)).await,
            ErrorKind::InvalidPattern,
            rule,
        );
    }
}

/// `case_insensitive` matches regardless of case; the default is case-sensitive.
pub async fn grep_case_insensitive(fx: &Fixture) {
    let rule = "semantics.md grep: an option for case-insensitivity";
    fx.put("c.txt", "Hello\nHELLO\nhello\nhelp\n").await;
    let r = grep(fx, under(fx, "hello").case_insensitive(true), rule).await;
    assert_eq!(r.matches.len(), 3, "{rule}: all three spellings match");
    let r = grep(fx, under(fx, "hello"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("c.txt", 3, "hello")],
        "{rule}: case-sensitive by default"
    );
}

/// Case-insensitive regex mode works too.
pub async fn grep_case_insensitive_regex(fx: &Fixture) {
    let rule = "semantics.md grep: case-insensitivity applies to regex mode";
    fx.put("c.txt", "ERROR: disk\nwarning\nError: net\n").await;
    let r = grep(
        fx,
        under(fx, "^error:").regex(true).case_insensitive(true),
        rule,
    )
    .await;
    let lines: Vec<u64> = r.matches.iter().map(|m| m.line_number).collect();
    assert_eq!(lines, [1, 3], "{rule}");
}

/// The `glob` filter limits the files searched, with the glob rules.
pub async fn grep_glob_filter(fx: &Fixture) {
    let rule = "semantics.md grep: a glob filter (same rules as glob)";
    fx.put("a.rs", "needle\n").await;
    fx.put("src/b.rs", "needle\n").await;
    fx.put("c.py", "needle\n").await;
    fx.put(".hidden.rs", "needle\n").await;
    let r = grep(fx, under(fx, "needle").glob("*.rs"), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(
        paths,
        ["a.rs", "src/b.rs"],
        "{rule}: *.rs at any depth, dotfile rule applies"
    );
    let r = grep(fx, under(fx, "needle").glob("src/*"), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(paths, ["src/b.rs"], "{rule}: relative to the search path");
}

/// `max_count` caps the total and sets `truncated`.
pub async fn grep_max_count_truncates(fx: &Fixture) {
    let rule = "semantics.md grep: a total max_count, with truncated";
    fx.put("1.txt", "hit\nhit\nhit\n").await;
    fx.put("2.txt", "hit\nhit\n").await;
    let r = grep(fx, under(fx, "hit").max_count(4), rule).await;
    assert_eq!(
        hits(fx, &r),
        [
            hit("1.txt", 1, "hit"),
            hit("1.txt", 2, "hit"),
            hit("1.txt", 3, "hit"),
            hit("2.txt", 1, "hit")
        ],
        "{rule}: the first 4 in path and line order"
    );
    assert!(r.truncated, "{rule}: truncated must be set");
}

/// Exactly `max_count` matches is not truncated; no cap, no truncation.
pub async fn grep_max_count_exact_not_truncated(fx: &Fixture) {
    let rule = "semantics.md grep: truncated only when matches were left out";
    fx.put("1.txt", "hit\nhit\n").await;
    let r = grep(fx, under(fx, "hit").max_count(2), rule).await;
    assert_eq!((r.matches.len(), r.truncated), (2, false), "{rule}");
    let r = grep(fx, under(fx, "hit"), rule).await;
    assert_eq!((r.matches.len(), r.truncated), (2, false), "{rule}");
}

/// Binary files (a NUL in the first 8 KiB) are skipped.
pub async fn grep_skips_binary_files(fx: &Fixture) {
    let rule = "semantics.md grep: binary files (a NUL in the first 8 KiB) are skipped";
    fx.put("text.txt", "needle\n").await;
    fx.put("bin.dat", b"needle\0needle\n").await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(paths, ["text.txt"], "{rule}");
}

/// A NUL after the first 8 KiB does not make a file binary.
pub async fn grep_late_nul_still_searched(fx: &Fixture) {
    let rule = "semantics.md grep: only a NUL in the first 8 KiB marks a file binary";
    let mut content = b"needle\n".to_vec();
    content.extend(std::iter::repeat_n(b'a', 9000));
    content.extend(b"\n\0\n");
    fx.put("late.txt", content).await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    assert_eq!(r.matches.len(), 1, "{rule}");
}

/// Hidden files and directories are searched.
pub async fn grep_searches_hidden_files(fx: &Fixture) {
    let rule = "semantics.md grep: hidden files are searched";
    fx.put(".env", "TOKEN=needle\n").await;
    fx.put(".config/app.toml", "key = \"needle\"\n").await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(paths, [".config/app.toml", ".env"], "{rule}");
}

/// Files under `.git/` are not searched.
pub async fn grep_skips_git_directory(fx: &Fixture) {
    let rule = "semantics.md grep: everything except `.git/` is searched";
    fx.put(".git/config", "needle\n").await;
    fx.put("sub/.git/HEAD", "needle\n").await;
    fx.put("src/main.rs", "needle\n").await;
    fx.put(".gitignore", "needle\n").await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(paths, [".gitignore", "src/main.rs"], "{rule}");
}

/// Context lines come before and after each match.
pub async fn grep_context_lines(fx: &Fixture) {
    let rule = "semantics.md grep: context lines";
    fx.put("c.txt", "1\n2\n3\nMATCH\n5\n6\n").await;
    let r = grep(fx, under(fx, "MATCH").context_lines(2, 1), rule).await;
    assert_eq!(r.matches.len(), 1, "{rule}");
    let m = &r.matches[0];
    let before: Vec<(u64, &str)> = m
        .before
        .iter()
        .map(|c| (c.line_number, c.line.as_str()))
        .collect();
    let after: Vec<(u64, &str)> = m
        .after
        .iter()
        .map(|c| (c.line_number, c.line.as_str()))
        .collect();
    assert_eq!(before, [(2, "2"), (3, "3")], "{rule}: before, oldest first");
    assert_eq!(after, [(5, "5")], "{rule}: after");
}

/// Context stops at the edges of the file.
pub async fn grep_context_at_file_edges(fx: &Fixture) {
    let rule = "semantics.md grep: context lines stop at the start and end of the file";
    fx.put("c.txt", "MATCH first\nmiddle\nMATCH last").await;
    let r = grep(fx, under(fx, "MATCH").context(3), rule).await;
    assert_eq!(r.matches.len(), 2, "{rule}");
    assert!(
        r.matches[0].before.is_empty(),
        "{rule}: nothing before line 1"
    );
    assert!(
        r.matches[1].after.is_empty(),
        "{rule}: nothing after the last line"
    );
    assert_eq!(r.matches[0].after.len(), 2, "{rule}");
}

/// Long lines are cut and flagged.
pub async fn grep_cuts_long_lines(fx: &Fixture) {
    let rule = "semantics.md grep: long lines are cut and flagged";
    let long = format!("needle{}", "x".repeat(5000));
    fx.put("long.txt", format!("{long}\nneedle short\n")).await;
    let r = grep(fx, under(fx, "needle").max_line_chars(100), rule).await;
    assert_eq!(r.matches.len(), 2, "{rule}");
    assert_eq!(
        r.matches[0].line.chars().count(),
        100,
        "{rule}: cut at 100 characters"
    );
    assert!(r.matches[0].line_truncated, "{rule}: flagged");
    assert!(
        !r.matches[1].line_truncated,
        "{rule}: a short line is not flagged"
    );
    assert_eq!(r.matches[1].line, "needle short", "{rule}");
}

/// The default cut is 2,000 characters.
pub async fn grep_default_line_cut_is_2000_chars(fx: &Fixture) {
    let rule = "semantics.md grep: long lines are cut (default 2,000 characters)";
    fx.put("long.txt", format!("needle{}\n", "é".repeat(3000)))
        .await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    assert_eq!(r.matches[0].line.chars().count(), 2000, "{rule}");
    assert!(r.matches[0].line_truncated, "{rule}");
}

/// Results are sorted by path, then line.
pub async fn grep_sorted_by_path_then_line(fx: &Fixture) {
    let rule = "semantics.md grep: results sorted by path, then line";
    for name in ["b/z.txt", "a.txt", "b.txt", "a/y.txt", "B.txt"] {
        fx.put(name, "x\nneedle 1\ny\nneedle 2\n").await;
    }
    let r = grep(fx, under(fx, "needle"), rule).await;
    let keys: Vec<(String, u64)> = r
        .matches
        .iter()
        .map(|m| (m.path.to_string(), m.line_number))
        .collect();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(keys, expected, "{rule}");
    assert_eq!(keys.len(), 10, "{rule}");
}

/// Lines are 1-based and come without their line ending.
pub async fn grep_line_numbers_and_endings(fx: &Fixture) {
    let rule = "semantics.md grep: 1-based line numbers, lines without their ending";
    fx.put("n.txt", "zero\r\nneedle one\r\nthree\nneedle two")
        .await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("n.txt", 2, "needle one"), hit("n.txt", 4, "needle two")],
        "{rule}"
    );
}

/// The search path may be a single file.
pub async fn grep_single_file_path(fx: &Fixture) {
    let rule = "semantics.md grep: searches the file or directory at `path`";
    fx.put("one.txt", "needle\n").await;
    fx.put("two.txt", "needle\n").await;
    let r = grep(
        fx,
        GrepRequest::new("needle").path(fx.path("one.txt")),
        rule,
    )
    .await;
    assert_eq!(hits(fx, &r), [hit("one.txt", 1, "needle")], "{rule}");
}

/// Only files under the search path are searched.
pub async fn grep_limited_to_search_path(fx: &Fixture) {
    let rule = "semantics.md grep: searches every file under the path";
    fx.put("in/a.txt", "needle\n").await;
    fx.put("in/deep/b.txt", "needle\n").await;
    fx.put("inx/c.txt", "needle\n").await;
    let r = grep(fx, GrepRequest::new("needle").path(fx.path("in")), rule).await;
    let paths: Vec<String> = r.matches.iter().map(|m| fx.rel(&m.path)).collect();
    assert_eq!(paths, ["in/a.txt", "in/deep/b.txt"], "{rule}");
}

/// No match is an empty, untruncated result.
pub async fn grep_no_match_is_empty(fx: &Fixture) {
    let rule = "semantics.md grep: no match is not an error";
    fx.put("a.txt", "haystack\n").await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    assert!(r.matches.is_empty() && !r.truncated, "{rule}");
}

/// Several matches on one line count as one matching line.
pub async fn grep_one_match_per_line(fx: &Fixture) {
    let rule = "semantics.md grep: results are matching lines";
    fx.put("a.txt", "needle needle needle\n").await;
    let r = grep(fx, under(fx, "needle"), rule).await;
    assert_eq!(r.matches.len(), 1, "{rule}");
}

/// Unicode text is found and returned intact.
pub async fn grep_unicode(fx: &Fixture) {
    let rule = "semantics.md grep: UTF-8 text";
    fx.put("u.txt", "première ligne\n日本語のテキスト\n").await;
    let r = grep(fx, under(fx, "本語"), rule).await;
    assert_eq!(
        hits(fx, &r),
        [hit("u.txt", 2, "日本語のテキスト")],
        "{rule}"
    );
    let r = grep(fx, under(fx, "PREMIÈRE").case_insensitive(true), rule).await;
    assert_eq!(r.matches.len(), 1, "{rule}: case-insensitive beyond ASCII");
}

/// A `glob` filter that cannot be parsed, or has a `..` segment, is `invalid_pattern`.
pub async fn grep_invalid_glob_filter_is_invalid_pattern(fx: &Fixture) {
    let rule =
        "semantics.md grep: the glob filter follows the glob rules (a bad one → invalid_pattern)";
    fx.put("a.rs", "needle\n").await;
    for filter in ["{unclosed", "../*.rs"] {
        err_kind(
            fx.backend.grep(&under(fx, "needle").glob(filter)).await,
            ErrorKind::InvalidPattern,
            rule,
        );
    }
}
