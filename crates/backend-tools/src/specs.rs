//! The tool definitions: names, descriptions written for a model, and
//! argument lists (from which the JSON Schemas are made).

use backend_core::Operation;
use serde_json::Value;

use crate::args::{Field, FieldKind, schema};

/// The most seconds `execute` accepts as a timeout.
pub const MAX_EXEC_TIMEOUT_SECS: u64 = 3600;

const COUNT: FieldKind = FieldKind::Integer {
    min: 0,
    max: u64::MAX,
};
const POSITIVE: FieldKind = FieldKind::Integer {
    min: 1,
    max: u64::MAX,
};

/// Which tool a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolName {
    /// `ls`.
    Ls,
    /// `read_file`.
    ReadFile,
    /// `write_file`.
    WriteFile,
    /// `edit_file`.
    EditFile,
    /// `delete`.
    Delete,
    /// `glob`.
    Glob,
    /// `grep`.
    Grep,
    /// `execute`.
    Execute,
}

impl ToolName {
    /// Every tool, in the order they are listed.
    pub const ALL: [ToolName; 8] = [
        ToolName::Ls,
        ToolName::ReadFile,
        ToolName::WriteFile,
        ToolName::EditFile,
        ToolName::Delete,
        ToolName::Glob,
        ToolName::Grep,
        ToolName::Execute,
    ];

    /// The name a model calls.
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolName::Ls => "ls",
            ToolName::ReadFile => "read_file",
            ToolName::WriteFile => "write_file",
            ToolName::EditFile => "edit_file",
            ToolName::Delete => "delete",
            ToolName::Glob => "glob",
            ToolName::Grep => "grep",
            ToolName::Execute => "execute",
        }
    }

    /// The tool called `name`.
    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The backend operation the tool performs, named in its errors.
    pub const fn operation(self) -> Operation {
        match self {
            ToolName::Ls => Operation::Ls,
            ToolName::ReadFile => Operation::Read,
            ToolName::WriteFile => Operation::Write,
            ToolName::EditFile => Operation::Edit,
            ToolName::Delete => Operation::Delete,
            ToolName::Glob => Operation::Glob,
            ToolName::Grep => Operation::Grep,
            ToolName::Execute => Operation::Execute,
        }
    }

    /// Whether the tool only reads (never changes files or runs commands).
    pub const fn is_read_only(self) -> bool {
        matches!(
            self,
            ToolName::Ls | ToolName::ReadFile | ToolName::Glob | ToolName::Grep
        )
    }

    /// Whether the tool removes or overwrites data.
    pub const fn is_destructive(self) -> bool {
        matches!(
            self,
            ToolName::WriteFile | ToolName::EditFile | ToolName::Delete | ToolName::Execute
        )
    }

    /// The arguments the tool takes.
    pub fn fields(self) -> &'static [Field] {
        match self {
            ToolName::Ls => LS,
            ToolName::ReadFile => READ_FILE,
            ToolName::WriteFile => WRITE_FILE,
            ToolName::EditFile => EDIT_FILE,
            ToolName::Delete => DELETE,
            ToolName::Glob => GLOB,
            ToolName::Grep => GREP,
            ToolName::Execute => EXECUTE,
        }
    }

    /// One clause saying what the tool is for, for a server's instructions.
    pub const fn summary(self) -> &'static str {
        match self {
            ToolName::Ls => "`ls` lists a directory",
            ToolName::ReadFile => {
                "`read_file` reads a text file with numbered lines, a page at a time (`offset`, `limit`)"
            }
            ToolName::WriteFile => "`write_file` creates or replaces a whole file",
            ToolName::EditFile => {
                "`edit_file` replaces an exact string in a file (read the file first)"
            }
            ToolName::Delete => "`delete` removes a file, or a directory with `recursive`",
            ToolName::Glob => "`glob` finds files by name pattern",
            ToolName::Grep => "`grep` searches file contents",
            ToolName::Execute => {
                "`execute` runs a shell command in the sandbox, whose working directory holds the workspace root"
            }
        }
    }

    /// The description a model reads.
    pub const fn description(self) -> &'static str {
        match self {
            ToolName::Ls => {
                "List the direct children of a directory, sorted by name. Directories end with `/`; files show their size in bytes. Paths are absolute and start at `/`, the root of the workspace."
            }
            ToolName::ReadFile => {
                "Read a text file. Lines come numbered like `cat -n` (the number, a tab, the line). By default up to 2000 lines from the start; for a long file, pass `offset` (0-based line index to start at: offset 100 starts at line 101) and `limit`, and follow the hint at the end of the output, which gives the next offset. Very long lines are cut with a marker. Read a file before editing it."
            }
            ToolName::WriteFile => {
                "Create a file, or replace an existing file's whole content. Missing parent directories are created. Prefer edit_file to change part of an existing file. Read an existing file with read_file before replacing it: otherwise, or when it changed since, the call may fail with `conflict`."
            }
            ToolName::EditFile => {
                "Replace an exact string in a file. `old_string` must match the file's text exactly, including whitespace and indentation (do not include the line-number prefix from read_file). It must occur exactly once unless `replace_all` is true; if it occurs several times, add surrounding lines to make it unique. Read the file with read_file first: otherwise, or when it changed since, the call may fail with `conflict` (read it again, then retry)."
            }
            ToolName::Delete => {
                "Delete a file, or a directory and everything in it when `recursive` is true. The root `/` cannot be deleted."
            }
            ToolName::Glob => {
                "Find files by name pattern, sorted by path. `*` matches within one path segment, `**` across segments, `?` one character, `[abc]` a set, `{a,b}` alternatives. A pattern without `/` matches the file name at any depth (`*.rs` finds every Rust file). Hidden names (starting with `.`) match only a pattern segment that starts with `.`. A long result is cut with a note giving the total; narrow the pattern or path then. `newest_first` sorts by modification time instead."
            }
            ToolName::Grep => {
                "Search file contents. `pattern` is a fixed string unless `regex` is true (Rust regex syntax). Searches every file under `path` (hidden files too, not `.git/`; binary files are skipped), optionally only files matching the `glob` filter. `output_mode`: `files_with_matches` (default: the paths of matching files), `content` (matching lines as `path:line:text`, with `context` lines around as `path-line-text`), or `count` (matches per file). Results are sorted by path, then line. A long result is shown a page at a time: the note at its end gives the `offset` for the next page; `head_limit` makes pages smaller."
            }
            ToolName::Execute => {
                "Run a shell command (`sh -c`) in the sandbox, in the directory that holds the workspace root `/`, so `/src/main.py` is `./src/main.py` to the command. Returns the exit code, stdout and stderr. Stdin is closed. The command is killed after `timeout` seconds (default 120)."
            }
        }
    }

    /// The JSON Schema of the tool's arguments.
    pub fn input_schema(self) -> Value {
        schema(self.fields())
    }
}

const LS: &[Field] = &[Field::optional(
    "path",
    FieldKind::String,
    "The directory to list, absolute (default `/`).",
)];

const READ_FILE: &[Field] = &[
    Field::required(
        "file_path",
        FieldKind::String,
        "The absolute path of the file to read.",
    ),
    Field::optional(
        "offset",
        COUNT,
        "0-based index of the first line to read (default 0). Use the next offset from the previous page's hint.",
    ),
    Field::optional("limit", POSITIVE, "The most lines to read (default 2000)."),
];

const WRITE_FILE: &[Field] = &[
    Field::required(
        "file_path",
        FieldKind::String,
        "The absolute path of the file to write.",
    ),
    Field::required(
        "content",
        FieldKind::String,
        "The complete new content of the file.",
    ),
];

const EDIT_FILE: &[Field] = &[
    Field::required(
        "file_path",
        FieldKind::String,
        "The absolute path of the file to edit.",
    ),
    Field::required(
        "old_string",
        FieldKind::String,
        "The exact text to replace (not empty).",
    ),
    Field::required(
        "new_string",
        FieldKind::String,
        "The text to put in its place.",
    ),
    Field::optional(
        "replace_all",
        FieldKind::Boolean,
        "Replace every occurrence instead of requiring exactly one (default false).",
    ),
];

const DELETE: &[Field] = &[
    Field::required(
        "file_path",
        FieldKind::String,
        "The absolute path of the file or directory to delete.",
    ),
    Field::optional(
        "recursive",
        FieldKind::Boolean,
        "Required to delete a directory and its contents (default false).",
    ),
];

const GLOB: &[Field] = &[
    Field::required(
        "pattern",
        FieldKind::String,
        "The glob pattern, relative to `path`, such as `**/*.py` or `src/*.{rs,toml}`.",
    ),
    Field::optional(
        "path",
        FieldKind::String,
        "The directory to search under (default `/`).",
    ),
    Field::optional(
        "newest_first",
        FieldKind::Boolean,
        "Sort by modification time, most recently changed first, instead of by path (default false).",
    ),
];

/// The values of grep's `output_mode`.
pub const GREP_MODES: &[&str] = &["files_with_matches", "content", "count"];

const GREP: &[Field] = &[
    Field::required(
        "pattern",
        FieldKind::String,
        "The text to search for (a regular expression when `regex` is true).",
    ),
    Field::optional(
        "path",
        FieldKind::String,
        "The file or directory to search (default `/`).",
    ),
    Field::optional(
        "glob",
        FieldKind::String,
        "Only search files whose path relative to `path` matches this glob, such as `*.py`.",
    ),
    Field::optional(
        "output_mode",
        FieldKind::Enum(GREP_MODES),
        "`files_with_matches` (default), `content` or `count`.",
    ),
    Field::optional(
        "regex",
        FieldKind::Boolean,
        "Treat `pattern` as a Rust regular expression (default false: a fixed string).",
    ),
    Field::optional(
        "case_insensitive",
        FieldKind::Boolean,
        "Match regardless of case (default false).",
    ),
    Field::optional(
        "context",
        COUNT,
        "Lines of context to show before and after each match in `content` mode (default 0).",
    ),
    Field::optional(
        "before_context",
        COUNT,
        "Lines of context before each match in `content` mode (like grep -B; overrides `context`).",
    ),
    Field::optional(
        "after_context",
        COUNT,
        "Lines of context after each match in `content` mode (like grep -A; overrides `context`).",
    ),
    Field::optional(
        "offset",
        COUNT,
        "Skip this many entries (matching lines in `content` mode, files otherwise) before showing any; use the offset the previous page's note gives (default 0).",
    ),
    Field::optional(
        "head_limit",
        POSITIVE,
        "Show at most this many entries (matching lines in `content` mode, files otherwise).",
    ),
    Field::optional(
        "max_count",
        POSITIVE,
        "The most matching lines to search for in total; more are not looked at.",
    ),
];

const EXECUTE: &[Field] = &[
    Field::required(
        "command",
        FieldKind::String,
        "The shell command line to run.",
    ),
    Field::optional(
        "timeout",
        FieldKind::Integer {
            min: 1,
            max: MAX_EXEC_TIMEOUT_SECS,
        },
        "Seconds before the command is killed (default 120).",
    ),
];
