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
