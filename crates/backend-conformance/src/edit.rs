//! `edit`: exact-match replacement (docs/semantics.md, "Editing").

use backend_core::ErrorKind;

use crate::Fixture;
use crate::check::{err_kind, ok};

const EDIT: &str = "semantics.md edit: exact match, returns the number replaced";

/// One occurrence is replaced and the count is 1.
pub async fn edit_replaces_single_occurrence(fx: &Fixture) {
    fx.put("e.txt", "fn main() {\n    old();\n}\n").await;
    let r = ok(
        fx.backend
            .edit(&fx.path("e.txt"), "old()", "new()", false)
            .await,
        EDIT,
    );
    assert_eq!(r.replacements, 1, "{EDIT}");
    assert_eq!(
        fx.get_text("e.txt").await,
        "fn main() {\n    new();\n}\n",
        "{EDIT}"
    );
}

/// Bytes around the replacement are kept exactly.
pub async fn edit_keeps_the_rest_byte_for_byte(fx: &Fixture) {
    fx.put("e.txt", "  lead\ttab\r\nmid  \nend without newline")
        .await;
    ok(
        fx.backend
            .edit(&fx.path("e.txt"), "mid", "MIDDLE", false)
            .await,
        EDIT,
    );
    assert_eq!(
        fx.get_text("e.txt").await,
        "  lead\ttab\r\nMIDDLE  \nend without newline",
        "{EDIT}: only the match changes"
    );
}

/// No match is `string_not_found` and leaves the file alone.
pub async fn edit_missing_string_is_string_not_found(fx: &Fixture) {
    let rule = "semantics.md edit: no match → string_not_found";
    fx.put("e.txt", "alpha beta\n").await;
    err_kind(
        fx.backend
            .edit(&fx.path("e.txt"), "gamma", "x", false)
            .await,
        ErrorKind::StringNotFound,
        rule,
    );
    err_kind(
        fx.backend
            .edit(&fx.path("e.txt"), "ALPHA", "x", false)
            .await,
        ErrorKind::StringNotFound,
        rule,
    );
    assert_eq!(
        fx.get_text("e.txt").await,
        "alpha beta\n",
        "{rule}: unchanged"
    );
}

/// Several matches without `replace_all` are `multiple_occurrences` with the count.
pub async fn edit_several_matches_is_multiple_occurrences(fx: &Fixture) {
    let rule = "semantics.md edit: several matches without replace_all → multiple_occurrences with the count";
    fx.put("e.txt", "x = 1\nx = 1\nx = 1\n").await;
    let e = err_kind(
        fx.backend
            .edit(&fx.path("e.txt"), "x = 1", "x = 2", false)
            .await,
        ErrorKind::MultipleOccurrences,
        rule,
    );
    let counted = e.context_value("count").map(str::to_owned);
    assert!(
        counted.as_deref() == Some("3") || e.message().contains('3'),
        "{rule}: the error must give the count 3, got {e}"
    );
    assert_eq!(
        fx.get_text("e.txt").await,
        "x = 1\nx = 1\nx = 1\n",
        "{rule}: unchanged"
    );
}

/// `replace_all` replaces every match and returns how many.
pub async fn edit_replace_all_returns_count(fx: &Fixture) {
    let rule = "semantics.md edit: replace_all returns the number replaced";
    fx.put("e.txt", "a-a-a-b-a").await;
    let r = ok(
        fx.backend.edit(&fx.path("e.txt"), "a", "Z", true).await,
        rule,
    );
    assert_eq!(r.replacements, 4, "{rule}");
    assert_eq!(fx.get_text("e.txt").await, "Z-Z-Z-b-Z", "{rule}");
}

/// `replace_all` with a single match replaces it and returns 1.
pub async fn edit_replace_all_single_match(fx: &Fixture) {
    fx.put("e.txt", "only once").await;
    let r = ok(
        fx.backend
            .edit(&fx.path("e.txt"), "once", "twice", true)
            .await,
        EDIT,
    );
    assert_eq!(r.replacements, 1, "{EDIT}");
    assert_eq!(fx.get_text("e.txt").await, "only twice", "{EDIT}");
}

/// A replacement containing the old text is not replaced again.
pub async fn edit_replace_all_does_not_recurse(fx: &Fixture) {
    fx.put("e.txt", "ab ab").await;
    let r = ok(
        fx.backend.edit(&fx.path("e.txt"), "ab", "abab", true).await,
        EDIT,
    );
    assert_eq!(r.replacements, 2, "{EDIT}");
    assert_eq!(fx.get_text("e.txt").await, "abab abab", "{EDIT}");
}

/// In a CRLF file, `old` and `new` written with `\n` are retried with `\r\n`.
pub async fn edit_retries_with_crlf(fx: &Fixture) {
    let rule = "semantics.md edit: when the exact match fails in a CRLF file, old and new are retried with CRLF";
    fx.put("dos.txt", "one\r\ntwo\r\nthree\r\n").await;
    let r = ok(
        fx.backend
            .edit(&fx.path("dos.txt"), "one\ntwo\n", "1\n2\n", false)
            .await,
        rule,
    );
    assert_eq!(r.replacements, 1, "{rule}");
    assert_eq!(
        fx.get_text("dos.txt").await,
        "1\r\n2\r\nthree\r\n",
        "{rule}"
    );
}

/// An exact CRLF match is used as given.
pub async fn edit_exact_crlf_match(fx: &Fixture) {
    fx.put("dos.txt", "a\r\nb\r\n").await;
    ok(
        fx.backend
            .edit(&fx.path("dos.txt"), "a\r\nb", "c\r\nd", false)
            .await,
        EDIT,
    );
    assert_eq!(fx.get_text("dos.txt").await, "c\r\nd\r\n", "{EDIT}");
}

/// An empty `old` is `invalid_argument`.
pub async fn edit_empty_old_is_invalid_argument(fx: &Fixture) {
    let rule = "semantics.md edit: empty old → invalid_argument";
    fx.put("e.txt", "text").await;
    err_kind(
        fx.backend.edit(&fx.path("e.txt"), "", "x", false).await,
        ErrorKind::InvalidArgument,
        rule,
    );
    err_kind(
        fx.backend.edit(&fx.path("e.txt"), "", "x", true).await,
        ErrorKind::InvalidArgument,
        rule,
    );
    assert_eq!(fx.get_text("e.txt").await, "text", "{rule}: unchanged");
}

/// An empty `new` deletes the matched text.
pub async fn edit_empty_new_deletes_text(fx: &Fixture) {
    fx.put("e.txt", "keep DROP keep").await;
    ok(
        fx.backend.edit(&fx.path("e.txt"), " DROP", "", false).await,
        EDIT,
    );
    assert_eq!(fx.get_text("e.txt").await, "keep keep", "{EDIT}");
}

/// Editing a missing file is `file_not_found`.
pub async fn edit_missing_file_is_file_not_found(fx: &Fixture) {
    err_kind(
        fx.backend.edit(&fx.path("none.txt"), "a", "b", false).await,
        ErrorKind::FileNotFound,
        "semantics.md edit: missing file → file_not_found",
    );
    assert!(
        !crate::check::ok(
            backend_core::BackendExt::exists(fx.backend.as_ref(), &fx.path("none.txt")).await,
            "exists"
        ),
        "semantics.md edit: a failed edit creates nothing"
    );
}

/// Editing a directory is `is_directory`.
pub async fn edit_directory_is_directory(fx: &Fixture) {
    fx.put("d/x.txt", "x").await;
    err_kind(
        fx.backend.edit(&fx.path("d"), "x", "y", false).await,
        ErrorKind::IsDirectory,
        "semantics.md edit: a directory → is_directory",
    );
}

/// Editing bytes that are not UTF-8 is `not_a_text_file` and changes nothing.
pub async fn edit_non_utf8_is_not_a_text_file(fx: &Fixture) {
    let rule = "semantics.md edit: text files only; not UTF-8 → not_a_text_file";
    fx.put("bin.dat", b"ab\xffcd").await;
    err_kind(
        fx.backend.edit(&fx.path("bin.dat"), "ab", "x", false).await,
        ErrorKind::NotATextFile,
        rule,
    );
    assert_eq!(fx.get("bin.dat").await, b"ab\xffcd", "{rule}: unchanged");
}

/// Multi-byte text is matched and replaced exactly.
pub async fn edit_unicode(fx: &Fixture) {
    fx.put("u.txt", "naïve café — 日本\n").await;
    ok(
        fx.backend
            .edit(&fx.path("u.txt"), "café — 日本", "tea 🍵", false)
            .await,
        EDIT,
    );
    assert_eq!(fx.get_text("u.txt").await, "naïve tea 🍵\n", "{EDIT}");
}
