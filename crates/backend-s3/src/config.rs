//! How to reach the bucket and how the backend behaves.

use std::fmt;
use std::time::Duration;

use aws_sdk_s3::config::Credentials;

/// Default size above which `write` uses a multipart upload.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
/// The smallest part S3 accepts (every part but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// Whether `edit` may rely on conditional writes (`If-Match` on `PutObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConditionalWrites {
    /// Probe the store once when connecting (a write with a wrong `If-Match`
    /// must be refused with `412`).
    #[default]
    Detect,
    /// The store supports them (AWS S3 since 2024, recent MinIO, R2, moto).
    Enabled,
    /// The store ignores or rejects them: edits are read-modify-write with
    /// last-writer-wins between processes (see [`crate::S3Backend`]).
    Disabled,
}

/// The optional read-through cache of listings and small objects.
///
/// It is invalidated by this backend's own writes; changes made by other
/// writers show after at most `time_to_live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Total bytes of cached objects and listings.
    pub max_bytes: u64,
    /// Objects larger than this are never cached.
    pub max_object_bytes: usize,
    /// How long an entry may be served.
    pub time_to_live: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 64 * 1024 * 1024,
            max_object_bytes: 256 * 1024,
            time_to_live: Duration::from_secs(30),
        }
    }
}

/// Everything [`S3Backend::connect`](crate::S3Backend::connect) needs.
///
/// Only the bucket is required. Whatever is not set explicitly comes from
/// the standard AWS configuration chain (environment variables, shared
/// config and credentials files, SSO, container and instance metadata).
/// Credentials are never printed: `Debug` shows only whether they were set.
///
/// # Examples
/// ```
/// use backend_s3::S3Config;
/// let config = S3Config::new("agent-files")
///     .prefix("users/42")
///     .endpoint_url("http://127.0.0.1:9000")
///     .region("us-east-1")
///     .force_path_style(true);
/// assert_eq!(config.key_prefix(), "users/42/");
/// ```
#[derive(Clone)]
pub struct S3Config {
    pub(crate) bucket: String,
    pub(crate) prefix: String,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) force_path_style: bool,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) conditional_writes: ConditionalWrites,
    pub(crate) multipart_threshold: usize,
    pub(crate) part_size: usize,
    pub(crate) concurrency: usize,
    pub(crate) edit_attempts: u32,
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) operation_timeout: Duration,
    pub(crate) cache: Option<CacheConfig>,
}

impl S3Config {
    /// Files under the root of `bucket`, everything else from the AWS chain.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            prefix: String::new(),
            endpoint_url: None,
            region: None,
            force_path_style: false,
            credentials: None,
            conditional_writes: ConditionalWrites::Detect,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_MULTIPART_THRESHOLD,
            concurrency: 32,
            edit_attempts: 12,
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(120),
            cache: None,
        }
    }

    /// Keeps the files under this key prefix (`a/b` and `/a/b/` both mean
    /// keys starting with `a/b/`).
    pub fn prefix(mut self, prefix: impl AsRef<str>) -> Self {
        let trimmed = prefix.as_ref().trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        self
    }

    /// The key prefix as used, empty or ending with `/`.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Sends requests to this endpoint instead of AWS (MinIO, Ceph, R2, moto).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Overrides the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Addresses the bucket in the path (`host/bucket/key`) rather than the
    /// host name; most self-hosted stores need this.
    pub fn force_path_style(mut self, yes: bool) -> Self {
        self.force_path_style = yes;
        self
    }

    /// Uses these static credentials instead of the AWS chain.
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Self {
        self.credentials = Some(Credentials::new(
            access_key_id,
            secret_access_key,
            session_token,
            None,
            "backend-s3-static",
        ));
        self
    }

    /// Whether `edit` uses conditional writes; detected by default.
    pub fn conditional_writes(mut self, mode: ConditionalWrites) -> Self {
        self.conditional_writes = mode;
        self
    }

    /// Writes larger than `bytes` use a multipart upload with parts of the
    /// same size (at least 5 MiB, the S3 minimum).
    pub fn multipart_threshold(mut self, bytes: usize) -> Self {
        self.multipart_threshold = bytes;
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// How many requests one operation keeps in flight (grep fetches,
    /// multipart parts, batch uploads); at least 1.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// How many times `edit` reads and retries after a `412` before giving
    /// `conflict`; at least 1.
    pub fn edit_attempts(mut self, attempts: u32) -> Self {
        self.edit_attempts = attempts.max(1);
        self
    }

    /// Attempts per request on throttling, 5xx and connection errors, with
    /// exponential backoff between `initial` and `max` (jittered).
    pub fn retries(mut self, max_attempts: u32, initial: Duration, max: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Time limits: to connect, per attempt, and per operation with retries.
    pub fn timeouts(mut self, connect: Duration, attempt: Duration, operation: Duration) -> Self {
        self.connect_timeout = connect;
        self.attempt_timeout = attempt;
        self.operation_timeout = operation;
        self
    }

    /// Turns on the read-through cache.
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.cache = Some(cache);
        self
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint_url", &self.endpoint_url)
            .field("region", &self.region)
            .field("force_path_style", &self.force_path_style)
            .field(
                "credentials",
                &if self.credentials.is_some() {
                    "static (redacted)"
                } else {
                    "AWS chain"
                },
            )
            .field("conditional_writes", &self.conditional_writes)
            .field("multipart_threshold", &self.multipart_threshold)
            .field("concurrency", &self.concurrency)
            .field("edit_attempts", &self.edit_attempts)
            .field("max_attempts", &self.max_attempts)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}
