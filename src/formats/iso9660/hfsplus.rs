//! The HFS+ volume of a hybrid image (grub-mkrescue's and xorriso's
//! `-hfsplus`: an Apple partition map entry of type `Apple_HFS`, named
//! `HFSPLUS_Hybrid`, over the same file data as the ISO tree): the volume
//! header and its copy at the volume's end, with their dates as image facts,
//! the special files (catalog, extents overflow, allocation, attributes,
//! startup), and the catalog node by node, record by record, each record
//! declared once with `structure!` (keys, folder, file and thread records).
//!
//! The HFS+ tree is read as another namespace over the ISO tree, as Joliet
//! is: each catalog folder or file record is paired with the entry it
//! stands for (see [`pair`]): a folder with the directory at its path, a
//! file with the file at its path (so each hard link and each empty file
//! has its own), else with the file whose data its data fork shares (HFS+
//! decomposes accented letters; xorriso mangles names that clash when case
//! is ignored, and writes non-ASCII bytes as `_` in the C locale); a thread
//! record goes with its folder's or file's entry.
//! The record's name and five dates become the entry's attributes
//! (`hfsplus.name`, unset for an entry the HFS+ tree lacks, and
//! `hfsplus.record.*`, following the entry's times, as xorriso takes them
//! from the same source); in the byte layout every record, and a symlink's
//! target (a data fork only the HFS+ tree has), belongs to its entry, so a
//! differing catalog byte is reported against its entry. A record of
//! nothing the ISO tree has is explained by a difference at any entry (the
//! accounting's `AnyEntry`); the root folder's name is the volume id. Names
//! are compared as bytes, then, for what is left over in a directory, by
//! looser keys (see [`left_over`]). The format: Apple's Technical Note
//! TN1150.

use std::collections::{HashMap, HashSet};

use super::attrs::{
    HFSPLUS_ACCESS_DATE, HFSPLUS_ATTRIBUTE_DATE, HFSPLUS_BACKUP_DATE, HFSPLUS_CREATE_DATE,
    HFSPLUS_MODIFY_DATE, HFSPLUS_NAME,
};
use super::sysarea::{ApmDriver, ApmEntry};
use crate::bytes::be16;
use crate::model::key::{Attr, Key};
use crate::model::span::{f, EntryPath, Explain, Field, Keys, Layout, Owner, Span};
use crate::model::structure::{field_at, fields_at, structure, Array, Be16, Be32, Be64, Raw, U8};
use crate::model::{Fact, Value};
use crate::time::Timestamp;

/// Seconds from 1904-01-01 (HFS+'s epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;
/// Catalog nodes given spans; a catalog has one per few dozen entries, so a
/// tree within `max_entries` needs far fewer. Past this the rest is one span.
const MAX_NODES: u64 = 1 << 16;
/// Records per node looked at (a 4 KiB node holds at most a few hundred).
const MAX_RECORDS: usize = 1024;

/// The volume header's dates, image facts.
const CREATE_DATE: &str = "hfsplus.create_date";
const MODIFY_DATE: &str = "hfsplus.modify_date";
const BACKUP_DATE: &str = "hfsplus.backup_date";
const CHECKED_DATE: &str = "hfsplus.checked_date";

/// Where the volume header is, from the volume's start and (its alternate)
/// from its end; the bytes before it are boot blocks.
const HEADER_AT: u64 = 1024;

structure! {
    /// The volume header (TN1150), [`HEADER_AT`] bytes into the volume and
    /// again as many before its end: its dates are image facts, its special
    /// files' fork data say where their blocks are.
    pub(crate) struct VolumeHeader[512] {
        /// "H+" version 4, or "HX" version 5 (case-sensitive HFSX).
        signature: 0, 4, Array<4>, "signature and version", Explain::Nothing;
        attributes: 4, 4, Be32, "attributes", Explain::Nothing;
        last_mounted_version: 8, 4, Raw, "last mounted version", Explain::Nothing;
        journal_info_block: 12, 4, Be32, "journal info block", Explain::Nothing;
        create_date: 16, 4, Be32, CREATE_DATE, Explain::fact_named(CREATE_DATE);
        modify_date: 20, 4, Be32, MODIFY_DATE, Explain::fact_named(MODIFY_DATE);
        backup_date: 24, 4, Be32, BACKUP_DATE, Explain::fact_named(BACKUP_DATE);
        checked_date: 28, 4, Be32, CHECKED_DATE, Explain::fact_named(CHECKED_DATE);
        file_count: 32, 4, Be32, "file count", Explain::Nothing;
        folder_count: 36, 4, Be32, "folder count", Explain::Nothing;
        block_size: 40, 4, Be32, "block size", Explain::Nothing;
        total_blocks: 44, 4, Be32, "total blocks", Explain::Nothing;
        free_blocks: 48, 4, Be32, "free blocks", Explain::Nothing;
        next_allocation: 52, 4, Be32, "next allocation", Explain::Nothing;
        rsrc_clump_size: 56, 4, Be32, "resource fork clump size", Explain::Nothing;
        data_clump_size: 60, 4, Be32, "data fork clump size", Explain::Nothing;
        next_catalog_id: 64, 4, Be32, "next catalog id", Explain::Nothing;
        write_count: 68, 4, Be32, "write count", Explain::Nothing;
        encodings: 72, 8, Raw, "encodings bitmap", Explain::Nothing;
        finder_info: 80, 32, Raw, "Finder info", Explain::Nothing;
        allocation_file: 112, 80, ForkData<'static>, "allocation file", Explain::Placement;
        extents_file: 192, 80, ForkData<'static>, "extents overflow file", Explain::Placement;
        catalog_file: 272, 80, ForkData<'static>, "catalog file", Explain::Placement;
        attributes_file: 352, 80, ForkData<'static>, "attributes file", Explain::Placement;
        startup_file: 432, 80, ForkData<'static>, "startup file", Explain::Placement;
    }
}

structure! {
    /// A fork's data (TN1150): its size and its first eight extents.
    pub(crate) struct ForkData[80] {
        logical_size: 0, 8, Be64, "logical size", Explain::Placement;
        clump_size: 8, 4, Be32, "clump size", Explain::Placement;
        total_blocks: 12, 4, Be32, "total blocks", Explain::Placement;
        /// Eight [`ExtentDescriptor`]s.
        extents: 16, 64, Raw, "extents", Explain::Placement;
    }
}

structure! {
    /// An extent of a fork: its first allocation block and how many.
    pub(crate) struct ExtentDescriptor[8] {
        start_block: 0, 4, Be32, "start block", Explain::Placement;
        block_count: 4, 4, Be32, "block count", Explain::Placement;
    }
}

impl<'a> VolumeHeader<'a> {
    /// The special files: each one's fork data and name.
    fn special_files(&self) -> [(ForkData<'a>, &'static str); 5] {
        [
            (self.allocation_file(), "allocation file"),
            (self.extents_file(), "extents overflow file"),
            (self.catalog_file(), "catalog file"),
            (self.attributes_file(), "attributes file"),
            (self.startup_file(), "startup file"),
        ]
    }

    /// The dates: value, fact name.
    fn dates(&self) -> [(u32, &'static str); 4] {
        [
            (self.create_date(), CREATE_DATE),
            (self.modify_date(), MODIFY_DATE),
            (self.backup_date(), BACKUP_DATE),
            (self.checked_date(), CHECKED_DATE),
        ]
    }
}

/// An HFS+ volume found through the Apple partition map.
struct Volume<'a> {
    /// Where the volume starts in the image.
    start: u64,
    header: VolumeHeader<'a>,
    block_size: u64,
    total_blocks: u64,
}

/// The type of the partition map entry of an HFS+ volume.
const APPLE_HFS: &[u8] = b"Apple_HFS\0";
/// Partition map entries looked at, at most.
const MAX_APM_ENTRIES: usize = 64;

/// The HFS+ volume of `data`, when its Apple partition map names one.
fn find(data: &[u8]) -> Option<Volume<'_>> {
    let block = ApmDriver::block_of(data)?;
    for i in 1..=MAX_APM_ENTRIES {
        let e = data.get(block.checked_mul(i)?..).and_then(ApmEntry::new)?;
        if e.signature() != *b"PM" {
            return None;
        }
        if !e.kind().starts_with(APPLE_HFS) {
            continue;
        }
        let start = u64::from(e.start()).checked_mul(block as u64)?;
        let at = usize::try_from(start.checked_add(HEADER_AT)?).ok()?;
        let Some(header) = data.get(at..).and_then(VolumeHeader::new) else {
            continue;
        };
        if !matches!(&header.signature(), b"H+\0\x04" | b"HX\0\x05") {
            continue;
        }
        let block_size = u64::from(header.block_size());
        if !block_size.is_power_of_two() || !(512..=1 << 20).contains(&block_size) {
            continue;
        }
        return Some(Volume {
            start,
            header,
            block_size,
            total_blocks: u64::from(header.total_blocks()),
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

/// The catalog's leaf nodes (image offset, bytes), in order, within
/// [`MAX_NODES`]; none when the catalog cannot be read.
fn leaf_nodes<'d>(data: &'d [u8], v: &Volume<'_>) -> Vec<(u64, &'d [u8])> {
    let extents = fork_extents(v, v.header.catalog_file(), data.len() as u64);
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
            let leaf = |n: &&[u8]| NodeDescriptor::new(n).is_some_and(|d| d.kind() == 0xff);
            if let Some(node) = node.filter(leaf) {
                out.push((at, node));
            }
            nodes += 1;
            at += node_size;
        }
    }
    out
}

structure! {
    /// The header record of a B-tree (TN1150), after the header node's
    /// descriptor: the tree's shape, changing only with what is where.
    pub(crate) struct HeaderRecord[106] {
        tree_depth: 0, 2, Be16, "tree depth", Explain::Placement;
        root_node: 2, 4, Be32, "root node", Explain::Placement;
        leaf_records: 6, 4, Be32, "leaf records", Explain::Placement;
        first_leaf_node: 10, 4, Be32, "first leaf node", Explain::Placement;
        last_leaf_node: 14, 4, Be32, "last leaf node", Explain::Placement;
        node_size: 18, 2, Be16, "node size", Explain::Placement;
        max_key_length: 20, 2, Be16, "maximum key length", Explain::Placement;
        total_nodes: 22, 4, Be32, "total nodes", Explain::Placement;
        free_nodes: 26, 4, Be32, "free nodes", Explain::Placement;
        reserved1: 30, 2, Raw, "reserved", Explain::Placement;
        clump_size: 32, 4, Be32, "clump size", Explain::Placement;
        btree_type: 36, 1, U8, "B-tree type", Explain::Placement;
        key_compare_type: 37, 1, U8, "key compare type", Explain::Placement;
        attributes: 38, 4, Be32, "attributes", Explain::Placement;
        reserved3: 42, 64, Raw, "reserved", Explain::Placement;
    }
}

/// The catalog's node size, read from its header node, when it is sound.
fn catalog_node_size(data: &[u8], extents: &[(u64, u64)]) -> Option<u64> {
    let &(first, _) = extents.first()?;
    let at = usize::try_from(first)
        .ok()?
        .checked_add(NodeDescriptor::LEN)?;
    let node_size = u64::from(data.get(at..).and_then(HeaderRecord::new)?.node_size());
    (node_size.is_power_of_two() && (512..=32768).contains(&node_size)).then_some(node_size)
}

/// The records of a leaf node: (offset in the node, bytes), in order, up to
/// the first that is out of order or overlaps; and where they end.
fn leaf_records(node: &[u8]) -> (Vec<(u64, &[u8])>, u64) {
    let records = NodeDescriptor::new(node).map_or(0, |d| usize::from(d.records()));
    let records = records.min(MAX_RECORDS);
    let size = node.len() as u64;
    let offset = |i: usize| -> Option<u64> {
        let p = node.len().checked_sub(2 * (i + 1))?;
        Some(u64::from(be16(node, p)))
    };
    let mut out = Vec::new();
    let mut end = NodeDescriptor::LEN as u64;
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
    (out, end)
}

/// The key's name, and the fields naming it: the entry's HFS+ name.
const NAME: Keys = &[Key::Attribute(HFSPLUS_NAME)];
/// What a fork's size follows: the file's size (a symlink's data fork holds
/// its target).
const FORK_SIZE: Keys = &[Key::SIZE, Key::SYMLINK];
/// What a data fork only the HFS+ tree has holds: a symlink's target.
const FORK_DATA: Keys = &[Key::SYMLINK, Key::Content, Key::SIZE];

structure! {
    /// A B-tree node's descriptor: its links, kind, height and record count
    /// change only with the tree's shape (what is where).
    pub(crate) struct NodeDescriptor[14] {
        forward_link: 0, 4, Be32, "forward link", Explain::Placement;
        backward_link: 4, 4, Be32, "backward link", Explain::Placement;
        /// -1 leaf, 0 index, 1 header, 2 map.
        kind: 8, 1, U8, "kind", Explain::Placement;
        height: 9, 1, U8, "height", Explain::Placement;
        records: 10, 2, Be16, "record count", Explain::Placement;
        reserved: 12, 2, Raw, "reserved", Explain::Nothing;
    }
}

structure! {
    /// A catalog key before its name's UTF-16 units.
    pub(crate) struct CatalogKey[8] {
        /// The key's length, the length field excluded.
        key_length: 0, 2, Be16, "key length", Explain::Entry(NAME);
        /// The catalog node id of the folder holding the entry (of the entry
        /// itself in a thread record's key): ids are handed out in order.
        parent_id: 2, 4, Be32, "parent id", Explain::Placement;
        name_length: 6, 2, Be16, "name length", Explain::Entry(NAME);
    }
}

structure! {
    /// What a catalog record's data (after its key) starts with: its type.
    pub(crate) struct RecordHeader[2] {
        /// 1 folder, 2 file, 3 folder thread, 4 file thread.
        record_type: 0, 2, Be16, "record type", Explain::Entry(&[Key::TYPE]);
    }
}

/// Where a catalog key's length stops counting: it counts the bytes after
/// its own field.
const KEY_LENGTH_END: usize = field_at(CatalogKey::FIELDS, "parent id") as usize;

structure! {
    /// A catalog folder record (after its key).
    pub(crate) struct CatalogFolder[88] {
        /// [`RecordHeader`].
        header: 0, 2, RecordHeader<'static>, "record type", Explain::Entry(&[Key::TYPE]);
        flags: 2, 2, Be16, "flags", Explain::Nothing;
        /// The folder's entries, counted.
        valence: 4, 4, Be32, "valence", Explain::Entry(&[Key::Children]);
        folder_id: 8, 4, Be32, "folder id", Explain::Placement;
        create_date: 12, 4, Be32, "create date", Explain::Entry(PAIRED_DATES[0]);
        content_mod_date: 16, 4, Be32, "content modification date", Explain::Entry(PAIRED_DATES[1]);
        attribute_mod_date: 20, 4, Be32, "attribute modification date", Explain::Entry(PAIRED_DATES[2]);
        access_date: 24, 4, Be32, "access date", Explain::Entry(PAIRED_DATES[3]);
        backup_date: 28, 4, Be32, "backup date", Explain::Entry(PAIRED_DATES[4]);
        owner_id: 32, 4, Be32, "owner id", Explain::Entry(&[Key::UID]);
        group_id: 36, 4, Be32, "group id", Explain::Entry(&[Key::GID]);
        admin_flags: 40, 1, U8, "admin flags", Explain::Nothing;
        owner_flags: 41, 1, U8, "owner flags", Explain::Nothing;
        file_mode: 42, 2, Be16, "file mode", Explain::Entry(&[Key::MODE, Key::TYPE]);
        /// Link count or device number, by the entry's type.
        special: 44, 4, Be32, "special", Explain::Entry(&[Key::NLINK, Key::RDEV]);
        user_info: 48, 16, Raw, "Finder user info", Explain::Nothing;
        finder_info: 64, 16, Raw, "Finder info", Explain::Nothing;
        /// The script the name was written in: follows the name.
        text_encoding: 80, 4, Be32, "text encoding", Explain::Entry(NAME);
        reserved: 84, 4, Raw, "reserved", Explain::Nothing;
    }
}

structure! {
    /// A catalog file record (after its key), with its data fork's first
    /// extent apart: the pairing reads where the file's data starts.
    pub(crate) struct CatalogFile[248] {
        /// [`RecordHeader`].
        header: 0, 2, RecordHeader<'static>, "record type", Explain::Entry(&[Key::TYPE]);
        flags: 2, 2, Be16, "flags", Explain::Nothing;
        reserved1: 4, 4, Raw, "reserved", Explain::Nothing;
        file_id: 8, 4, Be32, "file id", Explain::Placement;
        create_date: 12, 4, Be32, "create date", Explain::Entry(PAIRED_DATES[0]);
        content_mod_date: 16, 4, Be32, "content modification date", Explain::Entry(PAIRED_DATES[1]);
        attribute_mod_date: 20, 4, Be32, "attribute modification date", Explain::Entry(PAIRED_DATES[2]);
        access_date: 24, 4, Be32, "access date", Explain::Entry(PAIRED_DATES[3]);
        backup_date: 28, 4, Be32, "backup date", Explain::Entry(PAIRED_DATES[4]);
        owner_id: 32, 4, Be32, "owner id", Explain::Entry(&[Key::UID]);
        group_id: 36, 4, Be32, "group id", Explain::Entry(&[Key::GID]);
        admin_flags: 40, 1, U8, "admin flags", Explain::Nothing;
        owner_flags: 41, 1, U8, "owner flags", Explain::Nothing;
        file_mode: 42, 2, Be16, "file mode", Explain::Entry(&[Key::MODE, Key::TYPE]);
        /// Link count or device number, by the entry's type.
        special: 44, 4, Be32, "special", Explain::Entry(&[Key::NLINK, Key::RDEV]);
        /// File type and creator codes (`slnk` for a symlink), Finder flags.
        user_info: 48, 16, Raw, "Finder user info", Explain::Entry(&[Key::TYPE]);
        finder_info: 64, 16, Raw, "Finder info", Explain::Nothing;
        /// The script the name was written in: follows the name.
        text_encoding: 80, 4, Be32, "text encoding", Explain::Entry(NAME);
        reserved2: 84, 4, Raw, "reserved", Explain::Nothing;
        data_size: 88, 8, Be64, "data fork size", Explain::Entry(FORK_SIZE);
        data_clump_size: 96, 4, Be32, "data fork clump size", Explain::Derived;
        data_blocks: 100, 4, Be32, "data fork blocks", Explain::Entry(FORK_SIZE);
        data_first_block: 104, 4, Be32, "data fork first extent start", Explain::Placement;
        data_first_count: 108, 4, Be32, "data fork first extent blocks", Explain::Entry(FORK_SIZE);
        data_more_extents: 112, 56, Raw, "data fork extents", Explain::Placement;
        resource_fork: 168, 80, Raw, "resource fork", Explain::Nothing;
    }
}

structure! {
    /// A catalog thread record (after its key, whose parent id is the
    /// folder's or file's own) before its name's UTF-16 units: where the
    /// entry is, found from its id.
    pub(crate) struct CatalogThread[10] {
        /// [`RecordHeader`].
        header: 0, 2, RecordHeader<'static>, "record type", Explain::Entry(&[Key::TYPE]);
        reserved: 2, 2, Raw, "reserved", Explain::Nothing;
        parent_id: 4, 4, Be32, "parent id", Explain::Placement;
        name_length: 8, 2, Be16, "name length", Explain::Entry(NAME);
    }
}

/// What a catalog leaf record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Folder,
    File,
    FolderThread,
    FileThread,
    /// A record of another type, or one too short for its type.
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Folder => "folder record",
            Kind::File => "file record",
            Kind::FolderThread => "folder thread record",
            Kind::FileThread => "file thread record",
            Kind::Other => "record",
        }
    }
}

/// The catalog node id of the root folder.
const ROOT_ID: u32 = 2;

/// A catalog leaf record, read.
#[derive(Debug)]
struct Record<'d> {
    /// Where it starts in the image.
    at: u64,
    bytes: &'d [u8],
    kind: Kind,
    /// Where the record's data (after the key) starts in `bytes`.
    data_at: usize,
    /// The folder or file it is, or (a thread record) describes.
    id: u32,
    /// Folder and file records: the parent folder's id and the name, from
    /// the key.
    parent: u32,
    name: Vec<u16>,
    /// Folder and file records: create, content modification, attribute
    /// modification, access and backup dates (seconds since 1904).
    dates: [u32; 5],
    /// A file's data fork's first byte in the image, when it has data.
    data_start: Option<u64>,
    /// The length of the data fork's first extent, in bytes.
    data_len: u64,
}

/// The UTF-16 units of the name that follows the key `key` of `rec`, cut to
/// `end`.
fn units(key: &CatalogKey<'_>, rec: &[u8], end: usize) -> Vec<u16> {
    let n = usize::from(key.name_length());
    let start = CatalogKey::LEN;
    rec.get(start..start.saturating_add(n * 2).min(end).max(start))
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Reads the leaf record `rec` at `at` of the volume `v`.
fn record<'d>(rec: &'d [u8], at: u64, v: &Volume<'_>) -> Record<'d> {
    let mut r = Record {
        at,
        bytes: rec,
        kind: Kind::Other,
        data_at: rec.len(),
        id: 0,
        parent: 0,
        name: Vec::new(),
        dates: [0; 5],
        data_start: None,
        data_len: 0,
    };
    let Some(key) = CatalogKey::new(rec) else {
        return r;
    };
    let data_at = KEY_LENGTH_END + usize::from(key.key_length());
    if data_at > rec.len() {
        return r;
    }
    r.data_at = data_at;
    let data = &rec[data_at..];
    match RecordHeader::new(data).map(|h| h.record_type()) {
        Some(1) => {
            if let Some(f) = CatalogFolder::new(data) {
                r.kind = Kind::Folder;
                r.id = f.folder_id();
                r.dates = [
                    f.create_date(),
                    f.content_mod_date(),
                    f.attribute_mod_date(),
                    f.access_date(),
                    f.backup_date(),
                ];
            }
        }
        Some(2) => {
            if let Some(f) = CatalogFile::new(data) {
                r.kind = Kind::File;
                r.id = f.file_id();
                r.dates = [
                    f.create_date(),
                    f.content_mod_date(),
                    f.attribute_mod_date(),
                    f.access_date(),
                    f.backup_date(),
                ];
                if f.data_size() > 0 && f.data_first_count() > 0 {
                    r.data_start = u64::from(f.data_first_block())
                        .checked_mul(v.block_size)
                        .and_then(|o| v.start.checked_add(o));
                    r.data_len = u64::from(f.data_first_count()).saturating_mul(v.block_size);
                }
            }
        }
        Some(t @ (3 | 4)) if CatalogThread::new(data).is_some() => {
            r.kind = if t == 3 {
                Kind::FolderThread
            } else {
                Kind::FileThread
            };
            r.id = key.parent_id();
        }
        _ => {}
    }
    if matches!(r.kind, Kind::Folder | Kind::File) {
        r.parent = key.parent_id();
        r.name = units(&key, rec, data_at);
    }
    r
}

/// The leaf records of the catalog of the volume `v` of `data`, in order.
fn records<'d>(data: &'d [u8], v: &Volume<'_>) -> Vec<Record<'d>> {
    let mut out = Vec::new();
    for (at, node) in leaf_nodes(data, v) {
        for (s, rec) in leaf_records(node).0 {
            out.push(record(rec, at + s, v));
        }
    }
    out
}

/// An ISO entry as the pairing sees it.
pub(crate) struct IsoEntry<'p> {
    /// Its path (`/`, `/boot/grub`), by its effective names.
    pub path: &'p [u8],
    pub dir: bool,
    /// Where its data starts in the image, when it has data.
    pub data_start: Option<u64>,
}

/// The ISO entry a catalog record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Paired {
    /// An index of the ISO entries paired with.
    entry: usize,
    /// The entry's own record: paired by its path, or by its data where no
    /// other record had it. Not own: one more file record whose data fork
    /// is an entry's that has its own record (the data of two names is
    /// stored once; the layout still gives the record to that entry).
    own: bool,
}

/// For each record, the ISO entry (an index of `iso`) it stands for, found
/// from the root down: a folder or file record the entry of its name (HFS+
/// `/` is POSIX `:`) in the directory its parent folder stands for (each of
/// a file's hard links its own, an empty file too). Names may differ: HFS+
/// decomposes accented letters, xorriso mangles names that clash when case
/// is ignored and, in the C locale, writes each non-ASCII byte as `_`. So
/// the records left over in a folder pair with the entries left over in its
/// directory as [`left_over`] finds; a file record left over anywhere then
/// pairs with a file whose data starts where its data fork does, one paired
/// with no record first (two names whose data is stored once, one of them
/// renamed, each get their own). A thread record goes with its folder's or
/// file's entry.
fn pair(records: &[Record<'_>], iso: &[IsoEntry<'_>]) -> Vec<Option<Paired>> {
    let mut by_path: HashMap<&[u8], usize> = HashMap::new();
    let mut by_start: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, e) in iso.iter().enumerate() {
        by_path.entry(e.path).or_insert(i);
        if let Some(s) = e.data_start {
            by_start.entry(s).or_default().push(i);
        }
    }
    // The ISO entries by (directory, name), and each directory's entries.
    let mut named: HashMap<(usize, &[u8]), usize> = HashMap::new();
    let mut iso_children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, e) in iso.iter().enumerate() {
        let Some(cut) = e.path.iter().rposition(|&b| b == b'/') else {
            continue;
        };
        let (dir, name) = (&e.path[..cut.max(1)], &e.path[cut + 1..]);
        if name.is_empty() {
            continue;
        }
        if let Some(&d) = by_path.get(dir) {
            named.entry((d, name)).or_insert(i);
            iso_children.entry(d).or_default().push(i);
        }
    }
    let is_item = |r: &Record<'_>| matches!(r.kind, Kind::Folder | Kind::File);
    let mut record_children: HashMap<u32, Vec<usize>> = HashMap::new();
    for (k, r) in records.iter().enumerate().filter(|(_, r)| is_item(r)) {
        record_children.entry(r.parent).or_default().push(k);
    }
    let mut out: Vec<Option<Paired>> = vec![None; records.len()];
    let mut taken = vec![false; iso.len()];
    // Record k stands for entry i: its own record if the entry had none.
    fn take(out: &mut [Option<Paired>], taken: &mut [bool], k: usize, i: usize) {
        out[k] = Some(Paired {
            entry: i,
            own: !taken[i],
        });
        taken[i] = true;
    }
    // Folder ids paired with ISO directories, to visit; each visited once
    // (a catalog whose parent ids loop cannot loop here).
    let mut todo: Vec<(u32, usize)> = Vec::new();
    if let (Some(k), Some(&root)) = (
        records
            .iter()
            .position(|r| r.kind == Kind::Folder && r.id == ROOT_ID),
        by_path.get(&b"/"[..]),
    ) {
        take(&mut out, &mut taken, k, root);
        todo.push((ROOT_ID, root));
    }
    let mut visited = HashSet::new();
    while let Some((folder, dir)) = todo.pop() {
        if !visited.insert(folder) {
            continue;
        }
        let Some(children) = record_children.get(&folder) else {
            continue;
        };
        let mut left = Vec::new();
        for &k in children {
            let r = &records[k];
            let folder = r.kind == Kind::Folder;
            let name = String::from_utf16_lossy(&r.name).replace('/', ":");
            match named.get(&(dir, name.as_bytes())) {
                Some(&i) if iso[i].dir == folder => take(&mut out, &mut taken, k, i),
                _ => left.push(k),
            }
        }
        let left_entries: Vec<usize> = iso_children
            .get(&dir)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| !taken[i])
            .collect();
        for (k, i) in left_over(records, &left, iso, &left_entries, &by_start) {
            take(&mut out, &mut taken, k, i);
        }
        for &k in children {
            if let Some(p) = out[k].filter(|_| records[k].kind == Kind::Folder) {
                todo.push((records[k].id, p.entry));
            }
        }
    }
    for (k, r) in records.iter().enumerate().filter(|(_, r)| is_item(r)) {
        if out[k].is_some() || r.kind != Kind::File {
            continue;
        }
        let Some(sharing) = r.data_start.and_then(|s| by_start.get(&s)) else {
            continue;
        };
        let free = sharing.iter().copied().find(|&i| !taken[i]);
        if let Some(i) = free.or_else(|| sharing.first().copied()) {
            take(&mut out, &mut taken, k, i);
        }
    }
    let mut of_id: HashMap<u32, Paired> = HashMap::new();
    for (r, p) in records.iter().zip(&out) {
        if let Some(p) = p {
            of_id.entry(r.id).or_insert(*p);
        }
    }
    for (k, r) in records.iter().enumerate() {
        if matches!(r.kind, Kind::FolderThread | Kind::FileThread) {
            out[k] = of_id.get(&r.id).copied();
        }
    }
    out
}

/// Pairs of the records (indexes of `records`) and ISO entries (indexes of
/// `iso`) of one directory left over after pairing by name, folders with
/// directories and files with files: a file with the file whose data
/// starts where its data fork does; then, of the folders and of the files
/// without data of the ISO tree's (`by_start`: the ISO files by where their
/// data starts), those whose names agree (as xorriso writes a name in the C
/// locale, each non-ASCII byte `_`; then in their ASCII letters and digits;
/// then those with case ignored) where no other left-over record or entry
/// of their kind does; then the last one of each kind if one is left on both sides.
fn left_over(
    records: &[Record<'_>],
    left: &[usize],
    iso: &[IsoEntry<'_>],
    entries: &[usize],
    by_start: &HashMap<u64, Vec<usize>>,
) -> Vec<(usize, usize)> {
    // Tier 0: the name as xorriso writes it in the C locale (each
    // non-ASCII byte `_`); 1: its ASCII letters and digits; 2: those with
    // case ignored.
    fn key(chars: impl Iterator<Item = char>, tier: u8) -> String {
        chars
            .map(|c| if c.is_ascii() { c } else { '_' })
            .filter(|c| tier == 0 || c.is_ascii_alphanumeric())
            .map(|c| if tier == 2 { c.to_ascii_lowercase() } else { c })
            .collect()
    }
    let record_key = |k: usize, tier| key(String::from_utf16_lossy(&records[k].name).chars(), tier);
    let entry_key = |i: usize, tier| {
        let name = iso[i]
            .path
            .rsplit(|&b| b == b'/')
            .next()
            .unwrap_or_default();
        key(name.iter().map(|&b| char::from(b)), tier)
    };
    // Maps and sets throughout: a hostile catalog may leave many thousands
    // over in one folder.
    let mut pairs = Vec::new();
    for folders in [true, false] {
        let mut ks: Vec<usize> = left
            .iter()
            .copied()
            .filter(|&k| (records[k].kind == Kind::Folder) == folders)
            .collect();
        let mut is: Vec<usize> = entries
            .iter()
            .copied()
            .filter(|&i| iso[i].dir == folders)
            .collect();
        let mut paired_k = HashSet::new();
        let mut paired_i = HashSet::new();
        if !folders {
            let mut here: HashMap<u64, Vec<usize>> = HashMap::new();
            for &i in &is {
                if let Some(s) = iso[i].data_start {
                    here.entry(s).or_default().push(i);
                }
            }
            for &k in &ks {
                let same = records[k].data_start.and_then(|s| here.get(&s));
                if let Some(&[i]) = same.map(Vec::as_slice) {
                    if paired_i.insert(i) {
                        paired_k.insert(k);
                        pairs.push((k, i));
                    }
                }
            }
            // A file with data the ISO tree has is its data's: paired by it
            // below if at all. (A symlink's target is a data fork only HFS+
            // has.)
            ks.retain(|&k| {
                !paired_k.contains(&k)
                    && records[k]
                        .data_start
                        .is_none_or(|s| !by_start.contains_key(&s))
            });
            is.retain(|&i| !paired_i.contains(&i) && iso[i].data_start.is_none());
        }
        // Case kept first: of two names that differ only in case, xorriso
        // keeps one as it is.
        for tier in 0..3 {
            let mut record_keys: HashMap<String, Vec<usize>> = HashMap::new();
            for &k in &ks {
                record_keys.entry(record_key(k, tier)).or_default().push(k);
            }
            let mut entry_keys: HashMap<String, Vec<usize>> = HashMap::new();
            for &i in &is {
                entry_keys.entry(entry_key(i, tier)).or_default().push(i);
            }
            for (key, k) in &record_keys {
                if let (&[k], Some(&[i])) = (k.as_slice(), entry_keys.get(key).map(Vec::as_slice)) {
                    paired_k.insert(k);
                    paired_i.insert(i);
                    pairs.push((k, i));
                }
            }
            ks.retain(|k| !paired_k.contains(k));
            is.retain(|i| !paired_i.contains(i));
        }
        if let (&[k], &[i]) = (ks.as_slice(), is.as_slice()) {
            pairs.push((k, i));
        }
    }
    pairs
}

/// What the HFS+ tree says of an ISO entry: the name and dates of the
/// folder or file record that stands for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HfsEntry {
    /// Its name (the record key's), UTF-16 decoded.
    pub name: String,
    /// Create, content modification, attribute modification, access and
    /// backup dates, as stored (seconds since 1904).
    pub dates: [u32; 5],
}

/// For each ISO entry of `iso`, what the HFS+ catalog of `data` says of it
/// (the first record standing for it); `None` when `data` has no HFS+
/// volume.
pub(crate) fn entries(data: &[u8], iso: &[IsoEntry<'_>]) -> Option<Vec<Option<HfsEntry>>> {
    let v = find(data)?;
    let records = records(data, &v);
    let paired = pair(&records, iso);
    let mut out = vec![None; iso.len()];
    for (r, p) in records.iter().zip(paired) {
        let Some(i) = p
            .filter(|p| p.own && matches!(r.kind, Kind::Folder | Kind::File))
            .map(|p| p.entry)
        else {
            continue;
        };
        if out[i].is_none() {
            out[i] = Some(HfsEntry {
                name: String::from_utf16_lossy(&r.name),
                dates: r.dates,
            });
        }
    }
    Some(out)
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
        for (value, name) in v.header.dates() {
            facts.push(Fact::time(name, date(value)));
        }
    }
}

/// The extents (image offset, length) of the special file whose fork data is
/// `fork`, cut to the image.
fn fork_extents(v: &Volume<'_>, fork: ForkData<'_>, image_len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let extents = fork.extents().chunks_exact(ExtentDescriptor::LEN);
    for e in extents.filter_map(ExtentDescriptor::new) {
        let (first, count) = (u64::from(e.start_block()), u64::from(e.block_count()));
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

/// The fields of the catalog record `r`: its key's, its name's, and those
/// of its type's structure. `paired`: the record belongs to an entry, whose
/// differences explain it; else any entry's do. The root folder's name is
/// the volume's (xorriso writes the volume id).
fn record_fields(r: &Record<'_>, paired: bool) -> Vec<Field> {
    let len = r.bytes.len() as u64;
    let data_at = r.data_at as u64;
    let mut out = Vec::new();
    let key_len = CatalogKey::LEN as u64;
    if r.kind == Kind::Other && data_at < key_len {
        out.push(f(0, len, "key", Explain::Entry(NAME)));
    } else {
        out.extend(fields_at(CatalogKey::FIELDS, 0));
        if data_at > key_len {
            out.push(f(key_len, data_at - key_len, "name", Explain::Entry(NAME)));
        }
    }
    let (table, name_at) = match r.kind {
        Kind::Folder => (CatalogFolder::FIELDS, None),
        Kind::File => (CatalogFile::FIELDS, None),
        Kind::FolderThread | Kind::FileThread => (
            CatalogThread::FIELDS,
            Some(data_at + CatalogThread::LEN as u64),
        ),
        Kind::Other => (&[][..], None),
    };
    out.extend(fields_at(table, data_at));
    let end = data_at + table.iter().map(|d| d.len).sum::<u64>();
    match name_at {
        Some(at) if at < len => out.push(f(at, len - at, "name", Explain::Entry(NAME))),
        _ if end < len => out.push(f(end, len - end, "rest of the record", Explain::Nothing)),
        _ => {}
    }
    let root = r.id == ROOT_ID && r.kind != Kind::Other;
    for field in &mut out {
        field.explain = match std::mem::replace(&mut field.explain, Explain::Nothing) {
            Explain::Entry(k) if root && k == NAME => Explain::fact_named("pvd.volume_id"),
            Explain::Entry(k) if !paired => Explain::AnyEntry(k),
            e => e,
        };
    }
    out
}

/// The spans of the HFS+ volume of `data`, if it has one. `iso` and `paths`
/// (one per ISO entry) say which entry each catalog record stands for (see
/// [`pair`]): its record is the entry's in the byte layout.
pub(crate) fn spans(data: &[u8], l: &mut Layout, iso: &[IsoEntry<'_>], paths: &[EntryPath]) {
    let Some(v) = find(data) else {
        return;
    };
    let records = records(data, &v);
    let paired = pair(&records, iso);
    let owners: HashMap<u64, EntryPath> = records
        .iter()
        .zip(&paired)
        .filter_map(|(r, p)| Some((r.at, paths.get(p.as_ref()?.entry)?.clone())))
        .collect();
    // Data only the HFS+ tree has (a symlink's target, in its data fork):
    // its file's, as its record is.
    let iso_data: HashSet<u64> = iso.iter().filter_map(|e| e.data_start).collect();
    for (r, p) in records.iter().zip(&paired) {
        let Some(start) = r.data_start.filter(|s| !iso_data.contains(s)) else {
            continue;
        };
        let len = r.data_len.min((data.len() as u64).saturating_sub(start));
        if len == 0 {
            continue;
        }
        let entry = p.and_then(|p| paths.get(p.entry));
        let explain = match entry {
            Some(_) => Explain::Entry(FORK_DATA),
            None => Explain::AnyEntry(FORK_DATA),
        };
        let owner = Owner::new(
            "HFS+ data fork",
            format!("HFS+ data fork of the file {}", r.id),
            explain,
        );
        l.push(Span {
            start,
            len,
            owner: match entry {
                Some(path) => owner.of(path),
                None => owner,
            },
        });
    }
    let len = data.len() as u64;
    let header_len = VolumeHeader::LEN as u64;
    l.push(Span {
        start: v.start,
        len: HEADER_AT.min(len.saturating_sub(v.start)),
        owner: Owner::new("HFS+ boot blocks", "HFS+ boot blocks", Explain::Nothing),
    });
    l.push(Span {
        start: v.start + HEADER_AT,
        len: header_len,
        owner: Owner::new("HFS+ volume header", "HFS+ volume header", Explain::Nothing)
            .with_fields(fields_at(VolumeHeader::FIELDS, 0)),
    });
    // The alternate volume header, as far from the volume's end as the
    // header is from its start.
    let end = v
        .start
        .saturating_add(v.total_blocks.saturating_mul(v.block_size));
    if end >= v.start + 2 * HEADER_AT && end <= len {
        l.push(Span {
            start: end - HEADER_AT,
            len: header_len,
            owner: Owner::new(
                "HFS+ volume header",
                "HFS+ alternate volume header",
                Explain::Nothing,
            )
            .with_fields(fields_at(VolumeHeader::FIELDS, 0)),
        });
    }
    for (fork, name) in v.header.special_files() {
        let extents = fork_extents(&v, fork, len);
        if name == "catalog file" {
            catalog(data, &v, &extents, &owners, l);
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
    owners: &HashMap<u64, EntryPath>,
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
                catalog_node(node, at, nodes, v, owners, l);
            }
            nodes += 1;
            at += node_size;
        }
    }
}

/// One catalog node at `at`, number `number`; each leaf record owned by the
/// entry `owners` names at its offset (see [`spans`]).
fn catalog_node(
    node: &[u8],
    at: u64,
    number: u64,
    v: &Volume<'_>,
    owners: &HashMap<u64, EntryPath>,
    l: &mut Layout,
) {
    let kind = NodeDescriptor::new(node).map_or(0, |d| d.kind() as i8);
    let what = match kind {
        -1 => "leaf",
        0 => "index",
        1 => "header",
        2 => "map",
        _ => "unknown",
    };
    let size = node.len() as u64;
    // Index and header nodes, links, record offsets and free space change
    // only with the tree's shape: what is where.
    let structure = |start: u64, len: u64, part: &str, fields: Vec<Field>, l: &mut Layout| {
        l.push(Span {
            start: at + start,
            len,
            owner: Owner::new(
                "HFS+ catalog node",
                format!("HFS+ catalog {what} node {number}{part}"),
                Explain::Placement,
            )
            .with_fields(fields),
        });
    };
    if kind == 1 {
        let mut fields = fields_at(NodeDescriptor::FIELDS, 0);
        fields.extend(fields_at(HeaderRecord::FIELDS, NodeDescriptor::LEN as u64));
        structure(0, size, "", fields, l);
        return;
    }
    if kind != -1 {
        structure(0, size, "", Vec::new(), l);
        return;
    }
    structure(
        0,
        NodeDescriptor::LEN as u64,
        ": node descriptor",
        fields_at(NodeDescriptor::FIELDS, 0),
        l,
    );
    let (list, end) = leaf_records(node);
    for (i, (s, rec)) in list.into_iter().enumerate() {
        let r = record(rec, at + s, v);
        let entry = owners.get(&r.at);
        let owner = Owner::new(
            "HFS+ catalog record",
            format!("HFS+ catalog {} {i} of node {number}", r.kind.name()),
            Explain::Nothing,
        )
        .with_fields(record_fields(&r, entry.is_some()));
        l.push(Span {
            start: r.at,
            len: rec.len() as u64,
            owner: match entry {
                Some(path) => owner.of(path),
                None => owner,
            },
        });
    }
    // What follows the records (free space and the offsets) is structure.
    structure(
        end,
        size - end,
        ": free space and record offsets",
        Vec::new(),
        l,
    );
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
        spans(&d, &mut l, &[], &[]);
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
    fn the_field_tables_cover_the_records() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (NodeDescriptor::FIELDS, NodeDescriptor::LEN),
            (CatalogKey::FIELDS, CatalogKey::LEN),
            (CatalogFolder::FIELDS, CatalogFolder::LEN),
            (CatalogFile::FIELDS, CatalogFile::LEN),
            (CatalogThread::FIELDS, CatalogThread::LEN),
            (RecordHeader::FIELDS, RecordHeader::LEN),
            (VolumeHeader::FIELDS, VolumeHeader::LEN),
            (ForkData::FIELDS, ForkData::LEN),
            (ExtentDescriptor::FIELDS, ExtentDescriptor::LEN),
            (HeaderRecord::FIELDS, HeaderRecord::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    /// A leaf record: a key of `parent` and `name`, then `data`.
    fn rec(parent: u32, name: &str, data: &[u8]) -> Vec<u8> {
        let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut r = ((6 + units.len()) as u16).to_be_bytes().to_vec();
        r.extend(parent.to_be_bytes());
        r.extend(((units.len() / 2) as u16).to_be_bytes());
        r.extend(units);
        r.extend(data);
        r
    }

    /// A folder (type 1) or file (type 2) record's data: its id, the
    /// content modification date `date`, and for a file its first data
    /// block (none when 0).
    fn item(kind: u16, id: u32, date: u32, block: u32) -> Vec<u8> {
        let mut d = vec![0u8; if kind == 1 { 88 } else { 248 }];
        d[..2].copy_from_slice(&kind.to_be_bytes());
        d[8..12].copy_from_slice(&id.to_be_bytes());
        d[16..20].copy_from_slice(&date.to_be_bytes());
        if kind == 2 && block > 0 {
            // 5 bytes of data, in one block.
            d[88 + 7] = 5;
            d[104..108].copy_from_slice(&block.to_be_bytes());
            d[108..112].copy_from_slice(&1u32.to_be_bytes());
        }
        d
    }

    /// A thread record (type 3 or 4) of the entry `id`.
    fn thread(id: u32, kind: u16) -> Vec<u8> {
        let mut t = kind.to_be_bytes().to_vec();
        t.extend([0, 0]);
        t.extend(2u32.to_be_bytes());
        t.extend(0u16.to_be_bytes());
        rec(id, "", &t)
    }

    /// Folder records pair with the directory at their path, files with
    /// the file at their path (each hard link its own; an empty file too),
    /// else with the file whose data they share, one no other record has
    /// first; thread records with the entry of the id they name; records of
    /// nothing the tree has, with nothing.
    #[test]
    fn records_pair_with_the_entries_they_stand_for() {
        let v = Volume {
            start: 4096,
            header: VolumeHeader::from_array(&[0; VolumeHeader::LEN]),
            block_size: 4096,
            total_blocks: 0,
        };
        let raw = [
            rec(1, "ISOIMAGE", &item(1, 2, 1, 0)),
            rec(2, "dir", &item(1, 16, 2, 0)),
            rec(16, "a", &item(2, 17, 3, 7)),
            rec(16, "a-link", &item(2, 18, 4, 7)),
            rec(2, "empty", &item(2, 19, 5, 0)),
            // Decomposed: not the ISO name, but the same data.
            rec(2, "Ame\u{301}lie", &item(2, 20, 6, 9)),
            rec(2, "gone", &item(1, 21, 7, 0)),
            thread(16, 3),
            thread(21, 3),
            // Two names of one file's data, one renamed (xorriso in the C
            // locale writes a non-ASCII byte as `_`) and before the other in
            // the catalog: the renamed one is the name the other record
            // leaves, not the other's.
            rec(2, "_+x", &item(2, 22, 8, 11)),
            rec(2, "b", &item(2, 23, 9, 11)),
            // A third name of that data HFS+ has and the ISO tree lacks: it
            // shares the first entry's, as no entry is left.
            rec(2, "c", &item(2, 24, 10, 11)),
            // A folder whose name xorriso wrote in the C locale (`ñ` as
            // `__`), and an empty file in it: the folder pairs with the
            // directory whose name, so written, is its own; the file by its
            // name in it.
            rec(2, "dir2__", &item(1, 25, 11, 0)),
            rec(25, "e", &item(2, 26, 12, 0)),
            // An empty file so written (and so paired).
            rec(2, "f__", &item(2, 27, 13, 0)),
            // A symlink so written: its target is a data fork the ISO tree
            // lacks, so it pairs by name too.
            rec(2, "l__", &item(2, 28, 14, 15)),
        ];
        let records: Vec<Record<'_>> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| record(r, i as u64 * 1000, &v))
            .collect();
        let kinds: Vec<Kind> = records.iter().map(|r| r.kind).collect();
        use Kind::*;
        assert_eq!(
            kinds,
            [
                Folder,
                Folder,
                File,
                File,
                File,
                File,
                Folder,
                FolderThread,
                FolderThread,
                File,
                File,
                File,
                Folder,
                File,
                File,
                File
            ]
        );
        assert_eq!(records[2].data_start, Some(4096 + 7 * 4096));
        assert_eq!(records[4].data_start, None);
        let iso = [
            ("/", true, None),
            ("/dir", true, None),
            ("/dir/a", false, Some(4096 + 7 * 4096)),
            ("/dir/a-link", false, Some(4096 + 7 * 4096)),
            ("/empty", false, None),
            ("/Am\u{e9}lie", false, Some(4096 + 9 * 4096)),
            // A file where HFS+ has a folder: not the same entry.
            ("/gone", false, None),
            ("/b", false, Some(4096 + 11 * 4096)),
            ("/\u{bb}+x", false, Some(4096 + 11 * 4096)),
            ("/dir2\u{f1}", true, None),
            ("/dir2\u{f1}/e", false, None),
            ("/f\u{e9}", false, None),
            ("/l\u{e9}", false, None),
        ];
        let iso: Vec<IsoEntry<'_>> = iso
            .iter()
            .map(|&(p, dir, data_start)| IsoEntry {
                path: p.as_bytes(),
                dir,
                data_start,
            })
            .collect();
        let paired: Vec<Option<(usize, bool)>> = pair(&records, &iso)
            .into_iter()
            .map(|p| p.map(|p| (p.entry, p.own)))
            .collect();
        assert_eq!(
            paired,
            [
                Some((0, true)),
                Some((1, true)),
                Some((2, true)),
                Some((3, true)),
                Some((4, true)),
                Some((5, true)),
                None,
                Some((1, true)),
                None,
                Some((8, true)),
                Some((7, true)),
                Some((7, false)),
                Some((9, true)),
                Some((10, true)),
                Some((11, true)),
                Some((12, true)),
            ]
        );
        let fields = record_fields(&records[1], true);
        let date = fields
            .iter()
            .find(|f| f.name == "content modification date")
            .expect("a date field");
        assert_eq!(date.at, 2 + 6 + 6 + 16);
        assert_eq!(date.explain, Explain::Entry(PAIRED_DATES[1]));
        let unpaired = record_fields(&records[6], false);
        assert!(unpaired
            .iter()
            .all(|f| !matches!(f.explain, Explain::Entry(_))));
        let root = record_fields(&records[0], true);
        assert_eq!(root[3].name, "name");
        assert_eq!(root[3].explain, Explain::fact_named("pvd.volume_id"));
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
                spans(&m, &mut l, &[], &[]);
                let _ = l.spans();
                let _ = entries(&m, &[]);
            }
        }
        for cut in (0..d.len()).step_by(97) {
            let mut l = Layout::new();
            spans(&d[..cut], &mut l, &[], &[]);
            let _ = l.spans();
            let _ = entries(&d[..cut], &[]);
        }
    }
}
