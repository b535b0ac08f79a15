//! Following cluster chains through the FAT, with every cluster claimed once.
//!
//! A chain read from a hostile image may leave the data area, hit a free or bad
//! cluster, end before the file does, or come back on itself. Each cluster a chain
//! uses is marked in one bitmap for the whole image (an eighth of a byte per
//! cluster, so at most a twelfth of the FAT's own size), which catches loops within
//! a chain and clusters shared by two entries (cross-links) alike, in time linear in
//! the clusters read. Chains are also bounded by what they may need: a file exactly
//! the clusters its size takes, a directory at most the 2 MiB the specification
//! allows.

use super::raw::{Geometry, MAX_DIR_BYTES};
use crate::error::Error;

/// Consecutive clusters `first .. first + count`: one slice of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub first: u32,
    pub count: u32,
}

/// The clusters already used by some chain.
#[derive(Debug)]
pub(crate) struct Claimed {
    bits: Vec<u64>,
}

impl Claimed {
    pub(crate) fn new(geo: &Geometry) -> Claimed {
        let n = (u64::from(geo.clusters) + 2).div_ceil(64);
        Claimed {
            bits: vec![0; usize::try_from(n).unwrap_or(0)],
        }
    }

    /// Marks `c`; false when it was marked already.
    fn claim(&mut self, c: u32) -> bool {
        let (word, bit) = ((c / 64) as usize, c % 64);
        match self.bits.get_mut(word) {
            Some(w) if *w & 1 << bit != 0 => false,
            Some(w) => {
                *w |= 1 << bit;
                true
            }
            // Callers only claim data clusters, which the bitmap covers.
            None => false,
        }
    }
}

/// How many clusters a chain should have.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want {
    /// A file: exactly the clusters its size takes.
    Exactly(u64),
    /// A directory: up to its end-of-chain mark, and no more than 2 MiB.
    Directory,
}

/// The FAT that is read, and the geometry to read it with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fat<'a> {
    pub geo: Geometry,
    pub table: &'a [u8],
}

impl Fat<'_> {
    /// Follows the chain from `first`, claiming its clusters. Returns the runs
    /// read, and the problem that stopped it early (the runs before it are still
    /// good: a directory lists what it could read).
    pub(crate) fn chain(
        &self,
        first: u32,
        want: Want,
        claimed: &mut Claimed,
    ) -> (Vec<Run>, Option<Error>) {
        let geo = &self.geo;
        let max = match want {
            Want::Exactly(n) => n,
            Want::Directory => (MAX_DIR_BYTES / geo.cluster_bytes).max(1),
        };
        let mut runs: Vec<Run> = Vec::new();
        let mut c = first;
        // Where the pointer to `c` sits: the entry that gave it, for errors.
        let mut from: Option<u32> = None;
        let mut count = 0u64;
        let fail = |from: Option<u32>, reason: String| -> Error {
            match from {
                Some(p) => Error::malformed("FAT entry", geo.entry_offset(p), reason),
                None => Error::malformed("FAT directory entry (first cluster)", 0, reason),
            }
        };
        while count < max {
            if !geo.is_data_cluster(c) {
                let why = match from {
                    None => format!("the chain starts at cluster {c}"),
                    Some(p) => format!("cluster {p} is followed by {c}"),
                };
                let reason = format!(
                    "{why}, which is not a data cluster (2..={})",
                    u64::from(geo.clusters) + 1
                );
                return (runs, Some(fail(from, reason)));
            }
            if !claimed.claim(c) {
                let looped = runs
                    .iter()
                    .any(|r| (r.first..r.first.saturating_add(r.count)).contains(&c));
                let reason = if looped {
                    format!("the chain loops back to cluster {c} after {count} clusters")
                } else {
                    format!("cluster {c} is used by another entry too (cross-linked chains)")
                };
                return (runs, Some(fail(from, reason)));
            }
            match runs.last_mut() {
                Some(r) if r.first.checked_add(r.count) == Some(c) => r.count += 1,
                _ => runs.push(Run { first: c, count: 1 }),
            }
            count += 1;
            let Some(next) = geo.entry(self.table, c) else {
                return (
                    runs,
                    Some(fail(Some(c), format!("cluster {c} has no FAT entry"))),
                );
            };
            let ends = next >= geo.fat_type.end_of_chain();
            match want {
                Want::Exactly(n) if count == n => return (runs, None),
                Want::Directory if ends => return (runs, None),
                Want::Exactly(n) if ends => {
                    let reason =
                        format!("the chain ends after {count} clusters but the size needs {n}");
                    return (runs, Some(fail(Some(c), reason)));
                }
                _ => {}
            }
            if next == geo.fat_type.bad() {
                let reason = format!("cluster {c} is followed by a cluster marked bad");
                return (runs, Some(fail(Some(c), reason)));
            }
            from = Some(c);
            c = next;
        }
        match want {
            // A file of size 0 has no chain.
            Want::Exactly(_) => (runs, None),
            Want::Directory => {
                let reason = format!(
                    "the directory goes on past {max} clusters ({MAX_DIR_BYTES} bytes, the most \
                     a FAT directory may hold)"
                );
                (runs, Some(fail(from, reason)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::{tests::boot_sector, BootSector};
    use super::*;

    fn fat16(entries: &[u16]) -> (Geometry, Vec<u8>) {
        let bs = BootSector::parse(&boot_sector(1, 1, 64)).unwrap();
        let mut geo = Geometry::new(&bs).unwrap();
        geo.fat_type = super::super::raw::FatType::Fat16;
        let table = entries.iter().flat_map(|e| e.to_le_bytes()).collect();
        (geo, table)
    }

    #[test]
    fn chains_merge_and_stop() {
        // 2 -> 3 -> 4 -> 7 -> end; 5 -> 5 (loop); 6 -> 0 (free); 8 -> bad.
        let (geo, table) = fat16(&[0xfff8, 0xffff, 3, 4, 7, 5, 0, 0xffff, 0xfff7, 0xffff]);
        let fat = Fat { geo, table: &table };
        let mut claimed = Claimed::new(&geo);
        let (runs, e) = fat.chain(2, Want::Directory, &mut claimed);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(
            runs,
            [Run { first: 2, count: 3 }, Run { first: 7, count: 1 }]
        );
        // The same clusters again: cross-linked.
        let (_, e) = fat.chain(3, Want::Exactly(1), &mut claimed);
        assert!(e.is_some_and(|e| e.to_string().contains("cross-linked")));
        let (runs, e) = fat.chain(5, Want::Exactly(3), &mut claimed);
        assert_eq!(runs.len(), 1);
        assert!(e.is_some_and(|e| e.to_string().contains("loops back")));
        let (_, e) = fat.chain(6, Want::Exactly(2), &mut claimed);
        assert!(e.is_some_and(|e| e.to_string().contains("followed by 0")));
        let (_, e) = fat.chain(8, Want::Exactly(2), &mut claimed);
        assert!(e.is_some_and(|e| e.to_string().contains("bad")));
        let (_, e) = fat.chain(9, Want::Exactly(2), &mut claimed);
        assert!(e.is_some_and(|e| e.to_string().contains("ends after 1")));
        let (runs, e) = fat.chain(9999, Want::Exactly(0), &mut claimed);
        assert!(runs.is_empty() && e.is_none());
        let (_, e) = fat.chain(9999, Want::Exactly(1), &mut claimed);
        assert!(e.is_some_and(|e| e.to_string().contains("not a data cluster")));
    }
}
