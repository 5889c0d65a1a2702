//! A compact, versioned binary form of the tree, so that a new process can
//! resume a session's files.
//!
//! Layout (all integers little-endian): the magic `AGBSTATE`, a `u32`
//! version, a `u64` directory count, then each directory as (path, mtime);
//! a `u64` file count, then each file as (path, mtime, `u64` length, bytes).
//! A path is a `u32` length and UTF-8 bytes; a time is `u64` seconds and
//! `u32` nanoseconds since the Unix epoch.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backend_core::{Error, ErrorKind, Operation, Result, VirtualPath};

use crate::tree::Tree;

const MAGIC: &[u8; 8] = b"AGBSTATE";
const VERSION: u32 = 1;

pub(crate) fn encode(tree: &Tree) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tree.used_bytes as usize);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(tree.dirs.len() as u64).to_le_bytes());
    for (path, dir) in &tree.dirs {
        put_str(&mut out, path.as_str());
        put_time(&mut out, dir.modified);
    }
    out.extend_from_slice(&(tree.files.len() as u64).to_le_bytes());
    for (path, file) in &tree.files {
        put_str(&mut out, path.as_str());
        put_time(&mut out, file.modified);
        out.extend_from_slice(&(file.content.len() as u64).to_le_bytes());
        out.extend_from_slice(&file.content);
    }
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.extend_from_slice(&d.as_secs().to_le_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

fn corrupt(why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("the snapshot is not valid: {why}"),
    )
    .with_operation(Operation::Snapshot)
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < n {
            return Err(corrupt("it ends early"));
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn path(&mut self) -> Result<VirtualPath> {
        let len = self.u32()? as usize;
        let raw =
            std::str::from_utf8(self.take(len)?).map_err(|_| corrupt("a path is not UTF-8"))?;
        let path =
            VirtualPath::parse(raw).map_err(|_| corrupt("a path is not a valid virtual path"))?;
        if path.as_str() != raw {
            return Err(corrupt("a path is not normalised"));
        }
        Ok(path)
    }

    fn time(&mut self) -> Result<SystemTime> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return Err(corrupt("a time has too many nanoseconds"));
        }
        UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .ok_or_else(|| corrupt("a time is out of range"))
    }
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Tree> {
    let mut r = Reader { bytes };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(corrupt(
            "it does not start with the state backend's magic bytes",
        ));
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(corrupt(&format!(
            "version {version} is not supported (expected {VERSION})"
        )));
    }
    let mut tree = Tree::default();
    let dir_count = r.u64()?;
    for _ in 0..dir_count {
        let path = r.path()?;
        let modified = r.time()?;
        if tree.files.contains_key(path.as_str()) {
            return Err(corrupt("a path is both a file and a directory"));
        }
        tree.check_ancestors(&path)
            .map_err(|_| corrupt("a directory lies under a file"))?;
        // Linking through a placeholder file name creates the chain of
        // parents; the directory node itself is then inserted.
        if let Some(parent) = path.parent() {
            ensure_dir_chain(&mut tree, &parent, &path, modified);
        }
        tree.dirs
            .entry(path.clone())
            .or_insert_with(|| crate::tree::DirNode {
                children: Default::default(),
                modified,
            })
            .modified = modified;
    }
    let file_count = r.u64()?;
    for _ in 0..file_count {
        let path = r.path()?;
        let modified = r.time()?;
        let len = usize::try_from(r.u64()?).map_err(|_| corrupt("a file is too large"))?;
        let content = Arc::new(r.take(len)?.to_vec());
        if path.is_root() || tree.dirs.contains_key(path.as_str()) {
            return Err(corrupt("a path is both a file and a directory"));
        }
        tree.check_ancestors(&path)
            .map_err(|_| corrupt("a file lies under a file"))?;
        tree.put_file(&path, content, modified);
    }
    if !r.bytes.is_empty() {
        return Err(corrupt("it has trailing bytes"));
    }
    Ok(tree)
}

fn ensure_dir_chain(
    tree: &mut Tree,
    parent: &VirtualPath,
    child: &VirtualPath,
    modified: SystemTime,
) {
    let mut child = child.clone();
    let mut parent = Some(parent.clone());
    while let Some(p) = parent {
        let dir = tree
            .dirs
            .entry(p.clone())
            .or_insert_with(|| crate::tree::DirNode {
                children: Default::default(),
                modified,
            });
        if !dir
            .children
            .insert(child.file_name().unwrap_or_default().to_owned())
        {
            break;
        }
        parent = p.parent();
        child = p;
    }
}
