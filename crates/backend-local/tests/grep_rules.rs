//! grep on disk (grep-searcher over the parallel walker) gives exactly what
//! the shared rules in `backend_core::GrepMatcher` give for the same bytes.

// Helpers here are test code too; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use backend_core::{Backend, GrepCollector, GrepMatcher, GrepRequest, GrepResult, VirtualPath};
use backend_local::{LocalBackend, LocalOptions};
use proptest::prelude::*;

/// What the shared rules say for one file holding `content`.
fn reference(request: &GrepRequest, files: &[(&str, &[u8])]) -> GrepResult {
    let matcher = GrepMatcher::new(request).unwrap();
    let mut collector = GrepCollector::new(request);
    let mut sorted: Vec<_> = files.to_vec();
    sorted.sort();
    for (path, content) in sorted {
        let path = VirtualPath::parse(path).unwrap();
        if matcher.wants(&path.as_str()[1..]) {
            collector.search(&matcher, &path, content);
        }
    }
    collector.finish()
}

fn on_disk(request: &GrepRequest, files: &[(&str, &[u8])]) -> GrepResult {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let host = dir.path().join(&path[1..]);
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(host, content).unwrap();
    }
    let backend = LocalBackend::new(dir.path()).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(backend.grep(request))
        .unwrap()
}

const PIECES: &[&str] = &[
    "a", "b", "ab", "AB", " ", "\n", "\n", "\r\n", "\r", "é", "É", "x.y", "\t", "foo", "Foo",
];

const PATTERNS: &[(&str, bool)] = &[
    ("a", false),
    ("ab", false),
    ("x.y", false),
    ("é", false),
    ("foo", false),
    ("a b", false),
    ("a\r", false),
    ("a.b", true),
    ("^a", true),
    ("b$", true),
    ("^$", true),
    ("\\bab\\b", true),
    ("a|é", true),
    ("[ab]+", true),
    ("\\s", true),
    ("f[o]+$", true),
    ("(?i)foo", true),
    ("\\Aa", true),
    ("b\\z", true),
    ("a\\nb", true),
];

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40)
        .prop_map(|pieces| pieces.concat().into_bytes())
}

fn request() -> impl Strategy<Value = GrepRequest> {
    (
        prop::sample::select(PATTERNS),
        any::<bool>(),
        0usize..3,
        0usize..3,
        prop::option::of(1usize..6),
        prop::option::of(1usize..8),
    )
        .prop_map(
            |((pattern, regex), ci, before, after, max_count, max_chars)| {
                let mut r = GrepRequest::new(pattern)
                    .regex(regex)
                    .case_insensitive(ci)
                    .context_lines(before, after);
                if let Some(n) = max_count {
                    r = r.max_count(n);
                }
                if let Some(n) = max_chars {
                    r = r.max_line_chars(n);
                }
                r
            },
        )
}

/// The shared matcher reports an empty "line" after a final newline when the
/// pattern matches the empty string (a quirk reported to its owner); disk
/// grep follows the line count instead, so such inputs are left out here.
fn phantom_line_possible(request: &GrepRequest, content: &[u8]) -> bool {
    let matcher = GrepMatcher::new(request).unwrap();
    (content.is_empty() || content.ends_with(b"\n")) && matcher.regex().is_match(b"")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn one_file_matches_the_shared_rules(request in request(), a in content()) {
        prop_assume!(!phantom_line_possible(&request, &a));
        let files: &[(&str, &[u8])] = &[("/f.txt", &a)];
        prop_assert_eq!(on_disk(&request, files), reference(&request, files));
    }

    #[test]
    fn several_files_match_the_shared_rules(
        request in request(),
        a in content(),
        b in content(),
        c in content(),
    ) {
        prop_assume!([&a, &b, &c].iter().all(|x| !phantom_line_possible(&request, x)));
        let files: &[(&str, &[u8])] = &[("/z.txt", &a), ("/d/a.txt", &b), ("/d-e/b.txt", &c)];
        prop_assert_eq!(on_disk(&request, files), reference(&request, files));
    }
}

#[test]
fn max_count_applies_across_files_in_path_order() {
    let files: &[(&str, &[u8])] = &[
        ("/b.txt", b"hit\nhit\n"),
        ("/a/x.txt", b"hit\n"),
        ("/c.txt", b"hit\n"),
    ];
    let request = GrepRequest::new("hit").max_count(3);
    let result = on_disk(&request, files);
    let got: Vec<_> = result
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.line_number))
        .collect();
    assert_eq!(got, [("/a/x.txt", 1), ("/b.txt", 1), ("/b.txt", 2)]);
    assert!(result.truncated);
    let exact = on_disk(&GrepRequest::new("hit").max_count(4), files);
    assert!(!exact.truncated);
}

#[test]
fn binary_files_and_git_directories_are_skipped_hidden_files_are_not() {
    let mut late_nul = vec![b'a'; 9000];
    late_nul.extend_from_slice(b"\0\nhit\n");
    let files: &[(&str, &[u8])] = &[
        ("/bin.dat", b"hit\0\n"),
        ("/late.dat", &late_nul),
        ("/.env", b"hit\n"),
        ("/.git/config", b"hit\n"),
        ("/sub/.git/x", b"hit\n"),
    ];
    let result = on_disk(&GrepRequest::new("hit"), files);
    let got: Vec<_> = result.matches.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(got, ["/.env", "/late.dat"]);
    assert_eq!(result, reference(&GrepRequest::new("hit"), files));
}

#[test]
fn the_glob_filter_uses_the_shared_glob_rules() {
    let files: &[(&str, &[u8])] = &[
        ("/src/a.rs", b"hit\n"),
        ("/src/.b.rs", b"hit\n"),
        ("/a.py", b"hit\n"),
    ];
    let request = GrepRequest::new("hit").glob("*.rs");
    assert_eq!(on_disk(&request, files), reference(&request, files));
    assert_eq!(on_disk(&request, files).matches.len(), 1);
}

#[test]
fn gitignore_is_honoured_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".gitignore"), "ignored.txt\n").unwrap();
    std::fs::write(dir.path().join("ignored.txt"), "hit\n").unwrap();
    std::fs::write(dir.path().join("kept.txt"), "hit\n").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let plain = LocalBackend::new(dir.path()).unwrap();
    let honouring =
        LocalBackend::with_options(dir.path(), LocalOptions::default().git_ignore(true)).unwrap();
    let count = |b: &LocalBackend| {
        rt.block_on(b.grep(&GrepRequest::new("hit")))
            .unwrap()
            .matches
            .len()
    };
    assert_eq!(count(&plain), 2);
    assert_eq!(count(&honouring), 1);
}
