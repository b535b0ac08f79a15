//! The byte layout of a squashfs image, for byte accounting: the superblock
//! field by field, the compressor options, every data block (owned by its file)
//! and fragment block (owned by the files whose tails it holds), and the
//! metadata blocks of every table. The inode, directory and fragment tables are
//! also decoded into items (an inode, a directory listing, a fragment entry), so
//! that a differing compressed block can be explained by what differs in it.
//!
//! Built from the bytes again when asked, never when the image is opened.

use std::collections::{BTreeMap, HashMap};

use super::metadata::{Lookup, Table};
use super::superblock::{ABSENT, SUPERBLOCK_SIZE};
use super::SquashFs;
use crate::accounting::{Decoded, Explain, Field, Item, Layout, Owner, Placement, Span};
use crate::bytes::{le16, le32};
use crate::model::{EntryKind, Value};

fn fact(name: &'static str) -> Explain {
    Explain::Fact(name.into())
}

fn f(at: u64, len: u64, name: &'static str, explain: Explain) -> Field {
    Field::new(at, len, name, explain)
}

fn int_attr(attrs: &[crate::model::Fact], name: &str) -> Option<u64> {
    attrs
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match a.value {
            Value::Int(v) => Some(v),
            _ => None,
        })
}

/// Metadata blocks read from a table: (position, stored length, decoded bytes).
type Blocks = Vec<(u64, u64, std::sync::Arc<super::metadata::Block>)>;

impl SquashFs<'_> {
    /// See [`crate::Filesystem::byte_layout`].
    pub(crate) fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let sb = &self.sb;
        let paths: Vec<Vec<u8>> = (0..self.tree.nodes.len() as u32)
            .map(|n| self.tree.path(n).into_bytes())
            .collect();
        l.push(Span {
            start: 0,
            len: SUPERBLOCK_SIZE,
            owner: Owner::new("superblock", "superblock", Explain::Nothing)
                .with_fields(superblock_fields()),
        });
        let mut data_start = SUPERBLOCK_SIZE;
        if sb.has_compressor_options() {
            let stored = self
                .image
                .get(SUPERBLOCK_SIZE, 2, "compressor options")
                .map(|h| u64::from(le16(h, 0) & 0x7fff))
                .unwrap_or(0);
            l.push(Span {
                start: SUPERBLOCK_SIZE,
                len: 2 + stored,
                owner: Owner::new(
                    "compression options",
                    "compression options",
                    fact("compression_options"),
                ),
            });
            data_start += 2 + stored;
        }
        l.region(
            data_start,
            sb.inode_table.saturating_sub(data_start),
            "the data area",
        );

        // Data blocks and fragment blocks, from every file's block list.
        let mut fragments: BTreeMap<u32, (u64, u64, Vec<Vec<u8>>)> = BTreeMap::new();
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
                        Explain::Entry(&["content", "size", "nested"]),
                    )
                    .of(path),
                });
            }
            if let Some(t) = blocks.fragment {
                fragments
                    .entry(t.index)
                    .or_insert((t.block_offset, t.raw.len() as u64, Vec::new()))
                    .2
                    .push(path.clone());
            }
        }
        for (index, (start, len, files)) in &fragments {
            let mut owner = Owner::new(
                "fragment block",
                format!("fragment block {index}"),
                Explain::Entry(&["content", "size", "nested"]),
            );
            owner.entries = files.clone();
            owner.note = Some(format!(
                "tails of {} file{}",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ));
            l.push(Span {
                start: *start,
                len: *len,
                owner,
            });
        }

        // The inode and directory tables, decoded.
        let inode_blocks = self.table_blocks(self.inode_table);
        let t = l.table(self.inode_items(&inode_blocks, &paths));
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
                entry_size: 8,
                floor: SUPERBLOCK_SIZE,
                name: "export table",
            };
            let blocks = self.lookup_blocks(&export);
            table_spans(&mut l, "export table", &blocks, Explain::Placement);
            index_span(&mut l, "export table", &export);
        }
        let ids = Lookup {
            index: sb.id_table,
            count: u64::from(sb.id_count),
            entry_size: 4,
            floor: SUPERBLOCK_SIZE,
            name: "id table",
        };
        let blocks = self.lookup_blocks(&ids);
        table_spans(
            &mut l,
            "id table",
            &blocks,
            Explain::AnyEntry(&["uid", "gid"]),
        );
        index_span(&mut l, "id table", &ids);
        self.xattr_spans(&mut l);
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

    /// The metadata blocks a lookup table's index lists.
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
        for k in 0..lookup.blocks().min(1 << 16) {
            let Ok(pos) = lookup.block_pos(self.image, k) else {
                break;
            };
            match self.reader.block(&table, pos) {
                Ok(b) => {
                    let next = b.next;
                    out.push((pos, next - pos, b));
                }
                Err(_) => break,
            }
        }
        out
    }

    /// One item per inode, named by the first path that reaches it.
    fn inode_items(&self, blocks: &Blocks, paths: &[Vec<u8>]) -> Decoded {
        let (stream, ranges, at) = decode(blocks);
        let mut by_ref: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            let Some(iref) = int_attr(&n.entry.attrs, "squashfs.inode_ref") else {
                continue;
            };
            let pos = self.inode_table.start + (iref >> 16);
            if let Some(&start) = at.get(&pos) {
                by_ref
                    .entry(start + (iref & 0xffff))
                    .or_default()
                    .push(paths[i].clone());
            }
        }
        let starts: Vec<u64> = by_ref.keys().copied().collect();
        let items = by_ref
            .into_iter()
            .enumerate()
            .map(|(k, (start, entries))| {
                let end = starts.get(k + 1).copied().unwrap_or(stream.len() as u64);
                Item {
                    class: "inode",
                    entries,
                    label: None,
                    range: start..end.max(start),
                    explain: Explain::Nothing,
                    tag: u32::from(le16(&stream, start as usize)),
                }
            })
            .collect();
        Decoded {
            name: "inode table".into(),
            stream,
            blocks: ranges,
            items,
            fields: inode_fields,
        }
    }

    /// One item per directory listing.
    fn listing_items(&self, blocks: &Blocks, paths: &[Vec<u8>], table_start: u64) -> Decoded {
        let (stream, ranges, at) = decode(blocks);
        let mut items = Vec::new();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::Dir {
                continue;
            }
            let attrs = &n.entry.attrs;
            let (Some(block), Some(offset), Some(size)) = (
                int_attr(attrs, "squashfs.dir_start"),
                int_attr(attrs, "squashfs.dir_offset"),
                int_attr(attrs, "squashfs.dir_size"),
            ) else {
                continue;
            };
            let Some(&start) = at.get(&(table_start + block)) else {
                continue;
            };
            let start = start + offset;
            items.push(Item {
                class: "listing",
                entries: vec![paths[i].clone()],
                label: None,
                range: start..start + size.saturating_sub(3),
                explain: Explain::Entry(&["children"]),
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
        }
    }

    /// The xattr id table header, index and blocks, and the key/value blocks.
    fn xattr_spans(&self, l: &mut Layout) {
        let at = self.sb.xattr_id_table;
        if at == ABSENT {
            return;
        }
        let Ok(h) = self.image.get(at, 16, "xattr id table header") else {
            return;
        };
        let kv_start = u64::from_le_bytes(h[..8].try_into().unwrap_or_default());
        let count = u64::from(le32(h, 8));
        l.push(Span {
            start: at,
            len: 16,
            owner: Owner::new("table index", "xattr id table header", Explain::Nothing)
                .with_fields(vec![
                    f(0, 8, "key/value table start", Explain::Placement),
                    f(8, 4, "count", fact("xattr.sets")),
                ]),
        });
        let ids = Lookup {
            index: at + 16,
            count,
            entry_size: 16,
            floor: SUPERBLOCK_SIZE,
            name: "xattr id table",
        };
        let id_blocks = self.lookup_blocks(&ids);
        let kv_end = id_blocks.first().map_or(at, |b| b.0);
        table_spans(
            l,
            "xattr id table",
            &id_blocks,
            Explain::AnyEntry(&["xattr"]),
        );
        index_span(l, "xattr id table", &ids);
        let kv = Table {
            start: kv_start,
            end: kv_end,
            name: "xattr key/value table",
        };
        let blocks = self.table_blocks(kv);
        table_spans(
            l,
            "xattr key/value table",
            &blocks,
            Explain::AnyEntry(&["xattr"]),
        );
    }
}

/// A decoded stream, where each block's bytes are in it, and the stream offset
/// of each block by its position.
type Stream = (Vec<u8>, Vec<(u64, std::ops::Range<u64>)>, HashMap<u64, u64>);

/// The decoded stream of some blocks.
fn decode(blocks: &Blocks) -> Stream {
    let mut stream = Vec::new();
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
            .with_fields(vec![f(0, 2, "header", Explain::Derived)]),
        });
    }
}

fn index_span(l: &mut Layout, table: &str, lookup: &Lookup) {
    if lookup.count > 0 {
        l.push(Span {
            start: lookup.index,
            len: lookup.blocks() * 8,
            owner: Owner::new("table index", format!("{table} index"), Explain::Placement),
        });
    }
}

/// One item per fragment table entry, owned by the files whose tails are in
/// that fragment.
fn fragment_items(blocks: &Blocks, tails: &BTreeMap<u32, (u64, u64, Vec<Vec<u8>>)>) -> Decoded {
    let (stream, ranges, _) = decode(blocks);
    let items = (0..stream.len() as u64 / 16)
        .map(|i| Item {
            class: "entry",
            entries: tails
                .get(&(i as u32))
                .map(|t| t.2.clone())
                .unwrap_or_default(),
            label: Some(i.to_string()),
            range: i * 16..i * 16 + 16,
            explain: Explain::Nothing,
            tag: 0,
        })
        .collect();
    Decoded {
        name: "fragment table".into(),
        stream,
        blocks: ranges,
        items,
        fields: fragment_fields,
    }
}

fn fragment_fields(_: &Item, _: &[u8]) -> Vec<Field> {
    vec![
        f(0, 8, "start", Explain::Placement),
        f(8, 4, "size", Explain::Entry(&["content", "size", "nested"])),
        f(12, 4, "unused", Explain::Nothing),
    ]
}

fn superblock_fields() -> Vec<Field> {
    vec![
        f(0, 4, "magic", Explain::Nothing),
        f(4, 4, "inode count", fact("superblock.inode_count")),
        f(8, 4, "mkfs time", fact("superblock.mkfs_time")),
        f(12, 4, "block size", fact("superblock.block_size")),
        f(16, 4, "fragment count", fact("superblock.fragment_count")),
        f(20, 2, "compressor", fact("superblock.compressor")),
        f(22, 2, "block log", fact("superblock.block_size")),
        f(24, 2, "flags", fact("superblock.flags")),
        f(26, 2, "id count", fact("superblock.id_count")),
        f(28, 4, "version", fact("superblock.version")),
        f(32, 8, "root inode reference", Explain::Placement),
        f(40, 8, "bytes used", Explain::Placement),
        f(48, 8, "id table start", Explain::Placement),
        f(56, 8, "xattr id table start", Explain::Placement),
        f(64, 8, "inode table start", Explain::Placement),
        f(72, 8, "directory table start", Explain::Placement),
        f(80, 8, "fragment table start", Explain::Placement),
        f(88, 8, "export table start", Explain::Placement),
    ]
}

/// The fields of an inode, by its type (`item.tag`).
fn inode_fields(item: &Item, b: &[u8]) -> Vec<Field> {
    let entry = |keys: &'static [&'static str]| Explain::Entry(keys);
    let len = b.len() as u64;
    let mut v = vec![
        f(0, 2, "type", entry(&["type"])),
        f(2, 2, "mode", entry(&["mode"])),
        f(4, 2, "uid index", entry(&["uid"])),
        f(6, 2, "gid index", entry(&["gid"])),
        f(8, 4, "mtime", entry(&["mtime"])),
        f(12, 4, "inode number", Explain::Placement),
    ];
    let nlink = |at| f(at, 4, "link count", entry(&["nlink", "children"]));
    let xattr = |at| f(at, 4, "xattr index", Explain::EntryOrPlacement(&["xattr"]));
    let blocks = |at: u64| {
        f(
            at,
            len.saturating_sub(at),
            "block sizes",
            entry(&["content", "size"]),
        )
    };
    match item.tag {
        1 => v.extend([
            f(16, 4, "listing block", Explain::Placement),
            nlink(20),
            f(24, 2, "listing size", entry(&["children"])),
            f(26, 2, "listing offset", Explain::Placement),
            f(28, 4, "parent inode", Explain::Placement),
        ]),
        8 => v.extend([
            nlink(16),
            f(20, 4, "listing size", entry(&["children"])),
            f(24, 4, "listing block", Explain::Placement),
            f(28, 4, "parent inode", Explain::Placement),
            f(
                32,
                2,
                "index count",
                Explain::EntryOrPlacement(&["children"]),
            ),
            f(34, 2, "listing offset", Explain::Placement),
            xattr(36),
            f(
                40,
                len.saturating_sub(40),
                "directory index",
                Explain::EntryOrPlacement(&["children"]),
            ),
        ]),
        2 => v.extend([
            f(16, 4, "blocks start", Explain::Placement),
            f(20, 4, "fragment index", Explain::Placement),
            f(24, 4, "fragment offset", Explain::Placement),
            f(28, 4, "size", entry(&["size", "content"])),
            blocks(32),
        ]),
        9 => v.extend([
            f(16, 8, "blocks start", Explain::Placement),
            f(24, 8, "size", entry(&["size", "content"])),
            f(32, 8, "sparse bytes", entry(&["content"])),
            nlink(40),
            f(44, 4, "fragment index", Explain::Placement),
            f(48, 4, "fragment offset", Explain::Placement),
            xattr(52),
            blocks(56),
        ]),
        3 | 10 => {
            let target = u64::from(le32(b, 20));
            v.extend([
                nlink(16),
                f(20, 4, "target length", entry(&["symlink"])),
                f(24, target, "target", entry(&["symlink"])),
            ]);
            if item.tag == 10 {
                v.push(xattr(24 + target));
            }
        }
        4 | 5 | 11 | 12 => {
            v.extend([nlink(16), f(20, 4, "device number", entry(&["rdev"]))]);
            if item.tag > 7 {
                v.push(xattr(24));
            }
        }
        _ => {
            v.push(nlink(16));
            if item.tag > 7 {
                v.push(xattr(20));
            }
        }
    }
    v
}

/// The fields of a directory listing: each header and entry, numbered so that
/// listings of different lengths can be compared field by field.
fn listing_fields(_: &Item, b: &[u8]) -> Vec<Field> {
    let children = Explain::Entry(&["children"]);
    let mut v = Vec::new();
    let mut pos = 0u64;
    let mut entry = 0u32;
    let len = b.len() as u64;
    while pos + 12 <= len {
        let count = u64::from(le32(b, pos as usize)) + 1;
        v.push(f(pos, 4, "header count", children.clone()));
        v.push(f(
            pos + 4,
            8,
            "header inode block and number",
            Explain::Placement,
        ));
        pos += 12;
        for _ in 0..count {
            if pos + 8 > len {
                break;
            }
            entry += 1;
            let name_len = u64::from(le16(b, pos as usize + 6)) + 1;
            v.push(Field::new(
                pos,
                4,
                format!("entry {entry} inode"),
                Explain::Placement,
            ));
            v.push(Field::new(
                pos + 4,
                4 + name_len,
                format!("entry {entry} type and name"),
                children.clone(),
            ));
            pos += 8 + name_len;
        }
    }
    v
}
