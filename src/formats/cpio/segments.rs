//! Splitting an initrd into segments and reading the members of each.
//!
//! The kernel's `unpack_to_rootfs` reads an initrd as a sequence of: cpio archives
//! (each ending with a `TRAILER!!!` member), zero bytes between them, and
//! compressed streams, each holding one or more archives. A cpio header must
//! start on a multiple of 4 counted from the start of the initrd (inside a
//! decompressed stream, from the start of its output). This module reads the same
//! sequence. A segment is a run of plain archives, or one compressed stream.

use std::collections::BTreeSet;

use super::header::{self, CpioFormat, Header};
use crate::error::{Error, Result};
use crate::formats::compress::{self, Compression, Sink};
use crate::limits::{check, Limits};
use crate::model::Value;

/// Which buffer a member's data is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buf {
    /// The image itself.
    Input,
    /// The decompressed output of a segment (index into the buffers).
    Decompressed(usize),
}

/// Where some bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Loc {
    pub buf: Buf,
    pub start: usize,
    pub len: usize,
}

/// One member as read from its header.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub dev: (u32, u32),
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u64,
    pub rdev: (u32, u32),
    pub check: Option<u32>,
    pub name: Vec<u8>,
    pub data: Loc,
    /// Index of the segment, and of the archive (over the whole image).
    pub segment: usize,
    pub archive: usize,
    /// Where the header is: in the image, or in the segment's decompressed bytes.
    pub offset: u64,
}

/// What a segment's buffer holds, in order, as the reader read it: the byte
/// layout's pieces, so that it names what the reader read without reading
/// the archives again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// The header of a member (or of a trailer) at `at` of the buffer, of
    /// archive number `archive` (counted over the whole image from 1).
    Header { at: usize, archive: usize },
    /// Zeros between archives, `at..at + len`, after archive `after`.
    Zeros { at: usize, len: usize, after: usize },
}

/// One segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub compression: Option<Compression>,
    /// Where it starts in the image, and how many bytes of the image it takes.
    pub offset: u64,
    pub stored: u64,
    /// Bytes of decompressed output (compressed segments).
    pub decompressed: Option<u64>,
    pub formats: BTreeSet<CpioFormat>,
    pub archives: usize,
    pub facts: Vec<(&'static str, Value)>,
    /// What its buffer (the image for a plain segment, else its output) holds.
    pub pieces: Vec<Piece>,
}

impl Segment {
    /// How the segment is named in the `cpio.segment` attribute.
    pub(crate) fn label(&self, index: usize) -> String {
        let how = self.compression.map_or("uncompressed", |c| c.name());
        format!("{} ({how}, at byte {})", index + 1, self.offset)
    }
}

/// Everything read from an image.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub members: Vec<Member>,
    pub segments: Vec<Segment>,
    pub buffers: Vec<Vec<u8>>,
    /// Problems that stopped the reading (what was read before them is kept).
    pub errors: Vec<Error>,
    /// Zero bytes of padding between and after segments.
    pub zero_bytes: u64,
}

/// Reads every segment of `input`.
pub(crate) fn parse(input: &[u8], limits: &Limits) -> Parsed {
    let mut p = Parsed::default();
    let mut pos = 0usize;
    let mut used = 0u64;
    let mut archive = 0usize;
    while pos < input.len() {
        let zeros = input[pos..].iter().take_while(|&&b| b == 0).count();
        pos += zeros;
        p.zero_bytes += zeros as u64;
        let Some(rest) = input.get(pos..).filter(|r| !r.is_empty()) else {
            break;
        };
        let index = p.segments.len();
        if starts_archive(rest, pos) {
            let mut seg = Segment {
                compression: None,
                offset: pos as u64,
                stored: 0,
                decompressed: None,
                formats: BTreeSet::new(),
                archives: 0,
                facts: Vec::new(),
                pieces: Vec::new(),
            };
            let mut reader = Archives {
                buf: input,
                which: Buf::Input,
                segment: index,
                archive: &mut archive,
                members: &mut p.members,
                limits,
                seg: &mut seg,
            };
            let r = reader.read(pos);
            let end = match r {
                Ok(end) => end,
                Err((end, e)) => {
                    p.errors.push(e);
                    seg.stored = (end - pos) as u64;
                    p.segments.push(seg);
                    break;
                }
            };
            seg.stored = (end - pos) as u64;
            p.segments.push(seg);
            pos = end;
            continue;
        }
        let Some(c) = Compression::detect(rest) else {
            p.errors.push(Error::malformed(
                "initrd",
                pos as u64,
                "neither a cpio archive nor a known compressed stream starts here; the rest \
                 of the image is not read",
            ));
            break;
        };
        let mut sink = Sink::new(used, limits.max_decompressed_bytes);
        let stream = match compress::decompress(c, rest, pos as u64, &mut sink) {
            Ok(s) if s.consumed > 0 => s,
            Ok(_) => {
                p.errors.push(Error::malformed(
                    "initrd",
                    pos as u64,
                    format!("an empty {} stream", c.name()),
                ));
                break;
            }
            Err(e) => {
                p.errors.push(e);
                break;
            }
        };
        let mut out = sink.out;
        out.shrink_to_fit();
        used += out.len() as u64;
        let mut seg = Segment {
            compression: Some(c),
            offset: pos as u64,
            stored: stream.consumed as u64,
            decompressed: Some(out.len() as u64),
            formats: BTreeSet::new(),
            archives: 0,
            facts: stream.facts,
            pieces: Vec::new(),
        };
        let which = Buf::Decompressed(p.buffers.len());
        let mut reader = Archives {
            buf: &out,
            which,
            segment: index,
            archive: &mut archive,
            members: &mut p.members,
            limits,
            seg: &mut seg,
        };
        let result = if starts_archive(&out, 0) {
            reader.read(0).map_err(|(_, e)| e).and_then(|end| {
                // After the last archive only zeros may follow, as the kernel
                // demands ("junk within compressed archive").
                match out
                    .get(end..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&b| b != 0)
                {
                    None => Ok(()),
                    Some(i) => Err(Error::malformed(
                        "cpio archive",
                        (end + i) as u64,
                        "junk after the last archive of the stream",
                    )),
                }
            })
        } else {
            Err(Error::malformed(
                "cpio archive",
                0,
                "the stream does not hold a cpio archive",
            ))
        };
        p.buffers.push(out);
        p.segments.push(seg);
        pos += stream.consumed;
        // The kernel stops at the first damage; so do we (what follows would
        // be read out of step).
        if let Err(e) = result {
            p.errors.push(in_segment(e, index, c));
            break;
        }
    }
    p
}

/// Whether a cpio header starts at `rest`, which is at `pos` of its buffer: the
/// magic, and for newc and crc a position on a multiple of 4.
fn starts_archive(rest: &[u8], pos: usize) -> bool {
    match CpioFormat::detect(rest) {
        Some(CpioFormat::Odc) => true,
        Some(_) => pos % 4 == 0,
        None => false,
    }
}

/// Says that an error's offset is in the decompressed bytes of a segment.
fn in_segment(e: Error, index: usize, c: Compression) -> Error {
    let place = format!(
        "in the {} output of segment {} (offsets count from its start)",
        c.name(),
        index + 1
    );
    match e {
        Error::Malformed {
            structure,
            offset,
            reason,
        } => Error::Malformed {
            structure,
            offset,
            reason: format!("{place}: {reason}"),
        },
        Error::OutOfBounds {
            structure,
            offset,
            end,
            len,
        } => Error::Malformed {
            structure,
            offset,
            reason: format!(
                "{place}: needs bytes up to {end} but the output has only {len} (truncated?)"
            ),
        },
        other => other,
    }
}

/// Reads archives one after the other from one buffer.
struct Archives<'b, 'r> {
    buf: &'b [u8],
    which: Buf,
    segment: usize,
    archive: &'r mut usize,
    members: &'r mut Vec<Member>,
    limits: &'r Limits,
    seg: &'r mut Segment,
}

impl Archives<'_, '_> {
    /// Reads archives from `pos` while they follow each other (with zero padding
    /// between). Returns where the last one's padding ends, or where reading
    /// stopped and why.
    fn read(&mut self, mut pos: usize) -> Result<usize, (usize, Error)> {
        loop {
            pos = self.archive_at(pos)?;
            *self.archive += 1;
            self.seg.archives += 1;
            let rest = self.buf.get(pos..).unwrap_or_default();
            let zeros = rest.iter().take_while(|&&b| b == 0).count();
            let next = pos + zeros;
            let follows = next < self.buf.len() && starts_archive(&self.buf[next..], next);
            // Zeros in the segment's bytes: before another archive, at the
            // buffer's end, or anywhere in a decompressed output (whose
            // junk check follows).
            let within = follows || next == self.buf.len() || self.which != Buf::Input;
            if zeros > 0 && within {
                self.seg.pieces.push(Piece::Zeros {
                    at: pos,
                    len: zeros,
                    after: *self.archive,
                });
            }
            if follows {
                pos = next;
                continue;
            }
            // Zeros that end the buffer belong to this segment; before anything
            // else they are padding between segments.
            return Ok(if next == self.buf.len() { next } else { pos });
        }
    }

    /// Reads one archive, up to and including its trailer.
    fn archive_at(&mut self, mut pos: usize) -> Result<usize, (usize, Error)> {
        loop {
            if pos >= self.buf.len() {
                return Err((
                    pos,
                    Error::malformed(
                        "cpio archive",
                        pos as u64,
                        "ends without a TRAILER!!! member (truncated?)",
                    ),
                ));
            }
            let h = header::parse(self.buf, pos, 0).map_err(|e| (pos, e))?;
            self.seg.formats.insert(h.format);
            let piece = Piece::Header {
                at: pos,
                archive: *self.archive + 1,
            };
            if h.is_trailer() {
                self.seg.pieces.push(piece);
                return Ok(h.next);
            }
            check(
                "entries per image",
                self.members.len() as u64 + 1,
                self.limits.max_entries,
            )
            .map_err(|e| (pos, e))?;
            self.seg.pieces.push(piece);
            self.members.push(self.member(&h, pos));
            pos = h.next;
        }
    }

    fn member(&self, h: &Header<'_>, pos: usize) -> Member {
        Member {
            dev: h.dev,
            ino: h.ino,
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            nlink: h.nlink,
            mtime: h.mtime,
            rdev: h.rdev,
            check: h.check,
            name: h.name.to_vec(),
            data: Loc {
                buf: self.which,
                start: h.data_at,
                len: h.data_len,
            },
            segment: self.segment,
            archive: *self.archive,
            offset: pos as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::header::tests::newc;
    use super::*;
    use crate::formats::compress::tests::{gz, lz4_legacy_of};

    /// A newc archive of `members` (name, data) starting at `at` of its buffer,
    /// with its trailer.
    pub(crate) fn archive(at: usize, members: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut a = Vec::new();
        for (name, data) in members {
            a.extend(newc("070701", at + a.len(), name, 0o100644, 7, data));
        }
        a.extend(newc("070701", at + a.len(), b"TRAILER!!!", 0, 0, b""));
        a
    }

    #[test]
    fn the_reader_records_what_it_read() {
        let mut img = archive(0, &[(b"a", b"x")]);
        let first_trailer = img.len() - archive(0, &[]).len();
        img.resize(512, 0);
        let zeros = first_trailer + archive(0, &[]).len();
        img.extend(archive(512, &[(b"b", b"y")]));
        let p = parse(&img, &Limits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(p.segments.len(), 1);
        let second_trailer = 512 + first_trailer;
        assert_eq!(
            p.segments[0].pieces,
            [
                Piece::Header { at: 0, archive: 1 },
                Piece::Header {
                    at: first_trailer,
                    archive: 1
                },
                Piece::Zeros {
                    at: zeros,
                    len: 512 - zeros,
                    after: 1
                },
                Piece::Header {
                    at: 512,
                    archive: 2
                },
                Piece::Header {
                    at: second_trailer,
                    archive: 2
                },
            ]
        );
        // Past the entry limit nothing more is recorded (the second archive's
        // member is one too many): the byte layout names only what the reader
        // read.
        let all = p.segments[0].pieces.clone();
        let limits = Limits {
            max_entries: 1,
            ..Limits::default()
        };
        let p = parse(&img, &limits);
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.segments[0].pieces, all[..3]);
    }

    #[test]
    fn plain_then_compressed_segments() {
        let mut img = archive(0, &[(b"kernel/x86/microcode/GenuineIntel.bin", b"ucode")]);
        img.resize(512, 0);
        img.extend(gz(&archive(0, &[(b"init", b"#!/bin/sh\n"), (b"etc", b"")])));
        img.extend([0u8; 100]);
        img.extend(lz4_legacy_of(&archive(0, &[(b"late", b"x")])));
        let p = parse(&img, &Limits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let names: Vec<&[u8]> = p.members.iter().map(|m| m.name.as_slice()).collect();
        assert_eq!(
            names,
            [
                &b"kernel/x86/microcode/GenuineIntel.bin"[..],
                b"init",
                b"etc",
                b"late"
            ]
        );
        let how: Vec<Option<&str>> = p
            .segments
            .iter()
            .map(|s| s.compression.map(|c| c.name()))
            .collect();
        assert_eq!(how, [None, Some("gzip"), Some("lz4-legacy")]);
        // The zeros after the first archive are padding between segments.
        let first = archive(0, &[(b"kernel/x86/microcode/GenuineIntel.bin", b"ucode")]).len();
        assert_eq!(p.segments[0].stored, first as u64);
        assert_eq!(p.segments[1].offset, 512);
        assert_eq!(p.members[1].data.buf, Buf::Decompressed(0));
        assert_eq!(p.zero_bytes, (512 - first + 100) as u64);
    }

    #[test]
    fn damage_stops_with_an_error_and_keeps_what_came_before() {
        let mut img = archive(0, &[(b"a", b"1"), (b"b", b"2")]);
        // Cut inside the second member.
        img.truncate(116 + 50);
        let p = parse(&img, &Limits::default());
        assert_eq!(p.members.len(), 1);
        assert_eq!(p.errors.len(), 1);

        let mut img = archive(0, &[(b"a", b"1")]);
        img.extend(b"garbage!");
        let p = parse(&img, &Limits::default());
        assert_eq!(p.members.len(), 1);
        assert!(p.errors[0].to_string().contains("neither a cpio archive"));

        // Junk after the archive inside a compressed stream.
        let mut inner = archive(0, &[(b"a", b"1")]);
        inner.extend(b"junk");
        let p = parse(&gz(&inner), &Limits::default());
        assert!(
            p.errors[0]
                .to_string()
                .contains("junk after the last archive"),
            "{:?}",
            p.errors
        );

        let p = parse(
            &gz(&archive(0, &[(b"a", b"1")])),
            &Limits::default().max_decompressed_bytes(100),
        );
        assert!(matches!(p.errors[..], [Error::LimitExceeded { .. }]));
        let p = parse(
            &archive(0, &[(b"a", b""), (b"b", b"")]),
            &Limits::default().max_entries(1),
        );
        assert!(matches!(p.errors[..], [Error::LimitExceeded { .. }]));
    }
}
