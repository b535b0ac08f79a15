//! The fixed-size entries of the squashfs tables and directory listings, each
//! declared once: the reader parses them and the byte accounting names their
//! fields from the same tables.

use crate::model::key::Key;
use crate::model::span::Explain;
use crate::model::structure::{structure, Le16, Le32, Le64};

/// What a listing's entry says of its directory's children.
const CHILDREN: Explain = Explain::Entry(&[Key::Children]);

structure! {
    /// A fragment table entry: where a fragment block is and how it is stored.
    pub(crate) struct FragmentEntry[16] {
        start: 0, 8, Le64, "start", Explain::Placement;
        /// The stored size (bit 24: stored uncompressed) follows what the
        /// block holds: judged like the block.
        size: 8, 4, Le32, "size", Explain::Packed(&[Key::Content, Key::SIZE, Key::Nested]);
        unused: 12, 4, Le32, "unused", Explain::Nothing;
    }
}

structure! {
    /// An id table entry: a uid or gid that inodes name by index.
    pub(crate) struct IdEntry[4] {
        id: 0, 4, Le32, "id", Explain::Entry(&[Key::UID, Key::GID]);
    }
}

structure! {
    /// An export table entry: the reference of inode number n + 1.
    pub(crate) struct ExportEntry[8] {
        inode: 0, 8, Le64, "inode reference", Explain::Placement;
    }
}

structure! {
    /// The header of the xattr id table.
    pub(crate) struct XattrIdHeader[16] {
        kv_start: 0, 8, Le64, "key/value table start", Explain::Placement;
        /// Any xattr fact: `xattr` itself when only one image has xattrs (and
        /// so this header), `xattr.sets` otherwise.
        count: 8, 4, Le32, "count", Explain::fact_named("xattr");
        unused: 12, 4, Le32, "unused", Explain::Nothing;
    }
}

structure! {
    /// An xattr id table entry: where a key/value set is, and its size.
    pub(crate) struct XattrIdEntry[16] {
        /// Where the set is: moves when sets before it change size.
        xref: 0, 8, Le64, "key/value reference", Explain::EntryOrPlacement(&[Key::Xattr]);
        count: 8, 4, Le32, "count", Explain::Entry(&[Key::Xattr]);
        size: 12, 4, Le32, "size", Explain::Entry(&[Key::Xattr]);
    }
}

structure! {
    /// A key of a key/value set, before its name (which `name_size` bytes
    /// follow). The accounting's field for the name runs on over the name,
    /// and is explained by the attribute it names.
    pub(crate) struct XattrKey[4] {
        /// The prefix in the low byte (0 `user.`, 1 `trusted.`, 2
        /// `security.`), and bit 0x100: the value is stored out of line, which
        /// depends on the other sets.
        kind: 0, 2, Le16, "type", Explain::EntryOrPlacement(&[Key::Xattr]);
        name_size: 2, 2, Le16, "name", Explain::Entry(&[Key::Xattr]);
    }
}

/// Bit of a key's type: its value is stored out of line.
const VALUE_OUT_OF_LINE: u16 = 0x100;

impl XattrKey<'_> {
    /// The prefix the key's name goes under, or the unknown prefix type.
    pub(crate) fn prefix(&self) -> Result<&'static str, u8> {
        match self.kind() & 0xff {
            0 => Ok("user."),
            1 => Ok("trusted."),
            2 => Ok("security."),
            other => Err(other as u8),
        }
    }

    /// Whether the value in place is an [`XattrValueRef`] to the value.
    pub(crate) fn out_of_line(&self) -> bool {
        self.kind() & VALUE_OUT_OF_LINE != 0
    }
}

structure! {
    /// A value's length, before the value. The accounting's field runs on
    /// over the value: a value that differs between two paired sets is only
    /// stored otherwise (see the byte layout).
    pub(crate) struct XattrValue[4] {
        size: 0, 4, Le32, "value", Explain::EntryOrPlacement(&[Key::Xattr]);
    }
}

structure! {
    /// The value in place of a value stored out of line: a reference
    /// (`block << 16 | offset`) to the [`XattrValue`] of an equal value.
    pub(crate) struct XattrValueRef[8] {
        reference: 0, 8, Le64, "value reference", Explain::EntryOrPlacement(&[Key::Xattr]);
    }
}

structure! {
    /// The header of a run of listing entries whose inodes share a metadata
    /// block: regrouped whenever inodes are renumbered.
    pub(crate) struct DirHeader[12] {
        /// Entries in the run, less one.
        count: 0, 4, Le32, "header count", CHILDREN;
        start: 4, 4, Le32, "header inode block", Explain::Placement;
        inode_base: 8, 4, Le32, "header inode number", Explain::Placement;
    }
}

structure! {
    /// A listing entry before its name.
    pub(crate) struct DirEntryHeader[8] {
        offset: 0, 2, Le16, "inode offset", Explain::Placement;
        /// The inode number less the header's, signed.
        inode_diff: 2, 2, Le16, "inode number", Explain::Placement;
        type_code: 4, 2, Le16, "type", CHILDREN;
        /// The name's length less one.
        name_size: 6, 2, Le16, "name size", CHILDREN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::structure::check_table;

    #[test]
    fn the_field_tables_cover_the_entries() {
        for (fields, len) in [
            (FragmentEntry::FIELDS, FragmentEntry::LEN),
            (IdEntry::FIELDS, IdEntry::LEN),
            (ExportEntry::FIELDS, ExportEntry::LEN),
            (XattrIdHeader::FIELDS, XattrIdHeader::LEN),
            (XattrIdEntry::FIELDS, XattrIdEntry::LEN),
            (XattrKey::FIELDS, XattrKey::LEN),
            (XattrValue::FIELDS, XattrValue::LEN),
            (XattrValueRef::FIELDS, XattrValueRef::LEN),
            (DirHeader::FIELDS, DirHeader::LEN),
            (DirEntryHeader::FIELDS, DirEntryHeader::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }
}
