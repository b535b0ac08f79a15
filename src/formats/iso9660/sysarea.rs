//! The system area (the first 32 KiB of an ISO 9660 image) of hybrid images: an MBR
//! (boot code, disk signature, four partition entries), a GPT (header and partition
//! entries) and an Apple partition map, each field a fact. The bytes these fields
//! do not explain (the boot code, any embedded loader) stay comparable as content.

use super::descriptor::own_fact;
use crate::model::span::{Explain, Field, Layout, Owner, Span};
use crate::model::structure::{
    field_at, fields_at, fields_under, structure, Array, Be16, Be32, Le16, Le32, Le64, Raw, U8,
};
use crate::model::{Fact, Follows, Value};

/// Size of the system area.
pub(crate) const SIZE: usize = 32 * 1024;
/// The MBR boot code ends where the disk signature starts.
const BOOT_CODE_END: usize = 440;

structure! {
    /// The end of an MBR, after its boot code (at [`BOOT_CODE_END`]): each
    /// field is a span of its own, the partition table one per entry.
    pub(crate) struct MbrTail[72] {
        disk_signature: 0, 4, Le32, "MBR disk signature", Explain::fact_named("mbr.disk_signature");
        reserved: 4, 2, Le16, "MBR reserved bytes", Explain::fact_named("mbr.reserved");
        /// Four [`MbrPartition`]s.
        partitions: 6, 64, Raw, "MBR partition entries", Explain::Nothing;
        /// 0x55 0xAA.
        signature: 70, 2, Array<2>, "MBR signature", Explain::fact_named("mbr.present");
    }
}

/// Where the partition table is in [`MbrTail`].
const MBR_PARTITIONS_AT: u64 = field_at(MbrTail::FIELDS, "MBR partition entries");

impl<'a> MbrTail<'a> {
    /// The MBR of a system area, when it has the boot signature.
    fn of(area: &'a [u8]) -> Option<MbrTail<'a>> {
        let tail = MbrTail::new(area.get(BOOT_CODE_END..)?)?;
        (tail.signature() == [0x55, 0xaa]).then_some(tail)
    }

    /// Its four partition entries.
    fn entries(&self) -> impl Iterator<Item = MbrPartition<'a>> {
        self.partitions()
            .chunks_exact(MbrPartition::LEN)
            .filter_map(MbrPartition::new)
    }
}

/// The fields of a partition table's slot, facts named under `p`: an empty
/// slot has no facts (the reader makes none), so none of its fields say one;
/// the owner's explanation holds for all its bytes.
fn slot_fields(defs: &[crate::model::structure::FieldDef], p: &str, used: bool) -> Vec<Field> {
    if used {
        fields_under(defs, 0, Some(p))
    } else {
        Vec::new()
    }
}

impl MbrPartition<'_> {
    /// Whether the slot holds a partition (the reader's test: a byte not 0).
    fn used(&self) -> bool {
        self.bytes().iter().any(|&b| b != 0)
    }
}

structure! {
    /// An MBR partition entry, facts named under `mbr.partition1` ...
    /// ([`own_fact`]). Where a partition lies follows the layout and size of
    /// the image (an isohybrid MBR's partition covers the ISO).
    pub(crate) struct MbrPartition[16] {
        status: 0, 1, U8, "status", own_fact(".status");
        chs_start: 1, 3, Raw, "CHS start", own_fact(".chs_start");
        kind: 4, 1, U8, "type", own_fact(".type");
        chs_end: 5, 3, Raw, "CHS end", own_fact(".chs_end");
        start_lba: 8, 4, Le32, "start LBA", own_fact(".start_lba");
        sectors: 12, 4, Le32, "sectors", own_fact(".sectors");
    }
}

/// Where the GPT header is: LBA 1.
const GPT_AT: usize = 512;
/// The GPT header's fields that a backup header swaps or derives.
const CURRENT_LBA_AT: u64 = field_at(GptHeader::FIELDS, "current LBA");
const BACKUP_LBA_AT: u64 = field_at(GptHeader::FIELDS, "backup LBA");
const ENTRIES_LBA_AT: u64 = field_at(GptHeader::FIELDS, "entries LBA");

structure! {
    /// A GPT header (UEFI 5.3.2), in the LBA after the MBR and, as the
    /// backup, in the disk's last.
    pub(crate) struct GptHeader[92] {
        signature: 0, 8, Raw, "signature", Explain::fact_named("gpt.present");
        revision: 8, 4, Le32, "revision", Explain::fact_named("gpt.revision");
        header_size: 12, 4, Le32, "header size", Explain::fact_named("gpt.header_size");
        header_crc: 16, 4, Le32, "header CRC32", Explain::Derived;
        reserved: 20, 4, Raw, "reserved", Explain::Nothing;
        current_lba: 24, 8, Le64, "current LBA", Explain::fact_named("gpt.current_lba");
        backup_lba: 32, 8, Le64, "backup LBA", Explain::fact_named("gpt.backup_lba");
        first_usable: 40, 8, Le64, "first usable LBA", Explain::fact_named("gpt.first_usable_lba");
        last_usable: 48, 8, Le64, "last usable LBA", Explain::fact_named("gpt.last_usable_lba");
        disk_guid: 56, 16, Guid<'static>, "disk GUID", Explain::fact_named("gpt.disk_guid");
        entries_lba: 72, 8, Le64, "entries LBA", Explain::fact_named("gpt.entries_lba");
        entry_count: 80, 4, Le32, "entry count", Explain::fact_named("gpt.entry_count");
        entry_size: 84, 4, Le32, "entry size", Explain::fact_named("gpt.entry_size");
        entries_crc: 88, 4, Le32, "entries CRC32", Explain::Derived;
    }
}

impl<'a> GptHeader<'a> {
    /// The header at the start of `b`, when it has the GPT signature.
    fn of(b: &'a [u8]) -> Option<GptHeader<'a>> {
        GptHeader::new(b).filter(|h| h.signature() == b"EFI PART")
    }
}

structure! {
    /// A GPT partition entry (UEFI 5.3.3), facts named under
    /// `gpt.partition1` ... ([`own_fact`]); entries may be longer.
    pub(crate) struct GptEntry[128] {
        type_guid: 0, 16, Guid<'static>, "type GUID", own_fact(".type_guid");
        unique_guid: 16, 16, Guid<'static>, "unique GUID", own_fact(".unique_guid");
        first_lba: 32, 8, Le64, "first LBA", own_fact(".first_lba");
        last_lba: 40, 8, Le64, "last LBA", own_fact(".last_lba");
        attributes: 48, 8, Le64, "attributes", own_fact(".attributes");
        /// UTF-16, up to a zero.
        name: 56, 72, Raw, "name", own_fact(".name");
    }
}

structure! {
    /// The driver descriptor block of an Apple partition map, at byte 0.
    pub(crate) struct ApmDriver[8] {
        /// "ER".
        signature: 0, 2, Array<2>, "signature", Explain::fact_named("apm");
        block_size: 2, 2, Be16, "block size", Explain::fact_named("apm.block_size");
        block_count: 4, 4, Be32, "block count", Explain::fact_named("apm");
    }
}

impl<'a> ApmDriver<'a> {
    /// The map's block size, when `area` starts with a driver descriptor
    /// of a block size an ISO hybrid uses.
    pub(crate) fn block_of(area: &'a [u8]) -> Option<usize> {
        let d = ApmDriver::new(area).filter(|d| d.signature() == *b"ER")?;
        let block = usize::from(d.block_size());
        matches!(block, 512 | 1024 | 2048).then_some(block)
    }
}

structure! {
    /// The part of an Apple partition map entry ("PM", one per block from
    /// block 1) that is read, facts named under `apm.partition1` ...
    /// ([`own_fact`]; a field without a fact of its own is the entry's).
    pub(crate) struct ApmEntry[136] {
        /// "PM".
        signature: 0, 2, Array<2>, "signature", own_fact(".");
        reserved: 2, 2, Raw, "reserved", own_fact(".");
        map_entries: 4, 4, Be32, "map entries", own_fact(".");
        start: 8, 4, Be32, "start block", own_fact(".start");
        blocks: 12, 4, Be32, "blocks", own_fact(".blocks");
        name: 16, 32, Raw, "name", own_fact(".name");
        kind: 48, 32, Raw, "type", own_fact(".type");
        data_area: 80, 8, Raw, "data area", own_fact(".");
        status: 88, 4, Be32, "status", own_fact(".status");
        boot: 92, 44, Raw, "boot code fields", own_fact(".");
    }
}

/// An APM text field: up to its first zero.
fn apm_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl GptEntry<'_> {
    /// Whether the slot holds a partition (a type GUID).
    fn used(&self) -> bool {
        self.type_guid().bytes().iter().any(|&b| b != 0)
    }

    /// The partition's name.
    fn name_text(&self) -> String {
        let name: Vec<u16> = self
            .name()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&c| c != 0)
            .collect();
        String::from_utf16_lossy(&name)
    }
}
/// Cap on GPT entries read; real images have a handful, the header may claim 128.
const MAX_GPT_ENTRIES: u32 = 256;

/// Reads the structures of the system area into facts (`mbr.*`, `gpt.*`, `apm.*`),
/// and returns the ranges of the area those facts cover, so that the rest can be
/// compared as bytes without reporting a field twice.
pub(crate) fn read(area: &[u8], facts: &mut Vec<Fact>) -> Vec<std::ops::Range<usize>> {
    let mut covered = Vec::new();
    let mbr = MbrTail::of(area);
    facts.push(Fact::new("mbr.present", Value::Bool(mbr.is_some())));
    if let Some(mbr) = mbr {
        // A random id unless the producer was told one.
        facts.push(Fact::identifier(
            "mbr.disk_signature",
            Value::Text(format!("{:08x}", mbr.disk_signature())),
        ));
        facts.push(Fact::new(
            "mbr.reserved",
            Value::Int(u64::from(mbr.reserved())),
        ));
        for (i, e) in mbr.entries().enumerate() {
            if !e.used() {
                continue;
            }
            let p = format!("mbr.partition{}", i + 1);
            // Where a partition lies follows the layout and size of the image
            // (an isohybrid MBR's partition covers the ISO).
            facts.push(Fact::new(
                format!("{p}.status"),
                Value::Int(u64::from(e.status())),
            ));
            facts.push(Fact::new(
                format!("{p}.type"),
                Value::Text(format!("{:#04x}", e.kind())),
            ));
            facts.push(
                Fact::packing(
                    format!("{p}.chs_start"),
                    Value::Bytes(e.chs_start().to_vec()),
                )
                .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(format!("{p}.chs_end"), Value::Bytes(e.chs_end().to_vec()))
                    .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(
                    format!("{p}.start_lba"),
                    Value::Int(u64::from(e.start_lba())),
                )
                .follows(Follows::ImageSize),
            );
            facts.push(
                Fact::packing(format!("{p}.sectors"), Value::Int(u64::from(e.sectors())))
                    .follows(Follows::ImageSize),
            );
        }
        covered.push(BOOT_CODE_END..BOOT_CODE_END + MbrTail::LEN);
    }
    if let Some(range) = gpt(area, facts) {
        covered.extend(range);
    }
    if let Some(range) = apm(area, facts) {
        covered.extend(range);
    }
    covered
}

structure! {
    /// A GUID as stored: the first three fields little-endian.
    pub(crate) struct Guid[16] {
        data1: 0, 4, Le32, "data 1", Explain::Nothing;
        data2: 4, 2, Le16, "data 2", Explain::Nothing;
        data3: 6, 2, Le16, "data 3", Explain::Nothing;
        data4: 8, 2, Array<2>, "data 4", Explain::Nothing;
        node: 10, 6, Array<6>, "node", Explain::Nothing;
    }
}

/// A GUID in its usual text form.
pub(crate) fn guid(g: Guid<'_>) -> String {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
    format!(
        "{:08X}-{:04X}-{:04X}-{}-{}",
        g.data1(),
        g.data2(),
        g.data3(),
        hex(&g.data4()),
        hex(&g.node()),
    )
}

fn gpt(area: &[u8], facts: &mut Vec<Fact>) -> Option<Vec<std::ops::Range<usize>>> {
    let sector = area.get(GPT_AT..GPT_AT + 512)?;
    let Some(h) = GptHeader::of(sector) else {
        facts.push(Fact::new("gpt.present", Value::Bool(false)));
        return None;
    };
    facts.push(Fact::new("gpt.present", Value::Bool(true)));
    let header_size = h.header_size();
    let entries_lba = h.entries_lba();
    let count = h.entry_count();
    let entry_size = h.entry_size();
    facts.push(Fact::new(
        "gpt.revision",
        Value::Text(format!("{:#010x}", h.revision())),
    ));
    facts.push(Fact::new(
        "gpt.header_size",
        Value::Int(u64::from(header_size)),
    ));
    // The CRCs follow from the fields they cover, which are reported themselves.
    facts.push(
        Fact::layout(
            "gpt.header_crc32",
            Value::Text(format!("{:08x}", h.header_crc())),
        )
        .follows(Follows::Group),
    );
    facts.push(Fact::new("gpt.current_lba", Value::Int(h.current_lba())));
    // The backup header sits at the end of the image.
    let at_end = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
    facts.push(at_end("gpt.backup_lba", h.backup_lba()));
    facts.push(Fact::new(
        "gpt.first_usable_lba",
        Value::Int(h.first_usable()),
    ));
    facts.push(at_end("gpt.last_usable_lba", h.last_usable()));
    // A random id unless the producer was told one.
    facts.push(Fact::identifier(
        "gpt.disk_guid",
        Value::Text(guid(h.disk_guid())),
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
            Value::Text(format!("{:08x}", h.entries_crc())),
        )
        .follows(Follows::Group),
    );
    let mut covered = Vec::new();
    covered.push(GPT_AT..GPT_AT + 512);
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
        let Some(e) = bytes_at(area, at, size).and_then(GptEntry::new) else {
            break;
        };
        covered.push(at..at + size);
        if !e.used() {
            continue;
        }
        number += 1;
        let p = format!("gpt.partition{}", i + 1);
        facts.push(Fact::new(
            format!("{p}.type_guid"),
            Value::Text(guid(e.type_guid())),
        ));
        facts.push(Fact::identifier(
            format!("{p}.unique_guid"),
            Value::Text(guid(e.unique_guid())),
        ));
        // Where a partition lies follows the layout and size of the image
        // (isohybrid partitions cover parts of the ISO).
        let lba = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
        facts.push(lba(format!("{p}.first_lba"), e.first_lba()));
        facts.push(lba(format!("{p}.last_lba"), e.last_lba()));
        facts.push(Fact::new(
            format!("{p}.attributes"),
            Value::Text(format!("{:#018x}", e.attributes())),
        ));
        facts.push(Fact::new(format!("{p}.name"), Value::Text(e.name_text())));
    }
    facts.push(Fact::new("gpt.partitions", Value::Int(number)));
    Some(covered)
}

/// The Apple partition map that `-isohybrid-apm-hfsplus` and grub-mkrescue's Mac
/// support write: a driver descriptor ("ER") at 0 and "PM" entries in 2048-byte
/// blocks from block 1.
fn apm(area: &[u8], facts: &mut Vec<Fact>) -> Option<Vec<std::ops::Range<usize>>> {
    let block = ApmDriver::block_of(area)?;
    let first = area.get(block..block + 512).and_then(ApmEntry::new)?;
    if first.signature() != *b"PM" {
        return None;
    }
    let count = first.map_entries();
    facts.push(Fact::new("apm.block_size", Value::Int(block as u64)));
    facts.push(Fact::new("apm.entries", Value::Int(u64::from(count))));
    let mut covered = Vec::new();
    covered.push(0..ApmDriver::LEN);
    for i in 0..count.min(64) as usize {
        let at = block * (i + 1);
        let Some(e) = area.get(at..at + 512).and_then(ApmEntry::new) else {
            break;
        };
        if e.signature() != *b"PM" {
            break;
        }
        covered.push(at..at + ApmEntry::LEN);
        let p = format!("apm.partition{}", i + 1);
        let blocks = |name, v| Fact::packing(name, Value::Int(v)).follows(Follows::ImageSize);
        facts.push(blocks(format!("{p}.start"), u64::from(e.start())));
        facts.push(blocks(format!("{p}.blocks"), u64::from(e.blocks())));
        facts.push(Fact::new(
            format!("{p}.name"),
            Value::Text(apm_text(e.name())),
        ));
        facts.push(Fact::new(
            format!("{p}.type"),
            Value::Text(apm_text(e.kind())),
        ));
        facts.push(Fact::new(
            format!("{p}.status"),
            Value::Text(format!("{:#010x}", e.status())),
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
    if MbrTail::of(area).is_some() {
        for def in MbrTail::FIELDS {
            let at = BOOT_CODE_END + def.at as usize;
            if def.at != MBR_PARTITIONS_AT {
                push(
                    layout,
                    at,
                    def.len as usize,
                    def.name.into(),
                    def.explain.clone(),
                    vec![],
                );
                continue;
            }
            for i in 0..(def.len as usize / MbrPartition::LEN) {
                let p = format!("mbr.partition{}", i + 1);
                let start = at + MbrPartition::LEN * i;
                let entry = area.get(start..).and_then(MbrPartition::new);
                push(
                    layout,
                    start,
                    MbrPartition::LEN,
                    format!("MBR partition entry {}", i + 1),
                    fact(&p),
                    slot_fields(MbrPartition::FIELDS, &p, entry.is_some_and(|e| e.used())),
                );
            }
        }
    }
    if let Some(h) = area.get(GPT_AT..GPT_AT + 512).and_then(GptHeader::of) {
        let fields = fields_at(GptHeader::FIELDS, 0);
        push(
            layout,
            GPT_AT,
            512,
            "GPT header".into(),
            Explain::Nothing,
            fields.clone(),
        );
        // The backup header at the end of the disk mirrors the primary one, its
        // two LBAs swapped; its entries are where it says.
        let backup = h.backup_lba().checked_mul(512);
        let backup_header = backup.and_then(|at| {
            let at = usize::try_from(at).ok()?;
            let b = data.get(at..at.checked_add(512)?)?;
            GptHeader::of(b).map(|h| (at, h))
        });
        if let Some((at, bh)) = backup_header {
            let mut fields = fields;
            for field in &mut fields {
                if field.at == CURRENT_LBA_AT {
                    field.explain = fact("gpt.backup_lba");
                } else if field.at == BACKUP_LBA_AT {
                    field.explain = fact("gpt.current_lba");
                } else if field.at == ENTRIES_LBA_AT {
                    field.explain = Explain::Derived;
                }
            }
            layout.push(Span {
                start: at as u64,
                len: 512,
                owner: Owner::new("system area", "GPT backup header", Explain::Nothing)
                    .with_fields(fields),
            });
            let (entries_lba, count, size) = (bh.entries_lba(), bh.entry_count(), bh.entry_size());
            if (128..=4096).contains(&size) {
                for i in 0..u64::from(count.min(MAX_GPT_ENTRIES)) {
                    let Some(start) = entries_lba
                        .checked_mul(512)
                        .and_then(|s| s.checked_add(i * u64::from(size)))
                    else {
                        break;
                    };
                    if start.saturating_add(u64::from(size)) > data.len() as u64 {
                        break;
                    }
                    let p = format!("gpt.partition{}", i + 1);
                    let used = usize::try_from(start)
                        .ok()
                        .and_then(|s| data.get(s..))
                        .and_then(GptEntry::new)
                        .is_some_and(|e| e.used());
                    layout.push(Span {
                        start,
                        len: u64::from(size),
                        owner: Owner::new(
                            "system area",
                            format!("GPT backup partition entry {}", i + 1),
                            fact(&p),
                        )
                        .with_fields(slot_fields(
                            GptEntry::FIELDS,
                            &p,
                            used,
                        )),
                    });
                }
            }
        }
        let (entries_lba, count, size) = (h.entries_lba(), h.entry_count(), h.entry_size());
        if (128..=4096).contains(&size) {
            let start = usize::try_from(entries_lba)
                .ok()
                .and_then(|l| l.checked_mul(512));
            for i in 0..count.min(MAX_GPT_ENTRIES) as usize {
                let Some(at) = start.and_then(|s| s.checked_add(i * size as usize)) else {
                    break;
                };
                if at.saturating_add(size as usize) > area.len() {
                    break;
                }
                let p = format!("gpt.partition{}", i + 1);
                let used = area
                    .get(at..)
                    .and_then(GptEntry::new)
                    .is_some_and(|e| e.used());
                push(
                    layout,
                    at,
                    size as usize,
                    format!("GPT partition entry {}", i + 1),
                    fact(&p),
                    slot_fields(GptEntry::FIELDS, &p, used),
                );
            }
        }
    }
    let apm = ApmDriver::block_of(area).and_then(|block| {
        let first = area.get(block..block + 512).and_then(ApmEntry::new)?;
        (first.signature() == *b"PM").then(|| (block, first.map_entries()))
    });
    if let Some((block, count)) = apm {
        push(
            layout,
            0,
            ApmDriver::LEN,
            "APM driver descriptor".into(),
            fact("apm"),
            fields_at(ApmDriver::FIELDS, 0),
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
                ApmEntry::LEN,
                format!("APM partition entry {}", i + 1),
                fact(&p),
                fields_under(ApmEntry::FIELDS, 0, Some(&p)),
            );
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
    if let Some(mbr) = MbrTail::of(area) {
        for (i, e) in mbr.entries().enumerate() {
            let (start, sectors) = (u64::from(e.start_lba()), u64::from(e.sectors()));
            region(
                start.saturating_mul(512),
                sectors.saturating_mul(512),
                format!("MBR partition {} (type {:#04x})", i + 1, e.kind()),
            );
        }
    }
    if let Some(h) = area.get(GPT_AT..GPT_AT + 512).and_then(GptHeader::of) {
        let (entries_lba, count, size) = (h.entries_lba(), h.entry_count(), h.entry_size());
        if (128..=4096).contains(&size) {
            for i in 0..u64::from(count.min(MAX_GPT_ENTRIES)) {
                let Some(e) = entries_lba
                    .checked_mul(512)
                    .and_then(|s| s.checked_add(i * u64::from(size)))
                    .and_then(|at| usize::try_from(at).ok())
                    .and_then(|at| bytes_at(area, at, size as usize))
                    .and_then(GptEntry::new)
                else {
                    break;
                };
                let (first, last) = (e.first_lba(), e.last_lba());
                if first == 0 || last < first {
                    continue;
                }
                region(
                    first.saturating_mul(512),
                    (last - first).saturating_add(1).saturating_mul(512),
                    format!("GPT partition {} ({:?})", i + 1, e.name_text()),
                );
            }
        }
    }
    if let Some(block) = ApmDriver::block_of(area) {
        for i in 0..64 {
            let at = block * (i + 1);
            let e = area.get(at..at + 512).and_then(ApmEntry::new);
            let Some(e) = e.filter(|e| e.signature() == *b"PM") else {
                break;
            };
            let block = block as u64;
            region(
                u64::from(e.start()) * block,
                u64::from(e.blocks()) * block,
                format!(
                    "APM partition {} ({:?}, {:?})",
                    i + 1,
                    apm_text(e.name()),
                    apm_text(e.kind())
                ),
            );
        }
    }
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

/// The `len` bytes of `area` from `at`, if it holds them (`at` and `len`
/// come from the image: their sum may not fit).
fn bytes_at(area: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    area.get(at..at.checked_add(len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mbr_and_gpt_are_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (Guid::FIELDS, Guid::LEN),
            (MbrTail::FIELDS, MbrTail::LEN),
            (MbrPartition::FIELDS, MbrPartition::LEN),
            (GptHeader::FIELDS, GptHeader::LEN),
            (GptEntry::FIELDS, GptEntry::LEN),
            (ApmDriver::FIELDS, ApmDriver::LEN),
            (ApmEntry::FIELDS, ApmEntry::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
        // The tail ends the MBR's sector; its table holds four entries.
        assert_eq!(BOOT_CODE_END + MbrTail::LEN, 512);
        let table = MbrTail::FIELDS.iter().find(|f| f.at == MBR_PARTITIONS_AT);
        assert_eq!(table.map(|f| f.len), Some(4 * MbrPartition::LEN as u64));
    }

    #[test]
    fn guid_text_form() {
        let raw = [
            0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44, 0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26,
            0x99, 0xc7,
        ];
        assert_eq!(
            guid(Guid::from_array(&raw)),
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
        );
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

    /// Entry LBAs whose byte offset, or that offset plus an entry, does not
    /// fit 64 bits (the fuzzer's `open_any` found the sum overflowing in
    /// `partition_regions`), in the header and in its backup: read and laid
    /// out without a panic, no entry found.
    #[test]
    fn gpt_entry_offsets_past_u64_are_no_entries() {
        for lba in [u64::MAX, u64::MAX / 512, u64::MAX / 512 - 1, 1 << 55] {
            for size in [128u32, 4096] {
                let mut data = vec![0u8; SIZE + 1024];
                for (at, backup) in [(512, (SIZE / 512) as u64), (SIZE, 1)] {
                    data[at..at + 8].copy_from_slice(b"EFI PART");
                    data[at + 32..at + 40].copy_from_slice(&backup.to_le_bytes());
                    data[at + 72..at + 80].copy_from_slice(&lba.to_le_bytes());
                    data[at + 80..at + 84].copy_from_slice(&4u32.to_le_bytes());
                    data[at + 84..at + 88].copy_from_slice(&size.to_le_bytes());
                }
                let mut facts = Vec::new();
                read(&data[..SIZE], &mut facts);
                assert!(
                    facts.iter().all(|f| !f.name.starts_with("gpt.partition1")),
                    "{lba} {size}"
                );
                let mut layout = Layout::new();
                spans(&data, &mut layout);
                assert!(layout
                    .spans()
                    .iter()
                    .all(|s| !s.owner.display().contains("partition entry")));
            }
        }
    }
}
