//! Virtual paths: the only kind of path an agent gives and a backend returns.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::operation::Operation;

/// The longest accepted path, in bytes, after normalisation.
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest accepted path segment, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// An absolute, normalised, `/`-separated UTF-8 path inside a backend.
///
/// [`VirtualPath::parse`] is the single gate every path an agent gives passes
/// through: a relative path is taken from `/`; repeated `/` and `.` segments
/// collapse; a trailing `/` is dropped. It refuses, with
/// [`ErrorKind::InvalidPath`], a `..` segment, a leading `~`, a Windows drive
/// (`C:`), a backslash, NUL or any other control character, a segment over
/// [`MAX_SEGMENT_BYTES`] and a path over [`MAX_PATH_BYTES`]. A name that merely
/// contains dots, such as `a..b`, is accepted.
///
/// A `VirtualPath` therefore always starts with `/`, never ends with `/`
/// unless it is the root, and has no empty, `.` or `..` segment.
///
/// # Examples
/// ```
/// use backend_core::VirtualPath;
/// let p = VirtualPath::parse("//src/./lib.rs/").unwrap();
/// assert_eq!(p.as_str(), "/src/lib.rs");
/// assert!(VirtualPath::parse("/src/../etc/passwd").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualPath(String);

impl VirtualPath {
    /// The root, `/`.
    pub fn root() -> Self {
        VirtualPath("/".to_owned())
    }

    /// Validates and normalises `input`.
    pub fn parse(input: &str) -> Result<Self> {
        check_raw(input)?;
        let mut out = String::with_capacity(input.len() + 1);
        for segment in input.split('/') {
            match segment {
                "" | "." => {}
                ".." => {
                    return Err(invalid(
                        input,
                        "`..` segments are not allowed; give the absolute path from /",
                    ));
                }
                _ => {
                    if segment.len() > MAX_SEGMENT_BYTES {
                        return Err(invalid(
                            input,
                            format!("a path segment is longer than {MAX_SEGMENT_BYTES} bytes"),
                        ));
                    }
                    out.push('/');
                    out.push_str(segment);
                }
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        if out.len() > MAX_PATH_BYTES {
            return Err(invalid(
                input,
                format!("the path is longer than {MAX_PATH_BYTES} bytes"),
            ));
        }
        if out[1..].split('/').next().is_some_and(is_drive) {
            return Err(invalid(
                input,
                "Windows drive letters are not allowed; paths start at /",
            ));
        }
        Ok(VirtualPath(out))
    }

    /// [`parse`](Self::parse) on behalf of `operation`: the error, if any,
    /// names the operation as well as the path. This is how a backend method
    /// checks its path argument.
    ///
    /// ```
    /// use backend_core::{Operation, VirtualPath};
    /// let err = VirtualPath::parse_for("../x", Operation::Write).unwrap_err();
    /// assert_eq!(err.operation(), Some(Operation::Write));
    /// assert_eq!(err.path(), Some("../x"));
    /// ```
    pub fn parse_for(path: &str, operation: Operation) -> Result<Self> {
        VirtualPath::parse(path).map_err(|e| e.with_operation(operation))
    }

    /// The path as a string, such as `/src/lib.rs`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the path and returns its string.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether this is `/`.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The segments, without separators; none for the root.
    pub fn segments(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.0[1..].split('/').filter(|s| !s.is_empty())
    }

    /// The number of segments (0 for the root).
    pub fn depth(&self) -> usize {
        self.segments().count()
    }

    /// The last segment; `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        if self.is_root() {
            None
        } else {
            self.0.rsplit('/').next()
        }
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<VirtualPath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.rfind('/').unwrap_or(0);
        Some(if cut == 0 {
            VirtualPath::root()
        } else {
            VirtualPath(self.0[..cut].to_owned())
        })
    }

    /// Every ancestor from the root down to, but excluding, this path.
    pub fn ancestors(&self) -> Vec<VirtualPath> {
        let mut out = Vec::new();
        let mut current = self.parent();
        while let Some(p) = current {
            current = p.parent();
            out.push(p);
        }
        out.reverse();
        out
    }

    /// Appends a relative path (validated by the same rules).
    pub fn join(&self, relative: &str) -> Result<VirtualPath> {
        let joined = if self.is_root() {
            format!("/{relative}")
        } else {
            format!("{}/{relative}", self.0)
        };
        VirtualPath::parse(&joined)
    }

    /// Appends one name that is known to be a valid segment (no `/`).
    ///
    /// Use [`join`](Self::join) for anything that came from outside.
    pub fn child(&self, name: &str) -> VirtualPath {
        debug_assert!(!name.is_empty() && !name.contains('/'));
        if self.is_root() {
            VirtualPath(format!("/{name}"))
        } else {
            VirtualPath(format!("{}/{name}", self.0))
        }
    }

    /// Whether `base` is this path or one of its ancestors, on segment
    /// boundaries: `/memories/x` starts with `/memories`, `/memoriesx` does not.
    pub fn starts_with(&self, base: &VirtualPath) -> bool {
        self.relative_to(base).is_some()
    }

    /// This path relative to `base` (no leading `/`; empty when equal), or
    /// `None` when `base` is not an ancestor or equal.
    pub fn relative_to(&self, base: &VirtualPath) -> Option<&str> {
        if base.is_root() {
            return Some(&self.0[1..]);
        }
        let rest = self.0.strip_prefix(base.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix('/')
        }
    }

    /// This path re-rooted under `base`: `/memories/a` with base `/memories`
    /// is `/a`; `None` when `base` is not an ancestor or equal.
    pub fn strip_prefix(&self, base: &VirtualPath) -> Option<VirtualPath> {
        self.relative_to(base)
            .map(|rest| VirtualPath(format!("/{rest}")))
    }

    /// The inverse of [`strip_prefix`](Self::strip_prefix): this path (taken
    /// as relative to `/`) placed under `base`.
    pub fn rebase(&self, base: &VirtualPath) -> VirtualPath {
        if self.is_root() {
            base.clone()
        } else if base.is_root() {
            self.clone()
        } else {
            VirtualPath(format!("{}{}", base.0, self.0))
        }
    }
}

fn invalid(input: &str, why: impl Into<String>) -> Error {
    let shown: String = input
        .chars()
        .take(200)
        .flat_map(char::escape_debug)
        .collect();
    Error::new(
        ErrorKind::InvalidPath,
        format!("invalid path \"{shown}\": {}", why.into()),
    )
    .with_path(shown)
}

fn is_drive(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn check_raw(input: &str) -> Result<()> {
    if input.len() > MAX_PATH_BYTES * 2 {
        return Err(invalid(
            input,
            format!("the path is longer than {MAX_PATH_BYTES} bytes"),
        ));
    }
    if input.starts_with('~') {
        return Err(invalid(
            input,
            "home-directory paths (`~`) are not allowed; give the absolute path from /",
        ));
    }
    if is_drive(input) {
        return Err(invalid(
            input,
            "Windows drive letters are not allowed; paths start at /",
        ));
    }
    if input.contains('\\') {
        return Err(invalid(
            input,
            "backslashes are not allowed; separate segments with /",
        ));
    }
    if input.chars().any(char::is_control) {
        return Err(invalid(
            input,
            "control characters (including NUL and newlines) are not allowed",
        ));
    }
    Ok(())
}

impl fmt::Display for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for VirtualPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Lets maps keyed by `VirtualPath` be queried with `&str`; ordering,
/// equality and hashing are those of the inner string.
impl std::borrow::Borrow<str> for VirtualPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for VirtualPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for VirtualPath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        VirtualPath::parse(s)
    }
}

impl PartialEq<str> for VirtualPath {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for VirtualPath {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Serialize for VirtualPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for VirtualPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        VirtualPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(input: &str) -> String {
        VirtualPath::parse(input).unwrap().into_string()
    }

    fn rejected(input: &str) -> bool {
        matches!(VirtualPath::parse(input), Err(e) if e.kind() == ErrorKind::InvalidPath)
    }

    #[test]
    fn normalises_as_the_rules_say() {
        assert_eq!(ok(""), "/");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("a/b"), "/a/b");
        assert_eq!(ok("//etc/passwd"), "/etc/passwd");
        assert_eq!(ok("/a/./b//c/"), "/a/b/c");
        assert_eq!(ok("/a..b"), "/a..b");
        assert_eq!(ok("/.hidden/..x"), "/.hidden/..x");
        assert_eq!(
            ok("/dir with space/ünï código.txt"),
            "/dir with space/ünï código.txt"
        );
    }

    #[test]
    fn rejects_as_the_rules_say() {
        for bad in [
            "..",
            "/..",
            "/a/../b",
            "a/..",
            "~",
            "~/x",
            "~root/x",
            "C:",
            "C:/x",
            "c:\\x",
            "/C:/x",
            "/a\\b",
            "/a\0b",
            "/a\nb",
            "/a\tb",
            "/a\u{7f}b",
        ] {
            assert!(rejected(bad), "{bad:?} should be rejected");
        }
        assert!(rejected(&format!("/{}", "x".repeat(256))));
        assert!(!rejected(&format!("/{}", "x".repeat(255))));
        let long: String = (0..420).map(|_| "/abcdefghi").collect();
        assert!(rejected(&long));
    }

    #[test]
    fn parse_for_names_the_operation_and_the_path() {
        let err = VirtualPath::parse_for("/a/../b", Operation::Edit).expect_err("`..` is refused");
        assert_eq!(err.kind(), ErrorKind::InvalidPath);
        assert_eq!(err.operation(), Some(Operation::Edit));
        assert_eq!(err.path(), Some("/a/../b"));
        assert!(
            err.to_string().starts_with("[invalid_path] edit: "),
            "{err}"
        );
        let ok = VirtualPath::parse_for("a//b", Operation::Ls).expect("a clean path");
        assert_eq!(ok.as_str(), "/a/b");
    }

    #[test]
    fn navigation_helpers() {
        let p = VirtualPath::parse("/a/b/c.txt").unwrap();
        assert_eq!(p.file_name(), Some("c.txt"));
        assert_eq!(p.parent().unwrap().as_str(), "/a/b");
        assert_eq!(
            VirtualPath::parse("/a").unwrap().parent().unwrap(),
            VirtualPath::root()
        );
        assert_eq!(VirtualPath::root().parent(), None);
        let ancestors: Vec<_> = p
            .ancestors()
            .into_iter()
            .map(VirtualPath::into_string)
            .collect();
        assert_eq!(ancestors, ["/", "/a", "/a/b"]);
        let base = VirtualPath::parse("/memories").unwrap();
        assert!(
            VirtualPath::parse("/memories/x")
                .unwrap()
                .starts_with(&base)
        );
        assert!(base.starts_with(&base));
        assert!(!VirtualPath::parse("/memoriesx").unwrap().starts_with(&base));
        assert_eq!(
            VirtualPath::parse("/memories/x/y")
                .unwrap()
                .strip_prefix(&base)
                .unwrap()
                .as_str(),
            "/x/y"
        );
        assert_eq!(base.strip_prefix(&base).unwrap(), VirtualPath::root());
        assert_eq!(
            VirtualPath::parse("/x").unwrap().rebase(&base).as_str(),
            "/memories/x"
        );
        assert_eq!(VirtualPath::root().rebase(&base), base);
        assert_eq!(p.join("../x").unwrap_err().kind(), ErrorKind::InvalidPath);
        assert_eq!(VirtualPath::root().join("a/b").unwrap().as_str(), "/a/b");
    }

    proptest! {
        #[test]
        fn accepted_paths_are_clean(input in "[a-zA-Z0-9./~:\\\\ \u{0}-\u{1f}\u{e9}]{0,40}") {
            if let Ok(p) = VirtualPath::parse(&input) {
                let s = p.as_str();
                prop_assert!(s.starts_with('/'));
                prop_assert!(!s.chars().any(char::is_control));
                prop_assert!(!s.contains('\\'));
                prop_assert!(s == "/" || !s.ends_with('/'));
                prop_assert!(p.segments().all(|seg| seg != ".." && seg != "." && !seg.is_empty()));
            }
        }

        #[test]
        fn normalising_twice_changes_nothing(input in "[a-z./]{0,30}") {
            if let Ok(p) = VirtualPath::parse(&input) {
                let again = VirtualPath::parse(p.as_str()).unwrap();
                prop_assert_eq!(again, p);
            }
        }

        #[test]
        fn dotdot_segment_is_always_rejected(prefix in "[a-z/]{0,10}", suffix in "[a-z/]{0,10}") {
            let input = format!("{prefix}/../{suffix}");
            prop_assert!(rejected(&input));
        }
    }
}
