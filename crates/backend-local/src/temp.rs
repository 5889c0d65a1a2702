//! The temporary files of atomic writes: how they are named, made, hidden
//! and swept.
//!
//! A write goes to `.backend-local-PID-…tmp` next to its target and is
//! renamed over it. A writer killed in between leaves that file behind: it
//! is never listed, globbed or grepped, and opening a (non-overlay) root
//! removes the ones whose writer process is gone.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::root::Fail;

const PREFIX: &str = ".backend-local-";
const SUFFIX: &str = ".tmp";
/// How deep the sweep descends (each level holds one open directory).
const MAX_SWEEP_DEPTH: usize = 128;

/// Whether `name` is one of our temporary files.
pub(crate) fn is_temp_name(name: &[u8]) -> bool {
    name.len() > PREFIX.len() + SUFFIX.len()
        && name.starts_with(PREFIX.as_bytes())
        && name.ends_with(SUFFIX.as_bytes())
}

/// The pid of the process that made the temporary file `name`.
fn writer_pid(name: &[u8]) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX.as_bytes())?;
    let digits = rest.split(|b| *b == b'-').next()?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether the writer of `name` may still be writing it: this process, a
/// live one, or one we cannot tell about.
fn writer_may_be_alive(name: &[u8]) -> bool {
    let Some(pid) = writer_pid(name) else {
        return true;
    };
    if pid == std::process::id() as i32 {
        return true;
    }
    match rustix::process::Pid::from_raw(pid) {
        Some(pid) => !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH)),
        None => true,
    }
}

/// A new, exclusive temporary file in `dir`.
pub(crate) fn create_temp(dir: &impl AsFd) -> std::result::Result<(OsString, OwnedFd), Fail> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = OsString::from(format!("{PREFIX}{pid}-{nanos:x}-{n}{SUFFIX}"));
        match rustix::fs::openat(
            dir,
            name.as_os_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        ) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(Fail::Io(e)),
        }
    }
    Err(Fail::Io(Errno::EXIST))
}

/// Removes, below the directory `dir`, the temporary files whose writer is
/// gone. Every step is relative to an open directory and follows no
/// symlink, so nothing outside the root is touched; unreadable directories
/// are skipped (the sweep is a clean-up, not an operation that can fail).
pub(crate) fn sweep(dir: &OwnedFd) -> usize {
    sweep_below(dir, 0)
}

fn sweep_below(dir: &OwnedFd, depth: usize) -> usize {
    let Ok(names) = crate::root::read_names(dir) else {
        return 0;
    };
    let mut removed = 0;
    for name in names {
        let raw = name.as_bytes();
        let Ok(st) = rustix::fs::statat(dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::RegularFile && is_temp_name(raw) && !writer_may_be_alive(raw) {
            if rustix::fs::unlinkat(dir, OsStr::from_bytes(raw), AtFlags::empty()).is_ok() {
                removed += 1;
            }
        } else if kind == FileType::Directory
            && depth < MAX_SWEEP_DEPTH
            && raw != b".git"
            && let Ok(sub) = rustix::fs::openat(
                dir,
                name.as_os_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
        {
            removed += sweep_below(&sub, depth + 1);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(b".backend-local-12-ab-0.tmp"));
        assert!(!is_temp_name(b".backend-local-.tmp"));
        assert!(!is_temp_name(b"backend-local-12.tmp"));
        assert_eq!(writer_pid(b".backend-local-12-ab-0.tmp"), Some(12));
        assert!(writer_may_be_alive(
            format!(".backend-local-{}-0-0.tmp", std::process::id()).as_bytes()
        ));
    }
}
