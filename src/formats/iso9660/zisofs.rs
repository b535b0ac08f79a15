//! zisofs (transparent compression of single files, as `mkzftree` and xorriso's
//! `--zisofs` filter write it): a Rock Ridge `ZF` entry marks the file, whose
//! extent holds a header, a table of block pointers and zlib-compressed blocks.
//! The Linux kernel and libarchive show the decompressed bytes, so the reader
//! lists the file at its uncompressed size and hands out the decompressed
//! content: the same file stored plainly and stored compressed then compare as
//! equal, and a changed byte is found at its offset in the real content.
//!
//! Only version 1 (`pz`, zlib, the kernel's format and xorriso's default) is
//! decoded. zisofs2 (`PZ`, files of 4 GiB and more, xorriso's `version_2=on`)
//! and unknown algorithms keep their stored bytes as content, with the
//! algorithm as an attribute, so such a file still compares by what is stored.
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

use crate::bytes::{byte, le32};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::key::Attr;

/// The magic that starts a version 1 compressed file.
pub(crate) const MAGIC_V1: [u8; 8] = [0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07];

/// The attribute naming the algorithm of a zisofs file (`pz`).
pub(crate) const ALGORITHM: Attr = Attr::new("zisofs.algorithm");
/// The attribute holding a zisofs file's block size in bytes.
pub(crate) const BLOCK_SIZE: Attr = Attr::new("zisofs.block_size");

/// What a `ZF` entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zf {
    /// The algorithm: `pz` for zisofs version 1.
    pub algorithm: [u8; 2],
    /// The header's size in 4-byte units.
    pub header_words: u8,
    /// log2 of the block size.
    pub log2_block: u8,
    /// The uncompressed size (the little-endian half of the both-endian field).
    pub size: u32,
}

impl Zf {
    /// Decodes the body of a `ZF` entry (`d` is the whole entry, its 4-byte
    /// SUSP header included); `None` when it is too short.
    pub(crate) fn parse(d: &[u8]) -> Option<Zf> {
        (d.len() >= 16).then(|| Zf {
            algorithm: [byte(d, 4), byte(d, 5)],
            header_words: byte(d, 6),
            log2_block: byte(d, 7),
            size: le32(d, 8),
        })
    }

    /// Whether this reader decodes the file (zisofs version 1).
    pub(crate) fn decodable(&self) -> bool {
        &self.algorithm == b"pz"
    }

    /// The block size, when it is one the format allows.
    fn block_size(&self) -> Option<u64> {
        (15..=17)
            .contains(&self.log2_block)
            .then(|| 1u64 << self.log2_block)
    }
}

/// Where the parts of a version 1 file are inside its stored bytes, for byte
/// accounting: header length, block pointer table length, and the total the
/// last pointer says the file takes. `None` when the stored bytes are no
/// zisofs file.
pub(crate) fn parts(zf: &Zf, stored: &[u8]) -> Option<(u64, u64, u64)> {
    let header = u64::from(zf.header_words) * 4;
    let block = zf.block_size()?;
    if stored.get(..8) != Some(&MAGIC_V1[..]) {
        return None;
    }
    let blocks = u64::from(zf.size).div_ceil(block);
    let table = (blocks + 1) * 4;
    let last_at = usize::try_from(header + blocks * 4).ok()?;
    let end = stored.get(last_at..last_at + 4).map(|b| le32(b, 0))?;
    Some((header, table, u64::from(end)))
}

/// Decompresses a version 1 file from its stored bytes (`stored`, which start
/// at image offset `offset`, for messages). Every pointer is checked against
/// the stored bytes, every block against the block size, and the whole against
/// `limits.max_decompressed_bytes`.
pub(crate) fn decode(zf: &Zf, stored: &[u8], offset: u64, limits: &Limits) -> Result<Vec<u8>> {
    let bad = |at: u64, why: String| Error::malformed("zisofs file", offset + at, why);
    if !zf.decodable() {
        return Err(bad(0, "algorithm is not zisofs version 1 (pz)".to_owned()));
    }
    let size = u64::from(zf.size);
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
    if stored.get(..8) != Some(&MAGIC_V1[..]) {
        return Err(bad(
            0,
            "no zisofs magic at the start of the file".to_owned(),
        ));
    }
    if stored.len() >= 16 && u64::from(le32(stored, 8)) != size {
        return Err(bad(
            8,
            format!("header says {} bytes, the ZF entry {size}", le32(stored, 8)),
        ));
    }
    let header = usize::from(zf.header_words) * 4;
    let blocks =
        usize::try_from(size.div_ceil(block)).map_err(|_| bad(0, "too many blocks".to_owned()))?;
    let pointer = |i: usize| -> Result<usize> {
        let at = header + i * 4;
        let raw = stored.get(at..at + 4).ok_or_else(|| {
            bad(
                at as u64,
                "block pointer table past the file's end".to_owned(),
            )
        })?;
        Ok(le32(raw, 0) as usize)
    };
    // The size was checked against the budget above; allocate it at once.
    let mut out = Vec::with_capacity(size as usize);
    let mut start = pointer(0)?;
    for i in 0..blocks {
        let end = pointer(i + 1)?;
        let want = (size - out.len() as u64).min(block) as usize;
        let Some(raw) = stored.get(start..end) else {
            return Err(bad(
                (header + i * 4) as u64,
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

    fn zf(size: u32) -> Zf {
        Zf {
            algorithm: *b"pz",
            header_words: 4,
            log2_block: 15,
            size,
        }
    }

    /// A zisofs file of `data`, made as mkzftree does (blocks of zeros empty).
    fn compress(data: &[u8]) -> Vec<u8> {
        let block = 1usize << 15;
        let blocks: Vec<&[u8]> = data.chunks(block).collect();
        let mut out = MAGIC_V1.to_vec();
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&[4, 15, 0, 0]);
        let table_at = out.len();
        out.resize(table_at + (blocks.len() + 1) * 4, 0);
        let mut ptrs = vec![out.len() as u32];
        for b in &blocks {
            if b.iter().any(|&x| x != 0) {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(b).unwrap();
                out.extend(e.finish().unwrap());
            }
            ptrs.push(out.len() as u32);
        }
        for (i, p) in ptrs.iter().enumerate() {
            out[table_at + i * 4..table_at + i * 4 + 4].copy_from_slice(&p.to_le_bytes());
        }
        out
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
