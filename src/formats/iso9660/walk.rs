//! The walk of one directory hierarchy (primary or Joliet) into a tree of entries.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::attrs;
use super::descriptor::{VolumeRoot, SECTOR};
use super::oddity::{self, Oddities};
use super::raw::{flag, strip_version, ucs2_to_utf8, DirRecord};
use super::recorded::Recorded;
use super::rockridge::{self, RockRidge};
use super::susp;
use super::zisofs::{self, Zf};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::formats::tree;
use crate::limits::{check, Limits};
use crate::model::key::Attr;
use crate::model::{Entry, EntryField, EntryKind, Fact, Follows, Meta, NodeId, Value};

/// Which names and attributes a hierarchy is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Namespace {
    /// The primary tree with Rock Ridge; SUSP entries start `skip` bytes into the
    /// System Use area (the `SP` skip length).
    RockRidge { skip: u8 },
    /// The Joliet tree: UCS-2 names, no Rock Ridge.
    Joliet,
    /// The primary tree with ISO 9660 names only.
    Plain,
}

impl Namespace {
    /// Where the effective names come from.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Namespace::RockRidge { .. } => "rock_ridge",
            Namespace::Joliet => "joliet",
            Namespace::Plain => "iso9660",
        }
    }
}

/// A piece of a file's data: absolute byte offset and length in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Extent {
    pub start: u64,
    pub len: u64,
}

/// One entry of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    pub entry: Entry,
    pub extents: Vec<Extent>,
    /// Children (indices into the tree), sorted by name.
    pub children: Vec<u32>,
    /// Problems met while reading this directory.
    pub errors: Vec<Error>,
    pub parent: u32,
    /// The directory's extent block, for loop detection.
    pub dir_block: u32,
    /// The directory's extent size in bytes.
    pub dir_size: u32,
    /// Where the entry's (first) directory record is; for the root, its `.`
    /// record. For byte accounting.
    pub record: u64,
    /// zisofs compression of a file's data (its `ZF` entry).
    pub zisofs: Option<Zf>,
}

/// A whole hierarchy, node 0 being the root.
#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub namespace: Namespace,
    /// Oddities met and read leniently (said as warnings).
    pub oddities: Oddities,
    /// The extents, records and SUSP entries the walk read, for the byte
    /// layout.
    pub recorded: Recorded,
}

/// The `SP` skip length when the root's `.` record announces Rock Ridge (SUSP 5.3).
pub(crate) fn rock_ridge_skip(
    image: Bytes<'_>,
    vol: &VolumeRoot<'_>,
    limits: &Limits,
) -> Option<u8> {
    let start = u64::from(vol.root.extent()) * u64::from(vol.block_size);
    let dot = DirRecord::read(image, start, "root directory", "root directory record").ok()?;
    let (entries, _) = susp::collect(
        image,
        dot.system_use,
        dot.system_use_offset,
        vol.block_size,
        limits,
        &mut susp::Claimed::default(),
    );
    if entries.first().map(|e| &e.sig) != Some(b"SP") {
        return None;
    }
    rockridge::decode(&entries[..1]).sp_skip
}

/// A directory still to be read.
struct Pending {
    node: u32,
    block: u32,
    size: u32,
    depth: u32,
}

/// A record (or the records of a multi-extent file) turned into an entry.
struct Built {
    entry: Entry,
    extents: Vec<Extent>,
    /// Where to read the directory, for directories.
    dir: Option<(u32, u32)>,
    /// Raw identifier, to join the records of a multi-extent file.
    raw_name: Vec<u8>,
    /// Where the (first) record is.
    record: u64,
    /// zisofs compression of a file's data.
    zisofs: Option<Zf>,
}

/// System Use bytes one walk may gather beyond the image's own size. In a sound
/// image every System Use byte (in a record or in a `CE` area) belongs to one
/// record, so a walk gathers at most the image's size. Records that share or loop
/// through continuation areas could otherwise make a 70 KB image gather
/// `max_system_use_bytes` for each record: 13 GB of entries and 30 s for 200 records.
///
/// The slack is small: it was 1 MiB, which let a 63 KB hostile image gather 17
/// times its size in 4-byte entries (2 s per run in the fuzzer's sanitized
/// build, its slowest input by far); a sound image needs none of it.
const SYSTEM_USE_SLACK: u64 = 64 << 10;

struct Walker<'a, 'l> {
    image: Bytes<'a>,
    block_size: u32,
    ns: Namespace,
    limits: &'l Limits,
    /// System Use bytes gathered so far by this walk.
    system_use: Cell<u64>,
    /// Continuation areas followed so far by this walk: each is followed once.
    claimed: RefCell<susp::Claimed>,
    /// Oddities read leniently so far.
    oddities: RefCell<Oddities>,
    /// What was read so far.
    recorded: RefCell<Recorded>,
}

impl Tree {
    /// Reads the hierarchy under `vol` with names and attributes from `ns`.
    pub(crate) fn read(
        image: Bytes<'_>,
        vol: &VolumeRoot<'_>,
        ns: Namespace,
        limits: &Limits,
    ) -> Result<Tree> {
        let w = Walker {
            image,
            block_size: vol.block_size,
            ns,
            limits,
            system_use: Cell::new(0),
            claimed: RefCell::new(susp::Claimed::default()),
            oddities: RefCell::new(Oddities::default()),
            recorded: RefCell::new(Recorded::default()),
        };
        // The root's attributes live in the `.` record of its own extent.
        let root_start = w.block_start(vol.root.extent());
        let dot = DirRecord::read(image, root_start, "root directory", "root directory record");
        let dot = match dot {
            Ok(dot) => dot,
            // A root outside the image (truncated) or damaged: an empty tree
            // whose root says why, so the descriptors are still compared.
            Err(e) => return Ok(Tree::unreadable(vol, root_start, ns, e)),
        };
        let mut errors = Vec::new();
        let built = w.build(&dot, true, &mut errors);
        let mut tree = Tree {
            nodes: vec![Node {
                entry: built.entry,
                extents: Vec::new(),
                children: Vec::new(),
                errors,
                parent: 0,
                dir_block: vol.root.extent(),
                dir_size: vol.root.data_len(),
                record: root_start,
                zisofs: None,
            }],
            namespace: ns,
            oddities: Oddities::default(),
            recorded: Recorded::default(),
        };
        let mut stack = vec![Pending {
            node: 0,
            block: vol.root.extent(),
            size: vol.root.data_len(),
            depth: 0,
        }];
        // A sound image lists each directory extent once. Two records sharing one
        // (not a loop: neither is the other's ancestor) would make a small image
        // read as a huge tree, so the second is not descended into.
        let mut listed: HashMap<u32, u32> = HashMap::from([(vol.root.extent(), 0)]);
        while let Some(dir) = stack.pop() {
            let (built, errors) = w.read_dir(dir.node, dir.block, dir.size);
            let mut children = Vec::with_capacity(built.len());
            let mut errors = errors;
            let mut stop = false;
            for b in built {
                let id = tree.nodes.len() as u32;
                if let Err(e) = check("entries per image", u64::from(id) + 1, w.limits.max_entries)
                {
                    errors.push(e);
                    stop = true;
                    break;
                }
                let mut entry = b.entry;
                entry.node = NodeId(u64::from(id));
                let dir_block = b.dir.map_or(0, |d| d.0);
                let dir_size = b.dir.map_or(0, |d| d.1);
                if let Some((block, size)) = b.dir {
                    match tree.ancestor_with_block(dir.node, block) {
                        Some(ancestor) => errors.push(Error::Loop {
                            ancestor: tree.path(ancestor),
                            child: format!(
                                "{}/{}",
                                tree.path(dir.node).trim_end_matches('/'),
                                String::from_utf8_lossy(&entry.name)
                            ),
                        }),
                        None if listed.contains_key(&block) => errors.push(Error::malformed(
                            "directory record",
                            b.record,
                            format!(
                                "directory {:?} shares its extent (block {block}) with {}; not read twice",
                                String::from_utf8_lossy(&entry.name),
                                listed.get(&block).map_or_else(String::new, |&n| tree.path(n)),
                            ),
                        )),
                        None if dir.depth + 1 > w.limits.max_depth => {
                            errors.push(Error::LimitExceeded {
                                limit: "directory depth",
                                value: u64::from(dir.depth) + 1,
                                max: u64::from(w.limits.max_depth),
                            })
                        }
                        None => {
                            listed.insert(block, id);
                            stack.push(Pending {
                                node: id,
                                block,
                                size,
                                depth: dir.depth + 1,
                            })
                        }
                    }
                }
                tree.nodes.push(Node {
                    entry,
                    extents: b.extents,
                    children: Vec::new(),
                    errors: Vec::new(),
                    parent: dir.node,
                    dir_block,
                    dir_size,
                    record: b.record,
                    zisofs: b.zisofs,
                });
                children.push(id);
            }
            let nodes = &tree.nodes;
            children.sort_by(|&a, &b| {
                nodes[a as usize]
                    .entry
                    .name
                    .cmp(&nodes[b as usize].entry.name)
            });
            let parent = &mut tree.nodes[dir.node as usize];
            parent.children = children;
            parent.errors.extend(errors);
            if stop {
                break;
            }
        }
        tree.oddities = w.oddities.into_inner();
        tree.recorded = w.recorded.into_inner();
        tree.recorded.finish();
        Ok(tree)
    }

    /// A tree of only its root, which cannot be read: `error` says why.
    fn unreadable(vol: &VolumeRoot<'_>, record: u64, ns: Namespace, error: Error) -> Tree {
        Tree {
            nodes: vec![Node {
                entry: Entry {
                    name: Vec::new(),
                    node: NodeId(0),
                    meta: Meta::new(EntryKind::Dir),
                    attrs: Vec::new(),
                },
                extents: Vec::new(),
                children: Vec::new(),
                errors: vec![error],
                parent: 0,
                dir_block: vol.root.extent(),
                dir_size: vol.root.data_len(),
                record,
                zisofs: None,
            }],
            namespace: ns,
            oddities: Oddities::default(),
            recorded: Recorded::default(),
        }
    }

    fn ancestor_with_block(&self, node: u32, block: u32) -> Option<u32> {
        tree::ancestor(&self.nodes, node, |n| n.dir_block == block)
    }

    /// The path of a node, for messages.
    pub(crate) fn path(&self, node: u32) -> String {
        tree::path(&self.nodes, node)
    }

    /// Records, as attribute `attr`, the name each entry has in `other` (the same
    /// image's other namespace). Files are paired by their extent, directories by
    /// name (Joliet truncates long names, so a prefix counts).
    pub(crate) fn adopt_names(&mut self, other: &Tree, attr: Attr) {
        let pairs = self.pairs(other);
        let mut theirs: Vec<Option<u32>> = vec![None; self.nodes.len()];
        for (mine, t) in pairs {
            theirs[mine as usize] = Some(t);
        }
        let mut stack = vec![0u32];
        while let Some(dir) = stack.pop() {
            let children = self.nodes[dir as usize].children.clone();
            for c in children {
                let value = match theirs[c as usize] {
                    Some(t) => {
                        if self.nodes[c as usize].entry.meta.kind == EntryKind::Dir {
                            stack.push(c);
                        }
                        Value::Text(
                            String::from_utf8_lossy(&other.nodes[t as usize].entry.name)
                                .into_owned(),
                        )
                    }
                    None => Value::Unset,
                };
                self.nodes[c as usize]
                    .entry
                    .attrs
                    .push(Fact::new(attr, value));
            }
        }
    }

    /// The nodes of `other` (the same image's other namespace) that stand for
    /// the same entries as nodes of this tree: (mine, theirs), the roots
    /// included. Files are paired by their extent, directories by name.
    pub(crate) fn pairs(&self, other: &Tree) -> Vec<(u32, u32)> {
        let mut out = vec![(0u32, 0u32)];
        let mut stack = vec![(0u32, 0u32)];
        while let Some((mine, theirs)) = stack.pop() {
            let their_children = &other.nodes[theirs as usize].children;
            let mut by_extent: HashMap<(u64, u64), u32> = HashMap::new();
            // Entries without data pair by name, ignoring ASCII case (ISO names are
            // upper case); Joliet cuts names at 64 characters, so a long name also
            // pairs by its first 64 characters. Maps keep a wide directory linear.
            let mut by_name: HashMap<(EntryKind, Vec<u8>), u32> = HashMap::new();
            let mut by_prefix: HashMap<(EntryKind, Vec<u8>), u32> = HashMap::new();
            for &c in their_children {
                let n = &other.nodes[c as usize];
                if let Some(first) = n.extents.first().filter(|e| e.len > 0) {
                    by_extent.insert((first.start, first.len), c);
                } else if !n.entry.name.is_empty() {
                    let kind = n.entry.meta.kind;
                    by_name
                        .entry((kind, n.entry.name.to_ascii_lowercase()))
                        .or_insert(c);
                    if let Some(prefix) = joliet_prefix(&n.entry.name) {
                        by_prefix.entry((kind, prefix)).or_insert(c);
                    }
                }
            }
            for &c in &self.nodes[mine as usize].children {
                let node = &self.nodes[c as usize];
                let matched = match node.extents.first().filter(|e| e.len > 0) {
                    Some(first) => by_extent.get(&(first.start, first.len)).copied(),
                    None => {
                        let kind = node.entry.meta.kind;
                        by_name
                            .get(&(kind, node.entry.name.to_ascii_lowercase()))
                            .or_else(|| {
                                joliet_prefix(&node.entry.name)
                                    .and_then(|p| by_prefix.get(&(kind, p)))
                            })
                            .copied()
                    }
                };
                if let Some(t) = matched {
                    out.push((c, t));
                    if node.entry.meta.kind == EntryKind::Dir {
                        stack.push((c, t));
                    }
                }
            }
        }
        out
    }
}

/// The first 64 characters of a name of at least 64, lower-cased: what Joliet
/// keeps of a long name.
fn joliet_prefix(name: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(name).ok()?;
    let (cut, _) = text.char_indices().nth(63)?;
    let end = cut + text[cut..].chars().next().map_or(0, char::len_utf8);
    Some(text.as_bytes()[..end].to_ascii_lowercase())
}

impl<'a> Walker<'a, '_> {
    fn block_start(&self, block: u32) -> u64 {
        u64::from(block) * u64::from(self.block_size)
    }

    /// Counts the oddities one record's Rock Ridge entries had.
    fn note(&self, found: &[(&'static str, u64)]) {
        let mut o = self.oddities.borrow_mut();
        for &(what, at) in found {
            o.note(what, at);
        }
    }

    /// Whether the `..` record of the directory at `block` has a `PL` entry:
    /// the directory was relocated (RRIP 4.1.5.2), whether or not its own
    /// record says `RE`. One record is read; an unreadable one says no (the
    /// directory's own listing will report the damage).
    fn has_parent_link(&self, block: u32, errors: &mut Vec<Error>) -> bool {
        let Namespace::RockRidge { skip } = self.ns else {
            return false;
        };
        let start = self.block_start(block);
        // The `..` record follows the `.` record, as long as its length byte says.
        let parent = self.image.array(start, "directory").and_then(|&[dot]| {
            let at = start + u64::from(dot);
            DirRecord::read(self.image, at, "directory record", "directory record")
        });
        let Ok(parent) = parent else {
            return false;
        };
        if !parent.is_parent() {
            return false;
        }
        let area = parent
            .system_use
            .get(usize::from(skip)..)
            .unwrap_or_default();
        let entries = self.gather(area, parent.system_use_offset + u64::from(skip), errors);
        let offsets = entries.iter().map(|e| e.offset);
        self.recorded.borrow_mut().ahead(parent.offset, offsets);
        entries.iter().any(|e| &e.sig == b"PL")
    }

    /// Records the SUSP entries of a record no entry is built from (`.`,
    /// `..`, an associated file) for the byte layout: those gathered ahead,
    /// else gathered now. `root_dot`: the root's `.`, whose area has no skip
    /// bytes. What such entries hold is no entry's, so a problem with them is
    /// not reported (the layout leaves what follows it unnamed).
    fn record_unbuilt(&self, rec: &DirRecord<'a>, root_dot: bool) {
        let Namespace::RockRidge { skip } = self.ns else {
            return;
        };
        let ahead = self.recorded.borrow_mut().take_ahead(rec.offset);
        let offsets = ahead.unwrap_or_else(|| {
            let skip = if root_dot { 0 } else { usize::from(skip) };
            let area = rec.system_use.get(skip..).unwrap_or_default();
            let offset = rec.system_use_offset + skip as u64;
            let entries = self.gather(area, offset, &mut Vec::new());
            entries.iter().map(|e| e.offset).collect()
        });
        self.recorded.borrow_mut().entries(offsets);
    }

    /// The SUSP entries of one record's System Use area (`area`, at `offset`),
    /// following `CE` areas within the per-record budget and within what is left of
    /// the walk's (the image's size plus [`SYSTEM_USE_SLACK`]).
    fn gather(
        &self,
        area: &'a [u8],
        offset: u64,
        errors: &mut Vec<Error>,
    ) -> Vec<susp::SuspEntry<'a>> {
        let before = self.system_use.get();
        let max = self.image.len().saturating_add(SYSTEM_USE_SLACK);
        let left = max.saturating_sub(before);
        let tree_bound = left < self.limits.max_system_use_bytes;
        let mut limits = self.limits.clone();
        limits.max_system_use_bytes = limits.max_system_use_bytes.min(left);
        let (entries, problem) = susp::collect(
            self.image,
            area,
            offset,
            self.block_size,
            &limits,
            &mut self.claimed.borrow_mut(),
        );
        let bytes: u64 = entries.iter().map(|e| e.data.len() as u64).sum();
        self.system_use.set(before.saturating_add(bytes));
        errors.extend(problem.map(|e| match e {
            Error::LimitExceeded {
                limit: "System Use bytes per record",
                value,
                ..
            } if tree_bound => Error::LimitExceeded {
                limit: "System Use bytes per directory tree",
                value: before.saturating_add(value),
                max,
            },
            e => e,
        }));
        entries
    }

    /// Reads the extent of directory `node` into entries. Records cannot
    /// cross a sector boundary; a zero length byte means "the rest of this
    /// sector is padding".
    fn read_dir(&self, node: u32, block: u32, size: u32) -> (Vec<Built>, Vec<Error>) {
        let mut errors = Vec::new();
        let start = self.block_start(block);
        let data = match self.image.get(start, u64::from(size), "directory extent") {
            Ok(d) => d,
            Err(e) => return (Vec::new(), vec![e]),
        };
        self.recorded.borrow_mut().extent(node, start);
        let sector = SECTOR as usize;
        let mut out: Vec<Built> = Vec::new();
        let mut multi: Option<Built> = None;
        let mut pos = 0usize;
        while pos < data.len() {
            let sector_end = ((pos / sector + 1) * sector).min(data.len());
            let len = usize::from(data[pos]);
            if len == 0 {
                pos = sector_end;
                continue;
            }
            let at = start + pos as u64;
            let parsed = match data.get(pos..pos + len).filter(|_| pos + len <= sector_end) {
                Some(raw) => DirRecord::parse(raw, at),
                None => Err(Error::malformed(
                    "directory record",
                    at,
                    format!("record of {len} bytes crosses the end of its sector"),
                )),
            };
            let rec = match parsed {
                Ok(r) => r,
                Err(e) => {
                    errors.push(e);
                    pos = sector_end;
                    continue;
                }
            };
            pos += len;
            self.recorded.borrow_mut().record(at);
            if rec.is_self() || rec.is_parent() || rec.flags() & flag::ASSOCIATED != 0 {
                self.record_unbuilt(&rec, node == 0 && rec.is_self());
                continue;
            }
            let b = self.build(&rec, false, &mut errors);
            if let Some(mut m) = multi.take() {
                if m.raw_name == b.raw_name {
                    m.extents.extend(b.extents);
                    m.entry.meta.size = m.extents.iter().map(|e| e.len).sum();
                    if rec.flags() & flag::MULTI_EXTENT != 0 {
                        multi = Some(m);
                    } else {
                        out.push(m);
                    }
                    continue;
                }
                errors.push(Error::malformed(
                    "directory record",
                    at,
                    format!(
                        "multi-extent file {:?} ends without its final record",
                        String::from_utf8_lossy(&m.entry.name)
                    ),
                ));
                out.push(m);
            }
            if rec.flags() & flag::MULTI_EXTENT != 0 && !rec.is_dir() {
                multi = Some(b);
            } else if b.entry.name.is_empty()
                && b.dir.is_none()
                && b.entry.meta.kind == EntryKind::File
                && b.raw_name.is_empty()
            {
                errors.push(Error::malformed(
                    "directory record",
                    at,
                    "empty file identifier",
                ));
            } else {
                out.push(b);
            }
        }
        if let Some(m) = multi {
            errors.push(Error::malformed(
                "directory extent",
                start,
                format!(
                    "multi-extent file {:?} ends without its final record",
                    String::from_utf8_lossy(&m.entry.name)
                ),
            ));
            out.push(m);
        }
        // Relocated directories (`RE`) are shown where their `CL` placeholder is.
        out.retain(|b| !b.entry.attrs.iter().any(|a| a.name == "rr.relocated"));
        (out, errors)
    }

    /// Turns one record into an entry. Problems with its System Use area are pushed
    /// to `errors`; the entry is still built from what could be read.
    fn build(&self, rec: &DirRecord<'a>, is_root: bool, errors: &mut Vec<Error>) -> Built {
        let rr = match self.ns {
            Namespace::RockRidge { skip } => {
                // The root's `.` record holds `SP` itself: no skip there.
                let skip = if is_root { 0 } else { usize::from(skip) };
                let area = rec.system_use.get(skip..).unwrap_or_default();
                let entries = self.gather(area, rec.system_use_offset + skip as u64, errors);
                let offsets = entries.iter().map(|e| e.offset);
                match is_root {
                    // Read before the root's extent is: kept for its `.` there.
                    true => self.recorded.borrow_mut().ahead(rec.offset, offsets),
                    false => self.recorded.borrow_mut().entries(offsets),
                }
                let mut rr = rockridge::decode(&entries);
                for p in &rr.problems {
                    errors.push(Error::malformed("Rock Ridge entry", rec.offset, p.clone()));
                }
                self.note(&rr.oddities);
                // NetBSD makefs marks a relocated directory only by the `PL`
                // of its `..` record, not by `RE`: without this it would be
                // listed twice (the kernel and libisofs do; libarchive lists
                // it here and an empty directory at its `CL`).
                if !is_root
                    && rec.is_dir()
                    && !rr.relocated
                    && rr.child_link.is_none()
                    && self.has_parent_link(rec.extent(), errors)
                {
                    rr.relocated = true;
                    self.oddities
                        .borrow_mut()
                        .note(oddity::RELOCATED_WITHOUT_RE, rec.offset);
                }
                Some(rr)
            }
            _ => None,
        };
        let rr = rr.unwrap_or_default();
        let name = match self.ns {
            Namespace::Joliet => strip_version(&ucs2_to_utf8(rec.name)).to_vec(),
            _ => match &rr.name {
                Some(n) => n.clone(),
                None => strip_version(rec.name).to_vec(),
            },
        };

        // A `CL` placeholder stands for a directory relocated elsewhere; its
        // attributes are those of the `.` record of that directory, as the Linux
        // kernel and libisofs read them.
        let (rec_for_meta, rr, dir) = match rr.child_link {
            Some(block) => match self.relocated_dot(block, errors) {
                Some((dot, dot_rr)) => {
                    let dir = Some((block, dot.data_len()));
                    (dot, dot_rr, dir)
                }
                None => (rec.clone(), rr, None),
            },
            None => {
                let dir = rec.is_dir().then_some((rec.extent(), rec.data_len()));
                (rec.clone(), rr, dir)
            }
        };
        let rec_m = &rec_for_meta;

        let kind = match (dir.is_some(), rr.px) {
            (true, _) => EntryKind::Dir,
            (false, Some(px)) => EntryKind::from_posix_mode(px.mode).unwrap_or(EntryKind::File),
            (false, None) if rec.is_dir() => EntryKind::Dir,
            (false, None) => EntryKind::File,
        };
        let mut meta = Meta::new(kind);
        if let Some(px) = rr.px {
            meta.mode = Some(px.mode & 0o7777);
            meta.uid = Some(px.uid);
            meta.gid = Some(px.gid);
            meta.nlink = Some(px.nlink);
        }
        let time = |v: Option<&Value>| match v {
            Some(Value::Time(t)) => Some(*t),
            _ => None,
        };
        meta.mtime = match rr.stamp("modify") {
            Some(v) => time(Some(v)),
            None => time(Some(&rec_m.fixed.date())),
        };
        meta.atime = time(rr.stamp("access"));
        meta.ctime = time(rr.stamp("attributes"));
        if matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
            meta.rdev = rr.pn.map(decode_pn);
        }
        if kind == EntryKind::Symlink {
            meta.target = rr.target.clone();
        }
        let extents = if kind == EntryKind::File {
            let e = Extent {
                start: self.block_start(
                    rec.extent()
                        .saturating_add(u32::from(rec.fixed.ext_attr_len())),
                ),
                len: u64::from(rec.data_len()),
            };
            meta.size = e.len;
            vec![e]
        } else {
            Vec::new()
        };

        let mut attrs = vec![
            Fact::new(
                attrs::ISO_NAME,
                Value::Text(String::from_utf8_lossy(rec.name).into_owned()),
            ),
            Fact::new(attrs::RECORD_FLAGS, Value::Int(u64::from(rec_m.flags()))),
            // The record's date is the entry's mtime where Rock Ridge has no TF.
            Fact::time(attrs::RECORD_DATE, rec_m.fixed.date())
                .follows(Follows::Entry(EntryField::Mtime)),
            Fact::new(
                attrs::RECORD_FILE_UNIT_SIZE,
                Value::Int(u64::from(rec_m.fixed.unit_size())),
            ),
            Fact::new(
                attrs::RECORD_INTERLEAVE_GAP,
                Value::Int(u64::from(rec_m.fixed.interleave_gap())),
            ),
            Fact::new(
                attrs::RECORD_VOLUME_SEQUENCE,
                Value::Int(u64::from(rec_m.volume_sequence())),
            ),
            Fact::new(
                attrs::RECORD_EXT_ATTR_LENGTH,
                Value::Int(u64::from(rec_m.fixed.ext_attr_len())),
            ),
            Fact::layout("record.extent", Value::Int(u64::from(rec_m.extent()))),
        ];
        if self.ns == Namespace::Joliet {
            attrs[0] = Fact::new(
                attrs::JOLIET_NAME,
                Value::Text(String::from_utf8_lossy(&name).into_owned()),
            );
        }
        let mismatches = rec_m.endian_mismatches();
        if !mismatches.is_empty() {
            attrs.push(Fact::new(
                "record.both_endian_mismatch",
                Value::Text(mismatches.join(",")),
            ));
        }
        if let Some(ino) = rr.px.and_then(|p| p.ino) {
            attrs.push(Fact::layout("rr.ino", Value::Int(u64::from(ino))));
        }
        if let Some((high, low)) = rr.pn {
            attrs.push(
                Fact::new(attrs::RR_PN, Value::Text(format!("{high:#x},{low:#x}")))
                    .follows(Follows::Entry(EntryField::Rdev)),
            );
        }
        for (stamp, value) in &rr.stamps {
            let tf = attrs::TF.iter().find(|s| s.name == *stamp);
            if let Some(attr) = tf.and_then(|s| s.attr) {
                attrs.push(Fact::time(attr, value.clone()));
            }
        }
        if let Some(cl) = rr.child_link {
            attrs.push(Fact::layout("rr.child_link", Value::Int(u64::from(cl))));
        }
        if rr.relocated {
            attrs.push(Fact::new("rr.relocated", Value::Bool(true)));
        }
        attrs.extend(rr.other);
        // A compressed file lists at its uncompressed size, as the kernel and
        // libarchive show it; how it is stored is a packing attribute.
        let zisofs = rr.zf.filter(|_| kind == EntryKind::File);
        if let Some(zf) = zisofs {
            attrs.push(Fact::packing(
                zisofs::ALGORITHM,
                Value::Text(String::from_utf8_lossy(&zf.algorithm).into_owned()),
            ));
            attrs.push(Fact::packing(
                zisofs::BLOCK_SIZE,
                Value::Int(1u64.checked_shl(u32::from(zf.log2_block)).unwrap_or(0)),
            ));
            if zf.decodable() {
                meta.size = zf.size;
            }
        }

        Built {
            entry: Entry {
                name,
                node: NodeId(0),
                meta,
                attrs,
            },
            extents,
            dir,
            raw_name: rec.name.to_vec(),
            record: rec.offset,
            zisofs,
        }
    }

    /// The `.` record of a relocated directory and its Rock Ridge entries.
    fn relocated_dot(
        &self,
        block: u32,
        errors: &mut Vec<Error>,
    ) -> Option<(DirRecord<'a>, RockRidge)> {
        let start = self.block_start(block);
        let read = || -> Result<DirRecord<'a>> {
            DirRecord::read(
                self.image,
                start,
                "relocated directory (CL)",
                "relocated directory (CL)",
            )
        };
        match read() {
            Ok(dot) if dot.is_self() => {
                let skip = match self.ns {
                    Namespace::RockRidge { skip } => usize::from(skip),
                    _ => 0,
                };
                let area = dot.system_use.get(skip..).unwrap_or_default();
                let entries = self.gather(area, dot.system_use_offset + skip as u64, errors);
                let offsets = entries.iter().map(|e| e.offset);
                self.recorded.borrow_mut().ahead(dot.offset, offsets);
                let rr = rockridge::decode(&entries);
                self.note(&rr.oddities);
                Some((dot, rr))
            }
            Ok(_) => {
                errors.push(Error::malformed(
                    "relocated directory (CL)",
                    start,
                    "does not start with a `.` record",
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    }
}

/// Device number from the `PN` words. RRIP says the high word is unused when
/// `dev_t` has 32 bits; writers differ (libisofs splits a 64-bit glibc `dev_t`,
/// others put major and minor in the two words), so read it as the Linux kernel
/// does: a whole number in the low word when the high one is zero and the low one
/// is larger than a minor, else major in the high word and minor in the low one.
fn decode_pn((high, low): (u32, u32)) -> (u32, u32) {
    if high == 0 && low & !0xff != 0 {
        // glibc's encoding of dev_t in 32 bits.
        ((low >> 8) & 0xfff, (low & 0xff) | ((low >> 12) & 0xfff00))
    } else {
        (high, low)
    }
}

#[cfg(test)]
mod tests {
    use super::decode_pn;

    #[test]
    fn pn_encodings() {
        assert_eq!(decode_pn((0, 0x0801)), (8, 1));
        assert_eq!(decode_pn((8, 1)), (8, 1));
        assert_eq!(decode_pn((0, 5)), (0, 5));
        assert_eq!(decode_pn((0, 0x1234_5678)), (0x456, 0x12378));
    }
}

crate::formats::tree::parent_node!(Node);
