//! `glob` and `grep`.

use std::collections::BTreeMap;

use backend_core::{Error, FileInfo, GlobRequest, GrepMatch, GrepRequest};
use serde_json::{Value, json};

use crate::args::Args;
use crate::output::{Budget, ToolOutput, cap_list};
use crate::permissions::Access;
use crate::specs::ToolName;
use crate::toolset::Toolset;

impl Toolset {
    pub(crate) async fn glob(&self, args: &Args) -> Result<ToolOutput, Error> {
        let base = self
            .check_path(
                ToolName::Glob,
                Access::Read,
                args.str("path").unwrap_or("/"),
            )
            .await?;
        let pattern = args.required_str("pattern")?;
        let result = self
            .handle
            .backend
            .glob(&GlobRequest::new(pattern).path(base.as_str()))
            .await?;
        let total = result.files.len();
        let mut files: Vec<FileInfo> = result
            .files
            .into_iter()
            .filter(|f| self.readable(&f.path))
            .collect();
        if args.flag("newest_first") {
            // Newest first; files without a time last, each group by path.
            files.sort_by(|a, b| {
                b.modified
                    .cmp(&a.modified)
                    .then_with(|| a.path.as_str().cmp(b.path.as_str()))
            });
        }
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
                "[Output cut: showing {shown} of {} files. Use a narrower pattern or path to see the rest.]\n",
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
        let mut structured = json!({
            "pattern": pattern,
            "path": base.as_str(),
            "files": files.iter().take(shown).map(|f| f.path.as_str()).collect::<Vec<_>>(),
            "total": files.len(),
            "truncated": result.truncated || cut,
            "hidden": hidden,
        });
        if cap_list(&mut structured, "files", self.limits.max_output_chars) {
            structured["truncated"] = json!(true);
        }
        Ok(ToolOutput::success(text, structured))
    }

    pub(crate) async fn grep(&self, args: &Args) -> Result<ToolOutput, Error> {
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
            let both = args.usize("context").unwrap_or(0);
            request = request.context_lines(
                args.usize("before_context").unwrap_or(both),
                args.usize("after_context").unwrap_or(both),
            );
        }
        let result = self.handle.backend.grep(&request).await?;
        let found = result.matches.len();
        let matches: Vec<GrepMatch> = result
            .matches
            .into_iter()
            .filter(|m| self.readable(&m.path))
            .collect();
        let hidden = found - matches.len();
        let by_file = group_by_file(&matches);
        let with_context = request.before_context > 0 || request.after_context > 0;

        // The entries paged by offset and head_limit: matching lines (with
        // their context) in content mode, files otherwise.
        let total = if mode == "content" {
            matches.len()
        } else {
            by_file.len()
        };
        let offset = args.usize("offset").unwrap_or(0).min(total);
        let limit = args.usize("head_limit").unwrap_or(usize::MAX);
        let page_end = offset.saturating_add(limit).min(total);

        let mut budget = Budget::new(self.limits.max_output_chars);
        let mut shown = 0;
        // The JSON lists only what the text shows, so it is capped alike.
        let structured_mode = match mode {
            "content" => {
                let page: Vec<&GrepMatch> = by_file
                    .values()
                    .flatten()
                    .copied()
                    .skip(offset)
                    .take(page_end - offset)
                    .collect();
                let mut listed = Vec::new();
                for (path, file_matches) in &group_by_file_refs(&page) {
                    for (line, is_match) in content_lines(path, file_matches, with_context) {
                        if !budget.push(&line) {
                            break;
                        }
                        if let Some(m) = is_match {
                            shown += 1;
                            listed.push(match_json(m));
                        }
                    }
                }
                json!(listed)
            }
            "count" => {
                let mut listed = Vec::new();
                for (path, file_matches) in by_file.iter().skip(offset).take(page_end - offset) {
                    if budget.push(&format!("{path}:{}", file_matches.len())) {
                        shown += 1;
                        listed.push(json!({"path": path, "count": file_matches.len()}));
                    }
                }
                json!(listed)
            }
            _ => {
                let mut listed = Vec::new();
                for path in by_file.keys().skip(offset).take(page_end - offset) {
                    if budget.push(path) {
                        shown += 1;
                        listed.push(*path);
                    }
                }
                json!(listed)
            }
        };
        let cut = budget.is_full();
        let mut text = budget.into_text();
        let unit = if mode == "content" {
            "matching lines"
        } else {
            "files"
        };
        let next_offset = (offset + shown < total).then_some(offset + shown);
        if matches.is_empty() {
            text.push_str(&format!(
                "No matches for {pattern:?} under {}\n",
                base.as_str()
            ));
        } else if shown == 0 {
            text.push_str(&format!(
                "[offset={offset} is past the end: there are {total} {unit}.]\n"
            ));
        } else if mode == "count" && next_offset.is_none() && offset == 0 {
            text.push_str(&format!(
                "[{} matching lines in {} files.]\n",
                matches.len(),
                by_file.len()
            ));
        }
        if let Some(next) = next_offset.filter(|_| shown > 0) {
            let why = if cut {
                format!(
                    "Output cut at {} characters. ",
                    self.limits.max_output_chars
                )
            } else {
                String::new()
            };
            text.push_str(&format!(
                "[{why}Showing {unit} {}-{} of {total}. To see more, call grep again with offset={next}, or narrow the search with path or glob.]\n",
                offset + 1,
                offset + shown
            ));
        }
        if result.truncated {
            text.push_str(&format!(
                "[Stopped after {found} matching lines; more exist. Raise max_count or narrow the search.]\n"
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
            "truncated": result.truncated || cut || next_offset.is_some(),
            "hidden": hidden,
            "offset": offset,
            "total": total,
            "next_offset": next_offset,
        });
        structured[key] = structured_mode;
        if cap_list(&mut structured, key, self.limits.max_output_chars) {
            structured["truncated"] = json!(true);
        }
        Ok(ToolOutput::success(text, structured))
    }
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
    group_by_file_refs(&matches.iter().collect::<Vec<_>>())
}

fn group_by_file_refs<'m>(matches: &[&'m GrepMatch]) -> BTreeMap<&'m str, Vec<&'m GrepMatch>> {
    let mut by_file: BTreeMap<&str, Vec<&GrepMatch>> = BTreeMap::new();
    for m in matches {
        by_file.entry(m.path.as_str()).or_default().push(*m);
    }
    by_file
}

/// `path:N:line` for matches and `path-N-line` for context, each line once
/// even where contexts overlap, with `--` between separate groups; each
/// with the match it shows, if it is one.
fn content_lines<'m>(
    path: &str,
    matches: &[&'m GrepMatch],
    with_context: bool,
) -> Vec<(String, Option<&'m GrepMatch>)> {
    // line number → (text, the match shown on it)
    let mut lines: BTreeMap<u64, (&str, Option<&GrepMatch>)> = BTreeMap::new();
    for m in matches {
        for c in m.before.iter().chain(&m.after) {
            lines.entry(c.line_number).or_insert((&c.line, None));
        }
        lines.insert(m.line_number, (&m.line, Some(*m)));
    }
    let mut out = Vec::with_capacity(lines.len());
    let mut previous: Option<u64> = None;
    for (number, (text, shown_match)) in lines {
        if with_context && previous.is_some_and(|p| number > p + 1) {
            out.push(("--".to_owned(), None));
        }
        let sep = if shown_match.is_some() { ':' } else { '-' };
        out.push((format!("{path}{sep}{number}{sep}{text}"), shown_match));
        previous = Some(number);
    }
    out
}
