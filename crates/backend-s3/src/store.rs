//! The S3 requests the backend makes, on keys; paths are mapped here too.
//!
//! Every method returns an [`S3Failure`]; the backend turns it into an
//! [`Error`](backend_core::Error) that names the virtual path, never the key.

use std::time::SystemTime;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use backend_core::{ErrorKind, VirtualPath};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::error::{S3Failure, classify};

/// The most keys one `DeleteObjects` request may name.
const DELETE_BATCH: usize = 1000;

/// One object from a listing.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// A listing: objects, and with a delimiter the common prefixes
/// (subdirectories, ending with `/`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Listing {
    pub(crate) objects: Vec<Listed>,
    pub(crate) prefixes: Vec<String>,
}

impl Listing {
    /// A rough size in bytes, for the cache's weigher.
    pub(crate) fn weight(&self) -> u32 {
        let bytes: usize = self.objects.iter().map(|o| o.key.len() + 48).sum::<usize>()
            + self.prefixes.iter().map(|p| p.len() + 24).sum::<usize>();
        u32::try_from(bytes).unwrap_or(u32::MAX)
    }
}

/// What `HeadObject` says about an object.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) size: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// The bucket, the key prefix, and a client.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) client: Client,
    pub(crate) bucket: String,
    /// Empty or ending with `/`.
    pub(crate) prefix: String,
    pub(crate) multipart_threshold: usize,
    pub(crate) part_size: usize,
    pub(crate) concurrency: usize,
}

fn modified(dt: Option<&aws_sdk_s3::primitives::DateTime>) -> Option<SystemTime> {
    dt.and_then(|d| SystemTime::try_from(*d).ok())
}

/// The total size in a `Content-Range: bytes 0-99/1234` header.
fn total_from_content_range(header: &str) -> Option<u64> {
    header.rsplit('/').next()?.trim().parse().ok()
}

fn body_failure(what: &str) -> S3Failure {
    S3Failure::new(
        ErrorKind::Unavailable,
        format!("the connection broke while {what}"),
    )
}

impl Store {
    /// The key of a file (never called for the root).
    pub(crate) fn key(&self, path: &VirtualPath) -> String {
        format!("{}{}", self.prefix, &path.as_str()[1..])
    }

    /// The prefix every key under the directory `path` starts with.
    pub(crate) fn dir_prefix(&self, path: &VirtualPath) -> String {
        if path.is_root() {
            self.prefix.clone()
        } else {
            format!("{}/", self.key(path))
        }
    }

    /// The virtual path of `key`, or `None` when the key is outside the
    /// prefix or is not a canonical path (`a//b`, `./x`, `a/`): such keys
    /// were made by other tools and are not shown.
    pub(crate) fn path_of(&self, key: &str) -> Option<VirtualPath> {
        let rest = key.strip_prefix(&self.prefix)?;
        if rest.is_empty() {
            return None;
        }
        let candidate = format!("/{rest}");
        let path = VirtualPath::parse(&candidate).ok()?;
        (path.as_str() == candidate).then_some(path)
    }

    /// Lists keys starting with `prefix`, every page, or until at least
    /// `max` entries were seen. With `delimited`, keys below the next `/`
    /// are folded into common prefixes.
    pub(crate) async fn list(
        &self,
        prefix: &str,
        delimited: bool,
        max: Option<usize>,
    ) -> Result<Listing, S3Failure> {
        let mut listing = Listing::default();
        let mut token: Option<String> = None;
        loop {
            let mut request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take());
            if delimited {
                request = request.delimiter("/");
            }
            if let Some(max) = max {
                request = request.max_keys(i32::try_from(max.min(1000)).unwrap_or(1000));
            }
            let page = request.send().await.map_err(|e| classify(&e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                listing.objects.push(Listed {
                    key: key.to_owned(),
                    size: object
                        .size()
                        .and_then(|s| u64::try_from(s).ok())
                        .unwrap_or(0),
                    modified: modified(object.last_modified()),
                });
            }
            listing.prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_owned)),
            );
            let seen = listing.objects.len() + listing.prefixes.len();
            if max.is_some_and(|m| seen >= m) {
                break;
            }
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(next)) => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(listing)
    }

    /// Whether any key starts with `prefix`.
    pub(crate) async fn any_under(&self, prefix: &str) -> Result<bool, S3Failure> {
        let listing = self.list(prefix, false, Some(1)).await?;
        Ok(!listing.objects.is_empty())
    }

    /// The object's size and time, or `None` when there is no such key.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<Head>, S3Failure> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Head {
                size: out
                    .content_length()
                    .and_then(|s| u64::try_from(s).ok())
                    .unwrap_or(0),
                modified: modified(out.last_modified()),
            })),
            Err(e) => {
                let failure = classify(&e);
                if failure.is_not_found() && failure.code.as_deref() != Some("NoSuchBucket") {
                    Ok(None)
                } else {
                    Err(failure)
                }
            }
        }
    }

    /// The object's bytes and ETag, or `None` when there is no such key.
    ///
    /// The first request asks for the first part's range; an object larger
    /// than that is fetched in part-sized ranges concurrently, each pinned
    /// to the first response's ETag with `If-Match` so that a concurrent
    /// overwrite cannot produce a mix of two versions (it gives `conflict`).
    pub(crate) async fn get(
        &self,
        key: &str,
    ) -> Result<Option<(Bytes, Option<String>)>, S3Failure> {
        let first = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes=0-{}", self.part_size - 1))
            .send()
            .await;
        let out = match first {
            Ok(out) => out,
            Err(e) => {
                let failure = classify(&e);
                if failure.is_not_found() && failure.code.as_deref() != Some("NoSuchBucket") {
                    return Ok(None);
                }
                // An empty object has no byte 0: ask for it whole.
                if failure.status == Some(416) || failure.code.as_deref() == Some("InvalidRange") {
                    return self.get_whole(key).await;
                }
                return Err(failure);
            }
        };
        let etag = out.e_tag().map(str::to_owned);
        let total = out.content_range().and_then(total_from_content_range);
        let head = out
            .body
            .collect()
            .await
            .map_err(|_| body_failure("reading an object"))?
            .into_bytes();
        let Some(total) = total.filter(|t| *t > head.len() as u64) else {
            return Ok(Some((head, etag)));
        };
        let part = self.part_size as u64;
        let ranges: Vec<(u64, u64)> = (head.len() as u64..total)
            .step_by(self.part_size)
            .map(|start| (start, (start + part).min(total) - 1))
            .collect();
        let parts: Vec<Bytes> = futures::stream::iter(ranges)
            .map(|(start, end)| {
                let etag = etag.clone();
                async move {
                    let out = self
                        .client
                        .get_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .range(format!("bytes={start}-{end}"))
                        .set_if_match(etag)
                        .send()
                        .await
                        .map_err(|e| {
                            let failure = classify(&e);
                            if failure.is_precondition_failed() || failure.is_not_found() {
                                S3Failure::new(
                                    ErrorKind::Conflict,
                                    "the object changed while it was being read".to_owned(),
                                )
                            } else {
                                failure
                            }
                        })?;
                    out.body
                        .collect()
                        .await
                        .map(|b| b.into_bytes())
                        .map_err(|_| body_failure("reading an object"))
                }
            })
            .buffered(self.concurrency.min(8))
            .try_collect()
            .await?;
        let mut whole = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
        whole.extend_from_slice(&head);
        for part in parts {
            whole.extend_from_slice(&part);
        }
        if whole.len() as u64 != total {
            return Err(S3Failure::new(
                ErrorKind::Unavailable,
                format!("the store sent {} of {total} bytes", whole.len()),
            ));
        }
        Ok(Some((Bytes::from(whole), etag)))
    }

    async fn get_whole(&self, key: &str) -> Result<Option<(Bytes, Option<String>)>, S3Failure> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let failure = classify(&e);
                return if failure.is_not_found() && failure.code.as_deref() != Some("NoSuchBucket")
                {
                    Ok(None)
                } else {
                    Err(failure)
                };
            }
        };
        let etag = out.e_tag().map(str::to_owned);
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|_| body_failure("reading an object"))?
            .into_bytes();
        Ok(Some((bytes, etag)))
    }

    /// Stores `content` at `key`. With `if_match`, only when the object's
    /// ETag is still that (a single `PutObject`); otherwise large content
    /// goes up in parts.
    pub(crate) async fn put(
        &self,
        key: &str,
        content: Bytes,
        if_match: Option<&str>,
    ) -> Result<(), S3Failure> {
        if if_match.is_none() && content.len() > self.multipart_threshold {
            return self.put_multipart(key, content).await;
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_if_match(if_match.map(str::to_owned))
            .body(ByteStream::from(content))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    async fn put_multipart(&self, key: &str, content: Bytes) -> Result<(), S3Failure> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let Some(upload_id) = created.upload_id().map(str::to_owned) else {
            return Err(S3Failure::new(
                ErrorKind::Internal,
                "the store started a multipart upload without an upload id".to_owned(),
            ));
        };
        match self.upload_parts(key, &upload_id, content).await {
            Ok(()) => Ok(()),
            Err(failure) => {
                // Best effort: parts of an aborted upload cost storage until
                // removed; the original failure is what the caller needs.
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(failure)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        content: Bytes,
    ) -> Result<(), S3Failure> {
        let chunks: Vec<(i32, Bytes)> = (0..content.len())
            .step_by(self.part_size)
            .zip(1..)
            .map(|(start, number)| {
                let end = (start + self.part_size).min(content.len());
                (number, content.slice(start..end))
            })
            .collect();
        let parts: Vec<CompletedPart> = futures::stream::iter(chunks)
            .map(|(number, chunk)| async move {
                let out = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(chunk))
                    .send()
                    .await
                    .map_err(|e| classify(&e))?;
                Ok::<_, S3Failure>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .build(),
                )
            })
            .buffered(self.concurrency.min(8))
            .try_collect()
            .await?;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    /// Deletes one key (no error when it is already gone).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), S3Failure> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    /// Deletes many keys with batched `DeleteObjects`, a few batches at once.
    pub(crate) async fn delete_many(&self, keys: Vec<String>) -> Result<(), S3Failure> {
        let batches: Vec<Vec<String>> = keys.chunks(DELETE_BATCH).map(<[String]>::to_vec).collect();
        futures::stream::iter(batches)
            .map(|batch| self.delete_batch(batch))
            .buffer_unordered(self.concurrency.min(4))
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    async fn delete_batch(&self, batch: Vec<String>) -> Result<(), S3Failure> {
        let objects = batch
            .into_iter()
            .map(|key| ObjectIdentifier::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| S3Failure::new(ErrorKind::Internal, e.to_string()))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| S3Failure::new(ErrorKind::Internal, e.to_string()))?;
        let out = self
            .client
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        if let Some(first) = out.errors().first() {
            let code = first.code().map(str::to_owned);
            let kind = crate::error::kind_for(code.as_deref(), None);
            return Err(S3Failure::with_code(
                if kind == ErrorKind::Internal {
                    ErrorKind::Unavailable
                } else {
                    kind
                },
                code,
                format!(
                    "{} of the keys could not be deleted ({})",
                    out.errors().len(),
                    first.message().unwrap_or("no reason given")
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::total_from_content_range;

    #[test]
    fn content_range_gives_the_total_size() {
        assert_eq!(total_from_content_range("bytes 0-99/1234"), Some(1234));
        assert_eq!(total_from_content_range("bytes 0-99/*"), None);
    }
}
