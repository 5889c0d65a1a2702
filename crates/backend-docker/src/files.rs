//! File operations, without a shell ever seeing a path in its script.
//!
//! Contents move through the engine's archive API (tar): reads download,
//! writes upload under a temporary name that a helper shell then renames
//! into place (atomic for readers), several uploads share one tar. Listing
//! and deleting run fixed scripts that receive paths as arguments (`"$1"`).
//! Glob and grep apply `backend_core`'s own rules in this process.

use std::io::Read;
use std::time::{Duration, SystemTime};

use backend_core::{Error, ErrorKind, FileInfo, Operation, Result, VirtualPath};
use bollard::query_parameters::{
    ContainerArchiveInfoOptionsBuilder, DownloadFromContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::TryStreamExt;

use crate::error;
use crate::sandbox::DockerSandbox;

/// Lists a directory's direct children (depth 1) or every file below it:
/// `$1` the directory, `$2` the find depth arguments. Each record is
/// `TYPE|SIZE|MTIME\n./NAME\0`. Exit 3: missing; 4: not a directory.
const LIST: &str = r#"cd -- "$1" 2>/dev/null || { [ -e "$1" ] && exit 4; exit 3; }
shift
find . -mindepth 1 "$@" -exec sh -c 'for f do stat -c "%F|%s|%Y" -- "$f" && printf "%s\0" "$f"; done' sh {} +"#;

/// Names of the regular files below `$1`, NUL-separated. Exit 3: missing;
/// 4: not a directory.
const FIND_FILES: &str = r#"cd -- "$1" 2>/dev/null || { [ -e "$1" ] && exit 4; exit 3; }
find . -mindepth 1 -type f -print0"#;

/// Stats the given names, relative to `$1`, one record each as in `LIST`.
const STAT_NAMES: &str = r#"cd -- "$1" || exit 3
shift
for f do stat -c "%F|%s|%Y" -- "$f" && printf "%s\0" "$f"; done"#;

/// Deletes `$1`; `$2` is 1 for recursive. Exit 3: missing; 5: a directory
/// without recursive.
const DELETE: &str = r#"[ -e "$1" ] || [ -L "$1" ] || exit 3
if [ -d "$1" ] && [ ! -L "$1" ]; then
  [ "$2" = 1 ] || exit 5
  rm -rf -- "$1"
else
  rm -f -- "$1"
fi"#;

/// Prints the canonical path of `$1`.
const RESOLVE: &str = r#"readlink -f -- "$1""#;

/// Go's `os.ModeDir` bit, as the archive API reports modes.
pub(crate) const GO_MODE_DIR: u32 = 1 << 31;

impl DockerSandbox {
    fn sh(&self, script: &str, args: impl IntoIterator<Item = String>) -> Vec<String> {
        let mut argv = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "sh".to_owned(),
        ];
        argv.extend(args);
        argv
    }

    /// `stat` through the archive API (one HEAD request).
    pub(crate) async fn stat_path(&self, path: &VirtualPath, op: Operation) -> Result<FileInfo> {
        let info = self.stat_raw(path, op).await?;
        let modified = info.modification_time.as_deref().and_then(parse_rfc3339);
        let entry = if info.file_mode & GO_MODE_DIR != 0 {
            FileInfo::dir(path.clone())
        } else {
            FileInfo::file(path.clone(), info.size.max(0) as u64)
        };
        Ok(entry.with_modified(modified))
    }

    /// The engine's stat of a path (one HEAD request, no process started).
    pub(crate) async fn stat_raw(
        &self,
        path: &VirtualPath,
        op: Operation,
    ) -> Result<bollard::container::PathStatResponse> {
        self.ensure_open(op)?;
        let target = self.host_path(path);
        let info = self
            .docker
            .get_container_archive_info(
                &self.container,
                Some(
                    ContainerArchiveInfoOptionsBuilder::new()
                        .path(&target)
                        .build(),
                ),
            )
            .await
            .map_err(|e| error::archive(op, path.as_str(), e))?;
        Ok(info)
    }

    /// Downloads the tar of `target` (a container path).
    async fn download_tar(&self, target: &str, vpath: &str, op: Operation) -> Result<Vec<u8>> {
        self.ensure_open(op)?;
        let chunks: Vec<Bytes> = self
            .docker
            .download_from_container(
                &self.container,
                Some(
                    DownloadFromContainerOptionsBuilder::new()
                        .path(target)
                        .build(),
                ),
            )
            .try_collect()
            .await
            .map_err(|e| error::archive(op, vpath, e))?;
        let mut tar = Vec::with_capacity(chunks.iter().map(Bytes::len).sum());
        for chunk in chunks {
            tar.extend_from_slice(&chunk);
        }
        Ok(tar)
    }

    pub(crate) async fn read_file(&self, path: &VirtualPath, op: Operation) -> Result<Vec<u8>> {
        let mut target = self.host_path(path);
        for _ in 0..2 {
            let tar = self.download_tar(&target, path.as_str(), op).await?;
            match first_entry(&tar).map_err(|e| e.with_path(path.as_str()).with_operation(op))? {
                Entry::File(bytes) => return Ok(bytes),
                Entry::Dir => return Err(Error::is_directory(path.as_str()).with_operation(op)),
                Entry::Symlink => target = self.resolve_inside(path, &target, op).await?,
            }
        }
        Err(Error::not_a_text_file(path.as_str()).with_operation(op))
    }

    /// Where the symlink `target` leads, when that is inside the work
    /// directory; a link leading out is `permission_denied`.
    async fn resolve_inside(
        &self,
        path: &VirtualPath,
        target: &str,
        op: Operation,
    ) -> Result<String> {
        let out = self
            .housekeeping(self.sh(RESOLVE, [target.to_owned()]))
            .await?;
        let resolved = String::from_utf8_lossy(&out.stdout)
            .trim_end_matches('\n')
            .to_owned();
        let root = format!("{}/", self.config.work_dir);
        if out.code == Some(0) && resolved.starts_with(&root) {
            Ok(resolved)
        } else if out.code == Some(0) {
            Err(Error::new(
                ErrorKind::PermissionDenied,
                format!("{path} is a symbolic link leading outside the sandbox's files"),
            )
            .with_path(path.as_str())
            .with_operation(op))
        } else {
            Err(Error::file_not_found(path.as_str()).with_operation(op))
        }
    }

    /// Writes several files with one upload and one rename pass; returns
    /// one outcome per item, in order.
    pub(crate) async fn write_batch(
        &self,
        items: Vec<(VirtualPath, Vec<u8>)>,
        op: Operation,
    ) -> Vec<Result<()>> {
        if let Err(e) = self.ensure_open(op) {
            return items.iter().map(|_| Err(e.clone())).collect();
        }
        if let Ok(mut cache) = self.edit_cache.lock() {
            // Edits re-read what any other write touched.
            for (path, _) in &items {
                cache.remove(path.as_str());
            }
        }
        let (uid, gid) = self.uid_gid;
        let mut builder = tar::Builder::new(Vec::new());
        let mut dirs_added = std::collections::BTreeSet::new();
        let mut pairs = Vec::with_capacity(items.len());
        let mut outcomes: Vec<Option<Result<()>>> = Vec::with_capacity(items.len());
        for (path, content) in &items {
            if path.is_root() {
                outcomes.push(Some(Err(Error::is_directory("/").with_operation(op))));
                continue;
            }
            let mut prefix = String::new();
            let segments: Vec<&str> = path.segments().collect();
            let parents = segments
                .split_last()
                .map_or(&[][..], |(_, parents)| parents);
            for segment in parents {
                prefix.push_str(segment);
                prefix.push('/');
                if dirs_added.insert(prefix.clone()) {
                    let mut header = tar::Header::new_gnu();
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_uid(uid);
                    header.set_gid(gid);
                    header.set_size(0);
                    header.set_mtime(now_secs());
                    if let Err(e) = builder.append_data(&mut header, &prefix, std::io::empty()) {
                        let e = Error::internal(format!("building the upload: {e}"));
                        return items
                            .iter()
                            .map(|_| Err(e.clone().with_operation(op)))
                            .collect();
                    }
                }
            }
            // Short, so that a 255-byte name still fits beside it.
            let temp = format!("{prefix}.agent-write-{}", uuid::Uuid::new_v4().simple());
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(0o644);
            header.set_uid(uid);
            header.set_gid(gid);
            header.set_size(content.len() as u64);
            header.set_mtime(now_secs());
            if let Err(e) = builder.append_data(&mut header, &temp, content.as_slice()) {
                outcomes.push(Some(Err(Error::internal(format!(
                    "building the upload: {e}"
                )))));
                continue;
            }
            pairs.push((
                format!("{}/{temp}", self.config.work_dir),
                self.host_path(path),
            ));
            outcomes.push(None);
        }
        if pairs.is_empty() {
            return outcomes.into_iter().map(|o| o.unwrap_or(Ok(()))).collect();
        }
        let tar = match builder.into_inner() {
            Ok(tar) => tar,
            Err(e) => {
                let e = Error::internal(format!("building the upload: {e}"));
                return items.iter().map(|_| Err(e.clone())).collect();
            }
        };
        let uploaded = self
            .docker
            .upload_to_container(
                &self.container,
                Some(
                    UploadToContainerOptionsBuilder::new()
                        .path(&self.config.work_dir)
                        .no_overwrite_dir_non_dir("true")
                        .build(),
                ),
                bollard::body_full(Bytes::from(tar)),
            )
            .await;
        if let Err(e) = uploaded {
            if items.len() == 1 {
                return vec![Err(error::archive(op, items[0].0.as_str(), e))];
            }
            // One bad item (say, a parent that is a file) spoils the whole
            // tar; write the items one by one so only it fails.
            let mut results = Vec::with_capacity(items.len());
            for (path, content) in items {
                let one = Box::pin(self.write_batch(vec![(path, content)], op)).await;
                results.extend(one);
            }
            return results;
        }
        let finished = self
            .rename_shell
            .rename_all(&self.docker, &self.container, &self.config.user, &pairs)
            .await;
        let letters: Vec<u8> = finished.as_ref().cloned().unwrap_or_default();
        let mut next_letter = letters.into_iter();
        items
            .iter()
            .zip(outcomes)
            .map(|((path, _), outcome)| match outcome {
                Some(done) => done,
                None => match (next_letter.next(), &finished) {
                    (Some(b'o'), _) => Ok(()),
                    (Some(b'd'), _) => Err(Error::is_directory(path.as_str()).with_operation(op)),
                    (_, Err(e)) => Err(e.clone().with_operation(op).with_path(path.as_str())),
                    _ => Err(Error::new(
                        ErrorKind::Internal,
                        format!("moving the uploaded {path} into place failed"),
                    )
                    .with_path(path.as_str())
                    .with_operation(op)),
                },
            })
            .collect()
    }

    /// Entries of a directory: its children (`recursive` false) or every
    /// file and directory below it.
    pub(crate) async fn list(&self, dir: &VirtualPath, op: Operation) -> Result<Vec<FileInfo>> {
        let args = [self.host_path(dir), "-maxdepth".into(), "1".into()];
        let out = self.housekeeping(self.sh(LIST, args)).await?;
        check_dir_exit(out.code, dir, op, &out.stderr)?;
        parse_records(&out.stdout, dir)
    }

    /// Paths (relative to `dir`) of every regular file below it.
    pub(crate) async fn find_files(&self, dir: &VirtualPath, op: Operation) -> Result<Vec<String>> {
        let out = self
            .housekeeping(self.sh(FIND_FILES, [self.host_path(dir)]))
            .await?;
        check_dir_exit(out.code, dir, op, &out.stderr)?;
        Ok(out
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| {
                let name = String::from_utf8_lossy(name);
                name.strip_prefix("./").unwrap_or(&name).to_owned()
            })
            .collect())
    }

    /// Facts about several files below `dir`, given relative to it.
    pub(crate) async fn stat_many(
        &self,
        dir: &VirtualPath,
        relative: &[String],
    ) -> Result<Vec<FileInfo>> {
        if relative.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = vec![self.host_path(dir)];
        args.extend(relative.iter().map(|r| format!("./{r}")));
        let out = self.housekeeping(self.sh(STAT_NAMES, args)).await?;
        parse_records(&out.stdout, dir)
    }

    /// Downloads every regular file below `dir` (or `dir` itself when it is
    /// a file), as (relative path, content); a file's relative path is its name.
    pub(crate) async fn download_tree(
        &self,
        dir: &VirtualPath,
        op: Operation,
    ) -> Result<(bool, Vec<(String, Vec<u8>)>)> {
        let tar = self
            .download_tar(&self.host_path(dir), dir.as_str(), op)
            .await?;
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut files = Vec::new();
        let mut top_is_dir = false;
        let entries = archive.entries().map_err(|e| bad_tar(op, e))?;
        for (index, entry) in entries.enumerate() {
            let mut entry = entry.map_err(|e| bad_tar(op, e))?;
            let kind = entry.header().entry_type();
            let name = entry
                .path()
                .map_err(|e| bad_tar(op, e))?
                .to_string_lossy()
                .into_owned();
            if index == 0 {
                top_is_dir = kind.is_dir();
            }
            if !kind.is_file() {
                continue;
            }
            // Names start with the searched directory's own name.
            let relative = match name.split_once('/') {
                Some((_, rest)) if top_is_dir => rest.trim_end_matches('/').to_owned(),
                _ => name.clone(),
            };
            let mut content = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut content)
                .map_err(|e| bad_tar(op, e))?;
            files.push((relative, content));
        }
        Ok((top_is_dir, files))
    }

    pub(crate) async fn delete_path(&self, path: &VirtualPath, recursive: bool) -> Result<()> {
        let op = Operation::Delete;
        if path.is_root() {
            return Err(Error::root_not_deletable());
        }
        if let Ok(mut cache) = self.edit_cache.lock() {
            cache.clear();
        }
        let flag = if recursive { "1" } else { "0" };
        let out = self
            .housekeeping(self.sh(DELETE, [self.host_path(path), flag.to_owned()]))
            .await?;
        match out.code {
            Some(0) => Ok(()),
            Some(3) => Err(Error::file_not_found(path.as_str()).with_operation(op)),
            Some(5) => Err(Error::is_directory(path.as_str())
                .with_message(format!(
                    "{path} is a directory; pass recursive = true to delete it and everything in it"
                ))
                .with_operation(op)),
            _ => Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "deleting {path} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            )
            .with_path(path.as_str())
            .with_operation(op)),
        }
    }
}

enum Entry {
    File(Vec<u8>),
    Dir,
    Symlink,
}

fn first_entry(tar: &[u8]) -> Result<Entry> {
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive
        .entries()
        .map_err(|e| bad_tar(Operation::ReadBytes, e))?;
    let Some(entry) = entries.next() else {
        return Err(Error::internal("the engine sent an empty archive"));
    };
    let mut entry = entry.map_err(|e| bad_tar(Operation::ReadBytes, e))?;
    let kind = entry.header().entry_type();
    if kind.is_dir() {
        Ok(Entry::Dir)
    } else if kind.is_symlink() {
        Ok(Entry::Symlink)
    } else if kind.is_file() {
        let mut content = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut content)
            .map_err(|e| bad_tar(Operation::ReadBytes, e))?;
        Ok(Entry::File(content))
    } else {
        Err(Error::new(
            ErrorKind::NotATextFile,
            "not a regular file (a device, pipe or socket)",
        ))
    }
}

fn bad_tar(op: Operation, e: std::io::Error) -> Error {
    Error::internal(format!("the engine sent an unreadable archive: {e}"))
        .with_operation(op)
        .with_source(e)
}

fn check_dir_exit(
    code: Option<i64>,
    dir: &VirtualPath,
    op: Operation,
    stderr: &[u8],
) -> Result<()> {
    match code {
        Some(0) => Ok(()),
        Some(3) => Err(Error::file_not_found(dir.as_str()).with_operation(op)),
        Some(4) => Err(Error::not_a_directory(dir.as_str()).with_operation(op)),
        _ => Err(Error::new(
            ErrorKind::Internal,
            format!(
                "listing {dir} failed: {}",
                String::from_utf8_lossy(stderr).trim()
            ),
        )
        .with_path(dir.as_str())
        .with_operation(op)),
    }
}

/// Parses `TYPE|SIZE|MTIME\n./NAME\0` records into entries under `dir`.
fn parse_records(stdout: &[u8], dir: &VirtualPath) -> Result<Vec<FileInfo>> {
    let mut entries = Vec::new();
    for record in stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let Some(newline) = record.iter().position(|b| *b == b'\n') else {
            continue;
        };
        let meta = String::from_utf8_lossy(&record[..newline]);
        let name = String::from_utf8_lossy(&record[newline + 1..]);
        let name = name.strip_prefix("./").unwrap_or(&name);
        let mut fields = meta.split('|');
        let (Some(kind), Some(size), Some(mtime)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // A name that is not a valid virtual path cannot be addressed; skip it.
        let Ok(path) = dir.join(name) else { continue };
        let modified = mtime
            .parse::<u64>()
            .ok()
            .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        let info = if kind == "directory" {
            FileInfo::dir(path)
        } else {
            FileInfo::file(path, size.parse().unwrap_or(0))
        };
        entries.push(info.with_modified(modified));
    }
    entries.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
    Ok(entries)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses the engine's `2006-01-02T15:04:05.999999999Z07:00` times.
fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let (date, rest) = text.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let time_end = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(time_end);
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (parts.next()??, parts.next()??, parts.next()??);
    let offset = match zone.as_bytes().first() {
        Some(b'+') | Some(b'-') => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (oh, om) = zone[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
        _ => 0,
    };
    // Days from the civil date (proleptic Gregorian), after H. Hinnant.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss - offset;
    let nanos: u32 = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_times_parse_to_the_right_instant() {
        let t = parse_rfc3339("2024-02-29T12:34:56.5Z").unwrap();
        let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!(secs, Duration::new(1_709_210_096, 500_000_000));
        let shifted = parse_rfc3339("2024-02-29T13:34:56.5+01:00").unwrap();
        assert_eq!(t, shifted);
        assert!(parse_rfc3339("yesterday").is_none());
    }

    #[test]
    fn records_become_sorted_entries_with_odd_names_kept_whole() {
        let dir = VirtualPath::parse("/d").unwrap();
        let raw =
            b"regular file|3|10\n./b c|x\0directory|4096|20\n./a\0regular file|1|5\n./new\nline\0";
        let entries = parse_records(raw, &dir).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(names, ["/d/a", "/d/b c|x"]);
        assert!(entries[0].is_dir);
        assert_eq!(entries[1].size, Some(3));
    }
}
