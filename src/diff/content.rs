//! Comparing file content: the cheapest proof of equality first, then where and
//! how two contents differ.

use std::borrow::Cow;
use std::fmt::Write;

use sha2::{Digest, Sha256};

use super::Options;
use crate::error::{Error, Result};
use crate::formats::squashfs::BlockList;
use crate::model::Content;

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

/// Pieces `x`, `y` at `offset` with the bytes inside `mask` taken out.
fn unmasked<'x>(
    offset: u64,
    x: &'x [u8],
    y: &'x [u8],
    mask: &Option<std::ops::Range<u64>>,
) -> [(u64, &'x [u8], &'x [u8]); 2] {
    let empty: (u64, &[u8], &[u8]) = (offset, &[], &[]);
    let Some(m) = mask else {
        return [(offset, x, y), empty];
    };
    let end = offset + x.len() as u64;
    if m.end <= offset || m.start >= end {
        return [(offset, x, y), empty];
    }
    let cut_start = (m.start.max(offset) - offset) as usize;
    let cut_end = (m.end.min(end) - offset) as usize;
    [
        (offset, &x[..cut_start], &y[..cut_start]),
        (offset + cut_end as u64, &x[cut_end..], &y[cut_end..]),
    ]
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

/// True when both contents hold the same bytes (outside `mask`).
///
/// `same` is told of each pair of raw blocks found to be the same bytes.
pub(crate) fn equal(
    a: &Content<'_>,
    b: &Content<'_>,
    mask: Option<std::ops::Range<u64>>,
    same: &mut dyn FnMut(&[u8], &[u8]),
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
    if let (Content::Blocks(x), Content::Blocks(y), None) = (a, b, &mask) {
        if let Some(equal) = raw_blocks_equal(x, y, same)? {
            return Ok(equal);
        }
    }
    let mut same = true;
    in_step(chunks(a), chunks(b), |offset, x, y| {
        same = unmasked(offset, x, y, &mask).iter().all(|(_, x, y)| x == y);
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
    same: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<Option<bool>> {
    if x.compressor != y.compressor
        || x.block_size != y.block_size
        || x.blocks.len() != y.blocks.len()
    {
        return Ok(None);
    }
    let blocks_same = x
        .blocks
        .iter()
        .zip(&y.blocks)
        .all(|(p, q)| p.compressed == q.compressed && p.raw == q.raw);
    if !blocks_same {
        return Ok(None);
    }
    for (p, q) in x.blocks.iter().zip(&y.blocks) {
        same(p.raw, q.raw);
    }
    Ok(match (&x.fragment, &y.fragment) {
        (None, None) => Some(true),
        (Some(f), Some(g))
            if f.compressed == g.compressed
                && f.offset == g.offset
                && f.len == g.len
                && f.raw == g.raw =>
        {
            same(f.raw, g.raw);
            Some(true)
        }
        (Some(_), Some(_)) => Some(x.tail()? == y.tail()?),
        _ => None,
    })
}

/// Where and how two differing contents differ.
#[derive(Debug)]
pub(crate) struct Comparison {
    pub first_offset: Option<u64>,
    pub differing_bytes: u64,
    pub regions: u64,
    pub len_a: u64,
    pub len_b: u64,
    pub sha_a: String,
    pub sha_b: String,
}

impl Comparison {
    /// One line: `20 bytes differ in 1 region from offset 410580`.
    pub(crate) fn summary(&self) -> String {
        let mut s = match self.first_offset {
            Some(first) => format!(
                "{} byte{} differ{} in {} region{} from offset {first}",
                self.differing_bytes,
                plural(self.differing_bytes),
                if self.differing_bytes == 1 { "s" } else { "" },
                self.regions,
                plural(self.regions),
            ),
            None => "no byte of the common length differs".to_owned(),
        };
        if self.len_a != self.len_b {
            let common = self.len_a.min(self.len_b);
            let (side, extra) = if self.len_a > self.len_b {
                ("a", self.len_a - common)
            } else {
                ("b", self.len_b - common)
            };
            let _ = write!(
                s,
                "; {extra} more byte{} in {side} after offset {common}",
                plural(extra)
            );
        }
        s
    }

    /// The digests, for the detail text.
    pub(crate) fn digests(&self) -> String {
        format!("sha256 a {}\nsha256 b {}", self.sha_a, self.sha_b)
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Compares two contents byte by byte, with digests. Reads each once more; only
/// called for contents already known to differ.
pub(crate) fn compare(
    a: &Content<'_>,
    b: &Content<'_>,
    mask: Option<std::ops::Range<u64>>,
) -> Result<Comparison> {
    let mut c = Comparison {
        first_offset: None,
        differing_bytes: 0,
        regions: 0,
        len_a: a.len(),
        len_b: b.len(),
        sha_a: String::new(),
        sha_b: String::new(),
    };
    let mut in_region = false;
    in_step(chunks(a), chunks(b), |offset, x, y| {
        for (offset, x, y) in unmasked(offset, x, y, &mask) {
            if x == y {
                in_region &= x.is_empty();
                continue;
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                if p != q {
                    c.differing_bytes += 1;
                    if !in_region {
                        c.regions += 1;
                        in_region = true;
                    }
                    c.first_offset.get_or_insert(offset + i as u64);
                } else {
                    in_region = false;
                }
            }
        }
        true
    })?;
    c.sha_a = sha256(a)?;
    c.sha_b = sha256(b)?;
    Ok(c)
}

fn sha256(content: &Content<'_>) -> Result<String> {
    let mut h = Sha256::new();
    for chunk in chunks(content) {
        h.update(&chunk?);
    }
    Ok(crate::model::hex(&h.finalize()))
}

/// A unified diff of two texts, when both are text and small enough.
pub(crate) fn text_diff(a: &[u8], b: &[u8], options: &Options) -> Option<String> {
    let limit = usize::try_from(options.max_text_diff_bytes).unwrap_or(usize::MAX);
    if a.len() > limit || b.len() > limit {
        return None;
    }
    let (ta, tb) = (as_text(a)?, as_text(b)?);
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Histogram)
        .timeout(options.text_diff_timeout)
        .diff_lines(ta, tb);
    let mut out = String::new();
    let mut lines = 0usize;
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        for line in hunk.to_string().lines() {
            if lines == options.max_diff_lines {
                let _ = writeln!(out, "[diff cut at {lines} lines]");
                return Some(out);
            }
            out.push_str(line);
            out.push('\n');
            lines += 1;
        }
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
        let equal = |a, b, mask| equal(a, b, mask, &mut |_, _| {});
        assert!(equal(&a, &b, None).unwrap_or(false));
        let c = content(&[b"hello_world"]);
        assert!(!equal(&a, &c, None).unwrap_or(true));
        assert!(
            equal(&a, &c, Some(5..6)).unwrap_or(false),
            "the differing byte is masked"
        );
    }

    #[test]
    fn counts_bytes_and_regions() {
        let a = content(&[b"aaaaXXaaaaYaaa"]);
        let b = content(&[b"aaaa", b"YYaaaaZaaa", b"tail"]);
        let c = compare(&a, &b, None).ok();
        let c = c.as_ref();
        assert_eq!(c.and_then(|c| c.first_offset), Some(4));
        assert_eq!(c.map(|c| c.differing_bytes), Some(3));
        assert_eq!(c.map(|c| c.regions), Some(2));
        assert_eq!(
            c.map(|c| c.summary()).as_deref(),
            Some("3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14")
        );
    }

    #[test]
    fn text_diff_is_unified_and_capped() {
        let o = Options::default();
        let d = text_diff(b"one\ntwo\nthree\n", b"one\n2\nthree\n", &o).unwrap_or_default();
        assert!(d.contains("-two\n") && d.contains("+2\n"), "{d}");
        assert!(text_diff(b"\0bin", b"text", &o).is_none());
        let mut small = o.clone();
        small.max_diff_lines = 2;
        let d = text_diff(b"a\nb\nc\n", b"x\ny\nz\n", &small).unwrap_or_default();
        assert!(d.ends_with("[diff cut at 2 lines]\n"), "{d}");
    }
}
