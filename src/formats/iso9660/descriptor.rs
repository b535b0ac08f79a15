//! The volume descriptor set (ECMA-119 8): primary, supplementary (Joliet), boot
//! record, partition and terminator. Every field becomes an image-level fact.

use super::oddity::{self, Oddities};
use super::raw::{ucs2_to_utf8, Both16, Both32, DirRecord, LongDate};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::model::span::Explain;
use crate::model::structure::{field_at, structure, Be32, Le32, Raw, U8};
use crate::model::{Fact, Follows, Value};

/// Size of a volume descriptor and of the sectors the descriptor set uses.
pub(crate) const SECTOR: u64 = 2048;
/// The descriptor set starts at sector 16, after the system area.
pub(crate) const FIRST_DESCRIPTOR: u64 = 16;
/// A real image has a handful of descriptors; stop looking for the terminator after this.
pub(crate) const MAX_DESCRIPTORS: u64 = 256;

/// A fact named under the prefix of the descriptor or entry that holds the
/// field (`pvd`, `joliet`, `svd1`, `partition1`, `eltorito.entry2`): its
/// name starts with a dot; a dot alone is the prefix itself. The byte layout
/// puts the prefix in front ([`crate::formats::iso9660`]'s spans).
pub(crate) const fn own_fact(name: &'static str) -> Explain {
    Explain::fact_named(name)
}

structure! {
    /// What every volume descriptor starts with (ECMA-119 8.1).
    pub(crate) struct DescriptorHeader[7] {
        kind: 0, 1, U8, "type", Explain::fact_named("descriptor_sequence");
        standard_id: 1, 5, Raw, "standard identifier", Explain::Nothing;
        version: 6, 1, U8, "version", own_fact(".version");
    }
}

/// The standard identifier every volume descriptor carries.
pub(crate) const STANDARD_ID: &[u8] = b"CD001";

/// Where the first descriptor's standard identifier is in an image: what tells
/// an ISO 9660 image by its magic.
pub(crate) const FIRST_STANDARD_ID_AT: usize = (FIRST_DESCRIPTOR * SECTOR
    + field_at(DescriptorHeader::FIELDS, "standard identifier"))
    as usize;

structure! {
    /// A boot record (ECMA-119 8.2); El Torito keeps the boot catalog's block
    /// in the first word of its system use.
    pub(crate) struct BootRecord[2048] {
        /// [`DescriptorHeader`].
        header: 0, 7, Raw, "header", Explain::Nothing;
        boot_system_id: 7, 32, Raw, "boot system id", Explain::fact_named("boot_record.boot_system_id");
        boot_id: 39, 32, Raw, "boot id", Explain::fact_named("boot_record.boot_id");
        catalog: 71, 4, Le32, "boot catalog block", Explain::Placement;
        system_use: 75, 1973, Raw, "boot system use", Explain::Nothing;
    }
}

/// The boot system identifier of an El Torito boot record.
const EL_TORITO: &[u8] = b"EL TORITO SPECIFICATION";

impl BootRecord<'_> {
    /// The boot catalog's block, when the record is El Torito's.
    pub(crate) fn el_torito_catalog(&self) -> Option<u32> {
        self.boot_system_id()
            .starts_with(EL_TORITO)
            .then(|| self.catalog())
    }
}

structure! {
    /// A primary or supplementary volume descriptor (ECMA-119 8.4, 8.5), facts
    /// named under its prefix ([`own_fact`]). A primary descriptor's volume
    /// flags and escape sequences are unused bytes.
    pub(crate) struct VolumeDescriptor[2048] {
        /// [`DescriptorHeader`].
        header: 0, 7, Raw, "header", Explain::Nothing;
        flags: 7, 1, U8, "volume flags", own_fact(".volume_flags");
        system_id: 8, 32, Raw, "system id", own_fact(".system_id");
        volume_id: 40, 32, Raw, "volume id", own_fact(".volume_id");
        unused_1: 72, 8, Raw, "unused", Explain::Nothing;
        space: 80, 8, Both32, "volume space size", own_fact(".volume_space_size");
        escapes: 88, 32, Raw, "escape sequences", own_fact(".escape_sequences");
        set_size: 120, 4, Both16, "volume set size", own_fact(".volume_set_size");
        sequence: 124, 4, Both16, "volume sequence number", own_fact(".volume_sequence_number");
        block_size: 128, 4, Both16, "logical block size", own_fact(".logical_block_size");
        path_table_size: 132, 8, Both32, "path table size", own_fact(".path_table_size");
        l_table: 140, 4, Le32, "type L path table block", Explain::Placement;
        optional_l_table: 144, 4, Le32, "optional type L path table block", Explain::Placement;
        m_table: 148, 4, Be32, "type M path table block", Explain::Placement;
        optional_m_table: 152, 4, Be32, "optional type M path table block", Explain::Placement;
        /// A [`RecordFixed`] and its one-byte identifier.
        root: 156, 34, Raw, "root directory record", Explain::Nothing;
        volume_set_id: 190, 128, Raw, "volume set id", own_fact(".volume_set_id");
        publisher_id: 318, 128, Raw, "publisher id", own_fact(".publisher_id");
        preparer_id: 446, 128, Raw, "data preparer id", own_fact(".data_preparer_id");
        application_id: 574, 128, Raw, "application id", own_fact(".application_id");
        copyright_id: 702, 37, Raw, "copyright file id", own_fact(".copyright_file_id");
        abstract_id: 739, 37, Raw, "abstract file id", own_fact(".abstract_file_id");
        bibliographic_id: 776, 37, Raw, "bibliographic file id", own_fact(".bibliographic_file_id");
        created: 813, 17, LongDate, "creation date", own_fact(".creation_date");
        modified: 830, 17, LongDate, "modification date", own_fact(".modification_date");
        expires: 847, 17, LongDate, "expiration date", own_fact(".expiration_date");
        effective: 864, 17, LongDate, "effective date", own_fact(".effective_date");
        structure_version: 881, 1, U8, "file structure version", own_fact(".file_structure_version");
        reserved_1: 882, 1, Raw, "reserved", Explain::Nothing;
        application_use: 883, 512, Raw, "application use", own_fact(".application_use");
        reserved_2: 1395, 653, Raw, "reserved", Explain::Nothing;
    }
}

/// Where the root directory record is in a volume descriptor.
pub(crate) const ROOT_AT: u64 = field_at(VolumeDescriptor::FIELDS, "root directory record");

impl VolumeDescriptor<'_> {
    /// Whether a supplementary descriptor is Joliet's: version 1 and one of
    /// the three UCS-2 escape sequences.
    pub(crate) fn is_joliet(&self) -> bool {
        let version = DescriptorHeader::from_prefix(self.bytes()).version();
        version == 1
            && [&b"%/@"[..], b"%/C", b"%/E"]
                .iter()
                .any(|e| self.escapes().starts_with(e))
    }
}

structure! {
    /// A volume partition descriptor (ECMA-119 8.6), facts named under its
    /// prefix ([`own_fact`]).
    pub(crate) struct PartitionDescriptor[2048] {
        /// [`DescriptorHeader`].
        header: 0, 7, Raw, "header", Explain::Nothing;
        unused: 7, 1, Raw, "unused", Explain::Nothing;
        system_id: 8, 32, Raw, "system id", own_fact(".system_id");
        partition_id: 40, 32, Raw, "volume partition id", own_fact(".volume_partition_id");
        location: 72, 8, Both32, "location", Explain::Placement;
        size: 80, 8, Both32, "size", own_fact(".size");
        system_use: 88, 1960, Raw, "system use", Explain::Nothing;
    }
}

/// The directory tree a primary or supplementary descriptor points to.
#[derive(Debug, Clone)]
pub(crate) struct VolumeRoot<'a> {
    /// The root directory record held in the descriptor.
    pub root: DirRecord<'a>,
    /// The logical block size the tree is addressed in.
    pub block_size: u32,
}

/// What the descriptor set says.
#[derive(Debug)]
pub(crate) struct Descriptors<'a> {
    pub primary: VolumeRoot<'a>,
    /// The Joliet supplementary descriptor, if any.
    pub joliet: Option<VolumeRoot<'a>>,
    /// Volume space size times block size: how many bytes the volume claims.
    pub volume_bytes: u64,
    /// The El Torito boot catalog's block, when a boot record names El Torito.
    pub el_torito_catalog: Option<u32>,
    pub facts: Vec<Fact>,
    /// Damage that leaves the volume readable: the image ends inside the
    /// descriptor set, after the primary descriptor.
    pub problems: Vec<Error>,
    /// Oddities read leniently (a root record of 68 bytes).
    pub oddities: Oddities,
    /// Every descriptor read, in order, the terminator included: what the
    /// byte layout names, without reading the set again.
    pub seen: Vec<Seen>,
}

/// A volume descriptor as the reader read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Its sector's first byte.
    pub start: u64,
    /// Its type (0 boot record, 1 primary, 2 supplementary, 3 partition,
    /// 255 terminator).
    pub kind: u8,
    /// What its facts are named under (`pvd`, `joliet`, `svd1`,
    /// `partition1`, `boot_record`); empty for the terminator and unknown
    /// types.
    pub prefix: String,
    /// Its number among the descriptors of its kind (`svd2`: 2), counted as
    /// the prefixes count them; 0 where the prefix has none.
    pub number: u32,
}

/// Reads the descriptor set starting at sector 16.
pub(crate) fn read(image: Bytes<'_>) -> Result<Descriptors<'_>> {
    let mut facts = Vec::new();
    let mut primary = None;
    let mut joliet = None;
    let mut volume_bytes = 0;
    let mut sequence = Vec::new();
    let mut supplementary = 0;
    let mut partitions = 0;
    let mut terminated = false;
    let mut el_torito_catalog = None;
    let mut problems = Vec::new();
    let mut oddities = Oddities::default();
    let mut seen = Vec::new();
    for index in 0..MAX_DESCRIPTORS {
        let offset = (FIRST_DESCRIPTOR + index) * SECTOR;
        let d = match image.get(offset, SECTOR, "volume descriptor") {
            Ok(d) => d,
            // Cut short after the primary descriptor: the volume is still there
            // to read as far as the image goes.
            Err(e) if primary.is_some() => {
                problems.push(e);
                terminated = true;
                break;
            }
            Err(e) => return Err(e),
        };
        // `get` returned the whole sector: every view of it is there.
        let (Some(header), Some(v), Some(boot), Some(part)) = (
            DescriptorHeader::new(d),
            VolumeDescriptor::new(d),
            BootRecord::new(d),
            PartitionDescriptor::new(d),
        ) else {
            return Err(Error::malformed("volume descriptor", offset, "short"));
        };
        if header.standard_id() != STANDARD_ID {
            return Err(Error::malformed(
                "volume descriptor",
                offset,
                "no CD001 standard identifier (not ISO 9660, or the descriptor set is damaged)",
            ));
        }
        let kind = header.kind();
        let (prefix, number) = match kind {
            0 => ("boot_record".to_owned(), 0),
            // A second primary descriptor makes no facts; the layout still
            // names its fields as a primary's.
            1 => ("pvd".to_owned(), 0),
            2 if v.is_joliet() && joliet.is_none() => ("joliet".to_owned(), 0),
            2 => (format!("svd{}", supplementary + 1), supplementary + 1),
            3 => (format!("partition{}", partitions + 1), partitions + 1),
            _ => (String::new(), 0),
        };
        seen.push(Seen {
            start: offset,
            kind,
            prefix,
            number,
        });
        let p = seen.last().map_or("", |s| s.prefix.as_str());
        match kind {
            0 => {
                sequence.push("boot_record");
                boot_record(&boot, &mut facts);
                if el_torito_catalog.is_none() {
                    el_torito_catalog = boot.el_torito_catalog();
                }
            }
            1 if primary.is_none() => {
                sequence.push("primary");
                let (root, bytes) = volume(&v, offset, p, false, &mut facts, &mut oddities)?;
                volume_bytes = bytes;
                primary = Some(root);
            }
            2 if joliet.is_none() && p == "joliet" => {
                sequence.push("joliet");
                let (root, _) = volume(&v, offset, p, true, &mut facts, &mut oddities)?;
                joliet = Some(root);
            }
            2 => {
                sequence.push("supplementary");
                supplementary = number;
                volume(&v, offset, p, false, &mut facts, &mut oddities)?;
            }
            3 => {
                sequence.push("partition");
                partitions = number;
                facts.push(Fact::new(
                    format!("{p}.system_id"),
                    text(Some(part.system_id())),
                ));
                facts.push(Fact::new(
                    format!("{p}.volume_partition_id"),
                    text(Some(part.partition_id())),
                ));
                facts.push(Fact::layout(
                    format!("{p}.location"),
                    Value::Int(u64::from(part.location().0)),
                ));
                facts.push(Fact::new(
                    format!("{p}.size"),
                    Value::Int(u64::from(part.size().0)),
                ));
            }
            255 => {
                sequence.push("terminator");
                terminated = true;
                break;
            }
            _ => sequence.push("unknown"),
        }
    }
    if !terminated {
        return Err(Error::malformed(
            "volume descriptor set",
            FIRST_DESCRIPTOR * SECTOR,
            format!("no set terminator within {MAX_DESCRIPTORS} descriptors"),
        ));
    }
    let primary = primary.ok_or_else(|| {
        Error::malformed(
            "volume descriptor set",
            FIRST_DESCRIPTOR * SECTOR,
            "no primary volume descriptor",
        )
    })?;
    facts.insert(
        0,
        Fact::new("descriptor_sequence", Value::Text(sequence.join(","))),
    );
    Ok(Descriptors {
        primary,
        joliet,
        volume_bytes,
        el_torito_catalog,
        facts,
        problems,
        oddities,
        seen,
    })
}

/// Text of an a- or d-character field, with trailing spaces (the padding) removed.
fn text(b: Option<&[u8]>) -> Value {
    let b = b.unwrap_or_default();
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p + 1);
    Value::Text(String::from_utf8_lossy(&b[..end]).into_owned())
}

/// Text of a Joliet field (UCS-2 big-endian), trailing spaces removed.
fn ucs2_text(b: Option<&[u8]>) -> Value {
    let s = String::from_utf8_lossy(&ucs2_to_utf8(b.unwrap_or_default())).into_owned();
    Value::Text(s.trim_end_matches([' ', '\0']).to_owned())
}

fn boot_record(d: &BootRecord<'_>, facts: &mut Vec<Fact>) {
    facts.push(Fact::new(
        "boot_record.boot_system_id",
        text(Some(d.boot_system_id())),
    ));
    facts.push(Fact::new("boot_record.boot_id", text(Some(d.boot_id()))));
    facts.push(Fact::layout(
        "boot_record.catalog_lba",
        Value::Int(u64::from(d.catalog())),
    ));
}

/// A primary or supplementary descriptor: its facts, its root and the volume size.
fn volume<'a>(
    d: &VolumeDescriptor<'a>,
    offset: u64,
    prefix: &str,
    ucs2: bool,
    facts: &mut Vec<Fact>,
    oddities: &mut Oddities,
) -> Result<(VolumeRoot<'a>, u64)> {
    let name = |field: &str| format!("{prefix}.{field}");
    let txt = |b: &[u8]| {
        if ucs2 {
            ucs2_text(Some(b))
        } else {
            text(Some(b))
        }
    };
    let mut mismatches = Vec::new();
    let mut both = |(v, bad): (u32, bool), field: &'static str| {
        if bad {
            mismatches.push(field);
        }
        u64::from(v)
    };
    let space = both(d.space(), "volume_space_size");
    let path_table_size = both(d.path_table_size(), "path_table_size");
    let widen = |(v, bad): (u16, bool)| (u32::from(v), bad);
    let set_size = both(widen(d.set_size()), "volume_set_size");
    let seq = both(widen(d.sequence()), "volume_sequence_number");
    let block_size = both(widen(d.block_size()), "logical_block_size");
    let header = DescriptorHeader::from_prefix(d.bytes());

    facts.push(Fact::new(
        name("version"),
        Value::Int(u64::from(header.version())),
    ));
    if prefix != "pvd" {
        facts.push(Fact::new(
            name("volume_flags"),
            Value::Int(u64::from(d.flags())),
        ));
        facts.push(Fact::new(
            name("escape_sequences"),
            Value::Bytes(trimmed(Some(d.escapes()))),
        ));
    }
    facts.push(Fact::new(name("system_id"), txt(d.system_id())));
    facts.push(Fact::new(name("volume_id"), txt(d.volume_id())));
    // The image size in blocks: another size of the same files is packing.
    facts.push(
        Fact::packing(name("volume_space_size"), Value::Int(space)).follows(Follows::ImageSize),
    );
    facts.push(Fact::new(name("volume_set_size"), Value::Int(set_size)));
    facts.push(Fact::new(name("volume_sequence_number"), Value::Int(seq)));
    facts.push(Fact::new(
        name("logical_block_size"),
        Value::Int(block_size),
    ));
    facts.push(Fact::packing(
        name("path_table_size"),
        Value::Int(path_table_size),
    ));
    facts.push(Fact::layout(
        name("type_l_path_table"),
        Value::Int(u64::from(d.l_table())),
    ));
    facts.push(Fact::layout(
        name("optional_type_l_path_table"),
        Value::Int(u64::from(d.optional_l_table())),
    ));
    facts.push(Fact::layout(
        name("type_m_path_table"),
        Value::Int(u64::from(d.m_table())),
    ));
    facts.push(Fact::layout(
        name("optional_type_m_path_table"),
        Value::Int(u64::from(d.optional_m_table())),
    ));
    facts.push(Fact::new(name("volume_set_id"), txt(d.volume_set_id())));
    facts.push(Fact::new(name("publisher_id"), txt(d.publisher_id())));
    facts.push(Fact::new(name("data_preparer_id"), txt(d.preparer_id())));
    facts.push(Fact::new(name("application_id"), txt(d.application_id())));
    facts.push(Fact::new(name("copyright_file_id"), txt(d.copyright_id())));
    facts.push(Fact::new(name("abstract_file_id"), txt(d.abstract_id())));
    facts.push(Fact::new(
        name("bibliographic_file_id"),
        txt(d.bibliographic_id()),
    ));
    facts.push(Fact::time(name("creation_date"), d.created()));
    facts.push(Fact::time(name("modification_date"), d.modified()));
    facts.push(Fact::time(name("expiration_date"), d.expires()));
    facts.push(Fact::time(name("effective_date"), d.effective()));
    facts.push(Fact::new(
        name("file_structure_version"),
        Value::Int(u64::from(d.structure_version())),
    ));
    facts.push(Fact::new(
        name("application_use"),
        Value::Bytes(trimmed(Some(d.application_use()))),
    ));
    if !mismatches.is_empty() {
        facts.push(Fact::new(
            name("both_endian_mismatch"),
            Value::Text(mismatches.join(",")),
        ));
    }

    if !matches!(block_size, 512 | 1024 | 2048) {
        return Err(Error::malformed(
            "volume descriptor",
            offset,
            format!("logical block size {block_size} (must be 512, 1024 or 2048)"),
        ));
    }
    let (root, declared) = DirRecord::parse_root(d.root(), offset + ROOT_AT)?;
    let root_fields = [
        ("root.extent", Value::Int(u64::from(root.extent()))),
        ("root.data_length", Value::Int(u64::from(root.data_len()))),
    ];
    for (field, value) in root_fields {
        facts.push(Fact::layout(name(field), value));
    }
    // A root record length other than 34 (NetBSD makefs: 68) is read, and kept
    // as a fact: against an image that has 34 it shows in the report. It is no
    // problem (which would make every comparison of such images exit 2): the
    // image reads in full; it is a warning. Only such images have the fact, so
    // the facts of all others stay as they were.
    if let Some(len) = declared {
        oddities.note(oddity::LONG_ROOT_RECORD, offset + ROOT_AT);
        facts.push(Fact::new(
            name("root.record_length"),
            Value::Int(u64::from(len)),
        ));
    }
    Ok((
        VolumeRoot {
            root,
            block_size: block_size as u32,
        },
        space * block_size,
    ))
}

/// Bytes without trailing zeros and spaces (which are padding).
fn trimmed(b: Option<&[u8]>) -> Vec<u8> {
    let b = b.unwrap_or_default();
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p + 1);
    b[..end].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::iso9660::raw::RecordFixed;
    use crate::model::structure::check_table;

    #[test]
    fn the_descriptors_are_declared_byte_by_byte() {
        assert_eq!(check_table(DescriptorHeader::FIELDS, 7), Ok(()));
        for fields in [
            BootRecord::FIELDS,
            VolumeDescriptor::FIELDS,
            PartitionDescriptor::FIELDS,
        ] {
            assert_eq!(check_table(fields, SECTOR), Ok(()));
            // The header's row, which the byte layout replaces by its fields.
            assert_eq!(
                (fields[0].at, fields[0].len),
                (0, DescriptorHeader::LEN as u64)
            );
        }
        // The root record's row holds a record with a one-byte identifier.
        assert_eq!(
            VolumeDescriptor::FIELDS
                .iter()
                .find(|f| f.at == ROOT_AT)
                .map(|f| f.len),
            Some(RecordFixed::LEN as u64 + 1)
        );
    }
}
