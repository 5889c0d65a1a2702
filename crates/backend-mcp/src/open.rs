//! Turning the backend and sandbox choices into live objects, through the
//! umbrella crate's [`BackendSpec`] (every scheme it knows: `state://`,
//! `file://`, `docker://`, composite tables, ...).
//!
//! On top of it this module adds what a command line wants: relative
//! directories (`file://./workspace`, or a plain path) resolved against the
//! current directory, local directories created when missing, and
//! `--sandbox local` as a shorthand for running commands in the backend's
//! own directory.

use std::path::{Path, PathBuf};

use agent_backend::{BackendSpec, BuiltBackend};
use anyhow::{Context, bail};
use backend_core::BackendHandle;
use serde_json::Value;

/// A backend, and the sandbox that runs commands when there is one.
#[derive(Clone)]
pub struct Opened {
    /// Where the file tools go, and `execute` when it has a sandbox.
    pub handle: BackendHandle,
    /// A one-line description for logs.
    pub description: String,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

impl Opened {
    /// Closes the sandbox, if any (containers, remote sandboxes).
    pub async fn close(&self) -> anyhow::Result<()> {
        self.handle
            .close()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The default backend: `./workspace`, created if missing, no commands.
pub const DEFAULT_BACKEND: &str = "file://./workspace";

/// Opens the backend and sandbox.
///
/// - `backend`: a location string (`file://PATH`, a plain path, `state://`,
///   `docker://IMAGE`, ...) or a config table (`{ url = ..., param = ... }`,
///   or a composite `{ default = ..., routes = { "/prefix/" = ... } }`);
///   `None` means [`DEFAULT_BACKEND`]. A backend that is itself a sandbox
///   (`docker://`, `file://...?exec=true`) also runs commands.
/// - `sandbox`: `local` runs commands on the host in the backend's
///   directory (the backend must be a `file://` one); any other location
///   must build a sandbox, which then holds the files too (so that commands
///   see what the file tools wrote), and cannot be combined with an explicit
///   backend: use a composite config to route some paths elsewhere.
pub async fn open(backend: Option<&Value>, sandbox: Option<&str>) -> anyhow::Result<Opened> {
    let spec = resolve(backend, sandbox)?;
    create_local_dirs(&spec)?;
    let built: BuiltBackend = spec
        .build()
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("cannot open the backend")?;
    if sandbox.is_some() && built.sandbox().is_none() {
        bail!(
            "{} does not run commands, so it cannot be the sandbox",
            built.description()
        );
    }
    let description = match built.sandbox() {
        Some(_) => format!("{} (runs commands)", built.description()),
        None => format!("{} (no command execution)", built.description()),
    };
    let handle = match built.into_parts() {
        (_, Some(sandbox)) => BackendHandle::from_sandbox(sandbox),
        (backend, None) => BackendHandle::from_backend(backend),
    };
    Ok(Opened {
        handle,
        description,
    })
}

/// What [`open()`] would open, without touching anything (no directory is
/// created, nothing is started): relative paths made absolute, `--sandbox
/// local` folded into the backend, conflicting choices refused.
pub fn resolve(backend: Option<&Value>, sandbox: Option<&str>) -> anyhow::Result<BackendSpec> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let default = Value::String(DEFAULT_BACKEND.to_owned());
    let explicit_backend = backend.is_some();
    let backend_value = absolutize(backend.unwrap_or(&default), &cwd, true);

    let spec = match sandbox {
        None => parse(&backend_value)?,
        Some("local" | "local://") => {
            let mut spec = parse(&backend_value)?;
            match &mut spec {
                BackendSpec::Local(local) => local.exec = true,
                other => bail!(
                    "--sandbox local runs commands in the backend's directory, so the backend must be file://..., not {}://",
                    other.scheme()
                ),
            }
            spec
        }
        Some(location) => {
            if explicit_backend {
                bail!(
                    "give either a backend or a sandbox location, not both: with --sandbox {location} the sandbox holds the files too; to keep some paths elsewhere use a composite backend config (default = the sandbox, routes = other backends)"
                );
            }
            parse(&absolutize(&Value::String(location.to_owned()), &cwd, true))?
        }
    };
    Ok(spec)
}

/// Whether what `spec` builds runs commands (offers `execute`).
pub fn runs_commands(spec: &BackendSpec) -> bool {
    match spec {
        BackendSpec::Local(local) => local.exec,
        BackendSpec::Composite(composite) => runs_commands(&composite.default),
        BackendSpec::State(_) | BackendSpec::S3(_) => false,
        _ => true,
    }
}

fn parse(value: &Value) -> anyhow::Result<BackendSpec> {
    BackendSpec::from_value(value)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("bad backend location or config")
}

/// Rewrites relative `file://` locations (and, at the top level, plain
/// paths) to absolute `file:///...` ones, in strings and in config tables.
fn absolutize(value: &Value, cwd: &Path, top_level: bool) -> Value {
    match value {
        Value::String(location) => Value::String(absolute_location(location, cwd, top_level)),
        Value::Object(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| (key.clone(), absolutize(value, cwd, false)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn absolute_location(location: &str, cwd: &Path, plain_paths: bool) -> String {
    let (path, query) = match location.strip_prefix("file://") {
        Some(rest) => split_query(rest),
        None if plain_paths && !location.contains("://") => split_query(location),
        None => return location.to_owned(),
    };
    if path.is_empty() {
        return location.to_owned();
    }
    let path = Path::new(path);
    let absolute: PathBuf = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    format!("file://{}{query}", normalise(&absolute).display())
}

fn split_query(text: &str) -> (&str, &str) {
    match text.find('?') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    }
}

/// Drops `.` segments so that `file://./workspace` reads `.../workspace`.
fn normalise(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Creates the directories of every local backend in the spec (composite
/// routes included), so that a fresh checkout works without set-up.
fn create_local_dirs(spec: &BackendSpec) -> anyhow::Result<()> {
    match spec {
        BackendSpec::Local(local) => std::fs::create_dir_all(&local.root).with_context(|| {
            format!(
                "cannot create the workspace directory {}",
                local.root.display()
            )
        }),
        BackendSpec::Composite(composite) => {
            create_local_dirs(&composite.default)?;
            composite.routes.values().try_for_each(create_local_dirs)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_file_locations_become_absolute() {
        let cwd = Path::new("/home/me/project");
        assert_eq!(
            absolute_location("file://./workspace", cwd, true),
            "file:///home/me/project/workspace"
        );
        assert_eq!(
            absolute_location("ws?exec=true", cwd, true),
            "file:///home/me/project/ws?exec=true"
        );
        assert_eq!(
            absolute_location("file:///srv/ws", cwd, true),
            "file:///srv/ws"
        );
        assert_eq!(absolute_location("state://", cwd, true), "state://");
    }

    #[test]
    fn plain_paths_are_directories_only_at_the_top_level() {
        let cwd = Path::new("/p");
        let config = serde_json::json!({"default": "file://data", "routes": {"/m/": {"url": "file://mem"}}, "x": "plain"});
        let fixed = absolutize(&config, cwd, true);
        assert_eq!(fixed["default"], "file:///p/data");
        assert_eq!(fixed["routes"]["/m/"]["url"], "file:///p/mem");
        assert_eq!(fixed["x"], "plain");
    }
}
