//! El Torito (the bootable CD-ROM specification, 1.0): the boot catalog's validation
//! entry, default entry, section headers and section entries, each field a fact.

use super::attrs::{BOOT_INFO_CHECKSUM, BOOT_INFO_FILE_LENGTH};
use super::descriptor::own_fact;
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::model::span::{Explain, Key};
use crate::model::structure::{structure, Le16, Le32, Raw, U8};
use crate::model::{Fact, Value};

structure! {
    /// The validation entry that starts a boot catalog.
    pub(crate) struct ValidationEntry[32] {
        header_id: 0, 1, U8, "header id", Explain::Nothing;
        platform: 1, 1, U8, "platform", Explain::fact_named("eltorito.validation.platform");
        reserved: 2, 2, Raw, "reserved", Explain::Nothing;
        id: 4, 24, Raw, "id string", Explain::fact_named("eltorito.validation.id");
        checksum: 28, 2, Le16, "checksum", Explain::Derived;
        /// 0x55 0xAA.
        key: 30, 2, Raw, "key bytes", Explain::Nothing;
    }
}

structure! {
    /// The default entry, or an entry of a section: one boot image, its facts
    /// named under the entry's prefix (`eltorito.entry2`, see [`own_fact`]).
    pub(crate) struct BootImageEntry[32] {
        /// 0x88 bootable, 0x00 not.
        indicator: 0, 1, U8, "boot indicator", own_fact(".bootable");
        /// Emulation in the low bits, flags in the high: two facts.
        media: 1, 1, U8, "boot media type", own_fact(".");
        load_segment: 2, 2, Le16, "load segment", own_fact(".load_segment");
        system_type: 4, 1, U8, "system type", own_fact(".system_type");
        unused: 5, 1, Raw, "unused", Explain::Nothing;
        sector_count: 6, 2, Le16, "sector count", own_fact(".sector_count");
        load_rba: 8, 4, Le32, "load block", Explain::Placement;
        selection: 12, 20, Raw, "selection criteria", own_fact(".selection_criteria");
    }
}

structure! {
    /// A section header, facts named under the section's prefix
    /// (`eltorito.section1`, see [`own_fact`]).
    pub(crate) struct SectionHeader[32] {
        /// 0x90, or 0x91 for the last section.
        indicator: 0, 1, U8, "header indicator", own_fact(".");
        platform: 1, 1, U8, "platform", own_fact(".platform");
        entries: 2, 2, Le16, "entries", own_fact(".entries");
        id: 4, 28, Raw, "id string", own_fact(".id");
    }
}

structure! {
    /// The boot info table that `-boot-info-table` patches into a
    /// no-emulation boot image at [`BOOT_INFO_AT`].
    pub(crate) struct BootInfoTable[56] {
        pvd_block: 0, 4, Le32, "volume descriptor block", Explain::Placement;
        file_block: 4, 4, Le32, "file block", Explain::Placement;
        file_length: 8, 4, Le32, "file length",
            Explain::Entry(&[Key::Attribute(BOOT_INFO_FILE_LENGTH), Key::SIZE]);
        checksum: 12, 4, Le32, "checksum",
            Explain::Entry(&[Key::Attribute(BOOT_INFO_CHECKSUM), Key::Content]);
        reserved: 16, 40, Raw, "reserved", Explain::Nothing;
    }
}

/// Where the boot info table is in a boot image.
pub(crate) const BOOT_INFO_AT: u64 = 8;

/// Catalog entries are 32 bytes, whatever their kind.
pub(crate) const ENTRY: usize = 32;

/// Catalog entries are 32 bytes; a catalog is at most a few sectors. Bound the walk
/// so a crafted catalog cannot make us read for long.
const MAX_ENTRIES: usize = 64 * 4;

/// One boot image the catalog names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BootEntry {
    /// 1 for the default entry, then section entries in catalog order.
    pub number: u32,
    /// Platform of its section (the validation entry's for the default entry).
    pub platform: u8,
    /// First block of the image.
    pub load_rba: u32,
    /// Emulation type (0: none, 1-3: floppies, 4: hard disk).
    pub media: u8,
    /// Virtual 512-byte sectors loaded at boot.
    pub sector_count: u16,
}

impl BootEntry {
    /// `BIOS`, `UEFI`, ... as xorriso names platforms.
    pub(crate) fn platform_name(&self) -> String {
        platform_name(self.platform)
    }
}

fn platform_name(p: u8) -> String {
    match p {
        0 => "BIOS".to_owned(),
        1 => "PowerPC".to_owned(),
        2 => "Mac".to_owned(),
        0xef => "UEFI".to_owned(),
        other => format!("platform {other:#04x}"),
    }
}

fn media_name(m: u8) -> &'static str {
    match m & 0x0f {
        0 => "no emulation",
        1 => "1.2M floppy",
        2 => "1.44M floppy",
        3 => "2.88M floppy",
        4 => "hard disk",
        _ => "unknown",
    }
}

/// What a catalog entry is, as the reader read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The validation entry.
    Validation,
    /// Boot entry `n` (1: the default entry).
    Boot(u32),
    /// Section header `n`.
    Section(u32),
    /// An extension entry continuing boot entry `n`.
    Extension(u32),
}

/// The catalog as the reader read it, for the byte layout: where it is, how
/// many bytes of it the image holds, and each entry read (its position in
/// the catalog and what it is), those before a damaged one included.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Catalog {
    pub start: u64,
    pub len: u64,
    pub pieces: Vec<(usize, Piece)>,
}

/// Reads the boot catalog at `lba` (2048-byte blocks), pushing its fields as facts
/// named `eltorito.*` and what it read to `seen`. Returns the boot entries.
pub(crate) fn read(
    image: Bytes<'_>,
    lba: u32,
    facts: &mut Vec<Fact>,
    seen: &mut Catalog,
) -> Result<Vec<BootEntry>> {
    let start = u64::from(lba) * 2048;
    // The catalog's length is not recorded; read what the image holds of 4 sectors.
    let avail = image.len().saturating_sub(start).min(4 * 2048);
    let cat = image.get(start, avail, "El Torito boot catalog")?;
    let validation = ValidationEntry::new(cat).ok_or_else(|| Error::OutOfBounds {
        structure: "El Torito validation entry",
        offset: start,
        end: start + ValidationEntry::LEN as u64,
        len: image.len(),
    })?;
    *seen = Catalog {
        start,
        len: avail,
        pieces: vec![(0, Piece::Validation)],
    };
    if validation.header_id() != 1 || validation.key() != [0x55, 0xaa] {
        return Err(Error::malformed(
            "El Torito validation entry",
            start,
            "no header id 1 or key bytes 55 AA",
        ));
    }
    let checksum_ok = validation.bytes().chunks_exact(2).fold(0u16, |sum, w| {
        sum.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    }) == 0;
    let platform = validation.platform();
    facts.push(Fact::new(
        "eltorito.validation.platform",
        Value::Text(platform_name(platform)),
    ));
    facts.push(Fact::new(
        "eltorito.validation.id",
        text(Some(validation.id())),
    ));
    facts.push(Fact::new(
        "eltorito.validation.checksum",
        Value::Int(u64::from(validation.checksum())),
    ));
    facts.push(Fact::new(
        "eltorito.validation.checksum_valid",
        Value::Bool(checksum_ok),
    ));

    let mut entries = Vec::new();
    let mut section_platform = platform;
    let mut number = 0u32;
    let mut pos = ENTRY;
    let mut in_section = false;
    let mut sections = 0u32;
    let mut final_header = false;
    for _ in 0..MAX_ENTRIES {
        let Some(e) = cat.get(pos..pos + ENTRY) else {
            break;
        };
        // Each view of an entry's 32 bytes is there.
        let (Some(image_entry), Some(header)) = (BootImageEntry::new(e), SectionHeader::new(e))
        else {
            break;
        };
        let at = start + pos as u64;
        let piece_at = pos;
        pos += ENTRY;
        let indicator = image_entry.indicator();
        if number == 0 {
            number = 1;
            seen.pieces.push((piece_at, Piece::Boot(1)));
            entry_facts(&image_entry, "eltorito.entry1", platform, facts);
            entries.push(boot_entry(&image_entry, 1, platform));
            continue;
        }
        match indicator {
            0x90 | 0x91 => {
                sections += 1;
                seen.pieces.push((piece_at, Piece::Section(sections)));
                section_platform = header.platform();
                let p = format!("eltorito.section{sections}");
                facts.push(Fact::new(
                    format!("{p}.platform"),
                    Value::Text(platform_name(section_platform)),
                ));
                facts.push(Fact::new(
                    format!("{p}.entries"),
                    Value::Int(u64::from(header.entries())),
                ));
                facts.push(Fact::new(format!("{p}.id"), text(Some(header.id()))));
                final_header = indicator == 0x91;
                in_section = true;
            }
            0x88 | 0x00 if in_section && e.iter().any(|&b| b != 0) => {
                number += 1;
                seen.pieces.push((piece_at, Piece::Boot(number)));
                entry_facts(
                    &image_entry,
                    &format!("eltorito.entry{number}"),
                    section_platform,
                    facts,
                );
                entries.push(boot_entry(&image_entry, number, section_platform));
            }
            // Extension entries continue the selection criteria of the entry before.
            0x44 => seen.pieces.push((piece_at, Piece::Extension(number))),
            _ if final_header || e.iter().all(|&b| b == 0) => break,
            other => {
                return Err(Error::malformed(
                    "El Torito catalog entry",
                    at,
                    format!("unknown entry indicator {other:#04x}"),
                ))
            }
        }
    }
    facts.push(Fact::new(
        "eltorito.boot_entries",
        Value::Int(entries.len() as u64),
    ));
    Ok(entries)
}

fn boot_entry(e: &BootImageEntry<'_>, number: u32, platform: u8) -> BootEntry {
    BootEntry {
        number,
        platform,
        load_rba: e.load_rba(),
        media: e.media(),
        sector_count: e.sector_count(),
    }
}

fn entry_facts(e: &BootImageEntry<'_>, p: &str, platform: u8, facts: &mut Vec<Fact>) {
    facts.push(Fact::new(
        format!("{p}.platform"),
        Value::Text(platform_name(platform)),
    ));
    facts.push(Fact::new(
        format!("{p}.bootable"),
        Value::Bool(e.indicator() == 0x88),
    ));
    facts.push(Fact::new(
        format!("{p}.emulation"),
        Value::Text(media_name(e.media()).to_owned()),
    ));
    facts.push(Fact::new(
        format!("{p}.media_flags"),
        Value::Int(u64::from(e.media() & 0xf0)),
    ));
    facts.push(Fact::new(
        format!("{p}.load_segment"),
        Value::Int(u64::from(e.load_segment())),
    ));
    facts.push(Fact::new(
        format!("{p}.system_type"),
        Value::Int(u64::from(e.system_type())),
    ));
    facts.push(Fact::new(
        format!("{p}.sector_count"),
        Value::Int(u64::from(e.sector_count())),
    ));
    facts.push(Fact::layout(
        format!("{p}.load_rba"),
        Value::Int(u64::from(e.load_rba())),
    ));
    facts.push(Fact::new(
        format!("{p}.selection_criteria"),
        Value::Bytes(trim_zeros(Some(e.selection()))),
    ));
}

fn trim_zeros(b: Option<&[u8]>) -> Vec<u8> {
    let b = b.unwrap_or_default();
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |p| p + 1);
    b[..end].to_vec()
}

fn text(b: Option<&[u8]>) -> Value {
    let b = b.unwrap_or_default();
    let end = b
        .iter()
        .rposition(|&c| c != 0 && c != b' ')
        .map_or(0, |p| p + 1);
    Value::Text(String::from_utf8_lossy(&b[..end]).into_owned())
}

/// The boot info table that `-boot-info-table` patches into bytes 8 to 63 of a
/// no-emulation boot image: the primary volume descriptor's block, the image's own
/// block and length, and a checksum of the image from byte 64 on. Recognized when
/// the first three words say what they must.
pub(crate) fn boot_info_table(file: &[u8], file_lba: u32) -> Option<[u32; 4]> {
    let t = BootInfoTable::new(file.get(BOOT_INFO_AT as usize..)?)?;
    let sound =
        t.pvd_block() == 16 && t.file_block() == file_lba && t.file_length() as usize == file.len();
    sound.then(|| [t.pvd_block(), t.file_block(), t.file_length(), t.checksum()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<u8> {
        let mut c = vec![0u8; 2048 * 3];
        let cat = &mut c[2048..];
        cat[0] = 1;
        cat[4..9].copy_from_slice(b"TESTS");
        cat[30] = 0x55;
        cat[31] = 0xaa;
        let sum = cat[..32].chunks_exact(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        cat[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
        // Default entry: bootable, no emulation, 4 sectors at block 40.
        cat[32] = 0x88;
        cat[38] = 4;
        cat[40..44].copy_from_slice(&40u32.to_le_bytes());
        // Final section header for UEFI with one entry at block 50.
        cat[64] = 0x91;
        cat[65] = 0xef;
        cat[66] = 1;
        cat[96] = 0x88;
        cat[102] = 0;
        cat[104..108].copy_from_slice(&50u32.to_le_bytes());
        c
    }

    #[test]
    fn the_entries_are_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (ValidationEntry::FIELDS, ValidationEntry::LEN),
            (BootImageEntry::FIELDS, BootImageEntry::LEN),
            (SectionHeader::FIELDS, SectionHeader::LEN),
            (BootInfoTable::FIELDS, BootInfoTable::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    #[test]
    fn reads_default_and_section_entries() {
        let mut c = catalog();
        // An extension entry after the section's entry.
        c[2048 + 128] = 0x44;
        let mut facts = Vec::new();
        let mut seen = Catalog::default();
        let entries = read(Bytes::new(&c), 1, &mut facts, &mut seen).unwrap_or_default();
        assert_eq!(entries.len(), 2);
        // What the byte layout names: the entries the reader read, where it
        // read them.
        let pieces = [
            (0, Piece::Validation),
            (32, Piece::Boot(1)),
            (64, Piece::Section(1)),
            (96, Piece::Boot(2)),
            (128, Piece::Extension(2)),
        ];
        assert_eq!((seen.start, seen.len), (2048, 4096));
        assert_eq!(seen.pieces, pieces);
        assert_eq!(
            (entries[0].platform_name(), entries[0].load_rba),
            ("BIOS".to_owned(), 40)
        );
        assert_eq!(
            (entries[1].platform_name(), entries[1].load_rba),
            ("UEFI".to_owned(), 50)
        );
        let get = |n: &str| facts.iter().find(|f| f.name == n).map(|f| f.value.clone());
        assert_eq!(
            get("eltorito.validation.checksum_valid"),
            Some(Value::Bool(true))
        );
        assert_eq!(
            get("eltorito.validation.id"),
            Some(Value::Text("TESTS".into()))
        );
        assert_eq!(
            get("eltorito.entry2.platform"),
            Some(Value::Text("UEFI".into()))
        );
        assert_eq!(get("eltorito.entry1.sector_count"), Some(Value::Int(4)));
    }

    #[test]
    fn damaged_catalogs_are_errors() {
        let read = |c: &[u8], lba: u32| {
            let mut seen = Catalog::default();
            let r = read(Bytes::new(c), lba, &mut Vec::new(), &mut seen);
            (r.is_err(), seen.pieces)
        };
        let mut c = catalog();
        c[2048 + 31] = 0;
        // The validation entry was read, and is named.
        assert_eq!(read(&c, 1), (true, vec![(0, Piece::Validation)]));
        assert_eq!(read(&c, 100), (true, Vec::new()));
        let mut c = catalog();
        c[2048 + 96] = 0x77;
        c[2048 + 64] = 0x90;
        let before = vec![
            (0, Piece::Validation),
            (32, Piece::Boot(1)),
            (64, Piece::Section(1)),
        ];
        assert_eq!(read(&c, 1), (true, before));
    }

    #[test]
    fn boot_info_table_is_recognized() {
        let mut f = vec![0u8; 2048];
        f[8..12].copy_from_slice(&16u32.to_le_bytes());
        f[12..16].copy_from_slice(&30u32.to_le_bytes());
        f[16..20].copy_from_slice(&2048u32.to_le_bytes());
        assert!(boot_info_table(&f, 30).is_some());
        assert!(boot_info_table(&f, 31).is_none());
    }
}
