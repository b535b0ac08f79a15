//! System Use Sharing Protocol (SUSP 1.12): the entries in a directory record's
//! System Use area and in the continuation areas (`CE`) it chains to.

use std::collections::BTreeMap;

use super::raw::Both32;
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::limits::{check, Limits};
use crate::model::span::Explain;
use crate::model::structure::{structure, Array, Raw, U8};

structure! {
    /// The header every SUSP entry starts with (SUSP 4.1). The tables of the
    /// entries begin with a row for it, which the byte layout replaces by
    /// these fields.
    pub(crate) struct SuspHeader[4] {
        sig: 0, 2, Array<2>, "signature", Explain::Derived;
        len: 2, 1, U8, "length", Explain::Derived;
        version: 3, 1, U8, "version", Explain::Derived;
    }
}

structure! {
    /// A `CE` entry (SUSP 5.1): where the System Use area goes on.
    pub(crate) struct CeEntry[28] {
        /// [`SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        block: 4, 8, Both32, "continuation block", Explain::Placement;
        offset: 12, 8, Both32, "continuation offset", Explain::Placement;
        length: 20, 8, Both32, "continuation length", Explain::Placement;
    }
}

impl CeEntry<'_> {
    /// The continuation area's first byte and its length, in an image of
    /// `block_size` blocks.
    pub(crate) fn area(&self, block_size: u32) -> (u64, u32) {
        let start = u64::from(self.block().0) * u64::from(block_size) + u64::from(self.offset().0);
        (start, self.length().0)
    }
}

/// One SUSP entry, borrowed from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SuspEntry<'a> {
    /// Two-letter signature, e.g. `PX`.
    pub sig: [u8; 2],
    /// Entry version.
    pub version: u8,
    /// The whole entry, header included (so field offsets match the specifications).
    pub data: &'a [u8],
    /// Where the entry starts in the image.
    pub offset: u64,
}

impl<'a> SuspEntry<'a> {
    /// The entry whose header is at `offset` of `image`, decoded again where
    /// a walk found it (see [`super::recorded`]).
    pub(crate) fn at(image: &'a [u8], offset: u64) -> Option<SuspEntry<'a>> {
        let start = usize::try_from(offset).ok()?;
        let header = image.get(start..).and_then(SuspHeader::new)?;
        let data = image.get(start..start + usize::from(header.len()))?;
        Some(SuspEntry {
            sig: header.sig(),
            version: header.version(),
            data,
            offset,
        })
    }
}

/// The continuation areas one pass over a directory tree has followed, by their
/// byte ranges in the image.
///
/// In a sound image every continuation area belongs to one record, so no two
/// areas a tree's records chain to overlap. A hostile image can point every
/// record (or one record, again and again) at one area that continues into
/// itself: each record then gathers the walk's whole System Use budget from the
/// same few KiB, a 175 KB image tens of thousands of entries, each an attribute
/// and a span (0.3 s a run in a release build, seconds in the fuzzer's). An area
/// that overlaps one already followed is therefore not followed again.
#[derive(Debug, Default)]
pub(crate) struct Claimed {
    /// Start of each area followed, to its end.
    areas: BTreeMap<u64, u64>,
}

impl Claimed {
    /// Claims `start..end`; `Err` with the start of an area already claimed that
    /// overlaps it (an empty range overlaps nothing).
    fn claim(&mut self, start: u64, end: u64) -> std::result::Result<(), u64> {
        if start >= end {
            return Ok(());
        }
        // The last area starting before `end` is the only one that can reach
        // into `start..end`, as claimed areas never overlap each other.
        if let Some((&s, &e)) = self.areas.range(..end).next_back() {
            if e > start {
                return Err(s);
            }
        }
        self.areas.insert(start, end);
        Ok(())
    }
}

/// Collects the entries of a System Use area, following `CE` continuation areas
/// that no record of the same pass followed before (see [`Claimed`]).
///
/// Returns the entries read so far together with the problem that stopped the
/// reading, if any: a damaged entry costs what follows it, not what came before.
pub(crate) fn collect<'a>(
    image: Bytes<'a>,
    area: &'a [u8],
    area_offset: u64,
    block_size: u32,
    limits: &Limits,
    claimed: &mut Claimed,
) -> (Vec<SuspEntry<'a>>, Option<Error>) {
    let mut entries = Vec::new();
    let problem = walk(
        image,
        area,
        area_offset,
        block_size,
        limits,
        claimed,
        &mut entries,
    )
    .err();
    (entries, problem)
}

fn walk<'a>(
    image: Bytes<'a>,
    mut area: &'a [u8],
    mut area_offset: u64,
    block_size: u32,
    limits: &Limits,
    claimed: &mut Claimed,
    entries: &mut Vec<SuspEntry<'a>>,
) -> Result<()> {
    let mut hops = 0u32;
    let mut total = area.len() as u64;
    loop {
        let mut pos = 0usize;
        let mut next = None;
        // Fewer than four bytes left is padding (SUSP 5.1 allows a trailing pad byte).
        while area.len().saturating_sub(pos) >= 4 {
            let at = area_offset + pos as u64;
            // Four bytes are left: the header is there.
            let Some(header) = area.get(pos..).and_then(SuspHeader::new) else {
                break;
            };
            let sig = header.sig();
            if sig == [0, 0] {
                break; // zero padding to the end of the area
            }
            let len = usize::from(header.len());
            let Some(data) = area.get(pos..pos + len).filter(|_| len >= 4) else {
                return Err(Error::malformed(
                    "SUSP entry",
                    at,
                    format!(
                        "entry {:?} claims {len} bytes, {} remain in the area",
                        String::from_utf8_lossy(&sig),
                        area.len() - pos
                    ),
                ));
            };
            pos += len;
            match (&sig, CeEntry::new(data)) {
                (b"ST", _) => return Ok(()),
                (b"CE", Some(ce)) => next = Some((ce.area(block_size), at)),
                _ => {}
            }
            entries.push(SuspEntry {
                sig,
                version: header.version(),
                data,
                offset: at,
            });
        }
        let Some(((start, length), ce_at)) = next else {
            return Ok(());
        };
        hops += 1;
        check(
            "SUSP continuation areas per record",
            u64::from(hops),
            u64::from(limits.max_continuations),
        )?;
        total += u64::from(length);
        check(
            "System Use bytes per record",
            total,
            limits.max_system_use_bytes,
        )?;
        area = image
            .get(start, u64::from(length), "SUSP continuation area")
            .map_err(|e| match e {
                Error::OutOfBounds { end, len, .. } => Error::OutOfBounds {
                    structure: "SUSP continuation area (CE)",
                    offset: ce_at,
                    end,
                    len,
                },
                other => other,
            })?;
        if let Err(other) = claimed.claim(start, start.saturating_add(u64::from(length))) {
            return Err(Error::malformed(
                "SUSP entry CE",
                ce_at,
                format!(
                    "continuation area at byte {start} ({length} bytes) overlaps the one \
                     at byte {other}, already followed: each area belongs to one record"
                ),
            ));
        }
        area_offset = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_and_ce_are_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(SuspHeader::FIELDS, 4), Ok(()));
        assert_eq!(check_table(CeEntry::FIELDS, 28), Ok(()));
        let e = ce(20, 100, 300);
        let area = CeEntry::new(&e).map(|c| c.area(2048));
        assert_eq!(area, Some((20 * 2048 + 100, 300)));
    }

    fn entry(sig: &[u8; 2], body: &[u8]) -> Vec<u8> {
        let mut e = vec![sig[0], sig[1], (body.len() + 4) as u8, 1];
        e.extend_from_slice(body);
        e
    }

    fn ce(block: u32, offset: u32, len: u32) -> Vec<u8> {
        let mut body = Vec::new();
        for v in [block, offset, len] {
            body.extend_from_slice(&v.to_le_bytes());
            body.extend_from_slice(&v.to_be_bytes());
        }
        entry(b"CE", &body)
    }

    fn sigs(entries: &[SuspEntry<'_>]) -> Vec<String> {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.sig).into_owned())
            .collect()
    }

    #[test]
    fn follows_continuation_areas() {
        let mut image = vec![0u8; 4096];
        let cont = entry(b"NM", b"\x00tail");
        image[2048 + 16..2048 + 16 + cont.len()].copy_from_slice(&cont);
        let mut area = entry(b"PX", &[0; 32]);
        area.extend(ce(1, 16, cont.len() as u32));
        let (entries, problem) = collect(
            Bytes::new(&image),
            &area,
            0,
            2048,
            &Limits::default(),
            &mut Claimed::default(),
        );
        assert!(problem.is_none());
        assert_eq!(sigs(&entries), ["PX", "CE", "NM"]);
        assert_eq!(entries[2].offset, 2048 + 16);
    }

    #[test]
    fn a_continuation_loop_stops_at_the_area_followed_before() {
        // The continuation area points to itself: followed once, not again.
        let mut image = vec![0u8; 4096];
        let looped = ce(1, 0, 28);
        image[2048..2048 + 28].copy_from_slice(&looped);
        let (entries, problem) = collect(
            Bytes::new(&image),
            &looped,
            0,
            2048,
            &Limits::default(),
            &mut Claimed::default(),
        );
        assert!(
            matches!(&problem, Some(Error::Malformed { offset: 2048, reason, .. }) if reason.contains("overlaps")),
            "{problem:?}"
        );
        assert_eq!(sigs(&entries), ["CE", "CE"]);
    }

    #[test]
    fn a_continuation_loop_without_claims_hits_the_budget() {
        // An area reached at another offset each time (28 bytes apart, so never
        // overlapping) until the hop limit stops it.
        let mut image = vec![0u8; 2048 * 40];
        for i in 0..60u32 {
            let next = ce(1, (i + 1) * 28, 28);
            let at = 2048 + i as usize * 28;
            image[at..at + 28].copy_from_slice(&next);
        }
        let first = ce(1, 0, 28);
        let (entries, problem) = collect(
            Bytes::new(&image),
            &first,
            0,
            2048,
            &Limits::default().max_continuations(16),
            &mut Claimed::default(),
        );
        assert!(
            matches!(problem, Some(Error::LimitExceeded { .. })),
            "{problem:?}"
        );
        assert_eq!(entries.len(), 17);
    }

    #[test]
    fn records_sharing_a_continuation_area_follow_it_once() {
        let mut image = vec![0u8; 4096];
        let cont = entry(b"NM", b"\x00tail");
        image[2048..2048 + cont.len()].copy_from_slice(&cont);
        let area = ce(1, 0, cont.len() as u32);
        let mut claimed = Claimed::default();
        let (first, problem) = collect(
            Bytes::new(&image),
            &area,
            0,
            2048,
            &Limits::default(),
            &mut claimed,
        );
        assert!(problem.is_none());
        assert_eq!(sigs(&first), ["CE", "NM"]);
        // Another record pointing into the same area, 4 bytes in.
        let inside = ce(1, 4, 4);
        let (second, problem) = collect(
            Bytes::new(&image),
            &inside,
            100,
            2048,
            &Limits::default(),
            &mut claimed,
        );
        assert!(
            matches!(problem, Some(Error::Malformed { offset: 100, .. })),
            "{problem:?}"
        );
        assert_eq!(sigs(&second), ["CE"]);
        // An area beside it is no overlap.
        let beside = ce(1, cont.len() as u32, 8);
        let (_, problem) = collect(
            Bytes::new(&image),
            &beside,
            200,
            2048,
            &Limits::default(),
            &mut claimed,
        );
        assert!(problem.is_none(), "{problem:?}");
    }

    #[test]
    fn damaged_entry_keeps_what_came_before() {
        let mut area = entry(b"RR", &[0x81]);
        area.extend_from_slice(b"NM\xff\x01abc");
        let (entries, problem) = collect(
            Bytes::new(&[]),
            &area,
            0,
            2048,
            &Limits::default(),
            &mut Claimed::default(),
        );
        assert_eq!(sigs(&entries), ["RR"]);
        assert!(matches!(problem, Some(Error::Malformed { offset: 5, .. })));
    }

    #[test]
    fn continuation_outside_the_image_is_an_error() {
        let area = ce(1000, 0, 100);
        let (_, problem) = collect(
            Bytes::new(&[0; 2048]),
            &area,
            0,
            2048,
            &Limits::default(),
            &mut Claimed::default(),
        );
        assert!(matches!(problem, Some(Error::OutOfBounds { .. })));
    }

    #[test]
    fn stops_at_st() {
        let mut area = entry(b"ST", &[]);
        area.extend(entry(b"PX", &[0; 32]));
        let (entries, problem) = collect(
            Bytes::new(&[]),
            &area,
            0,
            2048,
            &Limits::default(),
            &mut Claimed::default(),
        );
        assert!(entries.is_empty() && problem.is_none());
    }
}
