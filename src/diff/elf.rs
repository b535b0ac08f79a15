//! Where in an ELF file a difference sits: the section, and the symbol where there
//! is a symbol table, that hold a differing byte; and whether the build-id notes
//! differ (a differing build id follows from any other change of the code, so it is
//! worth knowing that it is "only" that).

use object::read::elf::{ElfFile32, ElfFile64};
use object::{Object, ObjectSection, ObjectSymbol};

use crate::report::change::{ElfPlace, ElfSymbol};

/// Where a file offset falls in an ELF file, when the bytes are one.
pub(crate) fn place(data: &[u8], offset: u64) -> Option<ElfPlace> {
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

fn describe<'d>(file: &impl Object<'d>, offset: u64) -> Option<ElfPlace> {
    let section = file.sections().find(|s| {
        s.file_range()
            .is_some_and(|(start, len)| offset >= start && offset - start < len)
    })?;
    let name = section.name().unwrap_or("?");
    let (start, _) = section.file_range()?;
    let address = section.address().checked_add(offset - start)?;
    let mut place = ElfPlace {
        section: name.to_owned(),
        section_offset: offset - start,
        symbol: None,
    };
    // Only allocated sections have addresses that symbols point into.
    if section.address() != 0 {
        let symbol = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| s.section_index() == Some(section.index()) && s.size() > 0)
            .find(|s| address >= s.address() && address - s.address() < s.size());
        place.symbol = symbol.map(|s| ElfSymbol {
            name: s.name().unwrap_or("?").to_owned(),
            offset: address - s.address(),
        });
    }
    Some(place)
}

/// The GNU build id of an ELF file.
pub(crate) fn build_id(data: &[u8]) -> Option<Vec<u8>> {
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
    Some(id)
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
        let place = place(&data, text.0 + 16).map(|p| p.to_string());
        let place = place.unwrap_or_default();
        assert!(place.starts_with("section .text+0x10"), "{place}");
        assert!(build_id(&data).is_some_and(|id| id.len() >= 8));
        assert_eq!(place_of_garbage(), None);
    }

    fn place_of_garbage() -> Option<ElfPlace> {
        place(b"\x7fELF garbage", 3)
    }
}
