//! Every `[workspace.dependencies]` entry is used by some member: an unused
//! one still pins a version, shows up in reviews of the manifest and in
//! `cargo deny`, and suggests a dependency that is not there.

use std::collections::BTreeSet;
use std::path::Path;

use super::{assert_clean, read_toml, temp_tree, workspace_members};
use crate::project_root;

/// The dependency tables a member may inherit workspace entries in.
const TABLES: &[&str] = &["dependencies", "dev-dependencies", "build-dependencies"];

/// The workspace dependencies under `root` that no member inherits.
fn problems(root: &Path) -> Vec<String> {
    let manifest = read_toml(&root.join("Cargo.toml"));
    let declared: BTreeSet<String> = manifest["workspace"]
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    let mut used = BTreeSet::new();
    for member in workspace_members(root) {
        let manifest = read_toml(&member.join("Cargo.toml"));
        let mut tables: Vec<&toml::Table> = TABLES
            .iter()
            .filter_map(|t| manifest.get(*t).and_then(|v| v.as_table()))
            .collect();
        // `[target.'cfg(..)'.dependencies]` and friends.
        if let Some(targets) = manifest.get("target").and_then(|t| t.as_table()) {
            for target in targets.values().filter_map(|t| t.as_table()) {
                tables.extend(
                    TABLES
                        .iter()
                        .filter_map(|t| target.get(*t).and_then(|v| v.as_table())),
                );
            }
        }
        for table in tables {
            for (name, spec) in table {
                let inherited = spec
                    .get("workspace")
                    .and_then(|w| w.as_bool())
                    .unwrap_or(false);
                if inherited {
                    used.insert(name.clone());
                }
            }
        }
    }
    declared
        .difference(&used)
        .map(|name| {
            format!(
                "workspace dependency `{name}` is used by no member: remove it from the root Cargo.toml"
            )
        })
        .collect()
}

#[test]
fn every_workspace_dependency_is_used() {
    assert_clean("unused workspace dependencies", &problems(&project_root()));
}

#[test]
fn an_unused_workspace_dependency_fails() {
    let root = "[workspace]\nmembers = [\"a\", \"b\"]\n\n[workspace.dependencies]\n\
                serde = \"1\"\nlibc = \"0.2\"\nregex = \"1\"\nunused = \"1\"\n";
    let a = "[package]\nname = \"a\"\n\n[dependencies]\nserde.workspace = true\n\n\
             [target.'cfg(unix)'.dependencies]\nlibc = { workspace = true }\n";
    let b = "[package]\nname = \"b\"\n\n[dev-dependencies]\nregex = { workspace = true, features = [] }\n\
             unused = \"1\"\n";
    let tree = temp_tree(&[
        ("Cargo.toml", root),
        ("a/Cargo.toml", a),
        ("b/Cargo.toml", b),
    ]);
    let found = problems(tree.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("`unused`"), "{found:?}");
}
