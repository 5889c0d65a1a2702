//! grep's `offset`/`head_limit` paging, its separate before/after context,
//! and the note that says how to get the next page; glob's cut note and
//! `newest_first`.

use std::sync::Arc;

use backend_core::BackendExt;
use backend_state::StateBackend;
use backend_tools::{OutputLimits, Toolset};
use serde_json::{Value, json};

async fn tools(files: &[(&str, &str)], max_output_chars: usize) -> Toolset {
    let backend = Arc::new(StateBackend::new());
    for (path, content) in files {
        backend.write_str(path, content).await.expect("seed");
    }
    Toolset::new(backend).limits(OutputLimits {
        max_output_chars,
        ..OutputLimits::default()
    })
}

fn numbered(n: usize) -> String {
    (1..=n).map(|i| format!("hit {i}\n")).collect()
}

async fn grep(tools: &Toolset, arguments: Value) -> backend_tools::ToolOutput {
    let out = tools.call("grep", &arguments).await;
    assert!(!out.is_error, "{}", out.text);
    out
}

#[tokio::test]
async fn head_limit_and_offset_page_through_matching_lines() {
    let tools = tools(&[("/a.txt", &numbered(10))], 40_000).await;
    let first = grep(
        &tools,
        json!({"pattern": "hit", "output_mode": "content", "head_limit": 4}),
    )
    .await;
    assert!(
        first
            .text
            .starts_with("/a.txt:1:hit 1\n/a.txt:2:hit 2\n/a.txt:3:hit 3\n/a.txt:4:hit 4\n[Showing matching lines 1-4 of 10. To see more, call grep again with offset=4"),
        "{}",
        first.text
    );
    assert_eq!(first.structured["next_offset"], json!(4));
    let last = grep(
        &tools,
        json!({"pattern": "hit", "output_mode": "content", "offset": 8, "head_limit": 4}),
    )
    .await;
    assert_eq!(last.text, "/a.txt:9:hit 9\n/a.txt:10:hit 10\n");
    assert_eq!(last.structured["next_offset"], Value::Null);
}

#[tokio::test]
async fn a_cut_at_the_output_budget_gives_the_offset_that_continues_it() {
    let tools = tools(&[("/a.txt", &numbered(100))], 200).await;
    let mut offset = 0;
    let mut seen = Vec::new();
    for _ in 0..50 {
        let out = grep(
            &tools,
            json!({"pattern": "hit", "output_mode": "content", "offset": offset}),
        )
        .await;
        seen.extend(
            out.text
                .lines()
                .filter(|l| l.starts_with("/a.txt:"))
                .map(str::to_owned),
        );
        match out.structured["next_offset"].as_u64() {
            Some(next) => {
                assert!(
                    out.text.contains("Output cut at 200 characters"),
                    "{}",
                    out.text
                );
                assert!(out.text.contains(&format!("offset={next}")), "{}", out.text);
                offset = next;
            }
            None => break,
        }
    }
    let expected: Vec<String> = (1..=100).map(|i| format!("/a.txt:{i}:hit {i}")).collect();
    assert_eq!(seen, expected, "paging lost or repeated lines");
}

#[tokio::test]
async fn files_mode_pages_by_file() {
    let tools = tools(
        &[
            ("/a.txt", "hit\n"),
            ("/b.txt", "hit\n"),
            ("/c.txt", "hit\n"),
        ],
        40_000,
    )
    .await;
    let out = grep(
        &tools,
        json!({"pattern": "hit", "offset": 1, "head_limit": 1}),
    )
    .await;
    assert!(
        out.text.starts_with("/b.txt\n[Showing files 2-2 of 3"),
        "{}",
        out.text
    );
    assert_eq!(out.structured["files"], json!(["/b.txt"]));
}

#[tokio::test]
async fn before_and_after_context_are_separate() {
    let tools = tools(&[("/a.txt", "one\ntwo\nmatch\nfour\nfive\n")], 40_000).await;
    let out = grep(
        &tools,
        json!({"pattern": "match", "output_mode": "content", "before_context": 2, "after_context": 0}),
    )
    .await;
    assert_eq!(out.text, "/a.txt-1-one\n/a.txt-2-two\n/a.txt:3:match\n");
    let out = grep(
        &tools,
        json!({"pattern": "match", "output_mode": "content", "context": 2, "after_context": 1}),
    )
    .await;
    assert_eq!(
        out.text,
        "/a.txt-1-one\n/a.txt-2-two\n/a.txt:3:match\n/a.txt-4-four\n"
    );
}

#[tokio::test]
async fn glob_newest_first_sorts_by_modification_time() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let now = std::time::SystemTime::now();
    for (name, age_secs) in [("a.txt", 300), ("b.txt", 100), ("c.txt", 200)] {
        let path = dir.path().join(name);
        std::fs::write(&path, "x").expect("seed");
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_modified(now - std::time::Duration::from_secs(age_secs))
            .expect("set the time");
    }
    let sandbox = backend_local::LocalSandbox::new(dir.path()).expect("a local sandbox");
    let tools = Toolset::with_sandbox(Arc::new(sandbox));
    let out = tools
        .call("glob", &json!({"pattern": "*.txt", "newest_first": true}))
        .await;
    assert_eq!(out.text, "/b.txt\n/c.txt\n/a.txt\n");
    let out = tools.call("glob", &json!({"pattern": "*.txt"})).await;
    assert_eq!(out.text, "/a.txt\n/b.txt\n/c.txt\n");
}

#[tokio::test]
async fn a_cut_glob_gives_the_total_and_how_to_narrow() {
    let files: Vec<(String, String)> = (0..100)
        .map(|i| (format!("/d/f{i:03}.txt"), String::new()))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let tools = tools(&refs, 200).await;
    let out = tools.call("glob", &json!({"pattern": "**/*.txt"})).await;
    assert!(
        out.text
            .contains("of 100 files. Use a narrower pattern or path"),
        "{}",
        out.text
    );
    assert_eq!(out.structured["total"], json!(100));
}
