//! What a walk of a directory hierarchy read, recorded as it reads: every
//! directory extent, every record in it that parsed, and every SUSP entry of
//! each record's System Use area (its continuation areas included). The byte
//! layout names these, decoding each again where the walk found it, so that
//! it never walks the hierarchy or follows a continuation area again and
//! names exactly what the reader read.
//!
//! Compact: a record is its offset and where its entries start, an entry its
//! offset (its signature and length are in its header, at that offset).

use std::collections::HashMap;
use std::ops::Range;

/// A directory extent the walk read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtentRead {
    /// The directory's node in its tree.
    pub node: u32,
    /// The extent's first byte.
    pub start: u64,
    /// Its records in [`Recorded`]'s list.
    records: Range<usize>,
}

/// What one walk read, in the order it read it.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    /// Each extent: its node, where it is, and its first record.
    extents: Vec<(u32, u64, usize)>,
    /// Each record: where it is, and its first entry in `susp`.
    records: Vec<(u64, usize)>,
    /// Where each SUSP entry is.
    susp: Vec<u64>,
    /// Entries gathered before their record's extent was read (a `..`
    /// record read for its `PL`, a relocated directory's `.`, the root's
    /// `.`), by the record's offset: the walk gathers each record's entries
    /// once.
    ahead: HashMap<u64, Vec<u64>>,
}

impl Recorded {
    /// Starts the records of the extent at `start`, of directory `node`.
    pub(crate) fn extent(&mut self, node: u32, start: u64) {
        self.extents.push((node, start, self.records.len()));
    }

    /// Starts a record of the current extent, at `at`.
    pub(crate) fn record(&mut self, at: u64) {
        self.records.push((at, self.susp.len()));
    }

    /// Adds SUSP entries at `offsets` to the current record.
    pub(crate) fn entries(&mut self, offsets: impl IntoIterator<Item = u64>) {
        self.susp.extend(offsets);
    }

    /// Keeps the SUSP entries at `offsets` of the record at `at`, gathered
    /// before its extent is read.
    pub(crate) fn ahead(&mut self, at: u64, offsets: impl IntoIterator<Item = u64>) {
        self.ahead.insert(at, offsets.into_iter().collect());
    }

    /// The entries gathered ahead for the record at `at`, now its extent is
    /// read (`None`: none were).
    pub(crate) fn take_ahead(&mut self, at: u64) -> Option<Vec<u64>> {
        self.ahead.remove(&at)
    }

    /// Ends the walk: what was gathered ahead for extents never read (shared
    /// or looping ones) is dropped, and the lists take only their room.
    pub(crate) fn finish(&mut self) {
        self.ahead = HashMap::new();
        self.extents.shrink_to_fit();
        self.records.shrink_to_fit();
        self.susp.shrink_to_fit();
    }

    /// The extents read, in the order of their directories' nodes.
    pub(crate) fn extents(&self) -> Vec<ExtentRead> {
        let ends = self.extents.iter().skip(1).map(|e| e.2);
        let ends = ends.chain([self.records.len()]);
        let mut v: Vec<ExtentRead> = self
            .extents
            .iter()
            .zip(ends)
            .map(|(&(node, start, first), end)| ExtentRead {
                node,
                start,
                records: first..end,
            })
            .collect();
        v.sort_by_key(|e| e.node);
        v
    }

    /// The records of extent `e`, in order: where each is, and where its
    /// SUSP entries are.
    pub(crate) fn records<'s>(&'s self, e: &ExtentRead) -> impl Iterator<Item = (u64, &'s [u64])> {
        e.records.clone().map(move |i| {
            let (at, from) = self.records.get(i).copied().unwrap_or_default();
            let to = self.records.get(i + 1).map_or(self.susp.len(), |r| r.1);
            (at, self.susp.get(from..to).unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::DirRecord;
    use super::super::susp::{collect, Claimed};
    use super::super::walk::{Namespace, Tree};
    use super::super::IsoFs;
    use crate::bytes::Bytes;
    use crate::limits::Limits;
    use crate::model::EntryKind;

    /// Each directory's node, with its records: where each is and where its
    /// SUSP entries are.
    type Listed = Vec<(u32, Vec<(u64, Vec<u64>)>)>;

    /// What the walk recorded of `tree`.
    fn recorded(tree: &Tree) -> Listed {
        let r = &tree.recorded;
        r.extents()
            .iter()
            .map(|e| {
                let records = r.records(e).map(|(at, s)| (at, s.to_vec()));
                (e.node, records.collect())
            })
            .collect()
    }

    /// What the walk read, found here from the bytes: every record of every
    /// directory's extent, and the entries of each System Use area with the
    /// continuation areas they chain to.
    fn scanned(data: &[u8], tree: &Tree) -> Listed {
        let mut out = Vec::new();
        for (i, n) in tree.nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::Dir {
                continue;
            }
            let start = u64::from(n.dir_block) * 2048;
            let extent = &data[start as usize..][..n.dir_size as usize];
            let mut records = Vec::new();
            let mut pos = 0;
            while pos < extent.len() {
                let len = usize::from(extent[pos]);
                if len == 0 {
                    pos = (pos / 2048 + 1) * 2048;
                    continue;
                }
                let at = start + pos as u64;
                let rec = DirRecord::parse(&extent[pos..pos + len], at).expect("a record");
                let entries = match tree.namespace {
                    Namespace::RockRidge { skip } => {
                        let skip = if i == 0 && rec.is_self() { 0 } else { skip };
                        let area = &rec.system_use[usize::from(skip)..];
                        let offset = rec.system_use_offset + u64::from(skip);
                        let limits = Limits::default();
                        let (e, _) = collect(
                            Bytes::new(data),
                            area,
                            offset,
                            2048,
                            &limits,
                            &mut Claimed::default(),
                        );
                        e.iter().map(|e| e.offset).collect()
                    }
                    _ => Vec::new(),
                };
                records.push((at, entries));
                pos += len;
            }
            out.push((i as u32, records));
        }
        out
    }

    #[test]
    fn the_reader_records_what_it_read() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rr-genisoimage.iso");
        let data = std::fs::read(path).expect("the image");
        let fs = IsoFs::open(&data, &Limits::default()).expect("opens");
        let (joliet, _) = fs.other.as_ref().expect("a Joliet tree");
        for tree in [&fs.tree, joliet] {
            assert_eq!(recorded(tree), scanned(&data, tree));
        }
        // Every directory, its `.` and `..` records, SUSP entries in the
        // records and in continuation areas: none in the Joliet tree's.
        let all = recorded(&fs.tree);
        let dirs = fs.tree.nodes.iter();
        let dirs = dirs.filter(|n| n.entry.meta.kind == EntryKind::Dir);
        assert_eq!(all.len(), dirs.count());
        let records: Vec<&(u64, Vec<u64>)> = all.iter().flat_map(|(_, r)| r).collect();
        assert!(records.iter().all(|(_, e)| !e.is_empty()));
        let outside = |(at, e): &&&(u64, Vec<u64>)| e.iter().any(|o| o < at || *o > at + 255);
        assert!(records.iter().filter(outside).count() >= 2);
        let joliet = recorded(joliet);
        assert!(joliet
            .iter()
            .flat_map(|(_, r)| r)
            .all(|(_, e)| e.is_empty()));
        let seen = fs.descriptors.iter().map(|d| (d.kind, d.prefix.as_str()));
        let seen: Vec<(u8, &str)> = seen.collect();
        assert_eq!(seen, [(1, "pvd"), (2, "joliet"), (255, "")]);

        // Past the entry limit nothing more is read, nor recorded: the byte
        // layout names only what the reader read.
        let fs = IsoFs::open(&data, &Limits::default().max_entries(3)).expect("opens");
        let root = &all[0];
        assert_eq!(recorded(&fs.tree), std::slice::from_ref(root));
    }
}
