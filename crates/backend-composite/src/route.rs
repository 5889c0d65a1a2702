//! The route table: which backend owns a path, and how paths and errors
//! cross between the composite's view and a route's own view.

use std::collections::BTreeSet;
use std::sync::Arc;

use backend_core::{Backend, BackendHandle, Error, ErrorKind, FileInfo, VirtualPath};

/// One mounted backend.
pub(crate) struct Route {
    /// Where it is mounted, such as `/memories`.
    pub(crate) mount: VirtualPath,
    /// The mount as users wrote it in errors: `/memories/`.
    pub(crate) label: String,
    /// The mounted backend; its sandbox is kept when the route was given as
    /// one, so that `close` reaches it.
    pub(crate) handle: BackendHandle,
}

/// A route as given to the builder, before its prefix is checked.
pub(crate) struct RouteEntry {
    pub(crate) prefix: String,
    pub(crate) handle: BackendHandle,
}

/// The backend that owns a path: the default one or a route (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Default,
    Route(usize),
}

/// Routes sorted deepest first, so the first prefix that matches is the
/// longest one.
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<Route>,
}

impl RouteTable {
    /// Validates the prefixes: each one normalised, none at `/`, none given
    /// twice.
    pub(crate) fn new(routes: Vec<RouteEntry>) -> Result<Self, Error> {
        let mut table: Vec<Route> = Vec::with_capacity(routes.len());
        for RouteEntry { prefix, handle } in routes {
            let mount = VirtualPath::parse(&prefix).map_err(|e| {
                Error::invalid_argument(format!(
                    "route prefix {prefix:?} is not a valid path: {}",
                    e.message()
                ))
            })?;
            if mount.is_root() {
                return Err(Error::invalid_argument(format!(
                    "route prefix {prefix:?} is the root; a route at / would hide the default backend, give a prefix such as /memories/"
                )));
            }
            if let Some(twin) = table.iter().find(|r| r.mount == mount) {
                return Err(Error::invalid_argument(format!(
                    "route prefix {prefix:?} is given twice: it is the same as {} once normalised",
                    twin.label
                )));
            }
            let label = format!("{mount}/");
            table.push(Route {
                mount,
                label,
                handle,
            });
        }
        table.sort_by(|a, b| {
            b.mount
                .depth()
                .cmp(&a.mount.depth())
                .then_with(|| a.mount.cmp(&b.mount))
        });
        Ok(RouteTable { routes: table })
    }

    /// The owner of `path` and the path as the owner sees it.
    pub(crate) fn resolve(&self, path: &VirtualPath) -> (Owner, VirtualPath) {
        for (i, route) in self.routes.iter().enumerate() {
            if let Some(inner) = path.strip_prefix(&route.mount) {
                return (Owner::Route(i), inner);
            }
        }
        (Owner::Default, path.clone())
    }

    /// The owner of `path` and the byte offset in it where the owner's view
    /// of it starts (`/memories/a` → 9, for `/a`); past the end for a mount
    /// point, whose view is `/`.
    pub(crate) fn locate(&self, path: &VirtualPath) -> (Owner, usize) {
        match self.owner_of(path) {
            Owner::Default => (Owner::Default, 0),
            Owner::Route(i) => (Owner::Route(i), self.routes[i].mount.as_str().len()),
        }
    }

    /// The owner of `path` alone.
    pub(crate) fn owner_of(&self, path: &VirtualPath) -> Owner {
        self.routes
            .iter()
            .position(|r| path.starts_with(&r.mount))
            .map_or(Owner::Default, Owner::Route)
    }

    /// Routes mounted strictly below `path`.
    pub(crate) fn below<'a>(
        &'a self,
        path: &'a VirtualPath,
    ) -> impl Iterator<Item = (usize, &'a Route)> + 'a {
        self.routes
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.mount != *path && r.mount.starts_with(path))
    }

    /// The first route mounted at or below `path`, which makes `path` a
    /// directory whatever its owner holds.
    pub(crate) fn mounted_at_or_below(&self, path: &VirtualPath) -> Option<&Route> {
        self.routes.iter().find(|r| r.mount.starts_with(path))
    }

    /// The names of the directories that exist under `path` only because a
    /// route is mounted at or below them.
    pub(crate) fn virtual_children(&self, path: &VirtualPath) -> BTreeSet<String> {
        self.below(path)
            .filter_map(|(_, r)| r.mount.relative_to(path))
            .filter_map(|rest| rest.split('/').next().map(str::to_owned))
            .collect()
    }

    /// The backend of an owner.
    pub(crate) fn backend(&self, owner: Owner) -> Option<&Arc<dyn Backend>> {
        match owner {
            Owner::Default => None,
            Owner::Route(i) => Some(self.routes[i].handle.backend()),
        }
    }

    /// The mount of an owner (`None` for the default backend).
    pub(crate) fn mount(&self, owner: Owner) -> Option<&VirtualPath> {
        match owner {
            Owner::Default => None,
            Owner::Route(i) => Some(&self.routes[i].mount),
        }
    }

    /// A path from an owner's view mapped back to the composite's view.
    pub(crate) fn outer(&self, owner: Owner, inner: &VirtualPath) -> VirtualPath {
        match self.mount(owner) {
            None => inner.clone(),
            Some(mount) => inner.rebase(mount),
        }
    }

    /// An entry from an owner's view mapped back.
    pub(crate) fn outer_info(&self, owner: Owner, mut info: FileInfo) -> FileInfo {
        info.path = self.outer(owner, &info.path);
        info
    }

    /// An owner's error mapped back: its path (in the field and in the
    /// message) becomes the composite's, and a route's error names the route.
    pub(crate) fn outer_error(&self, owner: Owner, err: Error) -> Error {
        let Owner::Route(i) = owner else {
            return err;
        };
        let route = &self.routes[i];
        let mut err = err;
        if let Some(inner) = err.path().and_then(|p| VirtualPath::parse(p).ok()) {
            let outer = inner.rebase(&route.mount);
            if let Some(message) = replace_path(err.message(), inner.as_str(), outer.as_str()) {
                err = err.with_message(message);
            }
            err = err.with_path(outer.into_string());
        }
        err.with_context("route", route.label.clone())
    }
}

/// `message` with each whole-token occurrence of the path `inner` replaced by
/// `outer`; `None` when there is none.
fn replace_path(message: &str, inner: &str, outer: &str) -> Option<String> {
    let is_path_char = |c: char| c.is_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '~');
    let mut out = String::with_capacity(message.len() + outer.len());
    let mut rest = message;
    let mut replaced = false;
    let mut prev: Option<char> = None;
    while let Some(at) = rest.find(inner) {
        let before = rest[..at]
            .chars()
            .next_back()
            .or(if at == 0 { prev } else { None });
        let after = rest[at + inner.len()..].chars().next();
        let whole = !before.is_some_and(is_path_char) && !after.is_some_and(is_path_char);
        out.push_str(&rest[..at]);
        out.push_str(if whole { outer } else { inner });
        replaced |= whole;
        prev = inner.chars().next_back();
        rest = &rest[at + inner.len()..];
    }
    out.push_str(rest);
    replaced.then_some(out)
}

/// The error for writing, editing or reading a path that is a directory
/// because a route is mounted at or below it.
pub(crate) fn mount_is_directory(path: &VirtualPath, route: &Route) -> Error {
    let why = if route.mount == *path {
        format!("it is the mount point of the route {}", route.label)
    } else {
        format!("it holds the mount point of the route {}", route.label)
    };
    Error::new(
        ErrorKind::IsDirectory,
        format!("{path} is a directory ({why}); give a file path inside it"),
    )
    .with_path(path.as_str())
    .with_context("route", route.label.clone())
}

/// The error for deleting a mount point or a directory that holds one.
pub(crate) fn mount_not_deletable(path: &VirtualPath, route: &Route) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "{path} cannot be deleted: it is or holds the mount point of the route {}; delete the entries inside the route instead",
            route.label
        ),
    )
    .with_path(path.as_str())
    .with_context("route", route.label.clone())
}

#[cfg(test)]
mod tests {
    use super::replace_path;

    #[test]
    fn replaces_whole_paths_only() {
        assert_eq!(
            replace_path("/a.txt does not exist; list it", "/a.txt", "/m/a.txt").as_deref(),
            Some("/m/a.txt does not exist; list it")
        );
        assert_eq!(replace_path("/a.txt2 nope", "/a.txt", "/m/a.txt"), None);
        assert_eq!(
            replace_path("/ is a directory, not a file", "/", "/m").as_deref(),
            Some("/m is a directory, not a file")
        );
        assert_eq!(
            replace_path("give the absolute path from /x/y", "/", "/m"),
            None
        );
    }
}
