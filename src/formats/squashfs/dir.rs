//! Directory listings in the directory table: runs of entries, each run under a
//! header that names the inode metadata block its entries' inodes are in.

use super::entries::{DirEntryHeader, DirHeader};
use super::metadata::{Cursor, Reader, Table};
use crate::error::{Error, Result};
use crate::limits::check;

/// Most entries under one header (the format's own limit).
const MAX_RUN: u32 = 256;
/// Longest name (`SQUASHFS_NAME_LEN`).
const MAX_NAME: usize = 256;

/// One directory entry as stored.
#[derive(Debug, Clone)]
pub(crate) struct DirEntry {
    pub name: Vec<u8>,
    /// Reference to the entry's inode in the inode table.
    pub inode_ref: u64,
    /// The inode number the entry claims (header base plus signed difference).
    pub inode_number: u32,
    /// The basic inode type the entry claims (1 to 7).
    pub type_code: u16,
    /// Where the entry is: absolute block position and offset in it.
    pub at: (u64, usize),
}

/// Reads the listing at `(block, offset)` of the directory table, `file_size - 3`
/// bytes long. Stops at the first damaged header or entry; what was read before is
/// kept. `budget` is `(entries the image already has, most it may have)`.
pub(crate) fn read(
    reader: &Reader<'_>,
    table: Table,
    block: u32,
    offset: u16,
    file_size: u32,
    budget: (u64, u64),
) -> (Vec<DirEntry>, Vec<Error>) {
    let mut entries = Vec::new();
    let mut errors = Vec::new();
    if let Err(e) = read_into(
        reader,
        table,
        block,
        offset,
        file_size,
        budget,
        &mut entries,
        &mut errors,
    ) {
        errors.push(e);
    }
    (entries, errors)
}

#[allow(clippy::too_many_arguments)]
fn read_into(
    reader: &Reader<'_>,
    table: Table,
    block: u32,
    offset: u16,
    file_size: u32,
    budget: (u64, u64),
    entries: &mut Vec<DirEntry>,
    errors: &mut Vec<Error>,
) -> Result<()> {
    let len = match file_size.checked_sub(3) {
        Some(0) => return Ok(()),
        Some(len) => u64::from(len),
        None => {
            return Err(Error::malformed(
                "directory inode",
                table.start + u64::from(block),
                format!("listing size {file_size} is below 3"),
            ))
        }
    };
    let mut c = reader.cursor(table, u64::from(block), usize::from(offset))?;
    let mut done: u64 = 0;
    while done < len {
        let (hpos, hoff) = c.position();
        take(&c, len, DirHeader::LEN as u64, &mut done)?;
        let raw = c.array::<{ DirHeader::LEN }>()?;
        let h = DirHeader::from_array(&raw);
        let (count, start, base) = (h.count(), h.start(), h.inode_base());
        if count >= MAX_RUN {
            return Err(Error::malformed(
                "directory header",
                hpos,
                format!(
                    "byte {hoff} of this block: {} entries under one header (at most {MAX_RUN})",
                    u64::from(count) + 1
                ),
            ));
        }
        for _ in 0..=count {
            let at = c.position();
            take(&c, len, DirEntryHeader::LEN as u64, &mut done)?;
            let raw = c.array::<{ DirEntryHeader::LEN }>()?;
            let e = DirEntryHeader::from_array(&raw);
            let (offset, diff, type_code) = (e.offset(), e.inode_diff() as i16, e.type_code());
            let name_len = usize::from(e.name_size()) + 1;
            if name_len > MAX_NAME {
                return Err(Error::malformed(
                    "directory entry",
                    at.0,
                    format!(
                        "byte {} of this block: name of {name_len} bytes (at most {MAX_NAME})",
                        at.1
                    ),
                ));
            }
            take(&c, len, name_len as u64, &mut done)?;
            let mut name = Vec::with_capacity(name_len);
            c.read_into(name_len, &mut name)?;
            if let Some(reason) = bad_name(&name) {
                errors.push(Error::malformed(
                    "directory entry",
                    at.0,
                    format!(
                        "byte {} of this block: name {:?} {reason}",
                        at.1,
                        String::from_utf8_lossy(&name)
                    ),
                ));
                continue;
            }
            check(
                "entries per image",
                budget.0 + entries.len() as u64 + 1,
                budget.1,
            )?;
            entries.push(DirEntry {
                name,
                inode_ref: u64::from(start) << 16 | u64::from(offset),
                inode_number: base.wrapping_add_signed(i32::from(diff)),
                type_code,
                at,
            });
        }
    }
    Ok(())
}

/// Counts `n` more bytes of the listing read, failing past its `len` bytes.
fn take(c: &Cursor<'_, '_>, len: u64, n: u64, done: &mut u64) -> Result<()> {
    *done += n;
    if *done > len {
        let (pos, off) = c.position();
        return Err(Error::malformed(
            "directory listing",
            pos,
            format!(
                "record at byte {off} of this block runs past the listing's size of {len} bytes"
            ),
        ));
    }
    Ok(())
}

/// Why a name cannot be a directory entry's, if it cannot.
fn bad_name(name: &[u8]) -> Option<&'static str> {
    if name == b"." || name == b".." {
        Some("is reserved")
    } else if name.contains(&b'/') {
        Some("contains '/'")
    } else if name.contains(&0) {
        Some("contains a NUL byte")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::metadata::tests::plain_block;
    use super::super::Compressor;
    use super::*;
    use crate::bytes::Bytes;

    pub(crate) fn header(count: u32, start: u32, base: u32) -> Vec<u8> {
        [count, start, base]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    }

    pub(crate) fn entry(offset: u16, diff: i16, type_code: u16, name: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend(offset.to_le_bytes());
        e.extend(diff.to_le_bytes());
        e.extend(type_code.to_le_bytes());
        e.extend(((name.len() - 1) as u16).to_le_bytes());
        e.extend(name);
        e
    }

    fn list(listing: &[u8], budget: (u64, u64)) -> (Vec<DirEntry>, Vec<Error>) {
        let img = plain_block(listing);
        let reader = Reader::new(Bytes::new(&img), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: img.len() as u64,
            name: "directory table",
        };
        read(&reader, table, 0, 0, listing.len() as u32 + 3, budget)
    }

    #[test]
    fn entries_and_damage() {
        let mut l = header(2, 1, 10);
        l.extend(entry(32, 0, 2, b"a"));
        l.extend(entry(64, -1, 1, b"b/c"));
        l.extend(entry(96, 2, 3, b"link"));
        let (e, errs) = list(&l, (0, 100));
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].inode_ref, 1 << 16 | 32);
        assert_eq!(e[1].name, b"link");
        assert_eq!(e[1].inode_number, 12);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].to_string().contains("contains '/'"));

        // Too many entries under one header: the header is an error, nothing listed.
        let (e, errs) = list(&header(300, 0, 0), (0, 100));
        assert!(e.is_empty());
        assert_eq!(errs.len(), 1);

        // A header promising more entries than the listing holds.
        let mut l = header(1, 0, 1);
        l.extend(entry(0, 0, 2, b"x"));
        let (e, errs) = list(&l, (0, 100));
        assert_eq!(e.len(), 1);
        assert_eq!(errs.len(), 1);

        // The entry budget.
        let mut l = header(1, 0, 1);
        l.extend(entry(0, 0, 2, b"x"));
        l.extend(entry(0, 1, 2, b"y"));
        let (e, errs) = list(&l, (0, 1));
        assert_eq!(e.len(), 1);
        assert!(matches!(errs[..], [Error::LimitExceeded { .. }]));

        // Empty listing, and an impossible size.
        let img = plain_block(&[0]);
        let reader = Reader::new(Bytes::new(&img), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: 3,
            name: "t",
        };
        assert!(read(&reader, table, 0, 0, 3, (0, 10)).1.is_empty());
        assert_eq!(read(&reader, table, 0, 0, 2, (0, 10)).1.len(), 1);
    }
}
