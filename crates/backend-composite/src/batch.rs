//! Batch upload and download: split by owner, sent concurrently, and put
//! back in input order.

use std::collections::BTreeMap;

use backend_core::{DownloadResult, Error, FileUpload, Operation, UploadResult};
use futures::future::join_all;

use crate::CompositeBackend;
use crate::route::{Owner, mount_is_directory};

/// Where one item of a batch goes.
enum Destination {
    /// Refused before reaching any backend.
    Refused(Error),
    /// Sent to an owner under the path it sees.
    Owner(Owner, String),
}

fn destination(composite: &CompositeBackend, path: &str, op: Operation) -> Destination {
    match composite.locate(path, op) {
        Err(e) => Destination::Refused(e),
        Ok(located) => match composite.table.mounted_at_or_below(&located.outer) {
            Some(route) => {
                Destination::Refused(mount_is_directory(&located.outer, route).with_operation(op))
            }
            None => Destination::Owner(located.owner, located.inner().to_owned()),
        },
    }
}

/// Groups items by owner, keeping each item's input index.
fn group<T>(items: Vec<(usize, Owner, T)>) -> BTreeMap<OwnerKey, Vec<(usize, T)>> {
    let mut groups: BTreeMap<OwnerKey, Vec<(usize, T)>> = BTreeMap::new();
    for (index, owner, item) in items {
        groups
            .entry(OwnerKey::from(owner))
            .or_default()
            .push((index, item));
    }
    groups
}

/// An orderable stand-in for [`Owner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OwnerKey(Option<usize>);

impl From<Owner> for OwnerKey {
    fn from(owner: Owner) -> Self {
        match owner {
            Owner::Default => OwnerKey(None),
            Owner::Route(i) => OwnerKey(Some(i)),
        }
    }
}

impl From<OwnerKey> for Owner {
    fn from(key: OwnerKey) -> Self {
        key.0.map_or(Owner::Default, Owner::Route)
    }
}

pub(crate) async fn upload(
    composite: &CompositeBackend,
    files: Vec<FileUpload>,
) -> Vec<UploadResult> {
    let op = Operation::Upload;
    let given: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let mut results: Vec<Option<UploadResult>> = vec![None; files.len()];
    let mut routed = Vec::new();
    for (index, file) in files.into_iter().enumerate() {
        match destination(composite, &file.path, op) {
            Destination::Refused(e) => results[index] = Some(UploadResult::new(file.path, Err(e))),
            Destination::Owner(owner, inner) => {
                routed.push((index, owner, FileUpload::new(inner, file.content)))
            }
        }
    }
    let sends = group(routed).into_iter().map(|(key, items)| async move {
        let owner = Owner::from(key);
        let (indexes, uploads): (Vec<usize>, Vec<FileUpload>) = items.into_iter().unzip();
        let answers = composite.backend(owner).upload_files(uploads).await;
        (owner, indexes, answers)
    });
    for (owner, indexes, answers) in join_all(sends).await {
        let mut answers = answers.into_iter();
        for index in indexes {
            // A backend that answers fewer items than it was given breaks
            // the contract; the missing items must not pass for written.
            let outcome = match answers.next() {
                Some(answer) => match answer.error {
                    None => Ok(()),
                    Some(e) => Err(composite.outer_error(owner, op)(e)),
                },
                None => Err(
                    Error::internal("the backend returned no result for this upload")
                        .with_operation(op),
                ),
            };
            results[index] = Some(UploadResult::new(given[index].clone(), outcome));
        }
    }
    results
        .into_iter()
        .zip(given)
        .map(|(result, path)| {
            result.unwrap_or_else(|| {
                UploadResult::new(
                    path,
                    Err(Error::internal("upload item was lost").with_operation(op)),
                )
            })
        })
        .collect()
}

pub(crate) async fn download(
    composite: &CompositeBackend,
    paths: Vec<String>,
) -> Vec<DownloadResult> {
    let op = Operation::Download;
    let mut results: Vec<Option<DownloadResult>> = vec![None; paths.len()];
    let mut routed = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        match destination(composite, path, op) {
            Destination::Refused(e) => {
                results[index] = Some(DownloadResult::new(path.clone(), Err(e)))
            }
            Destination::Owner(owner, inner) => routed.push((index, owner, inner)),
        }
    }
    let fetches = group(routed).into_iter().map(|(key, items)| async move {
        let owner = Owner::from(key);
        let (indexes, inner): (Vec<usize>, Vec<String>) = items.into_iter().unzip();
        let answers = composite.backend(owner).download_files(inner).await;
        (owner, indexes, answers)
    });
    for (owner, indexes, answers) in join_all(fetches).await {
        let mut answers = answers.into_iter();
        for index in indexes {
            let outcome = match answers.next() {
                Some(DownloadResult { error: Some(e), .. }) => {
                    Err(composite.outer_error(owner, op)(e))
                }
                Some(DownloadResult {
                    content: Some(bytes),
                    ..
                }) => Ok(bytes),
                _ => Err(
                    Error::internal("the backend returned no result for this download")
                        .with_operation(op),
                ),
            };
            results[index] = Some(DownloadResult::new(paths[index].clone(), outcome));
        }
    }
    results
        .into_iter()
        .zip(paths)
        .map(|(result, path)| {
            result.unwrap_or_else(|| {
                DownloadResult::new(
                    path,
                    Err(Error::internal("download item was lost").with_operation(op)),
                )
            })
        })
        .collect()
}
