//! The HFS+ volume of a hybrid image (grub-mkrescue's and xorriso's
//! `-hfsplus`: an Apple partition map entry of type `Apple_HFS`, named
//! `HFSPLUS_Hybrid`, over the same file data as the ISO tree), read only as far
//! as byte accounting needs: the volume header and its copy at the volume's
//! end, with their dates as image facts, and the special files (catalog,
//! extents overflow, allocation, attributes, startup), the catalog node by node
//! and its leaf records with their five dates.
//!
//! The HFS+ tree is read as another namespace over the same extents, as
//! Joliet is: a catalog file record whose data fork starts where an ISO
//! file's extent does describes that file, so its name and five dates become
//! the entry's attributes (`hfsplus.name`, `hfsplus.record.*`; the dates
//! follow the entry's mtime, as xorriso takes them from the same source), and
//! in the byte layout the record belongs to the entry: a differing catalog
//! date is reported against its entry, not as anonymous bytes. Folder records
//! and files without data (no extent to pair by) are not paired; their dates
//! are explained by a time difference at any entry of the image (the
//! accounting's `AnyEntry`). The format: Apple's Technical Note TN1150.

use std::collections::HashMap;

use super::attrs::{
    HFSPLUS_ACCESS_DATE, HFSPLUS_ATTRIBUTE_DATE, HFSPLUS_BACKUP_DATE, HFSPLUS_CREATE_DATE,
    HFSPLUS_MODIFY_DATE,
};
use crate::bytes::{be16, be32, byte};
use crate::model::key::{Attr, Key};
use crate::model::span::{f, fact, EntryPath, Explain, Field, Keys, Layout, Owner, Span};
use crate::model::{Fact, Value};
use crate::time::Timestamp;

/// Seconds from 1904-01-01 (HFS+'s epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;
/// Catalog nodes given spans; a catalog has one per few dozen entries, so a
/// tree within `max_entries` needs far fewer. Past this the rest is one span.
const MAX_NODES: u64 = 1 << 16;
/// Records per node looked at (a 4 KiB node holds at most a few hundred).
const MAX_RECORDS: usize = 1024;

/// The volume header's dates: offset, fact name.
const DATES: [(u64, &str); 4] = [
    (16, "hfsplus.create_date"),
    (20, "hfsplus.modify_date"),
    (24, "hfsplus.backup_date"),
    (28, "hfsplus.checked_date"),
];

/// The special files' fork data in the volume header: offset, name.
const FORKS: [(usize, &str); 5] = [
    (112, "allocation file"),
    (192, "extents overflow file"),
    (272, "catalog file"),
    (352, "attributes file"),
    (432, "startup file"),
];

/// An HFS+ volume found through the Apple partition map.
struct Volume<'a> {
    /// Where the volume starts in the image.
    start: u64,
    /// Its volume header (512 bytes).
    header: &'a [u8],
    block_size: u64,
    total_blocks: u64,
}

/// The HFS+ volume of `data`, when its Apple partition map names one.
fn find(data: &[u8]) -> Option<Volume<'_>> {
    if data.get(..2) != Some(b"ER") {
        return None;
    }
    let block = u64::from(be16(data, 2));
    if !matches!(block, 512 | 1024 | 2048) {
        return None;
    }
    for i in 1..=64u64 {
        let at = usize::try_from(block * i).ok()?;
        let e = data.get(at..at + 512)?;
        if e.get(..2) != Some(b"PM") {
            return None;
        }
        if !e.get(48..80)?.starts_with(b"Apple_HFS\0") {
            continue;
        }
        let start = u64::from(be32(e, 8)).checked_mul(block)?;
        let at = usize::try_from(start.checked_add(1024)?).ok()?;
        let header = data.get(at..at.checked_add(512)?)?;
        // "H+" version 4, or "HX" version 5 (case-sensitive HFSX).
        if !matches!(header.get(..4), Some(b"H+\0\x04" | b"HX\0\x05")) {
            continue;
        }
        let block_size = u64::from(be32(header, 40));
        if !block_size.is_power_of_two() || !(512..=1 << 20).contains(&block_size) {
            continue;
        }
        return Some(Volume {
            start,
            header,
            block_size,
            total_blocks: u64::from(be32(header, 44)),
        });
    }
    None
}

/// Where the HFS+ volume of `data` is (first byte, one past the last), when
/// its Apple partition map names one.
pub(crate) fn volume_range(data: &[u8]) -> Option<(u64, u64)> {
    let v = find(data)?;
    let end = v
        .start
        .saturating_add(v.total_blocks.saturating_mul(v.block_size));
    Some((v.start, end))
}

/// A catalog file record: what it says of the file it describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CatalogFile {
    /// Where the file's data starts in the image (its data fork's first
    /// extent): the ISO file with an extent there is the same file.
    pub data_start: u64,
    /// Its name (the record key's), UTF-16 decoded.
    pub name: String,
    /// Create, content modification, attribute modification, access and
    /// backup dates, as stored (seconds since 1904).
    pub dates: [u32; 5],
}

/// What a file record of a leaf node (its bytes `rec`) says, when it is one
/// with data: `None` for other records and for files without data.
fn file_record(rec: &[u8], v: &Volume<'_>) -> Option<CatalogFile> {
    let key_len = usize::from(be16(rec, 0));
    let data_at = 2usize.checked_add(key_len)?;
    // recordType 2, and room for the data fork's first extent.
    if rec.get(data_at..data_at + 2)? != [0, 2] || rec.len() < data_at + 112 {
        return None;
    }
    // Key: parent id (4), then the name's length (2) and UTF-16 units.
    let units = usize::from(be16(rec, 6));
    let name: Vec<u16> = rec
        .get(8..8usize.checked_add(units * 2)?.min(2 + key_len))?
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let mut dates = [0u32; 5];
    for (k, d) in dates.iter_mut().enumerate() {
        *d = be32(rec, data_at + 12 + 4 * k);
    }
    // The data fork (at 88): logical size (8), clump size, total blocks,
    // then the first extent's start block and count.
    let size = u64::from(be32(rec, data_at + 88)) << 32 | u64::from(be32(rec, data_at + 92));
    let first = u64::from(be32(rec, data_at + 104));
    let count = be32(rec, data_at + 108);
    if size == 0 || count == 0 {
        return None;
    }
    Some(CatalogFile {
        data_start: v.start.checked_add(first.checked_mul(v.block_size)?)?,
        name: String::from_utf16_lossy(&name),
        dates,
    })
}

/// The catalog's leaf nodes (image offset, bytes), in order, within
/// [`MAX_NODES`]; none when the catalog cannot be read.
fn leaf_nodes<'d>(data: &'d [u8], v: &Volume<'_>) -> Vec<(u64, &'d [u8])> {
    let extents = fork_extents(v, 272, data.len() as u64);
    let mut out = Vec::new();
    let Some(node_size) = catalog_node_size(data, &extents) else {
        return out;
    };
    let mut nodes = 0u64;
    for &(start, n) in &extents {
        let mut at = start;
        while at + node_size <= start + n && nodes < MAX_NODES {
            let node = usize::try_from(at)
                .ok()
                .and_then(|s| data.get(s..s.checked_add(node_size as usize)?));
            if let Some(node) = node.filter(|n| byte(n, 8) == 0xff) {
                out.push((at, node));
            }
            nodes += 1;
            at += node_size;
        }
    }
    out
}

/// The catalog's node size, read from its header node, when it is sound.
fn catalog_node_size(data: &[u8], extents: &[(u64, u64)]) -> Option<u64> {
    let &(first, _) = extents.first()?;
    let header = usize::try_from(first)
        .ok()
        .and_then(|s| data.get(s..s.checked_add(512)?))?;
    // The header record follows the 14-byte node descriptor: node size at 18.
    let node_size = u64::from(be16(header, 14 + 18));
    (node_size.is_power_of_two() && (512..=32768).contains(&node_size)).then_some(node_size)
}

/// The records of a leaf node: (offset in the node, bytes), in order, up to
/// the first that is out of order or overlaps.
fn leaf_records(node: &[u8]) -> Vec<(u64, &[u8])> {
    let records = usize::from(be16(node, 10)).min(MAX_RECORDS);
    let size = node.len() as u64;
    let offset = |i: usize| -> Option<u64> {
        let p = node.len().checked_sub(2 * (i + 1))?;
        Some(u64::from(be16(node, p)))
    };
    let mut out = Vec::new();
    let mut end = 14;
    for i in 0..records {
        let (Some(s), Some(e)) = (offset(i), offset(i + 1)) else {
            break;
        };
        if s < end || e <= s || e > size {
            break;
        }
        end = e;
        out.push((s, &node[s as usize..e as usize]));
    }
    out
}

/// The file records (with data) of the HFS+ catalog of `data`, if it has an
/// HFS+ volume.
pub(crate) fn catalog_files(data: &[u8]) -> Vec<CatalogFile> {
    let Some(v) = find(data) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (_, node) in leaf_nodes(data, &v) {
        for (_, rec) in leaf_records(node) {
            out.extend(file_record(rec, &v));
        }
    }
    out
}

/// An HFS+ catalog date as an attribute value.
pub(crate) fn record_date(v: u32) -> Value {
    date(v)
}

/// An HFS+ date (seconds since 1904) as a time.
fn date(v: u32) -> Value {
    Value::Time(Timestamp::from_unix(i64::from(v) - EPOCH_1904))
}

/// Adds the volume header's dates to `facts`, when the image has an HFS+ volume.
pub(crate) fn facts(data: &[u8], facts: &mut Vec<Fact>) {
    if let Some(v) = find(data) {
        for (at, name) in DATES {
            facts.push(Fact::time(name, date(be32(v.header, at as usize))));
        }
    }
}

/// The extents (image offset, length) of the special file whose fork data is
/// at `fork` in the volume header, cut to the image.
fn fork_extents(v: &Volume<'_>, fork: usize, image_len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for k in 0..8 {
        let e = fork + 16 + k * 8;
        let (first, count) = (
            u64::from(be32(v.header, e)),
            u64::from(be32(v.header, e + 4)),
        );
        if count == 0 {
            continue;
        }
        let start = v.start.saturating_add(first.saturating_mul(v.block_size));
        let len = count.saturating_mul(v.block_size);
        if start < image_len {
            out.push((start, len.min(image_len - start)));
        }
    }
    out
}

/// What explains each of a paired file record's five dates: a time of its
/// own entry, or the date's own attribute.
const PAIRED_DATES: [Keys; 5] = [
    &entry_times_or(HFSPLUS_CREATE_DATE),
    &entry_times_or(HFSPLUS_MODIFY_DATE),
    &entry_times_or(HFSPLUS_ATTRIBUTE_DATE),
    &entry_times_or(HFSPLUS_ACCESS_DATE),
    &entry_times_or(HFSPLUS_BACKUP_DATE),
];

/// The entry's times, or the date's own attribute `date`.
const fn entry_times_or(date: Attr) -> [Key; 4] {
    [Key::MTIME, Key::ATIME, Key::CTIME, Key::Attribute(date)]
}

/// The spans of the HFS+ volume of `data`, if it has one. `files` maps where
/// an ISO file's data starts to its path: a catalog file record whose data
/// starts there belongs to that entry.
pub(crate) fn spans(data: &[u8], l: &mut Layout, files: &HashMap<u64, EntryPath>) {
    let Some(v) = find(data) else {
        return;
    };
    let len = data.len() as u64;
    let date_fields = || -> Vec<Field> {
        let mut out = vec![f(0, 4, "signature and version", Explain::Nothing)];
        for (at, name) in DATES {
            out.push(Field::new(at, 4, name, fact(name)));
        }
        // The special files' fork data say where their blocks are.
        out.push(f(112, 400, "special files' extents", Explain::Placement));
        out
    };
    l.push(Span {
        start: v.start,
        len: 1024.min(len.saturating_sub(v.start)),
        owner: Owner::new("HFS+ boot blocks", "HFS+ boot blocks", Explain::Nothing),
    });
    l.push(Span {
        start: v.start + 1024,
        len: 512,
        owner: Owner::new("HFS+ volume header", "HFS+ volume header", Explain::Nothing)
            .with_fields(date_fields()),
    });
    // The alternate volume header: 1024 bytes before the volume's end.
    let end = v
        .start
        .saturating_add(v.total_blocks.saturating_mul(v.block_size));
    if end >= v.start + 2048 && end <= len {
        l.push(Span {
            start: end - 1024,
            len: 512,
            owner: Owner::new(
                "HFS+ volume header",
                "HFS+ alternate volume header",
                Explain::Nothing,
            )
            .with_fields(date_fields()),
        });
    }
    for (at, name) in FORKS {
        let extents = fork_extents(&v, at, len);
        if name == "catalog file" {
            catalog(data, &v, &extents, files, l);
            continue;
        }
        // The allocation bitmap and the extents overflow file say where
        // blocks are; attributes and startup files are findings of their own.
        let explain = match name {
            "allocation file" | "extents overflow file" => Explain::Placement,
            _ => Explain::Nothing,
        };
        for (start, n) in extents {
            l.push(Span {
                start,
                len: n,
                owner: Owner::new("HFS+ special file", format!("HFS+ {name}"), explain.clone()),
            });
        }
    }
}

/// The catalog B-tree, node by node: the header node and index nodes as
/// structure, each record of a leaf node with its dates.
fn catalog(
    data: &[u8],
    v: &Volume<'_>,
    extents: &[(u64, u64)],
    files: &HashMap<u64, EntryPath>,
    l: &mut Layout,
) {
    if extents.is_empty() {
        return;
    }
    let Some(node_size) = catalog_node_size(data, extents) else {
        for &(start, n) in extents {
            l.push(Span {
                start,
                len: n,
                owner: Owner::new("HFS+ special file", "HFS+ catalog file", Explain::Nothing),
            });
        }
        return;
    };
    let mut nodes = 0u64;
    for &(start, n) in extents {
        let mut at = start;
        while at + node_size <= start + n {
            if nodes >= MAX_NODES {
                l.push(Span {
                    start: at,
                    len: start + n - at,
                    owner: Owner::new(
                        "HFS+ catalog node",
                        "HFS+ catalog nodes (past the limit)",
                        Explain::Nothing,
                    ),
                });
                break;
            }
            let node = usize::try_from(at)
                .ok()
                .and_then(|s| data.get(s..s.checked_add(node_size as usize)?));
            if let Some(node) = node {
                catalog_node(node, at, nodes, v, files, l);
            }
            nodes += 1;
            at += node_size;
        }
    }
}

/// One catalog node at `at`, number `number`; its file records paired with
/// the entries of `files` (see [`spans`]).
fn catalog_node(
    node: &[u8],
    at: u64,
    number: u64,
    v: &Volume<'_>,
    files: &HashMap<u64, EntryPath>,
    l: &mut Layout,
) {
    let kind = byte(node, 8) as i8;
    let records = usize::from(be16(node, 10)).min(MAX_RECORDS);
    let what = match kind {
        -1 => "leaf",
        0 => "index",
        1 => "header",
        2 => "map",
        _ => "unknown",
    };
    let size = node.len() as u64;
    let structure = |start: u64, len: u64, part: &str, l: &mut Layout| {
        l.push(Span {
            start: at + start,
            len,
            owner: Owner::new(
                "HFS+ catalog node",
                format!("HFS+ catalog {what} node {number}{part}"),
                // Index and header nodes, links, record offsets and free
                // space change only with the tree's shape: what is where.
                Explain::Placement,
            ),
        });
    };
    if kind != -1 {
        structure(0, size, "", l);
        return;
    }
    structure(0, 14, ": node descriptor", l);
    // Record i starts at the u16 at size - 2 * (i + 1); the next offset ends it.
    let offset = |i: usize| -> Option<u64> {
        let p = node.len().checked_sub(2 * (i + 1))?;
        Some(u64::from(be16(node, p)))
    };
    // Where the records end; what follows (free space and the offsets) is
    // structure. Records out of order or overlapping end the walk there.
    let mut end = 14;
    for i in 0..records {
        let (Some(s), Some(e)) = (offset(i), offset(i + 1)) else {
            break;
        };
        if s < end || e <= s || e > size {
            break;
        }
        end = e;
        let rec = &node[s as usize..e as usize];
        let key_len = u64::from(be16(rec, 0));
        let data_at = 2 + key_len;
        // A key longer than its record leaves no record type: the bytes are
        // still the record's, named as such.
        let rtype = if data_at + 2 > rec.len() as u64 {
            0
        } else {
            be16(rec, data_at as usize)
        };
        let data_at = data_at.min(rec.len() as u64);
        // A file record with data is its ISO file's: the key holds the
        // entry's HFS+ name, the dates follow the entry's times.
        let entry = file_record(rec, v).and_then(|f| files.get(&f.data_start));
        let key = match entry {
            Some(_) => Explain::Entry(&[Key::Attribute(super::attrs::HFSPLUS_NAME)]),
            None => Explain::Nothing,
        };
        let mut fields = vec![f(0, data_at, "key", key)];
        let times = Explain::AnyEntry(&[Key::MTIME, Key::ATIME, Key::CTIME]);
        let name = match rtype {
            1 | 2 if data_at + 32 <= rec.len() as u64 => {
                // Folder (1) and file (2) records: five dates from byte 12.
                for (k, date) in [
                    "create date",
                    "content modification date",
                    "attribute modification date",
                    "access date",
                    "backup date",
                ]
                .into_iter()
                .enumerate()
                {
                    let explain = match entry {
                        Some(_) => Explain::Entry(PAIRED_DATES[k]),
                        None => times.clone(),
                    };
                    fields.push(f(data_at + 12 + 4 * k as u64, 4, date, explain));
                }
                if rtype == 1 {
                    "folder record"
                } else {
                    "file record"
                }
            }
            3 => "folder thread record",
            4 => "file thread record",
            _ => "record",
        };
        let owner = Owner::new(
            "HFS+ catalog record",
            format!("HFS+ catalog {name} {i} of node {number}"),
            Explain::Nothing,
        )
        .with_fields(fields);
        l.push(Span {
            start: at + s,
            len: e - s,
            owner: match entry {
                Some(path) => owner.of(path),
                None => owner,
            },
        });
    }
    structure(end, size - end, ": free space and record offsets", l);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An image of an Apple partition map with one `Apple_HFS` partition at
    /// 4096 whose volume header has 4096-byte blocks and a catalog of one
    /// 4096-byte leaf node (block 2) holding one folder record.
    fn image() -> Vec<u8> {
        let mut d = vec![0u8; 32 << 10];
        d[..4].copy_from_slice(b"ER\x02\x00");
        d[512..514].copy_from_slice(b"PM");
        d[512 + 8..512 + 12].copy_from_slice(&8u32.to_be_bytes());
        d[512 + 48..512 + 58].copy_from_slice(b"Apple_HFS\0");
        let h = 4096 + 1024;
        d[h..h + 4].copy_from_slice(b"H+\0\x04");
        d[h + 16..h + 20].copy_from_slice(&(EPOCH_1904 as u32 + 86_400).to_be_bytes());
        d[h + 40..h + 44].copy_from_slice(&4096u32.to_be_bytes());
        d[h + 44..h + 48].copy_from_slice(&7u32.to_be_bytes());
        // Catalog fork: one extent, block 2, one block.
        d[h + 272 + 16..h + 272 + 20].copy_from_slice(&2u32.to_be_bytes());
        d[h + 272 + 20..h + 272 + 24].copy_from_slice(&1u32.to_be_bytes());
        let node = 4096 + 2 * 4096;
        // The catalog's node 0 is a leaf here, for brevity; its node size is
        // read from where the header record's would be.
        d[node + 8] = 0xff;
        d[node + 10..node + 12].copy_from_slice(&1u16.to_be_bytes());
        d[node + 32..node + 34].copy_from_slice(&4096u16.to_be_bytes());
        // Record 0 at 14..120: key of 6 bytes, then a folder record.
        d[node + 14..node + 16].copy_from_slice(&6u16.to_be_bytes());
        d[node + 22..node + 24].copy_from_slice(&1u16.to_be_bytes());
        d[node + 4094..node + 4096].copy_from_slice(&14u16.to_be_bytes());
        d[node + 4092..node + 4094].copy_from_slice(&120u16.to_be_bytes());
        d
    }

    #[test]
    fn header_dates_and_catalog_records() {
        let d = image();
        let mut facts = Vec::new();
        super::facts(&d, &mut facts);
        assert_eq!(facts.len(), 4);
        assert_eq!(facts[0].name, "hfsplus.create_date");
        assert!(matches!(&facts[0].value, Value::Time(t) if t.rfc3339() == "1970-01-02T00:00:00Z"));
        let mut l = Layout::new();
        spans(&d, &mut l, &HashMap::new());
        let spans = l.spans();
        let record = spans
            .iter()
            .find(|s| s.owner.class == "HFS+ catalog record")
            .expect("a record span");
        assert_eq!((record.start, record.len), (4096 + 8192 + 14, 106));
        assert!(spans
            .iter()
            .any(|s| s.owner.display().contains("alternate")));
    }

    #[test]
    fn hostile_volumes_do_not_panic() {
        let d = image();
        for at in (0..d.len()).step_by(7) {
            for v in [0x00, 0x7f, 0xff] {
                let mut m = d.clone();
                m[at] = v;
                let mut facts = Vec::new();
                super::facts(&m, &mut facts);
                let mut l = Layout::new();
                spans(&m, &mut l, &HashMap::new());
                let _ = l.spans();
                let _ = catalog_files(&m);
            }
        }
        for cut in (0..d.len()).step_by(97) {
            let mut l = Layout::new();
            spans(&d[..cut], &mut l, &HashMap::new());
            let _ = l.spans();
            let _ = catalog_files(&d[..cut]);
        }
    }
}
