//! Compressed streams, recognized by magic as the kernel's `decompress_method`
//! does, each decompressed into a buffer under a budget: the segments of an initrd
//! (see [`super::cpio`]) and whole images wrapped in a compressor (`nixos.iso.zst`,
//! a `.img.xz` inside an ISO), which [`super::open`] unwraps.
//!
//! Every decoder reports how many input bytes its stream took, because what
//! follows a stream is the next segment (another archive, another stream, zero
//! padding). Streams of the same format that follow each other directly (gzip
//! members, bzip2 streams, zstd and lz4 frames) are read as one, as their
//! command-line tools do. gzip, xz, lzma, bzip2 and zstd are decoded by their
//! libraries (flate2, liblzma, bzip2, zstd); lz4 frames and the kernel's legacy lz4
//! format are parsed here and their blocks decoded by lz4_flex, since neither
//! library says where a stream ends inside a longer input.
//!
//! Output goes through a [`Sink`] that counts against the image's budget of
//! decompressed bytes, so a decompression bomb stops with `LimitExceeded` at the
//! budget instead of at the end of memory. The same decoders run in a "peek" mode
//! that stops after a few bytes: sniffing uses it to tell a compressed image from
//! any other compressed file.

use std::io::Read;

use crate::error::{Error, Result};
use crate::model::span::Explain;
use crate::model::structure::{structure, Array, Le16, Le32, U8};
use crate::model::Value;
use crate::time::Timestamp;

/// Memory the xz and lzma decoders may use: more than `xz -9`'s 64 MiB dictionary
/// needs, less than a hostile header could ask for.
const LZMA_MEMLIMIT: u64 = 256 << 20;

/// How much output each decoder call produces at most.
const CHUNK: usize = 256 << 10;

/// A compression format, by the magic the kernel checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
    Xz,
    /// The legacy `.lzma` (lzma-alone) format.
    Lzma,
    Zstd,
    /// The lz4 frame format (`lz4` without `-l`).
    Lz4,
    /// The kernel's legacy lz4 format (`lz4 -l`, magic 0x184c2102).
    Lz4Legacy,
    /// bzip2 (`BZh` and the block size digit).
    Bzip2,
}

const LZ4_FRAME_MAGIC: u32 = 0x184d_2204;
const LZ4_LEGACY_MAGIC: u32 = 0x184c_2102;
/// A legacy lz4 block holds at most 8 MiB.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;

/// `LZ4_compressBound`: the largest a block of `n` bytes compresses to.
fn lz4_bound(n: usize) -> usize {
    n + n / 255 + 16
}

impl Compression {
    /// The format whose magic `b` starts with.
    pub(crate) fn detect(b: &[u8]) -> Option<Compression> {
        Some(match b {
            // 1f 9e is the old "packed" gzip the kernel accepts too; flate2 does not.
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Compression::Xz,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0x04, 0x22, 0x4d, 0x18, ..] => Compression::Lz4,
            [0x02, 0x21, 0x4c, 0x18, ..] => Compression::Lz4Legacy,
            // The kernel checks `BZh` alone; the block size digit that follows
            // (1 to 9 hundred kilobytes) makes a text file starting "BZh" no match.
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Compression::Bzip2,
            // lzma-alone has no magic; the kernel takes properties 0x5d and a
            // dictionary size below 16 MiB as one, and so do we.
            [0x5d, 0, 0, ..] => Compression::Lzma,
            _ => return None,
        })
    }

    /// The name used in facts (`gzip`, `xz`, `lzma`, `zstd`, `lz4`, `lz4-legacy`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Lzma => "lzma",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
            Compression::Lz4Legacy => "lz4-legacy",
            Compression::Bzip2 => "bzip2",
        }
    }
}

/// Decompressed bytes and what the budget still allows.
pub(crate) struct Sink {
    pub out: Vec<u8>,
    /// Bytes of earlier segments already counted against `max`.
    used: u64,
    max: u64,
    /// Stop quietly at `max` instead of failing (sniffing).
    peek: bool,
}

/// Whether a decoder should go on.
#[derive(PartialEq, Eq)]
enum Flow {
    More,
    Full,
}

impl Sink {
    /// A sink for one stream, `used` bytes of the budget `max` being spent.
    pub(crate) fn new(used: u64, max: u64) -> Sink {
        Sink {
            out: Vec::new(),
            used,
            max,
            peek: false,
        }
    }

    /// Makes room for `bytes` of output at once (at most what the budget
    /// allows), when the stream says how much it holds: a buffer of gigabytes is
    /// then filled in place instead of copied each time it doubles.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        let allowed = self.max.saturating_sub(self.used);
        let want = usize::try_from(bytes.min(allowed)).unwrap_or(usize::MAX);
        self.out.reserve_exact(want.saturating_sub(self.out.len()));
    }

    /// A decoder's output buffer. For a peek, one byte past what the sink keeps:
    /// decoders fill the buffer before the sink can say it is full, and a sniff
    /// of a few bytes must not decode (and zero) 256 KiB, once per file of a
    /// listing.
    fn chunk(&self) -> Vec<u8> {
        let len = if self.peek {
            usize::try_from(self.max.saturating_sub(self.used))
                .unwrap_or(CHUNK)
                .saturating_add(1)
                .min(CHUNK)
        } else {
            CHUNK
        };
        vec![0u8; len]
    }

    fn peek(want: usize) -> Sink {
        Sink {
            out: Vec::with_capacity(want),
            used: 0,
            max: want as u64,
            peek: true,
        }
    }

    fn push(&mut self, b: &[u8]) -> Result<Flow> {
        let total = self.used + self.out.len() as u64 + b.len() as u64;
        if total <= self.max {
            // Grow by doubling, but never past what the budget allows, so the
            // buffer of a stream near the budget is not twice the budget.
            let need = self.out.len() + b.len();
            if need > self.out.capacity() {
                let allowed = usize::try_from(self.max - self.used).unwrap_or(usize::MAX);
                let target = (self.out.capacity() * 2).min(allowed).max(need);
                self.out.reserve_exact(target - self.out.len());
            }
            self.out.extend_from_slice(b);
            return Ok(Flow::More);
        }
        if self.peek {
            let room = (self.max - self.used) as usize - self.out.len();
            self.out.extend_from_slice(&b[..room.min(b.len())]);
            return Ok(Flow::Full);
        }
        Err(Error::LimitExceeded {
            limit: "decompressed bytes of one image",
            value: total,
            max: self.max,
        })
    }
}

/// One decompressed stream.
pub(crate) struct Stream {
    /// Input bytes the stream took, from its magic to its last byte.
    pub consumed: usize,
    /// Fields of the stream's header worth comparing (the gzip header's time,
    /// name and OS), by name.
    pub facts: Vec<(&'static str, Value)>,
}

/// Decompresses the stream at the start of `input` (at `base` in the image) into
/// `sink`.
pub(crate) fn decompress(
    c: Compression,
    input: &[u8],
    base: u64,
    sink: &mut Sink,
) -> Result<Stream> {
    match c {
        Compression::Gzip => gzip(input, base, sink),
        Compression::Xz | Compression::Lzma => lzma(c, input, base, sink),
        Compression::Zstd => zstd(input, base, sink),
        Compression::Lz4 => lz4_frames(input, base, sink),
        Compression::Lz4Legacy => lz4_legacy(input, base, sink),
        Compression::Bzip2 => bzip2(input, base, sink),
    }
}

/// How many bytes the stream at the start of `input` says it decompresses to,
/// when its header says (a zstd frame written from a file): a hint to size the
/// output, never trusted further.
pub(crate) fn content_size(c: Compression, input: &[u8]) -> Option<u64> {
    match c {
        Compression::Zstd => zstd::zstd_safe::get_frame_content_size(input).ok()?,
        Compression::Xz => xz_index_size(input),
        _ => None,
    }
}

structure! {
    /// An xz stream footer (xz file format 1.1.0, 2.1.2).
    pub(crate) struct XzFooter[12] {
        crc32: 0, 4, Le32, "CRC32", Explain::Derived;
        /// The index's size: (this + 1) * 4 bytes.
        backward_size: 4, 4, Le32, "backward size", Explain::Derived;
        flags: 8, 2, Array<2>, "stream flags", Explain::Nothing;
        /// "YZ".
        magic: 10, 2, Array<2>, "footer magic", Explain::Nothing;
    }
}

structure! {
    /// An lz4 frame descriptor's first two bytes, after the magic (lz4 frame
    /// format 1.6.x).
    pub(crate) struct Lz4Descriptor[2] {
        /// Version (bits 6-7), block independence, checksums, content size,
        /// dictionary id.
        flg: 0, 1, U8, "FLG", Explain::Nothing;
        /// The block maximum size (bits 4-6).
        bd: 1, 1, U8, "BD", Explain::Nothing;
    }
}

/// The uncompressed size an xz stream's index records: the sum of its blocks'
/// sizes. The index sits before the 12-byte stream footer, which the footer's
/// backward size points from (xz file format 1.1.0, sections 2.1.2 and 4). Only
/// the last stream of the file is read (a hint: concatenated streams grow the
/// buffer past it); stream padding (zeros) after it is skipped.
fn xz_index_size(input: &[u8]) -> Option<u64> {
    let mut end = input.len();
    while end >= 4 && input[end - 4..end] == [0, 0, 0, 0] {
        end -= 4;
    }
    let footer_at = end.checked_sub(XzFooter::LEN)?;
    let footer = input.get(footer_at..).and_then(XzFooter::new)?;
    if &footer.magic() != b"YZ" {
        return None;
    }
    let backward = (u64::from(footer.backward_size()) + 1) * 4;
    let start = footer_at.checked_sub(usize::try_from(backward).ok()?)?;
    let index = input.get(start..footer_at)?;
    let mut at = 1usize;
    if index.first()? != &0 {
        return None;
    }
    // Multibyte integers: 7 bits a byte, least significant first, at most 9 bytes.
    let mut varint = || -> Option<u64> {
        let mut v = 0u64;
        for i in 0..9 {
            let b = *index.get(at)?;
            at += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let records = varint()?;
    let mut total = 0u64;
    for _ in 0..records {
        varint()?;
        total = total.checked_add(varint()?)?;
    }
    Some(total)
}

/// The first `want` bytes the stream at the start of `input` decompresses to, or
/// fewer when `input` is cut short before them. Never fails.
pub(crate) fn peek(c: Compression, input: &[u8], want: usize) -> Vec<u8> {
    let mut sink = Sink::peek(want);
    let _ = decompress(c, input, 0, &mut sink);
    sink.out
}

fn damaged(c: Compression, base: u64, why: impl std::fmt::Display) -> Error {
    let structure = match c {
        Compression::Gzip => "gzip stream",
        Compression::Xz => "xz stream",
        Compression::Lzma => "lzma stream",
        Compression::Zstd => "zstd frame",
        Compression::Lz4 => "lz4 frame",
        Compression::Lz4Legacy => "legacy lz4 stream",
        Compression::Bzip2 => "bzip2 stream",
    };
    Error::malformed(structure, base, why.to_string())
}

fn gzip(input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    let c = Compression::Gzip;
    // Members that follow each other are one stream, as gunzip reads them (the
    // kernel reads them one by one, which is the same unless an archive is split
    // across members). The header facts are the first member's.
    let mut facts = Vec::new();
    let mut pos = 0usize;
    let mut chunk = sink.chunk();
    loop {
        let member = input.get(pos..).unwrap_or_default();
        let mut d = flate2::bufread::GzDecoder::new(member);
        let mut full = false;
        loop {
            let n = match d.read(&mut chunk) {
                Ok(n) => n,
                Err(_) if sink.peek => 0,
                Err(e) => return Err(damaged(c, base + pos as u64, e)),
            };
            if n == 0 {
                break;
            }
            if sink.push(&chunk[..n])? == Flow::Full {
                full = true;
                break;
            }
        }
        if pos == 0 {
            facts = header_facts(d.header());
        }
        let rest = d.into_inner();
        pos += member.len() - rest.len();
        if full || !rest.starts_with(&[0x1f, 0x8b]) {
            break;
        }
    }
    Ok(Stream {
        consumed: pos,
        facts,
    })
}

structure! {
    /// The fixed part of a gzip member header (RFC 1952 2.3), facts named
    /// under the stream's prefix (`segment.2`): flate2 reads it for the
    /// facts, the byte layout from this table.
    pub(crate) struct GzipHeader[10] {
        magic: 0, 2, Array<2>, "magic", Explain::Nothing;
        method: 2, 1, U8, "method", Explain::fact_named(".compression");
        /// Which optional parts follow ([`gzip_flag`]).
        flags: 3, 1, U8, "flags", Explain::Derived;
        mtime: 4, 4, Le32, "mtime", Explain::fact_named(".gzip.mtime");
        extra_flags: 8, 1, U8, "extra flags", Explain::Nothing;
        os: 9, 1, U8, "operating system", Explain::fact_named(".gzip.os");
    }
}

structure! {
    /// The length of a gzip header's extra field, which that many bytes follow.
    pub(crate) struct GzipExtraLen[2] {
        xlen: 0, 2, Le16, "extra field length", Explain::Nothing;
    }
}

structure! {
    /// The checksum that ends a gzip header when its flag says so.
    pub(crate) struct GzipHeaderCrc[2] {
        crc16: 0, 2, Le16, "header checksum", Explain::Derived;
    }
}

/// The flag bits of a gzip header: which optional parts follow it.
pub(crate) mod gzip_flag {
    /// A header checksum ends the header.
    pub const HCRC: u8 = 0x02;
    /// An extra field follows.
    pub const EXTRA: u8 = 0x04;
    /// A file name, up to a zero.
    pub const NAME: u8 = 0x08;
    /// A comment, up to a zero.
    pub const COMMENT: u8 = 0x10;
}

/// The fields of a gzip header worth comparing.
fn header_facts(h: Option<&flate2::GzHeader>) -> Vec<(&'static str, Value)> {
    let mut facts = Vec::new();
    let Some(h) = h else {
        return facts;
    };
    // 0 means "no time" (gzip -n); then there is no fact, as for a compressor
    // that has no such field.
    if h.mtime() != 0 {
        let t = Timestamp::from_unix(i64::from(h.mtime()));
        facts.push(("gzip.mtime", Value::Time(t)));
    }
    facts.push(("gzip.os", Value::Int(h.operating_system().into())));
    if let Some(name) = h.filename() {
        let v = match std::str::from_utf8(name) {
            Ok(s) => Value::Text(s.to_owned()),
            Err(_) => Value::Bytes(name.to_vec()),
        };
        facts.push(("gzip.name", v));
    }
    facts
}

fn lzma(c: Compression, input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    let stream = if c == Compression::Xz {
        liblzma::stream::Stream::new_stream_decoder(LZMA_MEMLIMIT, 0)
    } else {
        liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT)
    };
    let mut s = stream.map_err(|e| damaged(c, base, format!("cannot start the decoder: {e}")))?;
    let mut chunk = sink.chunk();
    loop {
        let (in_before, out_before) = (s.total_in(), s.total_out());
        let at = usize::try_from(in_before)
            .unwrap_or(input.len())
            .min(input.len());
        let status = s.process(&input[at..], &mut chunk, liblzma::stream::Action::Run);
        let produced = (s.total_out() - out_before) as usize;
        if sink.push(&chunk[..produced.min(chunk.len())])? == Flow::Full {
            break;
        }
        match status {
            Ok(liblzma::stream::Status::StreamEnd) => break,
            Ok(liblzma::stream::Status::MemNeeded) => {
                return Err(damaged(
                    c,
                    base,
                    format!("needs more than {LZMA_MEMLIMIT} bytes of memory to decode"),
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(damaged(c, base, e)),
        }
        if s.total_in() == in_before && produced == 0 {
            return Err(damaged(c, base, "the stream ends early (truncated?)"));
        }
    }
    Ok(Stream {
        consumed: usize::try_from(s.total_in()).unwrap_or(input.len()),
        facts: Vec::new(),
    })
}

/// bzip2 streams, one after another as `bzip2 -d` reads them (pbzip2 writes one
/// stream per chunk of input). The decoder's memory is fixed by the format (at
/// most about 4 MB for 900 KB blocks), whatever the header says.
fn bzip2(input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    let c = Compression::Bzip2;
    let mut chunk = sink.chunk();
    let mut pos = 0usize;
    loop {
        let mut d = bzip2::Decompress::new(false);
        let start = pos;
        let end = loop {
            let (in_before, out_before) = (d.total_in(), d.total_out());
            let at = start
                .saturating_add(usize::try_from(in_before).unwrap_or(usize::MAX))
                .min(input.len());
            let status = d.decompress(&input[at..], &mut chunk);
            let produced = usize::try_from(d.total_out() - out_before).unwrap_or(0);
            if sink.push(&chunk[..produced.min(chunk.len())])? == Flow::Full {
                break None;
            }
            match status {
                Ok(bzip2::Status::StreamEnd) => {
                    break Some(start + usize::try_from(d.total_in()).unwrap_or(input.len()))
                }
                Ok(_) => {}
                Err(e) => return Err(damaged(c, base + start as u64, e)),
            }
            if d.total_in() == in_before && produced == 0 {
                return Err(damaged(
                    c,
                    base + start as u64,
                    "the stream ends early (truncated?)",
                ));
            }
        };
        let Some(end) = end else {
            // Full: only in peek mode, where the length does not matter.
            pos = input.len();
            break;
        };
        pos = end.min(input.len());
        if Compression::detect(&input[pos..]) != Some(Compression::Bzip2) {
            break;
        }
    }
    Ok(Stream {
        consumed: pos,
        facts: Vec::new(),
    })
}

/// Skippable frames of the zstd and lz4 frame formats: magic 0x184d2a50..5f, a
/// 32-bit length, that many bytes.
fn skippable(b: &[u8]) -> bool {
    b.len() >= 4 && crate::bytes::le32(b, 0) & 0xffff_fff0 == 0x184d_2a50
}

fn zstd(input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    use zstd::stream::raw::{Decoder, Operation};
    let c = Compression::Zstd;
    let mut d = Decoder::new().map_err(|e| damaged(c, base, e))?;
    let mut chunk = sink.chunk();
    let mut pos = 0usize;
    loop {
        let st = match d.run_on_buffers(&input[pos..], &mut chunk) {
            Ok(st) => st,
            Err(e) => return Err(damaged(c, base + pos as u64, e)),
        };
        pos += st.bytes_read;
        if sink.push(&chunk[..st.bytes_written])? == Flow::Full {
            break;
        }
        if st.remaining == 0 {
            // The frame is done. zstd writes one frame, but frames may follow
            // each other (pzstd, concatenated files): read on while they do.
            let next = &input[pos..];
            if next.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || skippable(next) {
                continue;
            }
            break;
        }
        if st.bytes_read == 0 && st.bytes_written == 0 {
            return Err(damaged(c, base, "the frame ends early (truncated?)"));
        }
    }
    Ok(Stream {
        consumed: pos,
        facts: Vec::new(),
    })
}

/// A cursor over the input of an lz4 stream that turns running out of bytes into
/// an error.
struct Input<'i> {
    data: &'i [u8],
    pos: usize,
    c: Compression,
    base: u64,
}

impl<'i> Input<'i> {
    fn take(&mut self, n: usize) -> Result<&'i [u8]> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.data.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(damaged(
                self.c,
                self.base + self.pos as u64,
                format!("needs {n} more bytes but the input ends (truncated?)"),
            )),
        }
    }

    fn u32(&mut self) -> Result<u32> {
        self.take(4).map(|b| crate::bytes::le32(b, 0))
    }

    fn peek_u32(&self) -> Option<u32> {
        let b = self.data.get(self.pos..self.pos + 4)?;
        Some(crate::bytes::le32(b, 0))
    }
}

/// Decodes one lz4 block into `out`. In peek mode a block cut short by the end of
/// the input is decoded as far as it goes.
fn lz4_block(block: &[u8], out: &mut [u8], dict: &[u8], c: Compression, at: u64) -> Result<usize> {
    let r = if dict.is_empty() {
        lz4_flex::block::decompress_into(block, out)
    } else {
        lz4_flex::block::decompress_into_with_dict(block, out, dict)
    };
    r.map_err(|e| damaged(c, at, format!("block is damaged: {e}")))
}

/// The first bytes an lz4 block decodes to, as far as `block` goes: literals and
/// matches until `want` bytes (the block may be cut by the end of a sniffed head).
fn lz4_prefix(block: &[u8], want: usize) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0usize;
    let length = |i: &mut usize, mut n: usize| -> Option<usize> {
        if n == 15 {
            loop {
                let b = *block.get(*i)?;
                *i += 1;
                n += usize::from(b);
                if b != 255 {
                    break;
                }
            }
        }
        Some(n)
    };
    while out.len() < want {
        let Some(&token) = block.get(i) else { break };
        i += 1;
        let Some(lits) = length(&mut i, usize::from(token >> 4)) else {
            break;
        };
        let end = i.saturating_add(lits).min(block.len());
        out.extend_from_slice(&block[i..end]);
        i = end;
        if out.len() >= want || i + 2 > block.len() {
            break;
        }
        let offset = usize::from(u16::from_le_bytes([block[i], block[i + 1]]));
        i += 2;
        let Some(len) = length(&mut i, usize::from(token & 15)) else {
            break;
        };
        if offset == 0 || offset > out.len() {
            break;
        }
        for _ in 0..(len + 4).min(want) {
            let b = out[out.len() - offset];
            out.push(b);
        }
    }
    out.truncate(want);
    out
}

fn lz4_frames(input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    let c = Compression::Lz4;
    let mut r = Input {
        data: input,
        pos: 0,
        c,
        base,
    };
    // The first frame (the magic was seen), then the frames that follow it,
    // skippable ones skipped.
    let mut flow = lz4_frame(&mut r, sink)?;
    while flow == Flow::More {
        match r.peek_u32() {
            Some(LZ4_FRAME_MAGIC) => flow = lz4_frame(&mut r, sink)?,
            Some(_) if skippable(&input[r.pos..]) => {
                r.take(4)?;
                let n = r.u32()? as usize;
                r.take(n)?;
            }
            _ => break,
        }
    }
    Ok(Stream {
        consumed: r.pos,
        facts: Vec::new(),
    })
}

/// One lz4 frame: magic, FLG, BD, optional content size and dictionary id, header
/// checksum, blocks up to an end mark, optional content checksum. Checksums are
/// not verified (a differing byte shows in the decompressed content anyway).
fn lz4_frame(r: &mut Input<'_>, sink: &mut Sink) -> Result<Flow> {
    let (c, start) = (r.c, r.base + r.pos as u64);
    r.take(4)?;
    let d = r.take(Lz4Descriptor::LEN)?;
    let Some(d) = Lz4Descriptor::new(d) else {
        return Err(damaged(c, start, "frame descriptor cut short"));
    };
    let (flg, bd) = (d.flg(), d.bd());
    if flg >> 6 != 1 {
        return Err(damaged(
            c,
            start,
            format!("frame version {} (must be 1)", flg >> 6),
        ));
    }
    let independent = flg & 0x20 != 0;
    let block_checksum = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let dict_id = flg & 0x01 != 0;
    let max = match bd >> 4 & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        n => {
            return Err(damaged(
                c,
                start,
                format!("block size code {n} (must be 4 to 7)"),
            ))
        }
    };
    if content_size {
        r.take(8)?;
    }
    if dict_id {
        return Err(damaged(
            c,
            start,
            "frames that need a dictionary are not supported",
        ));
    }
    r.take(1)?;
    let mut out = vec![0u8; max];
    // Linked blocks may refer to the 64 KiB decoded before them.
    let mut window: Vec<u8> = Vec::new();
    loop {
        let at = r.base + r.pos as u64;
        let word = r.u32()?;
        if word == 0 {
            break;
        }
        let stored = word & 0x8000_0000 != 0;
        let len = (word & 0x7fff_ffff) as usize;
        if len > max {
            return Err(damaged(
                c,
                at,
                format!("block of {len} bytes, more than the {max} the frame allows"),
            ));
        }
        let block = match r.take(len) {
            Ok(b) => b,
            Err(_) if sink.peek => {
                let avail = r.data.get(r.pos..).unwrap_or_default();
                let part = if stored {
                    avail.to_vec()
                } else {
                    lz4_prefix(avail, 64)
                };
                sink.push(&part)?;
                return Ok(Flow::Full);
            }
            Err(e) => return Err(e),
        };
        let n = if stored {
            out[..len].copy_from_slice(block);
            len
        } else {
            lz4_block(block, &mut out, &window, c, at)?
        };
        if sink.push(&out[..n])? == Flow::Full {
            return Ok(Flow::Full);
        }
        if !independent {
            window.extend_from_slice(&out[..n]);
            let excess = window.len().saturating_sub(64 << 10);
            window.drain(..excess);
        }
        if block_checksum {
            r.take(4)?;
        }
    }
    if content_checksum {
        r.take(4)?;
    }
    Ok(Flow::More)
}

/// The legacy format: the magic, then blocks of a 32-bit compressed length and an
/// independently compressed block of at most 8 MiB. It has no end mark: the stream
/// ends with the input, at a zero length (padding), or at a length no block can
/// have (the start of whatever follows); the magic again starts a new stream,
/// which the kernel reads as part of the same one.
fn lz4_legacy(input: &[u8], base: u64, sink: &mut Sink) -> Result<Stream> {
    let c = Compression::Lz4Legacy;
    let mut r = Input {
        data: input,
        pos: 0,
        c,
        base,
    };
    r.take(4)?;
    let mut out = vec![0u8; LZ4_LEGACY_BLOCK];
    while let Some(word) = r.peek_u32() {
        if word == LZ4_LEGACY_MAGIC {
            r.take(4)?;
            continue;
        }
        if word == 0 || word as usize > lz4_bound(LZ4_LEGACY_BLOCK) {
            break;
        }
        let at = r.base + r.pos as u64;
        r.take(4)?;
        let block = match r.take(word as usize) {
            Ok(b) => b,
            Err(_) if sink.peek => {
                let avail = r.data.get(r.pos..).unwrap_or_default();
                sink.push(&lz4_prefix(avail, 64))?;
                break;
            }
            Err(e) => return Err(e),
        };
        let n = lz4_block(block, &mut out, &[], c, at)?;
        if sink.push(&out[..n])? == Flow::Full {
            break;
        }
    }
    Ok(Stream {
        consumed: r.pos,
        facts: Vec::new(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).ok();
        e.finish().unwrap_or_default()
    }

    pub(crate) fn xz(data: &[u8]) -> Vec<u8> {
        let mut s =
            liblzma::stream::Stream::new_easy_encoder(1, liblzma::stream::Check::Crc32).unwrap();
        let mut out = Vec::with_capacity(data.len() + 1024);
        s.process_vec(data, &mut out, liblzma::stream::Action::Finish)
            .unwrap();
        out
    }

    pub(crate) fn bz2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(data).ok();
        e.finish().unwrap_or_default()
    }

    pub(crate) fn lz4_legacy_of(data: &[u8]) -> Vec<u8> {
        let mut out = LZ4_LEGACY_MAGIC.to_le_bytes().to_vec();
        for block in data.chunks(LZ4_LEGACY_BLOCK) {
            let c = lz4_flex::block::compress(block);
            out.extend((c.len() as u32).to_le_bytes());
            out.extend(c);
        }
        out
    }

    /// An lz4 frame of independent 64 KiB blocks, the last one stored, with a
    /// content checksum field (not verified, so zero here).
    pub(crate) fn lz4_frame_of(data: &[u8]) -> Vec<u8> {
        let mut out = LZ4_FRAME_MAGIC.to_le_bytes().to_vec();
        out.extend([0x64, 0x40, 0x00]);
        let blocks: Vec<&[u8]> = data.chunks(64 << 10).collect();
        for (i, block) in blocks.iter().enumerate() {
            if i + 1 == blocks.len() {
                out.extend((block.len() as u32 | 0x8000_0000).to_le_bytes());
                out.extend(*block);
            } else {
                let c = lz4_flex::block::compress(block);
                out.extend((c.len() as u32).to_le_bytes());
                out.extend(c);
            }
        }
        out.extend(0u32.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out
    }

    fn round_trip(c: Compression, packed: &[u8], data: &[u8]) {
        let mut with_tail = packed.to_vec();
        with_tail.extend(b"\x00\x00\x00\x00070701 and more");
        assert_eq!(Compression::detect(&with_tail), Some(c));
        let mut sink = Sink::new(0, 1 << 30);
        let s = decompress(c, &with_tail, 0, &mut sink).unwrap();
        assert_eq!(sink.out, data, "{}", c.name());
        assert_eq!(s.consumed, packed.len(), "{}", c.name());
        // As sniffing sees it: the first 64 KiB.
        assert_eq!(
            peek(c, &packed[..packed.len().min(64 << 10)], 6),
            &data[..6],
            "{}",
            c.name()
        );
        // The budget: one byte short fails, and says so.
        let mut sink = Sink::new(10, data.len() as u64 + 9);
        let e = decompress(c, packed, 0, &mut sink).err();
        assert!(
            matches!(e, Some(Error::LimitExceeded { .. })),
            "{}: {e:?}",
            c.name()
        );
        // Truncation is an error, not a hang or a panic.
        for cut in [1, packed.len() / 2, packed.len() - 1] {
            let mut sink = Sink::new(0, 1 << 30);
            let r = decompress(c, &packed[..cut], 0, &mut sink);
            if c != Compression::Lz4Legacy {
                assert!(r.is_err(), "{} cut at {cut}", c.name());
            }
        }
    }

    fn sample() -> Vec<u8> {
        let mut d = b"070701".to_vec();
        for i in 0..100_000u32 {
            d.extend(format!("{:x}", i * 7 % 1013).as_bytes());
        }
        d
    }

    #[test]
    fn the_stream_header_tables_cover_their_parts() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (GzipHeader::FIELDS, GzipHeader::LEN),
            (GzipExtraLen::FIELDS, GzipExtraLen::LEN),
            (GzipHeaderCrc::FIELDS, GzipHeaderCrc::LEN),
            (XzFooter::FIELDS, XzFooter::LEN),
            (Lz4Descriptor::FIELDS, Lz4Descriptor::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
        assert_eq!(GzipHeader::LEN, 10);
    }

    #[test]
    fn every_format_round_trips_with_its_length() {
        let data = sample();
        round_trip(Compression::Gzip, &gz(&data), &data);
        round_trip(Compression::Xz, &xz(&data), &data);
        round_trip(
            Compression::Zstd,
            &zstd::bulk::compress(&data, 3).unwrap(),
            &data,
        );
        round_trip(Compression::Lz4, &lz4_frame_of(&data), &data);
        round_trip(Compression::Lz4Legacy, &lz4_legacy_of(&data), &data);
        round_trip(Compression::Bzip2, &bz2(&data), &data);
    }

    #[test]
    fn xz_and_zstd_say_their_size() {
        let data = sample();
        assert_eq!(
            content_size(Compression::Xz, &xz(&data)),
            Some(data.len() as u64)
        );
        let mut padded = xz(&data);
        padded.extend([0u8; 8]);
        assert_eq!(
            content_size(Compression::Xz, &padded),
            Some(data.len() as u64)
        );
        let zst = zstd::bulk::compress(&data, 3).unwrap();
        assert_eq!(
            content_size(Compression::Zstd, &zst),
            Some(data.len() as u64)
        );
        // Cut or garbage: no hint, no panic.
        let packed = xz(&data);
        for cut in [0, 1, 12, packed.len() / 2, packed.len() - 1] {
            let _ = content_size(Compression::Xz, &packed[..cut]);
        }
        assert_eq!(content_size(Compression::Gzip, &gz(&data)), None);
    }

    #[test]
    fn bzip2_streams_in_a_row_are_one_stream() {
        let data = sample();
        let (x, y) = data.split_at(1000);
        let mut packed = bz2(x);
        packed.extend(bz2(y));
        let mut sink = Sink::new(0, 1 << 30);
        let s = decompress(Compression::Bzip2, &packed, 0, &mut sink).unwrap();
        assert_eq!(sink.out, data);
        assert_eq!(s.consumed, packed.len());
    }

    #[test]
    fn gzip_header_fields_are_facts() {
        let mut e = flate2::GzBuilder::new()
            .mtime(1_700_000_000)
            .filename("initrd")
            .write(Vec::new(), flate2::Compression::fast());
        e.write_all(b"070701").ok();
        let packed = e.finish().unwrap();
        let mut sink = Sink::new(0, 100);
        let s = decompress(Compression::Gzip, &packed, 0, &mut sink).unwrap();
        let names: Vec<&str> = s.facts.iter().map(|f| f.0).collect();
        assert_eq!(names, ["gzip.mtime", "gzip.os", "gzip.name"]);
        assert_eq!(s.facts[0].1.to_string(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn gzip_members_in_a_row_are_one_stream() {
        let data = sample();
        let (x, y) = data.split_at(1000);
        let mut packed = gz(x);
        packed.extend(gz(y));
        let mut sink = Sink::new(0, 1 << 30);
        let s = decompress(Compression::Gzip, &packed, 0, &mut sink).unwrap();
        assert_eq!(sink.out, data);
        assert_eq!(s.consumed, packed.len());
    }

    #[test]
    fn a_bomb_stops_at_the_budget() {
        let zeros = vec![0u8; 64 << 20];
        let packed = zstd::bulk::compress(&zeros, 3).unwrap();
        let mut sink = Sink::new(0, 1 << 20);
        let e = decompress(Compression::Zstd, &packed, 0, &mut sink).err();
        assert!(matches!(e, Some(Error::LimitExceeded { max, .. }) if max == 1 << 20));
        assert!(sink.out.len() <= 1 << 20);
    }

    #[test]
    fn lz4_prefix_follows_matches() {
        let data = b"0707010000000000000000abcabcabcabc".repeat(50);
        let packed = lz4_flex::block::compress(&data);
        assert_eq!(lz4_prefix(&packed, 40), &data[..40]);
        // Cut after the first match's offset: its length is in the token.
        let part = lz4_prefix(&packed[..10], 40);
        assert!(part.len() >= 7 && part == data[..part.len()], "{part:?}");
        assert!(lz4_prefix(&[0xff, 0xff], 40).is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        let data = sample();
        let seeds = [
            gz(&data[..5000]),
            xz(&data[..5000]),
            zstd::bulk::compress(&data[..5000], 3).unwrap(),
            lz4_frame_of(&data[..5000]),
            lz4_legacy_of(&data[..5000]),
            bz2(&data[..5000]),
        ];
        for seed in &seeds {
            let c = Compression::detect(seed).unwrap();
            for _ in 0..200 {
                let mut input = seed.clone();
                let len = input.len();
                for _ in 0..(next() % 4 + 1) {
                    let i = next() as usize % len;
                    input[i] = next() as u8;
                }
                input.truncate(next() as usize % (len + 1));
                let mut sink = Sink::new(0, 1 << 20);
                let _ = decompress(c, &input, 0, &mut sink);
                let _ = peek(c, &input, 6);
                let _ = content_size(c, &input);
            }
        }
    }
}
