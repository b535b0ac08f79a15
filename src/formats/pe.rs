//! A unified kernel image (UKI: systemd-stub with the kernel, initrd, command
//! line and os-release as PE sections) read as a file system of its sections,
//! so that two UKIs are compared section by section: `.cmdline` and `.osrel` as
//! texts, `.initrd` as the cpio image it is, located as
//! `/EFI/Linux/nixos.efi:/.initrd:/etc/...`.
//!
//! Only files with a `.linux` section are read so: any other PE file is compared
//! as a binary with its header fields (see the diff's `pe` module). The section
//! table is read with `object`, which checks it against the file's length. A
//! section's content is its raw data cut to its virtual size, as systemd-stub
//! reads it (the raw data is padded to the file alignment).

use std::ops::Range;

use object::read::pe::{ImageNtHeaders, PeFile, PeFile32, PeFile64};

use crate::error::{Error, Result};
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};

/// The sections of a UKI, as the entries of one directory.
pub struct UkiFs<'a> {
    data: &'a [u8],
    root: Meta,
    /// Name and file range of each section, sorted by name.
    sections: Vec<(Vec<u8>, Range<usize>)>,
}

/// Most sections listed (a UKI has about ten; the PE format allows 96).
const MAX_SECTIONS: usize = 96;

impl<'a> UkiFs<'a> {
    /// True when `data` is a PE file with a `.linux` section.
    pub fn is_uki(data: &[u8]) -> bool {
        sections(data).is_some_and(|s| s.iter().any(|(n, _)| n == b".linux"))
    }

    /// Reads the sections of the UKI in `data`.
    pub fn open(data: &'a [u8]) -> Result<UkiFs<'a>> {
        let mut sections = sections(data)
            .ok_or_else(|| Error::malformed("PE section table", 0, "not a PE file"))?;
        sections.sort_by(|x, y| x.0.cmp(&y.0));
        Ok(UkiFs {
            data,
            root: Meta::new(EntryKind::Dir),
            sections,
        })
    }
}

impl UkiFs<'_> {
    /// The file ranges of the sections listed (their bytes are the entries'
    /// content): the bytes outside them are the headers and the padding.
    pub fn section_ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.sections
            .iter()
            .map(|(_, r)| r.start as u64..r.end as u64)
    }
}

/// The sections of a PE file: raw name (up to its first NUL) and file range.
fn sections(data: &[u8]) -> Option<Vec<(Vec<u8>, Range<usize>)>> {
    match object::read::pe::optional_header_magic(data).ok()? {
        object::pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => of(&PeFile32::parse(data).ok()?, data),
        object::pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => of(&PeFile64::parse(data).ok()?, data),
        _ => None,
    }
}

fn of<Pe: ImageNtHeaders>(
    file: &PeFile<'_, Pe>,
    data: &[u8],
) -> Option<Vec<(Vec<u8>, Range<usize>)>> {
    let mut out = Vec::new();
    for s in file.section_table().iter().take(MAX_SECTIONS) {
        let name = s.raw_name().split(|&b| b == 0).next().unwrap_or_default();
        let (offset, raw) = s.pe_file_range();
        let virtual_size = s.virtual_size.get(object::LittleEndian);
        let len = if virtual_size == 0 {
            raw
        } else {
            raw.min(virtual_size)
        };
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        if end > data.len() {
            continue;
        }
        out.push((name.to_vec(), start..end));
    }
    Some(out)
}

impl Filesystem for UkiFs<'_> {
    fn format(&self) -> Format {
        Format::Uki
    }

    fn facts(&self) -> &[Fact] {
        &[]
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.root
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        let mut listing = Listing::default();
        if dir != NodeId(0) {
            return Ok(listing);
        }
        for (i, (name, range)) in self.sections.iter().enumerate() {
            let mut meta = Meta::new(EntryKind::File);
            meta.size = range.len() as u64;
            listing.entries.push(Entry {
                name: name.clone(),
                node: NodeId(i as u64 + 1),
                meta,
                attrs: Vec::new(),
            });
        }
        Ok(listing)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let range = usize::try_from(file.0)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.sections.get(i))
            .map(|(_, r)| r.clone())
            .ok_or_else(|| Error::malformed("PE section", 0, "no such section"))?;
        let bytes = self
            .data
            .get(range)
            .ok_or_else(|| Error::malformed("PE section", 0, "past the end"))?;
        Ok(Content::Slices(vec![bytes]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pe_file_with_a_linux_section_lists_its_sections() {
        let mut data = crate::diff::pe_fixture(1, 1, 0x90);
        // Rename `.sbat` to `.linux`.
        let at = data
            .windows(5)
            .position(|w| w == b".sbat")
            .unwrap_or_default();
        data[at..at + 6].copy_from_slice(b".linux");
        assert!(UkiFs::is_uki(&data));
        let Ok(fs) = UkiFs::open(&data) else {
            panic!("not opened")
        };
        let names: Vec<Vec<u8>> = fs
            .children(fs.root())
            .map(|l| l.entries.into_iter().map(|e| e.name).collect())
            .unwrap_or_default();
        assert_eq!(names, vec![b".linux".to_vec(), b".text".to_vec()]);
        let linux = fs.content(NodeId(1)).ok().map(|c| c.len());
        assert_eq!(linux, Some(0x200));
        assert!(!UkiFs::is_uki(&crate::diff::pe_fixture(1, 1, 0x90)));
        assert!(!UkiFs::is_uki(b"MZ"));
        assert!(fs.content(NodeId(9)).is_err());
    }
}
