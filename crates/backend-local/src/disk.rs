//! The file operations on a confined directory, as blocking functions; the
//! `Backend` impl runs them on tokio's blocking pool.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime};

use backend_core::{
    Error, ErrorKind, FileInfo, KeyedLockGuard, KeyedLocks, Operation, Result, VirtualPath,
};
use rustix::fd::AsFd;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::error::fail_error;
use crate::quota::Quota;
use crate::root::{Fail, Located, Root, read_names};
use crate::temp::{create_temp, is_temp_name};

/// How often an operation re-resolves a path whose leaf was swapped for a
/// symlink between the lookup and the open.
const MAX_REOPEN: usize = 8;
/// The mode bits a replaced file keeps: permissions and sticky, never
/// setuid or setgid.
const KEPT_MODE_BITS: u32 = 0o1777;

/// A confined directory and the in-process state its operations share.
pub(crate) struct Disk {
    pub root: Root,
    pub fsync: bool,
    pub max_read_bytes: u64,
    /// Per-file mutual exclusion within the process, for writes and edits.
    locks: KeyedLocks<LockKey>,
    /// The byte limit on what the root holds, if any.
    pub quota: Option<Quota>,
}

/// What identifies a file's content on disk: if any of these differs, the
/// file was replaced or modified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: i64,
    mtime: (i64, u64),
    ctime: (i64, u64),
}

impl Identity {
    fn of(st: &Stat) -> Identity {
        Identity {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        }
    }
}

pub(crate) fn kind_of(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

pub(crate) fn modified(st: &Stat) -> Option<SystemTime> {
    let secs = u64::try_from(st.st_mtime).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, st.st_mtime_nsec as u32))
}

/// The [`FileInfo`] for an entry.
pub(crate) fn info(path: VirtualPath, st: &Stat) -> FileInfo {
    if kind_of(st) == FileType::Directory {
        FileInfo::dir(path).with_modified(modified(st))
    } else {
        FileInfo::file(path, st.st_size.max(0) as u64).with_modified(modified(st))
    }
}

impl Disk {
    pub fn new(root: Root, fsync: bool, max_read_bytes: u64) -> Disk {
        Disk {
            root,
            fsync,
            max_read_bytes,
            locks: KeyedLocks::new(),
            quota: None,
        }
    }

    fn locate(
        &self,
        path: &VirtualPath,
        follow: bool,
        create: bool,
        op: Operation,
    ) -> Result<Located<'_>> {
        self.root
            .locate(path, follow, create)
            .map_err(|f| fail_error(f, path.as_str(), op))
    }

    pub fn stat(&self, path: &VirtualPath) -> Result<FileInfo> {
        let found = self.locate(path, true, false, Operation::Stat)?;
        match &found.stat {
            Some(st) => Ok(info(path.clone(), st)),
            None => Err(Error::file_not_found(path.as_str()).with_operation(Operation::Stat)),
        }
    }

    pub fn ls(&self, path: &VirtualPath) -> Result<Vec<FileInfo>> {
        let op = Operation::Ls;
        let found = self.locate(path, true, false, op)?;
        match found.file_type() {
            None => return Err(Error::file_not_found(path.as_str()).with_operation(op)),
            Some(FileType::Directory) => {}
            Some(_) => return Err(Error::not_a_directory(path.as_str()).with_operation(op)),
        }
        let reader = found
            .open_dir()
            .map_err(|f| fail_error(f, path.as_str(), op))?;
        let names = read_names(&reader).map_err(|f| fail_error(f, path.as_str(), op))?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if is_temp_name(name.as_bytes()) {
                continue;
            }
            let st = match rustix::fs::statat(&reader, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)
            {
                Ok(st) => st,
                Err(Errno::NOENT) => continue, // removed while listing
                Err(e) => return Err(fail_error(Fail::Io(e), path.as_str(), op)),
            };
            let child = path.child(&name.to_string_lossy());
            if kind_of(&st) == FileType::Symlink {
                // Show what the link leads to when it stays inside the root;
                // a link leading out (or nowhere) is listed without a size.
                match self.root.locate(&child, true, false) {
                    Ok(Located {
                        stat: Some(target), ..
                    }) => out.push(info(child, &target)),
                    _ => {
                        let mut entry = FileInfo::file(child, 0);
                        entry.size = None;
                        out.push(entry);
                    }
                }
                continue;
            }
            out.push(info(child, &st));
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Opens the regular file at `path` for reading, with its `fstat`.
    fn open_regular(&self, path: &VirtualPath, op: Operation) -> Result<(std::fs::File, Stat)> {
        for _ in 0..MAX_REOPEN {
            let found = self.locate(path, true, false, op)?;
            let Some(name) = &found.name else {
                return Err(Error::is_directory(path.as_str()).with_operation(op));
            };
            match found.file_type() {
                None => return Err(Error::file_not_found(path.as_str()).with_operation(op)),
                Some(FileType::Directory) => {
                    return Err(Error::is_directory(path.as_str()).with_operation(op));
                }
                Some(FileType::RegularFile) => {}
                // FIFOs and devices are never opened.
                Some(_) => return Err(fail_error(Fail::Io(Errno::INVAL), path.as_str(), op)),
            }
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let fd = match rustix::fs::openat(&found.dir, name.as_os_str(), flags, Mode::empty()) {
                Ok(fd) => fd,
                // Swapped for a symlink since the lookup: resolve again.
                Err(Errno::LOOP) => continue,
                Err(e) => return Err(fail_error(Fail::Io(e), path.as_str(), op)),
            };
            let st =
                rustix::fs::fstat(&fd).map_err(|e| fail_error(Fail::Io(e), path.as_str(), op))?;
            match kind_of(&st) {
                FileType::RegularFile => return Ok((std::fs::File::from(fd), st)),
                FileType::Directory => {
                    return Err(Error::is_directory(path.as_str()).with_operation(op));
                }
                _ => return Err(fail_error(Fail::Io(Errno::INVAL), path.as_str(), op)),
            }
        }
        Err(fail_error(Fail::Unstable, path.as_str(), op))
    }

    fn read_file(&self, path: &VirtualPath, op: Operation) -> Result<(Vec<u8>, Stat)> {
        let (mut file, st) = self.open_regular(path, op)?;
        let size = st.st_size.max(0) as u64;
        if size > self.max_read_bytes {
            return Err(too_large(path, size, self.max_read_bytes).with_operation(op));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut file)
            .take(self.max_read_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| fail_error(e.into(), path.as_str(), op))?;
        if bytes.len() as u64 > self.max_read_bytes {
            return Err(too_large(path, bytes.len() as u64, self.max_read_bytes).with_operation(op));
        }
        Ok((bytes, st))
    }

    pub fn read_bytes(&self, path: &VirtualPath, op: Operation) -> Result<Vec<u8>> {
        self.read_file(path, op).map(|(bytes, _)| bytes)
    }

    /// Holds the lock of one file until the guard drops. These functions run
    /// on the blocking pool, so waiting blocks only this thread.
    fn hold(&self, key: LockKey) -> KeyedLockGuard<LockKey> {
        futures::executor::block_on(self.locks.lock(key))
    }

    pub fn write(&self, path: &VirtualPath, content: &[u8]) -> Result<()> {
        let op = Operation::Write;
        let found = self.locate(path, true, true, op)?;
        let Some(name) = &found.name else {
            return Err(Error::is_directory(path.as_str()).with_operation(op));
        };
        if found.is_dir() {
            return Err(Error::is_directory(path.as_str()).with_operation(op));
        }
        let _held = self.hold(lock_key(&found)?);
        let mode = found
            .stat
            .as_ref()
            .filter(|st| kind_of(st) == FileType::RegularFile)
            .map(|st| st.st_mode & 0o7777);
        let old_len = found
            .stat
            .as_ref()
            .filter(|st| kind_of(st) == FileType::RegularFile)
            .map_or(0, |st| st.st_size.max(0) as u64);
        let _quota = self.check_quota(path, old_len, content.len() as u64, op)?;
        self.replace(&found.dir, name, content, mode, |_| Ok(()))
            .map_err(|f| fail_error(f, path.as_str(), op))
    }

    /// The quota's go-ahead for replacing `old_len` bytes by `new_len`
    /// (held until the write is done), or `quota_exceeded`.
    fn check_quota(
        &self,
        path: &VirtualPath,
        old_len: u64,
        new_len: u64,
        op: Operation,
    ) -> Result<Option<std::sync::MutexGuard<'_, ()>>> {
        match &self.quota {
            None => Ok(None),
            Some(quota) => quota
                .check(&self.root, path, old_len, new_len)
                .map(Some)
                .map_err(|e| e.with_operation(op)),
        }
    }

    pub fn edit(
        &self,
        path: &VirtualPath,
        old: &str,
        new: &str,
        replace_all: bool,
    ) -> Result<usize> {
        self.edit_with(path, old, new, replace_all, || {})
    }

    /// [`edit`](Self::edit) with `between` run after the read and before
    /// the write, so tests can change the file in that window.
    pub(crate) fn edit_with(
        &self,
        path: &VirtualPath,
        old: &str,
        new: &str,
        replace_all: bool,
        between: impl FnOnce(),
    ) -> Result<usize> {
        let op = Operation::Edit;
        let found = self.locate(path, true, false, op)?;
        let Some(name) = &found.name else {
            return Err(Error::is_directory(path.as_str()).with_operation(op));
        };
        let _held = self.hold(lock_key(&found)?);
        let (bytes, st) = self.read_file(path, op)?;
        let before = Identity::of(&st);
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::not_a_text_file(path.as_str()).with_operation(op))?;
        let (updated, count) =
            backend_core::text::apply_edit(path.as_str(), text, old, new, replace_all)
                .map_err(|e| e.with_operation(op))?;
        between();
        let _quota = self.check_quota(path, bytes.len() as u64, updated.len() as u64, op)?;
        let outcome = self.replace(
            &found.dir,
            name,
            updated.as_bytes(),
            Some(st.st_mode & 0o7777),
            |dir| {
                let now = rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
                if Identity::of(&now) == before {
                    Ok(())
                } else {
                    Err(Fail::Unstable)
                }
            },
        );
        match outcome {
            Ok(()) => Ok(count),
            Err(Fail::Unstable) | Err(Fail::Io(Errno::NOENT)) => Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "{path} changed on disk while it was being edited; read it again and retry the edit"
                ),
            )
            .with_path(path.as_str())
            .with_operation(op)),
            Err(f) => Err(fail_error(f, path.as_str(), op)),
        }
    }

    /// Replaces `dir/name` with `content`: a temporary file in the same
    /// directory, written (and synced when configured), then renamed over
    /// the old entry, so that a reader sees the old or the new content.
    /// `check` runs just before the rename and may refuse it.
    fn replace(
        &self,
        dir: &impl AsFd,
        name: &OsStr,
        content: &[u8],
        mode: Option<u32>,
        check: impl FnOnce(rustix::fd::BorrowedFd<'_>) -> std::result::Result<(), Fail>,
    ) -> std::result::Result<(), Fail> {
        let (temp_name, temp) = create_temp(dir)?;
        let result = (|| {
            if let Some(mode) = mode {
                // Agent content never inherits setuid or setgid (the new
                // file is also owned by this process, not the old owner).
                rustix::fs::fchmod(&temp, Mode::from_raw_mode(mode & KEPT_MODE_BITS))?;
            }
            let mut file = std::fs::File::from(temp);
            file.write_all(content)?;
            if self.fsync {
                file.sync_all()?;
            }
            drop(file);
            check(dir.as_fd())?;
            rustix::fs::renameat(dir, temp_name.as_os_str(), dir, name)?;
            if self.fsync {
                let sync = rustix::fs::openat(
                    dir,
                    c".",
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                rustix::fs::fsync(&sync)?;
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(dir, temp_name.as_os_str(), AtFlags::empty());
        }
        result
    }

    pub fn delete(&self, path: &VirtualPath, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        let found = self.locate(path, false, false, op)?;
        let Some(name) = &found.name else {
            return Err(Error::root_not_deletable());
        };
        match found.file_type() {
            None => Err(Error::file_not_found(path.as_str()).with_operation(op)),
            Some(FileType::Directory) => {
                if !recursive {
                    return Err(Error::new(
                        ErrorKind::IsDirectory,
                        format!("{path} is a directory; pass recursive=true to delete it and everything in it"),
                    )
                    .with_path(path.as_str())
                    .with_operation(op));
                }
                remove_tree(&found.dir, name)
                    .and_then(|()| {
                        rustix::fs::unlinkat(&found.dir, name.as_os_str(), AtFlags::REMOVEDIR)
                            .map_err(Fail::Io)
                    })
                    .map_err(|f| fail_error(f, path.as_str(), op))
            }
            Some(_) => rustix::fs::unlinkat(&found.dir, name.as_os_str(), AtFlags::empty())
                .map_err(|e| fail_error(Fail::Io(e), path.as_str(), op)),
        }
    }
}

fn too_large(path: &VirtualPath, size: u64, limit: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("{path} holds {size} bytes, more than this backend reads at once ({limit} bytes)"),
    )
    .with_path(path.as_str())
    .with_context("limit", limit.to_string())
}

/// Removes everything inside `parent/name` without following symlinks.
fn remove_tree(parent: &impl AsFd, name: &OsStr) -> std::result::Result<(), Fail> {
    let dir = rustix::fs::openat(
        parent,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    for child in read_names(&dir)? {
        let st = match rustix::fs::statat(&dir, child.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let flags = if kind_of(&st) == FileType::Directory {
            remove_tree(&dir, &child)?;
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        match rustix::fs::unlinkat(&dir, child.as_os_str(), flags) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Identifies "this name in this directory" across virtual paths (two
/// symlinked paths to one file share a key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LockKey {
    dev: u64,
    ino: u64,
    name: OsString,
}

fn lock_key(found: &Located<'_>) -> Result<LockKey> {
    let st = rustix::fs::fstat(&found.dir)
        .map_err(|e| Error::internal(format!("cannot stat a directory: {e}")))?;
    Ok(LockKey {
        dev: st.st_dev,
        ino: st.st_ino,
        name: found.name.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(dir: &std::path::Path) -> Disk {
        Disk::new(Root::open(dir, true).unwrap(), false, u64::MAX)
    }

    fn vp(path: &str) -> VirtualPath {
        VirtualPath::parse(path).unwrap()
    }

    #[test]
    fn edit_refuses_when_the_file_changed_between_read_and_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "alpha beta\n").unwrap();
        let d = disk(dir.path());
        let err = d
            .edit_with(&vp("/f.txt"), "alpha", "ALPHA", false, || {
                // Changed in place by someone else: same inode, new content.
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(dir.path().join("f.txt"))
                    .unwrap();
                f.write_all(b"gamma\n").unwrap();
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert!(err.is_retryable());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f.txt")).unwrap(),
            "alpha beta\ngamma\n"
        );
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "the temporary file was left behind");
    }

    #[test]
    fn edit_refuses_when_the_file_was_replaced_between_read_and_write() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.txt"), "alpha\n").unwrap();
        let d = disk(dir.path());
        let err = d
            .edit_with(&vp("/f.txt"), "alpha", "ALPHA", false, || {
                std::fs::write(dir.path().join("other"), "replaced\n").unwrap();
                std::fs::rename(dir.path().join("other"), dir.path().join("f.txt")).unwrap();
            })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f.txt")).unwrap(),
            "replaced\n"
        );
    }

    #[test]
    fn edit_keeps_the_file_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.sh");
        std::fs::write(&file, "echo a\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o750)).unwrap();
        disk(dir.path())
            .edit(&vp("/run.sh"), "a", "b", false)
            .unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o750);
    }

    #[test]
    fn fsync_mode_writes_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let d = Disk::new(Root::open(dir.path(), true).unwrap(), true, u64::MAX);
        d.write(&vp("/a/b.bin"), b"\x00\x01synced").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("a/b.bin")).unwrap(),
            b"\x00\x01synced"
        );
    }

    #[test]
    fn reads_over_the_cap_are_too_large() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big"), vec![b'x'; 100]).unwrap();
        let d = Disk::new(Root::open(dir.path(), true).unwrap(), false, 10);
        let err = d.read_bytes(&vp("/big"), Operation::ReadBytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
    }
}
