//! No source file over [`MAX_LINES`] lines, except the few listed in
//! [`ALLOWED`] while they are being split.

use std::fs;
use std::path::Path;

use super::{assert_clean, relative, rust_files, temp_tree, workspace_members};
use crate::project_root;

/// The longest a `.rs` file may be.
const MAX_LINES: usize = 600;

/// Files that may exceed [`MAX_LINES`] for now, relative to the root. Keep
/// this short: an entry that is no longer over the cap is itself reported,
/// so that the list only shrinks.
const ALLOWED: &[&str] = &[
    "crates/backend-tools/tests/dispatch.rs",
    "crates/backend-composite/tests/routing.rs",
];

/// Files of the workspace under `root` longer than `max` lines and not in
/// `allowed`, and entries of `allowed` that are no longer too long.
fn problems(root: &Path, max: usize, allowed: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut long = Vec::new();
    for member in workspace_members(root) {
        for file in rust_files(&member) {
            let text = fs::read_to_string(&file).unwrap_or_default();
            let lines = text.lines().count();
            if lines > max {
                let name = relative(root, &file);
                if !allowed.contains(&name.as_str()) {
                    problems.push(format!(
                        "{name} has {lines} lines, over the cap of {max}: split it by what its parts hold"
                    ));
                }
                long.push(name);
            }
        }
    }
    for entry in allowed {
        if !long.iter().any(|l| l == entry) {
            problems.push(format!(
                "{entry} is allowed to pass {max} lines but does not (or is gone): remove it from the allow-list"
            ));
        }
    }
    problems
}

#[test]
fn no_source_file_passes_the_size_cap() {
    assert_clean(
        "files over the size cap",
        &problems(&project_root(), MAX_LINES, ALLOWED),
    );
}

/// A one-member workspace whose `src/lib.rs` has `lines` lines.
fn tree_with_lib_of(lines: usize) -> tempfile::TempDir {
    let lib = "//! x\n".repeat(lines);
    temp_tree(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/a\"]\n"),
        ("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
        ("crates/a/src/lib.rs", &lib),
    ])
}

#[test]
fn a_file_over_the_cap_fails_and_an_allowed_one_passes() {
    let tree = tree_with_lib_of(11);
    let found = problems(tree.path(), 10, &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("crates/a/src/lib.rs has 11 lines"),
        "{found:?}"
    );
    assert!(problems(tree.path(), 10, &["crates/a/src/lib.rs"]).is_empty());
    assert!(problems(tree.path(), 11, &[]).is_empty());
}

#[test]
fn an_allow_list_entry_under_the_cap_fails() {
    let tree = tree_with_lib_of(5);
    let found = problems(tree.path(), 10, &["crates/a/src/lib.rs"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("remove it from the allow-list"),
        "{found:?}"
    );
}
