//! Glob matching with the rules every backend shares.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, ErrorKind, Result};

/// The most alternatives brace expansion may produce.
const MAX_ALTERNATIVES: usize = 256;
/// The most segments one alternative may have.
const MAX_SEGMENTS: usize = 63;

/// A compiled glob pattern, matched against paths relative to a search root.
///
/// Rules (`docs/semantics.md`): `*`, `?` and `[...]` stay within one
/// segment, `**` spans segments, `{a,b}` alternates (and may hold `/`). A
/// pattern without `/` matches the file name at any depth. A name starting
/// with `.` is matched only by a pattern segment that starts with `.`, so `*`
/// and `**` never enter hidden files or directories. A `..` segment is refused
/// with `invalid_pattern`. A leading `/` is ignored: patterns are always
/// relative to the search path. Matching is case-sensitive.
///
/// # Examples
/// ```
/// use backend_core::GlobPattern;
/// let g = GlobPattern::new("**/*.{rs,toml}").unwrap();
/// assert!(g.matches("src/lib.rs"));
/// assert!(g.matches("Cargo.toml"));
/// assert!(!g.matches(".cargo/config.toml"));
/// ```
#[derive(Debug, Clone)]
pub struct GlobPattern {
    source: String,
    alternatives: Vec<Alternative>,
}

#[derive(Debug, Clone)]
struct Alternative {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    /// `**`: zero or more segments, none hidden.
    AnyDepth,
    /// A segment without metacharacters.
    Literal(String),
    /// A segment with metacharacters, as a one-glob `GlobSet`, which picks
    /// a fast strategy (extension, prefix, suffix, literal) before falling
    /// back to a regex.
    Pattern {
        matcher: GlobSet,
        shape: Shape,
        source: String,
        allows_hidden: bool,
    },
}

/// The common one-star shapes, matched without the `GlobSet`.
#[derive(Debug, Clone)]
enum Shape {
    /// `*`
    Any,
    /// `*tail`
    Suffix(String),
    /// `head*`
    Prefix(String),
    /// Anything else: ask the `GlobSet`.
    General,
}

impl Shape {
    fn of(segment: &str) -> Shape {
        if segment == "*" {
            Shape::Any
        } else if let Some(tail) = segment.strip_prefix('*').filter(|t| !has_meta(t)) {
            Shape::Suffix(tail.to_owned())
        } else if let Some(head) = segment.strip_suffix('*').filter(|h| !has_meta(h)) {
            Shape::Prefix(head.to_owned())
        } else {
            Shape::General
        }
    }
}

impl Segment {
    fn matches(&self, name: &str) -> bool {
        match self {
            Segment::AnyDepth => false,
            Segment::Literal(lit) => lit == name,
            Segment::Pattern {
                matcher,
                shape,
                allows_hidden,
                ..
            } => {
                (*allows_hidden || !name.starts_with('.'))
                    && match shape {
                        Shape::Any => true,
                        Shape::Suffix(tail) => name.ends_with(tail.as_str()),
                        Shape::Prefix(head) => name.starts_with(head.as_str()),
                        Shape::General => matcher.is_match(name),
                    }
            }
        }
    }
}

fn invalid_pattern(pattern: &str, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidPattern,
        format!("invalid glob pattern {pattern:?}: {why}"),
    )
}

fn has_meta(segment: &str) -> bool {
    segment.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

impl GlobPattern {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self> {
        if pattern.is_empty() {
            return Err(invalid_pattern(pattern, "the pattern is empty"));
        }
        if pattern.contains('\0') {
            return Err(invalid_pattern(pattern, "the pattern contains a NUL byte"));
        }
        let expanded = expand_braces(pattern).map_err(|why| invalid_pattern(pattern, why))?;
        let mut alternatives = Vec::with_capacity(expanded.len());
        for alt in expanded {
            let trimmed = alt.trim_start_matches('/');
            let full = if trimmed.contains('/') {
                trimmed.to_owned()
            } else {
                format!("**/{trimmed}")
            };
            let mut segments = Vec::new();
            for seg in full.split('/').filter(|s| !s.is_empty() && *s != ".") {
                if seg == ".." {
                    return Err(invalid_pattern(
                        pattern,
                        "`..` segments are not allowed; patterns are relative to the search path",
                    ));
                }
                let segment = if seg == "**" {
                    // Collapse runs of `**`: they mean the same and would only
                    // multiply matching work.
                    if matches!(segments.last(), Some(Segment::AnyDepth)) {
                        continue;
                    }
                    Segment::AnyDepth
                } else if !has_meta(seg) {
                    Segment::Literal(seg.to_owned())
                } else {
                    let glob = GlobBuilder::new(seg)
                        .literal_separator(true)
                        .backslash_escape(true)
                        .build()
                        .map_err(|e| invalid_pattern(pattern, e.kind()))?;
                    let matcher = GlobSetBuilder::new()
                        .add(glob)
                        .build()
                        .map_err(|e| invalid_pattern(pattern, e.kind()))?;
                    Segment::Pattern {
                        matcher,
                        shape: Shape::of(seg),
                        source: seg.to_owned(),
                        allows_hidden: seg.starts_with('.'),
                    }
                };
                segments.push(segment);
            }
            if segments.is_empty() {
                return Err(invalid_pattern(pattern, "the pattern names no file"));
            }
            if segments.len() > MAX_SEGMENTS {
                return Err(invalid_pattern(
                    pattern,
                    "the pattern has too many segments",
                ));
            }
            alternatives.push(Alternative { segments });
        }
        Ok(GlobPattern {
            source: pattern.to_owned(),
            alternatives,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `relative` (a `/`-separated path relative to the search root,
    /// without a leading `/`) matches.
    pub fn matches(&self, relative: &str) -> bool {
        let relative = relative.trim_start_matches('/');
        self.alternatives.iter().any(|alt| alt.matches(relative))
    }

    /// The directory segments every match must start with (the deepest
    /// literal prefix shared by all alternatives), so that stores with
    /// prefix listing can narrow what they fetch. Empty when any match may
    /// start anywhere.
    pub fn literal_prefix(&self) -> Vec<&str> {
        let mut common: Option<Vec<&str>> = None;
        for alt in &self.alternatives {
            let n = alt.segments.len();
            let prefix: Vec<&str> = alt.segments[..n - 1]
                .iter()
                .map_while(|s| match s {
                    Segment::Literal(l) => Some(l.as_str()),
                    _ => None,
                })
                .collect();
            common = Some(match common {
                None => prefix,
                Some(c) => c
                    .into_iter()
                    .zip(prefix)
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect(),
            });
        }
        common.unwrap_or_default()
    }

    /// The pattern that matches `relative` exactly when this one matches
    /// `dir/relative`, for searching a sub-tree that has its own root (a
    /// composite router's route mounted at `dir`, a path relative to the
    /// search root). `None` when no file under `dir` can match.
    ///
    /// The result is a pattern string for [`GlobPattern::new`].
    ///
    /// # Examples
    /// ```
    /// use backend_core::GlobPattern;
    /// let g = GlobPattern::new("memories/*.md").unwrap();
    /// let inner = GlobPattern::new(&g.residual("memories").unwrap()).unwrap();
    /// assert!(inner.matches("a.md"));
    /// assert!(!inner.matches("x/a.md"));
    /// assert_eq!(g.residual("src"), None);
    /// ```
    pub fn residual(&self, dir: &str) -> Option<String> {
        let mut rendered: Vec<String> = Vec::new();
        for alt in &self.alternatives {
            for tail in alt.residuals(dir) {
                if !rendered.contains(&tail) {
                    rendered.push(tail);
                }
            }
        }
        match rendered.len() {
            0 => None,
            1 => rendered.pop(),
            _ => Some(format!("{{{}}}", rendered.join(","))),
        }
    }
}

impl Segment {
    /// The segment as pattern text, with `,` escaped so that it can sit
    /// inside a brace alternation.
    fn render(&self) -> String {
        let text = match self {
            Segment::AnyDepth => "**",
            Segment::Literal(lit) => lit.as_str(),
            Segment::Pattern { source, .. } => source.as_str(),
        };
        text.replace(',', "\\,")
    }
}

impl Alternative {
    /// Runs the pattern as a small NFA over the path's segments; states are
    /// pattern positions held in a bit set.
    fn matches(&self, relative: &str) -> bool {
        let segs = &self.segments;
        let accept = 1u64 << segs.len();
        let close = |mut states: u64| {
            // `**` may match zero segments: reaching it also reaches the next.
            for (i, seg) in segs.iter().enumerate() {
                if states & (1 << i) != 0 && matches!(seg, Segment::AnyDepth) {
                    states |= 1 << (i + 1);
                }
            }
            states
        };
        let mut states = close(1);
        for name in relative.split('/') {
            if name.is_empty() {
                continue;
            }
            let mut next = 0u64;
            for (i, seg) in segs.iter().enumerate() {
                if states & (1 << i) == 0 {
                    continue;
                }
                match seg {
                    Segment::AnyDepth => {
                        if !name.starts_with('.') {
                            next |= 1 << i;
                        }
                    }
                    other => {
                        if other.matches(name) {
                            next |= 1 << (i + 1);
                        }
                    }
                }
            }
            states = close(next);
            if states == 0 {
                return false;
            }
        }
        states & accept != 0
    }
}

impl Alternative {
    /// The positions reached after consuming the segments of `dir`, each
    /// rendered as the rest of the pattern (`./` keeps a one-segment rest
    /// anchored instead of matching at any depth).
    fn residuals(&self, dir: &str) -> Vec<String> {
        let segs = &self.segments;
        let close = |mut states: u64| {
            for (i, seg) in segs.iter().enumerate() {
                if states & (1 << i) != 0 && matches!(seg, Segment::AnyDepth) {
                    states |= 1 << (i + 1);
                }
            }
            states
        };
        let mut states = close(1);
        for name in dir.split('/').filter(|n| !n.is_empty()) {
            let mut next = 0u64;
            for (i, seg) in segs.iter().enumerate() {
                if states & (1 << i) == 0 {
                    continue;
                }
                match seg {
                    Segment::AnyDepth if !name.starts_with('.') => next |= 1 << i,
                    Segment::AnyDepth => {}
                    other if other.matches(name) => next |= 1 << (i + 1),
                    _ => {}
                }
            }
            states = close(next);
        }
        (0..segs.len())
            .filter(|&i| states & (1 << i) != 0)
            // `**/x` already covers `x`.
            .filter(|&i| {
                !(i > 0 && states & (1 << (i - 1)) != 0 && matches!(segs[i - 1], Segment::AnyDepth))
            })
            .map(|i| {
                let rest: Vec<String> = segs[i..].iter().map(Segment::render).collect();
                format!("./{}", rest.join("/"))
            })
            .collect()
    }
}

/// Expands `{a,b}` alternations (nested allowed; `\{` escapes) into plain
/// patterns.
fn expand_braces(pattern: &str) -> std::result::Result<Vec<String>, String> {
    let bytes = pattern.as_bytes();
    // Find the first top-level unescaped `{` and its matching `}`.
    let mut i = 0;
    let mut open = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'{' => {
                open = Some(i);
                break;
            }
            b'}' => return Err("unbalanced `}`".to_owned()),
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        return Ok(vec![pattern.to_owned()]);
    };
    let mut depth = 0usize;
    let mut parts = Vec::new();
    let mut part_start = open + 1;
    let mut close = None;
    let mut j = open;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 1,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push(&pattern[part_start..j]);
                    close = Some(j);
                    break;
                }
            }
            b',' if depth == 1 => {
                parts.push(&pattern[part_start..j]);
                part_start = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        return Err("unbalanced `{`".to_owned());
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let tails = expand_braces(tail)?;
    let mut out = Vec::new();
    for part in parts {
        for inner in expand_braces(part)? {
            for t in &tails {
                out.push(format!("{head}{inner}{t}"));
                if out.len() > MAX_ALTERNATIVES {
                    return Err(format!(
                        "braces expand to more than {MAX_ALTERNATIVES} alternatives"
                    ));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        GlobPattern::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn pattern_without_slash_matches_name_at_any_depth() {
        assert!(m("*.py", "a.py"));
        assert!(m("*.py", "x/y/a.py"));
        assert!(!m("*.py", "a.pyc"));
    }

    #[test]
    fn star_stays_in_one_segment_and_double_star_spans() {
        assert!(m("src/*.rs", "src/lib.rs"));
        assert!(!m("src/*.rs", "src/a/lib.rs"));
        assert!(m("src/**/*.rs", "src/lib.rs"));
        assert!(m("src/**/*.rs", "src/a/b/lib.rs"));
        assert!(m("**", "a/b/c"));
        assert!(m("a/?.txt", "a/b.txt"));
        assert!(!m("a/?.txt", "a/bc.txt"));
        assert!(m("[ab]*.txt", "b1.txt"));
        assert!(!m("[ab]*.txt", "c1.txt"));
    }

    #[test]
    fn braces_alternate_even_across_segments() {
        assert!(m("*.{rs,toml}", "x/Cargo.toml"));
        assert!(m("{src/*.rs,docs/*.md}", "docs/a.md"));
        assert!(!m("{src/*.rs,docs/*.md}", "docs/a.rs"));
        assert!(m("a{b,c{d,e}}f", "acef"));
        assert_eq!(
            GlobPattern::new("{a").unwrap_err().kind(),
            ErrorKind::InvalidPattern
        );
    }

    #[test]
    fn hidden_names_need_a_dot_segment() {
        assert!(!m("*", ".env"));
        assert!(m(".*", ".env"));
        assert!(m(".env", "a/.env"));
        assert!(!m("**/*.rs", ".git/x.rs"));
        assert!(!m("*.rs", "a/.hidden/x.rs"));
        assert!(m(".hidden/*.rs", ".hidden/x.rs"));
        assert!(m("**/.hidden/*.rs", "a/.hidden/x.rs"));
    }

    #[test]
    fn one_star_shapes_match_like_the_general_matcher() {
        for (pattern, yes, no) in [
            ("*.rs", "lib.rs", "lib.rsx"),
            ("test_*", "test_a", "a_test"),
            ("*", "x", ".x"),
            ("*a*", "bab", "bbb"),
            ("*.rs", "x.rs", ".rs"),
        ] {
            assert!(m(pattern, yes), "{pattern} should match {yes}");
            assert!(!m(pattern, no), "{pattern} should not match {no}");
        }
    }

    #[test]
    fn dotdot_and_empty_are_refused() {
        for bad in ["..", "../x", "a/../b", "", "{a,..}/x"] {
            assert_eq!(
                GlobPattern::new(bad).unwrap_err().kind(),
                ErrorKind::InvalidPattern,
                "{bad}"
            );
        }
        assert!(m("a..b", "a..b"));
    }

    fn residual_matches(pattern: &str, dir: &str, relative: &str) -> bool {
        let outer = GlobPattern::new(pattern).unwrap();
        let expected = outer.matches(&format!("{dir}/{relative}"));
        let got = outer
            .residual(dir)
            .is_some_and(|r| GlobPattern::new(&r).unwrap().matches(relative));
        assert_eq!(got, expected, "{pattern} under {dir} for {relative}");
        got
    }

    #[test]
    fn residual_matches_what_the_pattern_matches_below_dir() {
        assert!(residual_matches("memories/*.md", "memories", "a.md"));
        assert!(!residual_matches("memories/*.md", "memories", "x/a.md"));
        assert!(residual_matches("**/*.md", "memories", "x/a.md"));
        assert!(residual_matches("*.md", "a/b", "c.md"));
        assert!(residual_matches(
            "{a/*.rs,a/b/**/*.md,c/*}",
            "a/b",
            "x/y.md"
        ));
        assert!(!residual_matches("{a/*.rs,a/b/**/*.md,c/*}", "a/b", "y.rs"));
        assert!(residual_matches("a/**/b/*.txt", "a/x/b", "f.txt"));
        assert!(residual_matches("a/**/b/*.txt", "a/x", "b/f.txt"));
        assert!(!residual_matches("**/*.md", ".hidden", "a.md"));
        assert!(residual_matches(".hidden/*.md", ".hidden", "a.md"));
        assert!(residual_matches("[a,b]/*.md", "a", "f.md"));
        assert!(residual_matches("*", "d", "x,y"));
        assert_eq!(GlobPattern::new("src/*.rs").unwrap().residual("docs"), None);
        assert_eq!(
            GlobPattern::new("src/*.rs").unwrap().residual("src/a"),
            None
        );
    }

    #[test]
    fn literal_prefix_is_shared_leading_literals() {
        assert_eq!(
            GlobPattern::new("src/a/*.rs").unwrap().literal_prefix(),
            ["src", "a"]
        );
        assert_eq!(
            GlobPattern::new("{src/a,src/b}/*.rs")
                .unwrap()
                .literal_prefix(),
            ["src"]
        );
        assert!(
            GlobPattern::new("*.rs")
                .unwrap()
                .literal_prefix()
                .is_empty()
        );
    }
}
