//! A directory of the machine's own file system as one side of a comparison:
//! the tree an image was made from (`isodiff nix-store.squashfs ./store`), or a
//! second tree.
//!
//! Every entry is read as an image's is, field by field, from `lstat`
//! (kind, permission bits, owner, group, modification time to the nanosecond,
//! link count, device number, size), `readlink` (symbolic link targets, as
//! bytes) and the extended attributes (`llistxattr`/`lgetxattr`, through the
//! `xattr` crate; a file system without them has none). Symbolic links are
//! never followed, but the directory named as the input may be one.
//!
//! # What is left out, and why
//!
//! - **atime and ctime.** Reading a file to compare it may change its access
//!   time, and no tool can set a change time: neither says anything about how
//!   a tree and an image made from it agree. Both are `None` (not stored), as
//!   squashfs has them.
//! - **Image facts.** A directory has none; the diff compares none against it
//!   (and no format: it stands for the files an image holds).
//!
//! # Times
//!
//! Times carry [`Precision::Nanoseconds`]. Compared with an image's time, the
//! directory's is cut to what that format stores ([`Timestamp::same_as`]):
//! mksquashfs keeps whole seconds, so a file changed at 12:00:00.7 and stored
//! as 12:00:00 is no difference. Two directories compare every digit.
//!
//! # Content
//!
//! A file's bytes are a read-only map ([`Content::Mapped`]) made when the diff
//! asks for them and dropped with the content: nothing is read ahead, nothing
//! is written, and a tree of a million files never holds a million maps. A
//! file that cannot be opened is a problem of that entry only. A file in the
//! tree that is an image (`./tree/boot/efi.img`) is opened as any nested image
//! is.
//!
//! # Untrusted trees
//!
//! A tree can loop only through a bind mount of one of its own directories:
//! each directory's `(device, inode)` is checked against its ancestors', and a
//! loop is an error of that directory ([`Error::Loop`]). Depth and entry
//! count have the budgets of any image ([`Limits`]). An entry that vanishes
//! or cannot be read between the listing and its `lstat` is an error of its
//! directory; the rest still lists.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::map::MappedFile;
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};
use crate::time::{Precision, Timestamp};

/// One entry handed out, so its [`NodeId`] (its index) leads back to it.
struct Node {
    path: PathBuf,
    kind: EntryKind,
    /// The directory it was listed in (the root: itself).
    parent: usize,
    depth: u32,
    /// `(st_dev, st_ino)`: the identity a bind mount loop repeats.
    id: (u64, u64),
}

/// A directory tree read as a file system.
pub struct DirFs {
    root_meta: Meta,
    /// Every entry listed so far; the root is node 0. Listing appends, so a
    /// handle stays valid while the diff walks other directories in parallel.
    nodes: RwLock<Vec<Node>>,
    limits: Limits,
    /// Entries listed so far, against [`Limits::max_entries`].
    listed: AtomicU64,
    /// The directories listed once: listing one again (the diff counts what
    /// lies below a directory only one side has) counts nothing new.
    seen: Mutex<HashSet<usize>>,
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_owned(),
        source: Arc::new(e),
    }
}

impl DirFs {
    /// Opens the directory at `path` (a symbolic link to one is followed).
    /// Nothing below it is read until it is listed.
    pub fn open(path: &Path, limits: &Limits) -> Result<DirFs> {
        let md = std::fs::metadata(path).map_err(|e| io(path, e))?;
        if !md.is_dir() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
                what: "not a directory",
            });
        }
        let (root_meta, _) = meta(path, &md);
        Ok(DirFs {
            root_meta,
            nodes: RwLock::new(vec![Node {
                path: path.to_owned(),
                kind: EntryKind::Dir,
                parent: 0,
                depth: 0,
                id: (md.dev(), md.ino()),
            }]),
            limits: limits.clone(),
            listed: AtomicU64::new(0),
            seen: Mutex::new(HashSet::new()),
        })
    }

    /// The path, kind and depth of a node, checked.
    fn node(&self, id: NodeId) -> Result<(PathBuf, EntryKind, u32)> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        usize::try_from(id.0)
            .ok()
            .and_then(|i| nodes.get(i))
            .map(|n| (n.path.clone(), n.kind, n.depth))
            .ok_or_else(|| Error::malformed("directory node", id.0, "no such node"))
    }

    /// The loop `dir` closes, if one of its ancestors is the same directory.
    fn loop_at(&self, dir: usize) -> Option<Error> {
        let nodes = self.nodes.read().unwrap_or_else(|e| e.into_inner());
        let me = nodes.get(dir)?;
        let mut at = me.parent;
        // The root is its own parent: stop there, after checking it.
        for _ in 0..=me.depth {
            let up = nodes.get(at)?;
            if at != dir && up.id == me.id {
                return Some(Error::Loop {
                    ancestor: up.path.display().to_string(),
                    child: me.path.display().to_string(),
                });
            }
            if at == 0 {
                break;
            }
            at = up.parent;
        }
        None
    }
}

/// A device number's major and minor, as glibc's `gnu_dev_major`/`minor`
/// split it.
fn major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

fn kind_of(t: std::fs::FileType) -> EntryKind {
    if t.is_dir() {
        EntryKind::Dir
    } else if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_char_device() {
        EntryKind::CharDevice
    } else if t.is_block_device() {
        EntryKind::BlockDevice
    } else if t.is_fifo() {
        EntryKind::Fifo
    } else if t.is_socket() {
        EntryKind::Socket
    } else {
        EntryKind::File
    }
}

/// The metadata of the entry at `path` from its `lstat` (`md`), its link
/// target and its extended attributes; with the problems met reading the
/// last two (the entry is still listed).
fn meta(path: &Path, md: &std::fs::Metadata) -> (Meta, Vec<Error>) {
    let kind = kind_of(md.file_type());
    let mut m = Meta::new(kind);
    let mut errors = Vec::new();
    m.mode = Some(md.mode() & 0o7777);
    m.uid = Some(md.uid());
    m.gid = Some(md.gid());
    m.mtime = Some(Timestamp {
        secs: md.mtime(),
        // The kernel keeps it below 10^9; a file system that did not would
        // make a time that prints oddly, not a panic.
        nanos: u32::try_from(md.mtime_nsec()).unwrap_or(0),
        offset_minutes: None,
        precision: Precision::Nanoseconds,
    });
    m.nlink = u32::try_from(md.nlink()).ok();
    match kind {
        EntryKind::File => m.size = md.len(),
        EntryKind::CharDevice | EntryKind::BlockDevice => m.rdev = Some(major_minor(md.rdev())),
        EntryKind::Symlink => match std::fs::read_link(path) {
            Ok(t) => m.target = Some(t.as_os_str().as_bytes().to_vec()),
            Err(e) => errors.push(io(path, e)),
        },
        _ => {}
    }
    match xattrs(path) {
        Ok(x) => m.xattrs = x,
        Err(e) => errors.push(e),
    }
    (m, errors)
}

/// The extended attributes of `path` (not followed if a link), sorted by
/// name. A file system or platform without them has none.
fn xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let unsupported = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::Unsupported || e.raw_os_error() == Some(95)
        // EOPNOTSUPP on Linux
    };
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return Ok(Vec::new()),
        Err(e) => return Err(io(path, e)),
    };
    let mut out = Vec::new();
    for name in names {
        // An attribute removed between the two calls is simply not there.
        match xattr::get(path, &name) {
            Ok(Some(value)) => out.push((name.as_bytes().to_vec(), value)),
            Ok(None) => {}
            Err(e) => return Err(io(path, e)),
        }
    }
    out.sort();
    Ok(out)
}

impl Filesystem for DirFs {
    fn format(&self) -> Format {
        Format::Directory
    }

    fn facts(&self) -> &[Fact] {
        &[]
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.root_meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        let (path, kind, depth) = self.node(dir)?;
        if kind != EntryKind::Dir {
            return Err(Error::malformed("directory node", dir.0, "not a directory"));
        }
        if depth >= self.limits.max_depth {
            return Err(Error::LimitExceeded {
                limit: "directory depth",
                value: u64::from(depth) + 1,
                max: u64::from(self.limits.max_depth),
            });
        }
        let index = usize::try_from(dir.0).unwrap_or(usize::MAX);
        if let Some(e) = self.loop_at(index) {
            return Err(e);
        }
        let mut listing = Listing::default();
        let mut found: Vec<(Vec<u8>, PathBuf, std::fs::Metadata)> = Vec::new();
        for item in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    listing.errors.push(io(&path, e));
                    continue;
                }
            };
            let child = item.path();
            match std::fs::symlink_metadata(&child) {
                Ok(md) => found.push((item.file_name().as_bytes().to_vec(), child, md)),
                Err(e) => listing.errors.push(io(&child, e)),
            }
        }
        let first = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index);
        let new = if first { found.len() as u64 } else { 0 };
        let count = self.listed.fetch_add(new, Ordering::Relaxed) + new;
        if count > self.limits.max_entries {
            return Err(Error::LimitExceeded {
                limit: "entries per image",
                value: count,
                max: self.limits.max_entries,
            });
        }
        found.sort_by(|x, y| x.0.cmp(&y.0));
        let mut new_nodes = Vec::with_capacity(found.len());
        for (name, child, md) in found {
            let (meta, errors) = meta(&child, &md);
            listing.errors.extend(errors);
            new_nodes.push((
                Node {
                    path: child,
                    kind: meta.kind,
                    parent: index,
                    depth: depth + 1,
                    id: (md.dev(), md.ino()),
                },
                name,
                meta,
            ));
        }
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        for (node, name, meta) in new_nodes {
            let id = NodeId(nodes.len() as u64);
            nodes.push(node);
            listing.entries.push(Entry {
                name,
                node: id,
                meta,
                attrs: Vec::new(),
            });
        }
        Ok(listing)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let (path, kind, _) = self.node(file)?;
        if kind != EntryKind::File {
            return Err(Error::malformed(
                "directory node",
                file.0,
                "not a regular file",
            ));
        }
        match MappedFile::open(&path) {
            Ok(map) => Ok(Content::Mapped(Arc::new(map))),
            // Nothing to map: the content is no bytes.
            Err(Error::EmptyFile { .. }) => Ok(Content::Slices(Vec::new())),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_glibc_does() {
        // makedev(8, 1), and makedev(0x1005, 0x10001) by glibc's formula
        // (high major bits from bit 32, high minor bits from bit 20).
        assert_eq!(major_minor(0x801), (8, 1));
        assert_eq!(major_minor(0x1000_1000_0501), (0x1005, 0x10001));
    }

    #[test]
    fn a_tree_lists_sorted_with_its_fields() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("isodiff-dirfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let made = (|| -> std::io::Result<()> {
            std::fs::create_dir_all(dir.join("sub"))?;
            std::fs::write(dir.join("b.txt"), b"hello")?;
            std::fs::write(dir.join("empty"), b"")?;
            std::os::unix::fs::symlink("b.txt", dir.join("a-link"))
        })();
        let result = (|| {
            made.map_err(|e| io(&dir, e))?;
            let fs = DirFs::open(&dir, &Limits::default())?;
            let l = fs.children(fs.root())?;
            assert!(l.errors.is_empty(), "{:?}", l.errors);
            let names: Vec<&[u8]> = l.entries.iter().map(|e| e.name.as_slice()).collect();
            assert_eq!(names, [&b"a-link"[..], b"b.txt", b"empty", b"sub"]);
            let link = &l.entries[0].meta;
            assert_eq!(link.kind, EntryKind::Symlink);
            assert_eq!(link.target.as_deref(), Some(&b"b.txt"[..]));
            let file = &l.entries[1];
            assert_eq!(file.meta.size, 5);
            assert_eq!(
                file.meta.mtime.map(|t| t.precision),
                Some(Precision::Nanoseconds)
            );
            let c = fs.content(file.node)?;
            assert_eq!(c.contiguous(100)?.as_ref(), b"hello");
            assert!(fs.content(l.entries[2].node)?.is_empty());
            assert!(
                fs.content(l.entries[3].node).is_err(),
                "a directory has no content"
            );
            assert!(fs.children(l.entries[3].node)?.entries.is_empty());
            // Listed again, the root counts no new entries against the budget.
            let tight = DirFs::open(&dir, &Limits::default().max_entries(4))?;
            for _ in 0..3 {
                assert_eq!(tight.children(tight.root())?.entries.len(), 4);
            }
            // A file gone (or unreadable) after its listing: an error of that
            // entry, naming it, not of the tree.
            std::fs::remove_file(dir.join("b.txt")).map_err(|e| io(&dir, e))?;
            match fs.content(file.node) {
                Err(Error::Io { path, .. }) => assert_eq!(path, dir.join("b.txt")),
                other => panic!("{other:?}"),
            }
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }
}
