//! The byte layout of a cpio image (an initrd), for byte accounting.
//!
//! Plain segments are described byte by byte: each member's header field by
//! field with its name, the padding after the name, the data (owned by the
//! member's entry), the padding after the data; each archive's trailer; the
//! zeros between archives and between segments. A compressed segment cannot be
//! cut so: its stored bytes are one span (after the gzip header, which has
//! fields of its own) whose meaning is in a [`Decoded`] table named `cpio
//! segment N`, the decompressed stream cut into the same pieces as items, so
//! that a differing compressed byte is explained by what differs inside.
//!
//! Padding of zeros is placement (its length follows from what comes before
//! it); padding that is not all zeros is no padding and is reported. The
//! decompressed bytes are those the reader kept when it opened the image: no
//! stream is decompressed again; and the pieces are those the reader recorded
//! as it read (`segments::Piece`): no archive is walked again, so the layout
//! names exactly what the reader read (nothing past the entry limit).

use std::collections::HashMap;

use super::header::{self, CpioFormat, Header, NewcHeader, OdcHeader};
use super::{segments, CpioFs};
use crate::formats::compress::{gzip_flag, Compression, GzipExtraLen, GzipHeader, GzipHeaderCrc};
use crate::formats::tree::components;
use crate::model::span::{
    f, fact, Decoded, EntryPath, Explain, Field, Item, Key, Keys, Layout, Owner, Placement, Span,
};
use crate::model::structure::{fields_at, fields_under};

/// What explains a member's data.
const DATA: Keys = &[Key::Content, Key::SIZE, Key::SYMLINK, Key::Nested];

/// One piece of a buffer of archives.
enum Piece<'b> {
    /// A member (or a trailer) whose header is at `at`, of archive number
    /// `archive` (counted over the whole image from 1).
    Member {
        at: usize,
        h: Header<'b>,
        archive: usize,
    },
    /// Zeros between archives, `at..at + len`, after archive `after`.
    Zeros { at: usize, len: usize, after: usize },
}

/// The pieces the reader recorded of a segment whose buffer is `buf`, each
/// header decoded again where the reader found it (the archives are not
/// walked again).
fn pieces<'b>(buf: &'b [u8], recorded: &[segments::Piece]) -> Vec<Piece<'b>> {
    recorded
        .iter()
        .filter_map(|p| match *p {
            segments::Piece::Header { at, archive } => header::parse(buf, at, 0)
                .ok()
                .map(|h| Piece::Member { at, h, archive }),
            segments::Piece::Zeros { at, len, after } => Some(Piece::Zeros { at, len, after }),
        })
        .collect()
}

/// The parts of one member: where its header (with the name), name padding,
/// data and data padding are, relative to its buffer.
struct Parts {
    header: (usize, usize),
    name_pad: (usize, usize),
    data: (usize, usize),
    data_pad: (usize, usize),
}

fn parts(at: usize, h: &Header<'_>) -> Parts {
    let name_end = (at + h.format.header_len() + h.name.len() + 1).min(h.next);
    let data_end = (h.data_at + h.data_len).min(h.next);
    Parts {
        header: (at, name_end),
        name_pad: (name_end, h.data_at.max(name_end)),
        data: (h.data_at, data_end),
        data_pad: (data_end, h.next),
    }
}

/// The path of a member as the tree names it, made unique among the members
/// seen so far (a path that comes again gets ` #2`, ...).
fn member_path(name: &[u8], seen: &mut HashMap<Vec<u8>, u32>) -> (Vec<u8>, String) {
    let path = match components(name) {
        Some(parts) => {
            let mut p = Vec::new();
            for part in parts {
                p.push(b'/');
                p.extend_from_slice(part);
            }
            if p.is_empty() {
                p.push(b'/');
            }
            p
        }
        // Not in the tree (a `..`): named as stored.
        None => [b"/", name].concat(),
    };
    let n = seen.entry(path.clone()).or_insert(0);
    *n += 1;
    let shown = String::from_utf8_lossy(&path).into_owned();
    let shown = if *n > 1 {
        format!("{shown} #{n}")
    } else {
        shown
    };
    (path, shown)
}

/// Padding explained as placement when it is all zeros; else it is no
/// padding, and `otherwise` (or nothing) explains it.
fn padding(bytes: &[u8], zeros: &'static Explain) -> &'static Explain {
    if bytes.iter().all(|&b| b == 0) {
        zeros
    } else {
        &Explain::Nothing
    }
}

impl CpioFs<'_> {
    /// See [`crate::Filesystem::byte_layout`].
    pub(crate) fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let input = self.input;
        let mut seen = HashMap::new();
        let mut buffers = self.buffers.iter();
        let mut prev_end = 0u64;
        for (i, seg) in self.segments.iter().enumerate() {
            let n = i + 1;
            gap(
                input,
                prev_end,
                seg.offset,
                format!("padding before segment {n}"),
                &mut l,
            );
            let end = seg.offset.saturating_add(seg.stored);
            prev_end = prev_end.max(end);
            let how = seg.compression.map_or("uncompressed", |c| c.name());
            l.region(seg.offset, seg.stored, format!("segment {n} ({how})"));
            let Some(c) = seg.compression else {
                let list = pieces(input, &seg.pieces);
                let magic = fact(format!("segment.{n}.formats"));
                for p in list {
                    piece_spans(input, &p, &magic, &mut seen, &mut l);
                }
                continue;
            };
            let Some(buf) = buffers.next() else {
                continue;
            };
            let body = if c == Compression::Gzip {
                gzip_header(input, seg.offset, end, n, &mut l)
            } else {
                seg.offset
            };
            let list = pieces(buf, &seg.pieces);
            let items = list
                .iter()
                .flat_map(|p| piece_items(buf, p, &mut seen))
                .collect();
            let name = format!("cpio segment {n}");
            let t = l.table(Decoded {
                name: name.clone().into(),
                stream: buf.clone(),
                blocks: vec![(body, 0..buf.len() as u64)],
                items,
                fields: item_fields,
                same_but_placement: None,
            });
            let mut owner = Owner::new("compressed segment", name, Explain::Decoded(t));
            owner.note = Some(c.name().to_owned());
            l.push(Span {
                start: body,
                len: end.saturating_sub(body),
                owner,
            });
        }
        let n = self.segments.len();
        gap(
            input,
            prev_end,
            input.len() as u64,
            format!("padding after segment {n}"),
            &mut l,
        );
        l
    }

    /// See [`crate::Filesystem::placements`]: each segment (only its start when
    /// compressed), and each member's data in a plain segment.
    pub(crate) fn placements_of(&self) -> Vec<Placement> {
        let mut out = Vec::new();
        let mut seen = HashMap::new();
        for (i, seg) in self.segments.iter().enumerate() {
            // A compressed segment changes size whenever anything in it
            // changes, which its entries say better: only where it starts is
            // compared.
            out.push(Placement {
                class: "segment",
                name: format!("segment {}", i + 1),
                start: seg.offset,
                len: if seg.compression.is_some() {
                    0
                } else {
                    seg.stored
                },
            });
            if seg.compression.is_some() {
                continue;
            }
            for p in pieces(self.input, &seg.pieces) {
                if let Piece::Member { at, h, .. } = p {
                    if h.is_trailer() {
                        continue;
                    }
                    let (_, shown) = member_path(h.name, &mut seen);
                    let d = parts(at, &h).data;
                    out.push(Placement {
                        class: "member data",
                        name: shown,
                        start: d.0 as u64,
                        len: (d.1 - d.0) as u64,
                    });
                }
            }
        }
        out
    }
}

/// Bytes between segments (or after the last): padding.
fn gap(input: &[u8], start: u64, end: u64, name: String, l: &mut Layout) {
    if start >= end {
        return;
    }
    let bytes = input.get(start as usize..end as usize).unwrap_or_default();
    l.push(Span {
        start,
        len: end - start,
        owner: Owner::new("padding", name, padding(bytes, &Explain::Placement).clone()),
    });
}

/// The spans of one piece of a plain segment.
fn piece_spans(
    input: &[u8],
    p: &Piece<'_>,
    magic: &Explain,
    seen: &mut HashMap<Vec<u8>, u32>,
    l: &mut Layout,
) {
    let mut push = |(s, e): (usize, usize), owner: Owner| {
        if s < e {
            l.push(Span {
                start: s as u64,
                len: (e - s) as u64,
                owner,
            });
        }
    };
    let slice = |(s, e): (usize, usize)| input.get(s..e).unwrap_or_default();
    match p {
        Piece::Zeros { at, len, after } => push(
            (*at, at + len),
            Owner::new(
                "padding",
                format!("padding after archive {after}"),
                Explain::Placement,
            ),
        ),
        Piece::Member { at, h, archive } if h.is_trailer() => push(
            (*at, h.next),
            Owner::new(
                "cpio trailer",
                format!("trailer of archive {archive}"),
                Explain::Nothing,
            ),
        ),
        Piece::Member { at, h, .. } => {
            let (path, shown) = member_path(h.name, seen);
            let path = EntryPath::from(path);
            let pt = parts(*at, h);
            let fields = header_fields(h.format, h.name.len() as u64 + 1, magic.clone());
            push(
                pt.header,
                Owner::new(
                    "cpio header",
                    format!("cpio header of {shown}"),
                    Explain::Nothing,
                )
                .of(&path)
                .with_fields(fields),
            );
            push(
                pt.name_pad,
                Owner::new(
                    "padding",
                    format!("name padding of {shown}"),
                    padding(slice(pt.name_pad), &Explain::Placement).clone(),
                )
                .of(&path),
            );
            push(
                pt.data,
                Owner::new(
                    "member data",
                    format!("data of {shown}"),
                    Explain::Entry(DATA),
                )
                .of(&path),
            );
            push(
                pt.data_pad,
                Owner::new(
                    "padding",
                    format!("data padding of {shown}"),
                    padding(slice(pt.data_pad), &Explain::EntryOrPlacement(DATA)).clone(),
                )
                .of(&path),
            );
        }
    }
}

/// The items of one piece of a decompressed segment.
fn piece_items(buf: &[u8], p: &Piece<'_>, seen: &mut HashMap<Vec<u8>, u32>) -> Vec<Item> {
    let item =
        |class: &'static str, (s, e): (usize, usize), explain: &'static Explain, tag: u32| Item {
            class,
            entries: Box::default(),
            label: None,
            range: s as u64..e as u64,
            explain,
            tag,
        };
    let slice = |(s, e): (usize, usize)| buf.get(s..e).unwrap_or_default();
    let mut out = Vec::new();
    match p {
        Piece::Zeros { at, len, after } => {
            let mut it = item("padding", (*at, at + len), &Explain::Placement, 0);
            it.label = Some(format!("after archive {after}").into());
            out.push(it);
        }
        Piece::Member { at, h, archive } if h.is_trailer() => {
            let mut it = item("trailer", (*at, h.next), &Explain::Nothing, 0);
            it.label = Some(format!("of archive {archive}").into());
            out.push(it);
        }
        Piece::Member { at, h, .. } => {
            let (path, _) = member_path(h.name, seen);
            let path = EntryPath::from(path);
            let pt = parts(*at, h);
            let tag = match h.format {
                CpioFormat::Newc => 0,
                CpioFormat::Crc => 1,
                CpioFormat::Odc => 2,
            };
            let zeros = |r, e| padding(slice(r), e);
            out.push(item("header", pt.header, &Explain::Nothing, tag));
            out.push(item(
                "name padding",
                pt.name_pad,
                zeros(pt.name_pad, &Explain::Placement),
                0,
            ));
            out.push(item("data", pt.data, &Explain::Entry(DATA), 0));
            out.push(item(
                "data padding",
                pt.data_pad,
                zeros(pt.data_pad, &Explain::EntryOrPlacement(DATA)),
                0,
            ));
            for it in &mut out {
                it.entries = Box::new([path.clone()]);
            }
        }
    }
    out.retain(|it| it.range.start < it.range.end);
    out
}

/// The fields of a header item of a decoded segment (`item.tag` is its format).
fn item_fields(item: &Item, b: &[u8]) -> Vec<Field> {
    if item.class != "header" {
        return Vec::new();
    }
    let format = match item.tag {
        0 => CpioFormat::Newc,
        1 => CpioFormat::Crc,
        _ => CpioFormat::Odc,
    };
    let name_len = (b.len() as u64).saturating_sub(format.header_len() as u64);
    // Any fact of any segment: the item does not know its segment's number.
    header_fields(format, name_len, fact("segment"))
}

/// The fields of a member header followed by its name of `name_len` bytes
/// (with the NUL): the header's field table, its magic explained by `magic`.
fn header_fields(format: CpioFormat, name_len: u64, magic: Explain) -> Vec<Field> {
    let table = match format {
        CpioFormat::Odc => OdcHeader::FIELDS,
        _ => NewcHeader::FIELDS,
    };
    let mut v: Vec<Field> = table
        .iter()
        .map(|def| {
            let mut field = def.field();
            match def.name {
                "magic" => field.explain = magic.clone(),
                // Zero but in the crc format: a change is a finding of its own.
                "check" if format != CpioFormat::Crc => field.explain = Explain::Nothing,
                _ => {}
            }
            field
        })
        .collect();
    // A changed name makes another entry (removed and added), which explains
    // all its structures.
    v.push(f(
        format.header_len() as u64,
        name_len,
        "name",
        Explain::Nothing,
    ));
    v
}

/// The gzip header at `at` (RFC 1952) as a span with its fields; returns where
/// the compressed data starts (`at` when the header does not fit the segment).
fn gzip_header(input: &[u8], at: u64, end: u64, n: usize, l: &mut Layout) -> u64 {
    let Some(h) = input.get(at as usize..end.min(input.len() as u64) as usize) else {
        return at;
    };
    let Some(fixed) = GzipHeader::new(h) else {
        return at;
    };
    let flags = fixed.flags();
    let prefix = format!("segment.{n}");
    let mut fields = fields_under(GzipHeader::FIELDS, 0, Some(&prefix));
    let mut pos = GzipHeader::LEN;
    if flags & gzip_flag::EXTRA != 0 {
        let xlen = h
            .get(pos..)
            .and_then(GzipExtraLen::new)
            .map_or(0, |x| usize::from(x.xlen()));
        let len = GzipExtraLen::LEN + xlen;
        fields.push(f(pos as u64, len as u64, "extra field", Explain::Nothing));
        pos += len;
    }
    let mut text = |pos: &mut usize, name: &'static str, explain: Explain| -> bool {
        match h.get(*pos..).and_then(|r| r.iter().position(|&b| b == 0)) {
            Some(len) => {
                fields.push(f(*pos as u64, len as u64 + 1, name, explain));
                *pos += len + 1;
                true
            }
            None => false,
        }
    };
    let name = fact(format!("{prefix}.gzip.name"));
    if flags & gzip_flag::NAME != 0 && !text(&mut pos, "file name", name) {
        return at;
    }
    if flags & gzip_flag::COMMENT != 0 && !text(&mut pos, "comment", Explain::Nothing) {
        return at;
    }
    if flags & gzip_flag::HCRC != 0 {
        fields.extend(fields_at(GzipHeaderCrc::FIELDS, pos as u64));
        pos += GzipHeaderCrc::LEN;
    }
    if pos > h.len() {
        return at;
    }
    l.push(Span {
        start: at,
        len: pos as u64,
        owner: Owner::new(
            "compression header",
            format!("gzip header of segment {n}"),
            Explain::Nothing,
        )
        .with_fields(fields),
    });
    at + pos as u64
}

#[cfg(test)]
mod tests {
    use super::super::header::tests::newc;
    use super::*;
    use crate::formats::compress::tests::gz;
    use crate::limits::Limits;
    use crate::model::Filesystem;

    /// A newc archive of `members` (name, data) and its trailer.
    fn archive(members: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut a = Vec::new();
        for (name, data) in members {
            a.extend(newc("070701", a.len(), name, 0o100644, 7, data));
        }
        a.extend(newc("070701", a.len(), b"TRAILER!!!", 0, 0, b""));
        a
    }

    fn owner_at(l: &Layout, at: u64) -> Option<String> {
        let i = l.at(at).ok()?;
        Some(l.finished_spans()[i].owner.name.clone())
    }

    #[test]
    fn plain_and_compressed_segments() {
        let mut img = archive(&[(b"kernel/ucode.bin", b"ucode")]);
        let first = img.len();
        img.resize(512, 0);
        let main = archive(&[(b"init", b"#!/bin/sh\n"), (b"etc", b"")]);
        img.extend(gz(&main));
        let fs = CpioFs::open(&img, &Limits::default()).unwrap();
        let mut l = fs.byte_layout().unwrap();
        l.finish();
        assert_eq!(
            owner_at(&l, 50).as_deref(),
            Some("cpio header of /kernel/ucode.bin")
        );
        // 110 + 17 = 127: one byte of name padding, the data at 128.
        assert_eq!(
            owner_at(&l, 127).as_deref(),
            Some("name padding of /kernel/ucode.bin")
        );
        assert_eq!(
            owner_at(&l, 128).as_deref(),
            Some("data of /kernel/ucode.bin")
        );
        assert_eq!(
            owner_at(&l, 133).as_deref(),
            Some("data padding of /kernel/ucode.bin")
        );
        assert_eq!(owner_at(&l, 140).as_deref(), Some("trailer of archive 1"));
        assert_eq!(
            owner_at(&l, first as u64 + 1).as_deref(),
            Some("padding before segment 2")
        );
        assert_eq!(
            owner_at(&l, 512 + 4).as_deref(),
            Some("gzip header of segment 2")
        );
        assert_eq!(owner_at(&l, 512 + 30).as_deref(), Some("cpio segment 2"));
        let t = &l.tables[0];
        assert_eq!(t.name, "cpio segment 2");
        assert_eq!(t.stream, main);
        let names: Vec<String> = t.items.iter().map(|it| it.name(&t.name)).collect();
        assert!(names.contains(&"cpio segment 2: header of /init".to_owned()));
        assert!(names.contains(&"cpio segment 2: data of /init".to_owned()));
        assert!(names.contains(&"cpio segment 2: trailer of archive 2".to_owned()));
        let fields = item_fields(&t.items[0], &main[..t.items[0].range.end as usize]);
        assert!(fields.iter().any(|f| f.name == "mtime" && f.at == 46));
        let p = fs.placements();
        assert!(p
            .iter()
            .any(|p| p.name == "/kernel/ucode.bin" && p.start == 128));
        assert!(p.iter().any(|p| p.name == "segment 2" && p.start == 512));
    }

    #[test]
    fn damaged_archives_give_a_layout_without_panicking() {
        let mut img = archive(&[(b"a", b"12345"), (b"dir/b", b"")]);
        img.extend(gz(&archive(&[(b"c", b"x")])));
        for at in 0..img.len() {
            for v in [0u8, b'0', b'F', 0xff] {
                let mut bad = img.clone();
                bad[at] = v;
                if let Ok(fs) = CpioFs::open(&bad, &Limits::default()) {
                    let mut l = fs.byte_layout().unwrap();
                    l.finish();
                    let _ = fs.placements();
                }
            }
        }
    }
}
