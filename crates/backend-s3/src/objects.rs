//! The bucket as the backend sees it: the store behind the read cache, and
//! the questions about a path every operation asks (is it a file, a
//! directory, below a file?), answered with the right error.

use std::sync::Arc;

use backend_core::{Error, Operation, Result, VirtualPath};
use bytes::Bytes;

use crate::cache::ReadCache;
use crate::error::S3Failure;
use crate::store::{Listing, Store};

/// The store, read through the cache when there is one.
pub(crate) struct Objects {
    pub(crate) store: Store,
    cache: Option<ReadCache>,
}

impl Objects {
    pub(crate) fn new(store: Store, cache: Option<ReadCache>) -> Self {
        Objects { store, cache }
    }

    /// Whether reads go through a cache.
    pub(crate) fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// `failure` as the error of `operation` on `path`.
    pub(crate) fn fail(
        &self,
        failure: S3Failure,
        path: &VirtualPath,
        operation: Operation,
    ) -> Error {
        failure
            .into_error(Some(path.as_str()), &self.store.bucket)
            .with_operation(operation)
    }

    /// The object at `key`, from the cache when it has it.
    pub(crate) async fn get_object(
        &self,
        key: &str,
    ) -> std::result::Result<Option<Bytes>, S3Failure> {
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

    /// The listing under `prefix`, from the cache when it has it.
    pub(crate) async fn list(
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

    /// Forgets what the cache knows about `key` (`None`: everything).
    pub(crate) async fn invalidate(&self, key: Option<&str>) {
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
    pub(crate) async fn not_a_file(&self, path: &VirtualPath, operation: Operation) -> Error {
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
    pub(crate) async fn not_a_dir(&self, path: &VirtualPath, operation: Operation) -> Error {
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

    /// The content of the file at `path`.
    pub(crate) async fn fetch(&self, path: &VirtualPath, operation: Operation) -> Result<Bytes> {
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

    /// Writes the file at `path` after checking it may be written.
    pub(crate) async fn write_path(
        &self,
        path: &VirtualPath,
        content: Vec<u8>,
        operation: Operation,
    ) -> Result<()> {
        self.check_writable(path, operation).await?;
        self.put_path(path, content, operation).await
    }

    /// Writes the object of `path` unconditionally, without checks.
    pub(crate) async fn put_path(
        &self,
        path: &VirtualPath,
        content: Vec<u8>,
        operation: Operation,
    ) -> Result<()> {
        let key = self.store.key(path);
        let outcome = self.store.put(&key, Bytes::from(content), None).await;
        self.invalidate(Some(&key)).await;
        outcome.map_err(|f| self.fail(f, path, operation))
    }

    /// Files and their index in `listing` under `base` (not `base` itself).
    pub(crate) fn files_in(
        &self,
        listing: &Listing,
        base: &VirtualPath,
    ) -> Vec<(VirtualPath, usize)> {
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
