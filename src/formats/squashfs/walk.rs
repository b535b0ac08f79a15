//! The walk of the directory tree into a tree of entries, done once at open time.

use std::collections::HashMap;

use super::dir;
use super::inode::{self, Body, FileLayout, Inode};
use super::metadata::{Reader, Table};
use super::xattr::Xattrs;
use crate::error::{Error, Result};
use crate::formats::tree;
use crate::limits::{check, Limits};
use crate::model::key::Attr;
use crate::model::{Entry, EntryField, EntryKind, Fact, Follows, Meta, NodeId, Value};

/// How an inode is stored (`basic file`, `extended dir`, ...).
pub(crate) const INODE_TYPE: Attr = Attr::new("squashfs.inode_type");
use crate::time::Timestamp;

/// Most bytes of xattr names and values handed out for one image. Sets are shared
/// between inodes in the image but copied into every entry; this keeps a small image
/// whose inodes all point to one large set from filling memory.
const MAX_XATTR_BYTES: u64 = 256 << 20;

/// One entry of the tree.
///
/// Kept as the inode stores it: the entry ([`Node::entry`]) and its facts
/// ([`Node::attrs`]) are made when its directory is listed. Made for every
/// entry of both images and held for the whole comparison, the facts were
/// two thirds of a node (nine of them, 88 bytes each, and a type name on the
/// heap), and a listed entry's metadata (three times of 24 bytes, all its
/// optional fields) is twice what squashfs stores.
#[derive(Debug)]
pub(crate) struct Node {
    /// Its name in its directory (empty for the root).
    pub name: Box<[u8]>,
    /// Its metadata.
    pub stored: Stored,
    /// Children (indices into the tree), sorted by name.
    pub children: Box<[u32]>,
    /// Problems met while reading this directory.
    pub errors: Vec<Error>,
    /// Where a regular file's data is described.
    pub file: Option<FileLayout>,
    /// The inode's number and where it is (also among the entry's facts,
    /// which the byte layout would otherwise search for every entry).
    pub number: u32,
    pub inode_ref: u64,
    /// Where a directory's listing is.
    pub listing: Option<inode::DirLayout>,
    /// The inode's type (basic or extended, and the kind).
    pub type_code: u16,
    /// The inode's index into the xattr id table.
    pub xattr: Option<u32>,
    parent: u32,
}

/// An entry's metadata as squashfs stores it, made into a [`Meta`] when the
/// entry is listed. `None` where the inode could not be read (an unreadable
/// root) or an id is not in the id table.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    kind: EntryKind,
    mode: Option<u16>,
    uid: Option<u32>,
    gid: Option<u32>,
    /// Whole seconds, as squashfs stores them.
    mtime: Option<u32>,
    nlink: Option<u32>,
    size: u64,
    special: Special,
    xattrs: Option<Box<[Xattr]>>,
}

/// An extended attribute: name and value.
type Xattr = (Vec<u8>, Vec<u8>);

/// A symbolic link's target or a device's number.
#[derive(Debug, Clone)]
enum Special {
    None,
    Target(Box<[u8]>),
    Device((u32, u32)),
}

impl Stored {
    /// Nothing known but the kind.
    fn new(kind: EntryKind) -> Stored {
        Stored {
            kind,
            mode: None,
            uid: None,
            gid: None,
            mtime: None,
            nlink: None,
            size: 0,
            special: Special::None,
            xattrs: None,
        }
    }

    /// The metadata as listed.
    pub(crate) fn meta(&self) -> Meta {
        let mut meta = Meta::new(self.kind);
        meta.mode = self.mode.map(|m| u32::from(m) & 0o7777);
        meta.uid = self.uid;
        meta.gid = self.gid;
        meta.mtime = self.mtime.map(|t| Timestamp::from_unix(i64::from(t)));
        meta.nlink = self.nlink;
        meta.size = self.size;
        match &self.special {
            Special::None => {}
            Special::Target(t) => meta.target = Some(t.to_vec()),
            Special::Device(rdev) => meta.rdev = Some(*rdev),
        }
        if let Some(x) = &self.xattrs {
            meta.xattrs = x.to_vec();
        }
        meta
    }
}

impl Node {
    /// The entry as listed, this node being number `id`.
    pub(crate) fn entry(&self, id: u32) -> Entry {
        Entry {
            name: self.name.to_vec(),
            node: NodeId(u64::from(id)),
            meta: self.stored.meta(),
            attrs: self.attrs(),
        }
    }

    /// The inode's facts, in the order they are listed: where it is and how it
    /// is stored, and where its listing or data is.
    pub(crate) fn attrs(&self) -> Vec<Fact> {
        let mut attrs = Vec::with_capacity(9);
        attrs.extend([
            Fact::layout("squashfs.inode", Value::Int(u64::from(self.number))),
            Fact::layout("squashfs.inode_ref", Value::Int(self.inode_ref)),
            // Basic or extended: how the inode is stored, which follows what
            // it holds (xattrs, links, sparse blocks): not a difference of its
            // own when one of those differs.
            Fact::packing(
                INODE_TYPE,
                Value::Text(inode::type_name(self.type_code).to_owned()),
            )
            .follows(shape(self.stored.kind)),
        ]);
        if let Some(d) = &self.listing {
            attrs.push(Fact::layout(
                "squashfs.dir_start",
                Value::Int(u64::from(d.block)),
            ));
            attrs.push(Fact::layout(
                "squashfs.dir_offset",
                Value::Int(u64::from(d.offset)),
            ));
            attrs.push(Fact::layout(
                "squashfs.dir_size",
                Value::Int(u64::from(d.file_size)),
            ));
            attrs.push(Fact::layout(
                "squashfs.parent_inode",
                Value::Int(u64::from(d.parent)),
            ));
            if d.index_count > 0 {
                attrs.push(Fact::layout(
                    "squashfs.dir_index_count",
                    Value::Int(u64::from(d.index_count)),
                ));
            }
        }
        if let Some(f) = &self.file {
            attrs.push(Fact::layout(
                "squashfs.blocks_start",
                Value::Int(f.blocks_start),
            ));
            // Full blocks and sparse ones: they follow the block size and
            // the file's data, its size included (a short file of zeros is
            // one hole, not a fragment's tail).
            attrs.push(
                Fact::packing("squashfs.blocks", Value::Int(f.block_count))
                    .follows(Follows::Content),
            );
            if let Some((index, offset)) = f.fragment {
                attrs.push(Fact::layout(
                    "squashfs.fragment",
                    Value::Int(u64::from(index)),
                ));
                attrs.push(Fact::layout(
                    "squashfs.fragment_offset",
                    Value::Int(u64::from(offset)),
                ));
            }
            if let Some(sparse) = f.sparse {
                // Only an extended inode stores it: it comes and goes
                // with the inode's shape.
                attrs.push(
                    Fact::packing("squashfs.sparse", Value::Int(sparse))
                        .follows(shape(self.stored.kind)),
                );
            }
        }
        if let Some(index) = self.xattr {
            attrs.push(Fact::layout(
                "squashfs.xattr_index",
                Value::Int(u64::from(index)),
            ));
        }
        attrs
    }
}

/// The whole tree, node 0 being the root.
#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
}

impl Tree {
    /// A tree of only its root, which cannot be read (its inode, or a table
    /// every entry needs): `error` says why.
    pub(crate) fn unreadable(root_ref: u64, error: Error) -> Tree {
        Tree {
            nodes: vec![Node {
                name: Box::default(),
                stored: Stored::new(EntryKind::Dir),
                children: Box::default(),
                errors: vec![error],
                file: None,
                number: 0,
                inode_ref: root_ref,
                listing: None,
                type_code: 0,
                xattr: None,
                parent: 0,
            }],
        }
    }
}

/// What the walk needs to read entries.
pub(crate) struct Walker<'r, 'a> {
    pub reader: &'r Reader<'a>,
    pub inode_table: Table,
    pub dir_table: Table,
    pub block_size: u32,
    /// The id table; `None` when it could not be read (owners are then unknown,
    /// said once on the root rather than for every entry).
    pub ids: Option<&'r [u32]>,
    pub xattrs: Option<Xattrs>,
    pub limits: &'r Limits,
    xattr_bytes: u64,
}

/// A directory still to be read.
struct Pending {
    node: u32,
    layout: inode::DirLayout,
    depth: u32,
}

impl<'r, 'a> Walker<'r, 'a> {
    pub(crate) fn new(
        reader: &'r Reader<'a>,
        inode_table: Table,
        dir_table: Table,
        block_size: u32,
        ids: Option<&'r [u32]>,
        xattrs: Option<Xattrs>,
        limits: &'r Limits,
    ) -> Walker<'r, 'a> {
        Walker {
            reader,
            inode_table,
            dir_table,
            block_size,
            ids,
            xattrs,
            limits,
            xattr_bytes: 0,
        }
    }

    /// Reads the tree under the root inode at `root_ref`, room made for
    /// `expected` entries. Fails only when the root itself cannot be read;
    /// everything below is reported per directory.
    pub(crate) fn walk(
        mut self,
        root_ref: u64,
        root_errors: Vec<Error>,
        expected: usize,
    ) -> Result<Tree> {
        let root = inode::read(self.reader, self.inode_table, root_ref, self.block_size)?;
        let Body::Dir(layout) = root.body else {
            return Err(Error::malformed(
                "inode",
                self.inode_table.start + (root_ref >> 16),
                format!(
                    "the root inode {root_ref:#x} is a {}, not a directory",
                    root.kind.name()
                ),
            ));
        };
        let mut errors = root_errors;
        let (stored, file) = self.build(root_ref, &root, &mut errors);
        let mut tree = Tree {
            nodes: vec![Node {
                name: Box::default(),
                stored,
                children: Box::default(),
                errors,
                file,
                number: root.number,
                inode_ref: root_ref,
                listing: Some(layout),
                type_code: root.type_code,
                xattr: root.xattr,
                parent: 0,
            }],
        };
        // Made whole at once: grown by doubling, the arena held its old and
        // new copies at once (a third more than the tree at its peak) and
        // kept up to twice its nodes.
        tree.nodes.reserve_exact(expected.saturating_sub(1));
        let mut listed: HashMap<u64, u32> = HashMap::new();
        listed.insert(root_ref, 0);
        let mut stack = vec![Pending {
            node: 0,
            layout,
            depth: 0,
        }];
        while let Some(dir) = stack.pop() {
            let budget = (tree.nodes.len() as u64, self.limits.max_entries);
            let (raw, mut errors) = dir::read(
                self.reader,
                self.dir_table,
                dir.layout.block,
                dir.layout.offset,
                dir.layout.file_size,
                budget,
            );
            let mut children: Vec<u32> = Vec::with_capacity(raw.len());
            let mut stop = false;
            for d in raw {
                let id = tree.nodes.len() as u32;
                if let Err(e) = check(
                    "entries per image",
                    u64::from(id) + 1,
                    self.limits.max_entries,
                ) {
                    errors.push(e);
                    stop = true;
                    break;
                }
                let inode = match inode::read(
                    self.reader,
                    self.inode_table,
                    d.inode_ref,
                    self.block_size,
                ) {
                    Ok(i) => i,
                    Err(e) => {
                        errors.push(about(e, &d.name));
                        continue;
                    }
                };
                let mut entry_errors = Vec::new();
                if inode::basic_kind(d.type_code) != Some(inode.kind) {
                    entry_errors.push(Error::malformed(
                        "directory entry",
                        d.at.0,
                        format!(
                            "says type {}, its inode {:#x} is a {}",
                            d.type_code,
                            d.inode_ref,
                            inode.type_name()
                        ),
                    ));
                }
                if d.inode_number != inode.number {
                    entry_errors.push(Error::malformed(
                        "directory entry",
                        d.at.0,
                        format!(
                            "says inode number {}, its inode {:#x} has {}",
                            d.inode_number, d.inode_ref, inode.number
                        ),
                    ));
                }
                let (stored, file) = self.build(d.inode_ref, &inode, &mut entry_errors);
                errors.extend(entry_errors.into_iter().map(|e| about(e, &d.name)));
                let listing = match inode.body {
                    Body::Dir(layout) => Some(layout),
                    _ => None,
                };
                if let Some(layout) = listing {
                    let child_path = || {
                        format!(
                            "{}/{}",
                            tree.path(dir.node).trim_end_matches('/'),
                            String::from_utf8_lossy(&d.name)
                        )
                    };
                    if let Some(ancestor) = tree.ancestor_with_ref(dir.node, d.inode_ref) {
                        errors.push(Error::Loop {
                            ancestor: tree.path(ancestor),
                            child: child_path(),
                        });
                    } else if let Some(&other) = listed.get(&d.inode_ref) {
                        errors.push(Error::malformed(
                            "directory entry",
                            d.at.0,
                            format!(
                                "{} is the directory {} again (directories have one name)",
                                child_path(),
                                tree.path(other)
                            ),
                        ));
                    } else if dir.depth + 1 > self.limits.max_depth {
                        errors.push(Error::LimitExceeded {
                            limit: "directory depth",
                            value: u64::from(dir.depth) + 1,
                            max: u64::from(self.limits.max_depth),
                        });
                    } else {
                        listed.insert(d.inode_ref, id);
                        stack.push(Pending {
                            node: id,
                            layout,
                            depth: dir.depth + 1,
                        });
                    }
                }
                tree.nodes.push(Node {
                    name: d.name.into_boxed_slice(),
                    stored,
                    children: Box::default(),
                    errors: Vec::new(),
                    file,
                    number: inode.number,
                    inode_ref: d.inode_ref,
                    listing,
                    type_code: inode.type_code,
                    xattr: inode.xattr,
                    parent: dir.node,
                });
                children.push(id);
            }
            let nodes = &tree.nodes;
            children.sort_by(|&a, &b| nodes[a as usize].name.cmp(&nodes[b as usize].name));
            // Two entries of one name cannot both be compared; keep the first.
            children.dedup_by(|later, first| {
                let same = nodes[*later as usize].name == nodes[*first as usize].name;
                if same {
                    errors.push(Error::malformed(
                        "directory listing",
                        dir_start(&self.dir_table, &dir.layout),
                        format!(
                            "name {:?} appears twice",
                            String::from_utf8_lossy(&nodes[*later as usize].name)
                        ),
                    ));
                }
                same
            });
            let parent = &mut tree.nodes[dir.node as usize];
            parent.children = children.into_boxed_slice();
            parent.errors.extend(errors);
            if stop {
                break;
            }
        }
        // Grown by pushing, the arena holds up to twice its nodes; it lives
        // as long as the image.
        tree.nodes.shrink_to_fit();
        Ok(tree)
    }

    /// Turns an inode into an entry's metadata. Problems with its ids or
    /// xattrs go to `errors`; the metadata is still built from the rest.
    fn build(
        &mut self,
        iref: u64,
        inode: &Inode,
        errors: &mut Vec<Error>,
    ) -> (Stored, Option<FileLayout>) {
        let at = self.inode_table.start + (iref >> 16);
        let mut meta = Stored::new(inode.kind);
        meta.mode = Some(inode.mode);
        let id = |index: u16, what: &str, errors: &mut Vec<Error>| {
            let ids = self.ids?;
            match ids.get(usize::from(index)) {
                Some(&v) => Some(v),
                None => {
                    errors.push(Error::malformed(
                        "inode",
                        at,
                        format!(
                            "{what} index {index} is past the id table's {} entries",
                            ids.len()
                        ),
                    ));
                    None
                }
            }
        };
        meta.uid = id(inode.uid_index, "uid", errors);
        meta.gid = id(inode.gid_index, "gid", errors);
        meta.mtime = Some(inode.mtime);
        meta.nlink = Some(inode.nlink);
        let mut file = None;
        match &inode.body {
            Body::File(f) => {
                meta.size = f.size;
                file = Some(*f);
            }
            Body::Symlink(target) => meta.special = Special::Target(target.clone().into()),
            Body::Device(rdev) => meta.special = Special::Device(split_dev(*rdev)),
            Body::Dir(_) | Body::Ipc => {}
        }
        if let Some(index) = inode.xattr {
            match self.xattr_set(index) {
                Ok(set) if !set.is_empty() => meta.xattrs = Some(set.into()),
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        (meta, file)
    }

    fn xattr_set(&mut self, index: u32) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let Some(x) = &self.xattrs else {
            return Err(Error::malformed(
                "inode",
                self.inode_table.start,
                format!("xattr index {index} but the image has no xattr table"),
            ));
        };
        let set = x.get(self.reader, index)?;
        let bytes: u64 = set.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
        self.xattr_bytes += bytes;
        check("xattr bytes per image", self.xattr_bytes, MAX_XATTR_BYTES)?;
        Ok(set)
    }
}

impl Tree {
    fn ancestor_with_ref(&self, node: u32, iref: u64) -> Option<u32> {
        // A directory's inode reference, for loop detection.
        tree::ancestor(&self.nodes, node, |n| {
            n.listing.is_some() && n.inode_ref == iref
        })
    }

    /// The path of a node, for messages.
    pub(crate) fn path(&self, node: u32) -> String {
        tree::path(&self.nodes, node)
    }
}

fn dir_start(table: &Table, layout: &inode::DirLayout) -> u64 {
    table.start + u64::from(layout.block)
}

/// Adds the entry's name to a `Malformed` error's reason.
fn about(e: Error, name: &[u8]) -> Error {
    match e {
        Error::Malformed {
            structure,
            offset,
            reason,
        } => Error::Malformed {
            structure,
            offset,
            reason: format!("entry {:?}: {reason}", String::from_utf8_lossy(name)),
        },
        other => other,
    }
}

/// Major and minor of a Linux "new" 32-bit device number, as squashfs stores it.
pub(crate) fn split_dev(rdev: u32) -> (u32, u32) {
    (
        (rdev >> 8) & 0xfff,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

/// What the shape of an inode of `kind` (basic or extended) follows: an
/// extended file inode holds a link count above one, a size past 4 GiB or
/// extended attributes; the other extended inodes hold extended attributes
/// (a directory's also a large listing or an index, which follow its
/// entries).
fn shape(kind: EntryKind) -> Follows {
    match kind {
        EntryKind::File => Follows::Fields {
            fields: &[EntryField::Nlink, EntryField::Size],
            xattrs: true,
        },
        _ => Follows::Fields {
            fields: &[],
            xattrs: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::split_dev;

    #[test]
    fn device_numbers() {
        assert_eq!(split_dev(0x0103), (1, 3));
        assert_eq!(split_dev(0x0801), (8, 1));
        // major 0x123, minor 0x45678
        assert_eq!(split_dev(0x4561_2378), (0x123, 0x45678));
    }
}

crate::formats::tree::parent_node!(Node);

impl tree::ArenaNode for Node {
    fn name(&self) -> &[u8] {
        &self.name
    }
    fn kind(&self) -> EntryKind {
        self.stored.kind
    }
    fn listed(&self, id: u32) -> Entry {
        self.entry(id)
    }
    fn child_ids(&self) -> &[u32] {
        &self.children
    }
    fn errors(&self) -> &[Error] {
        &self.errors
    }
}
