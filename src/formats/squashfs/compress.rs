//! The squashfs compressors, each called with an output buffer of fixed size.
//!
//! Every decompression gets a buffer one byte larger than the most the structure may
//! hold (8 KiB for metadata, the block size for data), so a stream that would grow
//! past that is caught by the buffer running full instead of by memory running out,
//! and a stream of exactly the maximum still has room to reach its end marker.

use std::cell::RefCell;

use crate::error::{Error, Result};

/// Memory the xz and lzma decoders may use. Squashfs dictionaries are at most the
/// block size (1 MiB); a stream header asking for more than this is not squashfs.
const LZMA_MEMLIMIT: u64 = 64 << 20;

/// A compression algorithm of squashfs 4.0 (the superblock's `compression_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compressor {
    /// zlib streams (id 1; called gzip by squashfs).
    Gzip,
    /// Legacy lzma-alone streams (id 2).
    Lzma,
    /// LZO1X (id 3).
    Lzo,
    /// xz streams (id 4).
    Xz,
    /// LZ4 blocks (id 5).
    Lz4,
    /// Zstandard frames (id 6).
    Zstd,
}

impl Compressor {
    /// The compressor with the superblock id `id`.
    pub fn from_id(id: u16) -> Option<Compressor> {
        Some(match id {
            1 => Compressor::Gzip,
            2 => Compressor::Lzma,
            3 => Compressor::Lzo,
            4 => Compressor::Xz,
            5 => Compressor::Lz4,
            6 => Compressor::Zstd,
            _ => return None,
        })
    }

    /// The superblock id.
    pub fn id(self) -> u16 {
        match self {
            Compressor::Gzip => 1,
            Compressor::Lzma => 2,
            Compressor::Lzo => 3,
            Compressor::Xz => 4,
            Compressor::Lz4 => 5,
            Compressor::Zstd => 6,
        }
    }

    /// The name mksquashfs uses for it (`gzip`, `lzma`, `lzo`, `xz`, `lz4`, `zstd`).
    pub fn name(self) -> &'static str {
        match self {
            Compressor::Gzip => "gzip",
            Compressor::Lzma => "lzma",
            Compressor::Lzo => "lzo",
            Compressor::Xz => "xz",
            Compressor::Lz4 => "lz4",
            Compressor::Zstd => "zstd",
        }
    }
}

thread_local! {
    // A zstd context costs a few hundred KiB to set up; data blocks come by the
    // thousand, so each thread keeps one.
    static ZSTD: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Decompresses `input` (a block of `structure` at image offset `offset`) into at
/// most `max` bytes.
pub(crate) fn decompress(
    compressor: Compressor,
    input: &[u8],
    max: usize,
    structure: &'static str,
    offset: u64,
) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::malformed(structure, offset, reason);
    let name = compressor.name();
    // One byte more than the most allowed, to tell a block that grows past it.
    // Written into spare capacity where the decoder can (gzip, xz, zstd): a
    // listing decodes every fragment block, and zeroing a block-sized buffer
    // first was a twentieth of its time.
    let mut out = Vec::with_capacity(max + 1);
    let n = match compressor {
        Compressor::Gzip => {
            let mut z = flate2::Decompress::new(true);
            match z.decompress_vec(input, &mut out, flate2::FlushDecompress::Finish) {
                Ok(flate2::Status::StreamEnd) => {
                    usize::try_from(z.total_out()).unwrap_or(usize::MAX)
                }
                Ok(_) if z.total_out() > max as u64 => usize::MAX,
                Ok(_) => return Err(fail(format!("{name} stream ends early (truncated block?)"))),
                Err(e) => return Err(fail(format!("{name} stream is damaged: {e}"))),
            }
        }
        Compressor::Xz | Compressor::Lzma => {
            let stream = if compressor == Compressor::Xz {
                liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
            } else {
                liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
            };
            let mut stream =
                stream.map_err(|e| fail(format!("cannot start the {name} decoder: {e}")))?;
            match stream.process_vec(input, &mut out, liblzma::stream::Action::Finish) {
                Ok(liblzma::stream::Status::StreamEnd) => {
                    usize::try_from(stream.total_out()).unwrap_or(usize::MAX)
                }
                Ok(_) if stream.total_out() > max as u64 => usize::MAX,
                Ok(_) => return Err(fail(format!("{name} stream ends early (truncated block?)"))),
                Err(e) => return Err(fail(format!("{name} stream is damaged: {e}"))),
            }
        }
        Compressor::Lzo => {
            out.resize(max + 1, 0);
            let (done, status) = rust_lzo::LZOContext::decompress_to_slice(input, &mut out);
            let n = done.len();
            match status {
                rust_lzo::LZOError::OK => n,
                rust_lzo::LZOError::OUTPUT_OVERRUN => usize::MAX,
                rust_lzo::LZOError::INPUT_OVERRUN => {
                    return Err(fail(format!("{name} stream ends early (truncated block?)")))
                }
                _ => return Err(fail(format!("{name} stream is damaged"))),
            }
        }
        Compressor::Lz4 => {
            out.resize(max + 1, 0);
            match lz4_flex::block::decompress_into(input, &mut out) {
                Ok(n) => n,
                Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) => usize::MAX,
                Err(e) => return Err(fail(format!("{name} block is damaged: {e}"))),
            }
        }
        Compressor::Zstd => ZSTD.with(|cell| {
            let mut slot = cell.borrow_mut();
            let z = match &mut *slot {
                Some(z) => z,
                None => {
                    let z = zstd::bulk::Decompressor::new()
                        .map_err(|e| fail(format!("cannot start the {name} decoder: {e}")))?;
                    slot.insert(z)
                }
            };
            match z.decompress_to_buffer(input, &mut out) {
                Ok(n) => Ok(n),
                // zstd says "Destination buffer is too small" for a frame that grows
                // past the buffer, the same words in every version since 1.3.
                Err(e) if e.to_string().contains("too small") => Ok(usize::MAX),
                Err(e) => Err(fail(format!("{name} frame is damaged: {e}"))),
            }
        })?,
    };
    if n > max {
        return Err(fail(format!("decompresses to more than {max} bytes")));
    }
    out.truncate(n);
    Ok(out)
}

/// The first `want` bytes `input` decompresses to (fewer if it ends sooner),
/// decoding no further where the compressor streams (gzip, xz, lzma, zstd): for
/// looking at the head of a file (is it an image?) without paying for its whole
/// first block. LZO and LZ4 blocks are decoded whole, up to `max`.
pub(crate) fn decompress_prefix(
    compressor: Compressor,
    input: &[u8],
    want: usize,
    max: usize,
    structure: &'static str,
    offset: u64,
) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::malformed(structure, offset, reason);
    let name = compressor.name();
    let mut out = vec![0u8; want];
    let n = match compressor {
        Compressor::Gzip => {
            let mut z = flate2::Decompress::new(true);
            z.decompress(input, &mut out, flate2::FlushDecompress::None)
                .map_err(|e| fail(format!("{name} stream is damaged: {e}")))?;
            z.total_out()
        }
        Compressor::Xz | Compressor::Lzma => {
            let stream = if compressor == Compressor::Xz {
                liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
            } else {
                liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
            };
            let mut stream =
                stream.map_err(|e| fail(format!("cannot start the {name} decoder: {e}")))?;
            stream
                .process(input, &mut out, liblzma::stream::Action::Run)
                .map_err(|e| fail(format!("{name} stream is damaged: {e}")))?;
            stream.total_out()
        }
        Compressor::Zstd => {
            use zstd::stream::raw::{Decoder, InBuffer, Operation, OutBuffer};
            let mut d = Decoder::new()
                .map_err(|e| fail(format!("cannot start the {name} decoder: {e}")))?;
            let mut inb = InBuffer::around(input);
            let mut outb = OutBuffer::around(out.as_mut_slice());
            // Each call makes progress or says the frame is done; bounded by the
            // input and output sizes either way.
            while outb.pos() < want && inb.pos() < input.len() {
                let before = (inb.pos(), outb.pos());
                let hint = d
                    .run(&mut inb, &mut outb)
                    .map_err(|e| fail(format!("{name} frame is damaged: {e}")))?;
                if hint == 0 || before == (inb.pos(), outb.pos()) {
                    break;
                }
            }
            outb.pos() as u64
        }
        Compressor::Lzo | Compressor::Lz4 => {
            let mut whole = decompress(compressor, input, max, structure, offset)?;
            whole.truncate(want);
            return Ok(whole);
        }
    };
    out.truncate(usize::try_from(n).unwrap_or(want).min(want));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).ok();
        e.finish().unwrap_or_default()
    }

    #[test]
    fn ids_round_trip() {
        for id in 1..=6 {
            assert_eq!(Compressor::from_id(id).map(Compressor::id), Some(id));
        }
        assert_eq!(Compressor::from_id(0), None);
        assert_eq!(Compressor::from_id(7), None);
    }

    #[test]
    fn output_is_bounded() {
        let data = vec![7u8; 10_000];
        let z = zlib(&data);
        assert_eq!(
            decompress(Compressor::Gzip, &z, 10_000, "t", 0).ok(),
            Some(data.clone())
        );
        let e = decompress(Compressor::Gzip, &z, 8192, "t", 5)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("t at byte 5: decompresses to more than 8192 bytes")
        );
        let e = decompress(Compressor::Gzip, &z[..z.len() / 2], 10_000, "t", 0);
        assert!(e.is_err());
        let lz = lz4_flex::block::compress(&data);
        assert_eq!(
            decompress(Compressor::Lz4, &lz, 10_000, "t", 0).ok(),
            Some(data.clone())
        );
        assert!(decompress(Compressor::Lz4, &lz, 9_999, "t", 0).is_err());
        let zs = zstd::bulk::compress(&data, 3).unwrap_or_default();
        assert_eq!(
            decompress(Compressor::Zstd, &zs, 10_000, "t", 0).ok(),
            Some(data.clone())
        );
        assert!(decompress(Compressor::Zstd, &zs, 9_999, "t", 0).is_err());
    }

    #[test]
    fn a_prefix_is_the_head_of_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 / 3) as u8).collect();
        let xz = {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(&data).ok();
            e.finish().unwrap_or_default()
        };
        for (c, packed) in [
            (Compressor::Gzip, zlib(&data)),
            (Compressor::Xz, xz),
            (
                Compressor::Zstd,
                zstd::bulk::compress(&data, 3).unwrap_or_default(),
            ),
            (Compressor::Lz4, lz4_flex::block::compress(&data)),
        ] {
            for want in [0, 1, 4096, 32_774, 100_000, 200_000] {
                let head = decompress_prefix(c, &packed, want, 100_000, "t", 0);
                let end = want.min(data.len());
                assert_eq!(head.ok().as_deref(), Some(&data[..end]), "{c:?} {want}");
            }
            let cut = &packed[..packed.len() / 2];
            assert!(
                decompress_prefix(c, cut, 200_000, 100_000, "t", 0)
                    .map_or(true, |h| h.len() < data.len()),
                "{c:?}: half a stream gives less"
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        // A cheap deterministic generator: the point is many shapes of bad input.
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let seeds = [
            zlib(b"some text some text some text"),
            lz4_flex::block::compress(b"abcabcabcabc"),
        ];
        for c in [
            Compressor::Gzip,
            Compressor::Lzma,
            Compressor::Lzo,
            Compressor::Xz,
            Compressor::Lz4,
            Compressor::Zstd,
        ] {
            for round in 0..300 {
                let mut input = seeds[round % 2].clone();
                let len = input.len();
                for _ in 0..(next() % 4 + 1) {
                    let i = next() as usize % len;
                    input[i] = next() as u8;
                }
                input.truncate(next() as usize % (len + 1));
                let _ = decompress(c, &input, 64, "t", 0);
                let _ = decompress_prefix(c, &input, 16, 64, "t", 0);
            }
        }
    }
}
