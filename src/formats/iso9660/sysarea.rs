//! The system area (the first 32 KiB of an ISO 9660 image) of hybrid images: an MBR
//! (boot code, disk signature, four partition entries), a GPT (header and partition
//! entries) and an Apple partition map, each field a fact. The bytes these fields
//! do not explain (the boot code, any embedded loader) stay comparable as content.

use crate::bytes::{byte, le16, le32};
use crate::model::{Fact, Value};

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
        facts.push(Fact::new(
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
            facts.push(Fact::new(
                format!("{p}.status"),
                Value::Int(u64::from(byte(e, 0))),
            ));
            facts.push(Fact::new(
                format!("{p}.type"),
                Value::Text(format!("{:#04x}", byte(e, 4))),
            ));
            facts.push(Fact::new(
                format!("{p}.chs_start"),
                Value::Bytes(e.get(1..4).unwrap_or_default().to_vec()),
            ));
            facts.push(Fact::new(
                format!("{p}.chs_end"),
                Value::Bytes(e.get(5..8).unwrap_or_default().to_vec()),
            ));
            facts.push(Fact::new(
                format!("{p}.start_lba"),
                Value::Int(u64::from(le32(e, 8))),
            ));
            facts.push(Fact::new(
                format!("{p}.sectors"),
                Value::Int(u64::from(le32(e, 12))),
            ));
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
    facts.push(Fact::layout(
        "gpt.header_crc32",
        Value::Text(format!("{:08x}", le32(h, 16))),
    ));
    facts.push(Fact::new("gpt.current_lba", Value::Int(le64(h, 24))));
    facts.push(Fact::new("gpt.backup_lba", Value::Int(le64(h, 32))));
    facts.push(Fact::new("gpt.first_usable_lba", Value::Int(le64(h, 40))));
    facts.push(Fact::new("gpt.last_usable_lba", Value::Int(le64(h, 48))));
    facts.push(Fact::new(
        "gpt.disk_guid",
        Value::Text(guid(h.get(56..72).unwrap_or_default())),
    ));
    facts.push(Fact::new("gpt.entries_lba", Value::Int(entries_lba)));
    facts.push(Fact::new("gpt.entry_count", Value::Int(u64::from(count))));
    facts.push(Fact::new(
        "gpt.entry_size",
        Value::Int(u64::from(entry_size)),
    ));
    facts.push(Fact::layout(
        "gpt.entries_crc32",
        Value::Text(format!("{:08x}", le32(h, 88))),
    ));
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
        facts.push(Fact::new(
            format!("{p}.unique_guid"),
            Value::Text(guid(e.get(16..32).unwrap_or_default())),
        ));
        facts.push(Fact::new(format!("{p}.first_lba"), Value::Int(le64(e, 32))));
        facts.push(Fact::new(format!("{p}.last_lba"), Value::Int(le64(e, 40))));
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
        facts.push(Fact::new(
            format!("{p}.start"),
            Value::Int(u64::from(be32(8))),
        ));
        facts.push(Fact::new(
            format!("{p}.blocks"),
            Value::Int(u64::from(be32(12))),
        ));
        facts.push(Fact::new(format!("{p}.name"), text(16..48)));
        facts.push(Fact::new(format!("{p}.type"), text(48..80)));
        facts.push(Fact::new(
            format!("{p}.status"),
            Value::Text(format!("{:#010x}", be32(88))),
        ));
    }
    Some(covered)
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
