//! Lists kept by hand that must match the code: the conformance case table
//! (every public case is in it), the umbrella crate's features (the list
//! `cargo xtask ci` checks one by one), and the backends `cargo xtask
//! conformance` runs (every `conformance_tests!` invocation).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::{assert_clean, read_toml, relative, rust_files, temp_tree, workspace_members};
use crate::project_root;

/// The `area::case` entries of the case table in the conformance crate's
/// `lib.rs` (lines like `files::stat_file [],`).
fn table_entries(lib: &str) -> BTreeSet<String> {
    lib.lines()
        .filter_map(|line| {
            let line = line.trim().trim_end_matches(',');
            let (name, requires) = line.split_once(" [")?;
            let (area, case) = name.split_once("::")?;
            let ident =
                |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (requires.ends_with(']') && ident(area) && ident(case)).then(|| name.to_owned())
        })
        .collect()
}

/// Public cases (`pub async fn name(fx: &Fixture)`) missing from the case
/// table of the conformance crate at `dir`, and entries naming no case.
fn case_table_problems(dir: &Path) -> Vec<String> {
    let lib = fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
    let table = table_entries(&lib);
    let mut cases = BTreeSet::new();
    let areas = lib.lines().filter_map(|l| {
        l.trim()
            .strip_prefix("pub mod ")
            .and_then(|m| m.strip_suffix(';'))
    });
    for area in areas {
        let text = fs::read_to_string(dir.join(format!("src/{area}.rs"))).unwrap_or_default();
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("pub async fn ")
                && let Some((name, params)) = rest.split_once('(')
                && params.contains("&Fixture")
            {
                cases.insert(format!("{area}::{name}"));
            }
        }
    }
    let mut problems: Vec<String> = cases
        .difference(&table)
        .map(|c| format!("conformance case {c} is public but not in the case table of lib.rs: add it (with the capabilities it needs)"))
        .collect();
    problems.extend(
        table
            .difference(&cases)
            .map(|c| format!("the case table lists {c}, which is not a public case")),
    );
    problems
}

#[test]
fn every_public_conformance_case_is_in_the_table() {
    let dir = project_root().join("crates/backend-conformance");
    assert_clean("conformance case table", &case_table_problems(&dir));
    assert!(
        table_entries(&fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default()).len() > 100
    );
}

#[test]
fn a_case_missing_from_the_table_fails() {
    let lib = "pub mod files;\nmod fixture;\n\nmacro_rules! t { () => { [\n    files::listed [],\n    files::gone [execute],\n] } }\n";
    let files = "use crate::Fixture;\n\npub async fn listed(fx: &Fixture) {}\n\
                 pub async fn unlisted(fx: &Fixture) {}\npub fn helper() {}\n";
    let tree = temp_tree(&[("src/lib.rs", lib), ("src/files.rs", files)]);
    let found = case_table_problems(tree.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("files::unlisted is public but not in the case table"),
        "{found:?}"
    );
    assert!(
        found[1].contains("files::gone, which is not a public case"),
        "{found:?}"
    );
}

/// Differences between the features of the umbrella manifest at `manifest`
/// (`default` aside) and `listed`, the features `cargo xtask ci` checks.
fn feature_problems(manifest: &Path, listed: &[&str]) -> Vec<String> {
    let manifest = read_toml(manifest);
    let declared: BTreeSet<&str> = manifest
        .get("features")
        .and_then(|f| f.as_table())
        .map(|t| {
            t.keys()
                .map(String::as_str)
                .filter(|f| *f != "default")
                .collect()
        })
        .unwrap_or_default();
    let listed: BTreeSet<&str> = listed.iter().copied().collect();
    let mut problems: Vec<String> = declared
        .difference(&listed)
        .map(|f| format!("feature `{f}` of the umbrella crate is missing from FEATURES in xtask/src/features.rs"))
        .collect();
    problems.extend(listed.difference(&declared).map(|f| {
        format!("xtask/src/features.rs lists `{f}`, which the umbrella crate does not have")
    }));
    problems
}

#[test]
fn the_umbrella_features_are_the_ones_xtask_checks() {
    let manifest = project_root().join("crates/agent-backend/Cargo.toml");
    assert_clean(
        "umbrella features",
        &feature_problems(&manifest, crate::features::FEATURES),
    );
}

#[test]
fn an_umbrella_feature_xtask_does_not_check_fails() {
    let manifest = "[package]\nname = \"u\"\n\n[features]\ndefault = [\"a\"]\na = []\nb = []\n";
    let tree = temp_tree(&[("Cargo.toml", manifest)]);
    let found = feature_problems(&tree.path().join("Cargo.toml"), &["a", "c"]);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("feature `b`"), "{found:?}");
    assert!(found[1].contains("lists `c`"), "{found:?}");
}

/// The conformance crate's own tests of the macro, which are no backend.
const NOT_TARGETS: &[&str] = &["crates/backend-conformance"];

/// `(name, member directory, test target)` of every `conformance_tests!`
/// invocation in the members' `tests/*.rs`.
fn invocations(root: &Path) -> BTreeSet<(String, String, String)> {
    let mut found = BTreeSet::new();
    for member in workspace_members(root) {
        if NOT_TARGETS.contains(&relative(root, &member).as_str()) {
            continue;
        }
        for file in rust_files(&member.join("tests")) {
            let text = fs::read_to_string(&file).unwrap_or_default();
            let test = file
                .strip_prefix(member.join("tests"))
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| {
                    c.as_os_str()
                        .to_string_lossy()
                        .trim_end_matches(".rs")
                        .to_owned()
                })
                .unwrap_or_default();
            for (_, after) in text
                .match_indices("conformance_tests!(")
                .map(|(i, _)| text.split_at(i))
            {
                let name = after
                    .split_once("name:")
                    .and_then(|(_, rest)| rest.split('"').nth(1));
                if let Some(name) = name {
                    found.insert((name.to_owned(), relative(root, &member), test.clone()));
                }
            }
        }
    }
    found
}

/// Invocations `targets` misses and targets no invocation backs.
fn target_problems(root: &Path, targets: &[(&str, &str, &str)]) -> Vec<String> {
    let found = invocations(root);
    let listed: BTreeSet<(String, String, String)> = targets
        .iter()
        .map(|(n, d, t)| ((*n).to_owned(), (*d).to_owned(), (*t).to_owned()))
        .collect();
    let mut problems: Vec<String> = found
        .difference(&listed)
        .map(|(n, d, t)| format!("{d}/tests/{t}.rs runs conformance for `{n}`, which is not in TARGETS of xtask/src/conformance.rs"))
        .collect();
    problems.extend(listed.difference(&found).map(|(n, d, t)| {
        format!("TARGETS lists `{n}` in {d}/tests/{t}.rs, which has no conformance_tests!(name: \"{n}\", ...)")
    }));
    problems
}

#[test]
fn every_conformance_invocation_is_a_target_of_xtask_conformance() {
    let targets: Vec<(&str, &str, &str)> = crate::conformance::TARGETS
        .iter()
        .map(|t| (t.name, t.dir, t.test))
        .collect();
    assert_clean(
        "conformance targets",
        &target_problems(&project_root(), &targets),
    );
}

#[test]
fn an_invocation_missing_from_the_targets_fails() {
    let tests = "mod one {\n    backend_conformance::conformance_tests!(\n        name: \"one\",\n        factory: make,\n        capabilities: [],\n    );\n}\n\
                 mod two { backend_conformance::conformance_tests!(name: \"two\", factory: make, capabilities: []); }\n";
    let tree = temp_tree(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/a\"]\n"),
        ("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
        ("crates/a/tests/conformance.rs", tests),
    ]);
    let found = target_problems(
        tree.path(),
        &[
            ("one", "crates/a", "conformance"),
            ("three", "crates/a", "conformance"),
        ],
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("for `two`"), "{found:?}");
    assert!(found[1].contains("lists `three`"), "{found:?}");
}
