//! Byte accounting: where every differing byte of two images lives, and what
//! explains it (principle 7 of the design, "Account for every byte").
//!
//! # The model
//!
//! A format reader describes an image as [`Span`](crate::model::span::Span)s: the bytes `start..start+len`
//! and the [`Owner`](crate::model::span::Owner), the structure that holds them (`primary volume descriptor`,
//! `SUSP entry TF of /plain.txt`, `data block 3 of /usr/lib/libfoo.so`). An owner
//! names the entries it belongs to and says, field by field, what a change of its
//! bytes can follow from ([`Explain`]): an entry-level difference (`mtime` for the
//! modify stamp of a TF entry, `content` for a file's extent), an image-level fact
//! (`pvd.volume_id`), placement (a block address), or nothing. Entry-level
//! differences are named by typed [`Key`]s (a misspelt one does not compile);
//! a reader declares its attributes' names once ([`Attr`](crate::model::key::Attr)) and makes both its
//! facts and its keys from them, and `tests/it/explain_keys.rs` checks every
//! attribute and fact a layout names against what the reader emits.
//!
//! The spans of one image form a [`Layout`], sorted and without overlaps, so
//! that the owner of an offset is a binary search away; bytes no span claims
//! are "unclaimed", named by the structures around them and the region they
//! are in (`unclaimed bytes in directory extent of /etc after directory record
//! of /etc/z`).
//!
//! Compressed bytes (squashfs metadata blocks, compressed cpio segments) cannot
//! be pinned to what they encode, so their owner points at a [`Decoded`](crate::model::span::Decoded) table:
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
//! 1. Their bytes are compared in chunks ([`differing_runs_outside`]); equal images stop
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
//! The outcome is one [`ByteAccounting`](crate::report::ByteAccounting) record per pair (differing bytes, runs,
//! and how many bytes were explained, placement, reported, or unclaimed) and
//! `bytes` differences for the reported structures and the unclaimed gaps.
//! Explained and placement bytes are only counted, never listed: they repeat
//! what the entry-level differences say (the TF bytes of an mtime change) or
//! that things moved (the table offsets of a superblock). A range inside a
//! nested image's extent is explained by that image's own accounting (its own
//! record, with the nested location).
//!
//! When the two images differ in size, bytes at the same offset mean nothing;
//! the placements of their main structures ([`Placement`](crate::model::span::Placement)) are compared instead,
//! as a few `layout` differences.
//!
//! Every reader has a layout: ISO 9660, squashfs, FAT (boot sector, FAT
//! entries per chain, directory entries, clusters) and cpio (headers field by
//! field, names, data and padding of plain segments; compressed segments as
//! one span each, explained through a [`Decoded`](crate::model::span::Decoded) table of the decompressed
//! stream named `cpio segment N`).

mod engine;

pub use crate::model::span::{Explain, Key, Layout};
pub(crate) use engine::{attribute, layout_differences, Context, SameBytes};

use std::ops::Range;

use rayon::prelude::*;

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

/// Bytes per block of a [`Tally`].
const TALLY_BLOCK: usize = 4096;

/// How many bytes differ in each 4 KiB block of an image pair (counting from
/// offset 0), counted while the runs are found: the attribution counts the
/// differing bytes of every structure, and reads again only the blocks a
/// structure's ends cut.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    counts: Vec<u16>,
}

impl Tally {
    /// How many bytes of `a` and `b` differ in `start..end`, a range outside
    /// the bytes the tally skipped, and how many bytes of both were read.
    pub(crate) fn count(&self, a: &[u8], b: &[u8], start: usize, end: usize) -> (u64, u64) {
        let block = |o: usize| o / TALLY_BLOCK;
        let direct = |s: usize, e: usize| {
            let (x, y) = (
                a.get(s..e).unwrap_or_default(),
                b.get(s..e).unwrap_or_default(),
            );
            (count_differing(x, y), (x.len() + y.len()) as u64)
        };
        let first_full = start.next_multiple_of(TALLY_BLOCK);
        let last_full = end / TALLY_BLOCK * TALLY_BLOCK;
        if first_full >= last_full {
            return direct(start, end);
        }
        let (head, head_read) = direct(start, first_full);
        let (tail, tail_read) = direct(last_full, end);
        let full: u64 = self
            .counts
            .get(block(first_full)..block(last_full))
            .unwrap_or_default()
            .iter()
            .map(|&n| u64::from(n))
            .sum();
        (head + full + tail, head_read + tail_read)
    }
}

/// The runs of differing bytes of two images of the same size, compared in
/// chunks (equal chunks cost one comparison each), in parallel, outside `skip`
/// (sorted ranges that do not overlap: the extents of nested images, which
/// their own accounting reads), calling `read` with the number of bytes compared (both sides) after each
/// window of 16 chunks (32 MiB), so the caller can bound its resident memory; with the
/// [`Tally`] of the bytes compared.
pub fn differing_runs_outside(
    a: &[u8],
    b: &[u8],
    skip: &[Range<u64>],
    read: &(dyn Fn(u64) + Sync),
) -> (Vec<Run>, Tally) {
    const WINDOW: usize = 16;
    let len = a.len().min(b.len());
    let chunks = chunks_outside(len, skip);
    let mut found: Vec<Vec<Run>> = Vec::with_capacity(chunks.len());
    let mut tally = Tally {
        counts: vec![0; len.div_ceil(TALLY_BLOCK)],
    };
    for window in chunks.chunks(WINDOW) {
        let done: Vec<(Vec<Run>, Vec<u16>)> = window
            .par_iter()
            .map(|r| chunk_runs(&a[r.clone()], &b[r.clone()], r.start))
            .collect();
        for (r, (runs, counts)) in window.iter().zip(done) {
            found.push(runs);
            // A chunk after a skipped range may start inside a block, which
            // the chunk before it then holds part of too.
            let first = r.start / TALLY_BLOCK;
            for (slot, n) in tally.counts.iter_mut().skip(first).zip(counts) {
                *slot = slot.saturating_add(n);
            }
        }
        read(2 * window.iter().map(|r| r.len() as u64).sum::<u64>());
    }
    let mut runs = merge(found.into_iter().flatten(), MERGE_GAP);
    if runs.len() > MAX_RUNS {
        runs = merge(runs.into_iter(), WIDE_GAP);
    }
    (runs, tally)
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

/// The runs of one chunk (at offset `base` of the images), and the differing
/// bytes of each [`TALLY_BLOCK`] it touches, the first being the block that
/// holds `base`.
fn chunk_runs(a: &[u8], b: &[u8], base: usize) -> (Vec<Run>, Vec<u16>) {
    let mut runs = Vec::new();
    let blocks = (base + a.len()).div_ceil(TALLY_BLOCK) - base / TALLY_BLOCK;
    let mut counts = vec![0u16; blocks];
    if a == b {
        return (runs, counts);
    }
    // Block by block, so that the bytes are still in cache when counted.
    let mut at = 0;
    for count in counts.iter_mut() {
        let end = (base + at + 1).next_multiple_of(TALLY_BLOCK) - base;
        let end = end.min(a.len());
        let (x, y) = (&a[at..end], &b[at..end]);
        if x != y {
            let (found, differing) = block_runs(x, y, (base + at) as u64);
            runs.extend(found);
            // At most TALLY_BLOCK.
            *count = u16::try_from(differing).unwrap_or(u16::MAX);
        }
        at = end;
    }
    (merge(runs.into_iter(), MERGE_GAP), counts)
}

/// The runs of `a` and `b` (at offset `base`), and how many bytes differ.
fn block_runs(a: &[u8], b: &[u8], base: u64) -> (Vec<Run>, u64) {
    let mut out = Vec::new();
    let mut differing = 0;
    // Moved data differs in nearly every word: eight words at a time, a group
    // whose words all differ is one run (two differing words side by side
    // always join) counted without a branch per word.
    const _: () = assert!(MERGE_GAP > 14, "adjacent differing words join one run");
    const GROUP: usize = 64;
    let groups = a.len() / GROUP * GROUP;
    for (g, (x, y)) in a[..groups]
        .chunks_exact(GROUP)
        .zip(b[..groups].chunks_exact(GROUP))
        .enumerate()
    {
        let mut t = [0u64; GROUP / 8];
        for (k, (p, q)) in x.chunks_exact(8).zip(y.chunks_exact(8)).enumerate() {
            t[k] = word(p) ^ word(q);
        }
        let at = base + (g * GROUP) as u64;
        if t.iter().all(|&w| w != 0) {
            add_run(
                &mut out,
                at + u64::from(t[0].trailing_zeros() / 8),
                at + GROUP as u64 - 1 - u64::from(t[GROUP / 8 - 1].leading_zeros() / 8),
            );
            differing += t.iter().map(|&w| differing_in_word(w)).sum::<u64>();
        } else {
            for (k, &w) in t.iter().enumerate() {
                differing += add_word(&mut out, at + (k * 8) as u64, w);
            }
        }
    }
    let words = a.len() / 8 * 8;
    for (n, (x, y)) in a[groups..words]
        .chunks_exact(8)
        .zip(b[groups..words].chunks_exact(8))
        .enumerate()
    {
        differing += add_word(&mut out, base + (groups + n * 8) as u64, word(x) ^ word(y));
    }
    for (i, (p, q)) in a[words..].iter().zip(&b[words..]).enumerate() {
        if p != q {
            let at = base + (words + i) as u64;
            add_run(&mut out, at, at);
            differing += 1;
        }
    }
    (out, differing)
}

/// Adds the differing bytes of the word at `at` whose XOR is `t` to the runs,
/// and says how many they are. The bytes between the first and the last
/// differing byte of a word are fewer than [`MERGE_GAP`], so they join one run
/// anyway.
fn add_word(out: &mut Vec<Run>, at: u64, t: u64) -> u64 {
    if t == 0 {
        return 0;
    }
    add_run(
        out,
        at + u64::from(t.trailing_zeros() / 8),
        at + 7 - u64::from(t.leading_zeros() / 8),
    );
    differing_in_word(t)
}

/// Adds the differing bytes `first..=last` to the runs: to the last one when
/// fewer than [`MERGE_GAP`] bytes lie between.
fn add_run(out: &mut Vec<Run>, first: u64, last: u64) {
    match out.last_mut() {
        Some(Run { end, .. }) if first < *end + MERGE_GAP => *end = last + 1,
        _ => out.push(Run {
            start: first,
            end: last + 1,
        }),
    }
}

/// How many bytes of the XOR of two words are not zero.
fn differing_in_word(mut t: u64) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    // One bit per differing byte: fold each byte's bits into its lowest.
    t |= t >> 4;
    t |= t >> 2;
    t |= t >> 1;
    u64::from((t & LOW).count_ones())
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
    let words = a.len().min(b.len()) / 8 * 8;
    let mut n = 0u64;
    for (x, y) in a[..words].chunks_exact(8).zip(b[..words].chunks_exact(8)) {
        n += differing_in_word(word(x) ^ word(y));
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
        let runs = differing_runs_outside(&a, &b, &[], &|_| {}).0;
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
        assert!(differing_runs_outside(&a, &a, &[], &|_| {}).0.is_empty());
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
        for round in 0..400 {
            let len = (next() % 300) as usize;
            let a: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut b = a.clone();
            for _ in 0..(round % 12) {
                if len > 0 {
                    let i = next() as usize % len;
                    b[i] = b[i].wrapping_add(1 + (next() % 255) as u8);
                }
            }
            // Moved data: b unrelated to a but for a few stretches of equal
            // bytes (of 1 to 24), some long enough to split a run.
            if round >= 200 {
                b = (0..len).map(|_| next() as u8).collect();
                for _ in 0..(round % 4) {
                    if len > 0 {
                        let at = next() as usize % len;
                        let end = (at + 1 + next() as usize % 24).min(len);
                        b[at..end].copy_from_slice(&a[at..end]);
                    }
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
            let (runs, counts) = chunk_runs(&a, &b, 5);
            assert_eq!(runs, expected, "round {round}");
            assert_eq!(
                counts.iter().map(|&n| u64::from(n)).sum::<u64>(),
                bytewise,
                "round {round}"
            );
        }
    }

    #[test]
    fn the_tally_counts_what_bytes_count() {
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as usize
        };
        let len = 3 * CHUNK + 1234;
        let a: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut b = a.clone();
        for _ in 0..len / 40 {
            let i = next() % len;
            b[i] ^= 1 + (next() % 255) as u8;
        }
        // A skipped range that ends inside a block: the chunks after it start
        // there, and the block is tallied from two chunks.
        let skipped = 1000..CHUNK + TALLY_BLOCK + TALLY_BLOCK / 2;
        let skip = skipped.start as u64..skipped.end as u64;
        let (_, tally) = differing_runs_outside(&a, &b, std::slice::from_ref(&skip), &|_| {});
        let count = |s: usize, e: usize| count_differing(&a[s..e], &b[s..e]);
        for round in 0..500 {
            let start = next() % len;
            let end = (start + next() % (3 * TALLY_BLOCK + 100)).min(len);
            if start < skipped.end && end > skipped.start {
                continue;
            }
            let (n, read) = tally.count(&a, &b, start, end);
            assert_eq!(n, count(start, end), "round {round}: {start}..{end}");
            assert!(read <= 2 * (end - start) as u64);
        }
        let whole = tally.count(&a, &b, skipped.end, len);
        assert_eq!(whole.0, count(skipped.end, len));
        assert!(
            whole.1 < 4 * TALLY_BLOCK as u64,
            "only the ends are read again"
        );
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
        let (runs, _) = differing_runs_outside(&a, &b, &skip, &|n| {
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
