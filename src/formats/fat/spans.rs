//! The byte layout of a FAT image, for byte accounting: the boot sector field by
//! field (and on FAT32 the FSInfo sector and the backup copies), every FAT copy
//! (the entries of each chain owned by its file or directory, free entries,
//! the reserved entries), every 32-byte directory entry with its fields (VFAT
//! long-name entries owned by the entry they name, deleted and free slots), and
//! every file's clusters, owned by the file, with the slack after its end.
//!
//! Free clusters are not claimed: a changed byte there is unclaimed, named by
//! the region `free clusters`. Built when asked, never when the image is
//! opened, from the cluster chains the walk followed (the FAT32 root's
//! included: no chain is followed again), and the directory slots from what
//! the walk recorded in each as it read it (none is decoded again).

use super::raw::{
    extended_at, BootSector, BootSignature, CommonBpb, DirEntry, ExtendedRaw, Fat32BpbRaw, FatType,
    FsInfo, LabelEntry, LongNameEntry, BOOT_SECTOR_LEN, BOOT_SIGNATURE_AT, DIR_ENTRY_SIZE,
    SHORT_EXTENDED_LEN,
};
use super::slots::Slot;
use super::FatFs;
use crate::bytes::Bytes;
use crate::model::span::{
    f, fact, EntryPath, Explain, Field, Key, Keys, Layout, Owner, Placement, Span,
};
use crate::model::structure::fields_at;
use crate::model::EntryKind;

/// Runs of free FAT entries given a span of their own, per FAT copy. A hostile
/// FAT alternating free and used entries would otherwise make a span of every
/// other entry; past this the bytes are named by their region only.
const MAX_FREE_SPANS: usize = 1 << 16;

fn entry(keys: Keys) -> Explain {
    Explain::Entry(keys)
}

/// What explains a chain's FAT entries: a change of the file's size or content
/// (or a directory's children) reallocates them; else things moved.
const CHAIN: Keys = &[Key::SIZE, Key::Content, Key::Nested, Key::Children];

impl FatFs<'_> {
    /// See [`crate::Filesystem::byte_layout`].
    pub(crate) fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let data = self.image.as_slice();
        let Ok(bs) = BootSector::parse(data) else {
            return l;
        };
        let geo = self.geo;
        let paths = self.paths();
        boot_sectors(self.image, &bs, &mut l);
        self.fat_spans(&bs, &paths, &mut l);
        self.directory_spans(&paths, &mut l);
        self.cluster_spans(&paths, &mut l);
        let volume_end = geo.volume_bytes.min(self.image.len());
        l.region(
            geo.data_offset,
            volume_end.saturating_sub(geo.data_offset),
            "the data area",
        );
        l.region(
            geo.volume_bytes,
            self.image.len().saturating_sub(geo.volume_bytes),
            "bytes after the end of the volume",
        );
        l
    }

    /// See [`crate::Filesystem::placements`]: the FATs, the root directory, and
    /// where each file's and directory's clusters are.
    pub(crate) fn placements_of(&self) -> Vec<Placement> {
        let geo = self.geo;
        let mut out = Vec::new();
        let table = |name: String, start: u64, len: u64| Placement {
            class: "table",
            name,
            start,
            len,
        };
        if let Ok(bs) = BootSector::parse(self.image.as_slice()) {
            let first = u64::from(bs.reserved_sectors) * u64::from(bs.bytes_per_sector);
            for copy in 0..u64::from(bs.fat_count) {
                out.push(table(
                    format!("FAT {}", copy + 1),
                    first + copy * geo.fat_bytes,
                    geo.fat_bytes,
                ));
            }
        }
        if let Some((start, len)) = geo.root_region {
            out.push(table("root directory".into(), start, len));
        }
        out.push(table(
            "data area".into(),
            geo.data_offset,
            geo.volume_bytes.saturating_sub(geo.data_offset),
        ));
        let paths = self.paths();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            let dir = n.entry.meta.kind == EntryKind::Dir;
            let mut left = n.entry.meta.size;
            for (k, r) in n.runs.iter().enumerate() {
                let bytes = u64::from(r.count) * geo.cluster_bytes;
                let len = if dir { bytes } else { bytes.min(left) };
                left -= len.min(left);
                let path = String::from_utf8_lossy(&paths[i]);
                out.push(Placement {
                    class: if dir {
                        "directory extent"
                    } else {
                        "file extent"
                    },
                    name: if k == 0 {
                        path.into_owned()
                    } else {
                        format!("{path} (run {})", k + 1)
                    },
                    start: geo.cluster_offset(r.first),
                    len,
                });
            }
        }
        out
    }

    /// The path of every node, as the diff names entries.
    fn paths(&self) -> Vec<EntryPath> {
        crate::formats::tree::entry_paths(&self.tree.nodes)
    }

    /// Every FAT copy: reserved entries, chains, free entries, the tail.
    fn fat_spans(&self, bs: &BootSector, paths: &[EntryPath], l: &mut Layout) {
        let geo = self.geo;
        let first = u64::from(bs.reserved_sectors) * u64::from(bs.bytes_per_sector);
        let last_entry = u64::from(geo.clusters) + 2;
        let mut owned = Bits::new(last_entry);
        // The chains the walk followed, the FAT32 root's included.
        for r in self.tree.nodes.iter().flat_map(|n| &n.runs) {
            for c in u64::from(r.first)..u64::from(r.first) + u64::from(r.count) {
                owned.set(c);
            }
        }
        for copy in 0..u64::from(bs.fat_count) {
            let start = first + copy * geo.fat_bytes;
            let Ok(table) = self.image.get(start, geo.fat_bytes, "FAT") else {
                break;
            };
            let label = format!("FAT {}", copy + 1);
            l.region(start, geo.fat_bytes, label.clone());
            let push = |l: &mut Layout, from: u64, count: u64, owner: Owner| {
                let (s, e) = entry_bytes(geo.fat_type, from, count);
                let e = e.min(geo.fat_bytes);
                if s < e {
                    l.push(Span {
                        start: start + s,
                        len: e - s,
                        owner,
                    });
                }
            };
            push(
                l,
                0,
                2,
                Owner::new(
                    "FAT entries",
                    format!("{label}: entries 0 and 1"),
                    Explain::Nothing,
                )
                .with_fields(vec![f(0, 1, "media byte", fact("bpb.media"))]),
            );
            for (i, n) in self.tree.nodes.iter().enumerate() {
                let shown = String::from_utf8_lossy(&paths[i]);
                for (k, r) in n.runs.iter().enumerate() {
                    let name = if k == 0 {
                        format!("{label}: chain of {shown}")
                    } else {
                        format!("{label}: chain of {shown} (run {})", k + 1)
                    };
                    let owner = Owner::new("FAT entries", name, Explain::EntryOrPlacement(CHAIN))
                        .of(&paths[i]);
                    push(l, u64::from(r.first), u64::from(r.count), owner);
                }
            }
            // Entries no chain owns: free ones (what is free follows from
            // what is used: placement), and used ones no entry reaches (lost
            // clusters, bad ones, or a copy that disagrees: a finding).
            let state = |c: u64| {
                if owned.get(c) {
                    None
                } else {
                    Some(geo.entry(table, c as u32) == Some(0))
                }
            };
            let mut spans = 0;
            let mut c = 2u64;
            while c < last_entry && spans < MAX_FREE_SPANS {
                let Some(free) = state(c) else {
                    c += 1;
                    continue;
                };
                let from = c;
                while c < last_entry && state(c) == Some(free) {
                    c += 1;
                }
                let owner = if free {
                    let name = format!("{label}: entries of free clusters {from}-{}", c - 1);
                    Owner::new("FAT entries", name, Explain::Placement)
                } else {
                    let name = format!(
                        "{label}: entries of clusters {from}-{} that no entry uses",
                        c - 1
                    );
                    Owner::new("FAT entries", name, Explain::Nothing)
                };
                push(l, from, c - from, owner);
                if copy == 0 && free {
                    l.region(
                        geo.cluster_offset(from as u32),
                        (c - from) * geo.cluster_bytes,
                        "free clusters",
                    );
                }
                spans += 1;
            }
            let (_, tail) = entry_bytes(geo.fat_type, 0, last_entry);
            if tail < geo.fat_bytes {
                l.push(Span {
                    start: start + tail,
                    len: geo.fat_bytes - tail,
                    owner: Owner::new(
                        "FAT entries",
                        format!("{label}: entries past the last cluster"),
                        Explain::Nothing,
                    ),
                });
            }
        }
    }

    /// Every file's clusters, owned by it; the slack after its end is a field.
    fn cluster_spans(&self, paths: &[EntryPath], l: &mut Layout) {
        let cb = self.geo.cluster_bytes;
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::File {
                continue;
            }
            let shown = String::from_utf8_lossy(&paths[i]);
            let mut left = n.entry.meta.size;
            for (k, r) in n.runs.iter().enumerate() {
                let len = u64::from(r.count) * cb;
                let content = len.min(left);
                left -= content;
                let name = if k == 0 {
                    format!("clusters of {shown}")
                } else {
                    format!("clusters of {shown} (run {})", k + 1)
                };
                let mut owner = Owner::new(
                    "clusters",
                    name,
                    Explain::Entry(&[Key::Content, Key::SIZE, Key::Nested]),
                )
                .of(&paths[i]);
                if content < len {
                    owner.fields.push(f(
                        content,
                        len - content,
                        "slack after the end of the file",
                        entry(&[Key::SIZE]),
                    ));
                }
                l.push_coarse(Span {
                    start: self.geo.cluster_offset(r.first),
                    len,
                    owner,
                });
            }
        }
    }

    /// Every directory's 32-byte entries, named from what the walk recorded
    /// in each slot as it read it.
    fn directory_spans(&self, paths: &[EntryPath], l: &mut Layout) {
        let geo = self.geo;
        let fat32 = geo.fat_type == FatType::Fat32;
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::Dir {
                continue;
            }
            let dir = &paths[i];
            let shown = String::from_utf8_lossy(dir);
            let mut pieces: Vec<(u64, u64)> = Vec::new();
            match geo.root_region {
                Some((start, len)) if i == 0 => {
                    l.region(start, len, "the root directory");
                    pieces.push((start, len));
                }
                _ => {
                    for r in &n.runs {
                        let (start, len) = (
                            geo.cluster_offset(r.first),
                            u64::from(r.count) * geo.cluster_bytes,
                        );
                        l.region(start, len, format!("directory clusters of {shown}"));
                        pieces.push((start, len));
                    }
                }
            }
            let mut d = DirWalk {
                dir,
                shown: &shown,
                fat32,
                paths,
                long_names: 0,
                ended: false,
                run: None,
                run_parts: 0,
                l: &mut *l,
            };
            let mut read = n.slots.iter().peekable();
            let mut slot = 0u64;
            for (start, len) in pieces {
                for k in 0..len / DIR_ENTRY_SIZE {
                    let at = start + k * DIR_ENTRY_SIZE;
                    if at + DIR_ENTRY_SIZE > self.image.len() {
                        break;
                    }
                    let found = read.next_if(|(o, _)| *o == at).map(|&(_, s)| s);
                    d.slot(at, slot, found);
                    slot += 1;
                }
            }
            d.flush_run();
        }
    }
}

/// The spans of one directory's slots.
struct DirWalk<'x> {
    dir: &'x EntryPath,
    shown: &'x str,
    fat32: bool,
    paths: &'x [EntryPath],
    /// Long-name entries of the current run so far.
    long_names: usize,
    /// The end mark was met: every slot from it on is free.
    ended: bool,
    /// Free slots (after the end mark) or unread ones (after the walk
    /// stopped at a limit) not yet pushed: start and end.
    run: Option<(u64, u64)>,
    run_parts: u32,
    l: &'x mut Layout,
}

impl DirWalk<'_> {
    fn push(&mut self, start: u64, owner: Owner) {
        self.l.push(Span {
            start,
            len: DIR_ENTRY_SIZE,
            owner,
        });
    }

    /// The slot at `at`, the `slot`th of the directory, and what the walk
    /// found there (none when it did not read it).
    fn slot(&mut self, at: u64, slot: u64, found: Option<Slot>) {
        if found == Some(Slot::End) {
            self.ended = true;
        }
        let Some(found) = found.filter(|_| !self.ended) else {
            self.extend_run(at);
            return;
        };
        let shown = self.shown;
        if !matches!(found, Slot::LongName(Some(_))) {
            self.long_names = 0;
        }
        let owner = match found {
            Slot::End => return,
            Slot::Deleted => Owner::new(
                "directory entry",
                format!("deleted entry in slot {slot} of {shown}"),
                entry(&[Key::Children]),
            )
            .of(self.dir),
            Slot::LongName(Some(node)) => {
                self.long_names += 1;
                let path = self.node_path(node);
                Owner::new(
                    "long-name entry",
                    format!(
                        "long-name entry {} of {}",
                        self.long_names,
                        String::from_utf8_lossy(path)
                    ),
                    Explain::Nothing,
                )
                .of(path)
                .with_fields(long_name_fields())
            }
            Slot::LongName(None) => Owner::new(
                "long-name entry",
                format!("orphaned long-name entry in slot {slot} of {shown}"),
                Explain::Nothing,
            )
            .of(self.dir)
            .with_fields(long_name_fields()),
            Slot::Label => Owner::new("directory entry", "volume label entry", Explain::Nothing)
                .with_fields(fields_at(LabelEntry::FIELDS, 0)),
            Slot::StrayLabel => self.unknown(slot),
            // `.` and `..` are stamped with the directory's own times.
            Slot::Dot | Slot::DotDot => {
                let dot = if found == Slot::Dot { "." } else { ".." };
                Owner::new(
                    "directory entry",
                    format!("{dot} entry of {shown}"),
                    Explain::Nothing,
                )
                .of(self.dir)
                .with_fields(entry_fields(self.fat32))
            }
            Slot::Entry(node) => {
                let path = self.node_path(node);
                Owner::new(
                    "directory entry",
                    format!("directory entry of {}", String::from_utf8_lossy(path)),
                    Explain::Nothing,
                )
                .of(path)
                .with_fields(entry_fields(self.fat32))
            }
            Slot::Skipped => self.unknown(slot).with_fields(entry_fields(self.fat32)),
        };
        self.push(at, owner);
    }

    /// The path of node `node`; the directory's own when the record names
    /// no node the tree holds.
    fn node_path(&self, node: u32) -> &EntryPath {
        self.paths.get(node as usize).unwrap_or(self.dir)
    }

    /// An entry the tree does not hold (skipped for damage).
    fn unknown(&self, slot: u64) -> Owner {
        Owner::new(
            "directory entry",
            format!("directory entry in slot {slot} of {}", self.shown),
            Explain::Nothing,
        )
    }

    fn extend_run(&mut self, at: u64) {
        match self.run {
            Some((start, end)) if end == at => self.run = Some((start, end + DIR_ENTRY_SIZE)),
            _ => {
                self.flush_run();
                self.run = Some((at, at + DIR_ENTRY_SIZE));
            }
        }
    }

    /// Free slots after the end mark change with the entries; slots the walk
    /// did not read (it stopped at a limit) are named as such.
    fn flush_run(&mut self) {
        if let Some((start, end)) = self.run.take() {
            self.run_parts += 1;
            let what = if self.ended { "free" } else { "unread" };
            let name = if self.run_parts == 1 {
                format!("{what} slots of {}", self.shown)
            } else {
                format!("{what} slots of {} (part {})", self.shown, self.run_parts)
            };
            let owner = if self.ended {
                Owner::new("free directory slots", name, entry(&[Key::Children]))
            } else {
                Owner::new("unread directory slots", name, Explain::Nothing)
            };
            self.l.push(Span {
                start,
                len: end - start,
                owner: owner.of(self.dir),
            });
        }
    }
}

/// The fields of an 8.3 directory entry.
fn entry_fields(fat32: bool) -> Vec<Field> {
    let mut v = fields_at(DirEntry::FIELDS, 0);
    if !fat32 {
        // FAT12/16 keep no cluster bits in the high half: a change there is a
        // finding of its own.
        for field in &mut v {
            if field.name == "first cluster (high half)" {
                field.explain = Explain::Nothing;
            }
        }
    }
    v
}

/// The fields of a VFAT long-name entry.
fn long_name_fields() -> Vec<Field> {
    fields_at(LongNameEntry::FIELDS, 0)
}

/// A set of cluster numbers.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: u64) -> Bits {
        Bits(vec![0; usize::try_from(n.div_ceil(64)).unwrap_or(0)])
    }
    fn set(&mut self, c: u64) {
        if let Some(w) = self.0.get_mut((c / 64) as usize) {
            *w |= 1 << (c % 64);
        }
    }
    fn get(&self, c: u64) -> bool {
        self.0
            .get((c / 64) as usize)
            .is_some_and(|w| w & 1 << (c % 64) != 0)
    }
}

/// Where the entries `first .. first + count` are in a FAT, as a byte range
/// from its start (FAT12 entries share bytes: the range covers both ends).
fn entry_bytes(t: FatType, first: u64, count: u64) -> (u64, u64) {
    match t {
        FatType::Fat12 => (first * 3 / 2, ((first + count) * 3).div_ceil(2)),
        FatType::Fat16 => (first * 2, (first + count) * 2),
        FatType::Fat32 => (first * 4, (first + count) * 4),
    }
}

/// The boot sector, and on FAT32 the FSInfo sector and the backup copies of
/// both.
fn boot_sectors(image: Bytes<'_>, bs: &BootSector, l: &mut Layout) {
    let sector = u64::from(bs.bytes_per_sector);
    l.region(
        0,
        u64::from(bs.reserved_sectors) * sector,
        "the reserved sectors",
    );
    let fields = boot_fields(bs, sector);
    l.push(Span {
        start: 0,
        len: sector,
        owner: Owner::new("boot sector", "boot sector", Explain::Nothing)
            .with_fields(fields.clone()),
    });
    let Some(x) = &bs.fat32 else {
        return;
    };
    let usable = |s: u16| s != 0 && s != 0xffff && s < bs.reserved_sectors;
    let fsinfo = |at: u64, name: &'static str, l: &mut Layout| {
        let valid = image
            .array(at, "FAT32 FSInfo sector")
            .is_ok_and(|s| FsInfo::from_array(s).lead() == FsInfo::LEAD);
        if valid {
            l.push(Span {
                start: at,
                len: FsInfo::LEN as u64,
                owner: Owner::new("FSInfo sector", name, Explain::Nothing)
                    .with_fields(fields_at(FsInfo::FIELDS, 0)),
            });
        }
    };
    if usable(x.fsinfo_sector) {
        fsinfo(u64::from(x.fsinfo_sector) * sector, "FSInfo sector", l);
    }
    if usable(x.backup_boot_sector) {
        let at = u64::from(x.backup_boot_sector) * sector;
        if image.get(at, sector, "backup boot sector").is_ok() {
            // The copy has the same fields; a change in it alone also changes
            // the fact `backup_boot_sector_matches`, but its fields say more.
            l.push(Span {
                start: at,
                len: sector,
                owner: Owner::new("boot sector", "backup boot sector", Explain::Nothing)
                    .with_fields(fields),
            });
        }
        // mkfs.fat writes the FSInfo copy in the sector after the boot copy.
        if usable(x.backup_boot_sector.saturating_add(1)) {
            fsinfo(at + sector, "backup FSInfo sector", l);
        }
    }
}

/// The fields of a boot sector: the tables of its parts, the boot code
/// between them and the signature.
fn boot_fields(bs: &BootSector, sector: u64) -> Vec<Field> {
    let mut v = fields_at(CommonBpb::FIELDS, 0);
    if bs.fat32.is_some() {
        v.extend(fields_at(Fat32BpbRaw::FIELDS, CommonBpb::LEN as u64));
    }
    let ext = extended_at(bs.fat32.is_some()) as u64;
    let code = match &bs.extended {
        Some(x) => {
            let len = if x.signature == 0x29 {
                ExtendedRaw::LEN as u64
            } else {
                SHORT_EXTENDED_LEN
            };
            v.extend(
                fields_at(ExtendedRaw::FIELDS, ext)
                    .into_iter()
                    .filter(|field| field.at < ext + len),
            );
            ext + len
        }
        None => ext,
    };
    let sig = BOOT_SIGNATURE_AT as u64;
    v.push(f(code, sig - code, "boot code", Explain::Nothing));
    v.extend(fields_at(BootSignature::FIELDS, sig));
    let end = BOOT_SECTOR_LEN as u64;
    if sector > end {
        v.push(f(end, sector - end, "rest of the sector", Explain::Nothing));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::tests::image;
    use super::*;
    use crate::limits::Limits;
    use crate::model::Filesystem;

    #[test]
    fn every_structure_of_a_small_image_has_its_owner() {
        let img = image();
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        let mut l = fs.byte_layout().unwrap();
        l.finish();
        let owner = |at: u64| {
            let i = l.at(at).ok()?;
            Some(l.finished_spans()[i].owner.name.clone())
        };
        assert_eq!(owner(40).as_deref(), Some("boot sector"));
        // FAT12 entry of cluster 2 starts at byte 3 of the first FAT.
        assert_eq!(
            owner(512 + 3).as_deref(),
            Some("FAT 1: chain of /Long File Name.txt")
        );
        assert_eq!(
            owner(1024 + 3).as_deref(),
            Some("FAT 2: chain of /Long File Name.txt")
        );
        assert_eq!(owner(1536).as_deref(), Some("volume label entry"));
        assert_eq!(
            owner(1536 + 32).as_deref(),
            Some("long-name entry 1 of /Long File Name.txt")
        );
        assert_eq!(
            owner(1536 + 96).as_deref(),
            Some("directory entry of /Long File Name.txt")
        );
        assert_eq!(
            owner(1536 + 6 * 32).as_deref(),
            Some("deleted entry in slot 6 of /")
        );
        assert_eq!(owner(1536 + 7 * 32).as_deref(), Some("free slots of /"));
        let data = 1536 + 512;
        assert_eq!(
            owner(data + 100).as_deref(),
            Some("clusters of /Long File Name.txt")
        );
        // Cluster 5 holds the last 76 bytes of the file, then slack.
        let c5 = data + 3 * 512;
        assert_eq!(
            owner(c5 + 500).as_deref(),
            Some("clusters of /Long File Name.txt (run 2)")
        );
        let sub = data + 2 * 512;
        assert_eq!(owner(sub).as_deref(), Some(". entry of /SUB"));
        assert_eq!(
            owner(sub + 64).as_deref(),
            Some("directory entry of /SUB/readme.txt")
        );
        // The entry of /SUB/UP is refused by the walk (a loop): no path.
        assert_eq!(
            owner(sub + 96).as_deref(),
            Some("directory entry in slot 3 of /SUB")
        );
        // A free cluster is nobody's.
        let free = data + 20 * 512;
        assert!(owner(free).is_none());
        assert!(l
            .gap_name(free, l.at(free).unwrap_err())
            .contains("free clusters"));
        let placements = fs.placements();
        assert!(placements
            .iter()
            .any(|p| p.class == "file extent" && p.name == "/Long File Name.txt (run 2)"));
    }

    #[test]
    fn damaged_images_give_a_layout_without_panicking() {
        let img = image();
        for at in (0..img.len()).step_by(7) {
            for v in [0u8, 0x0f, 0xe5, 0xff] {
                let mut bad = img.clone();
                bad[at] = v;
                if let Ok(fs) = FatFs::open(&bad, &Limits::default()) {
                    let mut l = fs.byte_layout().unwrap();
                    l.finish();
                    let _ = fs.placements();
                }
            }
        }
    }
}
