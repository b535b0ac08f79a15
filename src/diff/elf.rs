//! Where in an ELF file a difference sits: the section, and the symbol where there
//! is a symbol table, that hold a differing byte; and whether the build-id notes
//! differ (a differing build id follows from any other change of the code, so it is
//! worth knowing that it is "only" that).

use object::read::elf::{ElfFile32, ElfFile64};
use object::{Object, ObjectSection, ObjectSymbol};

/// Where a file offset falls in an ELF file, when the bytes are one.
pub(crate) fn place(data: &[u8], offset: u64) -> Option<String> {
    match object::FileKind::parse(data).ok()? {
        object::FileKind::Elf32 => {
            describe(&ElfFile32::<object::Endianness>::parse(data).ok()?, offset)
        }
        object::FileKind::Elf64 => {
            describe(&ElfFile64::<object::Endianness>::parse(data).ok()?, offset)
        }
        _ => None,
    }
}

fn describe<'d>(file: &impl Object<'d>, offset: u64) -> Option<String> {
    let section = file.sections().find(|s| {
        s.file_range()
            .is_some_and(|(start, len)| offset >= start && offset - start < len)
    })?;
    let name = section.name().unwrap_or("?");
    let (start, _) = section.file_range()?;
    let address = section.address().checked_add(offset - start)?;
    let mut text = format!("section {name}+{:#x}", offset - start);
    // Only allocated sections have addresses that symbols point into.
    if section.address() != 0 {
        let symbol = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| s.section_index() == Some(section.index()) && s.size() > 0)
            .find(|s| address >= s.address() && address - s.address() < s.size());
        if let Some(s) = symbol {
            text.push_str(&format!(
                ", symbol {}+{:#x}",
                s.name().unwrap_or("?"),
                address - s.address()
            ));
        }
    }
    Some(text)
}

/// The GNU build id of an ELF file, as hex.
pub(crate) fn build_id(data: &[u8]) -> Option<String> {
    let id = match object::FileKind::parse(data).ok()? {
        object::FileKind::Elf32 => ElfFile32::<object::Endianness>::parse(data)
            .ok()?
            .build_id()
            .ok()??
            .to_vec(),
        object::FileKind::Elf64 => ElfFile64::<object::Endianness>::parse(data)
            .ok()?
            .build_id()
            .ok()??
            .to_vec(),
        _ => return None,
    };
    Some(crate::model::hex(&id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_section_of_an_offset_in_a_real_binary() {
        let Ok(data) = std::fs::read("/bin/true") else {
            return;
        };
        let Some(text) = object::File::parse(&*data)
            .ok()
            .and_then(|f| f.section_by_name(".text").and_then(|s| s.file_range()))
        else {
            return;
        };
        let place = place(&data, text.0 + 16).unwrap_or_default();
        assert!(place.starts_with("section .text+0x10"), "{place}");
        assert!(build_id(&data).is_some_and(|id| id.len() >= 16));
        assert_eq!(place_of_garbage(), None);
    }

    fn place_of_garbage() -> Option<String> {
        place(b"\x7fELF garbage", 3)
    }
}
