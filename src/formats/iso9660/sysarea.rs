//! The system area (the first 32 KiB of an ISO 9660 image) of hybrid images: an MBR
//! (boot code, disk signature, four partition entries), a GPT (header and partition
//! entries) and an Apple partition map, each field a fact. The bytes these fields
//! do not explain (the boot code, any embedded loader) stay comparable as content.

use crate::bytes::{byte, le16, le32};
use crate::model::span::{Explain, Field, Layout, Owner, Span};
use crate::model::{Fact, Follows, Value};

/// Size of the system area.
pub(crate) const SIZE: usize = 32 * 1024;
/// The MBR boot code ends where the disk signature starts.
const BOOT_CODE_END: usize = 440;
/// Cap on GPT entries read; real images have a handful, the header may claim 128.
const MAX_GPT_ENTRIES: u32 = 256;

/// Reads the structures of the system area into facts (`mbr.*`, `gpt.*`, `apm.*`),
/// and returns the ranges of the area those facts cover, so that the rest can be
/// compared as bytes without reporting a field twice.
pub(crate) fn read(area: &[u8], facts: &mut Vec<Fact>) -> Vec<std::ops::Range<usize>> {
    let mut covered = Vec::new();
    let has_mbr = area.get(510..512) == Some(&[0x55, 0xaa]);
    facts.push(Fact::new("mbr.present", Value::Bool(has_mbr)));
    if has_mbr {
        // A random id unless the producer was told one.
        facts.push(Fact::identifier(
            "mbr.disk_signature",
            Value::Text(format!("{:08x}", le32(area, 440))),
        ));
        facts.push(Fact::new(
            "mbr.reserved",
            Value::Int(u64::from(le16(area, 444))),
        ));
        for i in 0..4 {
            let e = area.get(446 + 16 * i..462 + 16 * i).unwrap_or_default();
            if e.iter().all(|&b| b == 0) {
                continue;
            }
            let p = format!("mbr.partition{}", i + 1);
            // Where a partition lies follows the layout and size of the image
            // (an isohybrid MBR's partition covers the ISO).
            facts.push(Fact::new(
                format!("{p}.status"),
                Value::Int(u64::from(byte(e, 0))),
            ));
            facts.push(Fact::new(
                format!("{p}.type"),
                Value::Text(format!("{:#04x}", byte(e, 4))),
            ));
            facts.push(
                Fact::packing(
                    format!("{p}.chs_start"),
                    Value::Bytes(e.get(1..4).unwrap_or_default().to_vec()),
                )
                .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(
                    format!("{p}.chs_end"),
                    Value::Bytes(e.get(5..8).unwrap_or_default().to_vec()),
                )
                .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(format!("{p}.start_lba"), Value::Int(u64::from(le32(e, 8))))
                    .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(format!("{p}.sectors"), Value::Int(u64::from(le32(e, 12))))
                    .follows(Follows::ImageSize),
            );
        }
        covered.push(BOOT_CODE_END..512);
    }
    if let Some(range) = gpt(area, facts) {
        covered.extend(range);
    }
    if let Some(range) = apm(area, facts) {
        covered.extend(range);
    }
    covered
}

/// A GUID in its usual text form (the first three fields little-endian).
pub(crate) fn guid(b: &[u8]) -> String {
    if b.len() < 16 {
        return String::new();
    }
    format!(
        "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{}",
        le32(b, 0),
        le16(b, 4),
        le16(b, 6),
        b[8],
        b[9],
        b[10..16]
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
    )
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

fn gpt(area: &[u8], facts: &mut Vec<Fact>) -> Option<Vec<std::ops::Range<usize>>> {
    let h = area.get(512..1024)?;
    if h.get(..8) != Some(b"EFI PART") {
        facts.push(Fact::new("gpt.present", Value::Bool(false)));
        return None;
    }
    facts.push(Fact::new("gpt.present", Value::Bool(true)));
    let header_size = le32(h, 12);
    let entries_lba = le64(h, 72);
    let count = le32(h, 80);
    let entry_size = le32(h, 84);
    facts.push(Fact::new(
        "gpt.revision",
        Value::Text(format!("{:#010x}", le32(h, 8))),
    ));
    facts.push(Fact::new(
        "gpt.header_size",
        Value::Int(u64::from(header_size)),
    ));
    // The CRCs follow from the fields they cover, which are reported themselves.
    facts.push(
        Fact::layout(
            "gpt.header_crc32",
            Value::Text(format!("{:08x}", le32(h, 16))),
        )
        .follows(Follows::Group),
    );
    facts.push(Fact::new("gpt.current_lba", Value::Int(le64(h, 24))));
    // The backup header sits at the end of the image.
    let at_end = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
    facts.push(at_end("gpt.backup_lba", le64(h, 32)));
    facts.push(Fact::new("gpt.first_usable_lba", Value::Int(le64(h, 40))));
    facts.push(at_end("gpt.last_usable_lba", le64(h, 48)));
    // A random id unless the producer was told one.
    facts.push(Fact::identifier(
        "gpt.disk_guid",
        Value::Text(guid(h.get(56..72).unwrap_or_default())),
    ));
    facts.push(Fact::new("gpt.entries_lba", Value::Int(entries_lba)));
    facts.push(Fact::new("gpt.entry_count", Value::Int(u64::from(count))));
    facts.push(Fact::new(
        "gpt.entry_size",
        Value::Int(u64::from(entry_size)),
    ));
    facts.push(
        Fact::layout(
            "gpt.entries_crc32",
            Value::Text(format!("{:08x}", le32(h, 88))),
        )
        .follows(Follows::Group),
    );
    let mut covered = Vec::new();
    covered.push(512..1024);
    if !(128..=4096).contains(&entry_size) {
        return Some(covered);
    }
    let (start, size) = (
        usize::try_from(entries_lba).ok()?.checked_mul(512)?,
        entry_size as usize,
    );
    let mut number = 0;
    for i in 0..count.min(MAX_GPT_ENTRIES) as usize {
        let at = start.checked_add(i.checked_mul(size)?)?;
        let Some(e) = area.get(at..at + size) else {
            break;
        };
        covered.push(at..at + size);
        if e.get(..16).is_some_and(|t| t.iter().all(|&b| b == 0)) {
            continue;
        }
        number += 1;
        let p = format!("gpt.partition{}", i + 1);
        facts.push(Fact::new(
            format!("{p}.type_guid"),
            Value::Text(guid(&e[..16])),
        ));
        facts.push(Fact::identifier(
            format!("{p}.unique_guid"),
            Value::Text(guid(e.get(16..32).unwrap_or_default())),
        ));
        // Where a partition lies follows the layout and size of the image
        // (isohybrid partitions cover parts of the ISO).
        let lba = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
        facts.push(lba(format!("{p}.first_lba"), le64(e, 32)));
        facts.push(lba(format!("{p}.last_lba"), le64(e, 40)));
        facts.push(Fact::new(
            format!("{p}.attributes"),
            Value::Text(format!("{:#018x}", le64(e, 48))),
        ));
        let name: Vec<u16> = e
            .get(56..128)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        facts.push(Fact::new(
            format!("{p}.name"),
            Value::Text(String::from_utf16_lossy(&name)),
        ));
    }
    facts.push(Fact::new("gpt.partitions", Value::Int(number)));
    Some(covered)
}

/// The Apple partition map that `-isohybrid-apm-hfsplus` and grub-mkrescue's Mac
/// support write: a driver descriptor ("ER") at 0 and "PM" entries in 2048-byte
/// blocks from block 1.
fn apm(area: &[u8], facts: &mut Vec<Fact>) -> Option<Vec<std::ops::Range<usize>>> {
    if area.get(..2) != Some(b"ER") {
        return None;
    }
    let block = usize::from(u16::from_be_bytes([byte(area, 2), byte(area, 3)]));
    if !matches!(block, 512 | 1024 | 2048) {
        return None;
    }
    let first = area.get(block..block + 512)?;
    if first.get(..2) != Some(b"PM") {
        return None;
    }
    let count = u32::from_be_bytes([
        byte(first, 4),
        byte(first, 5),
        byte(first, 6),
        byte(first, 7),
    ]);
    facts.push(Fact::new("apm.block_size", Value::Int(block as u64)));
    facts.push(Fact::new("apm.entries", Value::Int(u64::from(count))));
    let mut covered = Vec::new();
    covered.push(0..8);
    for i in 0..count.min(64) as usize {
        let at = block * (i + 1);
        let Some(e) = area.get(at..at + 512) else {
            break;
        };
        if e.get(..2) != Some(b"PM") {
            break;
        }
        covered.push(at..at + 136);
        let be32 = |o: usize| {
            u32::from_be_bytes([byte(e, o), byte(e, o + 1), byte(e, o + 2), byte(e, o + 3)])
        };
        let text = |r: std::ops::Range<usize>| {
            let b = e.get(r).unwrap_or_default();
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            Value::Text(String::from_utf8_lossy(&b[..end]).into_owned())
        };
        let p = format!("apm.partition{}", i + 1);
        let blocks = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
        facts.push(blocks(format!("{p}.start"), u64::from(be32(8))));
        facts.push(blocks(format!("{p}.blocks"), u64::from(be32(12))));
        facts.push(Fact::new(format!("{p}.name"), text(16..48)));
        facts.push(Fact::new(format!("{p}.type"), text(48..80)));
        facts.push(Fact::new(
            format!("{p}.status"),
            Value::Text(format!("{:#010x}", be32(88))),
        ));
    }
    Some(covered)
}

/// The spans of the system area's structures: the MBR fields, the GPT header
/// and entries, the Apple partition map, each explained by its facts, and the
/// rest (boot code, embedded loaders), explained by the `system-area` part that
/// is compared like a file. Positions as [`read`] finds them. Past the system
/// area: the GPT's backup header and entries, and the partitions of the three
/// tables as regions, to name unclaimed bytes inside them.
pub(crate) fn spans(data: &[u8], layout: &mut Layout) {
    let area = data.get(..SIZE).unwrap_or(data);
    partition_regions(data, area, layout);
    let fact = |name: &str| Explain::Fact(name.to_owned().into());
    let push = |layout: &mut Layout,
                start: usize,
                len: usize,
                name: String,
                explain: Explain,
                fields: Vec<Field>| {
        layout.push(Span {
            start: start as u64,
            len: len as u64,
            owner: Owner::new("system area", format!("system area: {name}"), explain)
                .with_fields(fields),
        });
    };
    if area.get(510..512) == Some(&[0x55, 0xaa]) {
        push(
            layout,
            440,
            4,
            "MBR disk signature".into(),
            fact("mbr.disk_signature"),
            vec![],
        );
        push(
            layout,
            444,
            2,
            "MBR reserved bytes".into(),
            fact("mbr.reserved"),
            vec![],
        );
        for i in 0..4 {
            let p = format!("mbr.partition{}", i + 1);
            push(
                layout,
                446 + 16 * i,
                16,
                format!("MBR partition entry {}", i + 1),
                fact(&p),
                vec![],
            );
        }
        push(
            layout,
            510,
            2,
            "MBR signature".into(),
            fact("mbr.present"),
            vec![],
        );
    }
    if let Some(h) = area
        .get(512..1024)
        .filter(|h| h.get(..8) == Some(b"EFI PART"))
    {
        let f = |at: u64, len: u64, name: &'static str, explain: Explain| {
            Field::new(at, len, name, explain)
        };
        let fields = vec![
            f(0, 8, "signature", fact("gpt.present")),
            f(8, 4, "revision", fact("gpt.revision")),
            f(12, 4, "header size", fact("gpt.header_size")),
            f(16, 4, "header CRC32", Explain::Derived),
            f(20, 4, "reserved", Explain::Nothing),
            f(24, 8, "current LBA", fact("gpt.current_lba")),
            f(32, 8, "backup LBA", fact("gpt.backup_lba")),
            f(40, 8, "first usable LBA", fact("gpt.first_usable_lba")),
            f(48, 8, "last usable LBA", fact("gpt.last_usable_lba")),
            f(56, 16, "disk GUID", fact("gpt.disk_guid")),
            f(72, 8, "entries LBA", fact("gpt.entries_lba")),
            f(80, 4, "entry count", fact("gpt.entry_count")),
            f(84, 4, "entry size", fact("gpt.entry_size")),
            f(88, 4, "entries CRC32", Explain::Derived),
        ];
        push(
            layout,
            512,
            512,
            "GPT header".into(),
            Explain::Nothing,
            fields.clone(),
        );
        // The backup header at the end of the disk mirrors the primary one, its
        // two LBAs swapped; its entries are where it says.
        let backup = le64(h, 32).checked_mul(512);
        let backup_header = backup.and_then(|at| {
            let at = usize::try_from(at).ok()?;
            data.get(at..at.checked_add(512)?).map(|b| (at, b))
        });
        if let Some((at, bh)) = backup_header.filter(|(_, b)| b.get(..8) == Some(b"EFI PART")) {
            let mut fields = fields;
            for field in &mut fields {
                if field.at == 24 {
                    field.explain = fact("gpt.backup_lba");
                } else if field.at == 32 {
                    field.explain = fact("gpt.current_lba");
                } else if field.at == 72 {
                    field.explain = Explain::Derived;
                }
            }
            layout.push(Span {
                start: at as u64,
                len: 512,
                owner: Owner::new("system area", "GPT backup header", Explain::Nothing)
                    .with_fields(fields),
            });
            let (entries_lba, count, size) = (le64(bh, 72), le32(bh, 80), le32(bh, 84));
            if (128..=4096).contains(&size) {
                for i in 0..u64::from(count.min(MAX_GPT_ENTRIES)) {
                    let Some(start) = entries_lba
                        .checked_mul(512)
                        .and_then(|s| s.checked_add(i * u64::from(size)))
                    else {
                        break;
                    };
                    if start + u64::from(size) > data.len() as u64 {
                        break;
                    }
                    layout.push(Span {
                        start,
                        len: u64::from(size),
                        owner: Owner::new(
                            "system area",
                            format!("GPT backup partition entry {}", i + 1),
                            fact(&format!("gpt.partition{}", i + 1)),
                        ),
                    });
                }
            }
        }
        let (entries_lba, count, size) = (le64(h, 72), le32(h, 80), le32(h, 84));
        if (128..=4096).contains(&size) {
            let start = usize::try_from(entries_lba)
                .ok()
                .and_then(|l| l.checked_mul(512));
            for i in 0..count.min(MAX_GPT_ENTRIES) as usize {
                let Some(at) = start.and_then(|s| s.checked_add(i * size as usize)) else {
                    break;
                };
                if at + size as usize > area.len() {
                    break;
                }
                let p = format!("gpt.partition{}", i + 1);
                push(
                    layout,
                    at,
                    size as usize,
                    format!("GPT partition entry {}", i + 1),
                    fact(&p),
                    vec![],
                );
            }
        }
    }
    if area.get(..2) == Some(b"ER") {
        let block = usize::from(u16::from_be_bytes([byte(area, 2), byte(area, 3)]));
        let first = area.get(block..block + 512);
        if matches!(block, 512 | 1024 | 2048) && first.and_then(|f| f.get(..2)) == Some(b"PM") {
            let count = first.map_or(0, |f| le32_be(f, 4));
            push(
                layout,
                0,
                8,
                "APM driver descriptor".into(),
                fact("apm"),
                vec![],
            );
            for i in 0..count.min(64) as usize {
                let at = block * (i + 1);
                match area.get(at..at + 2) {
                    Some(b"PM") => {}
                    _ => break,
                }
                let p = format!("apm.partition{}", i + 1);
                push(
                    layout,
                    at,
                    136,
                    format!("APM partition entry {}", i + 1),
                    fact(&p),
                    vec![],
                );
            }
        }
    }
    layout.push_coarse(Span {
        start: 0,
        len: area.len() as u64,
        owner: Owner::new(
            "system area",
            "system area: boot code and other bytes",
            Explain::Special("system-area".into()),
        ),
    });
    layout.region(0, area.len() as u64, "the system area");
}

/// The partitions the MBR, the GPT and the Apple partition map describe, as
/// regions of the image.
fn partition_regions(data: &[u8], area: &[u8], layout: &mut Layout) {
    let len = data.len() as u64;
    let mut region = |start: u64, size: u64, name: String| {
        if start < len && size > 0 && size < len {
            layout.region(start, size.min(len - start), name);
        }
    };
    if area.get(510..512) == Some(&[0x55, 0xaa]) {
        for i in 0..4 {
            let e = area.get(446 + 16 * i..462 + 16 * i).unwrap_or_default();
            let (start, sectors) = (u64::from(le32(e, 8)), u64::from(le32(e, 12)));
            region(
                start.saturating_mul(512),
                sectors.saturating_mul(512),
                format!("MBR partition {} (type {:#04x})", i + 1, byte(e, 4)),
            );
        }
    }
    if let Some(h) = area
        .get(512..1024)
        .filter(|h| h.get(..8) == Some(b"EFI PART"))
    {
        let (entries_lba, count, size) = (le64(h, 72), le32(h, 80), le32(h, 84));
        if (128..=4096).contains(&size) {
            for i in 0..u64::from(count.min(MAX_GPT_ENTRIES)) {
                let at = entries_lba.saturating_mul(512) + i * u64::from(size);
                let Some(e) = usize::try_from(at)
                    .ok()
                    .and_then(|at| area.get(at..at + size as usize))
                else {
                    break;
                };
                let (first, last) = (le64(e, 32), le64(e, 40));
                if first == 0 || last < first {
                    continue;
                }
                let name: Vec<u16> = e
                    .get(56..128)
                    .unwrap_or_default()
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .take_while(|&c| c != 0)
                    .collect();
                region(
                    first.saturating_mul(512),
                    (last - first).saturating_add(1).saturating_mul(512),
                    format!(
                        "GPT partition {} ({:?})",
                        i + 1,
                        String::from_utf16_lossy(&name)
                    ),
                );
            }
        }
    }
    if area.get(..2) == Some(b"ER") {
        let block = u64::from(u16::from_be_bytes([byte(area, 2), byte(area, 3)]));
        if matches!(block, 512 | 1024 | 2048) {
            for i in 0..64u64 {
                let at = (block * (i + 1)) as usize;
                let Some(e) = area.get(at..at + 512).filter(|e| e.get(..2) == Some(b"PM")) else {
                    break;
                };
                let text = |r: std::ops::Range<usize>| {
                    let b = e.get(r).unwrap_or_default();
                    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
                    String::from_utf8_lossy(&b[..end]).into_owned()
                };
                region(
                    u64::from(le32_be(e, 8)) * block,
                    u64::from(le32_be(e, 12)) * block,
                    format!(
                        "APM partition {} ({:?}, {:?})",
                        i + 1,
                        text(16..48),
                        text(48..80)
                    ),
                );
            }
        }
    }
}

fn le32_be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([
        byte(b, at),
        byte(b, at + 1),
        byte(b, at + 2),
        byte(b, at + 3),
    ])
}

/// The system area with the bytes that facts already report zeroed, so that a
/// comparison of what is left names only unexplained bytes (boot code, embedded
/// loaders, padding).
pub(crate) fn unexplained(area: &[u8], covered: &[std::ops::Range<usize>]) -> Vec<u8> {
    let mut rest = area.to_vec();
    for r in covered {
        if let Some(part) = rest.get_mut(r.clone()) {
            part.fill(0);
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_text_form() {
        let raw = [
            0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26,
            0x99, 0xc7,
        ];
        assert_eq!(guid(&raw), "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    }

    #[test]
    fn mbr_and_gpt() {
        let mut area = vec![0u8; SIZE];
        area[..440].fill(0xfa);
        area[440..444].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        area[446] = 0x80;
        area[450] = 0x00;
        area[462 + 4] = 0xef;
        area[462 + 8..462 + 12].copy_from_slice(&136u32.to_le_bytes());
        area[510] = 0x55;
        area[511] = 0xaa;
        area[512..520].copy_from_slice(b"EFI PART");
        area[512 + 72..512 + 80].copy_from_slice(&2u64.to_le_bytes());
        area[512 + 80..512 + 84].copy_from_slice(&4u32.to_le_bytes());
        area[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        area[1024] = 0xa2;
        area[1024 + 56] = b'E';
        let mut facts = Vec::new();
        let covered = read(&area, &mut facts);
        let get = |n: &str| facts.iter().find(|f| f.name == n).map(|f| f.value.clone());
        assert_eq!(
            get("mbr.disk_signature"),
            Some(Value::Text("12345678".into()))
        );
        assert_eq!(get("mbr.partition2.type"), Some(Value::Text("0xef".into())));
        assert_eq!(get("mbr.partition2.start_lba"), Some(Value::Int(136)));
        assert_eq!(get("gpt.partitions"), Some(Value::Int(1)));
        assert_eq!(get("gpt.partition1.name"), Some(Value::Text("E".into())));
        let rest = unexplained(&area, &covered);
        assert!(rest[440..].iter().all(|&b| b == 0) && rest[..440].iter().all(|&b| b == 0xfa));
    }

    #[test]
    fn hostile_gpt_counts_are_bounded() {
        let mut area = vec![0u8; SIZE];
        area[512..520].copy_from_slice(b"EFI PART");
        area[512 + 72..512 + 80].copy_from_slice(&u64::MAX.to_le_bytes());
        area[512 + 80..512 + 84].copy_from_slice(&u32::MAX.to_le_bytes());
        area[512 + 84..512 + 88].copy_from_slice(&128u32.to_le_bytes());
        let mut facts = Vec::new();
        read(&area, &mut facts);
        assert!(facts.len() < 40);
    }
}
