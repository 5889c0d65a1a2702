//! What a tool call returns: text for the model and the same facts as JSON.

use backend_core::Error;
use serde_json::{Value, json};

/// Default cap on one result's text, in characters.
pub const DEFAULT_MAX_OUTPUT_CHARS: usize = 40_000;
/// Default length, in characters, beyond which a line of `read_file` or
/// `grep` output is cut.
pub const DEFAULT_MAX_LINE_CHARS: usize = 2_000;

/// Size limits on what the tools return to a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// A result's text is cut at whole lines to at most this many characters
    /// (never below one line), with a note saying how to continue.
    pub max_output_chars: usize,
    /// Longer lines are cut, with a marker saying how much was dropped.
    pub max_line_chars: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_output_chars: DEFAULT_MAX_OUTPUT_CHARS,
            max_line_chars: DEFAULT_MAX_LINE_CHARS,
        }
    }
}

/// The result of one tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// What the model reads.
    pub text: String,
    /// The same result as JSON; for errors `{"error": {"code", "message", ...}}`.
    pub structured: Value,
    /// Whether the call failed.
    pub is_error: bool,
}

impl ToolOutput {
    /// A successful result.
    pub fn success(text: String, structured: Value) -> Self {
        ToolOutput {
            text,
            structured,
            is_error: false,
        }
    }

    /// A failed call: one line `Error [code]: message`, and the error as JSON.
    pub fn error(error: &Error) -> Self {
        let mut message = error.message().replace(['\n', '\r'], " ");
        for (key, value) in error.context() {
            message.push_str(&format!(" ({key}: {value})"));
        }
        let text = format!("Error [{}]: {message}", error.code());
        let mut detail = json!({
            "code": error.code(),
            "message": error.message(),
            "retryable": error.is_retryable(),
        });
        if let Some(path) = error.path() {
            detail["path"] = json!(path);
        }
        if let Some(operation) = error.operation() {
            detail["operation"] = json!(operation.as_str());
        }
        if !error.context().is_empty() {
            let context: serde_json::Map<String, Value> = error
                .context()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect();
            detail["context"] = Value::Object(context);
        }
        ToolOutput {
            text,
            structured: json!({ "error": detail }),
            is_error: true,
        }
    }

    /// The error code, when the call failed.
    pub fn error_code(&self) -> Option<&str> {
        self.structured
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
    }
}

/// Cuts `line` (without its ending) to `max` characters, adding a marker
/// that says how many were dropped. Returns whether it cut.
pub(crate) fn cut_line(line: &str, max: usize) -> (String, bool) {
    match line.char_indices().nth(max) {
        None => (line.to_owned(), false),
        Some((byte, _)) => {
            let dropped = line[byte..].chars().count();
            (
                format!("{}… [line cut: {dropped} more characters]", &line[..byte]),
                true,
            )
        }
    }
}

/// Lines that fit in a character budget.
pub(crate) struct Budget {
    remaining: usize,
    text: String,
    lines: usize,
    full: bool,
}

impl Budget {
    pub(crate) fn new(max_chars: usize) -> Self {
        Budget {
            remaining: max_chars,
            text: String::new(),
            lines: 0,
            full: false,
        }
    }

    /// Adds a line (a `\n` is appended) if it fits; the first line always
    /// fits so that progress is always possible. Returns whether it was added.
    pub(crate) fn push(&mut self, line: &str) -> bool {
        let cost = line.chars().count() + 1;
        if self.full || (cost > self.remaining && self.lines > 0) {
            self.full = true;
            return false;
        }
        self.remaining = self.remaining.saturating_sub(cost);
        self.text.push_str(line);
        self.text.push('\n');
        self.lines += 1;
        true
    }

    /// How many lines were added.
    pub(crate) fn lines(&self) -> usize {
        self.lines
    }

    /// Whether a line was refused.
    pub(crate) fn is_full(&self) -> bool {
        self.full
    }

    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// Holds the JSON of a structured result to `max_chars` by dropping items
/// from the end of its list `key` (the text was cut the same way), so that
/// clients shown the JSON get no more than the text budget. Returns whether
/// it dropped any.
pub(crate) fn cap_list(structured: &mut Value, key: &str, max_chars: usize) -> bool {
    let Some(items) = structured.get_mut(key).and_then(Value::as_array_mut) else {
        return false;
    };
    let taken = std::mem::take(items);
    let base = structured.to_string().chars().count();
    let mut size = base;
    let mut keep = 0;
    for item in &taken {
        // An item costs its JSON and a separating comma.
        let cost = item.to_string().chars().count() + 1;
        if size + cost > max_chars && keep > 0 {
            break;
        }
        size += cost;
        keep += 1;
    }
    let dropped = keep < taken.len();
    let mut taken = taken;
    taken.truncate(keep);
    structured[key] = Value::Array(taken);
    dropped
}
