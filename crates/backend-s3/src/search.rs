//! `glob` and `grep`: one listing narrowed to the pattern's literal prefix,
//! then matching (and for grep, fetching candidates concurrently, in path
//! order).

use std::sync::Arc;

use backend_core::{
    FileInfo, GlobPattern, GlobRequest, GlobResult, GrepCollector, GrepMatcher, GrepRequest,
    GrepResult, Operation, Result, VirtualPath,
};
use futures::StreamExt;

use crate::objects::Objects;
use crate::store::Listing;

/// Every object under `base` extended by the pattern's literal leading
/// segments, so the listing holds only keys that can match.
async fn narrowed_listing(
    objects: &Objects,
    base: &VirtualPath,
    narrowing: &[impl AsRef<str>],
    op: Operation,
) -> Result<Arc<Listing>> {
    let mut prefix = objects.store.dir_prefix(base);
    for segment in narrowing {
        prefix.push_str(segment.as_ref());
        prefix.push('/');
    }
    objects
        .list(&prefix, false)
        .await
        .map_err(|f| objects.fail(f, base, op))
}

/// For a narrowed listing that came back empty below `base` (not the
/// root): fine when `base` is still a directory (only the narrowing found
/// nothing), else the error for `base`.
async fn check_base_dir(
    objects: &Objects,
    base: &VirtualPath,
    narrowed: bool,
    op: Operation,
) -> Result<()> {
    let base_exists = narrowed
        && objects
            .store
            .any_under(&objects.store.dir_prefix(base))
            .await
            .map_err(|f| objects.fail(f, base, op))?;
    if base_exists {
        Ok(())
    } else {
        Err(objects.not_a_dir(base, op).await)
    }
}

/// `glob` of `request` over the objects.
pub(crate) async fn glob(objects: &Objects, request: &GlobRequest) -> Result<GlobResult> {
    let op = Operation::Glob;
    let base = VirtualPath::parse_for(&request.path, op)?;
    let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(op))?;
    let narrowing = pattern.literal_prefix();
    let listing = narrowed_listing(objects, &base, &narrowing, op).await?;
    if listing.objects.is_empty() && !base.is_root() {
        check_base_dir(objects, &base, !narrowing.is_empty(), op).await?;
    }
    let mut files = Vec::new();
    let mut truncated = false;
    let mut found = objects.files_in(&listing, &base);
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

/// `grep` of `request` over the objects.
pub(crate) async fn grep(objects: &Objects, request: &GrepRequest) -> Result<GrepResult> {
    let op = Operation::Grep;
    let base = VirtualPath::parse_for(&request.path, op)?;
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
    let listing = narrowed_listing(objects, &base, &narrowing, op).await?;
    if listing.objects.is_empty() && !base.is_root() {
        // Either a single file, an empty narrowing, or nothing at all.
        match objects.get_object(&objects.store.key(&base)).await {
            Ok(Some(bytes)) => {
                if matcher.wants(base.file_name().unwrap_or_default()) {
                    collector.search(&matcher, &base, &bytes);
                }
                return Ok(collector.finish());
            }
            Ok(None) => {}
            Err(f) => return Err(objects.fail(f, &base, op)),
        }
        check_base_dir(objects, &base, !narrowing.is_empty(), op).await?;
    }
    let mut candidates: Vec<(VirtualPath, String)> = objects
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
            let fetched = objects.get_object(&key).await;
            (path, fetched)
        })
        .buffered(objects.store.concurrency);
    while let Some((path, fetched)) = fetches.next().await {
        match fetched {
            Ok(Some(bytes)) => collector.search(&matcher, &path, &bytes),
            // Deleted since the listing: it is simply not there.
            Ok(None) => {}
            Err(f) => return Err(objects.fail(f, &path, op)),
        }
        if collector.is_full() {
            break;
        }
    }
    Ok(collector.finish())
}
