//! `S3Backend`: construction and the `Backend` implementation.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use backend_core::{
    Backend, Capabilities, DownloadResult, EditResult, Error, ErrorKind, FileInfo, FileUpload,
    GlobPattern, GlobRequest, GlobResult, GrepCollector, GrepMatcher, GrepRequest, GrepResult,
    Operation, ReadResult, Result, UploadResult, VirtualPath,
};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Mutex;

use crate::cache::ReadCache;
use crate::config::{ConditionalWrites, MIN_PART_SIZE, S3Config};
use crate::error::S3Failure;
use crate::store::{Listing, Store};

/// A parent directory with more entries than this is not listed for a
/// batch of writes; its files are checked one by one.
const BATCH_LISTING_LIMIT: usize = 5000;

/// Facts shared by the writes of one `upload_files` batch.
#[derive(Debug, Default)]
struct BatchFacts {
    file_ancestors: HashSet<VirtualPath>,
    not_files: HashSet<VirtualPath>,
    /// Parent directory → the key prefixes (`…/name/`) of its subdirectories.
    subdirs: HashMap<VirtualPath, HashSet<String>>,
}

/// Edits of keys hashing to the same stripe serialise in this process, so
/// that edits through one backend do not race each other into `412`s.
const EDIT_LOCK_STRIPES: usize = 64;

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
    store: Store,
    cache: Option<ReadCache>,
    conditional_writes: bool,
    edit_attempts: u32,
    edit_locks: Box<[Mutex<()>]>,
}

impl std::fmt::Debug for S3Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Backend")
            .field("bucket", &self.store.bucket)
            .field("prefix", &self.store.prefix)
            .field("conditional_writes", &self.conditional_writes)
            .field("cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

fn parse(path: &str, operation: Operation) -> Result<VirtualPath> {
    VirtualPath::parse(path).map_err(|e| e.with_operation(operation))
}

/// A short pause before re-reading after a `412`, growing with the attempt,
/// jittered so that competing writers spread out.
fn conflict_backoff(attempt: u32) -> Duration {
    let base = 5u64 << attempt.min(7);
    let jitter = u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    ) % base.max(1);
    Duration::from_millis(base + jitter)
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
            store,
            cache: config.cache.as_ref().map(ReadCache::new),
            conditional_writes,
            edit_attempts: config.edit_attempts,
            edit_locks: (0..EDIT_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
        })
    }

    /// Whether edits use conditional writes (compare-and-swap).
    pub fn uses_conditional_writes(&self) -> bool {
        self.conditional_writes
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.store.bucket
    }

    /// The key prefix, empty or ending with `/`.
    pub fn key_prefix(&self) -> &str {
        &self.store.prefix
    }

    fn fail(&self, failure: S3Failure, path: &VirtualPath, operation: Operation) -> Error {
        failure
            .into_error(Some(path.as_str()), &self.store.bucket)
            .with_operation(operation)
    }

    async fn get_object(&self, key: &str) -> std::result::Result<Option<Bytes>, S3Failure> {
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.object(key).await {
                return Ok(Some(hit));
            }
            let fetched = self.store.get(key).await?.map(|(bytes, _)| bytes);
            if let Some(bytes) = &fetched {
                cache.put_object(key, bytes).await;
            }
            return Ok(fetched);
        }
        Ok(self.store.get(key).await?.map(|(bytes, _)| bytes))
    }

    async fn list(
        &self,
        prefix: &str,
        delimited: bool,
    ) -> std::result::Result<Arc<Listing>, S3Failure> {
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.listing(prefix, delimited).await {
                return Ok(hit);
            }
            let listing = Arc::new(self.store.list(prefix, delimited, None).await?);
            cache.put_listing(prefix, delimited, listing.clone()).await;
            return Ok(listing);
        }
        Ok(Arc::new(self.store.list(prefix, delimited, None).await?))
    }

    async fn invalidate(&self, key: Option<&str>) {
        if let Some(cache) = &self.cache {
            cache.invalidate(key).await;
        }
    }

    /// The first ancestor of `path` (below the root) that is a file.
    async fn file_ancestor(
        &self,
        path: &VirtualPath,
    ) -> std::result::Result<Option<VirtualPath>, S3Failure> {
        let ancestors: Vec<VirtualPath> = path
            .ancestors()
            .into_iter()
            .filter(|a| !a.is_root())
            .collect();
        let keys: Vec<String> = ancestors.iter().map(|a| self.store.key(a)).collect();
        let heads = futures::future::join_all(keys.iter().map(|k| self.store.head(k))).await;
        for (ancestor, head) in ancestors.into_iter().zip(heads) {
            if head?.is_some() {
                return Ok(Some(ancestor));
            }
        }
        Ok(None)
    }

    /// The error for a path that is not a file: `is_directory` when keys
    /// exist below it, `not_a_directory` when a parent is a file, else
    /// `file_not_found`.
    async fn not_a_file(&self, path: &VirtualPath, operation: Operation) -> Error {
        let dir_prefix = self.store.dir_prefix(path);
        let (below, ancestor) =
            tokio::join!(self.store.any_under(&dir_prefix), self.file_ancestor(path));
        let err = match (below, ancestor) {
            (Err(f), _) | (_, Err(f)) => return self.fail(f, path, operation),
            (Ok(true), _) => Error::is_directory(path.as_str()),
            (Ok(false), Ok(Some(_))) => Error::not_a_directory(path.as_str()),
            (Ok(false), Ok(None)) => Error::file_not_found(path.as_str()),
        };
        err.with_operation(operation)
    }

    /// The error for a directory operation on a path with no keys below it.
    async fn not_a_dir(&self, path: &VirtualPath, operation: Operation) -> Error {
        match self.store.head(&self.store.key(path)).await {
            Err(f) => self.fail(f, path, operation),
            Ok(Some(_)) => Error::not_a_directory(path.as_str()).with_operation(operation),
            Ok(None) => match self.file_ancestor(path).await {
                Err(f) => self.fail(f, path, operation),
                Ok(Some(_)) => Error::not_a_directory(path.as_str()).with_operation(operation),
                Ok(None) => Error::file_not_found(path.as_str()).with_operation(operation),
            },
        }
    }

    async fn fetch(&self, path: &VirtualPath, operation: Operation) -> Result<Bytes> {
        if path.is_root() {
            return Err(Error::is_directory("/").with_operation(operation));
        }
        match self.get_object(&self.store.key(path)).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(self.not_a_file(path, operation).await),
            Err(f) => Err(self.fail(f, path, operation)),
        }
    }

    /// Refuses a write onto a directory or below a file.
    async fn check_writable(&self, path: &VirtualPath, operation: Operation) -> Result<()> {
        if path.is_root() {
            return Err(Error::is_directory("/").with_operation(operation));
        }
        let dir_prefix = self.store.dir_prefix(path);
        let (below, ancestor) =
            tokio::join!(self.store.any_under(&dir_prefix), self.file_ancestor(path));
        if below.map_err(|f| self.fail(f, path, operation))? {
            return Err(Error::is_directory(path.as_str()).with_operation(operation));
        }
        if ancestor
            .map_err(|f| self.fail(f, path, operation))?
            .is_some()
        {
            return Err(Error::not_a_directory(path.as_str()).with_operation(operation));
        }
        Ok(())
    }

    async fn write_path(
        &self,
        path: &VirtualPath,
        content: Vec<u8>,
        operation: Operation,
    ) -> Result<()> {
        self.check_writable(path, operation).await?;
        let key = self.store.key(path);
        let outcome = self.store.put(&key, Bytes::from(content), None).await;
        self.invalidate(Some(&key)).await;
        outcome.map_err(|f| self.fail(f, path, operation))
    }

    /// What a batch of writes can learn once instead of per file: which
    /// ancestors are files (one `HeadObject` each), and, for a parent
    /// holding several files of the batch, which of its children are
    /// directories (one delimited listing, when it is not huge). A failed
    /// lookup is simply left out: each write then checks for itself.
    async fn batch_facts(&self, paths: &[VirtualPath]) -> BatchFacts {
        let mut facts = BatchFacts::default();
        let mut ancestors: Vec<VirtualPath> = paths
            .iter()
            .flat_map(|p| p.ancestors())
            .filter(|a| !a.is_root())
            .collect();
        ancestors.sort();
        ancestors.dedup();
        let mut per_parent: HashMap<VirtualPath, usize> = HashMap::new();
        for parent in paths.iter().filter_map(VirtualPath::parent) {
            *per_parent.entry(parent).or_default() += 1;
        }
        let heads: Vec<(
            VirtualPath,
            std::result::Result<Option<crate::store::Head>, S3Failure>,
        )> = futures::stream::iter(ancestors)
            .map(|a| async move {
                let head = self.store.head(&self.store.key(&a)).await;
                (a, head)
            })
            .buffer_unordered(self.store.concurrency)
            .collect()
            .await;
        for (ancestor, head) in heads {
            match head {
                Ok(Some(_)) => {
                    facts.file_ancestors.insert(ancestor);
                }
                Ok(None) => {
                    facts.not_files.insert(ancestor);
                }
                Err(_) => {}
            }
        }
        let shared_parents: Vec<VirtualPath> = per_parent
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(p, _)| p)
            .collect();
        let listings: Vec<_> = futures::stream::iter(shared_parents)
            .map(|parent| async move {
                let prefix = self.store.dir_prefix(&parent);
                let listing = self
                    .store
                    .list(&prefix, true, Some(BATCH_LISTING_LIMIT))
                    .await;
                (parent, listing)
            })
            .buffer_unordered(self.store.concurrency)
            .collect()
            .await;
        for (parent, listing) in listings {
            if let Ok(listing) = listing
                && listing.objects.len() + listing.prefixes.len() < BATCH_LISTING_LIMIT
            {
                facts
                    .subdirs
                    .insert(parent, listing.prefixes.into_iter().collect());
            }
        }
        facts
    }

    /// `write` with what [`batch_facts`](Self::batch_facts) already knows.
    async fn write_with_facts(
        &self,
        path: &VirtualPath,
        content: Vec<u8>,
        facts: &BatchFacts,
    ) -> Result<()> {
        let op = Operation::Upload;
        let known_parent = path.parent().and_then(|p| facts.subdirs.get(&p));
        let ancestors: Vec<VirtualPath> = path
            .ancestors()
            .into_iter()
            .filter(|a| !a.is_root())
            .collect();
        let ancestors_known = ancestors
            .iter()
            .all(|a| facts.file_ancestors.contains(a) || facts.not_files.contains(a));
        let (Some(subdirs), true, false) = (known_parent, ancestors_known, path.is_root()) else {
            return self.write_path(path, content, op).await;
        };
        if ancestors.iter().any(|a| facts.file_ancestors.contains(a)) {
            return Err(Error::not_a_directory(path.as_str()).with_operation(op));
        }
        if subdirs.contains(&self.store.dir_prefix(path)) {
            return Err(Error::is_directory(path.as_str()).with_operation(op));
        }
        let key = self.store.key(path);
        let outcome = self.store.put(&key, Bytes::from(content), None).await;
        self.invalidate(Some(&key)).await;
        outcome.map_err(|f| self.fail(f, path, op))
    }

    fn edit_lock(&self, key: &str) -> &Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % EDIT_LOCK_STRIPES as u64).unwrap_or(0);
        &self.edit_locks[index]
    }

    /// Files and their keys under `base` whose keys start with
    /// `dir_prefix(base) + narrowing`, in path order.
    fn files_in(&self, listing: &Listing, base: &VirtualPath) -> Vec<(VirtualPath, usize)> {
        listing
            .objects
            .iter()
            .enumerate()
            .filter_map(|(i, o)| {
                let path = self.store.path_of(&o.key)?;
                (path != *base && path.starts_with(base)).then_some((path, i))
            })
            .collect()
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
        let path = parse(path, Operation::Ls)?;
        let prefix = self.store.dir_prefix(&path);
        let listing = self
            .list(&prefix, true)
            .await
            .map_err(|f| self.fail(f, &path, Operation::Ls))?;
        let mut entries: Vec<FileInfo> = Vec::new();
        for dir in &listing.prefixes {
            if let Some(p) = self.store.path_of(dir.trim_end_matches('/')) {
                entries.push(FileInfo::dir(p));
            }
        }
        let mut marked = false;
        for object in &listing.objects {
            if object.key == prefix {
                marked = true;
                continue;
            }
            if let Some(p) = self.store.path_of(&object.key) {
                entries.push(FileInfo::file(p, object.size).with_modified(object.modified));
            }
        }
        if entries.is_empty() && !marked && !path.is_root() {
            return Err(self.not_a_dir(&path, Operation::Ls).await);
        }
        entries.sort_by(|a, b| a.name().cmp(b.name()).then(b.is_dir.cmp(&a.is_dir)));
        entries.dedup_by(|a, b| a.path == b.path);
        Ok(entries)
    }

    async fn stat(&self, path: &str) -> Result<FileInfo> {
        let path = parse(path, Operation::Stat)?;
        if path.is_root() {
            return Ok(FileInfo::dir(path));
        }
        match self.store.head(&self.store.key(&path)).await {
            Ok(Some(head)) => Ok(FileInfo::file(path, head.size).with_modified(head.modified)),
            Ok(None) => match self.store.any_under(&self.store.dir_prefix(&path)).await {
                Ok(true) => Ok(FileInfo::dir(path)),
                Ok(false) => Err(self.not_a_file(&path, Operation::Stat).await),
                Err(f) => Err(self.fail(f, &path, Operation::Stat)),
            },
            Err(f) => Err(self.fail(f, &path, Operation::Stat)),
        }
    }

    async fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let path = parse(path, Operation::ReadBytes)?;
        Ok(self.fetch(&path, Operation::ReadBytes).await?.to_vec())
    }

    async fn read(&self, path: &str, offset: usize, limit: usize) -> Result<ReadResult> {
        let path = parse(path, Operation::Read)?;
        let bytes = self.fetch(&path, Operation::Read).await?;
        backend_core::text::page(path.as_str(), &bytes, offset, limit)
            .map_err(|e| e.with_operation(Operation::Read))
    }

    async fn write(&self, path: &str, content: Vec<u8>) -> Result<()> {
        let path = parse(path, Operation::Write)?;
        self.write_path(&path, content, Operation::Write).await
    }

    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<EditResult> {
        let op = Operation::Edit;
        let path = parse(path, op)?;
        if path.is_root() {
            return Err(Error::is_directory("/").with_operation(op));
        }
        let key = self.store.key(&path);
        let _serialised = self.edit_lock(&key).lock().await;
        for attempt in 0..self.edit_attempts {
            let (bytes, etag) = match self.store.get(&key).await {
                Ok(Some(found)) => found,
                Ok(None) => return Err(self.not_a_file(&path, op).await),
                Err(f) => return Err(self.fail(f, &path, op)),
            };
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Error::not_a_text_file(path.as_str()).with_operation(op))?;
            let (updated, count) =
                backend_core::text::apply_edit(path.as_str(), text, old, new, replace_all)
                    .map_err(|e| e.with_operation(op))?;
            let condition = if self.conditional_writes {
                etag.as_deref()
            } else {
                None
            };
            let outcome = self
                .store
                .put(&key, Bytes::from(updated.into_bytes()), condition)
                .await;
            self.invalidate(Some(&key)).await;
            match outcome {
                Ok(()) => return Ok(EditResult::new(count)),
                Err(f) if f.is_precondition_failed() => {
                    tracing::debug!(path = %path, attempt, "edit lost a race; reading again");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                }
                // The object was deleted between the read and the write.
                Err(f) if f.is_not_found() => {
                    return Err(Error::file_not_found(path.as_str()).with_operation(op));
                }
                Err(f) => return Err(self.fail(f, &path, op)),
            }
        }
        Err(Error::new(
            ErrorKind::Conflict,
            format!(
                "{path} kept changing while being edited ({} attempts); read it again and retry",
                self.edit_attempts
            ),
        )
        .with_path(path.as_str())
        .with_operation(op))
    }

    async fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        let path = parse(path, op)?;
        if path.is_root() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                "the root directory / cannot be deleted; delete the entries inside it instead",
            )
            .with_path("/")
            .with_operation(op));
        }
        let key = self.store.key(&path);
        match self.store.head(&key).await {
            Ok(Some(_)) => {
                let outcome = self.store.delete(&key).await;
                self.invalidate(Some(&key)).await;
                return outcome.map_err(|f| self.fail(f, &path, op));
            }
            Ok(None) => {}
            Err(f) => return Err(self.fail(f, &path, op)),
        }
        let prefix = self.store.dir_prefix(&path);
        let listing = self
            .store
            .list(&prefix, false, None)
            .await
            .map_err(|f| self.fail(f, &path, op))?;
        if listing.objects.is_empty() {
            return Err(self.not_a_dir(&path, op).await);
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
        let outcome = self.store.delete_many(keys).await;
        self.invalidate(None).await;
        outcome.map_err(|f| self.fail(f, &path, op))
    }

    async fn glob(&self, request: &GlobRequest) -> Result<GlobResult> {
        let op = Operation::Glob;
        let base = parse(&request.path, op)?;
        let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(op))?;
        let narrowing = pattern.literal_prefix();
        let mut prefix = self.store.dir_prefix(&base);
        for segment in &narrowing {
            prefix.push_str(segment);
            prefix.push('/');
        }
        let listing = self
            .list(&prefix, false)
            .await
            .map_err(|f| self.fail(f, &base, op))?;
        if listing.objects.is_empty() && !base.is_root() {
            let base_exists = !narrowing.is_empty()
                && self
                    .store
                    .any_under(&self.store.dir_prefix(&base))
                    .await
                    .map_err(|f| self.fail(f, &base, op))?;
            if !base_exists {
                return Err(self.not_a_dir(&base, op).await);
            }
        }
        let mut files = Vec::new();
        let mut truncated = false;
        let mut found = self.files_in(&listing, &base);
        found.sort_by(|a, b| a.0.cmp(&b.0));
        for (path, index) in found {
            let relative = path.relative_to(&base).unwrap_or_default();
            if !pattern.matches(relative) {
                continue;
            }
            if files.len() == request.limit {
                truncated = true;
                break;
            }
            let object = &listing.objects[index];
            files.push(FileInfo::file(path, object.size).with_modified(object.modified));
        }
        Ok(GlobResult::new(files, truncated))
    }

    async fn grep(&self, request: &GrepRequest) -> Result<GrepResult> {
        let op = Operation::Grep;
        let base = parse(&request.path, op)?;
        let matcher = GrepMatcher::new(request).map_err(|e| e.with_operation(op))?;
        let narrowing: Vec<String> = match &request.glob {
            Some(glob) => GlobPattern::new(glob)
                .map_err(|e| e.with_operation(op))?
                .literal_prefix()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        let mut collector = GrepCollector::new(request);
        let mut prefix = self.store.dir_prefix(&base);
        for segment in &narrowing {
            prefix.push_str(segment);
            prefix.push('/');
        }
        let listing = self
            .list(&prefix, false)
            .await
            .map_err(|f| self.fail(f, &base, op))?;
        if listing.objects.is_empty() && !base.is_root() {
            // Either a single file, an empty narrowing, or nothing at all.
            match self.get_object(&self.store.key(&base)).await {
                Ok(Some(bytes)) => {
                    if matcher.wants(base.file_name().unwrap_or_default()) {
                        collector.search(&matcher, &base, &bytes);
                    }
                    return Ok(collector.finish());
                }
                Ok(None) => {}
                Err(f) => return Err(self.fail(f, &base, op)),
            }
            let base_exists = !narrowing.is_empty()
                && self
                    .store
                    .any_under(&self.store.dir_prefix(&base))
                    .await
                    .map_err(|f| self.fail(f, &base, op))?;
            if !base_exists {
                return Err(self.not_a_dir(&base, op).await);
            }
        }
        let mut candidates: Vec<(VirtualPath, String)> = self
            .files_in(&listing, &base)
            .into_iter()
            .filter(|(path, _)| matcher.wants(path.relative_to(&base).unwrap_or_default()))
            .map(|(path, index)| (path, listing.objects[index].key.clone()))
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        // `buffered` keeps path order while fetching ahead; dropping the
        // stream once `max_count` is reached cancels what is in flight.
        let mut fetches = futures::stream::iter(candidates)
            .map(|(path, key)| async move {
                let fetched = self.get_object(&key).await;
                (path, fetched)
            })
            .buffered(self.store.concurrency);
        while let Some((path, fetched)) = fetches.next().await {
            match fetched {
                Ok(Some(bytes)) => collector.search(&matcher, &path, &bytes),
                // Deleted since the listing: it is simply not there.
                Ok(None) => {}
                Err(f) => return Err(self.fail(f, &path, op)),
            }
            if collector.is_full() {
                break;
            }
        }
        Ok(collector.finish())
    }

    async fn upload_files(&self, files: Vec<FileUpload>) -> Vec<UploadResult> {
        let op = Operation::Upload;
        let parsed: Vec<Result<VirtualPath>> = files.iter().map(|f| parse(&f.path, op)).collect();
        let valid: Vec<VirtualPath> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let facts = self.batch_facts(&valid).await;
        let facts = &facts;
        futures::stream::iter(files.into_iter().zip(parsed))
            .map(|(file, path)| async move {
                let outcome = match path {
                    Ok(path) => self.write_with_facts(&path, file.content, facts).await,
                    Err(e) => Err(e),
                };
                UploadResult::new(file.path, outcome)
            })
            .buffered(self.store.concurrency)
            .collect()
            .await
    }

    async fn download_files(&self, paths: Vec<String>) -> Vec<DownloadResult> {
        futures::stream::iter(paths)
            .map(|path| async move {
                let outcome = match parse(&path, Operation::Download) {
                    Ok(vp) => self
                        .fetch(&vp, Operation::Download)
                        .await
                        .map(|b| b.to_vec()),
                    Err(e) => Err(e),
                };
                DownloadResult::new(path, outcome)
            })
            .buffered(self.store.concurrency)
            .collect()
            .await
    }
}
