//! Metadata blocks and the tables built from them.
//!
//! Inodes, directories, fragment entries, ids and xattrs live in metadata blocks: a
//! 2-byte little-endian header (bit 15 set = stored uncompressed, the low 15 bits the
//! stored size) followed by at most 8 KiB. A table is a run of such blocks, and a
//! reference into it is `block_start << 16 | offset`, the block's position relative to
//! the table and a byte offset into its decompressed data. Records may run on from
//! one block into the next, which the [`Cursor`] hides.
//!
//! The id, fragment, export and xattr-id tables are "lookup tables": fixed-size
//! entries in metadata blocks, found through an array of 64-bit block positions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::compress::{decompress, Compressor};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::model::span::Explain;
use crate::model::structure::{structure, Le16, Le64};

/// Most bytes a metadata block holds once decompressed.
pub(crate) const METADATA_SIZE: usize = 8192;
/// Header bit of a metadata block stored as is.
const UNCOMPRESSED: u16 = 0x8000;
structure! {
    /// The header of a metadata block: the bytes that follow are the block,
    /// as stored. It follows from them, so it explains nothing of its own.
    pub(crate) struct MetadataHeader[2] {
        /// Bit 15: stored uncompressed; the low 15 bits: the stored size.
        word: 0, 2, Le16, "header", Explain::Derived;
    }
}

impl MetadataHeader<'_> {
    /// How many bytes of the block follow the header, as stored.
    pub(crate) fn stored(&self) -> u64 {
        u64::from(self.word() & !UNCOMPRESSED)
    }

    /// Whether the block is stored as is.
    pub(crate) fn uncompressed(&self) -> bool {
        self.word() & UNCOMPRESSED != 0
    }
}

/// Bytes of a metadata block's header.
pub(crate) const HEADER_LEN: u64 = MetadataHeader::LEN as u64;

/// Decompressed blocks kept around (4 MiB): enough for a walk that goes back and
/// forth between a directory and its inodes, small enough not to matter.
const CACHE_BLOCKS: usize = 512;

/// One region of the image holding metadata blocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    /// Where the first block starts (absolute).
    pub start: u64,
    /// Where the region ends (absolute, exclusive): no block may reach past it.
    pub end: u64,
    /// For errors, e.g. "inode table".
    pub name: &'static str,
}

/// A decompressed metadata block.
#[derive(Debug)]
pub(crate) struct Block {
    pub data: Vec<u8>,
    /// Where the next block of the same table starts (absolute).
    pub next: u64,
}

/// Reads metadata blocks from the image, keeping recently used ones.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    pub image: Bytes<'a>,
    pub compressor: Compressor,
    cache: Mutex<HashMap<u64, Arc<Block>>>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(image: Bytes<'a>, compressor: Compressor) -> Reader<'a> {
        Reader {
            image,
            compressor,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The block starting at absolute `pos`, which must lie inside `table`.
    pub(crate) fn block(&self, table: &Table, pos: u64) -> Result<Arc<Block>> {
        // The cache holds only decoded copies: a poisoned lock loses nothing.
        if let Some(b) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&pos)
        {
            return Ok(Arc::clone(b));
        }
        let block = Arc::new(self.read_block(table, pos)?);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_BLOCKS {
            cache.clear();
        }
        cache.insert(pos, Arc::clone(&block));
        Ok(block)
    }

    fn read_block(&self, table: &Table, pos: u64) -> Result<Block> {
        let structure = table.name;
        if pos < table.start || pos >= table.end {
            return Err(Error::malformed(
                structure,
                pos,
                format!(
                    "metadata block outside its table (bytes {}..{})",
                    table.start, table.end
                ),
            ));
        }
        let header = MetadataHeader::from_array(self.image.array(pos, structure)?);
        let stored = header.stored();
        if stored == 0 || stored > METADATA_SIZE as u64 {
            return Err(Error::malformed(
                structure,
                pos,
                format!("metadata block header says {stored} bytes (must be 1 to {METADATA_SIZE})"),
            ));
        }
        let next = pos + HEADER_LEN + stored;
        if next > table.end {
            return Err(Error::malformed(
                structure,
                pos,
                format!(
                    "metadata block of {stored} bytes runs past the end of its table at byte {}",
                    table.end
                ),
            ));
        }
        let raw = self.image.get(pos + HEADER_LEN, stored, structure)?;
        let data = if header.uncompressed() {
            raw.to_vec()
        } else {
            decompress(self.compressor, raw, METADATA_SIZE, structure, pos)?
        };
        Ok(Block { data, next })
    }

    /// A cursor at reference `(block, offset)` of `table`: `block` relative to the
    /// table start, `offset` into the decompressed block.
    pub(crate) fn cursor(&self, table: Table, block: u64, offset: usize) -> Result<Cursor<'_, 'a>> {
        let pos = table
            .start
            .checked_add(block)
            .filter(|&p| p < table.end)
            .ok_or_else(|| {
                Error::malformed(
                    table.name,
                    table.start,
                    format!(
                        "reference to block {block} lies outside the table ({} bytes)",
                        table.end - table.start
                    ),
                )
            })?;
        let current = self.block(&table, pos)?;
        if offset > current.data.len() {
            return Err(Error::malformed(
                table.name,
                pos,
                format!(
                    "reference to offset {offset} of a block of {} bytes",
                    current.data.len()
                ),
            ));
        }
        Ok(Cursor {
            reader: self,
            table,
            pos,
            current,
            offset,
        })
    }
}

/// Reads a byte stream that runs across consecutive metadata blocks.
#[derive(Debug)]
pub(crate) struct Cursor<'r, 'a> {
    reader: &'r Reader<'a>,
    table: Table,
    /// Absolute position of the current block.
    pos: u64,
    current: Arc<Block>,
    offset: usize,
}

impl Cursor<'_, '_> {
    /// Where the cursor is: the absolute position of the current block, and the
    /// offset in it.
    pub(crate) fn position(&self) -> (u64, usize) {
        (self.pos, self.offset)
    }

    /// Appends the next `n` bytes to `out`. `out` grows only as blocks are read, so
    /// a huge `n` from a damaged image fails at the end of the table, never in the
    /// allocator.
    pub(crate) fn read_into(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<()> {
        while n > 0 {
            if self.offset >= self.current.data.len() {
                self.advance()?;
                continue;
            }
            let take = n.min(self.current.data.len() - self.offset);
            out.extend_from_slice(&self.current.data[self.offset..self.offset + take]);
            self.offset += take;
            n -= take;
        }
        Ok(())
    }

    /// The next `N` bytes.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        let mut filled = 0;
        while filled < N {
            if self.offset >= self.current.data.len() {
                self.advance()?;
                continue;
            }
            let take = (N - filled).min(self.current.data.len() - self.offset);
            out[filled..filled + take]
                .copy_from_slice(&self.current.data[self.offset..self.offset + take]);
            self.offset += take;
            filled += take;
        }
        Ok(out)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array::<4>().map(u32::from_le_bytes)
    }

    fn advance(&mut self) -> Result<()> {
        let next = self.current.next;
        if next >= self.table.end {
            return Err(Error::malformed(
                self.table.name,
                self.pos,
                "record runs past the last metadata block of its table",
            ));
        }
        self.current = self.reader.block(&self.table, next)?;
        self.pos = next;
        self.offset = 0;
        Ok(())
    }
}

structure! {
    /// An entry of a lookup table's index: where one of its metadata blocks
    /// is. The byte layout owns the index whole, as placement.
    pub(crate) struct IndexEntry[8] {
        block: 0, 8, Le64, "block position", Explain::Placement;
    }
}

/// The largest entry of a lookup table (fragment and xattr id entries).
pub(crate) const MAX_ENTRY_SIZE: usize = 16;

/// A lookup table: `count` entries of `entry_size` bytes in metadata blocks, whose
/// positions are listed in an array of u64 at `index`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lookup {
    pub index: u64,
    pub count: u64,
    pub entry_size: usize,
    /// Lowest position a block may start at (past the superblock).
    pub floor: u64,
    pub name: &'static str,
}

impl Lookup {
    fn per_block(&self) -> u64 {
        (METADATA_SIZE / self.entry_size) as u64
    }

    /// Number of metadata blocks, and so of u64 positions in the index.
    pub(crate) fn blocks(&self) -> u64 {
        self.count.div_ceil(self.per_block())
    }

    /// Bytes of the index.
    pub(crate) fn index_len(&self) -> u64 {
        self.blocks() * IndexEntry::LEN as u64
    }

    /// The position of the `k`th metadata block, as the index says.
    pub(crate) fn block_pos(&self, image: Bytes<'_>, k: u64) -> Result<u64> {
        let at = self.index + IndexEntry::LEN as u64 * k;
        let pos = IndexEntry::from_array(image.array(at, self.name)?).block();
        // Blocks are written before the index that lists them.
        if pos < self.floor || pos >= self.index {
            return Err(Error::malformed(
                self.name,
                at,
                format!(
                    "index entry {k} points to byte {pos}, outside {}..{}",
                    self.floor, self.index
                ),
            ));
        }
        Ok(pos)
    }

    /// The raw bytes of entry `i`, zero past `entry_size`: looked up for
    /// every file read, so no allocation.
    pub(crate) fn entry(&self, reader: &Reader<'_>, i: u64) -> Result<[u8; MAX_ENTRY_SIZE]> {
        if i >= self.count {
            return Err(Error::malformed(
                self.name,
                self.index,
                format!("entry {i} asked for, the table has {}", self.count),
            ));
        }
        let k = i / self.per_block();
        let pos = self.block_pos(reader.image, k)?;
        let table = Table {
            start: self.floor,
            end: self.index,
            name: self.name,
        };
        let block = reader.block(&table, pos)?;
        let at = (i % self.per_block()) as usize * self.entry_size;
        block
            .data
            .get(at..at + self.entry_size.min(MAX_ENTRY_SIZE))
            .map(|e| {
                let mut out = [0u8; MAX_ENTRY_SIZE];
                out[..e.len()].copy_from_slice(e);
                out
            })
            .ok_or_else(|| {
                Error::malformed(
                    self.name,
                    pos,
                    format!(
                        "metadata block of {} bytes ends before entry {i}",
                        block.data.len()
                    ),
                )
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An uncompressed metadata block holding `data`.
    pub(crate) fn plain_block(data: &[u8]) -> Vec<u8> {
        let mut out = ((data.len() as u16) | UNCOMPRESSED).to_le_bytes().to_vec();
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn the_header_is_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (MetadataHeader::FIELDS, MetadataHeader::LEN),
            (IndexEntry::FIELDS, IndexEntry::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
        let h = MetadataHeader::from_array(&[3, 0x80]);
        assert_eq!((h.stored(), h.uncompressed()), (3, true));
        let h = MetadataHeader::from_array(&[0xff, 0x7f]);
        assert_eq!((h.stored(), h.uncompressed()), (0x7fff, false));
    }

    #[test]
    fn cursor_runs_across_blocks() {
        let mut image = vec![0xeeu8; 4];
        image.extend(plain_block(&[1, 2, 3]));
        image.extend(plain_block(&[4, 5, 6, 7]));
        let reader = Reader::new(Bytes::new(&image), Compressor::Gzip);
        let table = Table {
            start: 4,
            end: image.len() as u64,
            name: "test table",
        };
        let mut c = reader.cursor(table, 0, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.u32().ok(), Some(u32::from_le_bytes([2, 3, 4, 5])));
        assert_eq!(c.position(), (9, 2));
        let mut v = Vec::new();
        assert!(c.read_into(2, &mut v).is_ok());
        assert_eq!(v, [6, 7]);
        let e = c.array::<2>().err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("test table at byte 9: record runs past the last metadata block of its table")
        );
        assert!(reader.cursor(table, 0, 4).is_err());
        assert!(reader.cursor(table, 100, 0).is_err());
    }

    #[test]
    fn block_headers_are_checked() {
        let mut image = plain_block(&[1, 2, 3]);
        image[0] = 9; // claims 9 bytes, 3 present
        let reader = Reader::new(Bytes::new(&image), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: image.len() as u64,
            name: "t",
        };
        assert!(matches!(
            reader.block(&table, 0),
            Err(Error::Malformed { offset: 0, .. })
        ));
        let zero = [0u8, 0x80];
        let reader = Reader::new(Bytes::new(&zero), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: 2,
            name: "t",
        };
        assert!(reader.block(&table, 0).is_err());
        // Compressed garbage is an error naming the block.
        let bad = [4u8, 0, 1, 2, 3, 4];
        let reader = Reader::new(Bytes::new(&bad), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: 6,
            name: "t",
        };
        assert!(matches!(
            reader.block(&table, 0),
            Err(Error::Malformed { offset: 0, .. })
        ));
    }

    #[test]
    fn lookup_entries() {
        // Two u32 entries in one block at byte 8, index at the end.
        let mut image = vec![0u8; 8];
        image.extend(plain_block(&[1, 0, 0, 0, 2, 0, 0, 0]));
        let index = image.len() as u64;
        image.extend(8u64.to_le_bytes());
        let reader = Reader::new(Bytes::new(&image), Compressor::Gzip);
        let l = Lookup {
            index,
            count: 2,
            entry_size: 4,
            floor: 8,
            name: "id table",
        };
        // An entry's 4 bytes, zero after them (not the next entry's bytes).
        let entry = |first: u8| {
            let mut e = [0u8; MAX_ENTRY_SIZE];
            e[0] = first;
            e
        };
        assert_eq!(l.entry(&reader, 0).ok(), Some(entry(1)));
        assert_eq!(l.entry(&reader, 1).ok(), Some(entry(2)));
        assert!(l.entry(&reader, 2).is_err());
        let l3 = Lookup { count: 3, ..l };
        assert!(l3.entry(&reader, 2).is_err());
        let low = Lookup { floor: 9, ..l };
        assert!(low.entry(&reader, 0).is_err());
    }
}
