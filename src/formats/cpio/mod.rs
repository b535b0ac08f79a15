//! cpio archives as initrds hold them: newc (`070701`), crc (`070702`) and odc
//! (`070707`) headers; several archives in a row; plain and compressed segments
//! (gzip, xz, lzma, zstd, bzip2, lz4 frames and the kernel's legacy lz4), recognized by
//! their magic, as the kernel's initramfs unpacker reads them. A typical initrd
//! is an uncompressed early-microcode archive followed by a compressed main one.
//!
//! # Shape
//!
//! The whole image is read at open time: each compressed segment is decompressed
//! into a buffer that the [`CpioFs`] owns, under [`Limits::max_decompressed_bytes`]
//! for all segments together, and every member header is parsed. Member content is
//! handed out as a slice of the image (plain segments) or of its segment's buffer
//! ([`Content::Slices`]).
//!
//! # From member paths to a tree
//!
//! cpio stores paths, not directories. Paths lose a leading `/` or `./`, empty and
//! `.` components; a path with `..` is refused. A parent that no member names is
//! created as an implied directory with no metadata and the attribute
//! `cpio.implied`. The member `.` gives the root its metadata. A path that comes
//! again later replaces the earlier member, as the kernel's unpacker does (it
//! overwrites files and re-applies mode, owner and time to directories); the
//! replacement carries `cpio.overwrites` with the number of members it replaced. A
//! directory replaced by something else loses its entries, which is an error of
//! its parent directory.
//!
//! Hard links (regular files with a link count above 1 sharing an inode number in
//! one archive) all get the content of the last of them that carries data: newc
//! stores the data only once, with the last link.
//!
//! # What is compared
//!
//! Each member has name, mode, uid, gid, mtime (seconds), nlink, rdev (from
//! rdevmajor/rdevminor) for devices, size, symlink target (the member's data) and
//! content. Its segment is the layout attribute `cpio.segment` ("2 (zstd, at byte
//! 7680)"), its inode and device numbers `cpio.ino` and `cpio.dev`, also layout:
//! they change when anything before them changes. The segment list with each
//! segment's compression, archive formats and gzip header fields are image facts,
//! so recompressing an initrd with another compressor changes facts, not entries.
//!
//! # Untrusted input
//!
//! Every header field must be digits of its radix, names and symlink targets at
//! most 4096 bytes (the kernel's `PATH_MAX`), every name and data extent inside
//! its buffer; crc checksums are verified. Decompressed bytes, entries and depth
//! are bounded by [`Limits`]. An undecodable header or stream ends the reading
//! there (cpio cannot be resynchronized): what came before is listed and the error
//! is reported on the root directory; if nothing could be read the image does not
//! open.

mod header;
mod segments;
mod spans;
mod tree;

use crate::error::{Error, Result};
use crate::formats::compress;
use crate::formats::tree as arena;
use crate::limits::Limits;
use crate::model::{Content, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId, Value};
use header::CpioFormat;
use segments::{Buf, Loc};

/// How many decompressed bytes sniffing looks at.
const SNIFF_BYTES: usize = 6;

/// Whether `data` starts with a cpio archive, plain or compressed. A compressed
/// stream counts only when its first decompressed bytes are a cpio magic, which
/// `data` (often only the head of a file) must be long enough to show; when it is
/// not, the answer is no, so that a compressed file of another kind is never taken
/// for an image.
pub fn sniff(data: &[u8]) -> bool {
    if header::starts_with_header(data) {
        return true;
    }
    compress::Compression::detect(data)
        .is_some_and(|c| CpioFormat::detect(&compress::peek(c, data, SNIFF_BYTES)).is_some())
}

/// An opened cpio image.
#[derive(Debug)]
pub struct CpioFs<'a> {
    input: &'a [u8],
    buffers: Vec<Vec<u8>>,
    /// Where each segment is, for the byte layout.
    segments: Vec<segments::Segment>,
    facts: Vec<Fact>,
    tree: tree::Tree,
}

impl<'a> CpioFs<'a> {
    /// Reads every segment and member of `data`.
    ///
    /// Fails only when not a single member can be read; a problem after the first
    /// member (damage, truncation, the decompression budget) is reported on the
    /// root directory, and everything before it is listed.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<CpioFs<'a>> {
        let mut parsed = segments::parse(data, limits);
        if parsed.members.is_empty() && !parsed.errors.is_empty() {
            return Err(parsed.errors.swap_remove(0));
        }
        let mut facts = vec![Fact::new(
            "segments",
            Value::Int(parsed.segments.len() as u64),
        )];
        for (i, s) in parsed.segments.iter().enumerate() {
            let n = i + 1;
            let how = s.compression.map_or("none", |c| c.name());
            facts.push(Fact::packing(
                format!("segment.{n}.compression"),
                Value::Text(how.into()),
            ));
            let formats: Vec<&str> = s.formats.iter().map(|f| f.name()).collect();
            facts.push(Fact::new(
                format!("segment.{n}.formats"),
                Value::Text(formats.join(",")),
            ));
            facts.push(Fact::new(
                format!("segment.{n}.archives"),
                Value::Int(s.archives as u64),
            ));
            for (name, value) in &s.facts {
                facts.push(Fact::new(format!("segment.{n}.{name}"), value.clone()));
            }
            facts.push(Fact::layout(
                format!("segment.{n}.offset"),
                Value::Int(s.offset),
            ));
            facts.push(Fact::layout(
                format!("segment.{n}.stored_bytes"),
                Value::Int(s.stored),
            ));
            if let Some(d) = s.decompressed {
                facts.push(Fact::layout(
                    format!("segment.{n}.decompressed_bytes"),
                    Value::Int(d),
                ));
            }
        }
        facts.push(Fact::layout(
            "zero_padding_bytes",
            Value::Int(parsed.zero_bytes),
        ));
        facts.push(Fact::layout("image_size", Value::Int(data.len() as u64)));
        let tree = tree::build(data, &parsed, limits);
        Ok(CpioFs {
            input: data,
            buffers: parsed.buffers,
            segments: parsed.segments,
            facts,
            tree,
        })
    }

    fn node(&self, id: NodeId) -> Result<&tree::Node> {
        arena::node(&self.tree.nodes, id)
    }
}

/// The bytes at `loc`; empty when `loc` is not inside its buffer (it always is:
/// headers are checked when parsed).
fn slice<'s>(input: &'s [u8], buffers: &'s [Vec<u8>], loc: &Loc) -> &'s [u8] {
    let buf: &[u8] = match loc.buf {
        Buf::Input => input,
        Buf::Decompressed(i) => buffers.get(i).map_or(&[][..], |b| b.as_slice()),
    };
    buf.get(loc.start..loc.start.saturating_add(loc.len))
        .unwrap_or_default()
}

impl Filesystem for CpioFs<'_> {
    fn format(&self) -> Format {
        Format::Cpio
    }

    fn facts(&self) -> &[Fact] {
        &self.facts
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.tree.nodes[0].entry.meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        arena::listing(&self.tree.nodes, dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = self.node(file)?;
        if node.entry.meta.kind != EntryKind::File {
            return Err(Error::malformed(
                "node handle",
                file.0,
                "not a regular file",
            ));
        }
        Ok(Content::Slices(match &node.data {
            Some(loc) if loc.len > 0 => vec![slice(self.input, &self.buffers, loc)],
            _ => Vec::new(),
        }))
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.input)
    }

    fn byte_layout(&self) -> Result<crate::model::span::Layout> {
        Ok(self.layout())
    }

    fn placements(&self) -> Vec<crate::model::span::Placement> {
        self.placements_of()
    }
}

#[cfg(test)]
mod tests {
    use super::header::tests::{newc, odc};
    use super::*;
    use crate::formats::compress::tests::{gz, lz4_frame_of, lz4_legacy_of, xz};
    use crate::model::Entry;

    struct Builder {
        bytes: Vec<u8>,
    }

    impl Builder {
        fn new() -> Builder {
            Builder { bytes: Vec::new() }
        }
        fn add(mut self, name: &str, mode: u32, mtime: u32, data: &[u8]) -> Builder {
            let m = newc(
                "070701",
                self.bytes.len(),
                name.as_bytes(),
                mode,
                mtime,
                data,
            );
            self.bytes.extend(m);
            self
        }
        fn crc(mut self, name: &str, mode: u32, data: &[u8]) -> Builder {
            let m = newc("070702", self.bytes.len(), name.as_bytes(), mode, 0, data);
            self.bytes.extend(m);
            self
        }
        fn end(self) -> Vec<u8> {
            self.add("TRAILER!!!", 0, 0, b"").bytes
        }
    }

    fn names(fs: &CpioFs<'_>, dir: NodeId) -> Vec<String> {
        fs.children(dir)
            .unwrap()
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    fn find(fs: &CpioFs<'_>, path: &str) -> Entry {
        let mut dir = fs.root();
        let mut found = None;
        for part in path.trim_start_matches('/').split('/') {
            let l = fs.children(dir).unwrap();
            let e = l
                .entries
                .into_iter()
                .find(|e| e.name == part.as_bytes())
                .unwrap_or_else(|| panic!("{path}: no {part}"));
            dir = e.node;
            found = Some(e);
        }
        found.unwrap()
    }

    fn attr(e: &Entry, name: &str) -> Option<String> {
        e.attrs
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.to_string())
    }

    fn main_archive() -> Vec<u8> {
        Builder::new()
            .add(".", 0o040755, 100, b"")
            .add("bin", 0o040755, 101, b"")
            .add("bin/busybox", 0o100755, 102, b"ELF...")
            .add("bin/sh", 0o120777, 103, b"busybox")
            .add("./usr/lib/deep/file", 0o100600, 104, b"deep")
            .crc("etc/crc", 0o100644, b"sum me")
            .add("init", 0o100755, 105, b"#!/bin/sh\nexec /bin/sh\n")
            .end()
    }

    #[test]
    fn builds_a_tree_with_implied_directories() {
        let img = main_archive();
        assert!(sniff(&img));
        let fs = CpioFs::open(&img, &Limits::default()).unwrap();
        assert_eq!(fs.format(), Format::Cpio);
        assert_eq!(fs.root_meta().mode, Some(0o755));
        assert_eq!(fs.root_meta().mtime.map(|t| t.secs), Some(100));
        assert_eq!(names(&fs, fs.root()), ["bin", "etc", "init", "usr"]);
        let sh = find(&fs, "/bin/sh");
        assert_eq!(sh.meta.kind, EntryKind::Symlink);
        assert_eq!(sh.meta.target.as_deref(), Some(&b"busybox"[..]));
        assert_eq!(sh.meta.mode, Some(0o777));
        let usr = find(&fs, "/usr");
        assert_eq!(usr.meta.mode, None);
        assert_eq!(attr(&usr, "cpio.implied").as_deref(), Some("true"));
        let deep = find(&fs, "/usr/lib/deep/file");
        assert_eq!(
            (deep.meta.size, deep.meta.uid, deep.meta.nlink),
            (4, Some(0), Some(1))
        );
        let c = fs.content(deep.node).unwrap();
        assert_eq!(c.as_slices().unwrap(), [&b"deep"[..]]);
        let init = find(&fs, "/init");
        assert_eq!(
            attr(&init, "cpio.segment").as_deref(),
            Some("\"1 (uncompressed, at byte 0)\"")
        );
        assert!(fs.children(fs.root()).unwrap().errors.is_empty());
        let fact = |n: &str| {
            fs.facts()
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.to_string())
        };
        assert_eq!(fact("segment.1.formats").as_deref(), Some("\"newc,crc\""));
    }

    #[test]
    fn every_compressor_gives_the_same_entries() {
        let main = main_archive();
        let early = Builder::new()
            .add("kernel", 0o040755, 1, b"")
            .add(
                "kernel/x86/microcode/GenuineIntel.bin",
                0o100644,
                2,
                b"ucode",
            )
            .end();
        let plain = CpioFs::open(&main, &Limits::default()).unwrap();
        let zstd = zstd::bulk::compress(&main, 3).unwrap();
        for (name, packed) in [
            ("gzip", gz(&main)),
            ("xz", xz(&main)),
            ("zstd", zstd),
            ("lz4", lz4_frame_of(&main)),
            ("lz4-legacy", lz4_legacy_of(&main)),
        ] {
            assert!(sniff(&packed), "{name}");
            let mut img = early.clone();
            img.resize(img.len().div_ceil(512) * 512, 0);
            img.extend(&packed);
            assert!(sniff(&img), "{name}");
            let fs = CpioFs::open(&img, &Limits::default()).unwrap();
            assert!(fs.children(fs.root()).unwrap().errors.is_empty(), "{name}");
            assert_eq!(
                names(&fs, fs.root()),
                ["bin", "etc", "init", "kernel", "usr"]
            );
            let fact = |n: &str| {
                fs.facts()
                    .iter()
                    .find(|f| f.name == n)
                    .map(|f| f.value.to_string())
            };
            assert_eq!(fact("segments").as_deref(), Some("2"));
            assert_eq!(fact("segment.2.compression"), Some(format!("{name:?}")));
            for path in ["/init", "/bin/busybox", "/usr/lib/deep/file", "/etc/crc"] {
                let (a, b) = (find(&plain, path), find(&fs, path));
                assert_eq!(a.meta, b.meta, "{name} {path}");
                let ca = plain.content(a.node).unwrap().as_slices().unwrap().concat();
                let cb = fs.content(b.node).unwrap().as_slices().unwrap().concat();
                assert_eq!(ca, cb, "{name} {path}");
            }
            let ucode = find(&fs, "/kernel/x86/microcode/GenuineIntel.bin");
            assert_eq!(
                attr(&ucode, "cpio.segment").as_deref(),
                Some("\"1 (uncompressed, at byte 0)\"")
            );
            let x86 = find(&fs, "/kernel/x86");
            assert_eq!(attr(&x86, "cpio.implied").as_deref(), Some("true"));
        }
        // A head that ends inside the first member's data is enough.
        assert!(sniff(&main_archive()[..120]));
        // A compressed file that is not cpio is not an image.
        assert!(!sniff(&gz(b"just some text, long enough")));
        assert!(!sniff(b"0707"));
        assert!(!sniff(b""));
    }

    #[test]
    fn later_members_win_and_hard_links_share_data() {
        let mut img = Builder::new()
            .add("etc/motd", 0o100644, 1, b"old")
            .add("dir", 0o040700, 1, b"")
            .add("dir/x", 0o100644, 1, b"x")
            .end();
        img.extend(
            Builder::new()
                .add("etc/motd", 0o100600, 2, b"new!")
                .add("dir", 0o100644, 2, b"now a file")
                .end(),
        );
        // Hard links: two names, the data with the last.
        let mut links = Vec::new();
        for (name, data) in [("a", &b""[..]), ("b", &b"shared"[..])] {
            let mut m = newc(
                "070701",
                img.len() + links.len(),
                name.as_bytes(),
                0o100644,
                3,
                data,
            );
            // ino 1 is set by the helper; nlink (field 4) becomes 2.
            m[6 + 32..6 + 40].copy_from_slice(b"00000002");
            links.extend(m);
        }
        links.extend(newc(
            "070701",
            img.len() + links.len(),
            b"TRAILER!!!",
            0,
            0,
            b"",
        ));
        img.extend(links);
        img.extend(odc(b"dev/console", 0o020600, 4, b"", 5 << 8 | 1));
        img.extend(odc(b"TRAILER!!!", 0, 0, b"", 0));
        let fs = CpioFs::open(&img, &Limits::default()).unwrap();
        let motd = find(&fs, "/etc/motd");
        assert_eq!(motd.meta.mode, Some(0o600));
        assert_eq!(motd.meta.size, 4);
        assert_eq!(attr(&motd, "cpio.overwrites").as_deref(), Some("1"));
        assert_eq!(
            fs.content(motd.node).unwrap().as_slices().unwrap(),
            [&b"new!"[..]]
        );
        let dir = find(&fs, "/dir");
        assert_eq!(dir.meta.kind, EntryKind::File);
        let errors = fs.children(fs.root()).unwrap().errors;
        assert!(
            errors
                .iter()
                .any(|e| e.to_string().contains("replaces a directory")),
            "{errors:?}"
        );
        for name in ["/a", "/b"] {
            let e = find(&fs, name);
            assert_eq!(e.meta.size, 6, "{name}");
            assert_eq!(e.meta.nlink, Some(2));
            assert_eq!(
                fs.content(e.node).unwrap().as_slices().unwrap(),
                [&b"shared"[..]]
            );
        }
        let console = find(&fs, "/dev/console");
        assert_eq!(console.meta.kind, EntryKind::CharDevice);
        assert_eq!(console.meta.rdev, Some((5, 1)));
        assert_eq!(console.meta.mtime.map(|t| t.secs), Some(4));
    }

    #[test]
    fn hostile_members_are_errors() {
        let mut img = Builder::new()
            .add("../escape", 0o100644, 1, b"x")
            .add("bad-type", 0o170644, 1, b"")
            .add("fine", 0o100644, 1, b"ok")
            .crc("summed", 0o100644, b"data")
            .end();
        // Break the crc member's checksum (field 12 of its header).
        let at = img.windows(6).rposition(|w| w == b"070702").unwrap();
        img[at + 6 + 96..at + 6 + 104].copy_from_slice(b"00000001");
        let fs = CpioFs::open(&img, &Limits::default()).unwrap();
        assert_eq!(names(&fs, fs.root()), ["fine", "summed"]);
        let errors: Vec<String> = fs
            .children(fs.root())
            .unwrap()
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains(".."), "{errors:?}");
        assert!(errors[1].contains("file type"), "{errors:?}");
        assert!(errors[2].contains("checksum"), "{errors:?}");

        // Nothing readable: the image does not open.
        assert!(CpioFs::open(b"070701zzzz", &Limits::default()).is_err());
        let bomb = zstd::bulk::compress(&vec![0u8; 8 << 20], 19).unwrap();
        let e = CpioFs::open(&bomb, &Limits::default().max_decompressed_bytes(1 << 20)).err();
        assert!(matches!(e, Some(Error::LimitExceeded { .. })), "{e:?}");
    }

    #[test]
    fn damage_never_panics() {
        let main = main_archive();
        let mut img = main.clone();
        img.extend(gz(&main));
        for len in (0..img.len()).step_by(7) {
            if let Ok(fs) = CpioFs::open(&img[..len], &Limits::default()) {
                walk_all(&fs);
            }
        }
        for at in 0..main.len() {
            for v in [0u8, b'0', b'7', b'F', b'/', 0xff] {
                let mut bad = img.clone();
                bad[at] = v;
                if let Ok(fs) = CpioFs::open(&bad, &Limits::default()) {
                    walk_all(&fs);
                }
            }
        }
    }

    fn walk_all(fs: &CpioFs<'_>) {
        let mut stack = vec![fs.root()];
        while let Some(dir) = stack.pop() {
            for e in fs.children(dir).map(|l| l.entries).unwrap_or_default() {
                match e.meta.kind {
                    EntryKind::Dir => stack.push(e.node),
                    EntryKind::File => {
                        let c = fs.content(e.node).unwrap();
                        assert_eq!(c.len(), e.meta.size);
                    }
                    _ => {}
                }
            }
        }
    }
}

arena::arena_node!(tree::Node);
