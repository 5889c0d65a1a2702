//! `cargo xtask readme`: the README's library snippet, built and run as a
//! newcomer would, in a fresh `cargo new` project.
//!
//! The dependency lines, `main.rs` and the expected output are read from
//! `README.md`, each from the code block after a `<!-- readme-snippet: NAME
//! -->` marker, so the document and this check cannot drift apart. The
//! project depends on `crates/agent-backend` by path (the snippet's path is
//! replaced by the real one), starts from the workspace's `Cargo.lock` and
//! builds into the workspace's target directory, so that it compiles mostly
//! from cache. `TMPDIR` points at a fresh, empty directory, so the run also
//! shows that `open` creates the missing `file://` directory.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{cargo, display, project_root};

/// The marker before each snippet's code block.
const MARKER: &str = "<!-- readme-snippet: ";

/// The code block after `<!-- readme-snippet: NAME -->` in `readme`.
fn snippet<'a>(readme: &'a str, name: &str) -> Result<&'a str> {
    let marker = format!("{MARKER}{name} -->");
    let (_, after) = readme
        .split_once(&marker)
        .with_context(|| format!("README.md has no `{marker}` marker"))?;
    let (_, block) = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .with_context(|| format!("no code block after `{marker}`"))?;
    let (code, _) = block
        .split_once("```")
        .with_context(|| format!("the code block after `{marker}` is not closed"))?;
    Ok(code)
}

/// The snippet's `[dependencies]` with the `path = "..."` of `agent-backend`
/// replaced by `crate_dir`.
fn dependencies(snippet: &str, crate_dir: &Path) -> Result<String> {
    let mut out = String::new();
    let mut replaced = false;
    for line in snippet.lines() {
        if line.starts_with("agent-backend")
            && let Some((before, rest)) = line.split_once("path = \"")
            && let Some((_, after)) = rest.split_once('"')
        {
            out.push_str(&format!(
                "{before}path = {:?}{after}\n",
                crate_dir.display().to_string()
            ));
            replaced = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !replaced {
        bail!("the README's dependencies have no `agent-backend = {{ path = \"...\", ... }}` line");
    }
    Ok(out)
}

pub(crate) fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        bail!("unexpected argument {arg:?}\nusage: cargo xtask readme");
    }
    let root = project_root();
    let readme = fs::read_to_string(root.join("README.md")).context("reading README.md")?;
    let deps = dependencies(
        snippet(&readme, "dependencies")?,
        &root.join("crates/agent-backend"),
    )?;
    let main = snippet(&readme, "main.rs")?;
    let expected = snippet(&readme, "output")?;

    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let project = scratch.path().join("readme-snippet");
    crate::run_cmd(
        cargo()
            .args(["new", "--quiet", "--vcs", "none", "--bin"])
            .arg(&project),
    )?;
    let manifest_path = project.join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path).context("reading the new Cargo.toml")?;
    let (package, _) = manifest
        .split_once("[dependencies]")
        .context("`cargo new` wrote no [dependencies] table")?;
    // Its own workspace, whatever directory the scratch space is in.
    fs::write(&manifest_path, format!("{package}{deps}\n[workspace]\n"))?;
    fs::write(project.join("src/main.rs"), main)?;
    fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).context("copying Cargo.lock")?;
    let tmp = scratch.path().join("tmp");
    fs::create_dir(&tmp)?;

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--manifest-path"])
        .arg(&manifest_path)
        .env("CARGO_TARGET_DIR", &target)
        .env("TMPDIR", &tmp);
    eprintln!("$ TMPDIR={} {}", tmp.display(), display(&cmd));
    let out = cmd.output().context("running the README snippet")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "the README snippet failed with {}:\n{}{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if stdout.trim_end() != expected.trim_end() {
        bail!("the README snippet printed\n{stdout}\nbut README.md says it prints\n{expected}");
    }
    let written = tmp.join("agent-workspace/notes/todo.md");
    if !written.is_file() {
        bail!(
            "the README snippet ran but {} does not exist",
            written.display()
        );
    }
    eprintln!("the README snippet builds, runs and prints what README.md says");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_has_every_snippet() {
        let readme = fs::read_to_string(project_root().join("README.md")).expect("README.md");
        let deps = dependencies(
            snippet(&readme, "dependencies").expect("dependencies"),
            Path::new("/w/crates/agent-backend"),
        )
        .expect("an agent-backend path dependency");
        assert!(
            deps.contains("path = \"/w/crates/agent-backend\""),
            "{deps}"
        );
        assert!(deps.contains("tokio"), "{deps}");
        let main = snippet(&readme, "main.rs").expect("main.rs");
        assert!(
            main.contains("async fn main()") && main.contains("open("),
            "{main}"
        );
        assert!(
            !snippet(&readme, "output")
                .expect("output")
                .trim()
                .is_empty()
        );
    }

    #[test]
    fn a_missing_marker_or_path_dependency_is_an_error() {
        let readme = "<!-- readme-snippet: dependencies -->\n```toml\n[dependencies]\nagent-backend = \"0.1\"\n```\n";
        let deps = snippet(readme, "dependencies").expect("the block");
        assert_eq!(deps, "[dependencies]\nagent-backend = \"0.1\"\n");
        assert!(dependencies(deps, Path::new("/w")).is_err());
        assert!(snippet(readme, "main.rs").is_err());
    }
}
