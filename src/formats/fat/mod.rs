//! FAT12, FAT16 and FAT32 with VFAT long names: the file systems of EFI system
//! partition images (`/boot/efi.img`, `/EFI/...` El Torito images).
//!
//! # Why our own parser and not fatfs
//!
//! The design suggests the `fatfs` crate. Its docs (0.3.6, the last release) show
//! why it does not fit a diff tool: it needs `Read + Write + Seek` storage even to
//! read, keeps the first cluster and the entry's position private, decodes names
//! and times into its own types (the raw 8.3 name, case bits and out-of-range date
//! words are gone), reads file data only through its own `Read` (no slices of the
//! image, so equal content cannot be proven by equal bytes of the map), and panics
//! in `to_file`/`to_dir` on the wrong kind. A read-only FAT reader is small: a
//! 512-byte boot sector, a table of 12-, 16- or 28-bit entries and one 32-byte
//! directory entry shape. Reading it here gives every raw field, the byte offset
//! of every entry (which the byte accounting of a later change needs) and content
//! as slices of the image.
//!
//! # What an entry holds
//!
//! - name: the VFAT long name when one belongs to the entry (sequence and checksum
//!   checked), else the 8.3 name with the NT lower-case bits applied, as Linux and
//!   mtools show it; the raw 8.3 name is the attribute `fat.short_name`;
//! - kind: directory or file; no mode, owner or link count (FAT has none); the
//!   read-only, hidden, system and archive bits are the attribute `fat.attributes`;
//! - `mtime`: the modification date and time, at 2 s precision;
//! - `atime`: the access date, a date alone;
//! - `fat.created`: the creation time with its 10 ms field, at hundredths;
//! - size and content: the cluster chain as slices of the image, runs of
//!   consecutive clusters merged into one slice.
//!
//! FAT stores local time without a zone. Times are read as UTC, as mtools and most
//! image tools do, so a comparison does not depend on the zone of the machine.
//!
//! # Untrusted input
//!
//! The boot sector must describe a consistent volume (sector and cluster sizes,
//! regions in order); the FAT and the fixed root directory must lie in the image
//! or the image does not open. Everything else fails per entry: chains that leave
//! the data area, end before their file does, run into free or bad clusters, loop
//! or share clusters with another entry (one bitmap of claimed clusters catches
//! both), directories past the 2 MiB FAT allows or starting at an ancestor's
//! cluster, long names that do not fit their entry, clusters beyond the end of a
//! truncated image. Entries and depth are bounded by [`Limits`].

mod chain;
mod raw;
mod slots;
mod spans;
mod walk;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::formats::tree;
use crate::limits::Limits;
use crate::model::{
    Content, EntryKind, Fact, Filesystem, Follows, Format, Listing, Meta, NodeId, Value,
};
use raw::{BootSector, FatType, Geometry};

/// Whether `data` starts with a FAT boot sector a FAT driver would mount.
pub fn sniff(data: &[u8]) -> bool {
    BootSector::parse(data).is_ok_and(|bs| bs.plausible())
}

/// An opened FAT image.
#[derive(Debug)]
pub struct FatFs<'a> {
    image: Bytes<'a>,
    geo: Geometry,
    facts: Vec<Fact>,
    tree: walk::Tree,
}

impl<'a> FatFs<'a> {
    /// Parses the boot sector of `data` and walks its directory tree.
    ///
    /// Fails only when the volume as a whole is unreadable (no consistent boot
    /// sector, the FAT or the fixed root directory outside the image); damaged
    /// entries are reported by [`Filesystem::children`] of their directory.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<FatFs<'a>> {
        let image = Bytes::new(data);
        let bs = BootSector::parse(data)?;
        let geo = Geometry::new(&bs)?;
        let table = image.get(geo.fat_offset, geo.fat_bytes, "FAT")?;
        if let Some((offset, len)) = geo.root_region {
            image.get(offset, len, "FAT root directory")?;
        }
        let mut facts = bs.facts();
        facts.push(Fact::new(
            "fat_type",
            Value::Text(geo.fat_type.name().to_owned()),
        ));
        facts.push(
            Fact::packing("data_clusters", Value::Int(geo.clusters.into()))
                .follows(Follows::ImageSize),
        );
        facts.extend(extra_facts(image, &bs, &geo));

        let walker = walk::Walker {
            image,
            fat: chain::Fat { geo, table },
            limits,
            claimed: chain::Claimed::new(&geo),
        };
        let mut tree = walker.walk();
        facts.append(&mut tree.label_facts);
        facts.push(Fact::layout("image_size", Value::Int(image.len())));
        if geo.volume_bytes > image.len() {
            let e = Error::OutOfBounds {
                structure: "FAT volume (its total sectors)",
                offset: 0,
                end: geo.volume_bytes,
                len: image.len(),
            };
            if let Some(root) = tree.nodes.first_mut() {
                root.errors.push(e);
            }
        }
        Ok(FatFs {
            image,
            geo,
            facts,
            tree,
        })
    }

    fn node(&self, id: NodeId) -> Result<&walk::Node> {
        tree::node(&self.tree.nodes, id)
    }
}

/// Facts beyond the boot sector: whether the FAT copies agree, the FAT32 FSInfo
/// sector and whether the backup boot sector matches.
fn extra_facts(image: Bytes<'_>, bs: &BootSector, geo: &Geometry) -> Vec<Fact> {
    let mut facts = Vec::new();
    let sector = u64::from(bs.bytes_per_sector);
    let first_fat = u64::from(bs.reserved_sectors) * sector;
    let copies: Vec<Option<&[u8]>> = (0..u64::from(bs.fat_count))
        .map(|i| {
            image
                .get(first_fat + i * geo.fat_bytes, geo.fat_bytes, "FAT")
                .ok()
        })
        .collect();
    let agree = copies.windows(2).all(|w| w[0].is_some() && w[0] == w[1]);
    facts.push(Fact::new("fats_agree", Value::Bool(agree)));
    if let (FatType::Fat32, Some(x)) = (geo.fat_type, &bs.fat32) {
        // FSInfo: lead signature "RRaA", struct signature "rrAa", then the free
        // cluster count and the next free hint (0xffffffff: unknown).
        let at = u64::from(x.fsinfo_sector) * sector;
        if x.fsinfo_sector != 0 && x.fsinfo_sector != 0xffff {
            if let Ok(s) = image.array(at, "FAT32 FSInfo sector") {
                let s = raw::FsInfo::from_array(s);
                let ok = s.valid();
                facts.push(Fact::new("fsinfo.valid", Value::Bool(ok)));
                if ok {
                    let word = |v: u32| {
                        if v == u32::MAX {
                            Value::Unset
                        } else {
                            Value::Int(v.into())
                        }
                    };
                    facts.push(Fact::packing(
                        "fsinfo.free_clusters",
                        word(s.free_clusters()),
                    ));
                    facts.push(Fact::layout("fsinfo.next_free", word(s.next_free())));
                }
            }
        }
        let at = u64::from(x.backup_boot_sector) * sector;
        if x.backup_boot_sector != 0 && x.backup_boot_sector != 0xffff {
            let len = raw::BOOT_SECTOR_LEN as u64;
            let same = match (image.get(0, len, "boot"), image.get(at, len, "backup")) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            facts.push(Fact::new("backup_boot_sector_matches", Value::Bool(same)));
        }
    }
    facts
}

impl Filesystem for FatFs<'_> {
    fn format(&self) -> Format {
        Format::Fat
    }

    fn facts(&self) -> &[Fact] {
        &self.facts
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.tree.nodes[0].entry.meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        tree::listing(&self.tree.nodes, dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = self.node(file)?;
        if node.entry.meta.kind != EntryKind::File {
            return Err(Error::malformed(
                "node handle",
                file.0,
                "not a regular file",
            ));
        }
        if let Some(e) = &node.content_error {
            return Err(e.clone());
        }
        let mut left = node.entry.meta.size;
        let mut slices = Vec::with_capacity(node.runs.len());
        for r in &node.runs {
            let len = (u64::from(r.count) * self.geo.cluster_bytes).min(left);
            if len == 0 {
                break;
            }
            let offset = self.geo.cluster_offset(r.first);
            slices.push(self.image.get(offset, len, "FAT file clusters")?);
            left -= len;
        }
        Ok(Content::Slices(slices))
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.image.as_slice())
    }

    fn byte_layout(&self) -> Result<crate::model::span::Layout> {
        Ok(self.layout())
    }

    fn placements(&self) -> Vec<crate::model::span::Placement> {
        self.placements_of()
    }
}

#[cfg(test)]
mod tests {
    use super::raw::tests::boot_sector;
    use super::*;
    use crate::model::Entry;

    /// A short entry.
    fn entry(name: &[u8; 11], attr: u8, cluster: u16, size: u32) -> [u8; 32] {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(name);
        e[11] = attr;
        e[13] = 57; // 0.57 s after the creation time
        let (date, time) = (44u16 << 9 | 6 << 5 | 2, 13u16 << 11 | 4 << 5 | 3);
        e[14..16].copy_from_slice(&time.to_le_bytes());
        e[16..18].copy_from_slice(&date.to_le_bytes());
        e[18..20].copy_from_slice(&date.to_le_bytes());
        e[22..24].copy_from_slice(&time.to_le_bytes());
        e[24..26].copy_from_slice(&date.to_le_bytes());
        e[26..28].copy_from_slice(&cluster.to_le_bytes());
        e[28..32].copy_from_slice(&size.to_le_bytes());
        e
    }

    /// Long-name entries (in disk order) for `name` belonging to `short`.
    fn lfn(name: &str, short: &[u8; 11]) -> Vec<[u8; 32]> {
        let mut units: Vec<u16> = name.encode_utf16().collect();
        if units.len() % 13 != 0 {
            units.push(0);
        }
        while units.len() % 13 != 0 {
            units.push(0xffff);
        }
        let n = units.len() / 13;
        let sum = raw::short_name_checksum(short);
        (1..=n)
            .rev()
            .map(|seq| {
                let mut e = [0u8; 32];
                e[0] = seq as u8 | if seq == n { 0x40 } else { 0 };
                e[11] = 0x0f;
                e[13] = sum;
                let part = &units[(seq - 1) * 13..seq * 13];
                let places = (1..11)
                    .step_by(2)
                    .chain((14..26).step_by(2))
                    .chain((28..32).step_by(2));
                for (u, at) in part.iter().zip(places) {
                    e[at..at + 2].copy_from_slice(&u.to_le_bytes());
                }
                e
            })
            .collect()
    }

    /// A FAT12 image of 64 sectors, one sector per cluster: a label, a file with a
    /// long name over clusters 2, 3 and 5, a directory at cluster 4 holding a
    /// lower-case 8.3 file at cluster 6 and an entry pointing back at the root,
    /// and a file whose chain loops.
    pub(crate) fn image() -> Vec<u8> {
        let mut img = boot_sector(1, 1, 64);
        img.resize(64 * 512, 0);
        // FAT: 2->3->5->end, 4 end, 6 end, 7->7 (loop).
        let mut fat12 = [0u16; 9];
        fat12[0] = 0xff8;
        fat12[1] = 0xfff;
        fat12[2] = 3;
        fat12[3] = 5;
        fat12[4] = 0xfff;
        fat12[5] = 0xfff;
        fat12[6] = 0xfff;
        fat12[7] = 7;
        fat12[8] = 0;
        let mut table = vec![0u8; 512];
        for (i, pair) in fat12.chunks(2).enumerate() {
            let a = u32::from(pair[0]);
            let b = u32::from(*pair.get(1).unwrap_or(&0));
            let v = a | b << 12;
            table[i * 3..i * 3 + 3].copy_from_slice(&v.to_le_bytes()[..3]);
        }
        img[512..1024].copy_from_slice(&table);
        img[1024..1536].copy_from_slice(&table);
        let mut root: Vec<[u8; 32]> = vec![entry(b"MYVOLUME   ", 0x08, 0, 0)];
        root.extend(lfn("Long File Name.txt", b"LONGFI~1TXT"));
        root.push(entry(b"LONGFI~1TXT", 0x21, 2, 1100));
        root.push(entry(b"SUB        ", 0x10, 4, 0));
        root.push(entry(b"LOOPY   BIN", 0x00, 7, 2000));
        let mut deleted = entry(b"GONE    TXT", 0, 9, 10);
        deleted[0] = 0xe5;
        root.push(deleted);
        for (i, e) in root.iter().enumerate() {
            img[1536 + i * 32..1536 + i * 32 + 32].copy_from_slice(e);
        }
        let data = 1536 + 512;
        let cluster = |c: usize| data + (c - 2) * 512;
        for (c, fill) in [(2, b'a'), (3, b'b'), (5, b'c')] {
            img[cluster(c)..cluster(c) + 512].fill(fill);
        }
        let mut sub = vec![
            entry(b".          ", 0x10, 4, 0),
            entry(b"..         ", 0x10, 0, 0),
        ];
        let mut lower = entry(b"README  TXT", 0x20, 6, 5);
        lower[12] = 0x18;
        sub.push(lower);
        sub.push(entry(b"UP         ", 0x10, 0, 0));
        for (i, e) in sub.iter().enumerate() {
            img[cluster(4) + i * 32..cluster(4) + i * 32 + 32].copy_from_slice(e);
        }
        img[cluster(6)..cluster(6) + 5].copy_from_slice(b"hello");
        img
    }

    fn text(v: &Value) -> String {
        v.to_string()
    }

    #[test]
    fn lists_names_times_and_content() {
        let img = image();
        assert!(sniff(&img));
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        let fact = |n: &str| {
            fs.facts()
                .iter()
                .find(|f| f.name == n)
                .map(|f| text(&f.value))
        };
        assert_eq!(fact("fat_type").as_deref(), Some("\"FAT12\""));
        assert_eq!(fact("root_label").as_deref(), Some("\"MYVOLUME   \""));
        assert_eq!(fact("volume_id").as_deref(), Some("\"1234-ABCD\""));
        assert_eq!(fact("fats_agree").as_deref(), Some("true"));
        let l = fs.children(fs.root()).unwrap();
        let names: Vec<String> = l
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(names, ["LOOPY.BIN", "Long File Name.txt", "SUB"]);
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(
            l.errors[0].to_string().contains("loops back"),
            "{}",
            l.errors[0]
        );

        let f = &l.entries[1];
        assert_eq!(f.meta.kind, EntryKind::File);
        assert_eq!(f.meta.size, 1100);
        assert_eq!(f.meta.mode, None);
        assert_eq!(
            f.meta.mtime.map(|t| t.rfc3339()).as_deref(),
            Some("2024-06-02T13:04:06Z")
        );
        assert_eq!(
            f.meta.atime.map(|t| t.rfc3339()).as_deref(),
            Some("2024-06-02")
        );
        let attr =
            |e: &Entry, n: &str| e.attrs.iter().find(|f| f.name == n).map(|f| text(&f.value));
        assert_eq!(
            attr(f, "fat.short_name").as_deref(),
            Some("\"LONGFI~1.TXT\"")
        );
        assert_eq!(
            attr(f, "fat.attributes").as_deref(),
            Some("\"read-only,archive\"")
        );
        assert_eq!(
            attr(f, "fat.created").as_deref(),
            Some("2024-06-02T13:04:06.57Z")
        );
        let c = fs.content(f.node).unwrap();
        let slices = c.as_slices().unwrap();
        // Clusters 2 and 3 are one slice, cluster 5 another, cut at the size.
        assert_eq!(
            slices.iter().map(|s| s.len()).collect::<Vec<_>>(),
            [1024, 76]
        );
        assert!(slices[0][..512].iter().all(|&b| b == b'a'));
        assert!(slices[1].iter().all(|&b| b == b'c'));
        assert!(fs.content(l.entries[0].node).is_err());
        assert!(fs.content(l.entries[2].node).is_err());

        let sub = fs.children(l.entries[2].node).unwrap();
        let names: Vec<&[u8]> = sub.entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"readme.txt"[..]]);
        assert!(
            matches!(&sub.errors[..], [Error::Loop { ancestor, child }] if ancestor == "/" && child == "/SUB/UP"),
            "{:?}",
            sub.errors
        );
        let c = fs.content(sub.entries[0].node).unwrap();
        assert_eq!(c.as_slices().unwrap(), [&b"hello"[..]]);
    }

    #[test]
    fn broken_long_names_fall_back_to_short_names() {
        let mut img = image();
        // Damage the checksum in both long-name entries (root entries 1 and 2).
        img[1536 + 32 + 13] ^= 1;
        img[1536 + 64 + 13] ^= 1;
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        let l = fs.children(fs.root()).unwrap();
        assert!(l.entries.iter().any(|e| e.name == b"LONGFI~1.TXT"));
        assert!(l
            .errors
            .iter()
            .any(|e| e.to_string().contains("does not belong")));
        // Only the first: the sequence breaks.
        let mut img = image();
        img[1536 + 32 + 13] ^= 1;
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        let l = fs.children(fs.root()).unwrap();
        assert!(l.entries.iter().any(|e| e.name == b"LONGFI~1.TXT"));
        assert!(l
            .errors
            .iter()
            .any(|e| e.to_string().contains("does not continue")));
    }

    #[test]
    fn limits_and_damage_never_panic() {
        let img = image();
        let fs = FatFs::open(&img, &Limits::default().max_entries(2)).unwrap();
        let l = fs.children(fs.root()).unwrap();
        assert!(l
            .errors
            .iter()
            .any(|e| matches!(e, Error::LimitExceeded { .. })));
        let fs = FatFs::open(&img, &Limits::default().max_depth(1)).unwrap();
        let l = fs.children(fs.root()).unwrap();
        assert!(l
            .errors
            .iter()
            .any(|e| matches!(e, Error::LimitExceeded { .. })));

        for len in (0..img.len()).step_by(97) {
            let _ = FatFs::open(&img[..len], &Limits::default()).map(|fs| walk_all(&fs));
        }
        // Every byte of the metadata (boot sector, FATs, root, subdirectory).
        let sub = 1536 + 512 + 2 * 512;
        let interesting = (0..2048).chain(sub..sub + 160);
        for at in interesting {
            for v in [0u8, 1, 0x0f, 0x40, 0x7f, 0x80, 0xe5, 0xff] {
                let mut bad = img.clone();
                bad[at] = v;
                if let Ok(fs) = FatFs::open(&bad, &Limits::default()) {
                    walk_all(&fs);
                }
            }
        }
    }

    /// A FAT32 image of 64 sectors, one sector per cluster, one FAT: the
    /// root's chain is 2 -> 5 (two runs), `A.TXT` at cluster 3 in its first
    /// cluster (the other slots deleted) and `B.TXT` at cluster 4 in its
    /// second.
    fn fat32_image() -> Vec<u8> {
        let mut img = boot_sector(1, 0, 64);
        img[16] = 1; // one FAT
        img[17..19].fill(0); // no fixed root
        img[36..90].fill(0); // the FAT32 BPB, no extended BPB
        img[36..40].copy_from_slice(&1u32.to_le_bytes()); // sectors per FAT
        img[44..48].copy_from_slice(&2u32.to_le_bytes()); // root cluster
        img.resize(64 * 512, 0);
        let fat = [
            0x0fff_fff8u32,
            0x0fff_ffff,
            5,
            0x0fff_ffff,
            0x0fff_ffff,
            0x0fff_ffff,
        ];
        for (i, v) in fat.iter().enumerate() {
            img[512 + i * 4..512 + i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        let cluster = |c: usize| 1024 + (c - 2) * 512;
        img[cluster(2)..][..32].copy_from_slice(&entry(b"A       TXT", 0x20, 3, 5));
        // Deleted slots fill the first cluster: no end mark before the second.
        for slot in 1..16 {
            img[cluster(2) + slot * 32] = 0xe5;
        }
        img[cluster(5)..][..32].copy_from_slice(&entry(b"B       TXT", 0x20, 4, 3));
        img
    }

    #[test]
    fn the_walk_keeps_the_fat32_roots_chain() {
        let img = fat32_image();
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        assert_eq!(fs.geo.fat_type, FatType::Fat32);
        let runs = |v: &[(u32, u32)]| -> Vec<chain::Run> {
            v.iter()
                .map(|&(first, count)| chain::Run { first, count })
                .collect()
        };
        assert_eq!(fs.tree.nodes[0].runs, runs(&[(2, 1), (5, 1)]));
        let listed = fs.children(fs.root()).unwrap().entries;
        let names: Vec<Vec<u8>> = listed.into_iter().map(|e| e.name).collect();
        assert_eq!(names, [b"A.TXT".to_vec(), b"B.TXT".to_vec()]);
        // The byte layout names the root's FAT entries and both its
        // clusters' entries from that chain.
        let mut l = fs.byte_layout().unwrap();
        l.finish();
        let owner = |at: u64| Some(l.finished_spans()[l.at(at).ok()?].owner.name.clone());
        assert_eq!(owner(512 + 8).as_deref(), Some("FAT 1: chain of /"));
        assert_eq!(
            owner(512 + 20).as_deref(),
            Some("FAT 1: chain of / (run 2)")
        );
        assert_eq!(owner(2560).as_deref(), Some("directory entry of /B.TXT"));
    }

    fn walk_all(fs: &FatFs<'_>) {
        let mut stack = vec![fs.root()];
        while let Some(dir) = stack.pop() {
            for e in fs.children(dir).map(|l| l.entries).unwrap_or_default() {
                match e.meta.kind {
                    EntryKind::Dir => stack.push(e.node),
                    _ => {
                        if let Ok(c) = fs.content(e.node) {
                            assert_eq!(c.len(), e.meta.size);
                        }
                    }
                }
            }
        }
    }
}

tree::arena_node!(walk::Node);
