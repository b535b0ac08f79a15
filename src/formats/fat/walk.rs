//! The walk of the directory tree into a tree of entries, done once at open time.
//!
//! Directories are read entry by entry: VFAT long-name entries are gathered until
//! the 8.3 entry they belong to (checked by sequence number and checksum), the
//! volume label entry of the root becomes an image fact, `.` and `..` are skipped,
//! and every other entry becomes a node. Files get their cluster chain followed
//! here, so the chain errors are known when the directory is listed.

use super::chain::{Claimed, Fat, Run, Want};
use super::raw::{self, attr, DirEntry, DIR_ENTRY_SIZE};
use super::slots::{record, Slot};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::limits::{check, Limits};
use crate::model::key::Attr;
use crate::model::{Entry, EntryField, EntryKind, Fact, Follows, Meta, NodeId, Value};

/// The 8.3 name of an entry with a long name too.
pub(crate) const SHORT_NAME: Attr = Attr::new("fat.short_name");
/// The attribute byte (read-only, hidden, system, archive ...).
pub(crate) const ATTRIBUTES: Attr = Attr::new("fat.attributes");
/// The case flags of the 8.3 name (Windows NT's lower-case bits).
pub(crate) const CASE_FLAGS: Attr = Attr::new("fat.case_flags");
/// The creation time.
pub(crate) const CREATED: Attr = Attr::new("fat.created");
/// The raw modification time and date words, where they are no valid time.
pub(crate) const MODIFIED_RAW: Attr = Attr::new("fat.modified_raw");
use crate::time::Precision;

/// One entry of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    pub entry: Entry,
    /// Children (indices into the tree), sorted by name.
    pub children: Vec<u32>,
    /// Problems met while reading this directory.
    pub errors: Vec<Error>,
    /// The clusters of a regular file or a directory.
    pub runs: Vec<Run>,
    /// Why the cluster chain could not be followed to its end, when it could not.
    pub content_error: Option<Error>,
    pub(crate) parent: u32,
    /// What the walk found in each slot of a directory, in the order read.
    pub slots: Vec<(u64, Slot)>,
    /// First cluster of a directory (0 for the fixed root of FAT12/16).
    first_cluster: u32,
}

/// The whole tree, node 0 being the root, and what the root directory said about
/// the volume (its label entry).
#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
    pub label_facts: Vec<Fact>,
}

/// Where a directory's entries are.
enum Place {
    /// The fixed root directory of FAT12/16.
    Fixed(u64, u64),
    /// A chain already followed.
    Runs(Vec<Run>),
}

struct Pending {
    node: u32,
    place: Place,
    depth: u32,
}

/// Long-name entries gathered so far for the next 8.3 entry.
struct LongName {
    checksum: u8,
    /// The sequence number the next entry must have.
    next: u8,
    units: Vec<u16>,
    /// Where the first of them is.
    offset: u64,
}

/// The most long-name entries one name can have: 255 UCS-2 units, 13 per entry.
const MAX_LFN_ENTRIES: u8 = 20;

pub(crate) struct Walker<'a, 'l> {
    pub image: Bytes<'a>,
    pub fat: Fat<'a>,
    pub limits: &'l Limits,
    pub claimed: Claimed,
}

impl<'a> Walker<'a, '_> {
    pub(crate) fn walk(mut self) -> Tree {
        let geo = self.fat.geo;
        // The FAT32 root's chain is kept with the root, as a directory's is
        // (the byte layout names its clusters).
        let (place, first_cluster, runs, errors) = match geo.root_region {
            Some((offset, len)) => (Place::Fixed(offset, len), 0, Vec::new(), Vec::new()),
            None => {
                let root = geo.root_cluster;
                let (runs, e) = self.fat.chain(root, Want::Directory, &mut self.claimed);
                (Place::Runs(runs.clone()), root, runs, Vec::from_iter(e))
            }
        };
        let mut tree = Tree {
            nodes: vec![Node {
                entry: Entry {
                    name: Vec::new(),
                    node: NodeId(0),
                    meta: Meta::new(EntryKind::Dir),
                    attrs: Vec::new(),
                },
                children: Vec::new(),
                errors,
                runs,
                content_error: None,
                parent: 0,
                slots: Vec::new(),
                first_cluster,
            }],
            label_facts: Vec::new(),
        };
        let mut stack = vec![Pending {
            node: 0,
            place,
            depth: 0,
        }];
        while let Some(dir) = stack.pop() {
            let (records, mut errors) = self.records(&dir.place);
            let is_root = dir.node == 0;
            let mut children = Vec::new();
            let mut long: Option<LongName> = None;
            let mut read = Vec::new();
            for (offset, rec) in records {
                let Some(e) = DirEntry::new(rec) else {
                    break;
                };
                match e.first_byte() {
                    // The end of the directory: nothing after it is in use.
                    0x00 => {
                        record(&mut read, offset, Slot::End);
                        break;
                    }
                    // A deleted entry, and with it any long name before it.
                    0xe5 => {
                        long = None;
                        record(&mut read, offset, Slot::Deleted);
                        continue;
                    }
                    _ => {}
                }
                if e.is_long_name() {
                    if let Some(err) = gather(&mut long, &e, offset) {
                        errors.push(err);
                    }
                    record(&mut read, offset, Slot::LongName(None));
                    continue;
                }
                let lfn = long.take();
                if e.attributes() & attr::VOLUME_ID != 0 {
                    if is_root && tree.label_facts.is_empty() {
                        tree.label_facts = label_facts(&e);
                        record(&mut read, offset, Slot::Label);
                    } else {
                        record(&mut read, offset, Slot::StrayLabel);
                        errors.push(Error::malformed(
                            "FAT directory entry",
                            offset,
                            "a volume label entry outside the root, or a second one",
                        ));
                    }
                    continue;
                }
                let short = e.short_name();
                if &short == b".          " {
                    record(&mut read, offset, Slot::Dot);
                    continue;
                }
                if &short == b"..         " {
                    record(&mut read, offset, Slot::DotDot);
                    continue;
                }
                let id = tree.nodes.len() as u32;
                if let Err(err) = check("entries per image", u64::from(id), self.limits.max_entries)
                {
                    errors.push(err);
                    break;
                }
                let name = match name_of(&e, lfn, offset) {
                    Ok((name, name_errors)) => {
                        errors.extend(name_errors);
                        name
                    }
                    Err(err) => {
                        errors.push(err);
                        record(&mut read, offset, Slot::Skipped);
                        continue;
                    }
                };
                let built = self.build(&e, name, offset, id, &tree, dir.node);
                let node = match built {
                    Ok(n) => n,
                    Err(err) => {
                        errors.push(err);
                        record(&mut read, offset, Slot::Skipped);
                        continue;
                    }
                };
                if let Some(err) = &node.content_error {
                    errors.push(err.clone());
                }
                if node.entry.meta.kind == EntryKind::Dir {
                    if dir.depth + 1 >= self.limits.max_depth {
                        errors.push(Error::LimitExceeded {
                            limit: "directory depth",
                            value: u64::from(dir.depth) + 1,
                            max: u64::from(self.limits.max_depth),
                        });
                    } else {
                        stack.push(Pending {
                            node: id,
                            place: Place::Runs(node.runs.clone()),
                            depth: dir.depth + 1,
                        });
                    }
                }
                record(&mut read, offset, Slot::Entry(id));
                tree.nodes.push(node);
                children.push(id);
            }
            if long.is_some() {
                errors.push(Error::malformed(
                    "FAT long-name entry",
                    long.map_or(0, |l| l.offset),
                    "long-name entries without the 8.3 entry they belong to",
                ));
            }
            children.sort_by(|&a, &b| {
                let name = |i: u32| tree.nodes.get(i as usize).map(|n| n.entry.name.as_slice());
                name(a).cmp(&name(b))
            });
            if let Some(n) = tree.nodes.get_mut(dir.node as usize) {
                n.children = children;
                n.errors.extend(errors);
                n.slots = read;
            }
        }
        tree
    }

    /// The 32-byte records of a directory with their image offsets, and the
    /// problem that cut them short.
    fn records(&self, place: &Place) -> (Vec<(u64, &'a [u8])>, Vec<Error>) {
        let mut errors = Vec::new();
        let mut spans: Vec<(u64, u64)> = Vec::new();
        let runs = match place {
            Place::Fixed(offset, len) => {
                spans.push((*offset, *len));
                &[][..]
            }
            Place::Runs(runs) => &runs[..],
        };
        let cb = self.fat.geo.cluster_bytes;
        spans.extend(runs.iter().map(|r| {
            (
                self.fat.geo.cluster_offset(r.first),
                u64::from(r.count) * cb,
            )
        }));
        let mut records = Vec::new();
        for (offset, len) in spans {
            match self.image.get(offset, len, "FAT directory") {
                Ok(bytes) => records.extend(
                    bytes
                        .chunks_exact(DIR_ENTRY_SIZE as usize)
                        .enumerate()
                        .map(|(i, r)| (offset + i as u64 * DIR_ENTRY_SIZE, r)),
                ),
                Err(e) => {
                    errors.push(e);
                    break;
                }
            }
        }
        (records, errors)
    }

    /// The node of one 8.3 entry named `name`.
    fn build(
        &mut self,
        e: &DirEntry<'_>,
        name: Vec<u8>,
        offset: u64,
        id: u32,
        tree: &Tree,
        parent: u32,
    ) -> Result<Node> {
        let geo = self.fat.geo;
        let a = e.attributes();
        let kind = if a & attr::DIRECTORY != 0 {
            EntryKind::Dir
        } else {
            EntryKind::File
        };
        let first = e.first_cluster(geo.fat_type);
        let mut meta = Meta::new(kind);
        meta.mtime = raw::dos_time(
            e.modified_date(),
            e.modified_time(),
            0,
            Precision::TwoSeconds,
        );
        meta.atime = match e.accessed_date() {
            0 => None,
            d => raw::dos_time(d, 0, 0, Precision::Days),
        };
        let mut attrs = vec![
            Fact::new(
                SHORT_NAME,
                Value::Text(raw::short_name_text(&e.short_name(), 0)),
            ),
            Fact::new(ATTRIBUTES, Value::Text(raw::attributes_text(a))),
            Fact::new(CASE_FLAGS, Value::Int(e.case_flags().into())),
            Fact::time(CREATED, raw::creation_time(e)),
            Fact::layout("fat.first_cluster", Value::Int(first.into())),
            Fact::layout("fat.entry_offset", Value::Int(offset)),
        ];
        if meta.mtime.is_none() {
            // Out-of-range date or time fields: keep the raw words so a difference
            // in them still shows.
            let raw = e.modification_bytes();
            attrs.push(
                Fact::time(MODIFIED_RAW, Value::Bytes(raw))
                    .follows(Follows::Entry(EntryField::Mtime)),
            );
        }
        let mut node = Node {
            entry: Entry {
                name,
                node: NodeId(u64::from(id)),
                meta,
                attrs,
            },
            children: Vec::new(),
            errors: Vec::new(),
            runs: Vec::new(),
            content_error: None,
            parent,
            slots: Vec::new(),
            first_cluster: first,
        };
        let path = |t: &Tree, name: &[u8]| path_of(t, parent, name);
        if kind == EntryKind::Dir {
            // A subdirectory that starts where one of its ancestors does (cluster
            // 0 is how `..` names the root) would list its ancestor again.
            let mut at = parent;
            while let Some(n) = tree.nodes.get(at as usize) {
                if n.first_cluster == first || (first == 0 && at == 0) {
                    return Err(Error::Loop {
                        ancestor: path_of_node(tree, at),
                        child: path(tree, &node.entry.name),
                    });
                }
                if at == 0 {
                    break;
                }
                at = n.parent;
            }
            // The chain is claimed now, in the order of the entries, so that a
            // file cross-linked with a later directory is the one blamed.
            let (runs, err) = self.fat.chain(first, Want::Directory, &mut self.claimed);
            node.runs = runs;
            node.content_error = err.map(|e| about(e, &path(tree, &node.entry.name)));
            return Ok(node);
        }
        let size = u64::from(e.size());
        node.entry.meta.size = size;
        let (runs, err) = self.fat.chain(
            first,
            Want::Exactly(size.div_ceil(geo.cluster_bytes)),
            &mut self.claimed,
        );
        node.runs = runs;
        node.content_error = err.map(|e| about(e, &path(tree, &node.entry.name)));
        Ok(node)
    }
}

/// Adds one long-name entry to the name being gathered; returns the problem when
/// it does not fit the sequence (the name gathered so far is dropped, as Linux
/// and fsck.fat do).
fn gather(long: &mut Option<LongName>, e: &DirEntry<'_>, offset: u64) -> Option<Error> {
    let (ord, checksum, units) = e.long_name_part();
    let seq = ord & 0x1f;
    let orphan = |why: &str| {
        Some(Error::malformed(
            "FAT long-name entry",
            offset,
            format!("sequence number {ord:#04x}: {why}; the long name is dropped"),
        ))
    };
    if seq == 0 || seq > MAX_LFN_ENTRIES {
        *long = None;
        return orphan("out of range 1..=20");
    }
    if ord & 0x40 != 0 {
        let dropped = long.is_some();
        let mut l = LongName {
            checksum,
            next: seq,
            units: vec![0xffff; usize::from(seq) * 13],
            offset,
        };
        put(&mut l, seq, &units);
        *long = Some(l);
        if dropped {
            return orphan("a new long name starts before the last one was finished");
        }
        return None;
    }
    match long {
        Some(l) if l.next == seq + 1 && l.checksum == checksum => {
            put(l, seq, &units);
            None
        }
        Some(_) => {
            *long = None;
            orphan("does not continue the long name before it")
        }
        None => orphan("no long name starts before it"),
    }
}

fn put(l: &mut LongName, seq: u8, units: &[u16; 13]) {
    let at = (usize::from(seq) - 1) * 13;
    if let Some(dst) = l.units.get_mut(at..at + 13) {
        dst.copy_from_slice(units);
    }
    l.next = seq;
}

/// The effective name of an 8.3 entry: its long name when one was gathered for it
/// completely and with the right checksum, else the 8.3 name with the case flags
/// applied. Names a path could not hold are refused.
fn name_of(e: &DirEntry<'_>, lfn: Option<LongName>, offset: u64) -> Result<(Vec<u8>, Vec<Error>)> {
    let short = e.short_name();
    let mut errors = Vec::new();
    let mut name = None;
    if let Some(l) = lfn {
        if l.next == 1 && l.checksum == raw::short_name_checksum(&short) {
            let end = l
                .units
                .iter()
                .position(|&u| u == 0)
                .unwrap_or(l.units.len());
            let units = l.units.get(..end).unwrap_or_default();
            // Unpaired surrogates cannot be UTF-8; they become U+FFFD.
            name = Some(String::from_utf16_lossy(units));
        } else {
            errors.push(Error::malformed(
                "FAT long-name entry",
                l.offset,
                format!(
                    "the long name does not belong to the 8.3 entry {:?} at byte {offset} \
                     (incomplete or wrong checksum); the 8.3 name is used",
                    raw::short_name_text(&short, 0)
                ),
            ));
        }
    }
    let name = name.unwrap_or_else(|| raw::short_name_text(&short, e.case_flags()));
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Error::malformed(
            "FAT directory entry",
            offset,
            format!("the name {name:?} cannot be a path component; entry skipped"),
        ));
    }
    Ok((name.into_bytes(), errors))
}

/// The root directory's volume label entry as facts: its name and its times
/// (mkfs.fat and mlabel stamp it with the time they ran).
fn label_facts(e: &DirEntry<'_>) -> Vec<Fact> {
    let modified = raw::dos_time(
        e.modified_date(),
        e.modified_time(),
        0,
        Precision::TwoSeconds,
    )
    .map_or(Value::Unset, Value::Time);
    vec![
        Fact::new("root_label", raw::text(&e.as_label().label())),
        Fact::time("root_label.modified", modified),
        Fact::time("root_label.created", raw::creation_time(e)),
    ]
}

fn path_of_node(tree: &Tree, at: u32) -> String {
    crate::formats::tree::path(&tree.nodes, at)
}

fn path_of(tree: &Tree, parent: u32, name: &[u8]) -> String {
    let dir = path_of_node(tree, parent);
    let sep = if dir.ends_with('/') { "" } else { "/" };
    format!("{dir}{sep}{}", String::from_utf8_lossy(name))
}

/// `e` with the entry's path in its reason.
fn about(e: Error, path: &str) -> Error {
    match e {
        Error::Malformed {
            structure,
            offset,
            reason,
        } => Error::Malformed {
            structure,
            offset,
            reason: format!("{path:?}: {reason}"),
        },
        other => other,
    }
}

crate::formats::tree::parent_node!(Node);
