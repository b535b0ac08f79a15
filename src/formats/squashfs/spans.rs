//! The byte layout of a squashfs image, for byte accounting: the superblock
//! field by field, the compressor options, every data block (owned by its file)
//! and fragment block (owned by the files whose tails it holds), and the
//! metadata blocks of every table. Every table is also decoded into items, so
//! that a differing compressed block can be explained by what differs in it:
//!
//! - inode table: an inode, owned by the paths that reach it;
//! - directory table: a directory listing;
//! - fragment table: an entry, owned by the files whose tails it locates;
//! - id table: an id, named by its value (`id table: id 1000`) and owned by the
//!   entries whose inodes use its index as uid or gid. Named by value because
//!   mksquashfs numbers ids in the order it meets them: one new id renumbers the
//!   ones after it, and an id that only moved is placement, not a change;
//! - export table: the inode reference of an inode number, owned by the entries
//!   with that number (placement: it says where an inode is);
//! - xattr key/value table: a key/value set, named by what it holds (its first
//!   key names and a digest of its keys and values: `key/value set user.x
//!   #1a2b3c4d`), owned by the entries that carry it, with a field per key type,
//!   name and value. Named by content because a set is stored once for all the
//!   files that carry it: when one of them changes, the set the others keep
//!   pairs with itself, and the changed one (a set of another name) is
//!   explained by the `xattr` differences of its entries (of that name, for
//!   a key name). Two paired sets hold the same attributes, so bytes that
//!   differ between them are how values are stored (in place, or by reference
//!   to an equal value of another set): placement;
//! - xattr id table: an entry (reference, count and size of a set), named after
//!   its set (`entry for user.x #1a2b3c4d`) and owned by the entries whose
//!   inodes carry its index.
//!
//! Items of no entry and no other name (an export table entry of no inode in
//! the tree, an xattr id pointing at no set) are named by their index, so that
//! a changed entry no file uses is still said.
//!
//! Built from the bytes again when asked, never when the image is opened.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::entries::{
    DirEntryHeader, DirHeader, ExportEntry, FragmentEntry, IdEntry, XattrIdEntry, XattrIdHeader,
    XattrKey, XattrValue, XattrValueRef,
};
use super::inode::{
    BasicDirBody, BasicFileBody, DeviceBody, ExtDirBody, ExtFileBody, InodeHeader, IpcBody,
    SymlinkBody, XattrIndex,
};
use super::metadata::{Lookup, MetadataHeader, Table, HEADER_LEN};
use super::superblock::{RawSuperblock, ABSENT, SUPERBLOCK_SIZE};
use super::SquashFs;
use crate::model::span::{
    f, fact, Decoded, EntryPath, Explain, Field, Item, Key, Keys, Layout, Owner, Placement, Span,
};
use crate::model::structure::fields_at;

/// Metadata blocks read from a table: (position, stored length, decoded bytes).
type Blocks = Vec<(u64, u64, std::sync::Arc<super::metadata::Block>)>;

/// Items a lookup table may have beyond one per entry of the tree: a damaged
/// count cannot make millions of items of entries no file uses.
const SPARE_ITEMS: u64 = 1 << 16;

impl SquashFs<'_> {
    /// See [`crate::Filesystem::byte_layout`].
    pub(crate) fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let sb = &self.sb;
        let paths = crate::formats::tree::entry_paths(&self.tree.nodes);
        l.push(Span {
            start: 0,
            len: SUPERBLOCK_SIZE,
            owner: Owner::new("superblock", "superblock", Explain::Nothing)
                .with_fields(superblock_fields()),
        });
        let mut data_start = SUPERBLOCK_SIZE;
        if sb.has_compressor_options() {
            // A metadata block: its header, then the options as stored.
            let stored = self
                .image
                .array(SUPERBLOCK_SIZE, "compressor options")
                .map(|h| MetadataHeader::from_array(h).stored())
                .unwrap_or(0);
            l.push(Span {
                start: SUPERBLOCK_SIZE,
                len: HEADER_LEN + stored,
                owner: Owner::new(
                    "compression options",
                    "compression options",
                    fact("compression_options"),
                ),
            });
            data_start += HEADER_LEN + stored;
        }
        l.region(
            data_start,
            sb.inode_table.saturating_sub(data_start),
            "the data area",
        );

        // Data blocks and fragment blocks, from every file's block list.
        let mut fragments: BTreeMap<u32, FragmentBlock> = BTreeMap::new();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.file.is_none() {
                continue;
            }
            let Ok(blocks) = self.blocks(crate::model::NodeId(i as u64)) else {
                continue;
            };
            let path = &paths[i];
            let shown = String::from_utf8_lossy(path);
            for (k, b) in blocks.blocks.iter().enumerate() {
                l.push_coarse(Span {
                    start: b.offset,
                    len: b.raw.len() as u64,
                    owner: Owner::new(
                        "data block",
                        format!("data block {k} of {shown}"),
                        Explain::Entry(&[Key::Content, Key::SIZE, Key::Nested]),
                    )
                    .of(path),
                });
            }
            if let Some(t) = blocks.fragment {
                fragments
                    .entry(t.index)
                    .or_insert_with(|| FragmentBlock {
                        start: t.block_offset,
                        len: t.raw.len() as u64,
                        tails: Vec::new(),
                    })
                    .tails
                    .push((t.offset, t.len, path.clone()));
            }
        }
        for (index, block) in &mut fragments {
            // The files in the order of their tails, so that two images
            // holding the same tails in the same order name the same entries.
            block
                .tails
                .sort_by(|x, y| (x.0, x.1, &x.2).cmp(&(y.0, y.1, &y.2)));
            let keys: Keys = &[Key::Content, Key::SIZE, Key::Nested];
            let explain = if block.tiled() {
                Explain::Packed(keys)
            } else {
                Explain::Entry(keys)
            };
            let mut owner =
                Owner::new("fragment block", format!("fragment block {index}"), explain);
            owner.entries = block.tails.iter().map(|t| t.2.clone()).collect();
            let n = block.tails.len();
            owner.note = Some(format!(
                "tails of {n} file{}",
                if n == 1 { "" } else { "s" }
            ));
            l.push(Span {
                start: block.start,
                len: block.len,
                owner,
            });
        }

        // The inode and directory tables, decoded.
        let inode_blocks = self.table_blocks(self.inode_table);
        let inodes = self.inode_items(&inode_blocks, &paths);
        let id_users = id_users(&inodes, sb.id_count);
        let t = l.table(inodes);
        table_spans(&mut l, "inode table", &inode_blocks, Explain::Decoded(t));
        let dir_table = Table {
            start: sb.directory_table,
            end: super::directory_table_end(self.image, sb),
            name: "directory table",
        };
        let dir_blocks = self.table_blocks(dir_table);
        let t = l.table(self.listing_items(&dir_blocks, &paths, dir_table.start));
        table_spans(&mut l, "directory table", &dir_blocks, Explain::Decoded(t));
        l.region(
            self.inode_table.start,
            self.inode_table.end - self.inode_table.start,
            "the inode table",
        );
        l.region(
            dir_table.start,
            dir_table.end - dir_table.start,
            "the directory table",
        );

        // The lookup tables.
        let frag_blocks = self.lookup_blocks(&self.fragments);
        if !frag_blocks.is_empty() {
            let t = l.table(fragment_items(&frag_blocks, &fragments));
            table_spans(&mut l, "fragment table", &frag_blocks, Explain::Decoded(t));
            index_span(&mut l, "fragment table", &self.fragments);
        }
        if sb.export_table != ABSENT {
            let export = Lookup {
                index: sb.export_table,
                count: u64::from(sb.inode_count),
                entry_size: ExportEntry::LEN,
                floor: SUPERBLOCK_SIZE,
                name: "export table",
            };
            let blocks = self.lookup_blocks(&export);
            if !blocks.is_empty() {
                let t = l.table(self.export_items(&blocks, export.count, &paths));
                table_spans(&mut l, "export table", &blocks, Explain::Decoded(t));
            }
            index_span(&mut l, "export table", &export);
        }
        let ids = Lookup {
            index: sb.id_table,
            count: u64::from(sb.id_count),
            entry_size: IdEntry::LEN,
            floor: SUPERBLOCK_SIZE,
            name: "id table",
        };
        let blocks = self.lookup_blocks(&ids);
        if !blocks.is_empty() {
            let t = l.table(id_items(&blocks, ids.count, id_users));
            table_spans(&mut l, "id table", &blocks, Explain::Decoded(t));
        }
        index_span(&mut l, "id table", &ids);
        self.xattr_spans(&mut l, &paths);
        l
    }

    /// See [`crate::Filesystem::placements`]: where the tables are.
    pub(crate) fn placements_of(&self) -> Vec<Placement> {
        let sb = &self.sb;
        let dir_end = super::directory_table_end(self.image, sb);
        let mut out = vec![
            Placement {
                class: "table",
                name: "data area".into(),
                start: SUPERBLOCK_SIZE,
                len: sb.inode_table.saturating_sub(SUPERBLOCK_SIZE),
            },
            Placement {
                class: "table",
                name: "inode table".into(),
                start: sb.inode_table,
                len: sb.directory_table - sb.inode_table,
            },
            Placement {
                class: "table",
                name: "directory table".into(),
                start: sb.directory_table,
                len: dir_end.saturating_sub(sb.directory_table),
            },
            Placement {
                class: "table",
                name: "file system (bytes used)".into(),
                start: 0,
                len: sb.bytes_used,
            },
        ];
        for (name, at) in [
            ("fragment table index", sb.fragment_table),
            ("export table index", sb.export_table),
            ("id table index", sb.id_table),
            ("xattr id table header", sb.xattr_id_table),
        ] {
            if at != ABSENT && (name != "fragment table index" || sb.fragment_count > 0) {
                out.push(Placement {
                    class: "table",
                    name: name.into(),
                    start: at,
                    len: 0,
                });
            }
        }
        out
    }

    /// The metadata blocks of `table`, read one after the other until its end or
    /// the first that cannot be read.
    fn table_blocks(&self, table: Table) -> Blocks {
        let mut out = Vec::new();
        let mut pos = table.start;
        while pos < table.end {
            match self.reader.block(&table, pos) {
                Ok(b) => {
                    let next = b.next;
                    out.push((pos, next - pos, b));
                    pos = next;
                }
                Err(_) => break,
            }
        }
        out
    }

    /// The metadata blocks a lookup table's index lists, up to the first that
    /// cannot be read or that does not start past the one before: writers put
    /// them one after the other, and an index that lists one block many times
    /// must not make a decoded stream many times the size of the image.
    fn lookup_blocks(&self, lookup: &Lookup) -> Blocks {
        let mut out = Vec::new();
        if lookup.count == 0 {
            return out;
        }
        let table = Table {
            start: lookup.floor,
            end: lookup.index,
            name: lookup.name,
        };
        let mut end = 0;
        for k in 0..lookup.blocks().min(1 << 16) {
            let Ok(pos) = lookup.block_pos(self.image, k) else {
                break;
            };
            if pos < end {
                break;
            }
            match self.reader.block(&table, pos) {
                Ok(b) => {
                    end = b.next;
                    out.push((pos, end - pos, b));
                }
                Err(_) => break,
            }
        }
        out
    }

    /// The paths of the tree's nodes by a number `key` finds on each (its
    /// inode number, its xattr index).
    fn paths_by<'p>(
        &self,
        key: impl Fn(&super::walk::Node) -> Option<u32>,
        paths: &'p [EntryPath],
    ) -> PathsByKey<'p> {
        let mut order: Vec<(u32, u32)> = self
            .tree
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((key(n)?, u32::try_from(i).ok()?)))
            .collect();
        // By key, and within a key in tree order (as pushing them node by
        // node gave).
        order.sort_unstable();
        PathsByKey {
            order,
            at: 0,
            paths,
        }
    }

    /// Most items of a lookup table: one per entry, and some spare.
    fn item_cap(&self) -> u64 {
        self.tree.nodes.len() as u64 + SPARE_ITEMS
    }

    /// One item per inode number: the reference to where its inode is.
    fn export_items(&self, blocks: &Blocks, count: u64, paths: &[EntryPath]) -> Decoded {
        let (stream, ranges, _) = decode(blocks);
        let mut users = self.paths_by(|n| Some(n.number), paths);
        let size = ExportEntry::LEN as u64;
        let n = count.min(stream.len() as u64 / size).min(self.item_cap());
        let items = (0..n)
            .map(|i| {
                // Entry i is inode number i + 1: numbers start at 1.
                let entries = users.take(i + 1);
                Item {
                    class: "reference to inode",
                    label: entries.is_empty().then(|| (i + 1).to_string().into()),
                    entries,
                    range: i * size..i * size + size,
                    explain: &Explain::Placement,
                    tag: 0,
                }
            })
            .collect();
        Decoded {
            name: "export table".into(),
            stream,
            blocks: ranges,
            items,
            fields: export_fields,
            same_but_placement: None,
        }
    }

    /// One item per inode, named by the first path that reaches it.
    fn inode_items(&self, blocks: &Blocks, paths: &[EntryPath]) -> Decoded {
        let (stream, ranges, at) = decode(blocks);
        // (where in the stream, node): sorted, the nodes of one inode (hard
        // links) are together, in tree order.
        let mut found: Vec<(u64, usize)> = Vec::with_capacity(self.tree.nodes.len());
        for (i, n) in self.tree.nodes.iter().enumerate() {
            let pos = self.inode_table.start + (n.inode_ref >> 16);
            if let Some(&start) = at.get(&pos) {
                found.push((start + (n.inode_ref & 0xffff), i));
            }
        }
        found.sort_unstable();
        // Chunks are never empty.
        let groups: Vec<&[(u64, usize)]> = found.chunk_by(|x, y| x.0 == y.0).collect();
        let items = groups
            .iter()
            .enumerate()
            .map(|(k, group)| {
                let start = group[0].0;
                let end = groups
                    .get(k + 1)
                    .map_or(stream.len() as u64, |next| next[0].0);
                Item {
                    class: "inode",
                    entries: group.iter().map(|&(_, i)| paths[i].clone()).collect(),
                    label: None,
                    range: start..end.max(start),
                    explain: &Explain::Nothing,
                    tag: stream
                        .get(start as usize..)
                        .and_then(InodeHeader::new)
                        .map_or(0, |h| u32::from(h.type_code())),
                }
            })
            .collect();
        Decoded {
            name: "inode table".into(),
            stream,
            blocks: ranges,
            items,
            fields: inode_fields,
            same_but_placement: None,
        }
    }

    /// One item per directory listing.
    fn listing_items(&self, blocks: &Blocks, paths: &[EntryPath], table_start: u64) -> Decoded {
        let (stream, ranges, at) = decode(blocks);
        // Sized once: a vector grown by pushing holds up to twice its items.
        let dirs = self.tree.nodes.iter().filter(|n| n.listing.is_some());
        let mut items = Vec::with_capacity(dirs.count());
        for (i, n) in self.tree.nodes.iter().enumerate() {
            let Some(listing) = n.listing else {
                continue;
            };
            let (block, offset, size) = (
                u64::from(listing.block),
                u64::from(listing.offset),
                u64::from(listing.file_size),
            );
            let Some(&start) = at.get(&(table_start + block)) else {
                continue;
            };
            let start = start + offset;
            items.push(Item {
                class: "listing",
                entries: Box::new([paths[i].clone()]),
                label: None,
                range: start..start + size.saturating_sub(3),
                explain: &Explain::Entry(&[Key::Children]),
                tag: 0,
            });
        }
        items.sort_by_key(|it| it.range.start);
        Decoded {
            name: "directory table".into(),
            stream,
            blocks: ranges,
            items,
            fields: listing_fields,
            same_but_placement: Some(same_listing),
        }
    }

    /// The xattr id table header, index and blocks, and the key/value blocks,
    /// both tables decoded.
    fn xattr_spans(&self, l: &mut Layout, paths: &[EntryPath]) {
        let at = self.sb.xattr_id_table;
        if at == ABSENT {
            return;
        }
        let Ok(h) = self.image.array(at, "xattr id table header") else {
            return;
        };
        let h = XattrIdHeader::from_array(h);
        let (kv_start, count) = (h.kv_start(), u64::from(h.count()));
        l.push(Span {
            start: at,
            len: XattrIdHeader::LEN as u64,
            owner: Owner::new("table index", "xattr id table header", Explain::Nothing)
                .with_fields(fields_at(XattrIdHeader::FIELDS, 0)),
        });
        let ids = Lookup {
            index: at + XattrIdHeader::LEN as u64,
            count,
            entry_size: XattrIdEntry::LEN,
            floor: SUPERBLOCK_SIZE,
            name: "xattr id table",
        };
        let id_blocks = self.lookup_blocks(&ids);
        let kv_end = id_blocks.first().map_or(at, |b| b.0);
        let kv = Table {
            start: kv_start,
            end: kv_end,
            name: "xattr key/value table",
        };
        let kv_blocks = self.table_blocks(kv);
        let (id_table, kv_table) = self.xattr_items(&id_blocks, &kv_blocks, count, kv_start, paths);
        if !id_blocks.is_empty() {
            let t = l.table(id_table);
            table_spans(l, "xattr id table", &id_blocks, Explain::Decoded(t));
        }
        index_span(l, "xattr id table", &ids);
        if !kv_blocks.is_empty() {
            let t = l.table(kv_table);
            table_spans(l, "xattr key/value table", &kv_blocks, Explain::Decoded(t));
        }
    }

    /// One item per xattr id table entry, owned by the entries whose inodes
    /// carry its index, and one per key/value set it points to, owned by the
    /// entries of every id that points there.
    ///
    /// Sets, and the ids that point at them, are named by what they hold (see
    /// [`set_label`]), not by their first entry: mksquashfs stores a set once
    /// for all the files that carry it, so when one file's attributes change,
    /// the set the others keep must still pair with itself.
    fn xattr_items(
        &self,
        id_blocks: &Blocks,
        kv_blocks: &Blocks,
        count: u64,
        kv_start: u64,
        paths: &[EntryPath],
    ) -> (Decoded, Decoded) {
        let (ids, id_ranges, _) = decode(id_blocks);
        let (kv, kv_ranges, kv_at) = decode(kv_blocks);
        let mut users = self.paths_by(|n| n.xattr, paths);
        let size = XattrIdEntry::LEN as u64;
        let n = count.min(ids.len() as u64 / size).min(self.item_cap());
        // Sets by where they start in the decoded stream: (key count, entries,
        // the first id that points there).
        let mut sets: BTreeMap<u64, (u32, Vec<EntryPath>, u64)> = BTreeMap::new();
        // Each id: where its set starts, and its entries.
        let mut id_sets = Vec::with_capacity(n as usize);
        for i in 0..n {
            let (xref, keys) = ids
                .get((i * size) as usize..)
                .and_then(XattrIdEntry::new)
                .map_or((0, 0), |e| (e.xref(), e.count()));
            let entries = users.take(i);
            let start = kv_stream_offset(&kv_at, kv_start, xref).filter(|&s| s < kv.len() as u64);
            if let Some(start) = start {
                let set = sets.entry(start).or_insert((keys, Vec::new(), i));
                set.1.extend(entries.iter().cloned());
            }
            id_sets.push((start, entries));
        }
        let starts: Vec<u64> = sets.keys().copied().collect();
        let mut labels: HashMap<u64, String> = HashMap::with_capacity(sets.len());
        let mut seen = HashSet::new();
        let kv_items = sets
            .into_iter()
            .enumerate()
            .map(|(k, (start, (keys, entries, first)))| {
                // A set ends where its last value does; the next set's start
                // bounds it, so that items never overlap.
                let limit = starts.get(k + 1).copied().unwrap_or(kv.len() as u64);
                let bytes = kv.get(start as usize..limit as usize).unwrap_or_default();
                let (parsed, len) = parse_set(bytes, keys);
                let end = len.map_or(limit, |len| start + len as u64);
                let mut label = set_label(&kv, &kv_at, kv_start, start, &parsed);
                // Writers store each set once; a second copy is told apart by
                // the id that points at it.
                if !seen.insert(label.clone()) {
                    label = format!("{label} (again, for entry {first})");
                }
                labels.insert(start, label.clone());
                Item {
                    class: "key/value set",
                    label: Some(label.into()),
                    entries: entries.into(),
                    range: start..end,
                    explain: &Explain::Entry(&[Key::Xattr]),
                    tag: keys,
                }
            })
            .collect();
        let mut seen = HashSet::new();
        let id_items = id_sets
            .into_iter()
            .enumerate()
            .map(|(i, (start, entries))| {
                let i = i as u64;
                let label = match start.and_then(|s| labels.get(&s)) {
                    Some(set) if seen.insert(set.clone()) => format!("for {set}"),
                    Some(set) => format!("for {set} (again, entry {i})"),
                    None => i.to_string(),
                };
                Item {
                    class: "entry",
                    label: Some(label.into()),
                    entries,
                    range: i * size..i * size + size,
                    explain: &Explain::Entry(&[Key::Xattr]),
                    tag: 0,
                }
            })
            .collect();
        (
            Decoded {
                name: "xattr id table".into(),
                stream: ids,
                blocks: id_ranges,
                items: id_items,
                fields: xattr_id_fields,
                same_but_placement: None,
            },
            Decoded {
                name: "xattr key/value table".into(),
                stream: kv,
                blocks: kv_ranges,
                items: kv_items,
                fields: key_value_fields,
                same_but_placement: None,
            },
        )
    }
}

/// The paths of a tree's nodes sorted by a number (see
/// [`SquashFs::paths_by`]), taken key by key in increasing order as the
/// tables that use them are read: a pair of numbers a node, not a list of
/// paths for every key.
struct PathsByKey<'p> {
    /// (key, node), sorted.
    order: Vec<(u32, u32)>,
    /// The first pair not taken yet.
    at: usize,
    paths: &'p [EntryPath],
}

impl PathsByKey<'_> {
    /// The paths of the nodes whose number is `key`, in tree order; those of
    /// smaller keys are passed over. The keys asked for increase.
    fn take(&mut self, key: u64) -> Box<[EntryPath]> {
        let rest = &self.order[self.at..];
        let below = rest.iter().take_while(|p| u64::from(p.0) < key).count();
        let equal = rest[below..]
            .iter()
            .take_while(|p| u64::from(p.0) == key)
            .count();
        self.at += below + equal;
        rest[below..below + equal]
            .iter()
            .filter_map(|&(_, node)| self.paths.get(node as usize).cloned())
            .collect()
    }
}

/// A decoded stream, where each block's bytes are in it, and the stream offset
/// of each block by its position.
type Stream = (Vec<u8>, Vec<(u64, std::ops::Range<u64>)>, HashMap<u64, u64>);

/// The decoded stream of some blocks.
fn decode(blocks: &Blocks) -> Stream {
    // Sized once: a stream grown block by block holds up to twice its bytes
    // for as long as the layout lives.
    let mut stream = Vec::with_capacity(blocks.iter().map(|(_, _, b)| b.data.len()).sum());
    let mut ranges = Vec::with_capacity(blocks.len());
    let mut at = HashMap::with_capacity(blocks.len());
    for (pos, _, b) in blocks {
        let start = stream.len() as u64;
        stream.extend_from_slice(&b.data);
        at.insert(*pos, start);
        ranges.push((*pos, start..stream.len() as u64));
    }
    (stream, ranges, at)
}

fn table_spans(l: &mut Layout, table: &str, blocks: &Blocks, explain: Explain) {
    for (k, (pos, len, _)) in blocks.iter().enumerate() {
        l.push(Span {
            start: *pos,
            len: *len,
            owner: Owner::new(
                "metadata block",
                format!("{table}: metadata block {k}"),
                explain.clone(),
            )
            .with_fields(fields_at(MetadataHeader::FIELDS, 0)),
        });
    }
}

fn index_span(l: &mut Layout, table: &str, lookup: &Lookup) {
    if lookup.count > 0 {
        l.push(Span {
            start: lookup.index,
            len: lookup.index_len(),
            owner: Owner::new("table index", format!("{table} index"), Explain::Placement),
        });
    }
}

/// A fragment block as the files' block lists find it.
struct FragmentBlock {
    start: u64,
    len: u64,
    /// Each tail: offset in the decompressed block, length, file.
    tails: Vec<(u32, u32, EntryPath)>,
}

impl FragmentBlock {
    /// True when the tails fill the block from its start with no gap between
    /// them (files of the same content may share one tail): the block then
    /// holds nothing but its files' tails, up to the end of the last one (bytes
    /// after the last tail are not seen without decompressing the block).
    fn tiled(&self) -> bool {
        let mut end = 0u64;
        for &(offset, len, _) in &self.tails {
            if u64::from(offset) > end {
                return false;
            }
            end = end.max(u64::from(offset) + u64::from(len));
        }
        true
    }
}

/// One item per fragment table entry, owned by the files whose tails are in
/// that fragment.
fn fragment_items(blocks: &Blocks, tails: &BTreeMap<u32, FragmentBlock>) -> Decoded {
    let (stream, ranges, _) = decode(blocks);
    let size = FragmentEntry::LEN as u64;
    let items = (0..stream.len() as u64 / size)
        .map(|i| {
            let entries: Vec<EntryPath> = tails
                .get(&(i as u32))
                .map(|t| t.tails.iter().map(|t| t.2.clone()).collect())
                .unwrap_or_default();
            Item {
                class: "entry",
                // Named by its first file, which stays when fragments are
                // renumbered; by its index when no file uses it.
                label: entries.is_empty().then(|| i.to_string().into()),
                entries: entries.into(),
                range: i * size..i * size + size,
                explain: &Explain::Nothing,
                tag: 0,
            }
        })
        .collect();
    Decoded {
        name: "fragment table".into(),
        stream,
        blocks: ranges,
        items,
        fields: fragment_fields,
        same_but_placement: None,
    }
}

fn fragment_fields(_: &Item, _: &[u8]) -> Vec<Field> {
    fields_at(FragmentEntry::FIELDS, 0)
}

/// The users of each id table index: the entries whose inodes name it as uid
/// or gid index, read from the headers of the decoded inodes.
fn id_users(inodes: &Decoded, count: u16) -> Vec<Vec<EntryPath>> {
    let mut users = vec![Vec::new(); usize::from(count)];
    for it in &inodes.items {
        let Some(h) = inodes
            .stream
            .get(it.range.start as usize..it.range.end as usize)
            .and_then(InodeHeader::new)
        else {
            continue;
        };
        let (uid, gid) = (h.uid_index(), h.gid_index());
        let indices: &[u16] = if uid == gid { &[uid] } else { &[uid, gid] };
        for &index in indices {
            if let Some(list) = users.get_mut(usize::from(index)) {
                list.extend(it.entries.iter().cloned());
            }
        }
    }
    users
}

/// One item per id, named by its value (see the module docs), owned by the
/// entries that use its index.
fn id_items(blocks: &Blocks, count: u64, mut users: Vec<Vec<EntryPath>>) -> Decoded {
    let (stream, ranges, _) = decode(blocks);
    let size = IdEntry::LEN as u64;
    let n = count.min(stream.len() as u64 / size);
    let mut seen = HashSet::new();
    let items = (0..n)
        .map(|i| {
            let value = stream
                .get((i * size) as usize..)
                .and_then(IdEntry::new)
                .map_or(0, |e| e.id());
            // Writers store each id once; a second copy is told apart by index.
            let label = if seen.insert(value) {
                value.to_string()
            } else {
                format!("{value} (again, entry {i})")
            };
            Item {
                class: "id",
                entries: users
                    .get_mut(i as usize)
                    .map(std::mem::take)
                    .unwrap_or_default()
                    .into(),
                label: Some(label.into()),
                range: i * size..i * size + size,
                explain: &Explain::Entry(&[Key::UID, Key::GID]),
                tag: 0,
            }
        })
        .collect();
    Decoded {
        name: "id table".into(),
        stream,
        blocks: ranges,
        items,
        fields: id_fields,
        same_but_placement: None,
    }
}

fn id_fields(_: &Item, _: &[u8]) -> Vec<Field> {
    fields_at(IdEntry::FIELDS, 0)
}

fn export_fields(_: &Item, _: &[u8]) -> Vec<Field> {
    fields_at(ExportEntry::FIELDS, 0)
}

fn xattr_id_fields(_: &Item, _: &[u8]) -> Vec<Field> {
    fields_at(XattrIdEntry::FIELDS, 0)
}

/// Where reference `xref` (`block << 16 | offset`, the block relative to
/// `kv_start`) of the key/value table is in its decoded stream.
fn kv_stream_offset(kv_at: &HashMap<u64, u64>, kv_start: u64, xref: u64) -> Option<u64> {
    let block = kv_start.checked_add(xref >> 16)?;
    kv_at.get(&block).map(|&at| at + (xref & 0xffff))
}

/// Most key names a set's name shows.
const LABEL_KEYS: usize = 3;

/// The name of the key/value set of `keys` at `start` of the decoded stream
/// `kv`: its first key names and a digest of its keys and values, out-of-line
/// values resolved (`user.a, user.b #1a2b3c4d`). The same attributes stored at
/// another place, or for other files, get the same name.
fn set_label(
    kv: &[u8],
    kv_at: &HashMap<u64, u64>,
    kv_start: u64,
    start: u64,
    keys: &[KeyAt],
) -> String {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for k in keys {
        digest.update((k.name.len() as u64).to_le_bytes());
        digest.update(k.name.as_bytes());
        let at = (start + k.value_at) as usize;
        let mut value = kv
            .get(at + XattrValue::LEN..at + k.value_len as usize)
            .unwrap_or_default();
        // The value in place is a reference to the value's length word.
        let vref = XattrValueRef::new(value).filter(|_| k.out_of_line);
        if let Some(v) = vref.and_then(|r| kv_stream_offset(kv_at, kv_start, r.reference())) {
            let v = v as usize;
            if let Some(len) = kv.get(v..).and_then(XattrValue::new) {
                let from = v.saturating_add(XattrValue::LEN);
                value = kv
                    .get(from..from.saturating_add(len.size() as usize))
                    .unwrap_or(value);
            }
        }
        digest.update((value.len() as u64).to_le_bytes());
        digest.update(value);
    }
    let hash = digest.finalize();
    let mut names: Vec<&str> = keys
        .iter()
        .take(LABEL_KEYS)
        .map(|k| k.name.as_str())
        .collect();
    let more = keys.len().saturating_sub(LABEL_KEYS);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    if names.is_empty() {
        names.push("(no keys)");
    }
    format!(
        "{}{more} #{}",
        names.join(", "),
        crate::model::hex(&hash[..4])
    )
}

/// One key of a key/value set, by position in the set's bytes.
struct KeyAt {
    /// Where its type word is.
    at: u64,
    /// The full name, prefix included, as reports show it.
    name: String,
    /// The same as the diff names the attribute: bytes, not text.
    raw_name: Vec<u8>,
    /// Where its value length word is.
    value_at: u64,
    /// The value length word and what follows it.
    value_len: u64,
    /// The value is a reference to a value stored elsewhere.
    out_of_line: bool,
}

/// The keys of a key/value set of `count` keys at the start of `b`, and its
/// length, or `None` when it runs past `b`. Every key takes at least 8 bytes,
/// so a damaged count costs no more than the bytes there are.
fn parse_set(b: &[u8], count: u32) -> (Vec<KeyAt>, Option<usize>) {
    let mut keys = Vec::new();
    let mut pos = 0usize;
    for _ in 0..count {
        let Some(key) = b.get(pos..).and_then(XattrKey::new) else {
            return (keys, None);
        };
        let name_at = pos + XattrKey::LEN;
        let name_end = name_at + usize::from(key.name_size());
        let (Some(name), Some(value)) = (
            b.get(name_at..name_end),
            b.get(name_end..).and_then(XattrValue::new),
        ) else {
            return (keys, None);
        };
        let value_len = value.size() as usize;
        let end = name_end + XattrValue::LEN + value_len;
        if end > b.len() {
            return (keys, None);
        }
        let prefix = key
            .prefix()
            .map_or_else(|other| format!("prefix {other}."), str::to_owned);
        let mut raw_name = prefix.clone().into_bytes();
        raw_name.extend_from_slice(name);
        keys.push(KeyAt {
            at: pos as u64,
            name: format!("{prefix}{}", String::from_utf8_lossy(name)),
            raw_name,
            value_at: name_end as u64,
            value_len: (XattrValue::LEN + value_len) as u64,
            out_of_line: key.out_of_line(),
        });
        pos = end;
    }
    (keys, Some(pos))
}

/// The fields of a key/value set (`item.tag` keys): each key's type, name and
/// value from their tables, named by the key so that sets of different
/// lengths compare key by key. A key's last field runs on over its name, a
/// value's over the value.
fn key_value_fields(item: &Item, b: &[u8]) -> Vec<Field> {
    let mut v = Vec::new();
    for k in parse_set(b, item.tag).0 {
        let key_at = v.len();
        v.extend(XattrKey::FIELDS.iter().map(|def| {
            Field::new(
                k.at + def.at,
                def.len,
                format!("{} {}", k.name, def.name),
                def.explain.clone(),
            )
        }));
        if let Some(name) = v.get_mut(key_at..).and_then(|f| f.last_mut()) {
            name.len = k.value_at - name.at;
            // Explained by the attribute it names, in bytes.
            name.explain = Explain::EntryXattr(k.raw_name.clone().into());
        }
        // Sets pair by what they hold (their name has a digest of it), so a
        // value that differs between two paired sets is only stored otherwise:
        // in place in one, by reference to an equal value in the other (which
        // follows from what other sets hold). A changed value changes the set's
        // name, and the set is judged by its entries' xattr differences.
        let value = if k.out_of_line {
            XattrValueRef::FIELDS
        } else {
            XattrValue::FIELDS
        };
        v.extend(value.iter().map(|def| {
            Field::new(
                k.value_at,
                k.value_len,
                format!("{} {}", k.name, def.name),
                def.explain.clone(),
            )
        }));
    }
    v
}

/// The superblock's field table.
fn superblock_fields() -> Vec<Field> {
    fields_at(RawSuperblock::FIELDS, 0)
}

/// The fields of an inode, by its type (`item.tag`): the header's table, the
/// body's after it, and what follows the body.
fn inode_fields(item: &Item, b: &[u8]) -> Vec<Field> {
    let len = b.len() as u64;
    let mut v = fields_at(InodeHeader::FIELDS, 0);
    let body = InodeHeader::LEN as u64;
    let rest = |at: u64, name: &'static str, explain: Explain| {
        f(at, len.saturating_sub(at), name, explain)
    };
    let xattr_at = |at: u64| fields_at(XattrIndex::FIELDS, at);
    let blocks = |at| {
        rest(
            at,
            "block sizes",
            Explain::Entry(&[Key::Content, Key::SIZE]),
        )
    };
    match item.tag {
        1 => v.extend(fields_at(BasicDirBody::FIELDS, body)),
        8 => {
            v.extend(fields_at(ExtDirBody::FIELDS, body));
            let end = body + ExtDirBody::LEN as u64;
            v.push(rest(
                end,
                "directory index",
                Explain::EntryOrPlacement(&[Key::Children]),
            ));
        }
        2 => {
            v.extend(fields_at(BasicFileBody::FIELDS, body));
            v.push(blocks(body + BasicFileBody::LEN as u64));
        }
        9 => {
            v.extend(fields_at(ExtFileBody::FIELDS, body));
            v.push(blocks(body + ExtFileBody::LEN as u64));
        }
        3 | 10 => {
            let end = body + SymlinkBody::LEN as u64;
            let target = b
                .get(body as usize..end as usize)
                .and_then(SymlinkBody::new)
                .map_or(0, |s| u64::from(s.target_len()));
            v.extend(fields_at(SymlinkBody::FIELDS, body));
            v.push(f(end, target, "target", Explain::Entry(&[Key::SYMLINK])));
            if item.tag == 10 {
                v.extend(xattr_at(end + target));
            }
        }
        4 | 5 | 11 | 12 => {
            v.extend(fields_at(DeviceBody::FIELDS, body));
            if item.tag > 7 {
                v.extend(xattr_at(body + DeviceBody::LEN as u64));
            }
        }
        _ => {
            v.extend(fields_at(IpcBody::FIELDS, body));
            if item.tag > 7 {
                v.extend(xattr_at(body + IpcBody::LEN as u64));
            }
        }
    }
    v
}

/// The names of the fields of the `n`th entry of a listing (its header's
/// table, then the name). Made for every entry of every listing that differs
/// (most do when inodes are renumbered): the first ones are made once.
fn entry_field_names(n: u32) -> Vec<Cow<'static, str>> {
    const MADE_ONCE: u32 = 1024;
    static NAMES: std::sync::OnceLock<Vec<Vec<String>>> = std::sync::OnceLock::new();
    let made = |n: u32| -> Vec<String> {
        DirEntryHeader::FIELDS
            .iter()
            .map(|def| def.name)
            .chain(["name"])
            .map(|name| format!("entry {n} {name}"))
            .collect()
    };
    if n >= MADE_ONCE {
        return made(n).into_iter().map(Cow::Owned).collect();
    }
    let names = NAMES.get_or_init(|| (0..MADE_ONCE).map(made).collect());
    names[n as usize]
        .iter()
        .map(|name| Cow::Borrowed(name.as_str()))
        .collect()
}

/// A run of a listing: its header and where it is, and its entries, each
/// where it is, with its name.
struct ListingRun<'b> {
    at: usize,
    header: DirHeader<'b>,
    entries: Vec<(usize, DirEntryHeader<'b>, &'b [u8])>,
}

/// The runs of a listing. Stops where the listing does not parse.
fn listing_runs(b: &[u8]) -> Vec<ListingRun<'_>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while let Some(h) = b.get(pos..).and_then(DirHeader::new) {
        let at = pos;
        pos += DirHeader::LEN;
        let mut entries = Vec::new();
        let mut whole = true;
        for _ in 0..=u64::from(h.count()) {
            let Some(e) = b.get(pos..).and_then(DirEntryHeader::new) else {
                whole = false;
                break;
            };
            let name_at = pos + DirEntryHeader::LEN;
            let name_len = usize::from(e.name_size()) + 1;
            let Some(name) = b.get(name_at..name_at + name_len) else {
                whole = false;
                break;
            };
            entries.push((pos, e, name));
            pos = name_at + name_len;
        }
        out.push(ListingRun {
            at,
            header: h,
            entries,
        });
        if !whole {
            break;
        }
    }
    out
}

/// The type and name of each entry of a listing, in order, without the
/// headers that group them by inode block and the inode references: what a
/// listing says once placement is set aside. `None` when it does not parse.
fn listing_names(b: &[u8]) -> Option<Vec<(u16, &[u8])>> {
    let runs = listing_runs(b);
    let mut end = 0;
    let mut out = Vec::new();
    for run in &runs {
        if run.entries.len() as u64 != u64::from(run.header.count()) + 1 {
            return None;
        }
        end = run.at + DirHeader::LEN;
        for (pos, e, name) in &run.entries {
            out.push((e.type_code(), *name));
            end = pos + DirEntryHeader::LEN + name.len();
        }
    }
    (end == b.len()).then_some(out)
}

/// True when two listings hold the same entries in the same order, of the
/// same types: headers regrouped and inode references renumbered after
/// entries elsewhere were added or removed are placement.
fn same_listing(a: &[u8], b: &[u8]) -> bool {
    matches!((listing_names(a), listing_names(b)), (Some(x), Some(y)) if x == y)
}

/// The fields of a directory listing: each header and entry from their
/// tables, entries numbered so that listings of different lengths compare
/// field by field.
fn listing_fields(_: &Item, b: &[u8]) -> Vec<Field> {
    let mut v = Vec::new();
    let mut n = 0u32;
    for run in listing_runs(b) {
        v.extend(fields_at(DirHeader::FIELDS, run.at as u64));
        for (pos, _, name) in run.entries {
            n += 1;
            let mut names = entry_field_names(n).into_iter();
            for def in DirEntryHeader::FIELDS {
                let name = names.next().unwrap_or(Cow::Borrowed(def.name));
                v.push(Field::new(
                    pos as u64 + def.at,
                    def.len,
                    name,
                    def.explain.clone(),
                ));
            }
            v.push(Field::new(
                (pos + DirEntryHeader::LEN) as u64,
                name.len() as u64,
                names.next().unwrap_or(Cow::Borrowed("name")),
                Explain::Entry(&[Key::Children]),
            ));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::metadata::tests::plain_block;
    use super::super::superblock::tests::superblock;
    use super::*;
    use crate::report::Kind;
    use crate::{diff_bytes, Options};

    /// A tiny uncompressed image: a root directory holding `/file` (5 bytes),
    /// both owned by id index 0, and an id table of `ids`.
    fn image(ids: &[u32]) -> Vec<u8> {
        let mut listing = Vec::new();
        // One header (one entry, inode block 0, inode number 1), one entry:
        // the inode at offset 32, number 1 + 1, a basic file, "file".
        for v in [0u32, 0, 1] {
            listing.extend(v.to_le_bytes());
        }
        for v in [32u16, 1, 2, 3] {
            listing.extend(v.to_le_bytes());
        }
        listing.extend(b"file");
        let header = |type_code: u16, number: u32| {
            let mut h = Vec::new();
            for v in [type_code, 0o755, 0, 0] {
                h.extend(v.to_le_bytes());
            }
            h.extend(1u32.to_le_bytes());
            h.extend(number.to_le_bytes());
            h
        };
        let mut inodes = header(1, 1);
        for v in [0u32, 2] {
            inodes.extend(v.to_le_bytes());
        }
        inodes.extend((listing.len() as u16 + 3).to_le_bytes());
        inodes.extend(0u16.to_le_bytes());
        inodes.extend(0u32.to_le_bytes());
        inodes.extend(header(2, 2));
        for v in [96u32, u32::MAX, 0, 5, 5 | 1 << 24] {
            inodes.extend(v.to_le_bytes());
        }
        let mut img = vec![0u8; 96];
        img.extend(b"hello");
        let inode_table = img.len() as u64;
        img.extend(plain_block(&inodes));
        let dir_table = img.len() as u64;
        img.extend(plain_block(&listing));
        let id_block = img.len() as u64;
        let id_data: Vec<u8> = ids.iter().flat_map(|v| v.to_le_bytes()).collect();
        img.extend(plain_block(&id_data));
        let id_table = img.len() as u64;
        img.extend(id_block.to_le_bytes());
        let mut sb = superblock(img.len() as u64, inode_table, dir_table, id_table, 0);
        sb[4..8].copy_from_slice(&2u32.to_le_bytes());
        sb[26..28].copy_from_slice(&(ids.len() as u16).to_le_bytes());
        img[..96].copy_from_slice(&sb);
        img
    }

    fn bytes_fields(r: &crate::Report) -> Vec<String> {
        r.differences
            .iter()
            .filter(|d| d.kind() == Kind::Bytes)
            .filter_map(|d| d.field().map(|f| f.into_owned()))
            .collect()
    }

    #[test]
    fn ids_are_items_of_the_entries_that_use_them() {
        let img = image(&[1000, 7]);
        let fs = SquashFs::open(&img, &crate::Limits::default()).unwrap();
        let l = fs.layout();
        let ids = l.tables.iter().find(|t| t.name == "id table").unwrap();
        let items: Vec<(String, usize)> = ids
            .items
            .iter()
            .map(|it| (it.name(&ids.name), it.entries.len()))
            .collect();
        assert_eq!(
            items,
            [
                ("id table: id 1000".to_owned(), 2),
                ("id table: id 7".to_owned(), 0)
            ]
        );
    }

    #[test]
    fn a_changed_id_is_explained_by_its_users_and_an_unused_one_is_reported() {
        let options = Options::default().threads(1);
        // Used by both entries as uid and gid: four differences explain it.
        let r = diff_bytes(&image(&[1000, 7]), &image(&[1001, 7]), &options).unwrap();
        assert!(bytes_fields(&r).is_empty(), "{:?}", r.differences);
        assert_eq!(r.differences.len(), 4, "{:?}", r.differences);
        let rec = &r.byte_accounting[0];
        assert_eq!((rec.explained_bytes, rec.reported_bytes), (1, 0), "{rec:?}");

        // Used by nothing: no entry differs, the id is reported by value.
        let r = diff_bytes(&image(&[1000, 7]), &image(&[1000, 8]), &options).unwrap();
        assert_eq!(
            bytes_fields(&r),
            ["id table: id 7 (only in a)", "id table: id 8 (only in b)"]
        );
        let rec = &r.byte_accounting[0];
        assert_eq!((rec.differing_bytes, rec.reported_bytes), (1, 1), "{rec:?}");
    }

    #[test]
    fn key_value_sets_are_read_within_their_bytes() {
        let mut set = Vec::new();
        for v in [0u16, 1] {
            set.extend(v.to_le_bytes());
        }
        set.push(b'x');
        set.extend(4u32.to_le_bytes());
        set.extend(b"aaaa");
        let (keys, len) = parse_set(&set, 1);
        assert_eq!((keys.len(), len), (1, Some(set.len())));
        // A count far past the bytes, a value length past them: no panic, no
        // length, the keys read so far.
        let (keys, len) = parse_set(&set, u32::MAX);
        assert_eq!((keys.len(), len), (1, None));
        let mut long = set.clone();
        long[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse_set(&long, 1).1, None);
        for cut in 0..set.len() {
            let item = Item {
                class: "key/value set",
                entries: Box::default(),
                label: None,
                range: 0..cut as u64,
                explain: &Explain::Nothing,
                tag: u32::MAX,
            };
            let fields = key_value_fields(&item, &set[..cut]);
            assert!(fields.iter().all(|f| f.at + f.len <= cut as u64));
        }
    }
}
