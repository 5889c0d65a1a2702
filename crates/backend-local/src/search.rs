//! glob and grep over the directory, in process: `ignore`'s parallel walker
//! names the files, `grep-searcher` with a `grep-regex` matcher finds the
//! lines, and every rule (which files, which lines, context, cutting) is the
//! one `backend_core` defines.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use backend_core::text::is_binary;
use backend_core::{
    ContextLine, Error, FileInfo, GlobPattern, GrepMatch, GrepMatcher, GrepRequest, Operation,
    Result, VirtualPath,
};
use grep_matcher::LineTerminator;
use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::{BinaryDetection, MmapChoice, Searcher, SearcherBuilder, Sink, SinkMatch};
use ignore::{DirEntry, WalkBuilder, WalkState};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::disk::{Disk, info, kind_of};
use crate::error::fail_error;
use crate::root::Fail;

/// What a search walks.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WalkOptions {
    /// Honour `.gitignore` files (at or below the search start) and
    /// `.git/info/exclude`.
    pub git_ignore: bool,
}

/// The directory a search starts from: its virtual path and real host path.
struct Start {
    vpath: VirtualPath,
    host: PathBuf,
}

impl Disk {
    /// The directory `path` as a search start; `not_a_directory` for a file.
    fn search_start(&self, path: &VirtualPath, op: Operation) -> Result<Option<Start>> {
        let found = self
            .root
            .locate(path, true, false)
            .map_err(|f| fail_error(f, path.as_str(), op))?;
        match found.file_type() {
            None => return Ok(None),
            Some(FileType::Directory) => {}
            Some(_) => return Err(Error::not_a_directory(path.as_str()).with_operation(op)),
        }
        let host = self
            .root
            .host_dir(&found)
            .map_err(|f| fail_error(f, path.as_str(), op))?;
        Ok(Some(Start {
            vpath: path.clone(),
            host,
        }))
    }

    /// Every file under `base` matching `pattern`, sorted by path (not
    /// capped; the caller applies the limit).
    pub fn glob(
        &self,
        base: &VirtualPath,
        pattern: &GlobPattern,
        options: WalkOptions,
    ) -> Result<Vec<FileInfo>> {
        let op = Operation::Glob;
        if self.search_start(base, op)?.is_none() {
            return Err(Error::file_not_found(base.as_str()).with_operation(op));
        }
        // Walk only below the pattern's literal directory prefix.
        let prefix = pattern.literal_prefix();
        let start_path = if prefix.is_empty() {
            base.clone()
        } else {
            match base.join(&prefix.join("/")) {
                Ok(p) => p,
                Err(_) => return Ok(Vec::new()),
            }
        };
        let start = match self.search_start(&start_path, op) {
            Ok(Some(start)) => start,
            // A prefix that is missing or a file holds no matches.
            Ok(None) => return Ok(Vec::new()),
            Err(e) if e.kind() == backend_core::ErrorKind::NotADirectory => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let rel_prefix = start.vpath.relative_to(base).unwrap_or_default().to_owned();
        let prune_hidden = !may_match_hidden(pattern.as_str());
        let (tx, rx) = mpsc::channel();
        let walker = walk_builder(&start.host, options, move |entry| {
            prune_hidden && entry.file_name().as_encoded_bytes().first() == Some(&b'.')
        });
        let root_host = self.root.host_path().to_owned();
        walker.build_parallel().run(|| {
            let tx = tx.clone();
            let (start, root_host) = (&start, &root_host);
            let rel_prefix = rel_prefix.as_str();
            let mut dirs = DirCache::default();
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                let Some(kind) = entry.file_type() else {
                    return WalkState::Continue;
                };
                if kind.is_dir() || entry.depth() == 0 {
                    return WalkState::Continue;
                }
                let Some(rel) = relative(entry.path(), &start.host) else {
                    return WalkState::Continue;
                };
                let rel = join_rel(rel_prefix, &rel);
                if !pattern.matches(&rel) {
                    return WalkState::Continue;
                }
                let vpath = vjoin(base, &rel);
                if let Some(found) = self.glob_entry(&entry, vpath, root_host, &mut dirs) {
                    let _ = tx.send(found);
                }
                WalkState::Continue
            })
        });
        drop(tx);
        let mut files: Vec<FileInfo> = rx.into_iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// The [`FileInfo`] of a file the walker named, looked up beneath the
    /// root (so a directory swapped for an outward link mid-walk yields
    /// nothing); a link counts when it leads to a file inside the root.
    fn glob_entry(
        &self,
        entry: &DirEntry,
        vpath: VirtualPath,
        root_host: &Path,
        dirs: &mut DirCache,
    ) -> Option<FileInfo> {
        let dir = dirs
            .dir_of(self, entry.path(), root_host, &|| vpath.clone())
            .ok()?;
        let st = rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW).ok()?;
        match kind_of(&st) {
            FileType::Directory => None,
            FileType::Symlink => {
                let found = self.root.locate(&vpath, true, false).ok()?;
                let st = found.stat?;
                (kind_of(&st) != FileType::Directory).then(|| info(vpath, &st))
            }
            _ => Some(info(vpath, &st)),
        }
    }

    /// Every match under (or in) `base`, sorted by path then line, with at
    /// most `request.max_count + 1` per file; `skip` leaves out paths that
    /// another layer answers for (the overlay).
    pub fn grep(
        &self,
        base: &VirtualPath,
        request: &GrepRequest,
        matcher: &GrepMatcher,
        options: WalkOptions,
        skip: Option<&(dyn Fn(&VirtualPath) -> bool + Sync)>,
    ) -> Result<Vec<GrepMatch>> {
        let op = Operation::Grep;
        let per_file = request.max_count.unwrap_or(usize::MAX).saturating_add(1);
        let engine = Engine::new(request, matcher);
        let found = self
            .root
            .locate(base, true, false)
            .map_err(|f| fail_error(f, base.as_str(), op))?;
        match found.file_type() {
            None => return Err(Error::file_not_found(base.as_str()).with_operation(op)),
            Some(FileType::Directory) => {}
            Some(_) => {
                drop(found);
                // One file: the filter sees its name.
                let name = base.file_name().unwrap_or_default();
                if skip.is_some_and(|skip| skip(base))
                    || crate::temp::is_temp_name(name.as_bytes())
                    || !matcher.wants(name)
                {
                    return Ok(Vec::new());
                }
                let bytes = self.read_bytes(base, op)?;
                let mut searcher = new_searcher();
                return Ok(engine.search(&mut searcher, matcher, base, &bytes, per_file));
            }
        }
        let host = self
            .root
            .host_dir(&found)
            .map_err(|f| fail_error(f, base.as_str(), op))?;
        drop(found);
        let root_host = self.root.host_path().to_owned();
        let (tx, rx) = mpsc::channel::<(VirtualPath, Vec<GrepMatch>)>();
        // `.git` directories below the start are never searched.
        let walker = walk_builder(&host, options, |entry| entry.file_name() == ".git");
        walker.build_parallel().run(|| {
            let tx = tx.clone();
            let (host, root_host, engine) = (&host, &root_host, &engine);
            let mut searcher = new_searcher();
            let mut buf = Vec::new();
            let mut dirs = DirCache::default();
            let placeholder = VirtualPath::root();
            Box::new(move |entry| {
                let Ok(entry) = entry else {
                    return WalkState::Continue;
                };
                let Some(kind) = entry.file_type() else {
                    return WalkState::Continue;
                };
                if kind.is_dir() || !(kind.is_file() || kind.is_symlink()) {
                    // FIFOs, sockets and devices are never opened.
                    return WalkState::Continue;
                }
                let Some(rel) = relative(entry.path(), host) else {
                    return WalkState::Continue;
                };
                if !matcher.wants(&rel) {
                    return WalkState::Continue;
                }
                // Most files hold no match: their virtual path is only built
                // when something needs it.
                let vpath_of = || vjoin(base, &rel);
                if let Some(skip) = skip
                    && skip(&vpath_of())
                {
                    return WalkState::Continue;
                }
                buf.clear();
                let loaded = if kind.is_symlink() {
                    self.read_bytes(&vpath_of(), op)
                        .map(|bytes| buf = bytes)
                        .is_ok()
                } else {
                    self.read_walked(&entry, &vpath_of, root_host, &mut dirs, &mut buf)
                        .is_ok()
                };
                if !loaded || is_binary(&buf) {
                    return WalkState::Continue;
                }
                let mut hits = engine.search(&mut searcher, matcher, &placeholder, &buf, per_file);
                if !hits.is_empty() {
                    let vpath = vpath_of();
                    for hit in &mut hits {
                        hit.path = vpath.clone();
                    }
                    let _ = tx.send((vpath, hits));
                }
                WalkState::Continue
            })
        });
        drop(tx);
        let mut by_file: Vec<(VirtualPath, Vec<GrepMatch>)> = rx.into_iter().collect();
        by_file.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(by_file.into_iter().flat_map(|(_, hits)| hits).collect())
    }

    /// Reads a file the walker named into `buf`, opened beneath the root
    /// without following a symlink, refusing anything that is not a regular
    /// file (FIFOs and devices are never opened for reading: `O_NONBLOCK`,
    /// then `fstat`) and anything over the read cap.
    fn read_walked(
        &self,
        entry: &DirEntry,
        vpath: &dyn Fn() -> VirtualPath,
        root_host: &Path,
        dirs: &mut DirCache,
        buf: &mut Vec<u8>,
    ) -> std::result::Result<(), Fail> {
        let dir = dirs.dir_of(self, entry.path(), root_host, vpath)?;
        let fd = rustix::fs::openat(
            dir,
            entry.file_name(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let st = rustix::fs::fstat(&fd)?;
        if kind_of(&st) != FileType::RegularFile {
            return Err(Fail::Io(rustix::io::Errno::INVAL));
        }
        let len = st.st_size.max(0) as u64;
        if len > self.max_read_bytes {
            return Err(Fail::Io(rustix::io::Errno::FBIG));
        }
        buf.reserve(len as usize);
        std::fs::File::from(fd)
            .take(self.max_read_bytes)
            .read_to_end(buf)?;
        Ok(())
    }
}

/// The directory of the last file a walker thread looked at, kept open:
/// walkers visit a directory's files one after another, so each file costs
/// one lookup of its own name instead of a walk of its whole path.
#[derive(Default)]
struct DirCache {
    host: PathBuf,
    fd: Option<OwnedFd>,
}

impl DirCache {
    fn dir_of(
        &mut self,
        disk: &Disk,
        file_host: &Path,
        root_host: &Path,
        file_vpath: &dyn Fn() -> VirtualPath,
    ) -> std::result::Result<BorrowedFd<'_>, Fail> {
        let parent = file_host.parent().ok_or(Fail::Escape)?;
        if self.fd.is_none() || self.host != parent {
            self.fd = None;
            let relative = parent.strip_prefix(root_host).map_err(|_| Fail::Escape)?;
            let vparent = || file_vpath().parent().unwrap_or_else(VirtualPath::root);
            self.fd = Some(disk.root.open_walked_dir(relative, &vparent)?);
            parent.clone_into(&mut self.host);
        }
        self.fd.as_ref().map(|fd| fd.as_fd()).ok_or(Fail::Escape)
    }
}

/// The walker every search uses: hidden files included, no ignore files
/// unless asked, symlinks not followed, directories for which `prune` says
/// so (below the start) skipped.
fn walk_builder(
    start: &Path,
    options: WalkOptions,
    prune: impl Fn(&DirEntry) -> bool + Send + Sync + 'static,
) -> WalkBuilder {
    let mut builder = WalkBuilder::new(start);
    builder
        .hidden(false)
        .ignore(false)
        .parents(false)
        .git_global(false)
        .git_ignore(options.git_ignore)
        .git_exclude(options.git_ignore)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            if is_dir {
                !(entry.depth() > 0 && prune(entry))
            } else {
                // A write in flight (or one killed mid-way) is not a file yet.
                !crate::temp::is_temp_name(entry.file_name().as_encoded_bytes())
            }
        });
    builder
}

/// Whether some segment of the pattern (after brace expansion) may start
/// with `.`, the only way a hidden name can match. Conservative: a `.` at
/// the start, after `/`, `{` or `,` counts.
fn may_match_hidden(pattern: &str) -> bool {
    let bytes = pattern.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'.' && (i == 0 || matches!(bytes[i - 1], b'/' | b'{' | b',')))
}

/// `path` relative to `base`, `/`-separated, lossy for names that are not
/// UTF-8.
fn relative<'a>(path: &'a Path, base: &Path) -> Option<std::borrow::Cow<'a, str>> {
    let rel = path.strip_prefix(base).ok()?;
    Some(rel.as_os_str().to_string_lossy())
}

fn join_rel(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_owned()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// `base` + `rel` without re-validating names found on disk (they may hold
/// characters an agent could not type, and are listed as they are).
fn vjoin(base: &VirtualPath, rel: &str) -> VirtualPath {
    rel.split('/')
        .filter(|s| !s.is_empty())
        .fold(base.clone(), |path, segment| path.child(segment))
}

fn new_searcher() -> Searcher {
    SearcherBuilder::new()
        .line_terminator(LineTerminator::byte(b'\n'))
        .line_number(true)
        .memory_map(MmapChoice::never())
        // Binary files are recognised up front by the shared rule (a NUL in
        // the first 8 KiB); later NULs are searched like any byte.
        .binary_detection(BinaryDetection::none())
        .build()
}

/// How a file's lines are found.
enum Engine {
    /// grep-searcher with a line-oriented grep-regex matcher; every line it
    /// reports is confirmed against the shared regex on the line without its
    /// ending, so the results are the shared rule's.
    Fast(RegexMatcher, LineCut),
    /// The shared matcher itself, for patterns whose meaning depends on the
    /// whole text (`\A`, `\z`, inline flags) or that grep-regex refuses.
    Core,
}

impl Engine {
    fn new(request: &GrepRequest, matcher: &GrepMatcher) -> Engine {
        let whole_text = request.regex
            && ["\\A", "\\z", "(?"]
                .iter()
                .any(|needle| request.pattern.contains(needle));
        if whole_text {
            return Engine::Core;
        }
        let built = RegexMatcherBuilder::new()
            .case_insensitive(request.case_insensitive)
            .multi_line(true)
            .crlf(true)
            // After `crlf`, which would also forbid `\r` inside matches.
            .line_terminator(Some(b'\n'))
            .size_limit(16 * 1024 * 1024)
            .build(matcher.regex().as_str());
        match built {
            Ok(fast) => Engine::Fast(fast, LineCut::of(request)),
            Err(_) => Engine::Core,
        }
    }

    fn search(
        &self,
        searcher: &mut Searcher,
        matcher: &GrepMatcher,
        path: &VirtualPath,
        content: &[u8],
        limit: usize,
    ) -> Vec<GrepMatch> {
        match self {
            Engine::Core => matcher.search(path, content, limit),
            Engine::Fast(fast, cut) => {
                if limit == 0 || is_binary(content) {
                    return Vec::new();
                }
                let mut sink = LineSink {
                    matcher,
                    content,
                    path,
                    limit,
                    cut,
                    found: Vec::new(),
                };
                // The sink never fails and a slice cannot fail to read.
                let _ = searcher.search_slice(fast, content, &mut sink);
                sink.found
            }
        }
    }
}

/// The request's line rules, read back from the shared matcher's settings.
struct LineCut {
    before: usize,
    after: usize,
    max_chars: usize,
}

impl LineCut {
    fn of(request: &GrepRequest) -> LineCut {
        LineCut {
            before: request.before_context,
            after: request.after_context,
            max_chars: request.max_line_chars,
        }
    }

    fn cut(&self, line: &[u8]) -> (String, bool) {
        let text = String::from_utf8_lossy(line);
        match text.char_indices().nth(self.max_chars) {
            Some((idx, _)) => (text[..idx].to_owned(), true),
            None => (text.into_owned(), false),
        }
    }

    fn before(&self, content: &[u8], line_start: usize, line_no: u64) -> Vec<ContextLine> {
        let mut lines = Vec::new();
        let mut end = line_start;
        let mut n = line_no;
        while lines.len() < self.before && end > 0 {
            let prev_end = end - 1;
            let start = memrchr_nl(&content[..prev_end]).map_or(0, |i| i + 1);
            n -= 1;
            lines.push(ContextLine::new(
                n,
                self.cut(trim_cr(&content[start..prev_end])).0,
            ));
            end = start;
        }
        lines.reverse();
        lines
    }

    fn after(&self, content: &[u8], line_end: usize, line_no: u64) -> Vec<ContextLine> {
        let mut lines = Vec::new();
        let mut start = line_end + 1;
        let mut n = line_no;
        while lines.len() < self.after && start < content.len() {
            let end = content[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(content.len(), |i| start + i);
            n += 1;
            lines.push(ContextLine::new(
                n,
                self.cut(trim_cr(&content[start..end])).0,
            ));
            start = end + 1;
        }
        lines
    }
}

fn memrchr_nl(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|b| *b == b'\n')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

struct LineSink<'a> {
    matcher: &'a GrepMatcher,
    content: &'a [u8],
    path: &'a VirtualPath,
    limit: usize,
    cut: &'a LineCut,
    found: Vec<GrepMatch>,
}

impl Sink for LineSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _searcher: &Searcher, mat: &SinkMatch<'_>) -> std::io::Result<bool> {
        let mut start = mat.absolute_byte_offset() as usize;
        for (line_no, line) in (mat.line_number().unwrap_or(1)..).zip(mat.lines()) {
            let line_start = start;
            start += line.len();
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let line_end = line_start + body.len();
            let body = trim_cr(body);
            if self.matcher.regex().is_match(body) {
                let (text, cut) = self.cut.cut(body);
                let mut hit = GrepMatch::new(self.path.clone(), line_no, text, cut);
                if self.cut.before > 0 || self.cut.after > 0 {
                    hit = hit.with_context(
                        self.cut.before(self.content, line_start, line_no),
                        self.cut.after(self.content, line_end, line_no),
                    );
                }
                self.found.push(hit);
                if self.found.len() >= self.limit {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}
