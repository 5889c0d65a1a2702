//! The request and result types of the file operations.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::path::VirtualPath;

/// Default number of lines [`Backend::read`](crate::Backend::read) returns.
pub const DEFAULT_READ_LIMIT: usize = 2000;
/// Default cap on the number of files [`Backend::glob`](crate::Backend::glob) returns.
pub const DEFAULT_GLOB_LIMIT: usize = 10_000;
/// Default length, in characters, beyond which a grep line is cut.
pub const DEFAULT_MAX_LINE_CHARS: usize = 2000;

/// One entry of a listing, a glob result or a `stat`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The virtual path.
    pub path: VirtualPath,
    /// Whether the entry is a directory.
    pub is_dir: bool,
    /// The size in bytes, where known (files only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The modification time, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<SystemTime>,
}

impl FileInfo {
    /// A file of `size` bytes.
    pub fn file(path: VirtualPath, size: u64) -> Self {
        FileInfo {
            path,
            is_dir: false,
            size: Some(size),
            modified: None,
        }
    }

    /// A directory.
    pub fn dir(path: VirtualPath) -> Self {
        FileInfo {
            path,
            is_dir: true,
            size: None,
            modified: None,
        }
    }

    /// Sets the modification time.
    pub fn with_modified(mut self, modified: Option<SystemTime>) -> Self {
        self.modified = modified;
        self
    }

    /// The last segment of the path (empty for the root).
    pub fn name(&self) -> &str {
        self.path.file_name().unwrap_or("")
    }
}

/// A page of a text file, with what is needed to ask for the next page.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadResult {
    /// The lines returned, with their original line endings.
    pub content: String,
    /// The number of lines in the whole file (a last line without a newline counts).
    pub total_lines: usize,
    /// The 1-based number of the first line returned; 0 when none was.
    pub first_line: usize,
    /// The 1-based number of the last line returned; 0 when none was.
    pub last_line: usize,
    /// The offset to pass to read the next page, when lines remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

impl ReadResult {
    /// Builds a result; backends normally use [`crate::text::page`] instead.
    pub fn new(
        content: String,
        total_lines: usize,
        first_line: usize,
        last_line: usize,
        next_offset: Option<usize>,
    ) -> Self {
        ReadResult {
            content,
            total_lines,
            first_line,
            last_line,
            next_offset,
        }
    }
}

/// What an edit did.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditResult {
    /// How many occurrences were replaced (at least 1).
    pub replacements: usize,
}

impl EditResult {
    /// An edit that replaced `replacements` occurrences.
    pub fn new(replacements: usize) -> Self {
        EditResult { replacements }
    }
}

/// A glob query: files under `path` whose path relative to it matches `pattern`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobRequest {
    /// The pattern (rules in [`crate::glob::GlobPattern`]).
    pub pattern: String,
    /// The directory to search under; `/` by default.
    #[serde(default = "root_string")]
    pub path: String,
    /// The most files to return; [`DEFAULT_GLOB_LIMIT`] by default.
    #[serde(default = "default_glob_limit")]
    pub limit: usize,
}

fn root_string() -> String {
    "/".to_owned()
}

fn default_glob_limit() -> usize {
    DEFAULT_GLOB_LIMIT
}

impl GlobRequest {
    /// Files matching `pattern` anywhere under `/`.
    pub fn new(pattern: impl Into<String>) -> Self {
        GlobRequest {
            pattern: pattern.into(),
            path: root_string(),
            limit: DEFAULT_GLOB_LIMIT,
        }
    }

    /// Searches under `path` instead of `/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Returns at most `limit` files.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
}

/// The files a glob matched, sorted by path.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobResult {
    /// The matching files, sorted by path.
    pub files: Vec<FileInfo>,
    /// Whether more files matched than the limit allowed.
    pub truncated: bool,
}

impl GlobResult {
    /// Builds a result.
    pub fn new(files: Vec<FileInfo>, truncated: bool) -> Self {
        GlobResult { files, truncated }
    }
}

/// A grep query.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepRequest {
    /// The text to find: a fixed string unless `regex` is set.
    pub pattern: String,
    /// The file or directory to search; `/` by default.
    #[serde(default = "root_string")]
    pub path: String,
    /// Treat `pattern` as a Rust regular expression.
    #[serde(default)]
    pub regex: bool,
    /// Match without regard to case.
    #[serde(default)]
    pub case_insensitive: bool,
    /// Only search files whose path relative to `path` matches this glob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// The most matches to return in total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_count: Option<usize>,
    /// Lines of context before each match.
    #[serde(default)]
    pub before_context: usize,
    /// Lines of context after each match.
    #[serde(default)]
    pub after_context: usize,
    /// Lines longer than this many characters are cut.
    #[serde(default = "default_max_line_chars")]
    pub max_line_chars: usize,
}

fn default_max_line_chars() -> usize {
    DEFAULT_MAX_LINE_CHARS
}

impl GrepRequest {
    /// A fixed-string search for `pattern` under `/`.
    pub fn new(pattern: impl Into<String>) -> Self {
        GrepRequest {
            pattern: pattern.into(),
            path: root_string(),
            regex: false,
            case_insensitive: false,
            glob: None,
            max_count: None,
            before_context: 0,
            after_context: 0,
            max_line_chars: DEFAULT_MAX_LINE_CHARS,
        }
    }

    /// Searches `path` instead of `/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets regex mode.
    pub fn regex(mut self, regex: bool) -> Self {
        self.regex = regex;
        self
    }

    /// Sets case-insensitive matching.
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self
    }

    /// Only searches files matching `glob`.
    pub fn glob(mut self, glob: impl Into<String>) -> Self {
        self.glob = Some(glob.into());
        self
    }

    /// Returns at most `max_count` matches in total.
    pub fn max_count(mut self, max_count: usize) -> Self {
        self.max_count = Some(max_count);
        self
    }

    /// Adds `n` lines of context before and after each match.
    pub fn context(mut self, n: usize) -> Self {
        self.before_context = n;
        self.after_context = n;
        self
    }

    /// Sets the lines of context before and after each match separately.
    pub fn context_lines(mut self, before: usize, after: usize) -> Self {
        self.before_context = before;
        self.after_context = after;
        self
    }

    /// Cuts lines longer than `chars` characters.
    pub fn max_line_chars(mut self, chars: usize) -> Self {
        self.max_line_chars = chars;
        self
    }
}

/// A line around a match.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextLine {
    /// The 1-based line number.
    pub line_number: u64,
    /// The line without its ending, cut like the match line.
    pub line: String,
}

impl ContextLine {
    /// Builds a context line.
    pub fn new(line_number: u64, line: String) -> Self {
        ContextLine { line_number, line }
    }
}

/// One matching line.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepMatch {
    /// The file.
    pub path: VirtualPath,
    /// The 1-based line number.
    pub line_number: u64,
    /// The line without its ending, cut at `max_line_chars` characters
    /// (bytes that are not UTF-8 are replaced).
    pub line: String,
    /// Whether `line` was cut.
    pub line_truncated: bool,
    /// Context before the match, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<ContextLine>,
    /// Context after the match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<ContextLine>,
}

impl GrepMatch {
    /// A match without context.
    pub fn new(path: VirtualPath, line_number: u64, line: String, line_truncated: bool) -> Self {
        GrepMatch {
            path,
            line_number,
            line,
            line_truncated,
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    /// Sets the context lines.
    pub fn with_context(mut self, before: Vec<ContextLine>, after: Vec<ContextLine>) -> Self {
        self.before = before;
        self.after = after;
        self
    }
}

/// The matching lines, sorted by path and then line.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrepResult {
    /// The matches.
    pub matches: Vec<GrepMatch>,
    /// Whether more matches existed than `max_count` allowed.
    pub truncated: bool,
}

impl GrepResult {
    /// Builds a result.
    pub fn new(matches: Vec<GrepMatch>, truncated: bool) -> Self {
        GrepResult { matches, truncated }
    }
}

/// One file of an upload batch.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUpload {
    /// Where to write.
    pub path: String,
    /// The exact bytes.
    pub content: Vec<u8>,
}

impl FileUpload {
    /// A file to upload.
    pub fn new(path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        FileUpload {
            path: path.into(),
            content: content.into(),
        }
    }
}

/// The outcome of one upload.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadResult {
    /// The path as given.
    pub path: String,
    /// Why this item failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

impl UploadResult {
    /// The outcome of uploading `path`.
    pub fn new(path: impl Into<String>, outcome: crate::Result<()>) -> Self {
        UploadResult {
            path: path.into(),
            error: outcome.err(),
        }
    }

    /// Whether the item was written.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// The outcome of one download.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadResult {
    /// The path as given.
    pub path: String,
    /// The bytes, when the item succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<u8>>,
    /// Why this item failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Error>,
}

impl DownloadResult {
    /// The outcome of downloading `path`.
    pub fn new(path: impl Into<String>, outcome: crate::Result<Vec<u8>>) -> Self {
        let (content, error) = match outcome {
            Ok(bytes) => (Some(bytes), None),
            Err(e) => (None, Some(e)),
        };
        DownloadResult {
            path: path.into(),
            content,
            error,
        }
    }

    /// Whether the item was read.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Declares [`Capabilities`] and its flag list from one list of fields, so
/// that a flag added to the struct is in [`Capabilities::flags`] too.
macro_rules! capabilities {
    ($($(#[doc = $doc:literal])+ $flag:ident,)+) => {
        /// What a backend can do. The conformance suite runs the tests a
        /// backend's capabilities call for and prints this table.
        ///
        /// Flags only ever promise more: a backend that sets none is a plain
        /// non-persistent file store.
        #[non_exhaustive]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
        pub struct Capabilities {
            $($(#[doc = $doc])+ pub $flag: bool,)+
        }

        impl Capabilities {
            /// The name of every flag, in declaration order (the names are
            /// also the serialised field names).
            pub const FLAG_NAMES: [&'static str; Self::FLAG_COUNT] = [$(stringify!($flag)),+];

            /// How many flags there are.
            pub const FLAG_COUNT: usize = [$(stringify!($flag)),+].len();

            /// The flags as `(name, value)` pairs, in declaration order, for
            /// tables.
            pub fn flags(&self) -> [(&'static str, bool); Self::FLAG_COUNT] {
                [$((stringify!($flag), self.$flag)),+]
            }

            /// The value of the flag named `name`, or `None` for no such flag.
            pub fn flag(&self, name: &str) -> Option<bool> {
                match name {
                    $(stringify!($flag) => Some(self.$flag),)+
                    _ => None,
                }
            }
        }
    };
}

capabilities! {
    /// Runs commands ([`Sandbox::execute`](crate::Sandbox::execute)).
    execute,
    /// Streams command output as it comes
    /// ([`Sandbox::execute_stream`](crate::Sandbox::execute_stream) yields
    /// chunks before the command ends).
    execute_streaming,
    /// Files outlive the process that wrote them.
    persistent,
    /// Concurrent edits of one file through one backend never lose an update.
    atomic_edit,
    /// Directories exist on their own, without files in them.
    empty_directories,
    /// `ls`/`stat` report modification times.
    modified_time,
    /// State can be saved to bytes and restored.
    snapshot,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value with only `name` set, built through serde so that the test
    /// does not depend on the flag list it checks.
    fn only(name: &str) -> Capabilities {
        let mut fields = serde_json::Map::new();
        for flag in Capabilities::FLAG_NAMES {
            fields.insert(flag.to_owned(), serde_json::Value::Bool(flag == name));
        }
        serde_json::from_value(serde_json::Value::Object(fields)).expect("every field is given")
    }

    #[test]
    fn flags_name_every_field() {
        let json = serde_json::to_value(Capabilities::default()).expect("serialises");
        let mut fields: Vec<_> = json
            .as_object()
            .expect("a struct is an object")
            .keys()
            .cloned()
            .collect();
        let mut names = Capabilities::FLAG_NAMES.map(str::to_owned).to_vec();
        fields.sort();
        names.sort();
        assert_eq!(fields, names);
        assert_eq!(
            Capabilities::default().flags().len(),
            Capabilities::FLAG_COUNT
        );
    }

    #[test]
    fn each_flag_reads_its_own_field() {
        for name in Capabilities::FLAG_NAMES {
            let caps = only(name);
            let set: Vec<_> = caps
                .flags()
                .iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(set, [name]);
            assert_eq!(caps.flag(name), Some(true));
        }
        assert_eq!(Capabilities::default().flag("no_such_flag"), None);
        assert_eq!(Capabilities::default().flag("execute"), Some(false));
    }
}
