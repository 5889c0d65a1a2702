//! `glob` and `grep` over a directory that may span routes.
//!
//! The search path's owner is asked with the request as is; every route
//! mounted below the search path is asked, concurrently, for what the request
//! would match below its mount ([`GlobPattern::residual`]). Each answer keeps
//! only the paths its backend really owns (a nested route hides its parent's
//! files), the answers are merged in path order, and the limit is applied to
//! the whole. A backend whose answer was cut but lost entries to that filter
//! is asked again with a larger limit, so `truncated` is exact.

use std::future::Future;

use backend_core::{
    Error, ErrorKind, FileInfo, GlobPattern, GlobRequest, GlobResult, GrepMatch, GrepMatcher,
    GrepRequest, GrepResult, Operation, Result, VirtualPath,
};
use futures::future::try_join_all;
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::CompositeBackend;
use crate::route::Owner;

/// One backend to ask: who, under which path, and (for a route below the
/// search path) where its mount sits relative to the search path.
struct Part {
    owner: Owner,
    inner_path: VirtualPath,
    mount_relative: Option<String>,
}

/// The owner of the search path, then each route mounted below it.
fn parts(composite: &CompositeBackend, outer: &VirtualPath) -> Vec<Part> {
    let (owner, inner_path) = composite.table.resolve(outer);
    let mut parts = vec![Part {
        owner,
        inner_path,
        mount_relative: None,
    }];
    for (i, route) in composite.table.below(outer) {
        parts.push(Part {
            owner: Owner::Route(i),
            inner_path: VirtualPath::root(),
            mount_relative: route.mount.relative_to(outer).map(str::to_owned),
        });
    }
    parts
}

/// The search path's owner may lack the directory when routes below it
/// still exist: that counts as nothing found there.
fn absent_but_spanning(err: &Error, part: &Part, part_count: usize) -> bool {
    part.mount_relative.is_none()
        && part_count > 1
        && matches!(
            err.kind(),
            ErrorKind::FileNotFound | ErrorKind::NotADirectory
        )
}

/// Runs one backend's search on its own task when a multi-threaded tokio
/// runtime is current, so that backends that search inside `poll` (in
/// memory) use several cores; elsewhere it is awaited in place, which still
/// overlaps backends that wait on I/O. A task left running when the caller
/// gives up only reads.
async fn on_own_task<T: Send + 'static>(
    call: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            match handle.spawn(call).await {
                Ok(outcome) => outcome,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(Error::internal("a route's search task was cancelled")),
            }
        }
        _ => call.await,
    }
}

/// Whether a file `owner` returned is really visible through the composite:
/// no deeper route takes its path, and no route is mounted below it (which
/// makes it a directory).
fn owns(composite: &CompositeBackend, owner: Owner, path: &VirtualPath) -> bool {
    composite.table.owner_of(path) == owner && composite.table.mounted_at_or_below(path).is_none()
}

/// Relative path of `path` under `base` (empty for `base` itself).
fn relative<'a>(path: &'a VirtualPath, base: &VirtualPath) -> &'a str {
    path.relative_to(base).unwrap_or("")
}

pub(crate) async fn glob(
    composite: &CompositeBackend,
    request: &GlobRequest,
) -> Result<GlobResult> {
    let op = Operation::Glob;
    let outer = VirtualPath::parse_for(&request.path, op)?;
    let pattern = GlobPattern::new(&request.pattern).map_err(|e| e.with_operation(op))?;
    let parts = parts(composite, &outer);
    let count = parts.len();
    let asks = parts.iter().map(|part| {
        let outer = &outer;
        let pattern = &pattern;
        async move {
            let inner_pattern = match &part.mount_relative {
                None => request.pattern.clone(),
                Some(rel) => match pattern.residual(rel) {
                    Some(p) => p,
                    None => return Ok((Vec::new(), false)),
                },
            };
            let mut limit = request.limit;
            loop {
                let ask = GlobRequest::new(inner_pattern.clone())
                    .path(part.inner_path.as_str())
                    .limit(limit);
                let backend = composite.backend(part.owner).clone();
                let found = match on_own_task(async move { backend.glob(&ask).await }).await {
                    Ok(found) => found,
                    Err(e) if absent_but_spanning(&e, part, count) => {
                        return Ok((Vec::new(), false));
                    }
                    Err(e) => return Err(composite.outer_error(part.owner, op)(e)),
                };
                let returned = found.files.len();
                let kept: Vec<FileInfo> = found
                    .files
                    .into_iter()
                    .map(|f| composite.table.outer_info(part.owner, f))
                    .filter(|f| owns(composite, part.owner, &f.path))
                    .filter(|f| {
                        part.mount_relative.is_none() || pattern.matches(relative(&f.path, outer))
                    })
                    .collect();
                if !found.truncated || kept.len() >= request.limit || kept.len() == returned {
                    return Ok((kept, found.truncated));
                }
                limit = limit.saturating_mul(2).max(limit + returned - kept.len());
            }
        }
    });
    let answers = try_join_all(asks).await?;
    let mut truncated = false;
    let mut files = Vec::new();
    for (kept, cut) in answers {
        truncated |= cut;
        files.extend(kept);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    if files.len() > request.limit {
        files.truncate(request.limit);
        truncated = true;
    }
    Ok(GlobResult::new(files, truncated))
}

pub(crate) async fn grep(
    composite: &CompositeBackend,
    request: &GrepRequest,
) -> Result<GrepResult> {
    let op = Operation::Grep;
    let outer = VirtualPath::parse_for(&request.path, op)?;
    let filter = request
        .glob
        .as_deref()
        .map(GlobPattern::new)
        .transpose()
        .map_err(|e| e.with_operation(op))?;
    let max = request.max_count.unwrap_or(usize::MAX);
    let parts = parts(composite, &outer);
    let count = parts.len();
    let asks = parts.iter().map(|part| {
        let outer = &outer;
        let filter = filter.as_ref();
        async move {
            let mut ask = request.clone();
            ask.path = part.inner_path.as_str().to_owned();
            if let Some(rel) = &part.mount_relative {
                // Grep never enters `.git/`, a mount below one included.
                if rel.split('/').any(|seg| seg == ".git") {
                    return Ok((Vec::new(), false));
                }
                if let Some(filter) = filter {
                    match filter.residual(rel) {
                        Some(inner) => ask.glob = Some(inner),
                        None => return Ok((Vec::new(), false)),
                    }
                }
            }
            loop {
                let backend = composite.backend(part.owner).clone();
                let sent = ask.clone();
                let found = match on_own_task(async move { backend.grep(&sent).await }).await {
                    Ok(found) => found,
                    Err(e) if absent_but_spanning(&e, part, count) => {
                        // Nothing checked the pattern then; a bad one must
                        // still fail.
                        GrepMatcher::new(request).map_err(|e| e.with_operation(op))?;
                        return Ok((Vec::new(), false));
                    }
                    Err(e) => return Err(composite.outer_error(part.owner, op)(e)),
                };
                let returned = found.matches.len();
                let kept: Vec<GrepMatch> = found
                    .matches
                    .into_iter()
                    .map(|mut m| {
                        m.path = composite.table.outer(part.owner, &m.path);
                        m
                    })
                    .filter(|m| owns(composite, part.owner, &m.path))
                    .filter(|m| match (&part.mount_relative, filter) {
                        (Some(_), Some(f)) => f.matches(relative(&m.path, outer)),
                        _ => true,
                    })
                    .collect();
                if !found.truncated || kept.len() >= max || kept.len() == returned {
                    return Ok((kept, found.truncated));
                }
                let wanted = ask.max_count.unwrap_or(max);
                ask.max_count = Some(wanted.saturating_mul(2).max(wanted + returned - kept.len()));
            }
        }
    });
    let answers = try_join_all(asks).await?;
    let mut truncated = false;
    let mut matches = Vec::new();
    for (kept, cut) in answers {
        truncated |= cut;
        matches.extend(kept);
    }
    // Stable: one file's matches keep their line order.
    matches.sort_by(|a, b| a.path.cmp(&b.path).then(a.line_number.cmp(&b.line_number)));
    if matches.len() > max {
        matches.truncate(max);
        truncated = true;
    }
    Ok(GrepResult::new(matches, truncated))
}
