//! The volume descriptor set (ECMA-119 8): primary, supplementary (Joliet), boot
//! record, partition and terminator. Every field becomes an image-level fact.

use super::oddity::{self, Oddities};
use super::raw::{both16, both32, long_date, ucs2_to_utf8, DirRecord};
use crate::bytes::{be32, byte, le32, Bytes};
use crate::error::{Error, Result};
use crate::model::{Fact, Follows, Value};

/// Size of a volume descriptor and of the sectors the descriptor set uses.
pub(crate) const SECTOR: u64 = 2048;
/// The descriptor set starts at sector 16, after the system area.
const FIRST_DESCRIPTOR: u64 = 16;
/// A real image has a handful of descriptors; stop looking for the terminator after this.
const MAX_DESCRIPTORS: u64 = 256;

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
        if d.get(1..6) != Some(b"CD001") {
            return Err(Error::malformed(
                "volume descriptor",
                offset,
                "no CD001 standard identifier (not ISO 9660, or the descriptor set is damaged)",
            ));
        }
        let kind = byte(d, 0);
        match kind {
            0 => {
                sequence.push("boot_record");
                boot_record(d, &mut facts);
                if d.get(7..30) == Some(b"EL TORITO SPECIFICATION") && el_torito_catalog.is_none() {
                    el_torito_catalog = Some(le32(d, 71));
                }
            }
            1 if primary.is_none() => {
                sequence.push("primary");
                let (root, bytes) = volume(d, offset, "pvd", false, &mut facts, &mut oddities)?;
                volume_bytes = bytes;
                primary = Some(root);
            }
            2 => {
                let escapes = d.get(88..120).unwrap_or_default();
                let is_joliet = byte(d, 6) == 1
                    && [&b"%/@"[..], b"%/C", b"%/E"]
                        .iter()
                        .any(|e| escapes.starts_with(e));
                if is_joliet && joliet.is_none() {
                    sequence.push("joliet");
                    let (root, _) = volume(d, offset, "joliet", true, &mut facts, &mut oddities)?;
                    joliet = Some(root);
                } else {
                    sequence.push("supplementary");
                    supplementary += 1;
                    let prefix = format!("svd{supplementary}");
                    volume(d, offset, &prefix, false, &mut facts, &mut oddities)?;
                }
            }
            3 => {
                sequence.push("partition");
                partitions += 1;
                facts.push(Fact::new(
                    format!("partition{partitions}.system_id"),
                    text(d.get(8..40)),
                ));
                facts.push(Fact::new(
                    format!("partition{partitions}.volume_partition_id"),
                    text(d.get(40..72)),
                ));
                facts.push(Fact::layout(
                    format!("partition{partitions}.location"),
                    Value::Int(u64::from(both32(d, 72).0)),
                ));
                facts.push(Fact::new(
                    format!("partition{partitions}.size"),
                    Value::Int(u64::from(both32(d, 80).0)),
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

fn boot_record(d: &[u8], facts: &mut Vec<Fact>) {
    facts.push(Fact::new("boot_record.boot_system_id", text(d.get(7..39))));
    facts.push(Fact::new("boot_record.boot_id", text(d.get(39..71))));
    // El Torito keeps the boot catalog's block in the first word of the system use.
    facts.push(Fact::layout(
        "boot_record.catalog_lba",
        Value::Int(u64::from(le32(d, 71))),
    ));
}

/// A primary or supplementary descriptor: its facts, its root and the volume size.
fn volume<'a>(
    d: &'a [u8],
    offset: u64,
    prefix: &str,
    ucs2: bool,
    facts: &mut Vec<Fact>,
    oddities: &mut Oddities,
) -> Result<(VolumeRoot<'a>, u64)> {
    let name = |field: &str| format!("{prefix}.{field}");
    let txt = |r: std::ops::Range<usize>| {
        if ucs2 {
            ucs2_text(d.get(r))
        } else {
            text(d.get(r))
        }
    };
    let mut mismatches = Vec::new();
    let mut num32 = |at: usize, field: &'static str| {
        let (v, bad) = both32(d, at);
        if bad {
            mismatches.push(field);
        }
        u64::from(v)
    };
    let space = num32(80, "volume_space_size");
    let path_table_size = num32(132, "path_table_size");
    let mut num16 = |at: usize, field: &'static str| {
        let (v, bad) = both16(d, at);
        if bad {
            mismatches.push(field);
        }
        u64::from(v)
    };
    let set_size = num16(120, "volume_set_size");
    let seq = num16(124, "volume_sequence_number");
    let block_size = num16(128, "logical_block_size");

    facts.push(Fact::new(
        name("version"),
        Value::Int(u64::from(byte(d, 6))),
    ));
    if prefix != "pvd" {
        facts.push(Fact::new(
            name("volume_flags"),
            Value::Int(u64::from(byte(d, 7))),
        ));
        facts.push(Fact::new(
            name("escape_sequences"),
            Value::Bytes(trimmed(d.get(88..120))),
        ));
    }
    facts.push(Fact::new(name("system_id"), txt(8..40)));
    facts.push(Fact::new(name("volume_id"), txt(40..72)));
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
        Value::Int(u64::from(le32(d, 140))),
    ));
    facts.push(Fact::layout(
        name("optional_type_l_path_table"),
        Value::Int(u64::from(le32(d, 144))),
    ));
    facts.push(Fact::layout(
        name("type_m_path_table"),
        Value::Int(u64::from(be32(d, 148))),
    ));
    facts.push(Fact::layout(
        name("optional_type_m_path_table"),
        Value::Int(u64::from(be32(d, 152))),
    ));
    facts.push(Fact::new(name("volume_set_id"), txt(190..318)));
    facts.push(Fact::new(name("publisher_id"), txt(318..446)));
    facts.push(Fact::new(name("data_preparer_id"), txt(446..574)));
    facts.push(Fact::new(name("application_id"), txt(574..702)));
    facts.push(Fact::new(name("copyright_file_id"), txt(702..739)));
    facts.push(Fact::new(name("abstract_file_id"), txt(739..776)));
    facts.push(Fact::new(name("bibliographic_file_id"), txt(776..813)));
    facts.push(Fact::time(
        name("creation_date"),
        long_date(d.get(813..830).unwrap_or_default()),
    ));
    facts.push(Fact::time(
        name("modification_date"),
        long_date(d.get(830..847).unwrap_or_default()),
    ));
    facts.push(Fact::time(
        name("expiration_date"),
        long_date(d.get(847..864).unwrap_or_default()),
    ));
    facts.push(Fact::time(
        name("effective_date"),
        long_date(d.get(864..881).unwrap_or_default()),
    ));
    facts.push(Fact::new(
        name("file_structure_version"),
        Value::Int(u64::from(byte(d, 881))),
    ));
    facts.push(Fact::new(
        name("application_use"),
        Value::Bytes(trimmed(d.get(883..1395))),
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
    let root_raw = d.get(156..190).unwrap_or_default();
    let (root, declared) = DirRecord::parse_root(root_raw, offset + 156)?;
    let root_fields = [
        ("root.extent", Value::Int(u64::from(root.extent))),
        ("root.data_length", Value::Int(u64::from(root.data_len))),
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
        oddities.note(oddity::LONG_ROOT_RECORD, offset + 156);
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
