//! What every fuzz target, and `tests/it/replay.rs`, does with one input: open it, list
//! every entry the way `isodiff ls` does (nested images included), format
//! everything that would be printed, and read the content of every regular file and
//! of every special part (system area, boot images).
//!
//! Shared by path (`#[path = "..."] mod harness;`) so that the replay test exercises
//! exactly what the fuzzer exercised.

// Each target uses only part of it.
#![allow(dead_code)]

use std::collections::HashSet;

use isodiff::escape;
use isodiff::listing::{self, ListError, Listed};
use isodiff::{EntryKind, Filesystem, Limits, NodeId};

/// Small budgets, so that one input cannot take long or use much memory.
pub fn limits() -> Limits {
    // 64 MiB decompressed per image: a compressed image (open() unwraps one)
    // or initrd that claims gigabytes stops there, well under the fuzzer's
    // memory limit.
    Limits::default()
        .max_entries(10_000)
        .max_depth(64)
        .max_decompressed_bytes(64 << 20)
}

/// Most bytes of content decoded (decompressed, or zeros of sparse blocks) per
/// input. Lengths are summed for every file; decoding stops here, because a file may
/// rightly be far larger than the few bytes that describe it (a sparse squashfs
/// file), and the fuzzer is after crashes in the decoders, not their throughput.
pub const DECODE_BUDGET: u64 = 8 << 20;

/// Most entry attributes formatted per input. A hostile record can carry tens of
/// thousands of unknown SUSP entries, each kept raw and printed as hex: formatting
/// all of them made one 63 KB input cost 0.2 s (2 s before the walk's System Use
/// slack shrank), and its mutants dragged the `iso9660` target to ~110
/// executions a second. The first few thousand exercise every formatting path.
pub const FORMAT_BUDGET: u64 = 4096;

/// What one run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Entries `listing::walk` visited (the root included).
    pub listed: u64,
    /// Problems it reported.
    pub problems: u64,
    /// Files whose content was read.
    pub files: u64,
    /// Special parts (system area, boot images no file holds) whose content was read.
    pub specials: u64,
    /// The total length of both, as [`isodiff::Content::len`] says.
    pub content_bytes: u64,
    /// Bytes of content decoded through [`isodiff::Content::chunks`] (at most
    /// [`DECODE_BUDGET`] plus one chunk).
    pub decoded_bytes: u64,
    /// Files whose content could not be handed out or decoded.
    pub content_errors: u64,
    /// Entries listed inside nested images (by [`open_and_exercise`]).
    pub nested_listed: u64,
    /// Spans of the byte layout (see [`isodiff::Filesystem::byte_layout`]).
    pub spans: u64,
    /// Placements of main structures.
    pub placements: u64,
    /// Entry attributes formatted (at most [`FORMAT_BUDGET`]).
    pub formatted: u64,
}

/// Lists and reads everything in `fs`.
pub fn exercise(fs: &dyn Filesystem) -> Outcome {
    let mut out = Outcome::default();
    for fact in fs.facts() {
        std::hint::black_box(fact.value.to_string());
    }
    listing::walk(
        fs,
        &[],
        &mut |l: Listed| {
            out.listed += 1;
            for part in &l.location {
                std::hint::black_box(escape(part));
            }
            let m = &l.meta;
            for t in [m.mtime, m.atime, m.ctime].into_iter().flatten() {
                std::hint::black_box(t.to_string());
            }
            if let Some(target) = &m.target {
                std::hint::black_box(escape(target));
            }
        },
        &mut |p: ListError| {
            out.problems += 1;
            std::hint::black_box(p.error.to_string());
        },
    );
    read_contents(fs, &mut out);
    // Parts compared like files that no directory lists (system area, boot images).
    for special in fs.specials() {
        out.specials += 1;
        std::hint::black_box(escape(special.name.as_bytes()));
        read_content(Ok(special.content), &mut out);
    }
    // What byte accounting builds when two images differ.
    match fs.byte_layout() {
        Ok(mut layout) => out.spans = layout.spans().len() as u64,
        Err(e) => {
            std::hint::black_box(e.to_string());
        }
    }
    out.placements = fs.placements().len() as u64;
    out
}

/// Reads every regular file's content. `listing::walk` does not hand out node
/// handles, so this walks `children` itself; a node is entered once at most, so a
/// reader that handed out a cycle could not keep this loop going.
fn read_contents(fs: &dyn Filesystem, out: &mut Outcome) {
    let mut seen = HashSet::new();
    let mut stack = vec![fs.root()];
    seen.insert(fs.root());
    while let Some(dir) = stack.pop() {
        let Ok(listing) = fs.children(dir) else {
            continue;
        };
        for entry in listing.entries {
            if !seen.insert(entry.node) {
                continue;
            }
            for attr in &entry.attrs {
                if out.formatted >= FORMAT_BUDGET {
                    break;
                }
                out.formatted += 1;
                std::hint::black_box(attr.value.to_string());
            }
            match entry.meta.kind {
                EntryKind::Dir => stack.push(entry.node),
                EntryKind::File => read_one(fs, entry.node, out),
                _ => {}
            }
        }
    }
}

fn read_one(fs: &dyn Filesystem, file: NodeId, out: &mut Outcome) {
    let content = fs.content(file);
    if content.is_ok() {
        out.files += 1;
    }
    read_content(content, out);
}

fn read_content(content: isodiff::Result<isodiff::Content<'_>>, out: &mut Outcome) {
    match content {
        Ok(content) => {
            out.content_bytes += content.len();
            for chunk in content.chunks() {
                if out.decoded_bytes >= DECODE_BUDGET {
                    break;
                }
                match chunk {
                    Ok(bytes) => out.decoded_bytes += bytes.len() as u64,
                    Err(e) => {
                        out.content_errors += 1;
                        std::hint::black_box(e.to_string());
                        break;
                    }
                }
            }
        }
        Err(e) => {
            out.content_errors += 1;
            std::hint::black_box(e.to_string());
        }
    }
}

/// Small budgets for images inside images.
pub fn nesting() -> listing::Nesting {
    listing::Nesting {
        limits: limits(),
        max_depth: 3,
        max_buffer_bytes: 16 << 20,
    }
}

/// `isodiff::open` (which sniffs the format), then [`exercise`], then the listing
/// of `isodiff ls`, which opens every nested image it finds.
pub fn open_and_exercise(data: &[u8]) -> Result<Outcome, isodiff::Error> {
    let fs = isodiff::open(data, &limits())?;
    let mut out = exercise(fs.as_ref());
    listing::walk_nested(
        fs.as_ref(),
        &[],
        &nesting(),
        &mut |l: Listed| {
            if l.location.len() > 1 {
                out.nested_listed += 1;
            }
        },
        &mut |p: ListError| {
            std::hint::black_box(p.error.to_string());
        },
    );
    Ok(out)
}

/// A directory holding one file, `/f`: the `members` target's two sides, so
/// that no image reader stands in front of the file readers.
struct OneFile<'a> {
    root: isodiff::Meta,
    bytes: &'a [u8],
}

impl Filesystem for OneFile<'_> {
    fn format(&self) -> isodiff::Format {
        isodiff::Format::Cpio
    }
    fn facts(&self) -> &[isodiff::Fact] {
        &[]
    }
    fn root(&self) -> NodeId {
        NodeId(0)
    }
    fn root_meta(&self) -> &isodiff::Meta {
        &self.root
    }
    fn children(&self, dir: NodeId) -> isodiff::Result<isodiff::Listing> {
        let mut listing = isodiff::Listing::default();
        if dir == NodeId(0) {
            let mut meta = isodiff::Meta::new(EntryKind::File);
            meta.size = self.bytes.len() as u64;
            listing.entries.push(isodiff::Entry {
                name: b"f".to_vec(),
                node: NodeId(1),
                meta,
                attrs: Vec::new(),
            });
        }
        Ok(listing)
    }
    fn content(&self, _file: NodeId) -> isodiff::Result<isodiff::Content<'_>> {
        Ok(isodiff::Content::Slices(vec![self.bytes]))
    }
}

/// What the `members` target does with one input: the first four bytes
/// (little-endian) say where to split the rest into file a and file b, which
/// are compared as the diff compares a differing file, and the report written
/// by every renderer. Returns the report.
pub fn members(data: &[u8]) -> Option<isodiff::Report> {
    let (Some(head), Some(rest)) = (data.get(..4), data.get(4..)) else {
        return None;
    };
    let split = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let (a, b) = rest.split_at(split % (rest.len() + 1));
    let options = isodiff::Options::default()
        .limits(limits())
        .calling_thread(true)
        .max_nesting(2)
        .max_buffer_bytes(16 << 20)
        .text_diff_timeout(std::time::Duration::from_millis(200));
    let dir = || isodiff::Meta::new(EntryKind::Dir);
    let fa = OneFile {
        root: dir(),
        bytes: a,
    };
    let fb = OneFile {
        root: dir(),
        bytes: b,
    };
    let report = isodiff::diff_filesystems(&fa, &fb, &options).ok()?;
    let mut sink = std::io::sink();
    let _ = isodiff::report::text::write(&report, &mut sink);
    let _ = isodiff::report::json::write(&report, &mut sink);
    let _ = isodiff::report::html::write(&report, &mut sink);
    let _ = isodiff::report::diffoscope::write(&report, &mut sink);
    let _ = isodiff::report::markdown::write(&report, &mut sink);
    Some(report)
}

/// A small xorshift generator, seeded by libFuzzer's seed for the mutation.
struct Rng(u64);

impl Rng {
    fn new(seed: u32) -> Rng {
        Rng(u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A field the ISO 9660 reader's byte layout declares, where it is in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldAt {
    /// First byte, from the start of the image.
    pub start: usize,
    /// 1, 2, 4 or 8 bytes.
    pub len: usize,
    /// The field's name, e.g. `extent location`.
    pub name: String,
}

/// The numeric fields of the image's declared structures (descriptors,
/// directory records, path tables, SUSP entries: whatever the reader's byte
/// layout names), as the reader lays them out; empty when it cannot open it.
pub fn iso_fields(image: &[u8]) -> Vec<FieldAt> {
    let Ok(fs) = isodiff::internals::IsoFs::open(image, &limits()) else {
        return Vec::new();
    };
    let Ok(mut layout) = fs.byte_layout() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    span_fields(&mut layout, image, &mut out);
    out
}

/// Pushes the fields of 1, 2, 4 or 8 bytes that the layout's spans declare
/// and that lie inside the image.
fn span_fields(layout: &mut isodiff::internals::Layout, image: &[u8], out: &mut Vec<FieldAt>) {
    for span in layout.spans() {
        for f in &span.owner.fields {
            push_field(
                out,
                image,
                span.start.saturating_add(f.at),
                f.len,
                f.name.to_string(),
            );
        }
    }
}

fn push_field(out: &mut Vec<FieldAt>, image: &[u8], start: u64, len: u64, name: String) {
    let (Ok(start), Ok(len)) = (usize::try_from(start), usize::try_from(len)) else {
        return;
    };
    if matches!(len, 1 | 2 | 4 | 8) && start.checked_add(len).is_some_and(|e| e <= image.len()) {
        out.push(FieldAt { start, len, name });
    }
}

/// The numeric fields of a squashfs image, as its reader lays them out; empty
/// when it cannot open it:
///
/// - what the spans declare: the superblock, every metadata block's header,
///   the xattr id table header;
/// - each 8-byte block position of a lookup table's index (fragment, export,
///   id and xattr id tables), which the layout gives as one span;
/// - the fields of the decoded tables' items (inodes, directory headers and
///   entries, fragment, id, export and xattr id entries, xattr keys) that lie
///   in a metadata block stored uncompressed (`mksquashfs -noI -noD -noF
///   -noX`): only there are they bytes of the image. A field split across two
///   blocks is left out.
///
/// Names are the layout's, without the entry number of a directory entry's
/// fields (`entry 3 offset` is `entry offset`), so that a same-named field is
/// another entry's.
pub fn squashfs_fields(image: &[u8]) -> Vec<FieldAt> {
    let Ok(fs) = isodiff::internals::SquashFs::open(image, &limits()) else {
        return Vec::new();
    };
    let Ok(mut layout) = fs.byte_layout() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    span_fields(&mut layout, image, &mut out);
    for span in layout.spans() {
        if span.owner.class == "table index" && span.owner.fields.is_empty() {
            // A damaged count makes an index of millions of entries past
            // the image's end: only those inside it are fields.
            let end = span.end().min(image.len() as u64);
            let mut start = span.start;
            while start.saturating_add(8) <= end {
                push_field(&mut out, image, start, 8, "block position".into());
                start += 8;
            }
        }
    }
    for table in &layout.tables {
        for item in &table.items {
            // Fields are made item by item, and a table of compressed blocks
            // can decode to tens of thousands of items: only those that start
            // in a block stored as is are asked for theirs.
            if stored_at(image, &table.blocks, item.range.start, 1).is_none() {
                continue;
            }
            let Some(bytes) = usize::try_from(item.range.start)
                .ok()
                .zip(usize::try_from(item.range.end).ok())
                .and_then(|(s, e)| table.stream.get(s..e))
            else {
                continue;
            };
            for f in (table.fields)(item, bytes) {
                let at = item.range.start.saturating_add(f.at);
                let Some(start) = stored_at(image, &table.blocks, at, f.len) else {
                    continue;
                };
                let Some(stream) = usize::try_from(at)
                    .ok()
                    .and_then(|at| table.stream.get(at..at.checked_add(f.len as usize)?))
                else {
                    continue;
                };
                // Stored as is, so the image holds the decoded bytes.
                if image.get(start as usize..start as usize + f.len as usize) == Some(stream) {
                    push_field(&mut out, image, start, f.len, unnumbered(&f.name));
                }
            }
        }
    }
    out
}

/// Where `len` bytes at `at` of a decoded table's stream are in the image,
/// when they lie in one metadata block stored uncompressed (bit 15 of its
/// 2-byte header set).
fn stored_at(
    image: &[u8],
    blocks: &[(u64, std::ops::Range<u64>)],
    at: u64,
    len: u64,
) -> Option<u64> {
    // Blocks are decoded one after the other: their ranges are in order.
    let k = blocks
        .partition_point(|(_, r)| r.start <= at)
        .checked_sub(1)?;
    let (pos, range) = &blocks[k];
    if at.saturating_add(len) > range.end {
        return None;
    }
    let pos = usize::try_from(*pos).ok()?;
    let header = image.get(pos..pos.checked_add(2)?)?;
    if header[1] & 0x80 == 0 {
        return None;
    }
    (pos as u64 + 2).checked_add(at - range.start)
}

/// A directory entry's field name without its number: `entry 3 offset` is
/// `entry offset`.
fn unnumbered(name: &str) -> String {
    match name
        .strip_prefix("entry ")
        .and_then(|rest| rest.split_once(' '))
    {
        Some((n, field)) if n.bytes().all(|b| b.is_ascii_digit()) => format!("entry {field}"),
        _ => name.to_string(),
    }
}

/// How a field's bytes hold its number, told from the bytes themselves: ISO
/// 9660's both-endian fields hold the same number little- then big-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Both32,
    Both16,
    Le,
    Be,
}

fn form(bytes: &[u8], rng: &mut Rng) -> Form {
    match bytes.len() {
        8 if bytes[..4].iter().eq(bytes[4..].iter().rev()) => Form::Both32,
        4 if bytes[..2].iter().eq(bytes[2..].iter().rev()) => Form::Both16,
        _ if rng.below(4) == 0 => Form::Be,
        _ => Form::Le,
    }
}

fn read_field(bytes: &[u8], form: Form) -> u64 {
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x));
    let be = |b: &[u8]| b.iter().fold(0u64, |v, &x| v << 8 | u64::from(x));
    match form {
        Form::Both32 => le(&bytes[..4]),
        Form::Both16 => le(&bytes[..2]),
        Form::Le => le(bytes),
        Form::Be => be(bytes),
    }
}

fn write_field(bytes: &mut [u8], form: Form, value: u64) {
    let put_le = |b: &mut [u8], v: u64| {
        for (i, x) in b.iter_mut().enumerate() {
            *x = (v >> (8 * i)) as u8;
        }
    };
    let put_be = |b: &mut [u8], v: u64| {
        let n = b.len();
        for (i, x) in b.iter_mut().enumerate() {
            *x = (v >> (8 * (n - 1 - i))) as u8;
        }
    };
    match form {
        Form::Both32 | Form::Both16 => {
            let half = bytes.len() / 2;
            let (lo, hi) = bytes.split_at_mut(half);
            put_le(lo, value);
            put_be(hi, value);
        }
        Form::Le => put_le(bytes, value),
        Form::Be => put_be(bytes, value),
    }
}

/// The `iso9660` target's structure-aware mutation: one field of a structure
/// the reader declares set to a value readers trip on (0, the largest, the
/// image's size in bytes or 2 KiB sectors, one more or less than now, or what
/// another field of that name holds: another record's extent or size), both
/// halves of a both-endian field alike. Returns the input's size, or None
/// when the reader declares no field in it (the caller mutates otherwise).
pub fn mutate_iso_field(data: &mut [u8], size: usize, seed: u32) -> Option<usize> {
    let fields = iso_fields(data.get(..size)?);
    mutate_field(data, size, seed, &fields, Numbers::Iso9660)
}

/// The `squashfs` target's structure-aware mutation: one of the fields
/// [`squashfs_fields`] finds set to 0, the largest value, the image's size,
/// one more or less than now, half the largest, what another field of that
/// name holds (another inode's start block, another entry's offset), or
/// what any other field of that width holds (a table's start written into an
/// inode). Returns the input's size, or None when the reader declares no
/// field in it.
pub fn mutate_squashfs_field(data: &mut [u8], size: usize, seed: u32) -> Option<usize> {
    let fields = squashfs_fields(data.get(..size)?);
    mutate_field(data, size, seed, &fields, Numbers::Little)
}

/// How a format stores its numbers, and the value peculiar to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbers {
    /// Little-, big- or both-endian (told from the bytes); a size in 2 KiB
    /// sectors.
    Iso9660,
    /// Little-endian; another field's value of the same width.
    Little,
}

fn mutate_field(
    data: &mut [u8],
    size: usize,
    seed: u32,
    fields: &[FieldAt],
    numbers: Numbers,
) -> Option<usize> {
    let image = data.get(..size)?;
    if fields.is_empty() {
        return None;
    }
    let mut rng = Rng::new(seed);
    let f = &fields[rng.below(fields.len())];
    let form = match numbers {
        Numbers::Iso9660 => form(&image[f.start..f.start + f.len], &mut rng),
        Numbers::Little => Form::Le,
    };
    let width = match form {
        Form::Both32 => 4,
        Form::Both16 => 2,
        Form::Le | Form::Be => f.len,
    };
    let max = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    };
    let now = read_field(&image[f.start..f.start + f.len], form);
    let size_bytes = size as u64;
    let value_of = |g: &FieldAt| read_field(&image[g.start..g.start + g.len], form);
    let other = |rng: &mut Rng, same_name: bool| {
        let others: Vec<&FieldAt> = fields
            .iter()
            .filter(|g| (!same_name || g.name == f.name) && g.len == f.len && g.start != f.start)
            .collect();
        others.get(rng.below(others.len())).map(|g| value_of(g))
    };
    let value = match rng.below(8) {
        0 => 0,
        1 => max,
        2 => size_bytes,
        3 if numbers == Numbers::Iso9660 => size_bytes / 2048,
        3 => other(&mut rng, false).unwrap_or(size_bytes / 2),
        4 => now.wrapping_add(1),
        5 => now.wrapping_sub(1),
        6 => max / 2,
        _ => match other(&mut rng, true) {
            Some(v) => v,
            None if numbers == Numbers::Iso9660 => size_bytes / 2048 + 1,
            None => size_bytes + 1,
        },
    } & max;
    write_field(&mut data[f.start..f.start + f.len], form, value);
    Some(size)
}
