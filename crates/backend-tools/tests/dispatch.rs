//! The dispatcher, tool by tool, against the in-memory backend (and a local
//! sandbox for `execute`): argument validation, output formats, paging,
//! truncation and permissions.

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{Backend, BackendExt};
use backend_local::LocalSandbox;
use backend_state::StateBackend;
use backend_tools::{
    Access, Action, ApprovalRequest, Approver, OutputLimits, Permissions, ToolOutput, Toolset,
};
use serde_json::{Value, json};

async fn tools_with(files: &[(&str, &str)]) -> Toolset {
    let backend = Arc::new(StateBackend::new());
    for (path, content) in files {
        backend
            .write_str(path, content)
            .await
            .expect("seeding the state backend");
    }
    Toolset::new(backend)
}

async fn call(tools: &Toolset, name: &str, args: Value) -> ToolOutput {
    tools.call(name, &args).await
}

fn limits(max_output_chars: usize, max_line_chars: usize) -> OutputLimits {
    OutputLimits {
        max_output_chars,
        max_line_chars,
    }
}

fn assert_error(out: &ToolOutput, code: &str, fragments: &[&str]) {
    assert!(out.is_error, "expected an error, got: {}", out.text);
    assert!(
        out.text.starts_with(&format!("Error [{code}]: ")),
        "wrong code or format: {}",
        out.text
    );
    assert_eq!(
        out.text.lines().count(),
        1,
        "errors are one line: {}",
        out.text
    );
    assert_eq!(out.error_code(), Some(code));
    for fragment in fragments {
        assert!(
            out.text.contains(fragment),
            "{fragment:?} not in {}",
            out.text
        );
    }
}

fn numbered(lines: std::ops::RangeInclusive<usize>) -> String {
    lines.map(|n| format!("line {n}\n")).collect()
}

// ---- schemas and validation ----

#[tokio::test]
async fn every_schema_requires_its_required_fields_and_forbids_others() {
    let dir = tempfile::tempdir().unwrap();
    let tools = Toolset::with_sandbox(Arc::new(LocalSandbox::new(dir.path()).unwrap()));
    let specs = tools.tools();
    let names: Vec<&str> = specs.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "ls",
            "read_file",
            "write_file",
            "edit_file",
            "delete",
            "glob",
            "grep",
            "execute"
        ]
    );
    let required = |name: &str| {
        let spec = specs.iter().find(|t| t.name == name).unwrap();
        assert_eq!(spec.input_schema["additionalProperties"], json!(false));
        assert!(!spec.description.is_empty());
        spec.input_schema["required"].clone()
    };
    assert_eq!(required("ls"), json!([]));
    assert_eq!(required("read_file"), json!(["file_path"]));
    assert_eq!(required("write_file"), json!(["file_path", "content"]));
    assert_eq!(
        required("edit_file"),
        json!(["file_path", "old_string", "new_string"])
    );
    assert_eq!(required("delete"), json!(["file_path"]));
    assert_eq!(required("glob"), json!(["pattern"]));
    assert_eq!(required("grep"), json!(["pattern"]));
    assert_eq!(required("execute"), json!(["command"]));
}

#[tokio::test]
async fn a_missing_required_argument_is_named() {
    let tools = tools_with(&[]).await;
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a", "old_string": "x"}),
    )
    .await;
    assert_error(
        &out,
        "invalid_argument",
        &["edit_file", "`new_string`", "a string"],
    );
}

#[tokio::test]
async fn a_mistyped_argument_is_named_with_the_expected_type() {
    let tools = tools_with(&[("/a.txt", "x\n")]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "offset": "10"}),
    )
    .await;
    assert_error(
        &out,
        "invalid_argument",
        &["`offset`", "an integer", "a string \"10\""],
    );
    let out = call(
        &tools,
        "delete",
        json!({"file_path": "/a.txt", "recursive": "yes"}),
    )
    .await;
    assert_error(&out, "invalid_argument", &["`recursive`", "a boolean"]);
}

#[tokio::test]
async fn a_negative_offset_is_refused() {
    let tools = tools_with(&[("/a.txt", "x\n")]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "offset": -1}),
    )
    .await;
    assert_error(&out, "invalid_argument", &["`offset`", ">= 0"]);
}

#[tokio::test]
async fn an_unknown_argument_is_refused_listing_the_known_ones() {
    let tools = tools_with(&[]).await;
    let out = call(&tools, "read_file", json!({"path": "/a.txt"})).await;
    assert_error(
        &out,
        "invalid_argument",
        &["unknown argument `path`", "`file_path`"],
    );
}

#[tokio::test]
async fn arguments_that_are_not_an_object_are_refused() {
    let tools = tools_with(&[]).await;
    let out = call(&tools, "ls", json!(["/"])).await;
    assert_error(&out, "invalid_argument", &["JSON object", "an array"]);
}

#[tokio::test]
async fn grep_output_mode_must_be_a_known_mode() {
    let tools = tools_with(&[]).await;
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "x", "output_mode": "lines"}),
    )
    .await;
    assert_error(
        &out,
        "invalid_argument",
        &["`output_mode`", "`files_with_matches`", "`count`"],
    );
}

#[tokio::test]
async fn an_unknown_tool_lists_the_tools() {
    let tools = tools_with(&[]).await;
    let out = call(&tools, "cat", json!({})).await;
    assert_error(&out, "unsupported", &["\"cat\"", "read_file", "grep"]);
}

#[tokio::test]
async fn execute_is_not_offered_without_a_sandbox() {
    let tools = tools_with(&[]).await;
    assert!(tools.tools().iter().all(|t| t.name != "execute"));
    let out = call(&tools, "execute", json!({"command": "ls"})).await;
    assert_error(&out, "unsupported", &["no sandbox"]);
}

#[tokio::test]
async fn a_path_that_climbs_out_is_invalid_path() {
    let tools = tools_with(&[]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a/../../etc/passwd"}),
    )
    .await;
    assert_error(&out, "invalid_path", &[]);
}

// ---- ls ----

#[tokio::test]
async fn ls_marks_directories_and_shows_file_sizes() {
    let tools = tools_with(&[("/src/main.rs", "fn main() {}\n"), ("/README.md", "hi\n")]).await;
    let out = call(&tools, "ls", json!({})).await;
    assert_eq!(out.text, "/README.md (3 bytes)\n/src/\n");
    assert_eq!(out.structured["entries"][1]["path"], json!("/src"));
    assert_eq!(out.structured["entries"][1]["is_dir"], json!(true));
    assert_eq!(out.structured["entries"][0]["size"], json!(3));
}

#[tokio::test]
async fn ls_of_a_missing_directory_is_file_not_found() {
    let tools = tools_with(&[]).await;
    let out = call(&tools, "ls", json!({"path": "/nope"})).await;
    assert_error(&out, "file_not_found", &["/nope"]);
    assert_eq!(out.structured["error"]["path"], json!("/nope"));
}

// ---- read_file ----

#[tokio::test]
async fn read_file_numbers_lines_like_cat_n() {
    let tools = tools_with(&[("/a.txt", "alpha\nbeta\r\n\ngamma")]).await;
    let out = call(&tools, "read_file", json!({"file_path": "/a.txt"})).await;
    assert_eq!(
        out.text,
        "     1\talpha\n     2\tbeta\n     3\t\n     4\tgamma\n"
    );
    assert_eq!(out.structured["content"], json!("alpha\nbeta\r\n\ngamma"));
    assert_eq!(out.structured["total_lines"], json!(4));
    assert_eq!(out.structured["next_offset"], Value::Null);
}

#[tokio::test]
async fn read_file_gives_the_next_offset_when_lines_remain() {
    let tools = tools_with(&[("/a.txt", &numbered(1..=10))]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "limit": 3}),
    )
    .await;
    assert!(
        out.text
            .starts_with("     1\tline 1\n     2\tline 2\n     3\tline 3\n"),
        "{}",
        out.text
    );
    assert!(out.text.contains("Showing lines 1-3 of 10"), "{}", out.text);
    assert!(out.text.contains("offset=3"), "{}", out.text);
    assert_eq!(out.structured["next_offset"], json!(3));
}

#[tokio::test]
async fn read_file_at_the_hinted_offset_continues_with_the_next_line() {
    let tools = tools_with(&[("/a.txt", &numbered(1..=10))]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "offset": 8, "limit": 5}),
    )
    .await;
    assert_eq!(out.text, "     9\tline 9\n    10\tline 10\n");
    assert_eq!(out.structured["first_line"], json!(9));
    assert_eq!(out.structured["last_line"], json!(10));
}

#[tokio::test]
async fn read_file_cuts_long_lines_with_a_marker() {
    let long = "x".repeat(50);
    let backend = Arc::new(StateBackend::new());
    backend
        .write_str("/a.txt", &format!("{long}\nshort\n"))
        .await
        .unwrap();
    let tools = Toolset::new(backend).limits(limits(10_000, 20));
    let out = call(&tools, "read_file", json!({"file_path": "/a.txt"})).await;
    let first = out.text.lines().next().unwrap();
    assert_eq!(
        first,
        format!("     1\t{}… [line cut: 30 more characters]", "x".repeat(20))
    );
    assert!(out.text.contains("     2\tshort\n"));
    assert_eq!(out.structured["cut_lines"], json!([1]));
}

#[tokio::test]
async fn read_file_over_the_size_limit_is_cut_at_whole_lines_with_the_offset_to_continue() {
    let backend = Arc::new(StateBackend::new());
    backend
        .write_str("/a.txt", &numbered(1..=100))
        .await
        .unwrap();
    // A numbered line here is about 16 characters, so 60 hold three or four.
    let tools = Toolset::new(backend).limits(limits(60, 2000));
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "offset": 10}),
    )
    .await;
    let shown: Vec<&str> = out.text.lines().filter(|l| l.contains('\t')).collect();
    assert!(!shown.is_empty() && shown.len() < 10, "{}", out.text);
    let next = 10 + shown.len();
    assert!(
        shown.last().unwrap().ends_with(&format!("\tline {next}")),
        "whole lines only: {}",
        out.text
    );
    assert!(out.text.contains(&format!("offset={next}")), "{}", out.text);
    assert!(
        out.text.contains("Output cut at 60 characters"),
        "{}",
        out.text
    );
    assert_eq!(out.structured["next_offset"], json!(next));
    assert_eq!(out.structured["output_cut"], json!(true));
}

#[tokio::test]
async fn read_file_of_an_empty_file_says_it_is_empty() {
    let tools = tools_with(&[("/empty.txt", "")]).await;
    let out = call(&tools, "read_file", json!({"file_path": "/empty.txt"})).await;
    assert!(!out.is_error);
    assert_eq!(out.text, "[/empty.txt is empty.]\n");
}

#[tokio::test]
async fn read_file_past_the_end_is_invalid_argument() {
    let tools = tools_with(&[("/a.txt", "one\n")]).await;
    let out = call(
        &tools,
        "read_file",
        json!({"file_path": "/a.txt", "offset": 5}),
    )
    .await;
    assert_error(&out, "invalid_argument", &["offset 5"]);
}

// ---- write_file, edit_file, delete ----

#[tokio::test]
async fn write_file_creates_the_file_with_its_parents() {
    let tools = tools_with(&[]).await;
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/a/b/c.txt", "content": "hello"}),
    )
    .await;
    assert_eq!(out.text, "Wrote 5 bytes to /a/b/c.txt\n");
    assert_eq!(
        tools.backend().read_to_string("/a/b/c.txt").await.unwrap(),
        "hello"
    );
}

#[tokio::test]
async fn edit_file_replaces_exactly_one_occurrence() {
    let tools = tools_with(&[("/a.txt", "let x = 1;\nlet y = 2;\n")]).await;
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "x = 1", "new_string": "x = 10"}),
    )
    .await;
    assert_eq!(out.text, "Replaced 1 occurrence in /a.txt\n");
    assert_eq!(out.structured["replacements"], json!(1));
    assert_eq!(
        tools.backend().read_to_string("/a.txt").await.unwrap(),
        "let x = 10;\nlet y = 2;\n"
    );
}

#[tokio::test]
async fn edit_file_with_several_occurrences_needs_replace_all() {
    let tools = tools_with(&[("/a.txt", "a a a")]).await;
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "a", "new_string": "b"}),
    )
    .await;
    assert_error(&out, "multiple_occurrences", &["3"]);
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "a", "new_string": "b", "replace_all": true}),
    )
    .await;
    assert_eq!(out.text, "Replaced 3 occurrences in /a.txt\n");
}

#[tokio::test]
async fn edit_file_without_a_match_is_string_not_found() {
    let tools = tools_with(&[("/a.txt", "abc")]).await;
    let out = call(
        &tools,
        "edit_file",
        json!({"file_path": "/a.txt", "old_string": "zzz", "new_string": "y"}),
    )
    .await;
    assert_error(&out, "string_not_found", &[]);
}

#[tokio::test]
async fn delete_of_a_directory_needs_recursive() {
    let tools = tools_with(&[("/d/a.txt", "x")]).await;
    let out = call(&tools, "delete", json!({"file_path": "/d"})).await;
    assert!(out.is_error, "{}", out.text);
    assert!(tools.backend().exists("/d/a.txt").await.unwrap());
    let out = call(
        &tools,
        "delete",
        json!({"file_path": "/d", "recursive": true}),
    )
    .await;
    assert_eq!(out.text, "Deleted /d\n");
    assert!(!tools.backend().exists("/d/a.txt").await.unwrap());
}

// ---- glob ----

#[tokio::test]
async fn glob_lists_matching_paths_in_order() {
    let tools = tools_with(&[
        ("/src/b.rs", ""),
        ("/src/a.rs", ""),
        ("/src/c.txt", ""),
        ("/x/y/z.rs", ""),
    ])
    .await;
    let out = call(&tools, "glob", json!({"pattern": "*.rs"})).await;
    assert_eq!(out.text, "/src/a.rs\n/src/b.rs\n/x/y/z.rs\n");
    assert_eq!(
        out.structured["files"],
        json!(["/src/a.rs", "/src/b.rs", "/x/y/z.rs"])
    );
    let out = call(&tools, "glob", json!({"pattern": "*.rs", "path": "/x"})).await;
    assert_eq!(out.text, "/x/y/z.rs\n");
}

#[tokio::test]
async fn glob_without_matches_says_so() {
    let tools = tools_with(&[("/a.txt", "")]).await;
    let out = call(&tools, "glob", json!({"pattern": "*.rs"})).await;
    assert!(!out.is_error);
    assert_eq!(out.text, "No files match \"*.rs\" under /\n");
}

#[tokio::test]
async fn glob_output_over_the_limit_is_cut_with_a_note() {
    let backend = Arc::new(StateBackend::new());
    for i in 0..50 {
        backend
            .write_str(&format!("/f{i:02}.txt"), "")
            .await
            .unwrap();
    }
    let tools = Toolset::new(backend).limits(limits(100, 2000));
    let out = call(&tools, "glob", json!({"pattern": "*.txt"})).await;
    assert!(
        out.text.contains("[Output cut: showing 11 of 50 files"),
        "{}",
        out.text
    );
    assert!(out.text.starts_with("/f00.txt\n"));
    assert_eq!(out.structured["truncated"], json!(true));
}

// ---- grep ----

const GREP_FILES: [(&str, &str); 3] = [
    (
        "/src/a.rs",
        "one\ntwo TODO\nthree\nfour\nfive\nsix TODO\nseven\n",
    ),
    ("/src/b.rs", "todo lower\nTODO upper\n"),
    ("/notes.md", "nothing here\n"),
];

#[tokio::test]
async fn grep_lists_matching_files_by_default() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(&tools, "grep", json!({"pattern": "TODO"})).await;
    assert_eq!(out.text, "/src/a.rs\n/src/b.rs\n");
    assert_eq!(out.structured["files"], json!(["/src/a.rs", "/src/b.rs"]));
}

#[tokio::test]
async fn grep_content_shows_line_numbers_and_context() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "TODO", "path": "/src/a.rs", "output_mode": "content", "context": 1}),
    )
    .await;
    assert_eq!(
        out.text,
        "/src/a.rs-1-one\n/src/a.rs:2:two TODO\n/src/a.rs-3-three\n--\n/src/a.rs-5-five\n/src/a.rs:6:six TODO\n/src/a.rs-7-seven\n"
    );
    assert_eq!(out.structured["matches"][0]["line_number"], json!(2));
}

#[tokio::test]
async fn grep_count_gives_matches_per_file() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "todo", "output_mode": "count", "case_insensitive": true}),
    )
    .await;
    assert_eq!(
        out.text,
        "/src/a.rs:2\n/src/b.rs:2\n[4 matching lines in 2 files.]\n"
    );
    assert_eq!(
        out.structured["counts"][1],
        json!({"path": "/src/b.rs", "count": 2})
    );
}

#[tokio::test]
async fn grep_regex_and_glob_filter_narrow_the_search() {
    let tools = tools_with(&[("/a.rs", "fn main() {}\n"), ("/b.py", "def main():\n")]).await;
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "^(fn|def) main", "regex": true, "glob": "*.py", "output_mode": "content"}),
    )
    .await;
    assert_eq!(out.text, "/b.py:1:def main():\n");
}

#[tokio::test]
async fn grep_max_count_stops_early_and_says_so() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(
        &tools,
        "grep",
        json!({"pattern": "TODO", "output_mode": "content", "max_count": 1}),
    )
    .await;
    assert!(
        out.text.starts_with("/src/a.rs:2:two TODO\n"),
        "{}",
        out.text
    );
    assert!(
        out.text.contains("Stopped after 1 matching lines"),
        "{}",
        out.text
    );
    assert_eq!(out.structured["truncated"], json!(true));
}

#[tokio::test]
async fn grep_with_a_bad_regex_is_invalid_pattern() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(&tools, "grep", json!({"pattern": "(", "regex": true})).await;
    assert_error(&out, "invalid_pattern", &[]);
}

#[tokio::test]
async fn grep_without_matches_says_so() {
    let tools = tools_with(&GREP_FILES).await;
    let out = call(&tools, "grep", json!({"pattern": "absent"})).await;
    assert!(!out.is_error);
    assert_eq!(out.text, "No matches for \"absent\" under /\n");
}

// ---- execute ----

fn sandbox_tools() -> (tempfile::TempDir, Toolset) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let sandbox = LocalSandbox::new(dir.path()).expect("a local sandbox");
    (dir, Toolset::with_sandbox(Arc::new(sandbox)))
}

#[tokio::test]
async fn execute_reports_exit_code_stdout_and_stderr() {
    let (_dir, tools) = sandbox_tools();
    call(
        &tools,
        "write_file",
        json!({"file_path": "/in.txt", "content": "data\n"}),
    )
    .await;
    let out = call(
        &tools,
        "execute",
        json!({"command": "cat in.txt; echo oops >&2; exit 3"}),
    )
    .await;
    assert!(!out.is_error, "{}", out.text);
    assert!(out.text.starts_with("Exit code: 3 ("), "{}", out.text);
    assert!(
        out.text
            .contains("--- stdout ---\ndata\n--- stderr ---\noops\n"),
        "{}",
        out.text
    );
    assert_eq!(out.structured["exit_code"], json!(3));
    assert_eq!(out.structured["stdout"], json!("data\n"));
    assert_eq!(out.structured["stderr"], json!("oops\n"));
}

#[tokio::test]
async fn execute_past_its_timeout_is_killed_with_a_note() {
    let (_dir, tools) = sandbox_tools();
    let out = call(
        &tools,
        "execute",
        json!({"command": "echo started; sleep 30", "timeout": 1}),
    )
    .await;
    assert!(out.text.contains("timed out after 1 s"), "{}", out.text);
    assert!(out.text.contains("started"), "{}", out.text);
    assert_eq!(out.structured["timed_out"], json!(true));
}

#[tokio::test]
async fn execute_denied_by_a_command_rule_names_the_rule() {
    let (dir, tools) = sandbox_tools();
    let tools = tools.permissions(
        Permissions::allow_all()
            .with_command_rule(Action::Deny, r"\brm\s+-rf\b")
            .unwrap(),
    );
    std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
    let out = call(&tools, "execute", json!({"command": "rm -rf keep.txt"})).await;
    assert_error(
        &out,
        "permission_denied",
        &["command rule 1", r"\brm\s+-rf\b"],
    );
    assert!(dir.path().join("keep.txt").exists());
}

// ---- permissions ----

#[tokio::test]
async fn a_deny_rule_refuses_with_permission_denied_naming_the_rule() {
    let tools = tools_with(&[("/vendor/lib.rs", "x")]).await.permissions(
        Permissions::allow_all()
            .with_path_rule(Action::Deny, &[Access::Write], "/vendor/**")
            .unwrap(),
    );
    let out = call(
        &tools,
        "write_file",
        json!({"file_path": "/vendor/lib.rs", "content": "y"}),
    )
    .await;
    assert_error(
        &out,
        "permission_denied",
        &["permission rule 1", "deny write on /vendor/**"],
    );
    assert_eq!(
        tools
            .backend()
            .read_to_string("/vendor/lib.rs")
            .await
            .unwrap(),
        "x"
    );
    let read = call(&tools, "read_file", json!({"file_path": "/vendor/lib.rs"})).await;
    assert!(!read.is_error);
}

#[tokio::test]
async fn the_read_only_preset_offers_and_allows_only_reading() {
    let tools = tools_with(&[("/a.txt", "x")])
        .await
        .permissions(Permissions::read_only());
    let names: Vec<&str> = tools.tools().iter().map(|t| t.name).collect();
    assert_eq!(names, ["ls", "read_file", "glob", "grep"]);
    let out = call(&tools, "delete", json!({"file_path": "/a.txt"})).await;
    assert_error(&out, "unsupported", &["read-only"]);
    assert!(tools.backend().exists("/a.txt").await.unwrap());
}

#[tokio::test]
async fn files_denied_for_reading_are_hidden_from_listings_and_searches() {
    let tools = tools_with(&[("/app.py", "KEY = env()\n"), ("/.env", "KEY=secret\n")])
        .await
        .permissions(
            Permissions::allow_all()
                .with_path_rule(Action::Deny, &[Access::Read], ".env")
                .unwrap(),
        );
    let grep = call(
        &tools,
        "grep",
        json!({"pattern": "KEY", "output_mode": "content"}),
    )
    .await;
    assert_eq!(
        grep.text,
        "/app.py:1:KEY = env()\n[1 matches hidden by permission rules.]\n"
    );
    let ls = call(&tools, "ls", json!({})).await;
    assert_eq!(
        ls.text,
        "/app.py (12 bytes)\n[1 entries hidden by permission rules.]\n"
    );
    let read = call(&tools, "read_file", json!({"file_path": "/.env"})).await;
    assert_error(&read, "permission_denied", &["read of /.env"]);
}

#[tokio::test]
async fn a_recursive_delete_is_denied_when_a_rule_protects_something_inside() {
    let tools = tools_with(&[("/a/keep/x.txt", "x"), ("/a/tmp.txt", "t")])
        .await
        .permissions(
            Permissions::allow_all()
                .with_path_rule(Action::Deny, &[Access::Delete], "/a/keep/**")
                .unwrap(),
        );
    let out = call(
        &tools,
        "delete",
        json!({"file_path": "/a", "recursive": true}),
    )
    .await;
    assert_error(&out, "permission_denied", &["/a/keep/**"]);
    assert!(tools.backend().exists("/a/keep/x.txt").await.unwrap());
}

struct Approve(bool);

#[async_trait]
impl Approver for Approve {
    async fn approve(&self, request: &ApprovalRequest) -> bool {
        assert_eq!(request.tool, "delete");
        assert_eq!(request.target, "/a.txt");
        self.0
    }
}

#[tokio::test]
async fn an_ask_rule_without_an_approver_is_denied() {
    let tools = tools_with(&[("/a.txt", "x")]).await.permissions(
        Permissions::allow_all()
            .with_path_rule(Action::Ask, &[Access::Delete], "**")
            .unwrap(),
    );
    let out = call(&tools, "delete", json!({"file_path": "/a.txt"})).await;
    assert_error(
        &out,
        "permission_denied",
        &["needs approval", "no approver"],
    );
}

#[tokio::test]
async fn an_ask_rule_defers_to_the_approver() {
    let base = tools_with(&[("/a.txt", "x")]).await.permissions(
        Permissions::allow_all()
            .with_path_rule(Action::Ask, &[Access::Delete], "**")
            .unwrap(),
    );
    let refusing = base.clone().approver(Arc::new(Approve(false)));
    let out = call(&refusing, "delete", json!({"file_path": "/a.txt"})).await;
    assert_error(&out, "permission_denied", &["refused"]);
    let approving = base.approver(Arc::new(Approve(true)));
    let out = call(&approving, "delete", json!({"file_path": "/a.txt"})).await;
    assert_eq!(out.text, "Deleted /a.txt\n");
}

// ---- structured results and concurrency ----

#[tokio::test]
async fn errors_carry_their_code_and_path_as_json() {
    let tools = tools_with(&[]).await;
    let out = call(&tools, "read_file", json!({"file_path": "/missing.txt"})).await;
    let error = &out.structured["error"];
    assert_eq!(error["code"], json!("file_not_found"));
    assert_eq!(error["path"], json!("/missing.txt"));
    assert_eq!(error["retryable"], json!(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_through_one_toolset_all_complete() {
    let tools = Arc::new(tools_with(&[]).await);
    let calls = (0..50).map(|i| {
        let tools = tools.clone();
        async move {
            let path = format!("/c/{i}.txt");
            let content = format!("{i}\n");
            call(
                &tools,
                "write_file",
                json!({"file_path": path, "content": content}),
            )
            .await;
            call(&tools, "read_file", json!({"file_path": path})).await
        }
    });
    let outputs = futures::future::join_all(calls).await;
    for (i, out) in outputs.iter().enumerate() {
        assert_eq!(out.text, format!("     1\t{i}\n"));
    }
    let backend: &Arc<dyn Backend> = tools.backend();
    assert_eq!(backend.ls("/c").await.unwrap().len(), 50);
}
