//! Path confinement: every virtual path is resolved beneath one directory
//! file descriptor, so that neither `..`, nor a symlink, nor a symlink
//! swapped in between a check and its use can reach outside the root.
//!
//! The fast path asks the kernel (`openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS`) for the parent directory and then looks at the
//! leaf without following it. Where `openat2` is missing (old kernels, some
//! seccomp profiles), and for the rarer cases the fast path cannot settle (a
//! symlink at the leaf, directories to create, names that are not UTF-8), a
//! component-by-component walk opens each directory with `O_NOFOLLOW`
//! relative to the previous one and expands symlinks itself, keeping a stack
//! of real directories so that `..` means the physical parent and can never
//! climb above the root.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use backend_core::VirtualPath;
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// How many symlinks one lookup may expand, as the kernel's own limit.
const MAX_SYMLINK_HOPS: usize = 40;
/// The UTF-8 encoding of U+FFFD, which marks a name listed lossily.
const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Why a lookup failed, before it is turned into a [`backend_core::Error`]
/// with the virtual path.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The host refused or failed with this errno.
    Io(Errno),
    /// The path leads outside the root (through a symlink).
    Escape,
    /// A lossily listed name matches several names on disk.
    Ambiguous,
    /// The entry kept changing under us while we looked at it.
    Unstable,
}

impl From<Errno> for Fail {
    fn from(errno: Errno) -> Self {
        Fail::Io(errno)
    }
}

impl From<std::io::Error> for Fail {
    fn from(err: std::io::Error) -> Self {
        Fail::Io(Errno::from_io_error(&err).unwrap_or(Errno::IO))
    }
}

pub(crate) type Resolved<T> = Result<T, Fail>;

/// A directory handle: the root itself (borrowed) or one opened beneath it.
pub(crate) enum DirFd<'r> {
    Root(BorrowedFd<'r>),
    Owned(OwnedFd),
}

impl AsFd for DirFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            DirFd::Root(fd) => *fd,
            DirFd::Owned(fd) => fd.as_fd(),
        }
    }
}

/// Where a virtual path landed: the directory holding the entry and the
/// entry's name in it, with what `lstat` said about it (`None` when it does
/// not exist). With `name == None` the path is the directory `dir` itself
/// (the root, or a symlink chain that ended on a directory).
pub(crate) struct Located<'r> {
    pub dir: DirFd<'r>,
    pub name: Option<OsString>,
    pub stat: Option<Stat>,
}

impl Located<'_> {
    /// The entry's file type, when it exists.
    pub fn file_type(&self) -> Option<FileType> {
        self.stat
            .as_ref()
            .map(|st| FileType::from_raw_mode(st.st_mode))
    }

    /// Whether the entry exists and is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == Some(FileType::Directory)
    }

    /// Opens the located directory itself for reading its entries.
    pub fn open_dir(&self) -> Resolved<OwnedFd> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(match &self.name {
            None => rustix::fs::openat(&self.dir, c".", flags, Mode::empty())?,
            Some(name) => rustix::fs::openat(
                &self.dir,
                name.as_os_str(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            )?,
        })
    }
}

/// A directory every path is confined to.
pub(crate) struct Root {
    fd: OwnedFd,
    /// The canonical host path; used only to hand directories to the
    /// walker, never shown to callers.
    host: PathBuf,
    openat2: bool,
}

impl Root {
    /// Opens `path` (which must be an existing directory) as a root.
    /// With `try_openat2` false, lookups always use the walk.
    pub fn open(path: &Path, try_openat2: bool) -> std::io::Result<Root> {
        let host = std::fs::canonicalize(path)?;
        let fd = rustix::fs::open(
            &host,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let openat2 = try_openat2 && probe_openat2(&fd);
        Ok(Root { fd, host, openat2 })
    }

    /// The canonical host path of the root.
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// Whether lookups use `openat2` (false: the `O_NOFOLLOW` walk).
    pub fn uses_openat2(&self) -> bool {
        self.openat2
    }

    /// Resolves `path` beneath the root. Symlinks in directory components
    /// are always followed (beneath the root); the leaf is followed only
    /// when `follow_leaf`. With `create_parents`, missing directories on
    /// the way are created.
    pub fn locate(
        &self,
        path: &VirtualPath,
        follow_leaf: bool,
        create_parents: bool,
    ) -> Resolved<Located<'_>> {
        if path.is_root() {
            let stat = rustix::fs::fstat(&self.fd)?;
            return Ok(Located {
                dir: DirFd::Root(self.fd.as_fd()),
                name: None,
                stat: Some(stat),
            });
        }
        let lossy = path
            .as_str()
            .as_bytes()
            .windows(3)
            .any(|w| w == REPLACEMENT);
        if self.openat2
            && !lossy
            && let Some(found) = self.locate_fast(path, follow_leaf)?
        {
            return Ok(found);
        }
        let components = path.segments().map(|s| s.as_bytes().to_vec()).collect();
        self.walk(components, follow_leaf, create_parents)
    }

    /// `openat2` for the parent, `lstat` for the leaf. `None` means "ask the
    /// walk" (a symlink leaf to follow, or a parent that does not exist yet).
    fn locate_fast(&self, path: &VirtualPath, follow_leaf: bool) -> Resolved<Option<Located<'_>>> {
        let name = path.file_name().unwrap_or_default();
        let parent = path.parent().unwrap_or_else(VirtualPath::root);
        let dir = if parent.is_root() {
            DirFd::Root(self.fd.as_fd())
        } else {
            match self.open_beneath(
                &parent.as_str()[1..],
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            ) {
                Ok(fd) => DirFd::Owned(fd),
                // Missing parents may need creating, and a concurrent
                // rename (EAGAIN) is settled by the walk.
                Err(Fail::Io(Errno::NOENT | Errno::AGAIN)) => return Ok(None),
                Err(e) => return Err(e),
            }
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if follow_leaf && FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                Ok(None)
            }
            Ok(st) => Ok(Some(Located {
                dir,
                name: Some(name.into()),
                stat: Some(st),
            })),
            Err(Errno::NOENT) => Ok(Some(Located {
                dir,
                name: Some(name.into()),
                stat: None,
            })),
            Err(e) => Err(e.into()),
        }
    }

    /// `openat2` beneath the root; an escape is `Fail::Escape`.
    fn open_beneath(&self, relative: impl AsRef<Path>, flags: OFlags) -> Resolved<OwnedFd> {
        rustix::fs::openat2(
            &self.fd,
            relative.as_ref(),
            flags,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| match e {
            Errno::XDEV => Fail::Escape,
            other => Fail::Io(other),
        })
    }

    /// Opens the directory a walker named, at the host-relative `relative`
    /// (virtual path `vpath`), as an `O_PATH` descriptor, resolved beneath
    /// the root like any other path.
    pub fn open_walked_dir(
        &self,
        relative: &Path,
        vpath: &dyn Fn() -> VirtualPath,
    ) -> Resolved<OwnedFd> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        if self.openat2 {
            let relative = if relative.as_os_str().is_empty() {
                Path::new(".")
            } else {
                relative
            };
            return self.open_beneath(relative, flags);
        }
        let found = self.locate(&vpath(), true, false)?;
        Ok(match &found.name {
            None => rustix::fs::openat(&found.dir, c".", flags, Mode::empty())?,
            Some(name) => rustix::fs::openat(
                &found.dir,
                name.as_os_str(),
                flags | OFlags::NOFOLLOW,
                Mode::empty(),
            )?,
        })
    }

    /// The component-by-component walk. `pending` holds the names still to
    /// resolve; `stack` the real directories entered so far.
    fn walk(
        &self,
        components: VecDeque<Vec<u8>>,
        follow_leaf: bool,
        create_parents: bool,
    ) -> Resolved<Located<'_>> {
        let mut pending = components;
        let mut stack: Vec<OwnedFd> = Vec::new();
        let mut hops = 0usize;
        // Bounds retries when an entry changes kind under us.
        let mut retries = 0usize;
        loop {
            let Some(component) = pending.pop_front() else {
                // The chain ended on a directory: the path is that directory.
                let dir = match stack.pop() {
                    Some(fd) => DirFd::Owned(fd),
                    None => DirFd::Root(self.fd.as_fd()),
                };
                let stat = rustix::fs::fstat(&dir)?;
                return Ok(Located {
                    dir,
                    name: None,
                    stat: Some(stat),
                });
            };
            if component.is_empty() || component == b"." {
                continue;
            }
            if component == b".." {
                if stack.pop().is_none() {
                    return Err(Fail::Escape);
                }
                continue;
            }
            let current: BorrowedFd<'_> = stack.last().map_or(self.fd.as_fd(), |fd| fd.as_fd());
            let name = self.match_name(current, component)?;
            let last = pending.is_empty();
            let stat =
                match rustix::fs::statat(current, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => Some(st),
                    Err(Errno::NOENT) => None,
                    Err(e) => return Err(e.into()),
                };
            let kind = stat.as_ref().map(|st| FileType::from_raw_mode(st.st_mode));
            if kind == Some(FileType::Symlink) && (!last || follow_leaf) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Fail::Io(Errno::LOOP));
                }
                let target = rustix::fs::readlinkat(current, name.as_os_str(), Vec::new())?;
                let target = target.as_bytes();
                if target.first() == Some(&b'/') {
                    // Absolute targets always leave the root's namespace, as
                    // RESOLVE_BENEATH judges them.
                    return Err(Fail::Escape);
                }
                for part in target.split(|b| *b == b'/').rev() {
                    pending.push_front(part.to_vec());
                }
                continue;
            }
            if last {
                let dir = match stack.pop() {
                    Some(fd) => DirFd::Owned(fd),
                    None => DirFd::Root(self.fd.as_fd()),
                };
                return Ok(Located {
                    dir,
                    name: Some(name),
                    stat,
                });
            }
            match kind {
                Some(FileType::Directory) => {
                    match rustix::fs::openat(
                        current,
                        name.as_os_str(),
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => stack.push(fd),
                        // Replaced between the lstat and the open: look again.
                        Err(Errno::NOTDIR | Errno::LOOP | Errno::NOENT) if retries < 8 => {
                            retries += 1;
                            pending.push_front(name.into_vec());
                        }
                        Err(Errno::NOTDIR | Errno::LOOP | Errno::NOENT) => {
                            return Err(Fail::Unstable);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(_) => return Err(Fail::Io(Errno::NOTDIR)),
                None if create_parents => {
                    match rustix::fs::mkdirat(current, name.as_os_str(), Mode::from_raw_mode(0o777))
                    {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    if retries >= 8 {
                        return Err(Fail::Unstable);
                    }
                    retries += 1;
                    pending.push_front(name.into_vec());
                }
                None => return Err(Fail::Io(Errno::NOENT)),
            }
        }
    }

    /// The on-disk name for `component`: itself, or, when it holds U+FFFD
    /// and does not exist as spelled, the one entry whose lossy UTF-8 form
    /// it is. This is how names that are not UTF-8 stay reachable.
    fn match_name(&self, dir: BorrowedFd<'_>, component: Vec<u8>) -> Resolved<OsString> {
        let name = OsString::from_vec(component);
        if !name.as_bytes().windows(3).any(|w| w == REPLACEMENT) {
            return Ok(name);
        }
        match rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => {}
            _ => return Ok(name),
        }
        let wanted = name.to_string_lossy().into_owned();
        let reader = rustix::fs::openat(
            dir,
            c".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let mut found = None;
        for entry in rustix::fs::Dir::new(reader)? {
            let entry = entry?;
            let raw = entry.file_name().to_bytes();
            if String::from_utf8_lossy(raw) == wanted {
                if found.is_some() {
                    return Err(Fail::Ambiguous);
                }
                found = Some(OsString::from_vec(raw.to_vec()));
            }
        }
        found.ok_or(Fail::Io(Errno::NOENT))
    }

    /// The real host path of a directory located beneath the root, for the
    /// directory walker; checked to still be beneath the root.
    pub fn host_dir(&self, located: &Located<'_>) -> Resolved<PathBuf> {
        let fd = match &located.name {
            None => None,
            Some(name) => Some(rustix::fs::openat(
                &located.dir,
                name.as_os_str(),
                OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?),
        };
        let raw = match &fd {
            Some(fd) => fd.as_fd(),
            None => located.dir.as_fd(),
        };
        if raw.as_fd().as_raw_fd_value() == self.fd.as_fd().as_raw_fd_value() {
            return Ok(self.host.clone());
        }
        let link = format!("/proc/self/fd/{}", raw.as_raw_fd_value());
        let real = std::fs::read_link(link)?;
        if real.starts_with(&self.host) {
            Ok(real)
        } else {
            Err(Fail::Escape)
        }
    }
}

/// Whether `openat2` works here (it can be missing or blocked by seccomp).
fn probe_openat2(root: &OwnedFd) -> bool {
    match rustix::fs::openat2(
        root,
        c".",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(_) => true,
        Err(e) => {
            tracing::debug!(errno = %e, "openat2 unavailable; using the O_NOFOLLOW walk");
            false
        }
    }
}

/// Raw descriptor numbers, for `/proc/self/fd` and comparisons.
trait RawValue {
    fn as_raw_fd_value(&self) -> i32;
}

impl RawValue for BorrowedFd<'_> {
    fn as_raw_fd_value(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.as_raw_fd()
    }
}

/// The names in a directory, without `.` and `..`.
pub(crate) fn read_names(dir: &OwnedFd) -> std::result::Result<Vec<OsString>, Fail> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let raw = entry.file_name().to_bytes();
        if raw != b"." && raw != b".." {
            names.push(std::ffi::OsStr::from_bytes(raw).to_owned());
        }
    }
    Ok(names)
}
