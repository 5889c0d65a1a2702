//! `glob` (docs/semantics.md, "Glob").

use backend_core::{ErrorKind, GlobRequest, GlobResult};

use crate::Fixture;
use crate::check::{err_kind, ok, sorted};

const TREE: &[&str] = &[
    "README.md",
    "main.rs",
    "src/lib.rs",
    "src/util.rs",
    "src/bin/tool.rs",
    "src/nested/deep/inner.rs",
    "docs/guide.md",
    "docs/a1.txt",
    "docs/b2.txt",
    "docs/c3.txt",
    "Cargo.toml",
    ".env",
    ".hidden/secret.rs",
    "src/.cache.rs",
];

async fn tree(fx: &Fixture) {
    for path in TREE {
        fx.put(path, path).await;
    }
}

async fn glob(fx: &Fixture, pattern: &str, rule: &str) -> Vec<String> {
    let result = glob_result(fx, GlobRequest::new(pattern).path(fx.root()), rule).await;
    result.files.iter().map(|f| fx.rel(&f.path)).collect()
}

async fn glob_result(fx: &Fixture, request: GlobRequest, rule: &str) -> GlobResult {
    ok(fx.backend.glob(&request).await, rule)
}

/// A pattern without `/` matches the file name at any depth.
pub async fn glob_pattern_without_slash_matches_any_depth(fx: &Fixture) {
    let rule = "semantics.md glob: a pattern without `/` matches the file name at any depth";
    tree(fx).await;
    let found = glob(fx, "*.rs", rule).await;
    assert_eq!(
        found,
        [
            "main.rs",
            "src/bin/tool.rs",
            "src/lib.rs",
            "src/nested/deep/inner.rs",
            "src/util.rs"
        ],
        "{rule} (hidden names excluded)"
    );
}

/// `*` stays within one segment.
pub async fn glob_star_stays_in_one_segment(fx: &Fixture) {
    let rule = "semantics.md glob: `*` stays within one segment";
    tree(fx).await;
    assert_eq!(
        glob(fx, "src/*.rs", rule).await,
        ["src/lib.rs", "src/util.rs"],
        "{rule}"
    );
}

/// `**` spans any number of segments, including none.
pub async fn glob_double_star_spans_segments(fx: &Fixture) {
    let rule = "semantics.md glob: `**` spans segments";
    tree(fx).await;
    assert_eq!(
        glob(fx, "src/**/*.rs", rule).await,
        [
            "src/bin/tool.rs",
            "src/lib.rs",
            "src/nested/deep/inner.rs",
            "src/util.rs"
        ],
        "{rule}"
    );
    assert_eq!(
        glob(fx, "**/deep/*.rs", rule).await,
        ["src/nested/deep/inner.rs"],
        "{rule}"
    );
}

/// `{a,b}` alternates.
pub async fn glob_braces_alternate(fx: &Fixture) {
    let rule = "semantics.md glob: `{a,b}` alternates";
    tree(fx).await;
    assert_eq!(
        glob(fx, "*.{md,toml}", rule).await,
        ["Cargo.toml", "README.md", "docs/guide.md"],
        "{rule}"
    );
    assert_eq!(
        glob(fx, "{src/bin,docs}/*", rule).await,
        [
            "docs/a1.txt",
            "docs/b2.txt",
            "docs/c3.txt",
            "docs/guide.md",
            "src/bin/tool.rs"
        ],
        "{rule}"
    );
}

/// `[...]` classes and `?` match one character of one segment.
pub async fn glob_classes_and_question_mark(fx: &Fixture) {
    let rule = "semantics.md glob: `[...]` and `?` match one character";
    tree(fx).await;
    assert_eq!(
        glob(fx, "docs/[ab]?.txt", rule).await,
        ["docs/a1.txt", "docs/b2.txt"],
        "{rule}"
    );
    assert_eq!(
        glob(fx, "docs/[!ab]*.txt", rule).await,
        ["docs/c3.txt"],
        "{rule}"
    );
    assert_eq!(
        glob(fx, "docs/?.txt", rule).await,
        Vec::<String>::new(),
        "{rule}"
    );
}

/// A leading `.` is only matched by a pattern segment starting with `.`.
pub async fn glob_wildcards_skip_hidden_names(fx: &Fixture) {
    let rule = "semantics.md glob: a leading `.` is matched only by a segment that starts with `.`";
    tree(fx).await;
    let everything = glob(fx, "**", rule).await;
    for hidden in [".env", ".hidden/secret.rs", "src/.cache.rs"] {
        assert!(
            !everything.contains(&hidden.to_owned()),
            "{rule}: `**` matched {hidden}"
        );
    }
    assert_eq!(
        everything.len(),
        TREE.len() - 3,
        "{rule}: `**` matches every other file"
    );
    assert_eq!(
        glob(fx, "*", rule).await.len(),
        TREE.len() - 3,
        "{rule}: `*`"
    );
}

/// A pattern segment starting with `.` matches hidden names.
pub async fn glob_dot_pattern_matches_hidden(fx: &Fixture) {
    let rule = "semantics.md glob: a segment that starts with `.` matches hidden names";
    tree(fx).await;
    assert_eq!(
        glob(fx, ".*", rule).await,
        [".env", "src/.cache.rs"],
        "{rule}"
    );
    assert_eq!(
        glob(fx, ".hidden/*.rs", rule).await,
        [".hidden/secret.rs"],
        "{rule}"
    );
    assert_eq!(glob(fx, ".env", rule).await, [".env"], "{rule}");
}

/// A `..` segment in the pattern is `invalid_pattern`.
pub async fn glob_dotdot_pattern_is_invalid_pattern(fx: &Fixture) {
    let rule = "semantics.md glob: a `..` segment → invalid_pattern";
    tree(fx).await;
    for pattern in ["../*", "src/../*.rs", "..", "{src,..}/*"] {
        let request = GlobRequest::new(pattern).path(fx.path("src"));
        err_kind(
            fx.backend.glob(&request).await,
            ErrorKind::InvalidPattern,
            rule,
        );
    }
}

/// A malformed pattern is `invalid_pattern`.
pub async fn glob_malformed_pattern_is_invalid_pattern(fx: &Fixture) {
    let rule = "semantics.md glob: a pattern that cannot be parsed → invalid_pattern";
    for pattern in ["{unclosed", "[unclosed", ""] {
        let request = GlobRequest::new(pattern).path(fx.root());
        err_kind(
            fx.backend.glob(&request).await,
            ErrorKind::InvalidPattern,
            rule,
        );
    }
}

/// Results are sorted by path.
pub async fn glob_results_sorted(fx: &Fixture) {
    let rule = "semantics.md glob: sorted by path";
    for name in ["z.txt", "a/z.txt", "m.txt", "a.txt", "B.txt", "a/b/c.txt"] {
        fx.put(name, "x").await;
    }
    let found = glob(fx, "*.txt", rule).await;
    sorted(&found, rule);
    assert_eq!(found.len(), 6, "{rule}");
}

/// More matches than `limit` gives `limit` sorted files and `truncated`.
pub async fn glob_limit_truncates(fx: &Fixture) {
    let rule = "semantics.md glob: capped with a truncated flag";
    for i in 0..10 {
        fx.put(&format!("f{i}.log"), "x").await;
    }
    let r = glob_result(fx, GlobRequest::new("*.log").path(fx.root()).limit(4), rule).await;
    let found: Vec<String> = r.files.iter().map(|f| fx.rel(&f.path)).collect();
    assert_eq!(found.len(), 4, "{rule}: limit 4 returns 4 files");
    assert!(r.truncated, "{rule}: truncated must be set");
    sorted(&found, rule);
}

/// Exactly `limit` matches is not truncated.
pub async fn glob_exact_limit_not_truncated(fx: &Fixture) {
    let rule = "semantics.md glob: truncated only when more matched than the cap";
    for i in 0..4 {
        fx.put(&format!("f{i}.log"), "x").await;
    }
    let r = glob_result(fx, GlobRequest::new("*.log").path(fx.root()).limit(4), rule).await;
    assert_eq!(r.files.len(), 4, "{rule}");
    assert!(
        !r.truncated,
        "{rule}: 4 matches with limit 4 are not truncated"
    );
}

/// Matching is relative to the search path, and only files under it count.
pub async fn glob_relative_to_search_path(fx: &Fixture) {
    let rule = "semantics.md glob: files under `path` whose path relative to `path` matches";
    tree(fx).await;
    let request = GlobRequest::new("*/*.rs").path(fx.path("src"));
    let r = glob_result(fx, request, rule).await;
    let found: Vec<String> = r.files.iter().map(|f| fx.rel(&f.path)).collect();
    assert_eq!(found, ["src/bin/tool.rs"], "{rule}");
    assert!(
        !r.files.is_empty() && r.files.iter().all(|f| !f.is_dir),
        "{rule}: files only"
    );
}

/// Directories are not returned, even when their names match.
pub async fn glob_returns_files_only(fx: &Fixture) {
    let rule = "semantics.md glob: files (not directories) are returned";
    fx.put("thing.d/inner.txt", "x").await;
    fx.put("other.d", "a file").await;
    assert_eq!(glob(fx, "*.d", rule).await, ["other.d"], "{rule}");
}

/// No match is an empty, untruncated result.
pub async fn glob_no_match_is_empty(fx: &Fixture) {
    let rule = "semantics.md glob: no match is not an error";
    tree(fx).await;
    let r = glob_result(fx, GlobRequest::new("*.nothing").path(fx.root()), rule).await;
    assert!(r.files.is_empty() && !r.truncated, "{rule}");
}

/// Names containing `..` are matched like any other name.
pub async fn glob_matches_names_containing_dotdot(fx: &Fixture) {
    let rule = "semantics.md glob: `a..b` is an ordinary name";
    fx.put("v1..v2.txt", "x").await;
    assert_eq!(glob(fx, "v1..v2.txt", rule).await, ["v1..v2.txt"], "{rule}");
    assert_eq!(glob(fx, "*..*", rule).await, ["v1..v2.txt"], "{rule}");
}

/// Files in hidden directories are not reached by `**`, but are by a `.` segment.
pub async fn glob_double_star_skips_hidden_directories(fx: &Fixture) {
    let rule = "semantics.md glob: `**` does not enter hidden directories";
    tree(fx).await;
    assert!(
        !glob(fx, "**/*.rs", rule)
            .await
            .contains(&".hidden/secret.rs".to_owned()),
        "{rule}"
    );
    assert_eq!(
        glob(fx, "**/.hidden/*", rule).await,
        [".hidden/secret.rs"],
        "{rule}"
    );
}
