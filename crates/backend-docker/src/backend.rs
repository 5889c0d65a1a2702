//! `Backend` and `Sandbox` for [`DockerSandbox`].

use std::sync::Arc;

use async_trait::async_trait;
use backend_core::{
    Backend, Capabilities, DownloadResult, EditResult, Error, ExecRequest, ExecStream, FileInfo,
    FileUpload, GlobPattern, GlobRequest, GlobResult, GrepCollector, GrepMatcher, GrepRequest,
    GrepResult, Operation, Result, Sandbox, UploadResult, VirtualPath,
};

use crate::sandbox::DockerSandbox;

#[async_trait]
impl Backend for DockerSandbox {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.execute = true;
        caps.execute_streaming = true;
        caps.atomic_edit = true;
        caps.empty_directories = true;
        caps.modified_time = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let dir = VirtualPath::parse_for(path, Operation::Ls)?;
        self.list(&dir, Operation::Ls).await
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = VirtualPath::parse_for(path, Operation::Stat)?;
        self.stat_path(&path, Operation::Stat).await
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = VirtualPath::parse_for(path, Operation::ReadBytes)?;
        self.read_file(&path, Operation::ReadBytes).await
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Write)?;
        let mut outcome = self
            .write_batch(vec![(path, content)], Operation::Write)
            .await;
        outcome
            .pop()
            .unwrap_or_else(|| Err(Error::internal("the write produced no outcome")))
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let op = Operation::Edit;
        let vpath = VirtualPath::parse_for(path, op)?;
        // Read-modify-write under a per-path lock, so that concurrent edits
        // through this sandbox never lose an update.
        let _guard = self.edit_locks.lock(vpath.as_str().to_owned()).await;
        let key = vpath.as_str().to_owned();
        let before = self.stat_raw(&vpath, op).await?;
        if before.file_mode & crate::files::GO_MODE_DIR != 0 {
            return Err(Error::is_directory(vpath.as_str()).with_operation(op));
        }
        let cached = self.cached_text(&key, &before);
        let text = match cached {
            Some(text) => text,
            None => {
                let bytes = self.read_file(&vpath, op).await?;
                Arc::new(
                    String::from_utf8(bytes)
                        .map_err(|_| Error::not_a_text_file(vpath.as_str()).with_operation(op))?,
                )
            }
        };
        let (updated, count) =
            backend_core::text::apply_edit(vpath.as_str(), &text, old, new, replace_all)
                .map_err(|e| e.or_operation(op))?;
        let updated = Arc::new(updated);
        let mut outcome = self
            .write_batch(vec![(vpath.clone(), updated.as_bytes().to_vec())], op)
            .await;
        let written = outcome
            .pop()
            .unwrap_or_else(|| Err(Error::internal("the write produced no outcome")));
        self.forget_text(&key);
        written?;
        if let Ok(after) = self.stat_raw(&vpath, op).await {
            self.remember_text(key, &after, updated);
        }
        Ok(EditResult::new(count))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Delete)?;
        self.delete_path(&path, recursive).await
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let op = Operation::Glob;
        let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.or_operation(op))?;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let mut names = match self.find_files(&base, op).await {
            Ok(names) => names,
            Err(e) if e.kind() == backend_core::ErrorKind::FileNotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        names.retain(|rel| pattern.matches(rel));
        names.sort_by(|a, b| {
            base.join(a)
                .map(VirtualPath::into_string)
                .unwrap_or_default()
                .cmp(
                    &base
                        .join(b)
                        .map(VirtualPath::into_string)
                        .unwrap_or_default(),
                )
        });
        let truncated = names.len() > request.limit;
        names.truncate(request.limit);
        let files = self.stat_many(&base, &names).await?;
        Ok(GlobResult::new(files, truncated))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let op = Operation::Grep;
        let matcher = GrepMatcher::new(request).map_err(|e| e.or_operation(op))?;
        let base = VirtualPath::parse_for(&request.path, op)?;
        let (is_dir, mut files) = self.download_tree(&base, op).await?;
        let mut collector = GrepCollector::new(request);
        if !is_dir {
            if let Some((_, content)) = files.pop() {
                collector.search(&matcher, &base, &content);
            }
            return Ok(collector.finish());
        }
        let mut found: Vec<(VirtualPath, Vec<u8>)> = files
            .into_iter()
            .filter(|(rel, _)| matcher.wants(rel))
            .filter_map(|(rel, content)| Some((base.join(&rel).ok()?, content)))
            .collect();
        found.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        for (path, content) in found {
            if collector.is_full() {
                break;
            }
            collector.search(&matcher, &path, &content);
        }
        Ok(collector.finish())
    }

    async fn read(
        &self,
        path: &str,
        offset: usize,
        limit: usize,
    ) -> Result<backend_core::ReadResult> {
        let bytes = self
            .read_bytes(path)
            .await
            .map_err(|e| e.with_operation(Operation::Read))?;
        backend_core::text::page(path, &bytes, offset, limit)
            .map_err(|e| e.or_operation(Operation::Read))
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let op = Operation::Upload;
        let mut results: Vec<Option<Result<()>>> = Vec::with_capacity(files.len());
        let mut batch = Vec::new();
        let mut slots = Vec::new();
        let mut names = Vec::with_capacity(files.len());
        for file in files {
            names.push(file.path.clone());
            match VirtualPath::parse_for(&file.path, op) {
                Ok(path) => {
                    slots.push(results.len());
                    batch.push((path, file.content));
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(e))),
            }
        }
        let outcomes = self.write_batch(batch, op).await;
        for (slot, outcome) in slots.into_iter().zip(outcomes) {
            results[slot] = Some(outcome);
        }
        names
            .into_iter()
            .zip(results)
            .map(|(name, outcome)| {
                let outcome = outcome.unwrap_or_else(|| Err(Error::internal("upload item lost")));
                UploadResult::new(name, outcome.map_err(|e| e.or_operation(op)))
            })
            .collect()
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        let op = Operation::Download;
        let reads = paths.iter().map(|path| async move {
            let vpath = VirtualPath::parse_for(path, op)?;
            self.read_file(&vpath, op).await
        });
        let outcomes = futures::future::join_all(reads).await;
        paths
            .into_iter()
            .zip(outcomes)
            .map(|(path, outcome)| DownloadResult::new(path, outcome))
            .collect()
    }
}

/// Files larger than this are not kept between edits.
const EDIT_CACHE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// At most this many files are kept between edits.
const EDIT_CACHE_MAX_FILES: usize = 32;

impl DockerSandbox {
    fn cached_text(
        &self,
        key: &str,
        now: &bollard::container::PathStatResponse,
    ) -> Option<Arc<String>> {
        let cache = self.edit_cache.lock().ok()?;
        let entry = cache.get(key)?;
        let same = Some(entry.modified.as_str()) == now.modification_time.as_deref()
            && entry.size == now.size;
        same.then(|| entry.text.clone())
    }

    fn forget_text(&self, key: &str) {
        if let Ok(mut cache) = self.edit_cache.lock() {
            cache.remove(key);
        }
    }

    fn remember_text(
        &self,
        key: String,
        after: &bollard::container::PathStatResponse,
        text: Arc<String>,
    ) {
        let Some(modified) = after.modification_time.clone() else {
            return;
        };
        if text.len() > EDIT_CACHE_MAX_BYTES || after.size != text.len() as i64 {
            return;
        }
        if let Ok(mut cache) = self.edit_cache.lock() {
            if cache.len() >= EDIT_CACHE_MAX_FILES {
                cache.clear();
            }
            cache.insert(
                key,
                crate::sandbox::EditCacheEntry {
                    modified,
                    size: after.size,
                    text,
                },
            );
        }
    }
}

#[async_trait]
impl Sandbox for DockerSandbox {
    fn id(&self) -> &str {
        &self.container
    }

    async fn execute_stream(&self, request: ExecRequest) -> Result<ExecStream> {
        self.start_stream(request).await
    }

    async fn close(&self) -> Result<()> {
        self.close_now().await
    }
}
