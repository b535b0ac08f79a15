//! What the walk found in each 32-byte slot of a directory, recorded as it
//! reads them, so that the byte layout names the slots from this record and
//! never decodes them again.
//!
//! Compact: a slot is its offset and its kind. The walk records every slot it
//! reads, in order, and stops where it stops: at the end mark (every slot
//! after it is free) or at a limit (the slots after it are unread).

/// What one directory slot held, as the walk read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The end mark (first byte 0): this slot and every one after it are free.
    End,
    /// A deleted entry (first byte 0xe5).
    Deleted,
    /// A VFAT long-name entry: the node whose 8.3 entry comes right after its
    /// run of long-name entries, or none (orphaned).
    LongName(Option<u32>),
    /// The root's volume label entry.
    Label,
    /// A volume label entry outside the root, or a second one.
    StrayLabel,
    /// The `.` entry.
    Dot,
    /// The `..` entry.
    DotDot,
    /// The 8.3 entry of a node.
    Entry(u32),
    /// An 8.3 entry the tree does not hold (a name no path can hold, a loop).
    Skipped,
}

/// Records `slot` at `at`; an entry of node `id` claims the run of
/// long-name entries just before it.
pub(crate) fn record(read: &mut Vec<(u64, Slot)>, at: u64, slot: Slot) {
    if let Slot::Entry(id) = slot {
        for (_, s) in read.iter_mut().rev() {
            match s {
                Slot::LongName(owner) if owner.is_none() => *owner = Some(id),
                _ => break,
            }
        }
    }
    read.push((at, slot));
}

#[cfg(test)]
mod tests {
    use super::super::tests::image;
    use super::super::FatFs;
    use super::*;
    use crate::limits::Limits;
    use crate::model::{EntryKind, Filesystem, Value};

    /// Each directory's slots, decoded again from the bytes: what the walk
    /// must have recorded.
    fn scanned(data: &[u8], fs: &FatFs<'_>) -> Vec<Vec<(u64, Slot)>> {
        let nodes = &fs.tree.nodes;
        let by_offset = |at: u64| {
            nodes.iter().position(|n| {
                n.entry.attrs.iter().any(|a| {
                    a.name == "fat.entry_offset" && a.value == Value::Int(at) && n.entry.node.0 != 0
                })
            })
        };
        let mut out = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            if n.entry.meta.kind != EntryKind::Dir {
                continue;
            }
            let pieces: Vec<(u64, u64)> = match fs.geo.root_region {
                Some(r) if i == 0 => vec![r],
                _ => n
                    .runs
                    .iter()
                    .map(|r| {
                        let len = u64::from(r.count) * fs.geo.cluster_bytes;
                        (fs.geo.cluster_offset(r.first), len)
                    })
                    .collect(),
            };
            let mut read = Vec::new();
            let mut label = false;
            'dir: for (start, len) in pieces {
                for at in (start..start + len).step_by(32) {
                    let e = &data[at as usize..at as usize + 32];
                    let slot = match (e[0], e[11], &e[..11]) {
                        (0, _, _) => Slot::End,
                        (0xe5, _, _) => Slot::Deleted,
                        (_, a, _) if a & 0x3f == 0x0f => Slot::LongName(None),
                        (_, a, _) if a & 0x08 != 0 && i == 0 && !label => {
                            label = true;
                            Slot::Label
                        }
                        (_, a, _) if a & 0x08 != 0 => Slot::StrayLabel,
                        (_, _, b".          ") => Slot::Dot,
                        (_, _, b"..         ") => Slot::DotDot,
                        _ => match by_offset(at) {
                            Some(n) => {
                                let claimed = read.iter_mut().rev();
                                for (_, s) in
                                    claimed.take_while(|(_, s)| *s == Slot::LongName(None))
                                {
                                    *s = Slot::LongName(Some(n as u32));
                                }
                                Slot::Entry(n as u32)
                            }
                            None => Slot::Skipped,
                        },
                    };
                    read.push((at, slot));
                    if slot == Slot::End {
                        break 'dir;
                    }
                }
            }
            out.push(read);
        }
        out
    }

    fn recorded(fs: &FatFs<'_>) -> Vec<Vec<(u64, Slot)>> {
        let dirs = fs.tree.nodes.iter();
        let dirs = dirs.filter(|n| n.entry.meta.kind == EntryKind::Dir);
        dirs.map(|n| n.slots.clone()).collect()
    }

    #[test]
    fn the_walk_records_what_it_read() {
        let root = 1536u64;
        let sub = 1536 + 512 + 2 * 512u64;
        let img = image();
        let fs = FatFs::open(&img, &Limits::default()).unwrap();
        let all = recorded(&fs);
        assert_eq!(all, scanned(&img, &fs));
        let id = |name: &str| {
            let n = fs
                .tree
                .nodes
                .iter()
                .position(|n| n.entry.name == name.as_bytes());
            n.unwrap() as u32
        };
        let file = Some(id("Long File Name.txt"));
        let slots = |at: u64, kinds: &[Slot]| -> Vec<(u64, Slot)> {
            (at..).step_by(32).zip(kinds.iter().copied()).collect()
        };
        #[rustfmt::skip]
        let want_root = slots(root, &[
            Slot::Label, Slot::LongName(file), Slot::LongName(file),
            Slot::Entry(id("Long File Name.txt")), Slot::Entry(id("SUB")),
            Slot::Entry(id("LOOPY.BIN")), Slot::Deleted, Slot::End,
        ]);
        assert_eq!(all[0], want_root);
        // `UP` points back at the root: the walk refuses it (a loop).
        let want_sub = slots(
            sub,
            &[
                Slot::Dot,
                Slot::DotDot,
                Slot::Entry(id("readme.txt")),
                Slot::Skipped,
                Slot::End,
            ],
        );
        assert_eq!(all[1], want_sub);

        // A deleted 8.3 entry orphans its long name; a label outside the
        // root is a stray one.
        let mut bad = img.clone();
        bad[root as usize + 3 * 32] = 0xe5;
        bad[sub as usize + 3 * 32 + 11] = 0x08;
        let fs = FatFs::open(&bad, &Limits::default()).unwrap();
        let got = recorded(&fs);
        assert_eq!(got, scanned(&bad, &fs));
        assert_eq!(
            got[0][1..4],
            slots(
                root + 32,
                &[Slot::LongName(None), Slot::LongName(None), Slot::Deleted]
            )
        );
        assert_eq!(got[1][3], (sub + 96, Slot::StrayLabel));

        // Past the entry limit nothing more is read, nor recorded: the byte
        // layout names the rest as unread.
        let fs = FatFs::open(&img, &Limits::default().max_entries(2)).unwrap();
        let got = recorded(&fs);
        assert!(got[0].len() < want_root.len() && want_root.starts_with(&got[0]));
        let mut l = fs.byte_layout().unwrap();
        l.finish();
        let next = root + 32 * got[0].len() as u64;
        let i = l.at(next).unwrap();
        assert_eq!(l.finished_spans()[i].owner.name, "unread slots of /");
    }
}
