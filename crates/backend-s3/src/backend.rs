//! `S3Backend`: construction and the `Backend` implementation.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use backend_core::{
    Backend, Capabilities, DownloadResult, EditResult, Error, ErrorKind, FileInfo, FileUpload,
    GlobRequest, GlobResult, GrepRequest, GrepResult, Operation, ReadResult, Result, UploadResult,
    VirtualPath,
};
use bytes::Bytes;
use futures::StreamExt;

use crate::batch::BatchFacts;
use crate::cache::ReadCache;
use crate::config::{ConditionalWrites, MIN_PART_SIZE, S3Config};
use crate::edit::Editor;
use crate::error::S3Failure;
use crate::objects::Objects;
use crate::search;
use crate::store::Store;

/// An agent's files as objects in an S3 bucket, under a key prefix.
///
/// `/notes/a.md` is the key `<prefix>notes/a.md`. Directories are implied
/// by the keys below them; a zero-byte object whose key ends with `/` (a
/// "folder" made by a console or another tool) also marks one. There are no
/// empty directories of this backend's own making: deleting the last file
/// of a directory removes the directory.
///
/// # Concurrency
/// `edit` is a compare-and-swap: it reads the object with its ETag, applies
/// the edit, and writes with `If-Match`; on `412 Precondition Failed` it
/// reads again, a bounded number of times, then gives `conflict`. Edits of
/// one object through one backend also take a local lock, so they do not
/// even contend. Where the store lacks conditional writes
/// ([`ConditionalWrites`], probed once by [`S3Backend::connect`]), the
/// write is unconditional: edits through this backend still serialise on
/// the local lock, but between processes the last writer wins, and
/// [`Capabilities::atomic_edit`] is `false`.
///
/// # Notes
/// - `write` checks that the path is not a directory and that no parent is
///   a file; the check and the write are separate requests, as S3 has no
///   directories to lock.
/// - Writes above the multipart threshold go up in parts concurrently.
/// - `read` fetches the whole object: paging by lines needs the total line
///   count.
/// - Keys that are not canonical virtual paths (`a//b`, `./x`) are not
///   shown.
pub struct S3Backend {
    objects: Objects,
    conditional_writes: bool,
    editor: Editor,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("bucket", &self.objects.store.bucket)
            .field("prefix", &self.objects.store.prefix)
            .field("conditional_writes", &self.conditional_writes)
            .field("cache", &self.objects.is_cached())
            .finish_non_exhaustive()
    }
}

impl S3Backend {
    /// Connects with the standard AWS configuration chain plus the
    /// overrides in `config`, then probes conditional-write support when
    /// `config` asks for detection.
    ///
    /// Errors: `invalid_argument` for a bad configuration; the probe's
    /// failure (`unavailable`, `permission_denied`, `file_not_found` for a
    /// missing bucket) when detection cannot run.
    pub async fn connect(config: S3Config) -> Result<Self> {
        let retry = RetryConfig::standard()
            .with_max_attempts(config.max_attempts)
            .with_initial_backoff(config.initial_backoff)
            .with_max_backoff(config.max_backoff);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(config.connect_timeout)
            .operation_attempt_timeout(config.attempt_timeout)
            .operation_timeout(config.operation_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = &config.credentials {
            loader = loader.credentials_provider(credentials.clone());
        }
        let shared = loader.load().await;
        let mut builder =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(config.force_path_style);
        if shared.region().is_none() {
            // Self-hosted stores accept any region; AWS needs one to sign.
            builder = builder.region(Region::new("us-east-1"));
        }
        Self::from_client(Client::from_conf(builder.build()), config).await
    }

    /// Uses a client built elsewhere; `config`'s connection settings
    /// (endpoint, region, credentials, timeouts, retries) are then ignored.
    pub async fn from_client(client: Client, config: S3Config) -> Result<Self> {
        if config.bucket.is_empty() {
            return Err(Error::invalid_argument("the S3 bucket name is empty")
                .with_operation(Operation::Create));
        }
        if config.part_size < MIN_PART_SIZE {
            return Err(Error::invalid_argument(format!(
                "multipart parts must be at least {MIN_PART_SIZE} bytes"
            ))
            .with_operation(Operation::Create));
        }
        let store = Store {
            client,
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            multipart_threshold: config.multipart_threshold,
            part_size: config.part_size,
            concurrency: config.concurrency,
        };
        let conditional_writes = match config.conditional_writes {
            ConditionalWrites::Enabled => true,
            ConditionalWrites::Disabled => false,
            ConditionalWrites::Detect => probe_conditional_writes(&store).await?,
        };
        Ok(S3Backend {
            objects: Objects::new(store, config.cache.as_ref().map(ReadCache::new)),
            conditional_writes,
            editor: Editor::new(conditional_writes, config.edit_attempts),
        })
    }

    /// Whether edits use conditional writes (compare-and-swap).
    pub fn uses_conditional_writes(&self) -> bool {
        self.conditional_writes
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.objects.store.bucket
    }

    /// The key prefix, empty or ending with `/`.
    pub fn key_prefix(&self) -> &str {
        &self.objects.store.prefix
    }
}

/// Writes a probe object, then overwrites it with an `If-Match` that cannot
/// hold: a store that honours conditional writes refuses with `412`.
async fn probe_conditional_writes(store: &Store) -> Result<bool> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = format!(
        "{}.backend-s3-probe-{}-{nanos}",
        store.prefix,
        std::process::id()
    );
    let fail = |f: S3Failure| {
        f.into_error(None, &store.bucket)
            .with_operation(Operation::Create)
            .with_context("step", "probing conditional writes")
    };
    store
        .put(&key, Bytes::from_static(b"probe"), None)
        .await
        .map_err(fail)?;
    let outcome = store
        .put(
            &key,
            Bytes::from_static(b"changed"),
            Some("\"00000000000000000000000000000000\""),
        )
        .await;
    let supported = match outcome {
        Err(f) if f.is_precondition_failed() => true,
        Ok(()) => false,
        Err(f) if matches!(f.kind, ErrorKind::Unsupported | ErrorKind::InvalidArgument) => false,
        Err(f) => {
            let _ = store.delete(&key).await;
            return Err(fail(f));
        }
    };
    store.delete(&key).await.map_err(fail)?;
    tracing::debug!(bucket = %store.bucket, supported, "probed conditional writes");
    Ok(supported)
}

#[async_trait]
impl Backend for S3Backend {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.persistent = true;
        caps.atomic_edit = self.conditional_writes;
        caps.modified_time = true;
        caps
    }

    async fn ls(&self, path: &str) -> Result<Vec<FileInfo>> {
        let path = VirtualPath::parse_for(path, Operation::Ls)?;
        let prefix = self.objects.store.dir_prefix(&path);
        let listing = self
            .objects
            .list(&prefix, true)
            .await
            .map_err(|f| self.objects.fail(f, &path, Operation::Ls))?;
        let mut entries: Vec<FileInfo> = Vec::new();
        for dir in &listing.prefixes {
            if let Some(p) = self.objects.store.path_of(dir.trim_end_matches('/')) {
                entries.push(FileInfo::dir(p));
            }
        }
        let mut marked = false;
        for object in &listing.objects {
            if object.key == prefix {
                marked = true;
                continue;
            }
            if let Some(p) = self.objects.store.path_of(&object.key) {
                entries.push(FileInfo::file(p, object.size).with_modified(object.modified));
            }
        }
        if entries.is_empty() && !marked && !path.is_root() {
            return Err(self.objects.not_a_dir(&path, Operation::Ls).await);
        }
        entries.sort_by(|a, b| a.name().cmp(b.name()).then(b.is_dir.cmp(&a.is_dir)));
        entries.dedup_by(|a, b| a.path == b.path);
        Ok(entries)
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = VirtualPath::parse_for(path, Operation::Stat)?;
        if path.is_root() {
            return Ok(FileInfo::dir(path));
        }
        match self
            .objects
            .store
            .head(&self.objects.store.key(&path))
            .await
        {
            Ok(Some(head)) => Ok(FileInfo::file(path, head.size).with_modified(head.modified)),
            Ok(None) => match self
                .objects
                .store
                .any_under(&self.objects.store.dir_prefix(&path))
                .await
            {
                Ok(true) => Ok(FileInfo::dir(path)),
                Ok(false) => Err(self.objects.not_a_file(&path, Operation::Stat).await),
                Err(f) => Err(self.objects.fail(f, &path, Operation::Stat)),
            },
            Err(f) => Err(self.objects.fail(f, &path, Operation::Stat)),
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = VirtualPath::parse_for(path, Operation::ReadBytes)?;
        Ok(self
            .objects
            .fetch(&path, Operation::ReadBytes)
            .await?
            .to_vec())
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let path = VirtualPath::parse_for(path, Operation::Read)?;
        let bytes = self.objects.fetch(&path, Operation::Read).await?;
        backend_core::text::page(path.as_str(), &bytes, offset, limit)
            .map_err(|e| e.with_operation(Operation::Read))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = VirtualPath::parse_for(path, Operation::Write)?;
        self.objects
            .write_path(&path, content, Operation::Write)
            .await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let path = VirtualPath::parse_for(path, Operation::Edit)?;
        self.editor
            .edit(&self.objects, &path, old, new, replace_all)
            .await
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        let path = VirtualPath::parse_for(path, op)?;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        let key = self.objects.store.key(&path);
        match self.objects.store.head(&key).await {
            Ok(Some(_)) => {
                let outcome = self.objects.store.delete(&key).await;
                self.objects.invalidate(Some(&key)).await;
                return outcome.map_err(|f| self.objects.fail(f, &path, op));
            }
            Ok(None) => {}
            Err(f) => return Err(self.objects.fail(f, &path, op)),
        }
        let prefix = self.objects.store.dir_prefix(&path);
        let listing = self
            .objects
            .store
            .list(&prefix, false, None)
            .await
            .map_err(|f| self.objects.fail(f, &path, op))?;
        if listing.objects.is_empty() {
            return Err(self.objects.not_a_dir(&path, op).await);
        }
        let only_marker = listing.objects.len() == 1 && listing.objects[0].key == prefix;
        if !recursive && !only_marker {
            return Err(Error::new(
                ErrorKind::IsDirectory,
                format!(
                    "{path} is a directory; pass recursive=true to delete it and everything in it"
                ),
            )
            .with_path(path.as_str())
            .with_operation(op));
        }
        let keys = listing.objects.iter().map(|o| o.key.clone()).collect();
        let outcome = self.objects.store.delete_many(keys).await;
        self.objects.invalidate(None).await;
        outcome.map_err(|f| self.objects.fail(f, &path, op))
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        search::glob(&self.objects, request).await
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        search::grep(&self.objects, request).await
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let op = Operation::Upload;
        let parsed: Vec<Result<VirtualPath>> = files
            .iter()
            .map(|f| VirtualPath::parse_for(&f.path, op))
            .collect();
        let valid: Vec<VirtualPath> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let facts = BatchFacts::gather(&self.objects, &valid).await;
        let facts = &facts;
        futures::stream::iter(files.into_iter().zip(parsed))
            .map(|(file, path)| async move {
                let outcome = match path {
                    Ok(path) => facts.write(&self.objects, &path, file.content).await,
                    Err(e) => Err(e),
                };
                UploadResult::new(file.path, outcome)
            })
            .buffered(self.objects.store.concurrency)
            .collect()
            .await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        futures::stream::iter(paths)
            .map(|path| async move {
                let outcome = match VirtualPath::parse_for(&path, Operation::Download) {
                    Ok(vp) => self
                        .objects
                        .fetch(&vp, Operation::Download)
                        .await
                        .map(|b| b.to_vec()),
                    Err(e) => Err(e),
                };
                DownloadResult::new(path, outcome)
            })
            .buffered(self.objects.store.concurrency)
            .collect()
            .await
    }
}
