//! Byte accounting: where every differing byte of two images lives, and what
//! explains it (principle 7 of the design, "Account for every byte").
//!
//! # The model
//!
//! A format reader describes an image as [`Span`]s: the bytes `start..start+len`
//! and the [`Owner`], the structure that holds them (`primary volume descriptor`,
//! `SUSP entry TF of /plain.txt`, `data block 3 of /usr/lib/libfoo.so`). An owner
//! names the entries it belongs to and says, field by field, what a change of its
//! bytes can follow from ([`Explain`]): an entry-level difference (`mtime` for the
//! modify stamp of a TF entry, `content` for a file's extent), an image-level fact
//! (`pvd.volume_id`), placement (a block address), or nothing. The spans of one
//! image form a [`Layout`], sorted and without overlaps, so that the owner of an
//! offset is a binary search away; bytes no span claims are "unclaimed", named by
//! the structures around them and the region they are in (`unclaimed bytes in
//! directory extent of /etc after directory record of /etc/z`).
//!
//! Compressed bytes (squashfs metadata blocks, compressed cpio segments) cannot
//! be pinned to what they encode, so their owner points at a [`Decoded`] table:
//! the decoded stream cut into items (`inode of /x`), compared item by item
//! with the other image's table of the same name (or, for an item named after
//! its first entry, with the one that holds one of its entries).
//!
//! Readers build layouts only when asked ([`crate::Filesystem::byte_layout`]),
//! never when an image is opened: identical images, and images of different
//! sizes, cost no span at all.
//!
//! # What the diff engine does with them
//!
//! After the entries of two images are compared, and when both images have the
//! same size:
//!
//! 1. Their bytes are compared in chunks ([`differing_runs`]); equal images stop
//!    here.
//! 2. Both layouts are built, and each run of differing bytes is cut where the
//!    owners change on either side.
//! 3. Each owner gets a status, once: found in the other image under the same
//!    name with the same bytes elsewhere, it *moved* (along with what comes
//!    before it, when its predecessor moved by as much, changed size or is on one
//!    side only: placement; else on its own: reported); with other bytes, each
//!    differing field is judged by its [`Explain`] against the differences the
//!    diff reported for the pair: *explained*, *placement*, or *changed*
//!    (reported).
//! 4. A piece of differing bytes takes the strongest status of its two owners
//!    (changed, moved, explained, placement); with no owner on either side it is
//!    unclaimed.
//!
//! The outcome is one [`ByteAccounting`] record per pair (differing bytes, runs,
//! and how many bytes were explained, placement, reported, or unclaimed) and
//! `bytes` differences for the reported structures and the unclaimed gaps.
//! Explained and placement bytes are only counted, never listed: they repeat
//! what the entry-level differences say (the TF bytes of an mtime change) or
//! that things moved (the table offsets of a superblock). A range inside a
//! nested image's extent is explained by that image's own accounting (its own
//! record, with the nested location).
//!
//! When the two images differ in size, bytes at the same offset mean nothing;
//! the placements of their main structures ([`Placement`]) are compared instead,
//! as a few `layout` differences.
//!
//! Every reader has a layout: ISO 9660, squashfs, FAT (boot sector, FAT
//! entries per chain, directory entries, clusters) and cpio (headers field by
//! field, names, data and padding of plain segments; compressed segments as
//! one span each, explained through a [`Decoded`] table of the decompressed
//! stream named `cpio segment N`).

mod engine;
mod span;

pub(crate) use engine::{attribute, layout_differences, Context};
pub(crate) use span::{f, fact};
pub use span::{
    Decoded, EntryPath, Explain, Field, Item, Keys, Layout, Owner, Placement, Region, Span,
};

use std::ops::Range;

use rayon::prelude::*;

pub use crate::report::ByteAccounting;

/// A run of differing bytes: `start..end`. Runs closer than [`MERGE_GAP`] equal
/// bytes are one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First differing byte.
    pub start: u64,
    /// One past the last differing byte.
    pub end: u64,
}

/// Differing bytes separated by fewer equal bytes than this make one run.
pub const MERGE_GAP: u64 = 16;
/// Bytes compared per task.
const CHUNK: usize = 1 << 20;
/// Most runs kept; past it, runs closer than [`WIDE_GAP`] are merged.
const MAX_RUNS: usize = 1 << 20;
const WIDE_GAP: u64 = 4096;

/// The runs of differing bytes of two images of the same size, compared in
/// chunks (equal chunks cost one comparison each), in parallel.
pub fn differing_runs(a: &[u8], b: &[u8]) -> Vec<Run> {
    differing_runs_outside(a, b, &[], &|_| {})
}

/// [`differing_runs`] over the bytes outside `skip` (sorted ranges that do not
/// overlap: the extents of nested images, which their own accounting reads),
/// calling `read` with the number of bytes compared (both sides) after each
/// window of 64 chunks, so the caller can bound its resident memory.
pub fn differing_runs_outside(
    a: &[u8],
    b: &[u8],
    skip: &[Range<u64>],
    read: &(dyn Fn(u64) + Sync),
) -> Vec<Run> {
    const WINDOW: usize = 64;
    let len = a.len().min(b.len());
    let chunks = chunks_outside(len, skip);
    let mut found: Vec<Vec<Run>> = Vec::with_capacity(chunks.len());
    for window in chunks.chunks(WINDOW) {
        found.extend(
            window
                .par_iter()
                .map(|r| chunk_runs(&a[r.clone()], &b[r.clone()], r.start as u64))
                .collect::<Vec<_>>(),
        );
        read(2 * window.iter().map(|r| r.len() as u64).sum::<u64>());
    }
    let mut runs = merge(found.into_iter().flatten(), MERGE_GAP);
    if runs.len() > MAX_RUNS {
        runs = merge(runs.into_iter(), WIDE_GAP);
    }
    runs
}

/// `0..len` without the `skip` ranges, cut into pieces of at most [`CHUNK`].
fn chunks_outside(len: usize, skip: &[Range<u64>]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(len.div_ceil(CHUNK) + skip.len());
    let mut at = 0usize;
    let clamp = |x: u64| usize::try_from(x).unwrap_or(usize::MAX).min(len);
    let gaps = skip
        .iter()
        .map(|r| (clamp(r.start), clamp(r.end)))
        .chain([(len, len)]);
    for (start, end) in gaps {
        let mut piece = at..start.max(at);
        while !piece.is_empty() {
            let next = (piece.start + CHUNK).min(piece.end);
            out.push(piece.start..next);
            piece.start = next;
        }
        at = at.max(end);
    }
    out
}

fn chunk_runs(a: &[u8], b: &[u8], base: u64) -> Vec<Run> {
    let mut out = Vec::new();
    if a == b {
        return out;
    }
    // Eight bytes at a time: the bytes between the first and the last differing
    // byte of a word are fewer than MERGE_GAP, so they join one run anyway.
    let mut add = |first: u64, last: u64| match out.last_mut() {
        Some(Run { end, .. }) if first < *end + MERGE_GAP => *end = last + 1,
        _ => out.push(Run {
            start: first,
            end: last + 1,
        }),
    };
    let words = a.len() / 8 * 8;
    for (n, (x, y)) in a[..words]
        .chunks_exact(8)
        .zip(b[..words].chunks_exact(8))
        .enumerate()
    {
        let t = word(x) ^ word(y);
        if t != 0 {
            let at = base + (n * 8) as u64;
            add(
                at + u64::from(t.trailing_zeros() / 8),
                at + 7 - u64::from(t.leading_zeros() / 8),
            );
        }
    }
    for (i, (p, q)) in a[words..].iter().zip(&b[words..]).enumerate() {
        if p != q {
            let at = base + (words + i) as u64;
            add(at, at);
        }
    }
    out
}

/// Eight bytes as a little-endian word (the first byte lowest).
pub(crate) fn word(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// How many bytes of `a` and `b` differ.
pub(crate) fn count_differing(a: &[u8], b: &[u8]) -> u64 {
    if a == b {
        return 0;
    }
    const LOW: u64 = 0x0101_0101_0101_0101;
    let words = a.len().min(b.len()) / 8 * 8;
    let mut n = 0u64;
    for (x, y) in a[..words].chunks_exact(8).zip(b[..words].chunks_exact(8)) {
        // One bit per differing byte: fold each byte's bits into its lowest.
        let mut t = word(x) ^ word(y);
        t |= t >> 4;
        t |= t >> 2;
        t |= t >> 1;
        n += u64::from((t & LOW).count_ones());
    }
    n + a[words..]
        .iter()
        .zip(&b[words..])
        .filter(|(p, q)| p != q)
        .count() as u64
}

fn merge(runs: impl Iterator<Item = Run>, gap: u64) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for r in runs {
        match out.last_mut() {
            Some(last) if r.start < last.end + gap => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_found_across_chunks_and_merged() {
        let a = vec![0u8; 3 * CHUNK];
        let mut b = a.clone();
        b[5] = 1;
        b[10] = 1;
        b[100] = 1;
        b[CHUNK - 1] = 1;
        b[CHUNK] = 1;
        let runs = differing_runs(&a, &b);
        assert_eq!(
            runs,
            [
                Run { start: 5, end: 11 },
                Run {
                    start: 100,
                    end: 101
                },
                Run {
                    start: CHUNK as u64 - 1,
                    end: CHUNK as u64 + 1
                }
            ]
        );
        assert!(differing_runs(&a, &a).is_empty());
    }

    #[test]
    fn words_find_what_bytes_find() {
        let mut x: u32 = 0x2545_f491;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..200 {
            let len = (next() % 300) as usize;
            let a: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut b = a.clone();
            for _ in 0..(round % 12) {
                if len > 0 {
                    let i = next() as usize % len;
                    b[i] = b[i].wrapping_add(1 + (next() % 255) as u8);
                }
            }
            let bytewise = a.iter().zip(&b).filter(|(p, q)| p != q).count() as u64;
            assert_eq!(count_differing(&a, &b), bytewise);
            let mut expected: Vec<Run> = Vec::new();
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                if p != q {
                    let at = 5 + i as u64;
                    match expected.last_mut() {
                        Some(r) if at < r.end + MERGE_GAP => r.end = at + 1,
                        _ => expected.push(Run {
                            start: at,
                            end: at + 1,
                        }),
                    }
                }
            }
            assert_eq!(chunk_runs(&a, &b, 5), expected, "round {round}");
        }
    }

    #[test]
    fn skipped_ranges_are_not_compared() {
        let a = vec![0u8; 3 * CHUNK];
        let mut b = a.clone();
        for at in [5, CHUNK + 7, 2 * CHUNK + 9, 3 * CHUNK - 1] {
            b[at] = 1;
        }
        let skip = [
            CHUNK as u64..2 * CHUNK as u64 + 10,
            3 * CHUNK as u64 - 1..u64::MAX,
        ];
        let read = std::sync::atomic::AtomicU64::new(0);
        let runs = differing_runs_outside(&a, &b, &skip, &|n| {
            read.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(runs, [Run { start: 5, end: 6 }]);
        let compared = CHUNK + (CHUNK - 10) - 1;
        assert_eq!(read.into_inner(), 2 * compared as u64);
        assert_eq!(
            chunks_outside(10, &[2..4, 3..6, 8..20]),
            [0..2, 6..8],
            "overlapping and overlong ranges"
        );
    }
}
