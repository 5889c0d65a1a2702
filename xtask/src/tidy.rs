//! Repository hygiene, checked by `cargo test -p xtask`.

use std::fs;
use std::path::Path;

use crate::project_root;

fn member_dirs() -> Vec<std::path::PathBuf> {
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
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap();
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
            let text = fs::read_to_string(&lib).unwrap();
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
    ] {
        assert!(root.join(file).exists(), "{file} is missing");
    }
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(workspace.contains("license = \"MIT OR Apache-2.0\""));
}

#[test]
fn no_placeholders_in_source() {
    fn walk(dir: &Path, bad: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, bad);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).unwrap();
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
