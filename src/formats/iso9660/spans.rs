//! The byte layout of an ISO 9660 image, for byte accounting: system area,
//! volume descriptors field by field, path tables record by record, every
//! directory record (primary and Joliet) with each of its SUSP entries and
//! continuation areas, the boot catalog entry by entry, boot info tables, and
//! every file's extent, owned by its entry.
//!
//! Built when asked from what the reader recorded as it opened the image
//! (the descriptors and boot catalog entries it read; for each tree, the
//! effective one and the other namespace's, the extents, records and SUSP
//! entries its walk read, see [`super::recorded`]), each structure decoded
//! again where the reader found it: no tree is walked, no continuation area
//! followed and no catalog read again, so the layout names exactly what the
//! reader read.

use std::collections::HashMap;

use super::attrs::{self, *};
use super::descriptor::{
    BootRecord, DescriptorHeader, PartitionDescriptor, Seen, VolumeDescriptor, FIRST_DESCRIPTOR,
    ROOT_AT, SECTOR,
};
use super::eltorito::{
    BootImageEntry, BootInfoTable, Catalog, Piece, SectionHeader, ValidationEntry, BOOT_INFO_AT,
    ENTRY,
};
use super::raw::{DirRecord, PathRecord, RecordFixed, RECORD_FIXED};
use super::rockridge::{
    ErEntry, LinkEntry, NmEntry, PnEntry, PxEntry, RrEntry, SlEntry, SpEntry, TfEntry,
};
use super::susp::{CeEntry, SuspEntry, SuspHeader};
use super::walk::{Namespace, Tree};
use super::zisofs::ZfEntry;
use super::IsoFs;
use crate::model::span::{
    f, fact, EntryPath, Explain, Field, Key, Keys, Layout, Owner, Placement, Span,
};
use crate::model::structure::{fields_at, fields_under, FieldDef};
use crate::model::EntryKind;

/// What a file's extent holds: its content, or an image compared inside it.
const DATA: Keys = &[Key::Content, Key::SIZE, Key::Nested];
/// What a zisofs file's extent holds: its content, and how it is packed (the
/// same content compressed with another algorithm or block size is other bytes).
const ZISOFS_DATA: Keys = &[
    Key::Content,
    Key::SIZE,
    Key::Nested,
    Key::Attribute(super::zisofs::ALGORITHM),
    Key::Attribute(super::zisofs::BLOCK_SIZE),
];

/// SUSP entries given a span of their own per record. Real records have a
/// dozen; a hostile one chaining continuation areas could have a quarter of a
/// million, each a span. Past this the bytes are named by their region only.
const MAX_SUSP_SPANS: usize = 1024;

impl IsoFs<'_> {
    /// See [`crate::Filesystem::byte_layout`].
    pub(crate) fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let data = self.raw;
        super::sysarea::spans(data, &mut l);
        descriptors(&self.descriptors, &mut l);

        // The effective tree, and the other namespace's tree with its pairing.
        let paths = crate::formats::tree::entry_paths(&self.tree.nodes);
        // HFS+ catalog records pair with the entries they stand for.
        let iso = super::hfsplus_view(&self.tree, &paths);
        super::hfsplus::spans(data, &mut l, &iso, &paths);
        let mut dir_paths: HashMap<u64, EntryPath> = HashMap::new();
        self.tree_spans(&self.tree, &paths, "", &mut l, &mut dir_paths);
        if let Some((other, label)) = &self.other {
            let mut other_paths = crate::formats::tree::entry_paths(&other.nodes);
            for (mine, theirs) in self.tree.pairs(other) {
                other_paths[theirs as usize] = paths[mine as usize].clone();
            }
            self.tree_spans(other, &other_paths, label, &mut l, &mut dir_paths);
        }
        for d in &self.descriptors {
            path_tables(data, d, &dir_paths, &mut l);
        }
        self.file_spans(&paths, &mut l);
        catalog(&self.catalog, &mut l);
        for (name, start, bytes) in &self.hidden_boot_images {
            l.push_coarse(Span {
                start: *start,
                len: bytes.len() as u64,
                owner: Owner::new(
                    "boot image",
                    format!("hidden boot image {name}"),
                    Explain::Special(name.clone().into()),
                ),
            });
        }
        claim_padding(data, &mut l);
        l
    }

    /// See [`crate::Filesystem::placements`].
    pub(crate) fn placements_of(&self) -> Vec<Placement> {
        let mut out = Vec::new();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            let path = self.tree.path(i as u32);
            if n.entry.meta.kind == EntryKind::Dir {
                out.push(Placement {
                    class: "directory extent",
                    name: path,
                    start: u64::from(n.dir_block) * SECTOR,
                    len: u64::from(n.dir_size),
                });
            } else {
                for (k, e) in n.extents.iter().enumerate().filter(|(_, e)| e.len > 0) {
                    out.push(Placement {
                        class: "file extent",
                        name: if k == 0 {
                            path.clone()
                        } else {
                            format!("{path} (extent {})", k + 1)
                        },
                        start: e.start,
                        len: e.len,
                    });
                }
            }
        }
        out
    }

    /// The records of every directory of `tree` its walk read, with their
    /// SUSP entries, as the walk recorded them. `label` starts each record's
    /// name (`Joliet ` for the Joliet tree).
    fn tree_spans(
        &self,
        tree: &Tree,
        paths: &[EntryPath],
        label: &str,
        l: &mut Layout,
        dir_paths: &mut HashMap<u64, EntryPath>,
    ) {
        for (n, dir) in tree.nodes.iter().zip(paths) {
            if n.entry.meta.kind == EntryKind::Dir {
                dir_paths
                    .entry(u64::from(n.dir_block))
                    .or_insert(dir.clone());
            }
        }
        let by_record: HashMap<u64, usize> = tree
            .nodes
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, n)| (n.record, i))
            .collect();
        let skip = match tree.namespace {
            Namespace::RockRidge { skip } => Some(usize::from(skip)),
            _ => None,
        };
        for extent in tree.recorded.extents() {
            let i = extent.node as usize;
            let (Some(n), Some(dir)) = (tree.nodes.get(i), paths.get(i)) else {
                continue;
            };
            let parent_path = &paths[n.parent as usize];
            let shown = String::from_utf8_lossy(&dir[..]);
            l.region(
                extent.start,
                u64::from(n.dir_size),
                format!("{label}directory extent of {shown}"),
            );
            let mut last: Option<(Vec<u8>, EntryPath)> = None;
            for (at, entries) in tree.recorded.records(&extent) {
                let Some(rec) = self.record_at(at) else {
                    continue;
                };
                let (what, owner_path): (String, EntryPath) = if rec.is_self() {
                    (format!(". record of {shown}"), dir.clone())
                } else if rec.is_parent() {
                    (format!(".. record of {shown}"), parent_path.clone())
                } else {
                    let path = match by_record.get(&at) {
                        Some(&c) => paths[c].clone(),
                        None => match &last {
                            // The further records of a multi-extent file.
                            Some((name, path)) if name.as_slice() == rec.name => path.clone(),
                            _ => {
                                let mut p = dir.to_vec();
                                if !p.ends_with(b"/") {
                                    p.push(b'/');
                                }
                                p.extend_from_slice(rec.name);
                                p.into()
                            }
                        },
                    };
                    last = Some((rec.name.to_vec(), path.clone()));
                    (
                        format!("record of {}", String::from_utf8_lossy(&path[..])),
                        path,
                    )
                };
                let name = format!("{label}directory {what}");
                let su_start = rec.system_use_offset - at;
                l.push(Span {
                    start: at,
                    len: su_start,
                    owner: Owner::new("directory record", name.clone(), Explain::Nothing)
                        .of(&owner_path)
                        .with_fields(record_fields(rec.name.len() as u64, su_start)),
                });
                let record_end = rec.system_use_offset + rec.system_use.len() as u64;
                let is_root_dot = i == 0 && rec.is_self();
                match skip {
                    Some(skip) => {
                        let skip = if is_root_dot { 0 } else { skip };
                        let at = (&owner_path, &name[..], record_end);
                        self.susp_spans(&rec, skip, entries, at, l);
                    }
                    None => {
                        if !rec.system_use.is_empty() {
                            l.push(Span {
                                start: rec.system_use_offset,
                                len: rec.system_use.len() as u64,
                                owner: Owner::new(
                                    "System Use area",
                                    format!("{name}: System Use area"),
                                    Explain::Nothing,
                                )
                                .of(&owner_path),
                            });
                        }
                    }
                }
            }
        }
    }

    /// The directory record a walk read at `at`, decoded again.
    fn record_at(&self, at: u64) -> Option<DirRecord<'_>> {
        let start = usize::try_from(at).ok()?;
        let len = usize::from(*self.raw.get(start)?);
        let raw = self.raw.get(start..start + len)?;
        DirRecord::parse(raw, at).ok()
    }

    /// The SUSP entries of one record (and of its continuation areas), at
    /// the `offsets` its walk recorded.
    fn susp_spans(
        &self,
        rec: &DirRecord<'_>,
        skip: usize,
        offsets: &[u64],
        (path, record_name, record_end): (&EntryPath, &str, u64),
        l: &mut Layout,
    ) {
        let shown = String::from_utf8_lossy(&path[..]);
        if skip > 0 {
            l.push(Span {
                start: rec.system_use_offset,
                len: (skip as u64).min(rec.system_use.len() as u64),
                owner: Owner::new(
                    "System Use area",
                    format!("{record_name}: SUSP skip bytes"),
                    Explain::Nothing,
                )
                .of(path),
            });
        }
        let entries = offsets.iter().filter_map(|&at| SuspEntry::at(self.raw, at));
        let mut seen: HashMap<[u8; 2], u32> = HashMap::new();
        let mut in_record_end = rec.system_use_offset + skip as u64;
        let mut er = 0u32;
        for e in entries.take(MAX_SUSP_SPANS) {
            let n = seen.entry(e.sig).or_insert(0);
            *n += 1;
            let sig = String::from_utf8_lossy(&e.sig).into_owned();
            let sig = if sig.chars().all(|c| c.is_ascii_alphanumeric()) {
                sig
            } else {
                crate::model::hex(&e.sig)
            };
            let nth = if *n > 1 {
                format!(" #{n}")
            } else {
                String::new()
            };
            if &e.sig == b"ER" {
                er += 1;
            }
            let (explain, fields) = susp_fields(&sig, e.data, er);
            l.push(Span {
                start: e.offset,
                len: e.data.len() as u64,
                owner: Owner::new(
                    "SUSP entry",
                    format!("SUSP entry {sig}{nth} of {shown}"),
                    explain,
                )
                .of(path)
                .with_fields(fields),
            });
            if e.offset < record_end {
                in_record_end = in_record_end.max(e.offset + e.data.len() as u64);
            }
            let ce = CeEntry::new(e.data).filter(|_| &e.sig == b"CE");
            if let Some((start, len)) = ce.map(|c| c.area(SECTOR as u32)) {
                l.region(
                    start,
                    u64::from(len),
                    format!("SUSP continuation area of {shown}"),
                );
            }
        }
        if in_record_end < record_end {
            l.push(Span {
                start: in_record_end,
                len: record_end - in_record_end,
                owner: Owner::new(
                    "System Use area",
                    format!("{record_name}: System Use padding"),
                    Explain::Nothing,
                )
                .of(path),
            });
        }
    }

    /// Every file's extents, and the boot info tables inside boot images.
    fn file_spans(&self, paths: &[EntryPath], l: &mut Layout) {
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::File {
                continue;
            }
            let path = &paths[i];
            let shown = String::from_utf8_lossy(&path[..]);
            let many = n.extents.len() > 1;
            let data = if n.zisofs.is_some() {
                ZISOFS_DATA
            } else {
                DATA
            };
            for (k, e) in n.extents.iter().enumerate() {
                let name = if many {
                    format!("extent {} of {shown}", k + 1)
                } else {
                    format!("extent of {shown}")
                };
                l.push_coarse(Span {
                    start: e.start,
                    len: e.len,
                    owner: Owner::new("extent", name, Explain::Entry(data)).of(path),
                });
            }
            if let Some(e) = n.extents.first() {
                self.zisofs_spans(n, e.start, e.len, &shown, path, l);
            }
            let has_table = n
                .entry
                .attrs
                .iter()
                .any(|a| a.name == "boot_info_table.checksum");
            if let (true, Some(e)) = (has_table, n.extents.first()) {
                l.push(Span {
                    start: e.start + BOOT_INFO_AT,
                    len: BootInfoTable::LEN as u64,
                    owner: Owner::new(
                        "boot info table",
                        format!("boot info table of {shown}"),
                        Explain::Nothing,
                    )
                    .of(path)
                    .with_fields(fields_at(BootInfoTable::FIELDS, 0)),
                });
            }
        }
    }
}

impl IsoFs<'_> {
    /// The header and block pointer table of a zisofs file (its extent at
    /// `start`, `len` bytes), inside the extent's span: the compressed blocks
    /// are left to the extent, explained by the entry's content.
    fn zisofs_spans(
        &self,
        n: &super::walk::Node,
        start: u64,
        len: u64,
        shown: &str,
        path: &EntryPath,
        l: &mut Layout,
    ) {
        let Some(zf) = n.zisofs.filter(super::zisofs::Zf::decodable) else {
            return;
        };
        let stored = usize::try_from(start)
            .ok()
            .zip(usize::try_from(start.saturating_add(len)).ok())
            .and_then(|(s, e)| self.raw.get(s..e));
        let Some((header, table, _)) = stored.and_then(|b| super::zisofs::parts(&zf, b)) else {
            return;
        };
        if header < 16 || header + table > len {
            return;
        }
        let entry = Explain::Entry;
        l.push(Span {
            start,
            len: header,
            owner: Owner::new(
                "zisofs header",
                format!("zisofs header of {shown}"),
                Explain::Nothing,
            )
            .of(path)
            .with_fields(if zf.algorithm == *b"PZ" {
                fields_at(super::zisofs::File2Header::FIELDS, 0)
            } else {
                fields_at(super::zisofs::FileHeader::FIELDS, 0)
            }),
        });
        l.push(Span {
            start: start + header,
            len: table,
            owner: Owner::new(
                "zisofs block pointers",
                format!("zisofs block pointers of {shown}"),
                // Where each compressed block ends: moves when any block's
                // compressed length does, which a content change makes, or
                // another algorithm or block size (zisofs2's pointers are
                // wider).
                entry(&[
                    Key::Content,
                    Key::SIZE,
                    Key::Attribute(super::zisofs::ALGORITHM),
                    Key::Attribute(super::zisofs::BLOCK_SIZE),
                ]),
            )
            .of(path),
        });
    }
}

/// The fields of a directory record's fixed part, identifier and pad byte.
fn record_fields(name_len: u64, su_start: u64) -> Vec<Field> {
    let mut v = fields_at(RecordFixed::FIELDS, 0);
    let name_at = RECORD_FIXED as u64;
    v.push(f(
        name_at,
        name_len,
        "identifier",
        Explain::Entry(&[Key::Attribute(ISO_NAME), Key::Attribute(JOLIET_NAME)]),
    ));
    if su_start > name_at + name_len {
        v.push(f(name_at + name_len, 1, "pad byte", Explain::Nothing));
    }
    v
}

/// The fields of a SUSP entry of `len` bytes from its table: the header's row
/// by the header's fields, explained as the row is, and when `stretch` the
/// last field to the entry's end (an entry longer than its table).
fn entry_fields(defs: &[FieldDef], len: u64, stretch: bool) -> Vec<Field> {
    let mut v = Vec::new();
    for field in fields_at(defs, 0) {
        if field.at == 0 {
            v.extend(fields_at(SuspHeader::FIELDS, 0).into_iter().map(|mut h| {
                h.explain = field.explain.clone();
                h
            }));
        } else {
            v.push(field);
        }
    }
    if let Some(last) = v.last_mut().filter(|_| stretch) {
        last.len = last.len.max(len.saturating_sub(last.at));
    }
    v
}

/// The fields of a SUSP entry of `len` bytes whose table ends with one byte
/// of flags before a tail of its own (a name, components): the flags and the
/// tail, which the same change makes, as one field of the tail's `name`, run
/// to the entry's end.
fn with_tail(defs: &[FieldDef], len: u64, name: &'static str) -> Vec<Field> {
    let mut v = entry_fields(defs, len, false);
    if let Some(last) = v.last_mut() {
        last.name = name.into();
        last.len = len.saturating_sub(last.at);
    }
    v
}

/// What explains a SUSP entry's bytes, field by field (`sig` is the entry's
/// signature, `er` the number of the ER entry among the record's).
fn susp_fields(sig: &str, d: &[u8], er: u32) -> (Explain, Vec<Field>) {
    let len = d.len() as u64;
    let header = || fields_at(SuspHeader::FIELDS, 0);
    let body_at = SuspHeader::LEN as u64;
    let rest = |name: &'static str, explain: Explain| {
        let mut v = header();
        v.push(f(body_at, len.saturating_sub(body_at), name, explain));
        v
    };
    match sig {
        "PX" => (Explain::Nothing, entry_fields(PxEntry::FIELDS, len, false)),
        "TF" => {
            let mut v = entry_fields(TfEntry::FIELDS, len, false);
            if let Some(tf) = TfEntry::new(d) {
                let width = tf.stamp_len() as u64;
                let mut at = TfEntry::LEN as u64;
                for stamp in tf.stamps() {
                    v.push(f(at, width, stamp.field, Explain::Entry(stamp.keys)));
                    at += width;
                }
            }
            (Explain::Nothing, v)
        }
        "NM" => (Explain::Nothing, with_tail(NmEntry::FIELDS, len, "name")),
        "SL" => (
            Explain::Nothing,
            with_tail(SlEntry::FIELDS, len, "symlink target"),
        ),
        "PN" => (Explain::Nothing, entry_fields(PnEntry::FIELDS, len, true)),
        "CE" => (Explain::Nothing, entry_fields(CeEntry::FIELDS, len, true)),
        "CL" | "PL" => (Explain::Nothing, entry_fields(LinkEntry::FIELDS, len, true)),
        "RR" => (Explain::Nothing, with_tail(RrEntry::FIELDS, len, "flags")),
        "ER" => {
            let mut v = entry_fields(ErEntry::FIELDS, len, false);
            // The version's attribute is named under this ER's.
            for field in &mut v {
                if let Explain::EntryAttribute(own) = &field.explain {
                    field.explain = Explain::EntryAttribute(attrs::er(er, own).into());
                }
            }
            let lengths = ErEntry::new(d).map_or([0; 3], |e| e.lengths());
            let mut at = ErEntry::LEN as u64;
            for (len, (name, what)) in lengths.into_iter().zip([
                ("identifier", "id"),
                ("descriptor", "descriptor"),
                ("source", "source"),
            ]) {
                let len = u64::from(len);
                let key = Explain::EntryAttribute(attrs::er(er, what).into());
                v.push(f(at, len, name, key));
                at += len;
            }
            (Explain::Nothing, v)
        }
        "ZF" | "Z2" => (Explain::Nothing, entry_fields(ZfEntry::FIELDS, len, false)),
        "SP" => (Explain::Nothing, entry_fields(SpEntry::FIELDS, len, false)),
        "RE" | "PD" | "ST" | "ES" => (Explain::Nothing, header()),
        other => {
            let key = Explain::EntryAttribute(attrs::other_susp(other.as_bytes()).into());
            (Explain::Nothing, rest("body", key))
        }
    }
}

/// The volume descriptors the reader read, field by field.
fn descriptors(seen: &[Seen], l: &mut Layout) {
    for d in seen {
        let Seen {
            start,
            kind,
            prefix,
            number,
        } = d;
        let (name, fields) = match kind {
            0 => (
                "boot record volume descriptor".to_owned(),
                body_fields(BootRecord::FIELDS, prefix),
            ),
            1 => (
                "primary volume descriptor".to_owned(),
                volume_fields(prefix, true),
            ),
            2 if prefix == "joliet" => (
                "Joliet volume descriptor".to_owned(),
                volume_fields(prefix, false),
            ),
            2 => (
                format!("supplementary volume descriptor {number}"),
                volume_fields(prefix, false),
            ),
            3 => (
                format!("partition volume descriptor {number}"),
                body_fields(PartitionDescriptor::FIELDS, prefix),
            ),
            255 => ("volume descriptor set terminator".to_owned(), Vec::new()),
            _ => (
                format!(
                    "volume descriptor {} (type {kind})",
                    start / SECTOR - FIRST_DESCRIPTOR
                ),
                Vec::new(),
            ),
        };
        // The reader names the version of primary, supplementary and
        // partition descriptors only.
        let own = matches!(kind, 1..=3).then_some(prefix.as_str());
        let mut all = fields_under(DescriptorHeader::FIELDS, 0, own);
        all.extend(fields);
        let mut owner = Owner::new("volume descriptor", name, Explain::Nothing).with_fields(all);
        if matches!(kind, 1 | 2) {
            // Its root record's date is the root's mtime.
            owner = owner.of(&EntryPath::from(&b"/"[..]));
        }
        l.push(Span {
            start: *start,
            len: SECTOR,
            owner,
        });
    }
}

/// The fields of a descriptor's table after its header, facts named under
/// `p`.
fn body_fields(defs: &[FieldDef], p: &str) -> Vec<Field> {
    let header = DescriptorHeader::LEN as u64;
    let mut v = fields_under(defs, 0, Some(p));
    v.retain(|field| field.at >= header);
    v
}

/// The fields of a primary or supplementary volume descriptor, facts named
/// under `p` as the reader names them.
fn volume_fields(p: &str, primary: bool) -> Vec<Field> {
    let mut v = Vec::new();
    for field in body_fields(VolumeDescriptor::FIELDS, p) {
        if field.at == ROOT_AT {
            v.extend(root_fields(p));
        } else if primary && matches!(&*field.name, "volume flags" | "escape sequences") {
            // Unused in a primary descriptor: the reader makes no fact of them.
            v.push(f(field.at, field.len, "unused", Explain::Nothing));
        } else {
            v.push(field);
        }
    }
    v
}

/// The root directory record in a volume descriptor: a record's fields,
/// named and explained as the root's. What follows its date (flags to
/// identifier) a root's record always has the same: one field.
fn root_fields(p: &str) -> Vec<Field> {
    let end = ROOT_AT + RECORD_FIXED as u64 + 1;
    let mut v = Vec::new();
    for def in RecordFixed::FIELDS {
        let at = ROOT_AT + def.at;
        let (name, explain) = match def.name {
            // Not always derived: NetBSD makefs writes 68 (see
            // `DirRecord::parse_root`), which the reader keeps as a fact.
            "length" => (
                "root record length",
                fact(format!("{p}.root.record_length")),
            ),
            "extended attribute length" => {
                ("root extended attribute record length", Explain::Derived)
            }
            "extent location" => ("root extent location", Explain::Placement),
            "data length" => ("root data length", Explain::Placement),
            "recording date" => ("root recording date", def.explain.clone()),
            _ => {
                v.push(f(at, end - at, "root record fields", Explain::Nothing));
                break;
            }
        };
        v.push(f(at, def.len, name, explain));
    }
    v
}

/// The path tables a primary or supplementary descriptor names, record by
/// record, each named by the directory it points to.
fn path_tables(data: &[u8], d: &Seen, dir_paths: &HashMap<u64, EntryPath>, l: &mut Layout) {
    if !matches!(d.kind, 1 | 2) {
        return;
    }
    let desc = data.get(d.start as usize..(d.start + SECTOR) as usize);
    let Some(desc) = desc.and_then(VolumeDescriptor::new) else {
        return;
    };
    let size = u64::from(desc.path_table_size().0);
    let block_size = u64::from(desc.block_size().0);
    if !matches!(block_size, 512 | 1024 | 2048) {
        return;
    }
    let which = match d.prefix.as_str() {
        "pvd" => "primary".to_owned(),
        other => other.to_owned(),
    };
    let tables = [
        ("type L", u64::from(desc.l_table()), true),
        ("optional type L", u64::from(desc.optional_l_table()), true),
        ("type M", u64::from(desc.m_table()), false),
        ("optional type M", u64::from(desc.optional_m_table()), false),
    ];
    for (kind, block, little) in tables {
        if block == 0 {
            continue;
        }
        let start = block * block_size;
        let Some(table) = data.get(start as usize..(start + size) as usize) else {
            continue;
        };
        let table_name = format!("{kind} path table ({which})");
        l.region(start, size, table_name.clone());
        let mut pos = 0usize;
        let mut number = 0u32;
        while let Some(rec) = table.get(pos..).and_then(PathRecord::new) {
            let name_len = usize::from(rec.name_len());
            if name_len == 0 {
                break;
            }
            number += 1;
            let len = PathRecord::LEN + name_len + name_len % 2;
            let extent = rec.extent_in(little);
            let (name, entries) = match dir_paths.get(&u64::from(extent)) {
                Some(p) => (
                    format!("{table_name} record of {}", String::from_utf8_lossy(&p[..])),
                    vec![p.clone()],
                ),
                None => (format!("{table_name} record {number}"), Vec::new()),
            };
            let name_at = PathRecord::LEN as u64;
            let mut fields = fields_at(PathRecord::FIELDS, 0);
            fields.push(f(name_at, name_len as u64, "identifier", Explain::Nothing));
            if name_len % 2 == 1 {
                fields.push(f(
                    name_at + name_len as u64,
                    1,
                    "pad byte",
                    Explain::Nothing,
                ));
            }
            let mut owner =
                Owner::new("path table record", name, Explain::Nothing).with_fields(fields);
            owner.entries = entries;
            l.push(Span {
                start: start + pos as u64,
                len: (len as u64).min((table.len() - pos) as u64),
                owner,
            });
            pos += len;
        }
    }
}

/// The El Torito boot catalog, entry by entry, as the reader read and
/// numbered them.
fn catalog(read: &Catalog, l: &mut Layout) {
    let Catalog { start, len, pieces } = read;
    l.region(*start, *len, "the boot catalog");
    let image_entry = |p: &str| fields_under(BootImageEntry::FIELDS, 0, Some(p));
    for &(pos, piece) in pieces {
        let (name, explain, fields) = match piece {
            Piece::Validation => (
                "boot catalog validation entry".to_owned(),
                Explain::Nothing,
                fields_at(ValidationEntry::FIELDS, 0),
            ),
            Piece::Boot(n) => {
                let p = format!("eltorito.entry{n}");
                let fields = image_entry(&p);
                (format!("boot catalog entry {n}"), fact(p), fields)
            }
            Piece::Section(n) => {
                let p = format!("eltorito.section{n}");
                let fields = fields_under(SectionHeader::FIELDS, 0, Some(&p));
                (format!("boot catalog section header {n}"), fact(p), fields)
            }
            Piece::Extension(n) => (
                format!("boot catalog extension entry after entry {n}"),
                fact(format!("eltorito.entry{n}")),
                Vec::new(),
            ),
        };
        l.push(Span {
            start: start + pos as u64,
            len: ENTRY as u64,
            owner: Owner::new("boot catalog entry", name, explain).with_fields(fields),
        });
    }
}

/// Claims the zeros no structure holds, so that every byte of a sound image
/// (a grub-mkrescue image: ISO 9660, El Torito, GPT, APM, HFS+ and FAT) has
/// an owner that says what it is:
///
/// - the rest of a sector after a structure that ends inside it (a file's
///   data, the last directory record of a sector, a path table, the HFS+
///   volume header): `sector padding after ...`;
/// - whole sectors inside the HFS+ volume that none of its structures or
///   the ISO's files use: `unused blocks of the HFS+ volume`;
/// - whole sectors elsewhere: `padding`, named after the partition that
///   holds them, if any. xorriso pads the image end with 300 KiB of zeros
///   (`-padding`); grub-mkrescue's GPT and Apple partition map give that
///   padding a partition of its own (`Gap1`), and the GPT's last usable
///   sectors before its backup entries are zeros too.
///
/// Only runs of zeros are claimed: bytes that are not zero in a gap stay
/// unclaimed, so data hidden between structures is still named as such.
/// Padding says nothing of its own, but where it is follows from what is
/// before it: the sector padding after a structure belongs to that
/// structure's entries and is explained as the structure is (after a file's
/// data: by that file's content or size, which move the padding), or else is
/// placement: where the other image holds a structure at its bytes, that
/// structure decides. Whole sectors of padding say nothing
/// ([`Explain::Nothing`]): a byte that differs there is reported, and the
/// other image's bytes there, not zero, are named as unclaimed.
fn claim_padding(data: &[u8], l: &mut Layout) {
    let hfs = super::hfsplus::volume_range(data);
    // (start, end, owner of the span before) of every gap.
    let mut gaps = Vec::new();
    let mut at = 0u64;
    let mut prev: Option<&Owner> = None;
    for s in l.spans() {
        if s.start > at {
            gaps.push((at, s.start, prev.cloned()));
        }
        if s.end() > at {
            at = s.end();
            prev = Some(&s.owner);
        }
    }
    let len = data.len() as u64;
    if at < len {
        gaps.push((at, len, prev.cloned()));
    }
    let zeros = |s: u64, e: u64| {
        usize::try_from(s)
            .ok()
            .zip(usize::try_from(e).ok())
            .and_then(|(s, e)| data.get(s..e))
            .is_some_and(|b| b.iter().all(|&x| x == 0))
    };
    let mut claims = Vec::new();
    for (start, end, before) in gaps {
        let mut s = start;
        while s < end {
            let sector_end = (s / SECTOR + 1) * SECTOR;
            let (e, owner) = match &before {
                // The rest of the sector a structure ends in.
                Some(b) if s == start && s % SECTOR != 0 => {
                    let mut o = Owner::new(
                        "sector padding",
                        format!("sector padding after {}", b.name),
                        match &b.explain {
                            Explain::Nothing => Explain::Placement,
                            other => other.clone(),
                        },
                    );
                    o.entries = b.entries.clone();
                    (end.min(sector_end), o)
                }
                _ => match hfs.filter(|&(hs, he)| s >= hs && s < he) {
                    Some((_, he)) => (
                        end.min(he),
                        Owner::new(
                            "HFS+ unused blocks",
                            "unused blocks of the HFS+ volume",
                            Explain::Nothing,
                        ),
                    ),
                    None => {
                        // Up to the HFS+ volume, if it starts inside the gap.
                        let e = match hfs {
                            Some((hs, _)) if hs > s && hs < end => hs,
                            _ => end,
                        };
                        let (e, name) = match l.region_around(s) {
                            Some((re, r)) => (e.min(re), format!("padding in {r}")),
                            None => (e, "padding".to_owned()),
                        };
                        (e, Owner::new("padding", name, Explain::Nothing))
                    }
                },
            };
            if zeros(s, e) {
                claims.push(Span {
                    start: s,
                    len: e - s,
                    owner,
                });
            }
            s = e;
        }
    }
    for c in claims {
        l.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields follow one another from `from` to `to`.
    fn contiguous(v: &[Field], from: u64, to: u64) -> bool {
        let mut v = v.to_vec();
        v.sort_by_key(|f| f.at);
        let mut at = from;
        for f in &v {
            if f.at != at {
                return false;
            }
            at += f.len;
        }
        at == to
    }

    #[test]
    fn a_susp_entry_is_accounted_from_its_table() {
        // A CL entry longer than its table: the location takes the rest.
        let v = entry_fields(LinkEntry::FIELDS, 20, true);
        assert!(contiguous(&v, 0, 20), "{v:?}");
        assert_eq!(v.len(), SuspHeader::FIELDS.len() + 1);
        // A PX entry of RRIP 1.12, byte by byte.
        assert!(contiguous(&entry_fields(PxEntry::FIELDS, 44, false), 0, 44));
        // The header of a ZF entry says zisofs or zisofs2.
        let v = entry_fields(ZfEntry::FIELDS, 16, false);
        assert!(contiguous(&v, 0, 16));
        assert!(v[..SuspHeader::FIELDS.len()].iter().all(
            |h| h.explain == Explain::Entry(&[Key::Attribute(super::super::zisofs::ALGORITHM)])
        ));
    }

    /// The names of fields after the SUSP header's.
    fn body_names(v: &[Field]) -> Vec<&str> {
        v[SuspHeader::FIELDS.len()..]
            .iter()
            .map(|f| f.name.as_ref())
            .collect()
    }

    #[test]
    fn rock_ridge_entries_with_tails_are_accounted_from_their_tables() {
        // A TF entry of a modify and an access stamp, short form.
        let mut tf = b"TF\x13\x01\x06".to_vec();
        tf.extend([0; 14]);
        let (_, v) = susp_fields("TF", &tf, 1);
        assert!(contiguous(&v, 0, 19), "{v:?}");
        assert_eq!(body_names(&v), ["flags", TF[1].field, TF[2].field]);
        // The long form: 17 bytes a stamp.
        tf[4] = 0x82;
        tf.resize(22, 0);
        let (_, v) = susp_fields("TF", &tf, 1);
        assert!(contiguous(&v, 0, 22), "{v:?}");
        // NM and SL: the flags and what follows them, one field.
        for (sig, tail) in [("NM", "name"), ("SL", "symlink target")] {
            let (_, v) = susp_fields(sig, b"NM\x09\x01\x00abcd", 1);
            assert!(contiguous(&v, 0, 9), "{v:?}");
            assert_eq!(body_names(&v), [tail]);
        }
        let (_, v) = susp_fields("RR", b"RR\x05\x01\x81", 1);
        assert!(contiguous(&v, 0, 5), "{v:?}");
        let rr_flags = Explain::Entry(&[Key::Attribute(RR_FLAGS)]);
        assert_eq!(v.last().map(|f| &f.explain), Some(&rr_flags));
        // ER: the lengths, the version, then the three texts they give.
        let (_, v) = susp_fields("ER", b"ER\x0b\x01\x02\x01\x00\x01abc", 2);
        assert!(contiguous(&v, 0, 11), "{v:?}");
        assert_eq!(
            body_names(&v),
            [
                "text lengths",
                "extension version",
                "identifier",
                "descriptor",
                "source"
            ]
        );
        let explains: Vec<&Explain> = v.iter().map(|f| &f.explain).collect();
        assert_eq!(
            explains[SuspHeader::FIELDS.len() + 1..][..2],
            [
                &Explain::EntryAttribute("susp.er2.version".into()),
                &Explain::EntryAttribute("susp.er2.id".into())
            ]
        );
    }

    #[test]
    fn a_volume_descriptor_is_accounted_byte_by_byte() {
        for (p, primary) in [("pvd", true), ("joliet", false)] {
            let mut v = fields_under(DescriptorHeader::FIELDS, 0, Some(p));
            v.extend(volume_fields(p, primary));
            assert!(contiguous(&v, 0, SECTOR), "{p}: {v:?}");
        }
        let root = root_fields("pvd");
        assert!(contiguous(&root, ROOT_AT, ROOT_AT + 34));
        assert_eq!(root.len(), 6);
        assert_eq!(
            root[0].explain,
            fact("pvd.root.record_length"),
            "the root's length is a fact"
        );
    }
}
