//! Writes of one `upload_files` batch: what they can learn once instead of
//! per file.

use std::collections::{HashMap, HashSet};

use backend_core::{Error, Operation, Result, VirtualPath};
use futures::StreamExt;

use crate::error::S3Failure;
use crate::objects::Objects;
use crate::store::Head;

/// A parent directory with more entries than this is not listed for a
/// batch of writes; its files are checked one by one.
const BATCH_LISTING_LIMIT: usize = 5000;

/// Facts shared by the writes of one `upload_files` batch.
#[derive(Debug, Default)]
pub(crate) struct BatchFacts {
    file_ancestors: HashSet<VirtualPath>,
    not_files: HashSet<VirtualPath>,
    /// Parent directory → the key prefixes (`…/name/`) of its subdirectories.
    subdirs: HashMap<VirtualPath, HashSet<String>>,
}

impl BatchFacts {
    /// Which ancestors of `paths` are files (one `HeadObject` each), and,
    /// for a parent holding several files of the batch, which of its
    /// children are directories (one delimited listing, when it is not
    /// huge). A failed lookup is simply left out: each write then checks
    /// for itself.
    pub(crate) async fn gather(objects: &Objects, paths: &[VirtualPath]) -> BatchFacts {
        let store = &objects.store;
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
        let heads: Vec<(VirtualPath, std::result::Result<Option<Head>, S3Failure>)> =
            futures::stream::iter(ancestors)
                .map(|a| async move {
                    let head = store.head(&store.key(&a)).await;
                    (a, head)
                })
                .buffer_unordered(store.concurrency)
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
                let prefix = store.dir_prefix(&parent);
                let listing = store.list(&prefix, true, Some(BATCH_LISTING_LIMIT)).await;
                (parent, listing)
            })
            .buffer_unordered(store.concurrency)
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

    /// `write` of `path` with what these facts already know; a path they
    /// do not cover is checked as a single write is.
    pub(crate) async fn write(
        &self,
        objects: &Objects,
        path: &VirtualPath,
        content: Vec<u8>,
    ) -> Result<()> {
        let op = Operation::Upload;
        let known_parent = path.parent().and_then(|p| self.subdirs.get(&p));
        let ancestors: Vec<VirtualPath> = path
            .ancestors()
            .into_iter()
            .filter(|a| !a.is_root())
            .collect();
        let ancestors_known = ancestors
            .iter()
            .all(|a| self.file_ancestors.contains(a) || self.not_files.contains(a));
        let (Some(subdirs), true, false) = (known_parent, ancestors_known, path.is_root()) else {
            return objects.write_path(path, content, op).await;
        };
        if ancestors.iter().any(|a| self.file_ancestors.contains(a)) {
            return Err(Error::not_a_directory(path.as_str()).with_operation(op));
        }
        if subdirs.contains(&objects.store.dir_prefix(path)) {
            return Err(Error::is_directory(path.as_str()).with_operation(op));
        }
        objects.put_path(path, content, op).await
    }
}
