//! The on-disk layout of FAT: the boot sector with its BIOS parameter block (BPB),
//! the geometry that follows from it, the 32-byte directory entry and the DOS date
//! and time fields. Everything is read at explicit offsets from byte slices, so a
//! short or damaged sector gives zeros or an error, never a panic.
//!
//! Offsets and field names follow Microsoft's "FAT: General Overview of On-Disk
//! Format" (the `BPB_*` / `BS_*` / `DIR_*` names), and the choices where real
//! readers disagree with it follow the Linux kernel's `fs/fat` and EDK2's FatPkg
//! (the UEFI firmware is what reads an EFI system partition image).

use crate::bytes::le32;
use crate::error::{Error, Result};

use super::walk::{ATTRIBUTES, CASE_FLAGS, CREATED, MODIFIED_RAW, SHORT_NAME};
use crate::model::key::Key;
use crate::model::span::Explain;
use crate::model::structure::{structure, Array, Le16, Le32, Raw, U8};
use crate::model::{Fact, Follows, Value};
use crate::time::{Civil, Precision, Timestamp};

/// Size of one directory entry.
pub(crate) const DIR_ENTRY_SIZE: u64 = 32;

/// The largest directory the FAT specification allows: 65,536 entries of 32 bytes.
pub(crate) const MAX_DIR_BYTES: u64 = 65_536 * DIR_ENTRY_SIZE;

/// Attribute bits of a directory entry (`DIR_Attr`).
pub(crate) mod attr {
    /// Read-only.
    pub const READ_ONLY: u8 = 0x01;
    /// Hidden.
    pub const HIDDEN: u8 = 0x02;
    /// System.
    pub const SYSTEM: u8 = 0x04;
    /// Volume label (in the root directory).
    pub const VOLUME_ID: u8 = 0x08;
    /// Directory.
    pub const DIRECTORY: u8 = 0x10;
    /// Archive (modified since the last backup).
    pub const ARCHIVE: u8 = 0x20;
    /// The combination that marks a VFAT long-name entry.
    pub const LONG_NAME: u8 = READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID;
    /// The bits that decide whether an entry is a long-name entry.
    pub const LONG_NAME_MASK: u8 = 0x3f;
}

/// Which width of FAT entries the volume uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FatType {
    Fat12,
    Fat16,
    Fat32,
}

impl FatType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FatType::Fat12 => "FAT12",
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        }
    }

    /// The smallest FAT entry value that marks the end of a chain.
    pub(crate) fn end_of_chain(self) -> u32 {
        match self {
            FatType::Fat12 => 0xff8,
            FatType::Fat16 => 0xfff8,
            FatType::Fat32 => 0x0fff_fff8,
        }
    }

    /// The FAT entry value that marks a bad cluster.
    pub(crate) fn bad(self) -> u32 {
        self.end_of_chain() - 1
    }
}

/// The FAT32 part of the BPB (bytes 36..90).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fat32Bpb {
    pub sectors_per_fat: u32,
    pub ext_flags: u16,
    pub version: u16,
    pub root_cluster: u32,
    pub fsinfo_sector: u16,
    pub backup_boot_sector: u16,
}

/// The extended boot record (`BS_DrvNum` .. `BS_FilSysType`), at byte 36 on
/// FAT12/16 and byte 64 on FAT32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extended {
    pub drive_number: u8,
    /// 0x29: volume id, label and type follow; 0x28: only the volume id.
    pub signature: u8,
    pub volume_id: u32,
    pub label: [u8; 11],
    pub fs_type: [u8; 8],
}

/// Where the extended boot record is: after the FAT32 part of the BPB, or
/// after the common part.
pub(crate) fn extended_at(fat32: bool) -> usize {
    if fat32 {
        CommonBpb::LEN + Fat32BpbRaw::LEN
    } else {
        CommonBpb::LEN
    }
}

/// The boot sector, decoded.
#[derive(Debug, Clone)]
pub(crate) struct BootSector {
    pub jump: [u8; 3],
    pub oem_name: [u8; 8],
    pub bytes_per_sector: u16,
    pub sectors_per_cluster: u8,
    pub reserved_sectors: u16,
    pub fat_count: u8,
    pub root_entries: u16,
    pub total_sectors_16: u16,
    pub media: u8,
    pub sectors_per_fat_16: u16,
    pub sectors_per_track: u16,
    pub heads: u16,
    pub hidden_sectors: u32,
    pub total_sectors_32: u32,
    /// Present when `BPB_FATSz16` is 0, which is how Linux and EDK2 recognize the
    /// FAT32 form of the BPB.
    pub fat32: Option<Fat32Bpb>,
    pub extended: Option<Extended>,
    /// The word at byte 510 (0xaa55 when present).
    pub signature: u16,
}

structure! {
    /// The jump, the OEM name and the BPB common to FAT12, FAT16 and FAT32
    /// (`BS_jmpBoot` .. `BPB_TotSec32`), facts named as
    /// [`BootSector::facts`] names them.
    pub(crate) struct CommonBpb[36] {
        jump: 0, 3, Array<3>, "jump", Explain::fact_named("boot.jump");
        oem_name: 3, 8, Array<8>, "OEM name", Explain::fact_named("boot.oem_name");
        bytes_per_sector: 11, 2, Le16, "bytes per sector", Explain::fact_named("bpb.bytes_per_sector");
        sectors_per_cluster: 13, 1, U8, "sectors per cluster", Explain::fact_named("bpb.sectors_per_cluster");
        reserved_sectors: 14, 2, Le16, "reserved sectors", Explain::fact_named("bpb.reserved_sectors");
        fat_count: 16, 1, U8, "FAT count", Explain::fact_named("bpb.fat_count");
        root_entries: 17, 2, Le16, "root entries", Explain::fact_named("bpb.root_entries");
        total_sectors_16: 19, 2, Le16, "total sectors (16-bit)", Explain::fact_named("bpb.total_sectors_16");
        media: 21, 1, U8, "media", Explain::fact_named("bpb.media");
        sectors_per_fat_16: 22, 2, Le16, "sectors per FAT (16-bit)", Explain::fact_named("bpb.sectors_per_fat_16");
        sectors_per_track: 24, 2, Le16, "sectors per track", Explain::fact_named("bpb.sectors_per_track");
        heads: 26, 2, Le16, "heads", Explain::fact_named("bpb.heads");
        hidden_sectors: 28, 4, Le32, "hidden sectors", Explain::fact_named("bpb.hidden_sectors");
        total_sectors_32: 32, 4, Le32, "total sectors (32-bit)", Explain::fact_named("bpb.total_sectors_32");
    }
}

structure! {
    /// The FAT32 part of the BPB, at byte 36.
    pub(crate) struct Fat32BpbRaw[28] {
        sectors_per_fat: 0, 4, Le32, "sectors per FAT", Explain::fact_named("bpb.fat32.sectors_per_fat");
        ext_flags: 4, 2, Le16, "ext flags", Explain::fact_named("bpb.fat32.ext_flags");
        version: 6, 2, Le16, "FAT32 version", Explain::fact_named("bpb.fat32.version");
        root_cluster: 8, 4, Le32, "root cluster", Explain::fact_named("bpb.fat32.root_cluster");
        fsinfo_sector: 12, 2, Le16, "FSInfo sector", Explain::fact_named("bpb.fat32.fsinfo_sector");
        backup_boot_sector: 14, 2, Le16, "backup boot sector", Explain::fact_named("bpb.fat32.backup_boot_sector");
        reserved: 16, 12, Raw, "reserved", Explain::Nothing;
    }
}

structure! {
    /// The extended boot record, at byte 36 on FAT12/16 and 64 on FAT32.
    /// With signature 0x28 only its first seven bytes are (the volume id
    /// ends it); with 0x29 the label and the type follow.
    pub(crate) struct ExtendedRaw[26] {
        drive_number: 0, 1, U8, "drive number", Explain::fact_named("ebr.drive_number");
        reserved: 1, 1, U8, "reserved", Explain::Nothing;
        signature: 2, 1, U8, "extended boot signature", Explain::fact_named("ebr.signature");
        volume_id: 3, 4, Le32, "volume id", Explain::fact_named("volume_id");
        label: 7, 11, Array<11>, "volume label", Explain::fact_named("volume_label");
        fs_type: 18, 8, Array<8>, "file system type", Explain::fact_named("fs_type");
    }
}

/// Where the extended boot record stops with signature 0x28.
pub(crate) const SHORT_EXTENDED_LEN: u64 = 7;

structure! {
    /// The last two bytes of a boot sector, 0x55 0xaa.
    pub(crate) struct BootSignature[2] {
        signature: 0, 2, Le16, "signature", Explain::fact_named("boot.signature");
    }
}

/// Where [`BootSignature`] is in the sector.
pub(crate) const BOOT_SIGNATURE_AT: usize = 510;
/// The boot sector's bytes: up to its signature's end (a sector may be
/// longer).
pub(crate) const BOOT_SECTOR_LEN: usize = BOOT_SIGNATURE_AT + BootSignature::LEN;

structure! {
    /// The FAT32 FSInfo sector.
    pub(crate) struct FsInfo[512] {
        /// "RRaA".
        lead: 0, 4, Le32, "lead signature", Explain::fact_named("fsinfo.valid");
        reserved_1: 4, 480, Raw, "reserved", Explain::Nothing;
        /// "rrAa".
        structure: 484, 4, Le32, "structure signature", Explain::fact_named("fsinfo.valid");
        free_clusters: 488, 4, Le32, "free clusters", Explain::fact_named("fsinfo.free_clusters");
        /// Where to look for a free cluster next: a hint that moves.
        next_free: 492, 4, Le32, "next free cluster", Explain::Placement;
        reserved_2: 496, 12, Raw, "reserved", Explain::Nothing;
        trail: 508, 4, Le32, "trail signature", Explain::Nothing;
    }
}

impl FsInfo<'_> {
    /// The lead signature "RRaA".
    pub(crate) const LEAD: u32 = 0x4161_5252;
    /// The structure signature "rrAa".
    pub(crate) const STRUCTURE: u32 = 0x6141_7272;

    /// Whether both signatures are there.
    pub(crate) fn valid(&self) -> bool {
        self.lead() == Self::LEAD && self.structure() == Self::STRUCTURE
    }
}

impl BootSector {
    /// Decodes the first 512 bytes of `data`.
    pub(crate) fn parse(data: &[u8]) -> Result<BootSector> {
        let (Some(b), Some(common)) = (data.get(..BOOT_SECTOR_LEN), CommonBpb::new(data)) else {
            return Err(Error::OutOfBounds {
                structure: "FAT boot sector",
                offset: 0,
                end: BOOT_SECTOR_LEN as u64,
                len: data.len() as u64,
            });
        };
        let sectors_per_fat_16 = common.sectors_per_fat_16();
        let fat32 = b
            .get(CommonBpb::LEN..)
            .and_then(Fat32BpbRaw::new)
            .filter(|_| sectors_per_fat_16 == 0)
            .map(|x| Fat32Bpb {
                sectors_per_fat: x.sectors_per_fat(),
                ext_flags: x.ext_flags(),
                version: x.version(),
                root_cluster: x.root_cluster(),
                fsinfo_sector: x.fsinfo_sector(),
                backup_boot_sector: x.backup_boot_sector(),
            });
        let ext_at = extended_at(fat32.is_some());
        let extended = b
            .get(ext_at..)
            .and_then(ExtendedRaw::new)
            .filter(|x| matches!(x.signature(), 0x28 | 0x29))
            .map(|x| Extended {
                drive_number: x.drive_number(),
                signature: x.signature(),
                volume_id: x.volume_id(),
                label: x.label(),
                fs_type: x.fs_type(),
            });
        let signature = b
            .get(BOOT_SIGNATURE_AT..)
            .and_then(BootSignature::new)
            .map_or(0, |s| s.signature());
        Ok(BootSector {
            jump: common.jump(),
            oem_name: common.oem_name(),
            bytes_per_sector: common.bytes_per_sector(),
            sectors_per_cluster: common.sectors_per_cluster(),
            reserved_sectors: common.reserved_sectors(),
            fat_count: common.fat_count(),
            root_entries: common.root_entries(),
            total_sectors_16: common.total_sectors_16(),
            media: common.media(),
            sectors_per_fat_16,
            sectors_per_track: common.sectors_per_track(),
            heads: common.heads(),
            hidden_sectors: common.hidden_sectors(),
            total_sectors_32: common.total_sectors_32(),
            fat32,
            extended,
            signature,
        })
    }

    /// Sectors in one FAT.
    pub(crate) fn sectors_per_fat(&self) -> u32 {
        match &self.fat32 {
            Some(f) => f.sectors_per_fat,
            None => u32::from(self.sectors_per_fat_16),
        }
    }

    /// Sectors in the volume.
    pub(crate) fn total_sectors(&self) -> u32 {
        if self.total_sectors_16 != 0 {
            u32::from(self.total_sectors_16)
        } else {
            self.total_sectors_32
        }
    }

    /// Whether the BPB is one a FAT driver would mount: the checks the Linux
    /// kernel makes in `fat_read_bpb` (sector size, cluster size, reserved
    /// sectors, FAT count, media byte, FAT size) plus the 0x55aa signature, which
    /// every formatter writes and which keeps random data from sniffing as FAT.
    pub(crate) fn plausible(&self) -> bool {
        matches!(self.bytes_per_sector, 512 | 1024 | 2048 | 4096)
            && self.sectors_per_cluster.is_power_of_two()
            && self.reserved_sectors >= 1
            && self.fat_count >= 1
            && (self.media == 0xf0 || self.media >= 0xf8)
            && self.sectors_per_fat() != 0
            && self.total_sectors() != 0
            && (self.fat32.is_some() || self.root_entries != 0)
            && self.signature == 0xaa55
    }

    /// The boot sector's fields as image facts.
    pub(crate) fn facts(&self) -> Vec<Fact> {
        let int = |v: u64| Value::Int(v);
        let mut f = vec![
            Fact::new("boot.jump", Value::Bytes(self.jump.to_vec())),
            Fact::new("boot.oem_name", text(&self.oem_name)),
            Fact::new("bpb.bytes_per_sector", int(self.bytes_per_sector.into())),
            Fact::new(
                "bpb.sectors_per_cluster",
                int(self.sectors_per_cluster.into()),
            ),
            Fact::new("bpb.reserved_sectors", int(self.reserved_sectors.into())),
            Fact::new("bpb.fat_count", int(self.fat_count.into())),
            Fact::new("bpb.root_entries", int(self.root_entries.into())),
            // The volume's size, and how many sectors each FAT takes for it.
            Fact::packing("bpb.total_sectors_16", int(self.total_sectors_16.into()))
                .follows(Follows::ImageSize),
            Fact::new("bpb.media", int(self.media.into())),
            Fact::packing(
                "bpb.sectors_per_fat_16",
                int(self.sectors_per_fat_16.into()),
            ),
            Fact::new("bpb.sectors_per_track", int(self.sectors_per_track.into())),
            Fact::new("bpb.heads", int(self.heads.into())),
            Fact::new("bpb.hidden_sectors", int(self.hidden_sectors.into())),
            Fact::packing("bpb.total_sectors_32", int(self.total_sectors_32.into()))
                .follows(Follows::ImageSize),
            Fact::new("boot.signature", int(self.signature.into())),
        ];
        if let Some(x) = &self.fat32 {
            f.extend([
                Fact::packing("bpb.fat32.sectors_per_fat", int(x.sectors_per_fat.into())),
                Fact::new("bpb.fat32.ext_flags", int(x.ext_flags.into())),
                Fact::new("bpb.fat32.version", int(x.version.into())),
                Fact::new("bpb.fat32.root_cluster", int(x.root_cluster.into())),
                Fact::new("bpb.fat32.fsinfo_sector", int(x.fsinfo_sector.into())),
                Fact::new(
                    "bpb.fat32.backup_boot_sector",
                    int(x.backup_boot_sector.into()),
                ),
            ]);
        }
        if let Some(x) = &self.extended {
            f.push(Fact::new("ebr.drive_number", int(x.drive_number.into())));
            f.push(Fact::new("ebr.signature", int(x.signature.into())));
            // The volume serial: random unless the producer was told one.
            f.push(Fact::identifier(
                "volume_id",
                Value::Text(volume_id_text(x.volume_id)),
            ));
            // With signature 0x28 only the volume id is defined; what follows is
            // boot code, not a label.
            if x.signature == 0x29 {
                f.push(Fact::new("volume_label", text(&x.label)));
                f.push(Fact::new("fs_type", text(&x.fs_type)));
            }
        }
        f
    }
}

/// A volume id the way blkid, grub's `search --fs-uuid` and UEFI show it:
/// `ABCD-1234`, the high 16 bits first.
pub(crate) fn volume_id_text(id: u32) -> String {
    format!("{:04X}-{:04X}", id >> 16, id & 0xffff)
}

/// Bytes as text when they are printable ASCII (padding kept: it is part of what
/// differs), else as bytes.
pub(crate) fn text(b: &[u8]) -> Value {
    if b.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        Value::Text(String::from_utf8_lossy(b).into_owned())
    } else {
        Value::Bytes(b.to_vec())
    }
}

/// Where the regions of the volume are, as byte offsets from its start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub fat_type: FatType,
    /// Bytes per cluster.
    pub cluster_bytes: u64,
    /// Where the FAT that is read starts, and the size of one FAT.
    pub fat_offset: u64,
    pub fat_bytes: u64,
    /// The fixed root directory of FAT12/16 (offset, length); `None` on FAT32.
    pub root_region: Option<(u64, u64)>,
    /// The first cluster of the FAT32 root directory.
    pub root_cluster: u32,
    /// Where cluster 2 starts.
    pub data_offset: u64,
    /// Data clusters: valid cluster numbers are `2 ..= clusters + 1`.
    pub clusters: u32,
    /// Bytes the BPB says the volume has.
    pub volume_bytes: u64,
}

impl Geometry {
    /// Works out the regions, checking that the BPB is self-consistent.
    pub(crate) fn new(bs: &BootSector) -> Result<Geometry> {
        let bad = |reason: String| Error::malformed("FAT boot sector (BPB)", 0, reason);
        if !matches!(bs.bytes_per_sector, 512 | 1024 | 2048 | 4096) {
            return Err(bad(format!(
                "{} bytes per sector (must be 512, 1024, 2048 or 4096)",
                bs.bytes_per_sector
            )));
        }
        if !bs.sectors_per_cluster.is_power_of_two() {
            return Err(bad(format!(
                "{} sectors per cluster (must be a power of two)",
                bs.sectors_per_cluster
            )));
        }
        if bs.fat_count == 0 || bs.reserved_sectors == 0 || bs.sectors_per_fat() == 0 {
            return Err(bad(format!(
                "{} FATs of {} sectors after {} reserved sectors: no FAT to read",
                bs.fat_count,
                bs.sectors_per_fat(),
                bs.reserved_sectors
            )));
        }
        let sector = u64::from(bs.bytes_per_sector);
        let cluster_bytes = sector * u64::from(bs.sectors_per_cluster);
        let fat_bytes = u64::from(bs.sectors_per_fat()) * sector;
        // FAT32 may mirror the FATs (the default) or name one active FAT in the
        // low bits of ext_flags when bit 7 is set.
        let active = match &bs.fat32 {
            Some(x) if x.ext_flags & 0x80 != 0 => u64::from(x.ext_flags & 0x0f),
            _ => 0,
        };
        if active >= u64::from(bs.fat_count) {
            return Err(bad(format!(
                "ext_flags name FAT {active} active but there are only {}",
                bs.fat_count
            )));
        }
        let reserved = u64::from(bs.reserved_sectors) * sector;
        let fat_offset = reserved + active * fat_bytes;
        let fats_end = reserved + u64::from(bs.fat_count) * fat_bytes;
        let root_bytes = u64::from(bs.root_entries) * DIR_ENTRY_SIZE;
        let root_region = match bs.fat32 {
            Some(_) => None,
            None => Some((fats_end, root_bytes)),
        };
        // The root region takes whole sectors.
        let data_offset = fats_end + root_bytes.div_ceil(sector) * sector;
        let volume_bytes = u64::from(bs.total_sectors()) * sector;
        if volume_bytes < data_offset {
            return Err(bad(format!(
                "the volume has {volume_bytes} bytes but its data area would start at byte {data_offset}"
            )));
        }
        let counted = (volume_bytes - data_offset) / cluster_bytes;
        // The cluster count decides FAT12 against FAT16, as the specification, Linux
        // and EDK2 agree; the FAT32 form of the BPB decides FAT32.
        let fat_type = match (&bs.fat32, counted) {
            (Some(_), _) => FatType::Fat32,
            (None, n) if n < 4085 => FatType::Fat12,
            (None, _) => FatType::Fat16,
        };
        // A FAT too small for the cluster count leaves the clusters past its end
        // unusable; Linux clamps the count the same way.
        let fat_entries = match fat_type {
            FatType::Fat12 => fat_bytes * 2 / 3,
            FatType::Fat16 => fat_bytes / 2,
            FatType::Fat32 => fat_bytes / 4,
        };
        let max_clusters = match fat_type {
            FatType::Fat12 => 0xff4,
            FatType::Fat16 => 0xfff4,
            FatType::Fat32 => 0x0fff_fff5,
        };
        let clusters = counted.min(fat_entries.saturating_sub(2)).min(max_clusters) as u32;
        let root_cluster = bs.fat32.map_or(0, |x| x.root_cluster);
        if fat_type == FatType::Fat32
            && !(2..=u64::from(clusters) + 1).contains(&root_cluster.into())
        {
            return Err(bad(format!(
                "the root directory starts at cluster {root_cluster}, outside clusters 2..={}",
                u64::from(clusters) + 1
            )));
        }
        Ok(Geometry {
            fat_type,
            cluster_bytes,
            fat_offset,
            fat_bytes,
            root_region,
            root_cluster,
            data_offset,
            clusters,
            volume_bytes,
        })
    }

    /// Byte offset of cluster `c` (which must be a valid data cluster).
    pub(crate) fn cluster_offset(&self, c: u32) -> u64 {
        self.data_offset + u64::from(c.saturating_sub(2)) * self.cluster_bytes
    }

    /// True for a cluster number that names a data cluster.
    pub(crate) fn is_data_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) <= u64::from(self.clusters) + 1
    }

    /// Where the entry of cluster `c` sits in a FAT starting at `fat_offset`.
    pub(crate) fn entry_offset(&self, c: u32) -> u64 {
        let c = u64::from(c);
        self.fat_offset
            + match self.fat_type {
                FatType::Fat12 => c + c / 2,
                FatType::Fat16 => c * 2,
                FatType::Fat32 => c * 4,
            }
    }

    /// The FAT entry of cluster `c` in `fat` (the bytes of one FAT); `None` when
    /// the FAT is too short to hold it.
    pub(crate) fn entry(&self, fat: &[u8], c: u32) -> Option<u32> {
        let at = usize::try_from(self.entry_offset(c) - self.fat_offset).ok()?;
        match self.fat_type {
            FatType::Fat12 => {
                let w = u16::from_le_bytes([*fat.get(at)?, *fat.get(at + 1)?]);
                Some(u32::from(if c & 1 == 1 { w >> 4 } else { w & 0x0fff }))
            }
            FatType::Fat16 => Some(u32::from(u16::from_le_bytes([
                *fat.get(at)?,
                *fat.get(at + 1)?,
            ]))),
            // The top four bits of a FAT32 entry are reserved.
            FatType::Fat32 => fat.get(at..at + 4).map(|s| le32(s, 0) & 0x0fff_ffff),
        }
    }
}

/// What explains the fields of an 8.3 entry holding its creation time.
const CREATION: Explain = Explain::Entry(&[Key::Attribute(CREATED)]);
/// What explains the fields of an 8.3 entry holding its modification time.
const MODIFICATION: Explain = Explain::Entry(&[Key::MTIME, Key::Attribute(MODIFIED_RAW)]);

structure! {
    /// An 8.3 name: base and extension, each space padded.
    pub(crate) struct ShortName[11] {
        base: 0, 8, Array<8>, "base name", Explain::Entry(&[Key::Attribute(SHORT_NAME)]);
        extension: 8, 3, Array<3>, "extension", Explain::Entry(&[Key::Attribute(SHORT_NAME)]);
    }
}

structure! {
    /// One 32-byte 8.3 directory entry (`DIR_*`), borrowed from the image; the
    /// explanations are those of a file's or directory's own entry.
    pub(crate) struct DirEntry[32] {
        /// `DIR_Name`: the 8.3 name, space padded.
        short_name: 0, 11, Array<11>, "short name", Explain::Entry(&[Key::Attribute(SHORT_NAME)]);
        attributes: 11, 1, U8, "attributes", Explain::Entry(&[Key::Attribute(ATTRIBUTES), Key::TYPE]);
        /// `DIR_NTRes`: bit 3 lower-case base name, bit 4 lower-case extension
        /// (the Windows NT convention Linux and mtools follow).
        case_flags: 12, 1, U8, "case flags", Explain::Entry(&[Key::Attribute(CASE_FLAGS)]);
        created_tenths: 13, 1, U8, "creation time (10 ms units)", CREATION;
        created_time: 14, 2, Le16, "creation time", CREATION;
        created_date: 16, 2, Le16, "creation date", CREATION;
        accessed_date: 18, 2, Le16, "access date", Explain::Entry(&[Key::ATIME]);
        /// Only FAT32 keeps cluster bits here (FAT12/16 keep extended attribute
        /// handles of OS/2; it should stay 0: the accounting says so).
        cluster_high: 20, 2, Le16, "first cluster (high half)", Explain::Placement;
        modified_time: 22, 2, Le16, "modification time", MODIFICATION;
        modified_date: 24, 2, Le16, "modification date", MODIFICATION;
        cluster_low: 26, 2, Le16, "first cluster", Explain::Placement;
        size: 28, 4, Le32, "size", Explain::Entry(&[Key::SIZE, Key::Content, Key::Nested]);
    }
}

structure! {
    /// The same 32 bytes as a VFAT long-name entry (`LDIR_*`). A changed name
    /// makes another entry (removed and added), which explains the whole entry.
    pub(crate) struct LongNameEntry[32] {
        /// `LDIR_Ord`: the part's number, 0x40 on the last.
        order: 0, 1, U8, "sequence number", Explain::Derived;
        chars_1: 1, 10, Raw, "name characters 1-5", Explain::Nothing;
        attributes: 11, 1, U8, "attributes", Explain::Derived;
        kind: 12, 1, U8, "type", Explain::Nothing;
        /// The checksum of the 8.3 name the entry belongs to.
        checksum: 13, 1, U8, "checksum of the short name", Explain::Entry(&[Key::Attribute(SHORT_NAME)]);
        chars_2: 14, 12, Raw, "name characters 6-11", Explain::Nothing;
        cluster: 26, 2, Le16, "first cluster", Explain::Nothing;
        chars_3: 28, 4, Raw, "name characters 12-13", Explain::Nothing;
    }
}

structure! {
    /// The same 32 bytes as the volume label entry of the root directory.
    pub(crate) struct LabelEntry[32] {
        label: 0, 11, Array<11>, "label", Explain::fact_named("root_label");
        attributes: 11, 1, U8, "attributes", Explain::Nothing;
        case_flags: 12, 1, U8, "case flags", Explain::Nothing;
        created: 13, 5, Raw, "creation time", Explain::fact_named("root_label.created");
        accessed_date: 18, 2, Le16, "access date", Explain::Nothing;
        cluster_high: 20, 2, Le16, "first cluster (high half)", Explain::Nothing;
        modified: 22, 4, Raw, "modification time", Explain::fact_named("root_label.modified");
        cluster_low: 26, 2, Le16, "first cluster", Explain::Nothing;
        size: 28, 4, Le32, "size", Explain::Nothing;
    }
}

impl<'a> DirEntry<'a> {
    /// The name's first byte: it marks a free or deleted entry.
    pub(crate) fn first_byte(&self) -> u8 {
        let [first, ..] = self.short_name();
        first
    }
    pub(crate) fn is_long_name(&self) -> bool {
        self.attributes() & attr::LONG_NAME_MASK == attr::LONG_NAME
    }
    /// The first cluster; the high half only counts on FAT32 (FAT12/16 keep
    /// extended attribute handles of OS/2 there).
    pub(crate) fn first_cluster(&self, fat_type: FatType) -> u32 {
        let hi = if fat_type == FatType::Fat32 {
            u32::from(self.cluster_high())
        } else {
            0
        };
        hi << 16 | u32::from(self.cluster_low())
    }
    /// The five bytes of the creation time (tenths, time, date), as stored.
    pub(crate) fn creation_bytes(&self) -> Vec<u8> {
        let mut b = vec![self.created_tenths()];
        b.extend(self.created_time().to_le_bytes());
        b.extend(self.created_date().to_le_bytes());
        b
    }
    /// The four bytes of the modification time and date, as stored.
    pub(crate) fn modification_bytes(&self) -> Vec<u8> {
        let mut b = self.modified_time().to_le_bytes().to_vec();
        b.extend(self.modified_date().to_le_bytes());
        b
    }

    /// Long-name entry: sequence number (`LDIR_Ord`), checksum of the short name
    /// it belongs to, and its 13 UCS-2 units.
    pub(crate) fn long_name_part(&self) -> (u8, u8, [u16; 13]) {
        let l = self.as_long_name();
        let mut units = [0u16; 13];
        let chars = l.chars_1().iter().chain(l.chars_2()).chain(l.chars_3());
        let mut pairs = chars.copied().collect::<Vec<u8>>().into_iter();
        for u in &mut units {
            *u = u16::from_le_bytes([pairs.next().unwrap_or(0), pairs.next().unwrap_or(0)]);
        }
        (l.order(), l.checksum(), units)
    }

    /// The same bytes read as a long-name entry.
    pub(crate) fn as_long_name(&self) -> LongNameEntry<'a> {
        LongNameEntry(self.bytes())
    }

    /// The same bytes read as the volume label entry.
    pub(crate) fn as_label(&self) -> LabelEntry<'a> {
        LabelEntry(self.bytes())
    }
}

/// The checksum of an 8.3 name that its long-name entries carry.
pub(crate) fn short_name_checksum(name: &[u8; 11]) -> u8 {
    name.iter()
        .fold(0u8, |sum, &c| sum.rotate_right(1).wrapping_add(c))
}

/// A DOS date and time, read as UTC (FAT stores local time without a zone; reading
/// it as UTC is what mtools, the Linux `tz=UTC` option and most image tools do, and
/// keeps the result independent of the machine that compares). `None` when a field
/// is out of range (a date of 0 means "not set").
pub(crate) fn dos_time(
    date: u16,
    time: u16,
    extra_nanos: u32,
    precision: Precision,
) -> Option<Timestamp> {
    let civil = Civil {
        year: 1980 + i64::from(date >> 9),
        month: u32::from(date >> 5 & 0x0f),
        day: u32::from(date & 0x1f),
        hour: u32::from(time >> 11),
        minute: u32::from(time >> 5 & 0x3f),
        second: u32::from(time & 0x1f) * 2,
    };
    if civil.second > 59 {
        return None;
    }
    let mut t = Timestamp::from_civil(civil, 0, 0, precision)?;
    t.secs += i64::from(extra_nanos / 1_000_000_000);
    t.nanos = extra_nanos % 1_000_000_000;
    Some(t)
}

/// The creation time: date, 2-second time and the `DIR_CrtTimeTenth` byte, which
/// despite its name counts units of 10 ms (0 to 199) added to the time.
pub(crate) fn creation_time(e: &DirEntry<'_>) -> Value {
    let (date, time, tenths) = (e.created_date(), e.created_time(), e.created_tenths());
    if date == 0 && time == 0 && tenths == 0 {
        return Value::Unset;
    }
    if tenths > 199 {
        return Value::Bytes(e.creation_bytes());
    }
    match dos_time(
        date,
        time,
        u32::from(tenths) * 10_000_000,
        Precision::Hundredths,
    ) {
        Some(t) => Value::Time(t),
        None => Value::Bytes(e.creation_bytes()),
    }
}

/// The high half of code page 437, which mtools and Linux (`codepage=437`) use for
/// 8.3 names by default.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

fn cp437(b: u8) -> char {
    if b < 0x80 {
        char::from(b)
    } else {
        CP437_HIGH[usize::from(b - 0x80)]
    }
}

/// An 8.3 name as UTF-8 (from code page 437): base and extension without their
/// padding, joined by a dot when there is an extension, each part lower-cased when
/// `case_flags` says so.
/// The first byte 0x05 stands for 0xe5 (which would mark the entry deleted).
pub(crate) fn short_name_text(name: &[u8; ShortName::LEN], case_flags: u8) -> String {
    let name = ShortName::from_array(name);
    let mut base = name.base();
    if let [first @ 0x05, ..] = &mut base {
        *first = 0xe5;
    }
    let trim = |p: &[u8]| -> Vec<u8> {
        let end = p.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        p[..end].to_vec()
    };
    let (base, ext) = (trim(&base), trim(&name.extension()));
    // Lower-casing covers the whole code page, as Linux's nls tables and Windows
    // do (mtools lower-cases ASCII only and shows `cafÉ.txt` where they show
    // `café.txt`).
    let part = |p: &[u8], lower: bool| -> String {
        let s = p.iter().map(|&c| cp437(c));
        if lower {
            s.flat_map(char::to_lowercase).collect()
        } else {
            s.collect()
        }
    };
    let mut s = part(&base, case_flags & 0x08 != 0);
    if !ext.is_empty() {
        s.push('.');
        s.push_str(&part(&ext, case_flags & 0x10 != 0));
    }
    s
}

/// The attribute bits other than directory and volume label, by name
/// (`read-only,hidden,system,archive`), bits without a meaning in hex.
pub(crate) fn attributes_text(a: u8) -> String {
    let mut parts: Vec<String> = Vec::new();
    for (bit, name) in [
        (attr::READ_ONLY, "read-only"),
        (attr::HIDDEN, "hidden"),
        (attr::SYSTEM, "system"),
        (attr::ARCHIVE, "archive"),
    ] {
        if a & bit != 0 {
            parts.push(name.to_owned());
        }
    }
    let unknown = a & 0xc0;
    if unknown != 0 {
        parts.push(format!("{unknown:#04x}"));
    }
    parts.join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A FAT12 boot sector: 512-byte sectors, `spc` sectors per cluster, one
    /// reserved sector, 2 FATs of `spf` sectors, 16 root entries, `total` sectors.
    pub(crate) fn boot_sector(spc: u8, spf: u16, total: u16) -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        b[3..11].copy_from_slice(b"mkfs.fat");
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = spc;
        b[14..16].copy_from_slice(&1u16.to_le_bytes());
        b[16] = 2;
        b[17..19].copy_from_slice(&16u16.to_le_bytes());
        b[19..21].copy_from_slice(&total.to_le_bytes());
        b[21] = 0xf8;
        b[22..24].copy_from_slice(&spf.to_le_bytes());
        b[38] = 0x29;
        b[39..43].copy_from_slice(&0x1234_abcdu32.to_le_bytes());
        b[43..54].copy_from_slice(b"TESTVOL    ");
        b[54..62].copy_from_slice(b"FAT12   ");
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    #[test]
    fn boot_sector_and_geometry() {
        let b = boot_sector(1, 1, 64);
        let bs = BootSector::parse(&b).unwrap();
        assert!(bs.plausible());
        let g = Geometry::new(&bs).unwrap();
        assert_eq!(g.fat_type, FatType::Fat12);
        assert_eq!(g.fat_offset, 512);
        assert_eq!(g.root_region, Some((3 * 512, 16 * 32)));
        assert_eq!(g.data_offset, 4 * 512);
        assert_eq!(g.clusters, 60);
        let facts = bs.facts();
        let get = |n: &str| facts.iter().find(|f| f.name == n).map(|f| f.value.clone());
        assert_eq!(get("volume_id"), Some(Value::Text("1234-ABCD".into())));
        assert_eq!(get("volume_label"), Some(Value::Text("TESTVOL    ".into())));
        assert_eq!(get("fs_type"), Some(Value::Text("FAT12   ".into())));

        let mut bad = b.clone();
        bad[11] = 0x33;
        assert!(!BootSector::parse(&bad).unwrap().plausible());
        assert!(Geometry::new(&BootSector::parse(&bad).unwrap()).is_err());
        let mut bad = b.clone();
        bad[19..21].copy_from_slice(&2u16.to_le_bytes());
        assert!(Geometry::new(&BootSector::parse(&bad).unwrap()).is_err());
        assert!(BootSector::parse(&b[..100]).is_err());
    }

    #[test]
    fn fat12_entries_are_packed() {
        let bs = BootSector::parse(&boot_sector(1, 1, 64)).unwrap();
        let g = Geometry::new(&bs).unwrap();
        // Entries 2 = 0x003, 3 = 0xfff, packed in 3 bytes at offset 3.
        let fat = [0xf8, 0xff, 0xff, 0x03, 0xf0, 0xff];
        assert_eq!(g.entry(&fat, 2), Some(3));
        assert_eq!(g.entry(&fat, 3), Some(0xfff));
        assert_eq!(g.entry(&fat, 4), None);
    }

    #[test]
    fn names_and_checksums() {
        assert_eq!(short_name_text(b"README  TXT", 0), "README.TXT");
        assert_eq!(short_name_text(b"README  TXT", 0x18), "readme.txt");
        assert_eq!(short_name_text(b"README  TXT", 0x08), "readme.TXT");
        assert_eq!(short_name_text(b"EFI        ", 0), "EFI");
        assert_eq!(short_name_text(b"\x05BC     \x82  ", 0), "σBC.é");
        assert_eq!(short_name_text(b"CAF\x90    TXT", 0x18), "café.txt");
        // The example of Microsoft's specification.
        let name = *b"FOO     BAR";
        let sum = short_name_checksum(&name);
        let mut manual = 0u8;
        for &c in &name {
            manual = (if manual & 1 != 0 { 0x80u8 } else { 0 })
                .wrapping_add(manual >> 1)
                .wrapping_add(c);
        }
        assert_eq!(sum, manual);
        assert_eq!(attributes_text(0x21), "read-only,archive");
        assert_eq!(attributes_text(0x00), "");
        assert_eq!(attributes_text(0x46), "hidden,system,0x40");
    }

    #[test]
    fn the_field_tables_cover_the_entries() {
        use crate::model::structure::check_table;
        for fields in [DirEntry::FIELDS, LongNameEntry::FIELDS, LabelEntry::FIELDS] {
            assert_eq!(check_table(fields, 32), Ok(()));
        }
        for (fields, len) in [
            (CommonBpb::FIELDS, CommonBpb::LEN),
            (Fat32BpbRaw::FIELDS, Fat32BpbRaw::LEN),
            (ExtendedRaw::FIELDS, ExtendedRaw::LEN),
            (BootSignature::FIELDS, BootSignature::LEN),
            (FsInfo::FIELDS, FsInfo::LEN),
            (ShortName::FIELDS, ShortName::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
        // The short form of the extended boot record ends at a field's end.
        assert!(ExtendedRaw::FIELDS
            .iter()
            .any(|f| f.at + f.len == SHORT_EXTENDED_LEN));
    }

    #[test]
    fn dos_times() {
        // 2024-06-02 13:04:06: date (44 << 9 | 6 << 5 | 2), time (13 << 11 | 4 << 5 | 3).
        let (date, time) = (44 << 9 | 6 << 5 | 2, 13 << 11 | 4 << 5 | 3);
        let t = dos_time(date, time, 0, Precision::TwoSeconds).unwrap();
        assert_eq!(t.rfc3339(), "2024-06-02T13:04:06Z");
        let mut raw = [0u8; 32];
        raw[13] = 157;
        raw[14..16].copy_from_slice(&time.to_le_bytes());
        raw[16..18].copy_from_slice(&date.to_le_bytes());
        let Value::Time(c) = creation_time(&DirEntry(&raw)) else {
            panic!("no creation time");
        };
        assert_eq!(c.rfc3339(), "2024-06-02T13:04:07.57Z");
        assert_eq!(dos_time(0, 0, 0, Precision::TwoSeconds), None);
        assert_eq!(dos_time(date, 0x1f, 0, Precision::TwoSeconds), None);
        raw[13] = 200;
        assert!(matches!(creation_time(&DirEntry(&raw)), Value::Bytes(_)));
        assert_eq!(creation_time(&DirEntry(&[0u8; 32])), Value::Unset);
    }
}
