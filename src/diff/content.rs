//! Comparing file content: the cheapest proof of equality first, then where and
//! how two contents differ.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

use super::Options;
use crate::error::{Error, Result};
use crate::model::blocks::BlockList;
use crate::model::Content;
use crate::report::change::{
    ContentChange, Detail, HexRegion, Hexdump, Hunk, Line, LineOp, TextDiff, HEX_ROW,
};

fn chunks<'c>(content: &'c Content<'_>) -> Box<dyn Iterator<Item = Result<Cow<'c, [u8]>>> + 'c> {
    content.chunks()
}

/// The content as one contiguous slice (see [`Content::contiguous`]).
pub(crate) fn contiguous<'c>(content: &'c Content<'_>, max: u64) -> Result<Cow<'c, [u8]>> {
    content.contiguous(max)
}

/// The first bytes of the content (see [`Content::head`]).
pub(crate) fn head<'c>(content: &'c Content<'_>, want: usize) -> Result<Cow<'c, [u8]>> {
    content.head(want)
}

/// Hands `visit` the pieces of `x`, `y` (at `offset`) outside `mask` (sorted,
/// apart), in order; stops when it returns false, and returns false then.
fn unmasked<'x>(
    offset: u64,
    x: &'x [u8],
    y: &'x [u8],
    mask: &[std::ops::Range<u64>],
    mut visit: impl FnMut(u64, &'x [u8], &'x [u8]) -> bool,
) -> bool {
    let end = offset + x.len() as u64;
    let mut at = offset;
    for m in mask.iter().filter(|m| m.end > offset && m.start < end) {
        let cut_start = (m.start.max(at) - offset) as usize;
        let piece = (at - offset) as usize..cut_start;
        if !piece.is_empty() && !visit(at, &x[piece.clone()], &y[piece]) {
            return false;
        }
        at = at.max(m.end.min(end));
    }
    let rest = (at - offset) as usize..x.len();
    rest.is_empty() || visit(at, &x[rest.clone()], &y[rest])
}

/// Walks two chunk streams in step, handing `visit` equal-length pieces of both.
/// Stops early when `visit` returns false. Returns the length of the common prefix
/// walked.
fn in_step<'x>(
    mut a: impl Iterator<Item = Result<Cow<'x, [u8]>>>,
    mut b: impl Iterator<Item = Result<Cow<'x, [u8]>>>,
    mut visit: impl FnMut(u64, &[u8], &[u8]) -> bool,
) -> Result<u64> {
    let (mut ca, mut cb): (Cow<'x, [u8]>, Cow<'x, [u8]>) = (Cow::Borrowed(&[]), Cow::Borrowed(&[]));
    let (mut pa, mut pb) = (0usize, 0usize);
    let mut offset = 0u64;
    loop {
        if pa == ca.len() {
            match a.next() {
                Some(c) => {
                    ca = c?;
                    pa = 0;
                    continue;
                }
                None => return Ok(offset),
            }
        }
        if pb == cb.len() {
            match b.next() {
                Some(c) => {
                    cb = c?;
                    pb = 0;
                    continue;
                }
                None => return Ok(offset),
            }
        }
        let n = (ca.len() - pa).min(cb.len() - pb);
        if !visit(offset, &ca[pa..pa + n], &cb[pb..pb + n]) {
            return Ok(offset);
        }
        pa += n;
        pb += n;
        offset += n as u64;
    }
}

/// What a comparison learns, and may already know, of raw bytes that are the
/// same in both images: by where they start in each image and their length.
pub(crate) trait SameRaw {
    /// The `len` bytes at `x` of image a and at `y` of image b are the same.
    fn add(&mut self, x: u64, y: u64, len: u64);
    /// Whether those bytes were found the same before (by another file's
    /// comparison: a fragment block holds the tails of many files).
    fn known(&self, _x: u64, _y: u64, _len: u64) -> bool {
        false
    }
}

impl<F: FnMut(u64, u64, u64)> SameRaw for F {
    fn add(&mut self, x: u64, y: u64, len: u64) {
        self(x, y, len);
    }
}

/// True when both contents hold the same bytes (outside `mask`).
///
/// `same` is told of each pair of raw blocks found to be the same bytes:
/// where each starts in its image, and their length; a pair it already knows
/// is not read again.
pub(crate) fn equal(
    a: &Content<'_>,
    b: &Content<'_>,
    mask: &[std::ops::Range<u64>],
    same: &mut dyn SameRaw,
) -> Result<bool> {
    if a.len() != b.len() {
        return Ok(false);
    }
    if let (Some(sa), Some(sb)) = (a.as_slices(), b.as_slices()) {
        // The same bytes of the same map prove equality without reading them.
        if sa.len() == sb.len() && sa.iter().zip(sb).all(|(x, y)| std::ptr::eq(*x, *y)) {
            return Ok(true);
        }
    }
    if let (Content::Blocks(x), Content::Blocks(y), true) = (a, b, mask.is_empty()) {
        if let Some(equal) = raw_blocks_equal(x, y, same)? {
            return Ok(equal);
        }
    }
    let mut same = true;
    in_step(chunks(a), chunks(b), |offset, x, y| {
        same = unmasked(offset, x, y, mask, |_, x, y| x == y);
        same
    })?;
    Ok(same)
}

/// Equal raw blocks under the same compressor and block size are equal content:
/// proven without decompressing anything. A shared fragment block that differs
/// (it holds other files' tails too) costs only the two tails. `None` when the raw
/// blocks differ and only decompressing can tell.
fn raw_blocks_equal(
    x: &BlockList<'_>,
    y: &BlockList<'_>,
    same: &mut dyn SameRaw,
) -> Result<Option<bool>> {
    if x.codec != y.codec || x.block_size != y.block_size || x.blocks.len() != y.blocks.len() {
        return Ok(None);
    }
    // Each equal block is said as it is found (true whatever the later
    // blocks hold), so the caller counts what was read as it goes; a block
    // found the same before (a deduplicated file's) is not read again.
    let mut same_block = |x: u64, y: u64, bx: &[u8], by: &[u8]| {
        let len = bx.len() as u64;
        if bx.len() == by.len() && same.known(x, y, len) {
            return true;
        }
        let equal = bx == by;
        if equal {
            same.add(x, y, len);
        }
        equal
    };
    for (p, q) in x.blocks.iter().zip(&y.blocks) {
        if p.compressed != q.compressed || !same_block(p.offset, q.offset, p.raw, q.raw) {
            return Ok(None);
        }
    }
    Ok(match (&x.fragment, &y.fragment) {
        (None, None) => Some(true),
        // A fragment block holds the tails of tens or hundreds of files:
        // compared whole for each of them, it was read that many times (a
        // third of the time of a 3.5 GB pair of 300,000 files).
        (Some(f), Some(g))
            if f.compressed == g.compressed
                && f.offset == g.offset
                && f.len == g.len
                && same_block(f.block_offset, g.block_offset, f.raw, g.raw) =>
        {
            Some(true)
        }
        (Some(_), Some(_)) => Some(x.tail()? == y.tail()?),
        _ => None,
    })
}

/// Bytes of context shown before and after a differing run in a hexdump.
const HEX_CONTEXT: u64 = HEX_ROW as u64;

/// The windows of a hexdump: each differing byte with [`HEX_CONTEXT`] bytes
/// around it, widened to whole `xxd` rows; windows that touch are one. Only
/// the first `max` are kept, the rest counted, so a file of millions of
/// differing regions costs a few numbers.
#[derive(Debug, Default)]
pub(crate) struct Windows {
    /// The windows kept, in order.
    pub(crate) shown: Vec<std::ops::Range<u64>>,
    /// For each window kept, its differing bytes: from the first to past the
    /// last (the region a disassembly shows the instructions of).
    pub(crate) runs: Vec<std::ops::Range<u64>>,
    /// Windows past the last one kept.
    pub(crate) more: u64,
    /// The last window, kept or not (differing bytes come in order).
    last: Option<std::ops::Range<u64>>,
    max: usize,
}

impl Windows {
    fn new(max: usize) -> Windows {
        Windows {
            max,
            ..Windows::default()
        }
    }

    /// Adds the differing byte at `offset` (offsets come in increasing order).
    fn add(&mut self, offset: u64) {
        let row = HEX_ROW as u64;
        let start = offset.saturating_sub(HEX_CONTEXT) / row * row;
        let end = offset
            .saturating_add(1 + HEX_CONTEXT)
            .div_ceil(row)
            .saturating_mul(row);
        match &mut self.last {
            Some(last) if start <= last.end => {
                last.end = last.end.max(end);
                if let Some(kept) = self.shown.last_mut().filter(|k| k.start == last.start) {
                    kept.end = last.end;
                    if let Some(run) = self.runs.last_mut() {
                        run.end = offset.saturating_add(1);
                    }
                }
            }
            _ => {
                if self.shown.len() < self.max {
                    self.shown.push(start..end);
                    self.runs.push(offset..offset.saturating_add(1));
                } else {
                    self.more += 1;
                }
                self.last = Some(start..end);
            }
        }
    }
}

/// Compares two contents byte by byte, with digests. Reads each once more; only
/// called for contents already known to differ. The ELF place and the text
/// diff are left to the caller; the windows of the first `max_regions`
/// differing regions are returned for a hexdump ([`hexdump`]).
/// A content change of which only the lengths and (to be set) the digests
/// are known.
pub(crate) fn digest_change(len_a: u64, len_b: u64) -> ContentChange {
    ContentChange {
        first_offset: None,
        differing_bytes: 0,
        regions: 0,
        len_a,
        len_b,
        sha256_a: [0; 32],
        sha256_b: [0; 32],
        digest_only: true,
        elf: None,
        pe: None,
        decompressed: None,
        text_diff: None,
        hexdump: None,
        disassembly: None,
        detail: Detail::Shown,
    }
}

pub(crate) fn compare(
    a: &Content<'_>,
    b: &Content<'_>,
    mask: &[std::ops::Range<u64>],
    max_regions: usize,
) -> Result<(ContentChange, Windows)> {
    let mut c = ContentChange {
        first_offset: None,
        differing_bytes: 0,
        regions: 0,
        len_a: a.len(),
        len_b: b.len(),
        sha256_a: [0; 32],
        sha256_b: [0; 32],
        digest_only: false,
        elf: None,
        pe: None,
        decompressed: None,
        text_diff: None,
        hexdump: None,
        disassembly: None,
        detail: Detail::Shown,
    };
    let mut windows = Windows::new(max_regions);
    let mut in_region = false;
    in_step(chunks(a), chunks(b), |offset, x, y| {
        unmasked(offset, x, y, mask, |offset, x, y| {
            if x == y {
                in_region = false;
                return true;
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    c.differing_bytes += 1;
                    if !in_region {
                        c.regions += 1;
                        in_region = true;
                    }
                    c.first_offset.get_or_insert(offset + i as u64);
                    windows.add(offset + i as u64);
                } else {
                    in_region = false;
                }
            }
            true
        });
        true
    })?;
    if c.len_a != c.len_b {
        // Where one side goes on past the other.
        windows.add(c.len_a.min(c.len_b));
    }
    c.sha256_a = sha256(a)?;
    c.sha256_b = sha256(b)?;
    Ok((c, windows))
}

/// The bytes of both sides in the first `max_regions` of `windows`, each
/// window cut to `max_bytes` (whole rows, at least one). Reads each content up
/// to the last window only.
pub(crate) fn hexdump(
    a: &Content<'_>,
    b: &Content<'_>,
    windows: &Windows,
    max_regions: usize,
    max_bytes: usize,
) -> Result<Hexdump> {
    let cap = (max_bytes.div_ceil(HEX_ROW).max(1) * HEX_ROW) as u64;
    let shown = &windows.shown[..windows.shown.len().min(max_regions)];
    let cut: Vec<std::ops::Range<u64>> = shown
        .iter()
        .map(|w| w.start..w.end.min(w.start.saturating_add(cap)))
        .collect();
    let (xa, xb) = (gather(a, &cut)?, gather(b, &cut)?);
    let len = a.len().max(b.len());
    let regions = cut
        .iter()
        .zip(shown)
        .zip(xa.into_iter().zip(xb))
        .map(|((c, w), (a, b))| HexRegion {
            offset: c.start,
            cut: c.end < w.end.min(len),
            a,
            b,
        })
        .collect();
    // The windows were kept for the disassembly too, which may show more.
    let unshown = (windows.shown.len() - shown.len()) as u64;
    Ok(Hexdump {
        regions,
        more_regions: windows.more + unshown,
    })
}

/// The bytes of `content` in each of `ranges` (sorted, apart), as far as it
/// holds them.
fn gather(content: &Content<'_>, ranges: &[std::ops::Range<u64>]) -> Result<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = ranges.iter().map(|_| Vec::new()).collect();
    let Some(last) = ranges.last().map(|r| r.end) else {
        return Ok(out);
    };
    let mut offset = 0u64;
    for chunk in chunks(content) {
        let chunk = chunk?;
        let end = offset + chunk.len() as u64;
        for (r, o) in ranges.iter().zip(out.iter_mut()) {
            let (s, e) = (r.start.max(offset), r.end.min(end));
            if s < e {
                o.extend_from_slice(&chunk[(s - offset) as usize..(e - offset) as usize]);
            }
        }
        offset = end;
        if offset >= last {
            break;
        }
    }
    Ok(out)
}

/// The SHA-256 of a content.
pub(crate) fn sha256(content: &Content<'_>) -> Result<[u8; 32]> {
    let mut h = Sha256::new();
    for chunk in chunks(content) {
        h.update(&chunk?);
    }
    Ok(h.finalize().into())
}

/// A unified diff of two texts, when both are text and small enough, cut at
/// [`Options::max_diff_lines`] lines (hunk headers included).
pub(crate) fn text_diff(a: &[u8], b: &[u8], options: &Options) -> Option<TextDiff> {
    let limit = usize::try_from(options.max_text_diff_bytes).unwrap_or(usize::MAX);
    if a.len() > limit || b.len() > limit {
        return None;
    }
    let (ta, tb) = (as_text(a)?, as_text(b)?);
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Histogram)
        .timeout(options.text_diff_timeout)
        .diff_lines(ta, tb);
    let mut out = TextDiff {
        hunks: Vec::new(),
        cut_at_lines: None,
    };
    let max = options.max_diff_lines;
    let mut lines = 0usize;
    for ops in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            continue;
        };
        if lines == max {
            out.cut_at_lines = Some(lines as u64);
            return Some(out);
        }
        lines += 1;
        let (old, new) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        // The header's ranges as `diff -u` writes them: an empty range starts
        // at the line before it.
        let start = |r: &std::ops::Range<usize>| (r.start + usize::from(!r.is_empty())) as u64;
        let mut hunk = Hunk {
            old_start: start(&old),
            old_lines: old.len() as u64,
            new_start: start(&new),
            new_lines: new.len() as u64,
            lines: Vec::new(),
        };
        let changes = ops.iter().flat_map(|op| diff.iter_changes(op));
        for change in changes {
            let value = change.value();
            let op = match change.tag() {
                similar::ChangeTag::Equal => LineOp::Context,
                similar::ChangeTag::Delete => LineOp::Removed,
                similar::ChangeTag::Insert => LineOp::Added,
            };
            let text = value
                .strip_suffix("\r\n")
                .or_else(|| value.strip_suffix('\n'))
                .unwrap_or(value);
            let ends = text.len() != value.len() || value.ends_with('\r');
            for (op, text) in [(op, text)]
                .into_iter()
                .chain((!ends).then_some((LineOp::NoNewline, "")))
            {
                if lines == max {
                    out.hunks.push(hunk);
                    out.cut_at_lines = Some(lines as u64);
                    return Some(out);
                }
                lines += 1;
                hunk.lines.push(Line {
                    op,
                    text: text.to_owned(),
                });
            }
        }
        out.hunks.push(hunk);
    }
    Some(out)
}

/// The bytes as text: valid UTF-8 without NUL bytes.
fn as_text(b: &[u8]) -> Option<&str> {
    if b.contains(&0) {
        return None;
    }
    std::str::from_utf8(b).ok()
}

/// An error from comparing content, said for one side.
pub(crate) fn unreadable(e: Error) -> String {
    format!("content unreadable: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content<'a>(parts: &[&'a [u8]]) -> Content<'a> {
        Content::Slices(parts.to_vec())
    }

    #[test]
    fn equal_across_different_chunking() {
        let a = content(&[b"hello ", b"world"]);
        let b = content(&[b"hel", b"lo world"]);
        let equal = |a, b, mask: &[std::ops::Range<u64>]| equal(a, b, mask, &mut |_, _, _| {});
        assert!(equal(&a, &b, &[]).unwrap_or(false));
        let c = content(&[b"hello_world"]);
        assert!(!equal(&a, &c, &[]).unwrap_or(true));
        assert!(
            equal(&a, &c, std::slice::from_ref(&(5..6))).unwrap_or(false),
            "the differing byte is masked"
        );
        let d = content(&[b"Hello_worlD"]);
        assert!(equal(&a, &d, &[0..1, 5..6, 10..11]).unwrap_or(false));
        assert!(!equal(&a, &d, &[0..1, 10..11]).unwrap_or(true));
        let c = compare(&a, &d, &[0..1, 10..11], 4).ok().map(|c| c.0);
        assert_eq!(
            c.map(|c| (c.first_offset, c.differing_bytes)),
            Some((Some(5), 1))
        );
    }

    #[test]
    fn counts_bytes_and_regions() {
        let a = content(&[b"aaaaXXaaaaYaaa"]);
        let b = content(&[b"aaaa", b"YYaaaaZaaa", b"tail"]);
        let c = compare(&a, &b, &[], 4).ok().map(|c| c.0);
        let c = c.as_ref();
        assert_eq!(c.and_then(|c| c.first_offset), Some(4));
        assert_eq!(c.map(|c| c.differing_bytes), Some(3));
        assert_eq!(c.map(|c| c.regions), Some(2));
        assert_eq!(
            c.map(|c| c.summary()).as_deref(),
            Some("3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14")
        );
        let digest: [u8; 32] = Sha256::digest(b"aaaaXXaaaaYaaa").into();
        assert_eq!(c.map(|c| c.sha256_a), Some(digest));
    }

    #[test]
    fn hexdump_shows_the_first_regions_with_context_in_rows() {
        let mut x = vec![0u8; 260];
        let mut y = x.clone();
        y[40] = 1; // region 1: rows 16..64 with its context
        y[50] = 2; // merged into it: its context touches
        y[150] = 3; // region 2
        y.push(9); // b goes on: region 3 at the end
        let (a, b) = (content(&[&x[..]]), content(&[&y[..100], &y[100..]]));
        let (c, w) = compare(&a, &b, &[], 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.regions, 3,
            "the appended byte is not in the common length"
        );
        assert_eq!(w.shown, vec![16..80, 128..176]);
        assert_eq!(
            w.runs,
            vec![40..51, 150..151],
            "the differing bytes of each"
        );
        assert_eq!(w.more, 1, "the end of b is past the two regions kept");
        let h = hexdump(&a, &b, &w, 8, 256).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.more_regions, 1);
        assert_eq!(h.regions[0].offset, 16);
        assert_eq!(h.regions[0].a, x[16..80].to_vec());
        assert_eq!(h.regions[0].b, y[16..80].to_vec());
        assert!(!h.regions[0].cut);
        // Cut to one row: the differing run goes on past it.
        let h = hexdump(&a, &b, &w, 8, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.regions[0].a.len(), 16);
        assert!(h.regions[0].cut);
        // The end of the longer side, where the other has no bytes.
        let (_, w) = compare(&a, &b, &[], 8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.shown.last(), Some(&(240..288)));
        let h = hexdump(&a, &b, &w, 8, 256).unwrap_or_else(|e| panic!("{e}"));
        let last = h.regions.last().map(|r| (r.a.len(), r.b.len()));
        assert_eq!(last, Some((20, 21)));
        assert!(!h.regions.last().is_some_and(|r| r.cut));
        x.clear();
    }

    /// The unified diff as text, as the reports write it (see
    /// [`ContentChange::detail`]).
    fn unified(a: &[u8], b: &[u8], o: &Options) -> Option<String> {
        let t = text_diff(a, b, o)?;
        let (mut c, _) = compare(&content(&[a]), &content(&[b]), &[], 4).ok()?;
        c.text_diff = Some(t);
        let detail = c.detail()?;
        // After the two digest lines.
        Some(detail.splitn(3, '\n').nth(2).unwrap_or_default().to_owned())
    }

    #[test]
    fn text_diff_is_unified_and_capped() {
        let o = Options::default();
        let d = unified(b"one\ntwo\nthree\n", b"one\n2\nthree\n", &o).unwrap_or_default();
        assert_eq!(d, "@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n");
        assert!(text_diff(b"\0bin", b"text", &o).is_none());
        let mut small = o.clone();
        small.max_diff_lines = 2;
        let t = text_diff(b"a\nb\nc\n", b"x\ny\nz\n", &small);
        assert_eq!(t.as_ref().and_then(|t| t.cut_at_lines), Some(2));
        let d = unified(b"a\nb\nc\n", b"x\ny\nz\n", &small).unwrap_or_default();
        assert_eq!(d, "@@ -1,3 +1,3 @@\n-a\n[diff cut at 2 lines]\n");
    }

    #[test]
    fn text_diff_lines_are_typed_as_similar_writes_them() {
        let o = Options::default();
        // What similar's own unified diff says, line by line, is what the typed
        // hunks render to: headers, CRLF line ends, a last line without one,
        // empty ranges, several hunks.
        let pairs: [(&str, &str); 5] = [
            ("one\r\ntwo\r\nthree\r\n", "one\r\nTWO\r\nthree\r\n"),
            ("one\ntwo\nlast", "one\ntwo\nLAST"),
            ("", "new\n"),
            ("gone\n", ""),
            (
                "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
                "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n13\n",
            ),
        ];
        for (a, b) in pairs {
            let theirs: String = similar::TextDiff::configure()
                .algorithm(similar::Algorithm::Histogram)
                .diff_lines(a, b)
                .unified_diff()
                .context_radius(3)
                .iter_hunks()
                .flat_map(|h| {
                    h.to_string()
                        .lines()
                        .map(|l| format!("{l}\n"))
                        .collect::<Vec<_>>()
                })
                .collect();
            let ours = unified(a.as_bytes(), b.as_bytes(), &o).unwrap_or_default();
            assert_eq!(ours, theirs, "{a:?} -> {b:?}");
        }
    }
}
