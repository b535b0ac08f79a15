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
