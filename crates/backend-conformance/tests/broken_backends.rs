//! The suite catches faults: the in-memory backend wrapped with one
//! deliberate bug at a time must fail exactly the cases that check the rule
//! it breaks, while the correct backend passes everything.

use std::sync::Arc;

use async_trait::async_trait;
use backend_conformance::{Outcome, Report, Subject, run_suite};
use backend_core::{
    Backend, Capabilities, DownloadResult, EditResult, Error, ErrorKind, FileInfo, FileUpload,
    GlobPattern, GlobRequest, GlobResult, GrepRequest, GrepResult, ReadResult, Result,
    UploadResult, text,
};
use backend_state::StateBackend;

/// One deliberate bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Resolves `..` segments instead of refusing them.
    AcceptsDotDot,
    /// Edits by read, pause, write: concurrent edits overwrite each other,
    /// while still claiming `atomic_edit`.
    LosesConcurrentEdits,
    /// Ignores grep's `max_count`.
    IgnoresMaxCount,
    /// Globs without the dotfile rule.
    GlobMatchesHiddenNames,
    /// Ignores grep's `case_insensitive`.
    GrepIgnoresCaseInsensitive,
    /// `read` turns CRLF into LF.
    ReadDropsCr,
    /// `upload_files` stops at the first bad item.
    UploadStopsAtFirstError,
    /// A recursive delete also removes siblings sharing the name as a prefix.
    DeleteByPrefix,
    /// Returns glob results in reverse order.
    GlobUnsorted,
    /// Edits without the CRLF retry.
    EditWithoutCrlfRetry,
    /// Grep skips hidden files.
    GrepSkipsHiddenFiles,
    /// Reports the number of matches as the number replaced, but replaces only one
    /// when `replace_all` is set.
    ReplaceAllReplacesOne,
}

struct Broken {
    inner: StateBackend,
    fault: Fault,
}

/// `path` with `..` segments resolved lexically, the way a careless backend would.
fn resolve_dotdot(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

impl Broken {
    fn path(&self, path: &str) -> String {
        if self.fault == Fault::AcceptsDotDot {
            resolve_dotdot(path)
        } else {
            path.to_owned()
        }
    }

    /// Every file under `dir`, by walking `ls`.
    async fn walk(&self, dir: &str) -> Result<Vec<FileInfo>> {
        let mut files = Vec::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(dir) = pending.pop() {
            for entry in self.inner.ls(&dir).await? {
                if entry.is_dir {
                    pending.push(entry.path.to_string());
                } else {
                    files.push(entry);
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }
}

#[async_trait]
impl Backend for Broken {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        self.inner.ls(&self.path(path)).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        self.inner.stat(&self.path(path)).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.inner.read_bytes(&self.path(path)).await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        self.inner.write(&self.path(path), content).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = self.path(path);
        match self.fault {
            Fault::LosesConcurrentEdits => {
                let bytes = self.inner.read_bytes(&path).await?;
                let content =
                    String::from_utf8(bytes).map_err(|_| Error::not_a_text_file(&path))?;
                let (updated, count) = text::apply_edit(&path, &content, old, new, replace_all)?;
                tokio::task::yield_now().await;
                self.inner.write(&path, updated.into_bytes()).await?;
                Ok(EditResult::new(count))
            }
            Fault::EditWithoutCrlfRetry => {
                let content = String::from_utf8(self.inner.read_bytes(&path).await?)
                    .map_err(|_| Error::not_a_text_file(&path))?;
                if !old.is_empty() && !content.contains(old) {
                    return Err(Error::new(ErrorKind::StringNotFound, "not found"));
                }
                self.inner.edit(&path, old, new, replace_all).await
            }
            Fault::ReplaceAllReplacesOne if replace_all => {
                let content = String::from_utf8(self.inner.read_bytes(&path).await?)
                    .map_err(|_| Error::not_a_text_file(&path))?;
                let count = content.matches(old).count();
                if count == 0 {
                    return self.inner.edit(&path, old, new, false).await;
                }
                self.inner
                    .write(&path, content.replacen(old, new, 1).into_bytes())
                    .await?;
                Ok(EditResult::new(count))
            }
            _ => self.inner.edit(&path, old, new, replace_all).await,
        }
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = self.path(path);
        if self.fault == Fault::DeleteByPrefix && recursive {
            let target = backend_core::VirtualPath::parse(&path)?;
            if let (Some(parent), Some(name)) = (target.parent(), target.file_name()) {
                for entry in self.inner.ls(parent.as_str()).await? {
                    if entry.name().starts_with(name) {
                        self.inner.delete(entry.path.as_str(), true).await?;
                    }
                }
                return Ok(());
            }
        }
        self.inner.delete(&path, recursive).await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let mut request = request.clone();
        request.path = self.path(&request.path);
        match self.fault {
            Fault::GlobMatchesHiddenNames => {
                let pattern = GlobPattern::new(&request.pattern)?;
                let base = backend_core::VirtualPath::parse(&request.path)?;
                let mut files = Vec::new();
                for file in self.walk(base.as_str()).await? {
                    let relative = file.path.relative_to(&base).unwrap_or("").to_owned();
                    // Pretend no name is hidden by dropping leading dots.
                    let unhidden: Vec<&str> = relative
                        .split('/')
                        .map(|s| s.trim_start_matches('.'))
                        .collect();
                    if pattern.matches(&relative) || pattern.matches(&unhidden.join("/")) {
                        files.push(file);
                    }
                }
                Ok(GlobResult::new(files, false))
            }
            Fault::GlobUnsorted => {
                let mut result = self.inner.glob(&request).await?;
                result.files.reverse();
                Ok(result)
            }
            _ => self.inner.glob(&request).await,
        }
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let mut request = request.clone();
        request.path = self.path(&request.path);
        match self.fault {
            Fault::IgnoresMaxCount => request.max_count = None,
            Fault::GrepIgnoresCaseInsensitive => request.case_insensitive = false,
            _ => {}
        }
        let mut result = self.inner.grep(&request).await?;
        if self.fault == Fault::GrepSkipsHiddenFiles {
            result
                .matches
                .retain(|m| !m.path.segments().any(|s| s.starts_with('.')));
        }
        Ok(result)
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let mut result = self.inner.read(&self.path(path), offset, limit).await?;
        if self.fault == Fault::ReadDropsCr {
            result.content = result.content.replace("\r\n", "\n");
        }
        Ok(result)
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let mut results = Vec::new();
        for file in files {
            let outcome = self.write(&file.path, file.content).await;
            let failed = outcome.is_err();
            results.push(UploadResult::new(file.path, outcome));
            if failed && self.fault == Fault::UploadStopsAtFirstError {
                break;
            }
        }
        results
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let mut results = Vec::new();
        for path in paths {
            let outcome = self.read_bytes(&path).await;
            results.push(DownloadResult::new(path, outcome));
        }
        results
    }
}

async fn report_for(fault: Fault) -> Report {
    run_suite(&format!("broken-{fault:?}"), move || async move {
        Subject::backend(Arc::new(Broken {
            inner: StateBackend::new(),
            fault,
        }))
    })
    .await
}

/// Fails unless every case in `expected` failed for `fault`. Other cases may
/// fail too (a backend that resolves `..` also mangles `~/x`); what matters
/// is that the rule the fault breaks is caught by the case written for it.
async fn assert_caught(fault: Fault, expected: &[&str]) {
    let report = report_for(fault).await;
    let failed = report.failed_names();
    for case in expected {
        let outcome = report.case(case).map(|c| c.outcome);
        assert_eq!(
            outcome,
            Some(Outcome::Failed),
            "{fault:?}: case {case} should fail; failed: {failed:?}"
        );
    }
    // The failures carry the rule they check, for the person reading them.
    for case in report.failures() {
        let message = case.message.as_deref().unwrap_or("");
        assert!(
            message.contains("semantics.md") || message.contains("Capabilities"),
            "{fault:?}: {} failed without naming a rule: {message}",
            case.name
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_correct_state_backend_passes_every_case() {
    let report = run_suite("state", || async {
        Subject::backend(Arc::new(StateBackend::new()))
    })
    .await;
    assert!(report.is_success(), "{}", report.summary());
    assert!(report.count(Outcome::Passed) >= 100, "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread")]
async fn accepting_dotdot_is_caught() {
    assert_caught(
        Fault::AcceptsDotDot,
        &[
            "ls_rejects_dotdot",
            "stat_rejects_dotdot",
            "exists_rejects_dotdot",
            "read_rejects_dotdot",
            "read_bytes_rejects_dotdot",
            "write_rejects_dotdot",
            "edit_rejects_dotdot",
            "delete_rejects_dotdot",
            "glob_rejects_dotdot_path",
            "grep_rejects_dotdot_path",
            "upload_rejects_dotdot",
            "download_rejects_dotdot",
            "upload_bad_item_among_good",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_concurrent_edits_is_caught() {
    assert_caught(
        Fault::LosesConcurrentEdits,
        &["concurrent_edits_lose_nothing"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ignoring_max_count_is_caught() {
    assert_caught(Fault::IgnoresMaxCount, &["grep_max_count_truncates"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn glob_without_the_dotfile_rule_is_caught() {
    assert_caught(
        Fault::GlobMatchesHiddenNames,
        &[
            "glob_pattern_without_slash_matches_any_depth",
            "glob_wildcards_skip_hidden_names",
            "glob_double_star_skips_hidden_directories",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grep_ignoring_case_insensitive_is_caught() {
    assert_caught(
        Fault::GrepIgnoresCaseInsensitive,
        &[
            "grep_case_insensitive",
            "grep_case_insensitive_regex",
            "grep_unicode",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_dropping_cr_is_caught() {
    assert_caught(Fault::ReadDropsCr, &["read_keeps_crlf"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_stopping_at_first_error_is_caught() {
    assert_caught(
        Fault::UploadStopsAtFirstError,
        &[
            "upload_bad_item_among_good",
            "upload_item_under_file_fails_alone",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_by_prefix_is_caught() {
    assert_caught(
        Fault::DeleteByPrefix,
        &["delete_recursive_removes_tree_only"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsorted_glob_is_caught() {
    assert_caught(
        Fault::GlobUnsorted,
        &[
            "glob_results_sorted",
            "glob_limit_truncates",
            "glob_pattern_without_slash_matches_any_depth",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_without_crlf_retry_is_caught() {
    assert_caught(Fault::EditWithoutCrlfRetry, &["edit_retries_with_crlf"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn grep_skipping_hidden_files_is_caught() {
    assert_caught(Fault::GrepSkipsHiddenFiles, &["grep_searches_hidden_files"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_all_replacing_one_is_caught() {
    assert_caught(
        Fault::ReplaceAllReplacesOne,
        &[
            "edit_replace_all_returns_count",
            "edit_replace_all_does_not_recurse",
        ],
    )
    .await;
}
