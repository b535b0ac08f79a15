//! PE/COFF files (EFI applications: `BOOTX64.EFI`, `grubx64.efi`, shim,
//! systemd-boot, unified kernel images): their headers field by field, their
//! sections, the debug directory, the `.sbat` text, and where a differing byte
//! is.
//!
//! Read with `object` (already the ELF reader here): its `PeFile` checks the DOS
//! and NT headers, the section table and data directories against the file's
//! length, and maps addresses to file offsets, with no panic on any input.
//! goblin reads PE too, but reports damage as `Malformed(String)` and parses
//! every directory eagerly; only a few fields are needed here. The fields are read
//! at their offsets (checked), because the offsets are needed as well: the fields
//! that say *when* and *which build* (TimeDateStamp, CheckSum, debug directory
//! stamps, the CodeView GUID) are compared as attributes and left out of the
//! content comparison, as the ISO boot info table is. `objcopy` rewrites the
//! TimeDateStamp (and so the checksum) of every file it touches; two builds that
//! differ only there are then reported as exactly those fields.

use std::borrow::Cow;
use std::ops::Range;

use std::mem::offset_of;

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile, PeFile32, PeFile64};
use object::{LittleEndian as LE, ReadRef};
use sha2::{Digest, Sha256};

use crate::model::span::Explain;
use crate::model::structure::{field_at, structure, Le32, Raw};
use crate::model::{Fact, Value};
use crate::report::change::ElfPlace;
use crate::time::Timestamp;

/// Most debug directory entries read (a real file has one to four).
const MAX_DEBUG_ENTRIES: usize = 16;

/// Most bytes of `.sbat` shown (a real one is a few lines).
const MAX_SBAT: usize = 4096;

/// What is read of one PE file.
#[derive(Debug, Default)]
pub(crate) struct PeInfo {
    /// Its fields, named `pe.*`, compared as attributes.
    pub(crate) facts: Vec<Fact>,
    /// The byte ranges of the fields that say when and which build: compared
    /// as facts, left out of the content comparison. Sorted, apart.
    pub(crate) mask: Vec<Range<u64>>,
    /// The sections' file ranges and names, and the headers' size, to place a
    /// byte.
    sections: Vec<(String, Range<u64>)>,
    size_of_headers: u64,
}

/// Where the header fields left out of the content comparison are, from the
/// start of the NT headers, as object declares the headers of a PE32 or a
/// PE32+ file.
struct Masked {
    time_date_stamp: u64,
    check_sum: u64,
}

macro_rules! masked {
    ($nt:ty) => {
        Masked {
            time_date_stamp: offset_of!($nt, file_header.time_date_stamp) as u64,
            check_sum: offset_of!($nt, optional_header.check_sum) as u64,
        }
    };
}

/// Reads a PE file: `None` when the bytes are not one.
pub(crate) fn read(data: &[u8]) -> Option<PeInfo> {
    match object::read::pe::optional_header_magic(data).ok()? {
        pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => read_as(
            &PeFile32::parse(data).ok()?,
            data,
            &masked!(pe::ImageNtHeaders32),
        ),
        pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => read_as(
            &PeFile64::parse(data).ok()?,
            data,
            &masked!(pe::ImageNtHeaders64),
        ),
        _ => None,
    }
}

/// The byte range of a field of `len` bytes at `at` of a structure at `base`.
fn range(base: u64, at: usize, len: usize) -> Range<u64> {
    let start = base + at as u64;
    start..start + len as u64
}

structure! {
    /// A CodeView record (`RSDS`, the PDB 7.0 form), before the PDB's path
    /// (NUL-terminated). PE files get no byte layout: the explanations are
    /// not read.
    struct CodeView[24] {
        signature: 0, 4, Raw, "signature", Explain::Nothing;
        guid: 4, 16, Raw, "guid", Explain::Nothing;
        age: 20, 4, Le32, "age", Explain::Nothing;
    }
}

/// A section name as an attribute name's part: printable ASCII, others `?`.
fn section_name(raw: &[u8]) -> String {
    let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
    raw.iter()
        .map(|&b| {
            if b.is_ascii_graphic() && b != b'*' && b != b'?' && b != b'[' {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

fn read_as<Pe: ImageNtHeaders>(
    file: &PeFile<'_, Pe>,
    data: &[u8],
    masked: &Masked,
) -> Option<PeInfo> {
    let mut info = PeInfo::default();
    let nt = u64::from(file.dos_header().nt_headers_offset());
    let coff = file.nt_headers().file_header();
    let header = file.nt_headers().optional_header();
    let mut fact = |name: &'static str, value: Value| info.facts.push(Fact::new(name, value));
    let int = |n: u32| Value::Int(u64::from(n));
    fact("pe.machine", int(u32::from(coff.machine.get(LE).0)));
    let stamp = coff.time_date_stamp.get(LE);
    info.facts.push(Fact::time(
        "pe.time_date_stamp",
        Value::Time(Timestamp::from_unix(i64::from(stamp))),
    ));
    let mut fact = |name: &'static str, value: Value| info.facts.push(Fact::new(name, value));
    fact(
        "pe.characteristics",
        int(u32::from(coff.characteristics.get(LE).0)),
    );
    fact(
        "pe.linker_version",
        Value::Text(format!(
            "{}.{}",
            header.major_linker_version(),
            header.minor_linker_version()
        )),
    );
    fact("pe.size_of_code", int(header.size_of_code()));
    fact("pe.entry_point", int(header.address_of_entry_point()));
    fact("pe.image_base", Value::Int(header.image_base()));
    fact("pe.size_of_image", int(header.size_of_image()));
    fact("pe.size_of_headers", int(header.size_of_headers()));
    // The checksum follows every other byte of the file: how it is encoded.
    info.facts
        .push(Fact::packing("pe.checksum", int(header.check_sum())));
    let mut fact = |name: &'static str, value: Value| info.facts.push(Fact::new(name, value));
    fact("pe.subsystem", int(u32::from(header.subsystem().0)));
    fact(
        "pe.subsystem_version",
        Value::Text(format!(
            "{}.{}",
            header.major_subsystem_version(),
            header.minor_subsystem_version()
        )),
    );
    fact(
        "pe.dll_characteristics",
        int(u32::from(header.dll_characteristics().0)),
    );
    let word = std::mem::size_of::<u32>();
    info.mask
        .push(range(nt, masked.time_date_stamp as usize, word));
    info.mask.push(range(nt, masked.check_sum as usize, word));
    info.size_of_headers = u64::from(header.size_of_headers());

    let mut seen = std::collections::HashSet::new();
    for (i, s) in file.section_table().iter().enumerate() {
        let mut name = section_name(s.raw_name());
        if !seen.insert(name.clone()) {
            name = format!("{name}#{i}");
        }
        let (offset, size) = s.pe_file_range();
        let range = u64::from(offset)..u64::from(offset) + u64::from(size);
        let bytes = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(x, y)| data.get(x..y))
            .unwrap_or_default();
        let p = |field: &str| Cow::Owned(format!("pe.section.{name}.{field}"));
        let int = |n: u32| Value::Int(u64::from(n));
        info.facts
            .push(Fact::new(p("virtual_size"), int(s.virtual_size.get(LE))));
        info.facts.push(Fact::new(
            p("virtual_address"),
            int(s.virtual_address.get(LE)),
        ));
        info.facts
            .push(Fact::new(p("size"), int(s.size_of_raw_data.get(LE))));
        info.facts.push(Fact::layout(
            p("file_offset"),
            int(s.pointer_to_raw_data.get(LE)),
        ));
        info.facts.push(Fact::new(
            p("characteristics"),
            int(s.characteristics.get(LE).0),
        ));
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        info.facts
            .push(Fact::new(p("sha256"), Value::Bytes(digest.to_vec())));
        if name == ".sbat" {
            let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
            let text = &text[..text.len().min(MAX_SBAT)];
            info.facts.push(Fact::new(
                "pe.sbat",
                Value::Text(String::from_utf8_lossy(text).into_owned()),
            ));
        }
        info.sections.push((name, range));
    }
    debug_directory(file, data, &mut info);
    info.mask.sort_by_key(|r| r.start);
    info.mask.dedup();
    Some(info)
}

/// The debug directory's entries: each one's time stamp, and a CodeView
/// record's GUID, age and path.
fn debug_directory<Pe: ImageNtHeaders>(file: &PeFile<'_, Pe>, data: &[u8], info: &mut PeInfo) {
    let Some(dir) = file.data_directory(pe::IMAGE_DIRECTORY_ENTRY_DEBUG) else {
        return;
    };
    let Ok((offset, size)) = dir.file_range(&file.section_table()) else {
        return;
    };
    let entry = std::mem::size_of::<pe::ImageDebugDirectory>() as u64;
    let count = (u64::from(size) / entry).min(MAX_DEBUG_ENTRIES as u64);
    for i in 0..count {
        let at = u64::from(offset) + i * entry;
        let Ok(d) = data.read_at::<pe::ImageDebugDirectory>(at) else {
            return;
        };
        let (stamp, typ) = (d.time_date_stamp.get(LE), d.typ.get(LE));
        let (len, ptr) = (d.size_of_data.get(LE), d.pointer_to_raw_data.get(LE));
        let p = |field: &str| Cow::Owned(format!("pe.debug.{i}.{field}"));
        info.facts
            .push(Fact::new(p("type"), Value::Int(u64::from(typ.0))));
        info.facts.push(Fact::time(
            p("time_date_stamp"),
            Value::Time(Timestamp::from_unix(i64::from(stamp))),
        ));
        info.mask.push(range(
            at,
            offset_of!(pe::ImageDebugDirectory, time_date_stamp),
            std::mem::size_of_val(&d.time_date_stamp),
        ));
        let ptr = u64::from(ptr);
        let record = usize::try_from(ptr).ok().and_then(|p| {
            let end = p.checked_add(usize::try_from(len).ok()?)?;
            data.get(p..end)
        });
        if typ != pe::IMAGE_DEBUG_TYPE_CODEVIEW {
            continue;
        }
        let Some((record, cv)) = record
            .and_then(|r| Some((r, CodeView::new(r)?)))
            .filter(|(_, cv)| cv.signature() == b"RSDS")
        else {
            continue;
        };
        info.facts.push(Fact::identifier(
            p("guid"),
            Value::Bytes(cv.guid().to_vec()),
        ));
        info.facts
            .push(Fact::new(p("age"), Value::Int(u64::from(cv.age()))));
        let path = record
            .get(CodeView::LEN..)
            .unwrap_or_default()
            .split(|&b| b == 0)
            .next()
            .unwrap_or_default();
        info.facts.push(Fact::new(
            p("path"),
            Value::Text(String::from_utf8_lossy(path).into_owned()),
        ));
        // The GUID and the age, the record's last fields: which build.
        const GUID_AT: u64 = field_at(CodeView::FIELDS, "guid");
        info.mask.push(ptr + GUID_AT..ptr + CodeView::LEN as u64);
    }
}

impl PeInfo {
    /// Where a file offset falls: a section, or the headers.
    pub(crate) fn place(&self, offset: u64) -> Option<ElfPlace> {
        if let Some((name, r)) = self.sections.iter().find(|(_, r)| r.contains(&offset)) {
            return Some(ElfPlace {
                section: name.clone(),
                section_offset: offset - r.start,
                symbol: None,
            });
        }
        // The headers run to the first section's raw data: SizeOfHeaders
        // says so too, but objcopy writes 0 there when it makes a PE of an
        // ELF file.
        let first = self
            .sections
            .iter()
            .map(|(_, r)| r.start)
            .filter(|&s| s > 0)
            .min();
        let headers = first.unwrap_or(0).max(self.size_of_headers);
        (offset < headers).then(|| ElfPlace {
            section: "(headers)".to_owned(),
            section_offset: offset,
            symbol: None,
        })
    }
}

/// The ranges both masks hold (each sorted, apart): a field is left out of the
/// content comparison only where both files have it at the same offset.
pub(crate) fn common_mask(a: &[Range<u64>], b: &[Range<u64>]) -> Vec<Range<u64>> {
    a.iter().filter(|r| b.contains(r)).cloned().collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small PE32+ EFI application, built by hand: DOS header, NT headers,
    /// two sections (`.text` and `.sbat`), a debug directory with a CodeView
    /// entry.
    pub(crate) fn efi(stamp: u32, guid: u8, code: u8) -> Vec<u8> {
        let mut f = vec![0u8; 0x600];
        let put16 = |f: &mut Vec<u8>, at: usize, v: u16| {
            f[at..at + 2].copy_from_slice(&v.to_le_bytes());
        };
        let put32 = |f: &mut Vec<u8>, at: usize, v: u32| {
            f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        f[0..2].copy_from_slice(b"MZ");
        put32(&mut f, 0x3c, 0x80);
        f[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        put16(&mut f, coff, 0x8664);
        put16(&mut f, coff + 2, 2);
        put32(&mut f, coff + 4, stamp);
        put16(&mut f, coff + 16, 240);
        put16(&mut f, coff + 18, 0x22);
        let opt = coff + 20;
        put16(&mut f, opt, 0x20b);
        f[opt + 2] = 2;
        f[opt + 3] = 38;
        put32(&mut f, opt + 4, 0x200);
        put32(&mut f, opt + 16, 0x1000);
        put32(&mut f, opt + 32, 0x1000); // section alignment
        put32(&mut f, opt + 36, 0x200); // file alignment
        put32(&mut f, opt + 56, 0x3000); // size of image
        put32(&mut f, opt + 60, 0x200); // size of headers
        put32(&mut f, opt + 64, stamp ^ 0x5555); // checksum
        put16(&mut f, opt + 68, 10); // EFI application
        put32(&mut f, opt + 108, 16); // data directories
                                      // Debug directory: at RVA 0x2040 (in .sbat's page), 28 bytes.
        put32(&mut f, opt + 112 + 6 * 8, 0x2040);
        put32(&mut f, opt + 112 + 6 * 8 + 4, 28);
        let sections = opt + 240;
        let section = |f: &mut Vec<u8>, at: usize, name: &[u8], rva: u32, raw: u32| {
            f[at..at + name.len()].copy_from_slice(name);
            put32(f, at + 8, 0x200);
            put32(f, at + 12, rva);
            put32(f, at + 16, 0x200);
            put32(f, at + 20, raw);
            put32(f, at + 36, 0x6000_0020);
        };
        section(&mut f, sections, b".text", 0x1000, 0x200);
        section(&mut f, sections + 40, b".sbat", 0x2000, 0x400);
        f[0x200..0x210].fill(code);
        f[0x400..0x40c].copy_from_slice(b"sbat,1,x\nab\n");
        let dbg = 0x440;
        put32(&mut f, dbg + 4, stamp);
        put32(&mut f, dbg + 12, 2);
        put32(&mut f, dbg + 16, 30);
        put32(&mut f, dbg + 20, 0x2080);
        put32(&mut f, dbg + 24, 0x480);
        f[0x480..0x484].copy_from_slice(b"RSDS");
        f[0x484..0x494].fill(guid);
        put32(&mut f, 0x494, 1);
        f[0x498..0x49e].copy_from_slice(b"x.pdb\0");
        f
    }

    fn value<'i>(info: &'i PeInfo, name: &str) -> Option<&'i Value> {
        info.facts.iter().find(|f| f.name == name).map(|f| &f.value)
    }

    #[test]
    fn reads_the_fields_of_a_hand_built_efi_application() {
        let data = efi(1_700_000_000, 7, 0x90);
        let Some(info) = read(&data) else {
            panic!("not read as PE")
        };
        assert_eq!(
            value(&info, "pe.time_date_stamp"),
            Some(&Value::Time(Timestamp::from_unix(1_700_000_000)))
        );
        assert_eq!(value(&info, "pe.subsystem"), Some(&Value::Int(10)));
        assert_eq!(
            value(&info, "pe.linker_version"),
            Some(&Value::Text("2.38".into()))
        );
        assert_eq!(
            value(&info, "pe.sbat"),
            Some(&Value::Text("sbat,1,x\nab\n".into()))
        );
        assert_eq!(
            value(&info, "pe.section..text.size"),
            Some(&Value::Int(0x200))
        );
        assert_eq!(value(&info, "pe.debug.0.type"), Some(&Value::Int(2)));
        assert_eq!(
            value(&info, "pe.debug.0.guid"),
            Some(&Value::Bytes(vec![7; 16]))
        );
        assert_eq!(
            value(&info, "pe.debug.0.path"),
            Some(&Value::Text("x.pdb".into()))
        );
        assert_eq!(
            info.mask,
            vec![0x88..0x8c, 0xd8..0xdc, 0x444..0x448, 0x484..0x498]
        );
        let place = info.place(0x204).map(|p| p.to_string());
        assert_eq!(place.as_deref(), Some("section .text+0x4"));
        let place = info.place(0x10).map(|p| p.to_string());
        assert_eq!(place.as_deref(), Some("section (headers)+0x10"));
    }

    #[test]
    fn the_codeview_record_is_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(CodeView::FIELDS, CodeView::LEN as u64), Ok(()));
    }

    #[test]
    fn damaged_or_other_bytes_are_not_read() {
        let data = efi(1, 1, 1);
        // Every cut of the file either reads or not: no panic.
        for len in 0..data.len() {
            let _ = read(&data[..len]);
        }
        assert!(read(b"MZ").is_none());
        assert!(read(b"\x7fELF").is_none());
        let mut bad = data.clone();
        bad[0x3c] = 0xff; // NT headers past the end
        assert!(read(&bad).is_none());
        // A debug directory that claims many entries past the end is read as
        // far as it goes.
        let mut many = data;
        many[0x98 + 112 + 6 * 8 + 4..][..4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let _ = read(&many);
    }
}
