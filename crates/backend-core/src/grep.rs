//! In-process grep with the rules every backend shares.

use regex::bytes::{Regex, RegexBuilder};

use crate::error::{Error, ErrorKind, Result};
use crate::glob::GlobPattern;
use crate::path::VirtualPath;
use crate::text::is_binary;
use crate::types::{ContextLine, GrepMatch, GrepRequest, GrepResult};

/// A compiled [`GrepRequest`]: the matcher, the file filter and the limits.
///
/// Backends that search in process walk their files in path order and feed
/// each one to [`GrepMatcher::search`] through a [`GrepCollector`], which
/// applies `max_count` across files and sets `truncated`.
///
/// # Examples
/// ```
/// use backend_core::{GrepMatcher, GrepRequest, VirtualPath};
/// let m = GrepMatcher::new(&GrepRequest::new("a.b")).unwrap();
/// let path = VirtualPath::parse("/f.txt").unwrap();
/// let hits = m.search(&path, b"axb\na.b\n", usize::MAX);
/// assert_eq!(hits.len(), 1);
/// assert_eq!(hits[0].line_number, 2);
/// ```
#[derive(Debug, Clone)]
pub struct GrepMatcher {
    regex: Regex,
    /// A plain case-sensitive pattern without line breaks is searched with
    /// `memmem` directly: every hit is then on one line by construction.
    literal: Option<memchr::memmem::Finder<'static>>,
    filter: Option<GlobPattern>,
    before: usize,
    after: usize,
    max_line_chars: usize,
}

impl GrepMatcher {
    /// Compiles `request`: `invalid_argument` for an empty pattern,
    /// `invalid_pattern` for a bad regular expression or glob filter.
    pub fn new(request: &GrepRequest) -> Result<Self> {
        if request.pattern.is_empty() {
            return Err(Error::invalid_argument("the grep pattern is empty"));
        }
        if request.max_line_chars == 0 {
            return Err(Error::invalid_argument("max_line_chars must be at least 1"));
        }
        let source = if request.regex {
            request.pattern.clone()
        } else {
            regex::escape(&request.pattern)
        };
        let regex = RegexBuilder::new(&source)
            .case_insensitive(request.case_insensitive)
            .multi_line(true)
            .crlf(true)
            .size_limit(16 * 1024 * 1024)
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidPattern,
                    format!(
                        "invalid regular expression {:?}: {e}; set regex to false to search for the text literally",
                        request.pattern
                    ),
                )
            })?;
        let filter = request.glob.as_deref().map(GlobPattern::new).transpose()?;
        let literal = (!request.regex
            && !request.case_insensitive
            && !request.pattern.contains(['\n', '\r']))
        .then(|| memchr::memmem::Finder::new(request.pattern.as_bytes()).into_owned());
        Ok(GrepMatcher {
            regex,
            literal,
            filter,
            before: request.before_context,
            after: request.after_context,
            max_line_chars: request.max_line_chars,
        })
    }

    /// The compiled regular expression (a literal pattern is escaped).
    pub fn regex(&self) -> &Regex {
        &self.regex
    }

    /// Whether a file at `relative` (relative to the search path) should be
    /// searched: it passes the glob filter and is not inside `.git/`.
    pub fn wants(&self, relative: &str) -> bool {
        if relative.split('/').rev().skip(1).any(|seg| seg == ".git") {
            return false;
        }
        self.filter.as_ref().is_none_or(|f| f.matches(relative))
    }

    /// Searches one file's bytes and returns at most `limit` matches; binary
    /// content (a NUL in the first 8 KiB) gives none.
    pub fn search(&self, path: &VirtualPath, content: &[u8], limit: usize) -> Vec<GrepMatch> {
        let mut out = Vec::new();
        if limit == 0 || is_binary(content) {
            return out;
        }
        let mut pos = 0;
        // Line number of the line starting at `counted_to`.
        let mut line_no: u64 = 1;
        let mut counted_to = 0;
        while pos <= content.len() && out.len() < limit {
            let start = match &self.literal {
                Some(finder) => match finder.find(&content[pos..]) {
                    Some(i) => pos + i,
                    None => break,
                },
                None => match self.regex.find_at(content, pos) {
                    Some(m) => m.start(),
                    None => break,
                },
            };
            // An empty match at the very end after a final newline (or in
            // an empty file) is not on any line.
            if start == content.len() && (content.is_empty() || content.ends_with(b"\n")) {
                break;
            }
            let line_start = memchr::memrchr(b'\n', &content[..start]).map_or(0, |i| i + 1);
            let line_end =
                memchr::memchr(b'\n', &content[start..]).map_or(content.len(), |i| start + i);
            let line = trim_cr(&content[line_start..line_end]);
            // A regex match may cross a newline; grep is line based, so the
            // line must match on its own.
            if self.literal.is_none() && !self.regex.is_match(line) {
                pos = line_end + 1;
                continue;
            }
            line_no += memchr::memchr_iter(b'\n', &content[counted_to..line_start]).count() as u64;
            counted_to = line_start;
            let (text, cut) = self.cut(line);
            let mut hit = GrepMatch::new(path.clone(), line_no, text, cut);
            if self.before > 0 || self.after > 0 {
                hit = hit.with_context(
                    self.context_before(content, line_start, line_no),
                    self.context_after(content, line_end, line_no),
                );
            }
            out.push(hit);
            pos = line_end + 1;
        }
        out
    }

    fn cut(&self, line: &[u8]) -> (String, bool) {
        let text = String::from_utf8_lossy(line);
        match text.char_indices().nth(self.max_line_chars) {
            Some((idx, _)) => (text[..idx].to_owned(), true),
            None => (text.into_owned(), false),
        }
    }

    fn context_before(&self, content: &[u8], line_start: usize, line_no: u64) -> Vec<ContextLine> {
        let mut lines = Vec::new();
        let mut end = line_start;
        let mut n = line_no;
        while lines.len() < self.before && end > 0 {
            let prev_end = end - 1; // the '\n' ending the previous line
            let start = memchr::memrchr(b'\n', &content[..prev_end]).map_or(0, |i| i + 1);
            n -= 1;
            lines.push(ContextLine::new(
                n,
                self.cut(trim_cr(&content[start..prev_end])).0,
            ));
            end = start;
        }
        lines.reverse();
        lines
    }

    fn context_after(&self, content: &[u8], line_end: usize, line_no: u64) -> Vec<ContextLine> {
        let mut lines = Vec::new();
        let mut start = line_end + 1;
        let mut n = line_no;
        while lines.len() < self.after && start < content.len() {
            let end = memchr::memchr(b'\n', &content[start..]).map_or(content.len(), |i| start + i);
            n += 1;
            lines.push(ContextLine::new(
                n,
                self.cut(trim_cr(&content[start..end])).0,
            ));
            start = end + 1;
        }
        lines
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Gathers matches across files in path order and applies a total
/// `max_count`, noting whether anything was left out.
#[derive(Debug)]
pub struct GrepCollector {
    matches: Vec<GrepMatch>,
    max_count: usize,
    truncated: bool,
}

impl GrepCollector {
    /// A collector for `request`'s `max_count` (unlimited when unset).
    pub fn new(request: &GrepRequest) -> Self {
        GrepCollector {
            matches: Vec::new(),
            max_count: request.max_count.unwrap_or(usize::MAX),
            truncated: false,
        }
    }

    /// Whether no more matches are wanted.
    pub fn is_full(&self) -> bool {
        self.truncated
    }

    /// Searches one file, keeping what fits; one match beyond the cap is
    /// looked for so that `truncated` is exact.
    pub fn search(&mut self, matcher: &GrepMatcher, path: &VirtualPath, content: &[u8]) {
        if self.truncated {
            return;
        }
        let room = self.max_count - self.matches.len();
        let mut found = matcher.search(path, content, room.saturating_add(1));
        if found.len() > room {
            found.truncate(room);
            self.truncated = true;
        }
        self.matches.extend(found);
    }

    /// Adds matches found elsewhere (already sorted, after those held).
    pub fn extend(&mut self, found: Vec<GrepMatch>) {
        for m in found {
            if self.matches.len() >= self.max_count {
                self.truncated = true;
                return;
            }
            self.matches.push(m);
        }
    }

    /// Marks the result as truncated.
    pub fn set_truncated(&mut self) {
        self.truncated = true;
    }

    /// The result.
    pub fn finish(self) -> GrepResult {
        GrepResult::new(self.matches, self.truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(req: GrepRequest, content: &str) -> Vec<GrepMatch> {
        let path = VirtualPath::parse("/f").unwrap();
        GrepMatcher::new(&req)
            .unwrap()
            .search(&path, content.as_bytes(), usize::MAX)
    }

    #[test]
    fn literal_by_default_and_regex_on_request() {
        assert_eq!(hits(GrepRequest::new("a.c"), "abc\na.c\n").len(), 1);
        assert_eq!(
            hits(GrepRequest::new("a.c").regex(true), "abc\na.c\n").len(),
            2
        );
        assert_eq!(hits(GrepRequest::new("(").regex(false), "f(x)\n").len(), 1);
        let e = GrepMatcher::new(&GrepRequest::new("(").regex(true)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidPattern);
    }

    #[test]
    fn anchors_work_per_line_and_matches_do_not_cross_lines() {
        let found = hits(GrepRequest::new("^b$").regex(true), "a\r\nb\r\nc");
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line_number, found[0].line.as_str()), (2, "b"));
        assert!(hits(GrepRequest::new("a\\nb").regex(true), "a\nb\n").is_empty());
        assert_eq!(hits(GrepRequest::new("x*").regex(true), "a\nb").len(), 2);
    }

    #[test]
    fn empty_matches_stay_on_real_lines() {
        let lines = |content: &str| -> Vec<u64> {
            hits(GrepRequest::new("^$").regex(true), content)
                .iter()
                .map(|m| m.line_number)
                .collect()
        };
        assert_eq!(lines("a\n\nb\n"), [2]);
        assert_eq!(lines("a\n"), Vec::<u64>::new());
        assert_eq!(lines(""), Vec::<u64>::new());
        assert_eq!(hits(GrepRequest::new("x*").regex(true), "a\nb\n").len(), 2);
        assert_eq!(hits(GrepRequest::new("$").regex(true), "a").len(), 1);
    }

    #[test]
    fn case_insensitive_and_line_numbers() {
        let found = hits(
            GrepRequest::new("HELLO").case_insensitive(true),
            "x\nhello\nHeLLo there\n",
        );
        let lines: Vec<u64> = found.iter().map(|m| m.line_number).collect();
        assert_eq!(lines, [2, 3]);
    }

    #[test]
    fn context_and_cutting() {
        let found = hits(GrepRequest::new("c").context(1), "a\nb\nc\nd\ne");
        assert_eq!(found[0].before, [ContextLine::new(2, "b".into())]);
        assert_eq!(found[0].after, [ContextLine::new(4, "d".into())]);
        let found = hits(GrepRequest::new("x").max_line_chars(3), "xxxxxx\n");
        assert_eq!(
            (found[0].line.as_str(), found[0].line_truncated),
            ("xxx", true)
        );
    }

    #[test]
    fn binary_skipped_and_git_filtered() {
        assert!(hits(GrepRequest::new("a"), "a\0").is_empty());
        let m = GrepMatcher::new(&GrepRequest::new("a").glob("*.rs")).unwrap();
        assert!(m.wants("src/x.rs"));
        assert!(!m.wants("src/x.py"));
        assert!(!m.wants(".git/x.rs"));
        assert!(
            GrepMatcher::new(&GrepRequest::new("a"))
                .unwrap()
                .wants(".env")
        );
    }

    #[test]
    fn collector_caps_across_files() {
        let req = GrepRequest::new("a").max_count(3);
        let m = GrepMatcher::new(&req).unwrap();
        let mut c = GrepCollector::new(&req);
        c.search(&m, &VirtualPath::parse("/1").unwrap(), b"a\na\n");
        assert!(!c.is_full());
        c.search(&m, &VirtualPath::parse("/2").unwrap(), b"a\na\n");
        let r = c.finish();
        assert_eq!((r.matches.len(), r.truncated), (3, true));
        let req = GrepRequest::new("a").max_count(2);
        let mut c = GrepCollector::new(&req);
        c.search(
            &GrepMatcher::new(&req).unwrap(),
            &VirtualPath::parse("/1").unwrap(),
            b"a\na\n",
        );
        assert!(!c.finish().truncated);
    }
}
