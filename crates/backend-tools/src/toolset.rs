//! The dispatcher: a tool name and JSON arguments in, a [`ToolOutput`] out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backend_core::{
    Backend, Error, ErrorKind, ExecRequest, FileInfo, GlobRequest, GrepMatch, GrepRequest,
    Operation, Sandbox, VirtualPath,
};
use serde_json::{Value, json};

use crate::args::{Args, validate};
use crate::output::{Budget, OutputLimits, ToolOutput, cut_line};
use crate::permissions::{Access, Decision, Permissions};
use crate::specs::ToolName;

/// A tool as offered to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The name to call it by.
    pub name: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// The JSON Schema of its arguments.
    pub input_schema: Value,
    /// Whether it only reads.
    pub read_only: bool,
    /// Whether it may overwrite or remove data.
    pub destructive: bool,
}

/// A call that an `ask` rule holds for approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    /// The tool called.
    pub tool: &'static str,
    /// The access it needs.
    pub access: Access,
    /// The path, or for `execute` the command line.
    pub target: String,
    /// The rule that asked.
    pub rule: String,
}

/// Decides calls that an `ask` rule holds (a person at a prompt, a policy
/// service). Without one, such calls are denied.
#[async_trait]
pub trait Approver: Send + Sync {
    /// Whether the call may go ahead.
    async fn approve(&self, request: &ApprovalRequest) -> bool;
}

/// The tools over one backend (and optionally a sandbox), with permission
/// rules and output limits.
#[derive(Clone)]
pub struct Toolset {
    backend: Arc<dyn Backend>,
    sandbox: Option<Arc<dyn Sandbox>>,
    permissions: Permissions,
    limits: OutputLimits,
    approver: Option<Arc<dyn Approver>>,
}

impl std::fmt::Debug for Toolset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toolset")
            .field("execute", &self.sandbox.is_some())
            .field("permissions", &self.permissions)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Toolset {
    /// File tools over `backend`; no `execute`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Toolset {
            backend,
            sandbox: None,
            permissions: Permissions::allow_all(),
            limits: OutputLimits::default(),
            approver: None,
        }
    }

    /// File tools and `execute` over one sandbox.
    pub fn with_sandbox(sandbox: Arc<dyn Sandbox>) -> Self {
        let backend: Arc<dyn Backend> = sandbox.clone();
        Toolset::new(backend).sandbox(sandbox)
    }

    /// Runs `execute` in `sandbox` while files go to the backend given to
    /// [`Toolset::new`].
    pub fn sandbox(mut self, sandbox: Arc<dyn Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// Sets the permission rules.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Sets the output limits.
    pub fn limits(mut self, limits: OutputLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets who decides calls held by `ask` rules.
    pub fn approver(mut self, approver: Arc<dyn Approver>) -> Self {
        self.approver = Some(approver);
        self
    }

    /// The backend the file tools use.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn offers(&self, tool: ToolName) -> bool {
        if tool == ToolName::Execute && self.sandbox.is_none() {
            return false;
        }
        !self.permissions.is_read_only() || tool.is_read_only()
    }

    /// The tools offered: `execute` only with a sandbox, and only the
    /// reading tools under the read-only preset.
    pub fn tools(&self) -> Vec<ToolSpec> {
        ToolName::ALL
            .into_iter()
            .filter(|t| self.offers(*t))
            .map(|t| ToolSpec {
                name: t.as_str(),
                description: t.description(),
                input_schema: t.input_schema(),
                read_only: t.is_read_only(),
                destructive: t.is_destructive(),
            })
            .collect()
    }

    /// Runs the tool `name` with JSON `arguments`. Never fails: errors come
    /// back as a [`ToolOutput`] with `is_error` set.
    pub async fn call(&self, name: &str, arguments: &Value) -> ToolOutput {
        match self.try_call(name, arguments).await {
            Ok(output) => output,
            Err(error) => ToolOutput::error(&error),
        }
    }

    async fn try_call(&self, name: &str, arguments: &Value) -> Result<ToolOutput, Error> {
        let tool = ToolName::parse(name)
            .filter(|t| self.offers(*t))
            .ok_or_else(|| self.unknown_tool(name))?;
        let args = validate(tool.as_str(), tool.fields(), arguments)?;
        match tool {
            ToolName::Ls => self.ls(&args).await,
            ToolName::ReadFile => self.read_file(&args).await,
            ToolName::WriteFile => self.write_file(&args).await,
            ToolName::EditFile => self.edit_file(&args).await,
            ToolName::Delete => self.delete(&args).await,
            ToolName::Glob => self.glob(&args).await,
            ToolName::Grep => self.grep(&args).await,
            ToolName::Execute => self.execute(&args).await,
        }
    }

    fn unknown_tool(&self, name: &str) -> Error {
        let offered: Vec<&str> = self.tools().iter().map(|t| t.name).collect();
        let why = match ToolName::parse(name) {
            Some(ToolName::Execute) if self.sandbox.is_none() => {
                " (this server has no sandbox, so commands cannot run)".to_owned()
            }
            Some(_) => " (the server is read-only)".to_owned(),
            None => String::new(),
        };
        Error::new(
            ErrorKind::Unsupported,
            format!(
                "there is no tool named {name:?}{why}; the tools are {}",
                offered.join(", ")
            ),
        )
    }

    /// Applies the permission decision; `ask` goes to the approver.
    async fn permit(
        &self,
        tool: ToolName,
        access: Access,
        target: &str,
        decision: Decision,
    ) -> Result<(), Error> {
        let rule = match decision {
            Decision::Allow => return Ok(()),
            Decision::Deny(rule) => {
                return Err(denied(format!(
                    "{} of {target} is denied by {rule}",
                    access.as_str()
                )));
            }
            Decision::Ask(rule) => rule,
        };
        let request = ApprovalRequest {
            tool: tool.as_str(),
            access,
            target: target.to_owned(),
            rule: rule.clone(),
        };
        match &self.approver {
            Some(approver) if approver.approve(&request).await => Ok(()),
            Some(_) => Err(denied(format!(
                "{} of {target} needs approval under {rule}, and it was refused",
                access.as_str()
            ))),
            None => Err(denied(format!(
                "{} of {target} needs approval under {rule}, and no approver is configured",
                access.as_str()
            ))),
        }
    }

    async fn check_path(
        &self,
        tool: ToolName,
        access: Access,
        path: &str,
    ) -> Result<VirtualPath, Error> {
        let parsed = VirtualPath::parse(path)?;
        let decision = self.permissions.check_path(access, &parsed);
        self.permit(tool, access, parsed.as_str(), decision).await?;
        Ok(parsed)
    }

    fn readable(&self, path: &VirtualPath) -> bool {
        self.permissions.check_path(Access::Read, path) == Decision::Allow
    }

    async fn ls(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(ToolName::Ls, Access::Read, args.str("path").unwrap_or("/"))
            .await?;
        let entries = self.backend.ls(path.as_str()).await?;
        let total = entries.len();
        let entries: Vec<FileInfo> = entries
            .into_iter()
            .filter(|e| self.readable(&e.path))
            .collect();
        let hidden = total - entries.len();
        let mut budget = Budget::new(self.limits.max_output_chars);
        for entry in &entries {
            budget.push(&describe_entry(entry));
        }
        let shown = budget.lines();
        let cut = budget.is_full();
        let mut text = budget.into_text();
        if entries.is_empty() {
            text.push_str(&format!("{} is empty\n", path.as_str()));
        }
        if cut {
            text.push_str(&format!(
                "[Output cut: showing {shown} of {} entries; list a subdirectory or use glob to narrow it.]\n",
                entries.len()
            ));
        }
        if hidden > 0 {
            text.push_str(&format!("[{hidden} entries hidden by permission rules.]\n"));
        }
        let structured = json!({
            "path": path.as_str(),
            "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
            "hidden": hidden,
        });
        Ok(ToolOutput::success(text, structured))
    }

    async fn read_file(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(
                ToolName::ReadFile,
                Access::Read,
                args.required_str("file_path")?,
            )
            .await?;
        let offset = args.usize("offset").unwrap_or(0);
        let limit = args
            .usize("limit")
            .unwrap_or(backend_core::DEFAULT_READ_LIMIT);
        let page = self.backend.read(path.as_str(), offset, limit).await?;

        let mut budget = Budget::new(self.limits.max_output_chars);
        let mut cut_lines = Vec::new();
        let mut content = String::new();
        for (i, raw) in page.content.split_inclusive('\n').enumerate() {
            let number = page.first_line + i;
            let line = raw.strip_suffix('\n').unwrap_or(raw);
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (shown, was_cut) = cut_line(line, self.limits.max_line_chars);
            if !budget.push(&format!("{number:>6}\t{shown}")) {
                break;
            }
            if was_cut {
                cut_lines.push(number);
            }
            content.push_str(raw);
        }
        let shown = budget.lines();
        let output_cut = budget.is_full();
        let mut text = budget.into_text();
        let last_line = if shown == 0 {
            0
        } else {
            page.first_line + shown - 1
        };
        let next_offset = if output_cut {
            Some(offset + shown)
        } else {
            page.next_offset
        };
        if page.total_lines == 0 {
            text.push_str(&format!("[{} is empty.]\n", path.as_str()));
        } else if let Some(next) = next_offset {
            let why = if output_cut {
                format!(
                    "Output cut at {} characters. ",
                    self.limits.max_output_chars
                )
            } else {
                String::new()
            };
            text.push_str(&format!(
                "[{why}Showing lines {}-{last_line} of {}. To read more, call read_file with offset={next}.]\n",
                page.first_line, page.total_lines
            ));
        }
        if !cut_lines.is_empty() {
            text.push_str(&format!(
                "[{} long line(s) cut at {} characters.]\n",
                cut_lines.len(),
                self.limits.max_line_chars
            ));
        }
        let structured = json!({
            "file_path": path.as_str(),
            "content": content,
            "first_line": page.first_line,
            "last_line": last_line,
            "total_lines": page.total_lines,
            "next_offset": next_offset,
            "cut_lines": cut_lines,
            "output_cut": output_cut,
        });
        Ok(ToolOutput::success(text, structured))
    }

    async fn write_file(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(
                ToolName::WriteFile,
                Access::Write,
                args.required_str("file_path")?,
            )
            .await?;
        let content = args.required_str("content")?;
        self.backend
            .write(path.as_str(), content.as_bytes().to_vec())
            .await?;
        let text = format!("Wrote {} bytes to {}\n", content.len(), path.as_str());
        Ok(ToolOutput::success(
            text,
            json!({"file_path": path.as_str(), "bytes_written": content.len()}),
        ))
    }

    async fn edit_file(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(
                ToolName::EditFile,
                Access::Write,
                args.required_str("file_path")?,
            )
            .await?;
        let result = self
            .backend
            .edit(
                path.as_str(),
                args.required_str("old_string")?,
                args.required_str("new_string")?,
                args.flag("replace_all"),
            )
            .await?;
        let n = result.replacements;
        let text = format!(
            "Replaced {n} occurrence{} in {}\n",
            if n == 1 { "" } else { "s" },
            path.as_str()
        );
        Ok(ToolOutput::success(
            text,
            json!({"file_path": path.as_str(), "replacements": n}),
        ))
    }

    async fn delete(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = VirtualPath::parse(args.required_str("file_path")?)?;
        let recursive = args.flag("recursive");
        let decision = if recursive {
            self.permissions.check_tree(Access::Delete, &path)
        } else {
            self.permissions.check_path(Access::Delete, &path)
        };
        self.permit(ToolName::Delete, Access::Delete, path.as_str(), decision)
            .await?;
        self.backend.delete(path.as_str(), recursive).await?;
        Ok(ToolOutput::success(
            format!("Deleted {}\n", path.as_str()),
            json!({"file_path": path.as_str(), "recursive": recursive}),
        ))
    }

    async fn glob(&self, args: &Args) -> Result<ToolOutput, Error> {
        let base = self
            .check_path(
                ToolName::Glob,
                Access::Read,
                args.str("path").unwrap_or("/"),
            )
            .await?;
        let pattern = args.required_str("pattern")?;
        let result = self
            .backend
            .glob(&GlobRequest::new(pattern).path(base.as_str()))
            .await?;
        let total = result.files.len();
        let files: Vec<FileInfo> = result
            .files
            .into_iter()
            .filter(|f| self.readable(&f.path))
            .collect();
        let hidden = total - files.len();
        let mut budget = Budget::new(self.limits.max_output_chars);
        for file in &files {
            budget.push(file.path.as_str());
        }
        let shown = budget.lines();
        let cut = budget.is_full();
        let mut text = budget.into_text();
        if files.is_empty() {
            text.push_str(&format!(
                "No files match {pattern:?} under {}\n",
                base.as_str()
            ));
        }
        if cut {
            text.push_str(&format!(
                "[Output cut: showing {shown} of {} files; use a narrower pattern or path.]\n",
                files.len()
            ));
        }
        if result.truncated {
            text.push_str(
                "[More files matched than the backend returns; use a narrower pattern or path.]\n",
            );
        }
        if hidden > 0 {
            text.push_str(&format!("[{hidden} files hidden by permission rules.]\n"));
        }
        let structured = json!({
            "pattern": pattern,
            "path": base.as_str(),
            "files": files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            "truncated": result.truncated || cut,
            "hidden": hidden,
        });
        Ok(ToolOutput::success(text, structured))
    }

    async fn grep(&self, args: &Args) -> Result<ToolOutput, Error> {
        let base = self
            .check_path(
                ToolName::Grep,
                Access::Read,
                args.str("path").unwrap_or("/"),
            )
            .await?;
        let pattern = args.required_str("pattern")?;
        let mode = args.str("output_mode").unwrap_or("files_with_matches");
        let mut request = GrepRequest::new(pattern)
            .path(base.as_str())
            .regex(args.flag("regex"))
            .case_insensitive(args.flag("case_insensitive"))
            .max_line_chars(self.limits.max_line_chars);
        if let Some(glob) = args.str("glob") {
            request = request.glob(glob);
        }
        if let Some(max) = args.usize("max_count") {
            request = request.max_count(max);
        }
        if mode == "content" {
            request = request.context(args.usize("context").unwrap_or(0));
        }
        let result = self.backend.grep(&request).await?;
        let total = result.matches.len();
        let matches: Vec<GrepMatch> = result
            .matches
            .into_iter()
            .filter(|m| self.readable(&m.path))
            .collect();
        let hidden = total - matches.len();
        let by_file = group_by_file(&matches);

        let mut budget = Budget::new(self.limits.max_output_chars);
        let structured_mode = match mode {
            "content" => {
                for (path, file_matches) in &by_file {
                    for line in content_lines(path, file_matches, request.before_context > 0) {
                        budget.push(&line);
                    }
                }
                json!(matches.iter().map(match_json).collect::<Vec<_>>())
            }
            "count" => {
                for (path, file_matches) in &by_file {
                    budget.push(&format!("{path}:{}", file_matches.len()));
                }
                json!(
                    by_file
                        .iter()
                        .map(|(p, m)| json!({"path": p, "count": m.len()}))
                        .collect::<Vec<_>>()
                )
            }
            _ => {
                for path in by_file.keys() {
                    budget.push(path);
                }
                json!(by_file.keys().collect::<Vec<_>>())
            }
        };
        let cut = budget.is_full();
        let mut text = budget.into_text();
        if matches.is_empty() {
            text.push_str(&format!(
                "No matches for {pattern:?} under {}\n",
                base.as_str()
            ));
        } else if mode == "count" {
            text.push_str(&format!(
                "[{} matching lines in {} files.]\n",
                matches.len(),
                by_file.len()
            ));
        }
        if cut {
            text.push_str(&format!(
                "[Output cut at {} characters; narrow the search with path, glob or max_count.]\n",
                self.limits.max_output_chars
            ));
        }
        if result.truncated {
            text.push_str(&format!(
                "[Stopped after {total} matching lines; more exist. Raise max_count or narrow the search.]\n"
            ));
        }
        if hidden > 0 {
            text.push_str(&format!("[{hidden} matches hidden by permission rules.]\n"));
        }
        let key = match mode {
            "content" => "matches",
            "count" => "counts",
            _ => "files",
        };
        let mut structured = json!({
            "pattern": pattern,
            "path": base.as_str(),
            "output_mode": mode,
            "truncated": result.truncated || cut,
            "hidden": hidden,
        });
        structured[key] = structured_mode;
        Ok(ToolOutput::success(text, structured))
    }

    async fn execute(&self, args: &Args) -> Result<ToolOutput, Error> {
        let sandbox = self
            .sandbox
            .as_ref()
            .ok_or_else(|| self.unknown_tool("execute"))?;
        let command = args.required_str("command")?;
        let decision = self.permissions.check_command(command);
        self.permit(ToolName::Execute, Access::Execute, command, decision)
            .await?;
        let timeout = args
            .usize("timeout")
            .map_or(backend_core::exec::DEFAULT_EXEC_TIMEOUT, |s| {
                Duration::from_secs(s as u64)
            });
        let request = ExecRequest::new(command).timeout(timeout);
        request
            .validate()
            .map_err(|e| e.or_operation(Operation::Execute))?;
        let output = sandbox.execute(request).await?;
        let status = output.status;

        let mut header = match (status.exit_code, status.signal) {
            (Some(code), _) => format!("Exit code: {code}"),
            (None, Some(signal)) => format!("Killed by signal {signal}"),
            (None, None) => "Exit status unknown".to_owned(),
        };
        header.push_str(&format!(" ({:.2} s)", status.duration.as_secs_f64()));
        let mut budget = Budget::new(self.limits.max_output_chars);
        budget.push(&header);
        let stdout = output.stdout_text();
        let stderr = output.stderr_text();
        for (name, stream) in [("stdout", &stdout), ("stderr", &stderr)] {
            if stream.is_empty() {
                continue;
            }
            budget.push(&format!("--- {name} ---"));
            for line in stream.lines() {
                let (line, _) = cut_line(line, self.limits.max_line_chars);
                budget.push(&line);
            }
        }
        let cut = budget.is_full();
        let mut text = budget.into_text();
        if stdout.is_empty() && stderr.is_empty() {
            text.push_str("(no output)\n");
        }
        if status.timed_out {
            text.push_str(&format!(
                "[The command timed out after {} s and was killed; output so far is shown.]\n",
                timeout.as_secs()
            ));
        }
        if status.stdout_truncated || status.stderr_truncated {
            text.push_str(
                "[The command's output passed the sandbox's cap; the rest was dropped.]\n",
            );
        }
        if cut {
            text.push_str(&format!(
                "[Output cut at {} characters; redirect output to a file and read it with read_file or grep.]\n",
                self.limits.max_output_chars
            ));
        }
        let structured = json!({
            "command": command,
            "exit_code": status.exit_code,
            "signal": status.signal,
            "timed_out": status.timed_out,
            "stdout": stdout,
            "stderr": stderr,
            "stdout_truncated": status.stdout_truncated,
            "stderr_truncated": status.stderr_truncated,
            "output_cut": cut,
            "duration_ms": u64::try_from(status.duration.as_millis()).unwrap_or(u64::MAX),
        });
        Ok(ToolOutput::success(text, structured))
    }
}

fn denied(message: String) -> Error {
    Error::new(ErrorKind::PermissionDenied, message)
}

fn describe_entry(entry: &FileInfo) -> String {
    if entry.is_dir {
        format!("{}/", entry.path.as_str())
    } else {
        match entry.size {
            Some(size) => format!("{} ({size} bytes)", entry.path.as_str()),
            None => entry.path.as_str().to_owned(),
        }
    }
}

fn entry_json(entry: &FileInfo) -> Value {
    let mut value = json!({"path": entry.path.as_str(), "is_dir": entry.is_dir});
    if let Some(size) = entry.size {
        value["size"] = json!(size);
    }
    if let Some(secs) = entry
        .modified
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
    {
        value["modified_unix"] = json!(secs.as_secs());
    }
    value
}

fn match_json(m: &GrepMatch) -> Value {
    json!({
        "path": m.path.as_str(),
        "line_number": m.line_number,
        "line": m.line,
        "line_truncated": m.line_truncated,
        "before": m.before.iter().map(|c| json!({"line_number": c.line_number, "line": c.line})).collect::<Vec<_>>(),
        "after": m.after.iter().map(|c| json!({"line_number": c.line_number, "line": c.line})).collect::<Vec<_>>(),
    })
}

fn group_by_file(matches: &[GrepMatch]) -> BTreeMap<&str, Vec<&GrepMatch>> {
    let mut by_file: BTreeMap<&str, Vec<&GrepMatch>> = BTreeMap::new();
    for m in matches {
        by_file.entry(m.path.as_str()).or_default().push(m);
    }
    by_file
}

/// `path:N:line` for matches and `path-N-line` for context, each line once
/// even where contexts overlap, with `--` between separate groups.
fn content_lines(path: &str, matches: &[&GrepMatch], with_context: bool) -> Vec<String> {
    // line number → (text, is a match)
    let mut lines: BTreeMap<u64, (&str, bool)> = BTreeMap::new();
    for m in matches {
        for c in m.before.iter().chain(&m.after) {
            lines.entry(c.line_number).or_insert((&c.line, false));
        }
        lines.insert(m.line_number, (&m.line, true));
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut previous: Option<u64> = None;
    for (number, (text, is_match)) in lines {
        if with_context && previous.is_some_and(|p| number > p + 1) {
            out.push("--".to_owned());
        }
        let sep = if is_match { ':' } else { '-' };
        out.push(format!("{path}{sep}{number}{sep}{text}"));
        previous = Some(number);
    }
    out
}
