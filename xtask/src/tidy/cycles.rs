//! No module cycles within a crate: module `a` using `b` while `b` uses
//! `a`, directly or through others. A cycle means neither can be read,
//! tested or moved without the other; break it by moving what both need
//! into a third module.
//!
//! The check reads the sources, not the compiler's output: the modules of
//! each crate come from its `mod name;` declarations, and the uses from
//! `use` items and paths starting with `crate::`, `super::`, `self::` or a
//! child module's name. A path to an item a module re-exports (`pub use
//! b::Thing`) is followed to the module that defines it, and a re-export
//! alone is not a use: a `lib.rs` that re-exports does not depend on its
//! modules in the sense that matters here. Nor is a module's use of its own
//! ancestors (`super::Thing`, `crate::helper` from a child): a child module
//! is a part of its parent, which declares it, so only uses between modules
//! where neither contains the other can close a cycle. Test code is left
//! out (`tests/` and `#[cfg(test)]` items), inline modules count as part of
//! their file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use super::source::{code_only, ident_char, skip_block, tokens, use_paths};
use super::{assert_clean, relative, temp_tree, workspace_members};
use crate::project_root;

/// Cycles tolerated while they are being broken (none now), each as the
/// sorted files of one cycle. An entry that no longer matches a cycle is
/// itself reported, so that the list only shrinks.
const ALLOWED: &[&[&str]] = &[];

/// A module path from the crate root (`[]` is the root, `["http", "shell"]`
/// is `crate::http::shell`).
type ModPath = Vec<String>;

/// One path a module mentions, with where it was written.
#[derive(Debug)]
struct Mention {
    /// The module path it is written in, inline modules included.
    scope: ModPath,
    segments: Vec<String>,
    /// Written in a `pub use` (a re-export, not a use).
    reexport: bool,
}

/// One module file of a crate.
#[derive(Debug, Default)]
struct ModFile {
    file: PathBuf,
    children: BTreeSet<String>,
    mentions: Vec<Mention>,
    /// Name → path of what its `use` items bring in.
    imports: BTreeMap<String, Vec<String>>,
}

/// Reads one module file: its child module declarations, its `use` items
/// and the other paths it writes. `#[cfg(test)]` items are skipped.
fn read_module(path: &ModPath, file: &Path) -> ModFile {
    let text = fs::read_to_string(file).unwrap_or_default();
    let t = tokens(&code_only(&text));
    let mut module = ModFile {
        file: file.to_path_buf(),
        ..ModFile::default()
    };
    // Inline modules open at brace depth `.1`.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut cfg_test = false;
    let mut i = 0;
    while i < t.len() {
        let scope = || {
            let mut s = path.clone();
            s.extend(inline.iter().map(|(n, _)| n.clone()));
            s
        };
        match t[i].as_str() {
            "#" if t[i + 1..].starts_with(&[
                "[".into(),
                "cfg".into(),
                "(".into(),
                "test".into(),
                ")".into(),
                "]".into(),
            ]) =>
            {
                cfg_test = true;
                i += 7;
                continue;
            }
            "#" if t.get(i + 1).is_some_and(|s| s == "[") => {
                // Another attribute: step over it, keeping `cfg_test`.
                let mut j = i + 1;
                let mut brackets = 0;
                while j < t.len() {
                    match t[j].as_str() {
                        "[" => brackets += 1,
                        "]" => {
                            brackets -= 1;
                            if brackets == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                i = j + 1;
                continue;
            }
            "mod" if t.get(i + 1).is_some_and(|s| ident_char(s.chars().next())) => {
                let name = t[i + 1].clone();
                match t.get(i + 2).map(String::as_str) {
                    Some(";") => {
                        if !cfg_test && inline.is_empty() {
                            module.children.insert(name);
                        }
                        i += 3;
                    }
                    Some("{") if cfg_test => i = skip_block(&t, i + 2),
                    Some("{") => {
                        depth += 1;
                        inline.push((name, depth));
                        i += 3;
                    }
                    _ => i += 1,
                }
                cfg_test = false;
                continue;
            }
            "use" => {
                let end = t[i..]
                    .iter()
                    .position(|s| s == ";")
                    .map_or(t.len(), |p| i + p);
                if !cfg_test {
                    let reexport = i > 0 && (t[i - 1] == "pub" || t[i - 1] == ")");
                    for (name, segments) in use_paths(&t[i + 1..end]) {
                        if inline.is_empty() && name != "*" {
                            module.imports.insert(name, segments.clone());
                        }
                        module.mentions.push(Mention {
                            scope: scope(),
                            segments,
                            reexport,
                        });
                    }
                }
                cfg_test = false;
                i = end + 1;
                continue;
            }
            "{" => depth += 1,
            "}" => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            ";" => cfg_test = false,
            "fn" | "impl" | "struct" | "enum" | "const" | "static" | "trait" | "type"
                if cfg_test =>
            {
                // A test-only item: skip it whole.
                let body = t[i..]
                    .iter()
                    .position(|s| s == "{" || s == ";")
                    .map_or(t.len(), |p| i + p);
                i = if t.get(body).is_some_and(|s| s == "{") {
                    skip_block(&t, body)
                } else {
                    body + 1
                };
                cfg_test = false;
                continue;
            }
            word if ident_char(word.chars().next())
                && t.get(i + 1).is_some_and(|s| s == "::")
                && !(i > 0 && (t[i - 1] == "::" || t[i - 1] == "$")) =>
            {
                let mut segments = vec![word.to_owned()];
                let mut j = i + 1;
                while t.get(j).is_some_and(|s| s == "::")
                    && t.get(j + 1).is_some_and(|s| ident_char(s.chars().next()))
                {
                    segments.push(t[j + 1].clone());
                    j += 2;
                }
                module.mentions.push(Mention {
                    scope: scope(),
                    segments,
                    reexport: false,
                });
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    module
}

/// Every module file of the crate rooted at `root_file`, by module path.
fn crate_modules(root_file: &Path) -> BTreeMap<ModPath, ModFile> {
    let mut modules = BTreeMap::new();
    // (module path, its file, the directory its children live in)
    let dir = root_file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let mut queue = vec![(ModPath::new(), root_file.to_path_buf(), dir)];
    while let Some((path, file, dir)) = queue.pop() {
        let module = read_module(&path, &file);
        for child in &module.children {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(child).join("mod.rs");
            let child_file = if flat.exists() { flat } else { nested };
            if child_file.exists() {
                let mut child_path = path.clone();
                child_path.push(child.clone());
                queue.push((child_path, child_file, dir.join(child)));
            }
        }
        modules.insert(path, module);
    }
    modules
}

/// The module file a path written in `scope` lands in, following
/// re-exports up to a few steps; `None` for paths outside the crate.
fn resolve(
    modules: &BTreeMap<ModPath, ModFile>,
    scope: &[String],
    segments: &[String],
    steps: usize,
) -> Option<ModPath> {
    let file_module = |p: &[String]| -> ModPath {
        let mut p = p.to_vec();
        while !modules.contains_key(&p) {
            p.pop();
        }
        p
    };
    let (mut current, rest): (ModPath, &[String]) = match segments.first()?.as_str() {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (scope.to_vec(), &segments[1..]),
        "super" => {
            let ups = segments.iter().take_while(|s| *s == "super").count();
            let keep = scope.len().checked_sub(ups)?;
            (scope[..keep].to_vec(), &segments[ups..])
        }
        first => {
            let here = file_module(scope);
            if !modules[&here].children.contains(first) || here.len() != scope.len() {
                return None;
            }
            (here, segments)
        }
    };
    let mut name = None;
    for segment in rest {
        let mut next = current.clone();
        next.push(segment.clone());
        if modules.contains_key(&next) {
            current = next;
        } else {
            name = Some(segment);
            break;
        }
    }
    let target = file_module(&current);
    if let Some(name) = name
        && target == current
        && steps > 0
        && let Some(source) = modules[&target].imports.get(name)
        && let Some(found) = resolve(modules, &target, source, steps - 1)
    {
        return Some(found);
    }
    Some(target)
}

/// The cycles among the modules of the crate rooted at `root_file`, each
/// as the sorted files in it.
fn crate_cycles(root: &Path, root_file: &Path) -> Vec<Vec<String>> {
    let modules = crate_modules(root_file);
    let mut edges: BTreeMap<&ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for (path, module) in &modules {
        for mention in module.mentions.iter().filter(|m| !m.reexport) {
            // A module using its own ancestors is left out (see the module
            // docs), and so is one using itself.
            if let Some(target) = resolve(&modules, &mention.scope, &mention.segments, 8)
                && !path.starts_with(&target)
            {
                edges.entry(path).or_default().insert(target);
            }
        }
    }
    let reachable = |from: &ModPath| -> BTreeSet<ModPath> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(p) = stack.pop() {
            for next in edges.get(&p).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&ModPath, BTreeSet<ModPath>> =
        modules.keys().map(|p| (p, reachable(p))).collect();
    let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
    for (a, from_a) in &reach {
        let mut members: Vec<String> = from_a
            .iter()
            .filter(|b| reach[b].contains(*a))
            .map(|b| relative(root, &modules[b].file))
            .collect();
        if !members.is_empty() {
            members.sort();
            cycles.insert(members);
        }
    }
    cycles.into_iter().collect()
}

/// Cycles in the crates under `root` that `allowed` does not list, and
/// entries of `allowed` that are no longer a cycle.
fn problems(root: &Path, allowed: &[&[&str]]) -> Vec<String> {
    let mut found = Vec::new();
    for member in workspace_members(root) {
        let src = member.join("src");
        let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"]
            .iter()
            .map(|f| src.join(f))
            .filter(|f| f.exists())
            .collect();
        roots.extend(super::rust_files(&src.join("bin")));
        for root_file in roots {
            found.extend(crate_cycles(root, &root_file));
        }
    }
    let mut problems: Vec<String> = found
        .iter()
        .filter(|c| !allowed.iter().any(|a| a == c))
        .map(|c| {
            format!(
                "module cycle: {} use each other; move what they share into a module of its own",
                c.join(" ↔ ")
            )
        })
        .collect();
    problems.extend(
        allowed
            .iter()
            .filter(|a| !found.iter().any(|c| c == *a))
            .map(|a| {
                format!(
                    "allowed cycle {} is gone: remove it from the allow-list",
                    a.join(" ↔ ")
                )
            }),
    );
    problems
}

#[test]
fn no_module_cycles() {
    assert_clean("module cycles", &problems(&project_root(), ALLOWED));
}

/// A one-crate workspace with `files` under `crates/a/src`.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut all = vec![
        (
            "Cargo.toml".to_owned(),
            "[workspace]\nmembers = [\"crates/a\"]\n".to_owned(),
        ),
        (
            "crates/a/Cargo.toml".to_owned(),
            "[package]\nname = \"a\"\n".to_owned(),
        ),
    ];
    all.extend(
        files
            .iter()
            .map(|(p, c)| (format!("crates/a/src/{p}"), (*c).to_owned())),
    );
    let borrowed: Vec<(&str, &str)> = all.iter().map(|(p, c)| (p.as_str(), c.as_str())).collect();
    temp_tree(&borrowed)
}

#[test]
fn a_direct_cycle_fails() {
    let tree = tree(&[
        ("lib.rs", "mod config;\nmod sandbox;\n"),
        (
            "config.rs",
            "use crate::sandbox::Sandbox;\npub struct Config;\n",
        ),
        (
            "sandbox.rs",
            "pub struct Sandbox;\nfn f() -> super::config::Config { todo() }\n",
        ),
    ]);
    let found = problems(tree.path(), &[]);
    assert_eq!(
        found,
        [
            "module cycle: crates/a/src/config.rs ↔ crates/a/src/sandbox.rs use each other; \
          move what they share into a module of its own"
        ]
    );
    let allowed: &[&[&str]] = &[&["crates/a/src/config.rs", "crates/a/src/sandbox.rs"]];
    assert!(problems(tree.path(), allowed).is_empty());
}

#[test]
fn a_cycle_through_a_reexport_and_a_third_module_fails() {
    // a → b (through the root's re-export of b::B), b → http::c, c → a.
    let tree = tree(&[
        ("lib.rs", "mod a;\nmod b;\nmod http;\npub use b::B;\n"),
        ("a.rs", "use crate::B;\npub struct A;\n"),
        ("b.rs", "pub struct B(crate::http::c::C);\n"),
        ("http/mod.rs", "pub mod c;\n"),
        ("http/c.rs", "use crate::a::A;\npub struct C(A);\n"),
    ]);
    let found = problems(tree.path(), &[]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("crates/a/src/a.rs ↔ crates/a/src/b.rs ↔ crates/a/src/http/c.rs"),
        "{found:?}"
    );
}

#[test]
fn reexports_tests_comments_and_one_way_uses_are_no_cycle() {
    let tree = tree(&[
        (
            "lib.rs",
            "mod a;\nmod b;\npub use a::A;\npub use b::B;\nfn helper() {}\nfn f() { a::g() }\n",
        ),
        // `a` uses `b` and its parent only; the root re-exports both.
        (
            "a.rs",
            "use crate::b::B;\npub struct A(B);\npub fn g() { crate::helper() }\n",
        ),
        (
            "b.rs",
            "// crate::a::A in a comment\npub struct B;\nconst S: &str = \"crate::a::A\";\n\
             #[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n\
             #[cfg(test)]\nfn helper() -> crate::a::A { crate::a::A(B) }\n",
        ),
    ]);
    assert_clean("no cycle expected", &problems(tree.path(), &[]));
}

#[test]
fn an_allowed_cycle_that_is_gone_fails() {
    let tree = tree(&[("lib.rs", "mod a;\n"), ("a.rs", "pub struct A;\n")]);
    let allowed: &[&[&str]] = &[&["crates/a/src/a.rs", "crates/a/src/b.rs"]];
    let found = problems(tree.path(), allowed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("remove it from the allow-list"),
        "{found:?}"
    );
}
