//! The sandboxes' files: the guarded temporary directory and what the fakes
//! read and write in it.

use std::path::{Component, Path, PathBuf};

/// The temporary directory every sandbox of a fake keeps its files in.
/// Paths outside it are refused, so tests never touch the host's files.
#[derive(Debug)]
pub struct Disk {
    dir: tempfile::TempDir,
}

impl Disk {
    /// A fresh temporary directory.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("remote-fake-")
            .tempdir()
            .unwrap_or_else(|e| {
                panic!("cannot create a temporary directory for a fake server: {e}")
            });
        Disk { dir }
    }

    /// The directory itself (the sandboxes' "home").
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A fresh empty directory under the root, as an absolute path string.
    pub fn new_workdir(&self) -> String {
        let path = self
            .dir
            .path()
            .join(format!("ws-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        path.to_string_lossy().into_owned()
    }

    /// `path` when it is absolute, free of `..`, and inside the root.
    pub fn guard(&self, path: &str) -> Option<PathBuf> {
        let candidate = Path::new(path);
        if !candidate.is_absolute()
            || candidate
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            return None;
        }
        candidate
            .starts_with(self.dir.path())
            .then(|| candidate.to_path_buf())
    }
}

impl Default for Disk {
    fn default() -> Self {
        Disk::new()
    }
}

/// Whether an I/O error means "nothing there" (a missing path, or a path
/// through a file), which the providers report as not found.
pub fn is_missing(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
    )
}

/// Metadata of a path as the fakes report it.
#[derive(Debug, Clone)]
pub struct Meta {
    /// The name (last component).
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it is a symbolic link.
    pub is_symlink: bool,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds and nanoseconds since the epoch.
    pub modified: (u64, u32),
}

/// Reads [`Meta`] of `path` without following a final symlink.
pub fn meta(path: &Path) -> std::io::Result<Meta> {
    let m = std::fs::symlink_metadata(path)?;
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0));
    Ok(Meta {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        is_dir: m.is_dir(),
        is_symlink: m.file_type().is_symlink(),
        size: m.len(),
        modified,
    })
}

/// An RFC 3339 UTC timestamp for seconds and nanoseconds since the epoch.
pub fn rfc3339((secs, nanos): (u64, u32)) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Writes `content` to `path` through a temporary file and a rename, so a
/// reader sees the old or the new content; creates parents when asked.
pub fn write_atomic(path: &Path, content: &[u8], create_parents: bool) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent"))?;
    if create_parents {
        std::fs::create_dir_all(parent)?;
    }
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        ));
    }
    let tmp = parent.join(format!(".upload-{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, content)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
