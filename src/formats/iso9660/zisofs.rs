//! zisofs (transparent compression of single files, as `mkzftree` and xorriso's
//! `--zisofs` filter write it): a Rock Ridge `ZF` entry marks the file, whose
//! extent holds a header, a table of block pointers and zlib-compressed blocks.
//! The Linux kernel and libarchive show the decompressed bytes, so the reader
//! lists the file at its uncompressed size and hands out the decompressed
//! content: the same file stored plainly and stored compressed then compare as
//! equal, and a changed byte is found at its offset in the real content.
//!
//! Version 1 (`pz`, zlib, the kernel's format and xorriso's default) and
//! zisofs2 with zlib (`PZ`, xorriso's `-zisofs version_2=on`, marked by a
//! `ZF` entry of version 2 or, with `susp_z2=on`, by a `Z2` entry) are
//! decoded. zisofs2's other algorithms (`XZ`, `L4`, `ZD`, `B2`), which no
//! producer installed here writes, and unknown ones keep their stored bytes
//! as content, with the algorithm as an attribute, so such a file still
//! compares by what is stored. libarchive (3.6) and the Linux kernel read
//! only version 1: they list a zisofs2 file at its stored size.
//!
//! The layout of version 1 (zisofs-tools' `README`, the kernel's `isofs/compress.c`):
//!
//! ```text
//! 0   8  magic 37 E4 53 96 C9 DB D6 07
//! 8   4  uncompressed size, little-endian
//! 12  1  header size / 4 (4: 16 bytes)
//! 13  1  log2 of the block size (15, 16 or 17)
//! 14  2  reserved
//! hs  4 * (blocks + 1)  little-endian offsets from the file's start: block i
//!                       is bytes ptr[i]..ptr[i+1]; an empty block is all zeros
//! ```
//!
//! zisofs2 (libisofs' `doc/zisofs2_format.txt`, checked against xorriso
//! 1.5.4's output): the `ZF`/`Z2` entry (version 2) holds the algorithm
//! `PZ`, the header size / 4, log2 of the block size and the uncompressed
//! size as a little-endian 64-bit number; the file:
//!
//! ```text
//! 0   8  magic EF 22 55 A1 BC 1B 95 A0
//! 8   1  version (0)
//! 9   1  header size / 4 (6: 24 bytes)
//! 10  1  algorithm: 1 zlib, 2 xz, 3 lz4, 4 zstd, 5 bzip2
//! 11  1  log2 of the block size (15 to 20)
//! 12  8  uncompressed size, little-endian
//! 20  4  reserved
//! hs  8 * (blocks + 1)  little-endian 64-bit offsets, as in version 1
//! ```

use super::raw::Both32;
use super::susp::SuspHeader;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::key::Attr;
use crate::model::span::{Explain, Key};
use crate::model::structure::{structure, Array, Encoding, Le32, Le64, Raw, U8};

/// The magic that starts a version 1 compressed file.
pub(crate) const MAGIC_V1: [u8; 8] = [0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07];
/// The magic that starts a zisofs2 file.
pub(crate) const MAGIC_V2: [u8; 8] = [0xef, 0x22, 0x55, 0xa1, 0xbc, 0x1b, 0x95, 0xa0];
/// zisofs2's algorithm byte for zlib, the one decoded.
const V2_ZLIB: u8 = 1;

structure! {
    /// The header of a version 1 file, up to its reserved bytes (which run
    /// to the header size).
    pub(crate) struct FileHeader[14] {
        magic: 0, 8, Raw, "magic", Explain::Nothing;
        size: 8, 4, Le32, "uncompressed size", Explain::Entry(&[Key::SIZE]);
        header_words: 12, 1, U8, "header size", Explain::Derived;
        log2_block: 13, 1, U8, "block size", Explain::Entry(&[Key::Attribute(BLOCK_SIZE)]);
    }
}

structure! {
    /// The header of a zisofs2 file, up to its reserved bytes (which run to
    /// the header size).
    pub(crate) struct File2Header[20] {
        magic: 0, 8, Raw, "magic", Explain::Nothing;
        version: 8, 1, U8, "version", Explain::Nothing;
        header_words: 9, 1, U8, "header size", Explain::Derived;
        algorithm: 10, 1, U8, "algorithm", Explain::Entry(&[Key::Attribute(ALGORITHM)]);
        log2_block: 11, 1, U8, "block size", Explain::Entry(&[Key::Attribute(BLOCK_SIZE)]);
        size: 12, 8, Le64, "uncompressed size", Explain::Entry(&[Key::SIZE]);
    }
}

/// The attribute naming the algorithm of a zisofs file (`pz`).
pub(crate) const ALGORITHM: Attr = Attr::new("zisofs.algorithm");
/// The attribute holding a zisofs file's block size in bytes.
pub(crate) const BLOCK_SIZE: Attr = Attr::new("zisofs.block_size");

structure! {
    /// A `ZF` or `Z2` entry: how a file's data is compressed.
    pub(crate) struct ZfEntry[16] {
        /// [`SuspHeader`]: its version says zisofs or zisofs2.
        header: 0, 4, Raw, "header", Explain::Entry(&[Key::Attribute(ALGORITHM)]);
        algorithm: 4, 2, Array<2>, "algorithm", Explain::Entry(&[Key::Attribute(ALGORITHM)]);
        header_words: 6, 1, U8, "header size", Explain::Derived;
        log2_block: 7, 1, U8, "block size", Explain::Entry(&[Key::Attribute(BLOCK_SIZE)]);
        /// Both-endian 32 bits in zisofs, 64 bits in zisofs2: the same size
        /// is other bytes with the other algorithm.
        size: 8, 8, Array<8>, "uncompressed size",
            Explain::Entry(&[Key::SIZE, Key::Attribute(ALGORITHM)]);
    }
}

/// What a `ZF` (or `Z2`) entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zf {
    /// The algorithm: `pz` for zisofs version 1, `PZ` for zisofs2 with zlib.
    pub algorithm: [u8; 2],
    /// The header's size in 4-byte units.
    pub header_words: u8,
    /// log2 of the block size.
    pub log2_block: u8,
    /// The uncompressed size (version 1: the little-endian half of the
    /// both-endian field; version 2: a 64-bit number).
    pub size: u64,
    /// The entry's version: 1, or 2 for zisofs2 (whose size has 64 bits).
    pub version: u8,
}

impl Zf {
    /// Decodes a `ZF` or `Z2` entry (`d` is the whole entry, its 4-byte SUSP
    /// header included); `None` when it is too short. A `Z2` entry, or a `ZF`
    /// entry of version 2, is zisofs2's: its size has 64 bits.
    pub(crate) fn parse(sig: &[u8; 2], d: &[u8]) -> Option<Zf> {
        let z = ZfEntry::new(d)?;
        let version = match sig {
            b"Z2" => 2,
            _ => SuspHeader::from_prefix(z.bytes()).version(),
        };
        let size = z.size();
        let size = match version {
            2 => u64::from_le_bytes(size),
            _ => u64::from(Both32::read(&size, "uncompressed size").0),
        };
        Some(Zf {
            algorithm: z.algorithm(),
            header_words: z.header_words(),
            log2_block: z.log2_block(),
            size,
            version,
        })
    }

    /// Whether this reader decodes the file (zisofs version 1, or zisofs2
    /// with zlib).
    pub(crate) fn decodable(&self) -> bool {
        self.format().is_some()
    }

    /// The file format the algorithm names: `Some(false)` version 1,
    /// `Some(true)` zisofs2 with zlib.
    fn format(&self) -> Option<bool> {
        match &self.algorithm {
            b"pz" => Some(false),
            b"PZ" => Some(true),
            _ => None,
        }
    }

    /// The block size, when it is one the format allows (zisofs2 allows up
    /// to 1 MiB).
    fn block_size(&self) -> Option<u64> {
        let max = if self.format() == Some(true) { 20 } else { 17 };
        (15..=max)
            .contains(&self.log2_block)
            .then(|| 1u64 << self.log2_block)
    }

    /// The magic and the width of a block pointer of the file format.
    fn shape(&self) -> Option<(&'static [u8; 8], usize)> {
        match self.format()? {
            false => Some((&MAGIC_V1, 4)),
            true => Some((&MAGIC_V2, 8)),
        }
    }
}

/// The block pointer at `at` in `stored`, `width` bytes little-endian.
fn pointer_at(stored: &[u8], at: usize, width: usize) -> Option<u64> {
    let raw = stored.get(at..at.checked_add(width)?)?;
    Some(raw.iter().rev().fold(0u64, |v, &b| v << 8 | u64::from(b)))
}

/// Where the parts of a version 1 file are inside its stored bytes, for byte
/// accounting: header length, block pointer table length, and the total the
/// last pointer says the file takes. `None` when the stored bytes are no
/// zisofs file.
pub(crate) fn parts(zf: &Zf, stored: &[u8]) -> Option<(u64, u64, u64)> {
    let header = u64::from(zf.header_words) * 4;
    let block = zf.block_size()?;
    let (magic, width) = zf.shape()?;
    if stored.get(..magic.len()) != Some(&magic[..]) {
        return None;
    }
    let blocks = zf.size.div_ceil(block);
    let w = width as u64;
    let table = blocks.checked_add(1)?.checked_mul(w)?;
    let last_at = usize::try_from(header.checked_add(blocks.checked_mul(w)?)?).ok()?;
    let end = pointer_at(stored, last_at, width)?;
    Some((header, table, end))
}

/// Whether the file's own header agrees with its entry (magic aside): the
/// size, and for zisofs2 its version, header size, algorithm and block size.
/// `None` when it does, else what disagrees.
fn header_disagrees(zf: &Zf, stored: &[u8]) -> Option<String> {
    if stored.len() < 16 {
        return Some("the file is shorter than its header".to_owned());
    }
    if zf.format() == Some(false) {
        let said = u64::from(FileHeader::new(stored)?.size());
        return (said != zf.size)
            .then(|| format!("header says {said} bytes, the ZF entry {}", zf.size));
    }
    let h = File2Header::new(stored)?;
    let fields = [
        ("version", u64::from(h.version()), 0),
        (
            "header size",
            u64::from(h.header_words()),
            u64::from(zf.header_words),
        ),
        ("algorithm", u64::from(h.algorithm()), u64::from(V2_ZLIB)),
        (
            "block size",
            u64::from(h.log2_block()),
            u64::from(zf.log2_block),
        ),
        ("uncompressed size", h.size(), zf.size),
    ];
    fields
        .iter()
        .find(|(_, got, want)| got != want)
        .map(|(what, got, want)| format!("zisofs2 header's {what} is {got}, the entry says {want}"))
}

/// Decompresses a version 1 file from its stored bytes (`stored`, which start
/// at image offset `offset`, for messages). Every pointer is checked against
/// the stored bytes, every block against the block size, and the whole against
/// `limits.max_decompressed_bytes`.
pub(crate) fn decode(zf: &Zf, stored: &[u8], offset: u64, limits: &Limits) -> Result<Vec<u8>> {
    let bad = |at: u64, why: String| Error::malformed("zisofs file", offset + at, why);
    let Some((magic, width)) = zf.shape() else {
        return Err(bad(
            0,
            "algorithm is not zisofs version 1 (pz) or zisofs2 with zlib (PZ)".to_owned(),
        ));
    };
    let size = zf.size;
    if size > limits.max_decompressed_bytes {
        return Err(Error::LimitExceeded {
            limit: "decompressed bytes",
            value: size,
            max: limits.max_decompressed_bytes,
        });
    }
    if size == 0 {
        return Ok(Vec::new());
    }
    let block = zf.block_size().ok_or_else(|| {
        bad(
            0,
            format!("block size 2^{} is not 2^15..2^17", zf.log2_block),
        )
    })?;
    if stored.get(..magic.len()) != Some(&magic[..]) {
        return Err(bad(
            0,
            "no zisofs magic at the start of the file".to_owned(),
        ));
    }
    if let Some(why) = header_disagrees(zf, stored) {
        // Named at the first field after the magic.
        return Err(bad(magic.len() as u64, why));
    }
    let header = usize::from(zf.header_words) * 4;
    let blocks =
        usize::try_from(size.div_ceil(block)).map_err(|_| bad(0, "too many blocks".to_owned()))?;
    let pointer = |i: usize| -> Result<usize> {
        let at = header + i * width;
        let p = pointer_at(stored, at, width).ok_or_else(|| {
            bad(
                at as u64,
                "block pointer table past the file's end".to_owned(),
            )
        })?;
        // A pointer past what is stored is caught where the block is cut.
        Ok(usize::try_from(p).unwrap_or(usize::MAX))
    };
    // The size was checked against the budget above; allocate it at once.
    let mut out = Vec::with_capacity(size as usize);
    let mut start = pointer(0)?;
    for i in 0..blocks {
        let end = pointer(i + 1)?;
        let want = (size - out.len() as u64).min(block) as usize;
        let Some(raw) = stored.get(start..end) else {
            return Err(bad(
                (header + i * width) as u64,
                format!(
                    "block {i} at {start}..{end} is outside the file's {} bytes",
                    stored.len()
                ),
            ));
        };
        if raw.is_empty() {
            // An empty block stands for a block of zeros.
            out.resize(out.len() + want, 0);
        } else {
            let before = out.len();
            let mut z = flate2::Decompress::new(true);
            // The output buffer has room for exactly one block: a block that
            // inflates to more stops here (a bomb), to less is damage.
            let mut buf = vec![0u8; want];
            let status = z
                .decompress(raw, &mut buf, flate2::FlushDecompress::Finish)
                .map_err(|e| bad(start as u64, format!("block {i}: {e}")))?;
            let got = z.total_out() as usize;
            if got != want || status != flate2::Status::StreamEnd {
                return Err(bad(
                    start as u64,
                    format!("block {i} inflates to {got}+ bytes, not {want}"),
                ));
            }
            out.extend_from_slice(&buf);
            debug_assert_eq!(out.len(), before + want);
        }
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_entry_is_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(ZfEntry::FIELDS, ZfEntry::LEN as u64), Ok(()));
        for (fields, len) in [
            (FileHeader::FIELDS, FileHeader::LEN),
            (File2Header::FIELDS, File2Header::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    fn zf(size: u32) -> Zf {
        Zf {
            algorithm: *b"pz",
            header_words: 4,
            log2_block: 15,
            size: u64::from(size),
            version: 1,
        }
    }

    /// A zisofs file of `data` after `header`, in blocks of 2^`log` bytes,
    /// with block pointers `width` bytes wide (blocks of zeros empty), made as
    /// mkzftree (version 1) and xorriso (version 2) do.
    fn compressed(data: &[u8], header: &[u8], log: u32, width: usize) -> Vec<u8> {
        let blocks: Vec<&[u8]> = data.chunks(1usize << log).collect();
        let mut out = header.to_vec();
        let table_at = out.len();
        out.resize(table_at + (blocks.len() + 1) * width, 0);
        let mut ptrs = vec![out.len() as u64];
        for b in &blocks {
            if b.iter().any(|&x| x != 0) {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(b).unwrap();
                out.extend(e.finish().unwrap());
            }
            ptrs.push(out.len() as u64);
        }
        for (i, p) in ptrs.iter().enumerate() {
            let at = table_at + i * width;
            out[at..at + width].copy_from_slice(&p.to_le_bytes()[..width]);
        }
        out
    }

    /// A zisofs (version 1) file of `data`: 32 KiB blocks, 32-bit pointers.
    fn compress(data: &[u8]) -> Vec<u8> {
        let mut header = MAGIC_V1.to_vec();
        header.extend_from_slice(&(data.len() as u32).to_le_bytes());
        header.extend_from_slice(&[4, 15, 0, 0]);
        compressed(data, &header, 15, 4)
    }

    #[test]
    fn round_trip_with_zero_blocks() {
        let mut data = vec![0u8; 70_000];
        data.extend((0..50_000u32).map(|i| (i % 251) as u8));
        let stored = compress(&data);
        let got = decode(&zf(data.len() as u32), &stored, 0, &Limits::default()).unwrap();
        assert_eq!(got, data);
        let (h, t, end) = parts(&zf(data.len() as u32), &stored).unwrap();
        assert_eq!((h, t, end), (16, 5 * 4, stored.len() as u64));
    }

    /// A zisofs2 file of `data` with zlib, as xorriso writes it (128 KiB
    /// blocks, 64-bit pointers).
    fn compress_v2(data: &[u8]) -> Vec<u8> {
        let mut header = MAGIC_V2.to_vec();
        header.extend_from_slice(&[0, 6, 1, 17]);
        header.extend_from_slice(&(data.len() as u64).to_le_bytes());
        header.extend_from_slice(&[0; 4]);
        compressed(data, &header, 17, 8)
    }

    #[test]
    fn zisofs2_round_trip_and_damage() {
        let mut data = vec![0u8; 200_000];
        data.extend((0..150_000u32).map(|i| (i % 253) as u8));
        let stored = compress_v2(&data);
        // The ZF (version 2) or Z2 entry: PZ, 6 header words, 2^17, 64-bit size.
        let mut entry = b"Z2\x10\x01PZ\x06\x11".to_vec();
        entry.extend_from_slice(&(data.len() as u64).to_le_bytes());
        let zf = Zf::parse(b"Z2", &entry).unwrap();
        assert_eq!(
            (zf.version, zf.size, zf.header_words),
            (2, data.len() as u64, 6)
        );
        let mut as_zf = entry.clone();
        as_zf[3] = 2;
        assert_eq!(Zf::parse(b"ZF", &as_zf), Some(zf));
        assert!(zf.decodable());
        assert_eq!(decode(&zf, &stored, 0, &Limits::default()).unwrap(), data);
        let (h, t, end) = parts(&zf, &stored).unwrap();
        assert_eq!((h, t, end), (24, 4 * 8, stored.len() as u64));
        // A header that disagrees with its entry, and every truncation, are
        // errors, never panics.
        let mut other = stored.clone();
        other[10] = 4;
        assert!(decode(&zf, &other, 0, &Limits::default()).is_err());
        for cut in 0..stored.len() {
            assert!(decode(&zf, &stored[..cut], 0, &Limits::default()).is_err());
        }
        // A pointer far past the file's end.
        let mut far = stored.clone();
        far[24 + 8..24 + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode(&zf, &far, 0, &Limits::default()).is_err());
        // zisofs2's other algorithms are not decoded.
        let xz = Zf {
            algorithm: *b"XZ",
            ..zf
        };
        assert!(!xz.decodable() && decode(&xz, &stored, 0, &Limits::default()).is_err());
    }

    #[test]
    fn bomb_and_damage_are_errors() {
        let data = vec![7u8; 100_000];
        let stored = compress(&data);
        let small = Limits::default().max_decompressed_bytes(1000);
        assert!(matches!(
            decode(&zf(100_000), &stored, 0, &small),
            Err(Error::LimitExceeded { .. })
        ));
        // A ZF entry claiming less than the blocks hold: the header disagrees.
        assert!(decode(&zf(50_000), &stored, 0, &Limits::default()).is_err());
        // Every truncation is an error, never a panic.
        for cut in 0..stored.len() {
            assert!(decode(&zf(100_000), &stored[..cut], 0, &Limits::default()).is_err());
        }
        // A block that inflates beyond its size: header and table say 1 block of
        // 10 bytes, the block holds 100_000.
        let mut lying = stored.clone();
        lying[8..12].copy_from_slice(&10u32.to_le_bytes());
        assert!(decode(&zf(10), &lying, 0, &Limits::default()).is_err());
    }
}
