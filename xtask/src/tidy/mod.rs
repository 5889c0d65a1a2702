//! Repository hygiene, checked by `cargo test -p xtask`.
//!
//! Each check is a function from a tree's root to the problems it finds, so
//! that a test can show it passing on this repository and failing on a
//! small temporary tree that breaks it.

mod cycles;
mod deps;
mod size;
mod source;
mod tables;

use std::fs;
use std::path::{Path, PathBuf};

use crate::project_root;

/// The member directories listed in `root`'s `[workspace] members`.
fn workspace_members(root: &Path) -> Vec<PathBuf> {
    let manifest = read_toml(&root.join("Cargo.toml"));
    manifest["workspace"]["members"]
        .as_array()
        .expect("the root Cargo.toml lists workspace members")
        .iter()
        .map(|m| root.join(m.as_str().expect("a member is a path")))
        .collect()
}

/// A parsed TOML file; the test fails when it is missing or malformed.
fn read_toml(path: &Path) -> toml::Table {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

/// Every `.rs` file under `dir`, sorted; build output is skipped.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_none_or(|n| n != "target") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// `path` relative to `root`, with `/` separators, for messages and lists.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Asserts that a check found nothing, listing what it found.
#[track_caller]
fn assert_clean(check: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{check}:\n{}", problems.join("\n"));
}

/// A temporary tree holding `files` (`relative path`, `content`).
fn temp_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, content) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("a file has a parent"))
            .expect("creating the parent directory");
        fs::write(&path, content).expect("writing a file of the tree");
    }
    dir
}

fn member_dirs() -> Vec<PathBuf> {
    let root = project_root();
    let mut dirs: Vec<_> = fs::read_dir(root.join("crates"))
        .expect("crates/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.push(root.join("examples/custom-backend"));
    dirs.sort();
    dirs
}

#[test]
fn every_crate_takes_license_and_msrv_from_the_workspace() {
    for dir in member_dirs() {
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).expect("a member has a manifest");
        for key in [
            "license.workspace = true",
            "rust-version.workspace = true",
            "[lints]",
        ] {
            assert!(manifest.contains(key), "{} lacks `{key}`", dir.display());
        }
    }
}

#[test]
fn every_library_opens_with_a_crate_doc_comment() {
    for dir in member_dirs() {
        let lib = dir.join("src/lib.rs");
        if lib.exists() {
            let text = fs::read_to_string(&lib).expect("lib.rs is readable");
            assert!(
                text.trim_start().starts_with("//!"),
                "{} has no crate docs",
                lib.display()
            );
        }
    }
}

#[test]
fn licenses_and_docs_are_present() {
    let root = project_root();
    for file in [
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "README.md",
        "deny.toml",
        "docs/architecture.md",
        "docs/semantics.md",
        "docs/writing-a-backend.md",
    ] {
        assert!(root.join(file).exists(), "{file} is missing");
    }
    let workspace = fs::read_to_string(root.join("Cargo.toml")).expect("the root manifest");
    assert!(workspace.contains("license = \"MIT OR Apache-2.0\""));
}

#[test]
fn no_placeholders_in_source() {
    fn walk(dir: &Path, bad: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("a source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, bad);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).expect("a readable source file");
                for needle in ["todo!(", "unimplemented!(", "Placeholder:"] {
                    if text.contains(needle) {
                        bad.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    let mut bad = Vec::new();
    for dir in member_dirs() {
        walk(&dir.join("src"), &mut bad);
    }
    assert!(
        bad.is_empty(),
        "placeholders left in source:\n{}",
        bad.join("\n")
    );
}
