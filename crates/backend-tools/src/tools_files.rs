//! `ls`, `read_file`, `write_file`, `edit_file` and `delete`.

use backend_core::{Error, FileInfo, Operation, VirtualPath};
use serde_json::{Value, json};

use crate::args::Args;
use crate::output::{Budget, ToolOutput, cap_list, cut_line};
use crate::permissions::Access;
use crate::specs::ToolName;
use crate::toolset::Toolset;

impl Toolset {
    pub(crate) async fn ls(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(ToolName::Ls, Access::Read, args.str("path").unwrap_or("/"))
            .await?;
        let entries = self.handle.backend.ls(path.as_str()).await?;
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
        let mut structured = json!({
            "path": path.as_str(),
            "entries": entries.iter().take(shown).map(entry_json).collect::<Vec<_>>(),
            "total": entries.len(),
            "hidden": hidden,
            "truncated": cut,
        });
        if cap_list(&mut structured, "entries", self.limits.max_output_chars) {
            structured["truncated"] = json!(true);
        }
        Ok(ToolOutput::success(text, structured))
    }

    pub(crate) async fn read_file(&self, args: &Args) -> Result<ToolOutput, Error> {
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
        let page = self
            .handle
            .backend
            .read(path.as_str(), offset, limit)
            .await?;
        if let Some(state) = &self.read_state {
            state
                .remember(self.backend().as_ref(), path.as_str())
                .await?;
        }

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
                // The JSON holds what the text shows, so it is capped alike.
                cut_lines.push(number);
                content.push_str(&shown);
                content.push_str(&raw[line.len()..]);
            } else {
                content.push_str(raw);
            }
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

    pub(crate) async fn write_file(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(
                ToolName::WriteFile,
                Access::Write,
                args.required_str("file_path")?,
            )
            .await?;
        let content = args.required_str("content")?;
        if let Some(state) = &self.read_state {
            state
                .check(self.backend().as_ref(), path.as_str(), Operation::Write)
                .await?;
        }
        self.handle
            .backend
            .write(path.as_str(), content.as_bytes().to_vec())
            .await?;
        if let Some(state) = &self.read_state {
            state
                .remember(self.backend().as_ref(), path.as_str())
                .await?;
        }
        let text = format!("Wrote {} bytes to {}\n", content.len(), path.as_str());
        Ok(ToolOutput::success(
            text,
            json!({"file_path": path.as_str(), "bytes_written": content.len()}),
        ))
    }

    pub(crate) async fn edit_file(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = self
            .check_path(
                ToolName::EditFile,
                Access::Write,
                args.required_str("file_path")?,
            )
            .await?;
        let old_string = args.required_str("old_string")?;
        let new_string = args.required_str("new_string")?;
        if old_string == new_string {
            return Err(Error::invalid_argument(
                "old_string and new_string are the same, so the edit would change nothing; pass the new text as new_string",
            )
            .with_operation(Operation::Edit)
            .with_path(path.as_str()));
        }
        if let Some(state) = &self.read_state {
            state
                .check(self.backend().as_ref(), path.as_str(), Operation::Edit)
                .await?;
        }
        let result = self
            .handle
            .backend
            .edit(
                path.as_str(),
                old_string,
                new_string,
                args.flag("replace_all"),
            )
            .await?;
        if let Some(state) = &self.read_state {
            state
                .remember(self.backend().as_ref(), path.as_str())
                .await?;
        }
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

    pub(crate) async fn delete(&self, args: &Args) -> Result<ToolOutput, Error> {
        let path = VirtualPath::parse_for(args.required_str("file_path")?, Operation::Delete)?;
        let recursive = args.flag("recursive");
        let decision = if recursive {
            self.permissions.check_tree(Access::Delete, &path)
        } else {
            self.permissions.check_path(Access::Delete, &path)
        };
        self.permit(ToolName::Delete, Access::Delete, path.as_str(), decision)
            .await?;
        self.handle.backend.delete(path.as_str(), recursive).await?;
        if let Some(state) = &self.read_state {
            state.forget(path.as_str());
        }
        Ok(ToolOutput::success(
            format!("Deleted {}\n", path.as_str()),
            json!({"file_path": path.as_str(), "recursive": recursive}),
        ))
    }
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
