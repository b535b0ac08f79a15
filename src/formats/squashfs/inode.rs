//! Inodes: a 16-byte common header, then a body by type (basic types 1 to 7,
//! extended 8 to 14 with link counts, xattr indices and wider fields).

use super::metadata::{Cursor, Reader, Table};
use super::superblock::NONE32;
use super::walk::INODE_TYPE;
use crate::error::{Error, Result};
use crate::model::key::Key;
use crate::model::span::Explain;
use crate::model::structure::{structure, Le16, Le32, Le64};
use crate::model::EntryKind;

/// A link count: explained by the entry's, or by the children that make a
/// directory's.
const NLINK: Explain = Explain::Entry(&[Key::NLINK, Key::Children]);
/// An index into the xattr id table: another index for the same set is a
/// renumbering.
const XATTR: Explain = Explain::EntryOrPlacement(&[Key::Xattr]);
/// A listing's length follows its headers, which regroup when the inodes are
/// renumbered; the listing itself is compared as an item of its own.
const LISTING_SIZE: Explain = Explain::EntryOrPlacement(&[Key::Children]);
/// A file's size: explained by the size or the content.
const SIZE: Explain = Explain::Entry(&[Key::SIZE, Key::Content]);

structure! {
    /// The 16 bytes every inode starts with.
    pub(crate) struct InodeHeader[16] {
        /// Basic and extended inodes of one kind: the shape follows from what
        /// the extended one holds (xattrs, links, a large size), reported as
        /// the attribute squashfs.inode_type unless one of those differs.
        type_code: 0, 2, Le16, "type", Explain::Entry(&[
            Key::TYPE,
            Key::Attribute(INODE_TYPE),
            Key::NLINK,
            Key::SIZE,
            Key::Xattr,
        ]);
        /// Permission bits as stored: mksquashfs stores `mode & 0o7777`.
        mode: 2, 2, Le16, "mode", Explain::Entry(&[Key::MODE]);
        /// An index into the id table: another index with the same uid is a
        /// renumbering (an id inserted before it), which the id table says.
        uid_index: 4, 2, Le16, "uid index", Explain::EntryOrPlacement(&[Key::UID]);
        gid_index: 6, 2, Le16, "gid index", Explain::EntryOrPlacement(&[Key::GID]);
        mtime: 8, 4, Le32, "mtime", Explain::Entry(&[Key::MTIME]);
        number: 12, 4, Le32, "inode number", Explain::Placement;
    }
}

structure! {
    /// The body of a basic directory (type 1), after the header.
    pub(crate) struct BasicDirBody[16] {
        block: 0, 4, Le32, "listing block", Explain::Placement;
        nlink: 4, 4, Le32, "link count", NLINK;
        listing_size: 8, 2, Le16, "listing size", LISTING_SIZE;
        offset: 10, 2, Le16, "listing offset", Explain::Placement;
        parent: 12, 4, Le32, "parent inode", Explain::Placement;
    }
}

structure! {
    /// The body of an extended directory (type 8); its directory index follows.
    pub(crate) struct ExtDirBody[24] {
        nlink: 0, 4, Le32, "link count", NLINK;
        listing_size: 4, 4, Le32, "listing size", LISTING_SIZE;
        block: 8, 4, Le32, "listing block", Explain::Placement;
        parent: 12, 4, Le32, "parent inode", Explain::Placement;
        index_count: 16, 2, Le16, "index count", Explain::EntryOrPlacement(&[Key::Children]);
        offset: 18, 2, Le16, "listing offset", Explain::Placement;
        xattr: 20, 4, Le32, "xattr index", XATTR;
    }
}

structure! {
    /// The body of a basic file (type 2); its block sizes follow.
    pub(crate) struct BasicFileBody[16] {
        blocks_start: 0, 4, Le32, "blocks start", Explain::Placement;
        fragment: 4, 4, Le32, "fragment index", Explain::Placement;
        fragment_offset: 8, 4, Le32, "fragment offset", Explain::Placement;
        size: 12, 4, Le32, "size", SIZE;
    }
}

structure! {
    /// The body of an extended file (type 9); its block sizes follow.
    pub(crate) struct ExtFileBody[40] {
        blocks_start: 0, 8, Le64, "blocks start", Explain::Placement;
        size: 8, 8, Le64, "size", SIZE;
        sparse: 16, 8, Le64, "sparse bytes", Explain::Entry(&[Key::Content]);
        nlink: 24, 4, Le32, "link count", NLINK;
        fragment: 28, 4, Le32, "fragment index", Explain::Placement;
        fragment_offset: 32, 4, Le32, "fragment offset", Explain::Placement;
        xattr: 36, 4, Le32, "xattr index", XATTR;
    }
}

structure! {
    /// The body of a symlink (types 3 and 10); the target follows, then, in
    /// the extended type, an [`XattrIndex`].
    pub(crate) struct SymlinkBody[8] {
        nlink: 0, 4, Le32, "link count", NLINK;
        target_len: 4, 4, Le32, "target length", Explain::Entry(&[Key::SYMLINK]);
    }
}

structure! {
    /// The body of a device (types 4, 5, 11, 12); then, in the extended types,
    /// an [`XattrIndex`].
    pub(crate) struct DeviceBody[8] {
        nlink: 0, 4, Le32, "link count", NLINK;
        rdev: 4, 4, Le32, "device number", Explain::Entry(&[Key::RDEV]);
    }
}

structure! {
    /// The body of a fifo or socket (types 6, 7, 13, 14); then, in the
    /// extended types, an [`XattrIndex`].
    pub(crate) struct IpcBody[4] {
        nlink: 0, 4, Le32, "link count", NLINK;
    }
}

structure! {
    /// The xattr index that ends an extended symlink, device, fifo or socket.
    pub(crate) struct XattrIndex[4] {
        xattr: 0, 4, Le32, "xattr index", XATTR;
    }
}

/// Most blocks one file may have: 4 Mi blocks is 16 GiB at 4 KiB blocks and 4 TiB
/// at 1 MiB. A damaged size could ask for 2^52 of them; the list is read only when
/// the content is asked for, but a cap keeps that bounded too.
pub(crate) const MAX_FILE_BLOCKS: u64 = 1 << 22;
/// Longest symlink target: the kernel refuses squashfs symlinks longer than a page,
/// and `symlink(2)` targets longer than `PATH_MAX`.
const MAX_TARGET: u32 = 4096;

/// The part of an inode every type has.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    /// The raw type, 1 to 14.
    pub type_code: u16,
    pub kind: EntryKind,
    /// Permission bits as stored: mksquashfs stores `mode & 0o7777`; readers mask
    /// whatever else a writer may have put there.
    pub mode: u16,
    pub uid_index: u16,
    pub gid_index: u16,
    pub mtime: u32,
    pub number: u32,
    pub nlink: u32,
    pub xattr: Option<u32>,
    pub body: Body,
}

/// What follows the header, by type.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Dir(DirLayout),
    File(FileLayout),
    Symlink(Vec<u8>),
    Device(u32),
    Ipc,
}

/// Where a directory's listing is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DirLayout {
    /// Block of the directory table, relative to its start.
    pub block: u32,
    pub offset: u16,
    /// The listing size plus 3 (squashfs counts `.` and `..` that it does not store).
    pub file_size: u32,
    pub parent: u32,
    /// Number of directory index entries (extended directories).
    pub index_count: u16,
}

/// Where a file's data is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileLayout {
    pub blocks_start: u64,
    pub size: u64,
    /// Bytes saved by sparse blocks (extended files only).
    pub sparse: Option<u64>,
    /// Fragment index and offset in the fragment block.
    pub fragment: Option<(u32, u32)>,
    pub block_count: u64,
    /// Where the list of block sizes starts: absolute block position and offset.
    pub sizes_at: (u64, usize),
}

impl Inode {
    /// `basic_file`, `extended_dir`, ...
    pub(crate) fn type_name(&self) -> &'static str {
        type_name(self.type_code)
    }
}

/// The name of an inode type code: `basic_file`, `extended_dir`, ...
pub(crate) fn type_name(type_code: u16) -> &'static str {
    TYPE_NAMES
        .get(usize::from(type_code).wrapping_sub(1))
        .copied()
        .unwrap_or("unknown")
}

const TYPE_NAMES: [&str; 14] = [
    "basic_dir",
    "basic_file",
    "basic_symlink",
    "basic_block_device",
    "basic_char_device",
    "basic_fifo",
    "basic_socket",
    "extended_dir",
    "extended_file",
    "extended_symlink",
    "extended_block_device",
    "extended_char_device",
    "extended_fifo",
    "extended_socket",
];

/// The kind of the basic type `code` (1 to 7), as directory entries carry it.
pub(crate) fn basic_kind(code: u16) -> Option<EntryKind> {
    Some(match code {
        1 => EntryKind::Dir,
        2 => EntryKind::File,
        3 => EntryKind::Symlink,
        4 => EntryKind::BlockDevice,
        5 => EntryKind::CharDevice,
        6 => EntryKind::Fifo,
        7 => EntryKind::Socket,
        _ => return None,
    })
}

/// Reads the inode at reference `iref` (`block << 16 | offset`) of the inode table.
pub(crate) fn read(reader: &Reader<'_>, table: Table, iref: u64, block_size: u32) -> Result<Inode> {
    let (block, offset) = (iref >> 16, (iref & 0xffff) as usize);
    let mut c = reader.cursor(table, block, offset)?;
    let start = c.position();
    let malformed = |reason: String| {
        Error::malformed(
            "inode",
            start.0,
            format!(
                "inode {iref:#x} (byte {} of its metadata block): {reason}",
                start.1
            ),
        )
    };
    let raw = c.array::<{ InodeHeader::LEN }>()?;
    let h = InodeHeader::from_array(&raw);
    let (type_code, mode, uid_index, gid_index, mtime, number) = (
        h.type_code(),
        h.mode(),
        h.uid_index(),
        h.gid_index(),
        h.mtime(),
        h.number(),
    );
    let basic = if type_code > 7 {
        type_code.wrapping_sub(7)
    } else {
        type_code
    };
    let kind = basic_kind(basic)
        .filter(|_| type_code <= 14)
        .ok_or_else(|| malformed(format!("unknown inode type {type_code}")))?;
    let extended = type_code > 7;
    let xattr_of = |x: u32| (x != NONE32).then_some(x);
    let xattr_tail = |c: &mut Cursor<'_, '_>| -> Result<Option<u32>> {
        if !extended {
            return Ok(None);
        }
        let raw = c.array::<{ XattrIndex::LEN }>()?;
        Ok(xattr_of(XattrIndex::from_array(&raw).xattr()))
    };
    let (nlink, xattr, body) = match (kind, extended) {
        (EntryKind::Dir, false) => {
            let raw = c.array::<{ BasicDirBody::LEN }>()?;
            let b = BasicDirBody::from_array(&raw);
            let d = DirLayout {
                block: b.block(),
                offset: b.offset(),
                file_size: u32::from(b.listing_size()),
                parent: b.parent(),
                index_count: 0,
            };
            (b.nlink(), None, Body::Dir(d))
        }
        (EntryKind::Dir, true) => {
            let raw = c.array::<{ ExtDirBody::LEN }>()?;
            let b = ExtDirBody::from_array(&raw);
            let d = DirLayout {
                block: b.block(),
                offset: b.offset(),
                file_size: b.listing_size(),
                parent: b.parent(),
                index_count: b.index_count(),
            };
            (b.nlink(), xattr_of(b.xattr()), Body::Dir(d))
        }
        (EntryKind::File, false) => {
            let raw = c.array::<{ BasicFileBody::LEN }>()?;
            let b = BasicFileBody::from_array(&raw);
            let f = file_layout(
                &c,
                u64::from(b.blocks_start()),
                u64::from(b.size()),
                None,
                b.fragment(),
                b.fragment_offset(),
                block_size,
            )
            .map_err(malformed)?;
            (1, None, Body::File(f))
        }
        (EntryKind::File, true) => {
            let raw = c.array::<{ ExtFileBody::LEN }>()?;
            let b = ExtFileBody::from_array(&raw);
            let f = file_layout(
                &c,
                b.blocks_start(),
                b.size(),
                Some(b.sparse()),
                b.fragment(),
                b.fragment_offset(),
                block_size,
            )
            .map_err(malformed)?;
            (b.nlink(), xattr_of(b.xattr()), Body::File(f))
        }
        (EntryKind::Symlink, _) => {
            let raw = c.array::<{ SymlinkBody::LEN }>()?;
            let b = SymlinkBody::from_array(&raw);
            let len = b.target_len();
            if len > MAX_TARGET {
                return Err(malformed(format!(
                    "symlink target of {len} bytes (at most {MAX_TARGET})"
                )));
            }
            let mut target = Vec::with_capacity(len as usize);
            c.read_into(len as usize, &mut target)?;
            (b.nlink(), xattr_tail(&mut c)?, Body::Symlink(target))
        }
        (EntryKind::BlockDevice | EntryKind::CharDevice, _) => {
            let raw = c.array::<{ DeviceBody::LEN }>()?;
            let b = DeviceBody::from_array(&raw);
            (b.nlink(), xattr_tail(&mut c)?, Body::Device(b.rdev()))
        }
        (EntryKind::Fifo | EntryKind::Socket, _) => {
            let raw = c.array::<{ IpcBody::LEN }>()?;
            let b = IpcBody::from_array(&raw);
            (b.nlink(), xattr_tail(&mut c)?, Body::Ipc)
        }
    };
    Ok(Inode {
        type_code,
        kind,
        mode,
        uid_index,
        gid_index,
        mtime,
        number,
        nlink,
        xattr,
        body,
    })
}

fn file_layout(
    c: &Cursor<'_, '_>,
    blocks_start: u64,
    size: u64,
    sparse: Option<u64>,
    frag: u32,
    frag_offset: u32,
    block_size: u32,
) -> std::result::Result<FileLayout, String> {
    let bs = u64::from(block_size);
    let fragment = (frag != NONE32).then_some((frag, frag_offset));
    // Without a fragment the tail has a (short) block of its own.
    let block_count = if fragment.is_some() {
        size / bs
    } else {
        size.div_ceil(bs)
    };
    if block_count > MAX_FILE_BLOCKS {
        return Err(format!(
            "file of {size} bytes needs {block_count} blocks (at most {MAX_FILE_BLOCKS} are read)"
        ));
    }
    if let Some((_, off)) = fragment {
        let tail = size - block_count * bs;
        if u64::from(off) + tail > bs {
            return Err(format!(
                "tail of {tail} bytes at offset {off} does not fit a fragment block of {bs}"
            ));
        }
    }
    Ok(FileLayout {
        blocks_start,
        size,
        sparse,
        fragment,
        block_count,
        sizes_at: c.position(),
    })
}

/// The `count` block size words of a file, starting at `at`.
pub(crate) fn block_sizes(
    reader: &Reader<'_>,
    table: Table,
    at: (u64, usize),
    count: u64,
) -> Result<Vec<u32>> {
    let rel =
        at.0.checked_sub(table.start)
            .ok_or_else(|| Error::malformed(table.name, at.0, "block list before its table"))?;
    let mut c = reader.cursor(table, rel, at.1)?;
    // Grows with what is actually read: `count` is capped, but still from the image.
    let mut sizes = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        sizes.push(c.u32()?);
    }
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::super::metadata::tests::plain_block;
    use super::*;
    use crate::bytes::Bytes;
    use crate::formats::squashfs::Compressor;

    fn header(type_code: u16, number: u32) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend(type_code.to_le_bytes());
        h.extend(0o4755u16.to_le_bytes());
        h.extend(0u16.to_le_bytes());
        h.extend(1u16.to_le_bytes());
        h.extend(1_000_000u32.to_le_bytes());
        h.extend(number.to_le_bytes());
        h
    }

    fn parse(body: &[u8]) -> Result<Inode> {
        let img = plain_block(body);
        let reader = Reader::new(Bytes::new(&img), Compressor::Gzip);
        let table = Table {
            start: 0,
            end: img.len() as u64,
            name: "inode table",
        };
        read(&reader, table, 0, 4096)
    }

    #[test]
    fn the_field_tables_cover_the_inodes() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (InodeHeader::FIELDS, InodeHeader::LEN),
            (BasicDirBody::FIELDS, BasicDirBody::LEN),
            (ExtDirBody::FIELDS, ExtDirBody::LEN),
            (BasicFileBody::FIELDS, BasicFileBody::LEN),
            (ExtFileBody::FIELDS, ExtFileBody::LEN),
            (SymlinkBody::FIELDS, SymlinkBody::LEN),
            (DeviceBody::FIELDS, DeviceBody::LEN),
            (IpcBody::FIELDS, IpcBody::LEN),
            (XattrIndex::FIELDS, XattrIndex::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    #[test]
    fn every_type() {
        // Basic file, 5000 bytes, fragment 3 at offset 100: one full block.
        let mut f = header(2, 7);
        for v in [96u32, 3, 100, 5000, 4096] {
            f.extend(v.to_le_bytes());
        }
        let i = parse(&f).unwrap();
        assert_eq!(
            (i.kind, i.nlink, i.number, i.mode, i.type_name()),
            (EntryKind::File, 1, 7, 0o4755, "basic_file")
        );
        match i.body {
            Body::File(l) => {
                assert_eq!(
                    (l.block_count, l.fragment, l.size, l.sizes_at),
                    (1, Some((3, 100)), 5000, (0, 32))
                );
            }
            other => panic!("{other:?}"),
        }

        // Extended file without fragment: 2 blocks, 2 links, xattr 5.
        let mut f = header(9, 8);
        f.extend(96u64.to_le_bytes());
        f.extend(5000u64.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        for v in [2u32, NONE32, 0, 5] {
            f.extend(v.to_le_bytes());
        }
        let i = parse(&f).unwrap();
        assert_eq!((i.nlink, i.xattr), (2, Some(5)));
        assert!(matches!(
            i.body,
            Body::File(FileLayout {
                block_count: 2,
                fragment: None,
                ..
            })
        ));

        // Extended symlink with xattr.
        let mut s = header(10, 9);
        s.extend(1u32.to_le_bytes());
        s.extend(3u32.to_le_bytes());
        s.extend(b"abc");
        s.extend(NONE32.to_le_bytes());
        let i = parse(&s).unwrap();
        assert!(matches!(&i.body, Body::Symlink(t) if t == b"abc"));
        assert_eq!(i.xattr, None);

        // Character device.
        let mut d = header(5, 10);
        d.extend(1u32.to_le_bytes());
        d.extend(0x0103u32.to_le_bytes());
        let i = parse(&d).unwrap();
        assert_eq!(i.kind, EntryKind::CharDevice);
        assert!(matches!(i.body, Body::Device(0x0103)));

        // Extended directory.
        let mut d = header(8, 11);
        for v in [3u32, 40, 0, 12] {
            d.extend(v.to_le_bytes());
        }
        d.extend(0u16.to_le_bytes());
        d.extend(16u16.to_le_bytes());
        d.extend(NONE32.to_le_bytes());
        let i = parse(&d).unwrap();
        assert!(matches!(
            i.body,
            Body::Dir(DirLayout {
                file_size: 40,
                offset: 16,
                parent: 12,
                ..
            })
        ));

        // Socket, basic.
        let mut p = header(7, 12);
        p.extend(1u32.to_le_bytes());
        assert_eq!(parse(&p).unwrap().kind, EntryKind::Socket);
    }

    #[test]
    fn damaged_inodes() {
        let mut bad = header(15, 1);
        bad.extend([0u8; 16]);
        let e = parse(&bad).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "inode at byte 0: inode 0x0 (byte 0 of its metadata block): unknown inode type 15"
            )
        );
        // Truncated body.
        let mut t = header(1, 1);
        t.extend([0u8; 4]);
        assert!(parse(&t).is_err());
        // Huge symlink.
        let mut s = header(3, 1);
        s.extend(1u32.to_le_bytes());
        s.extend(u32::MAX.to_le_bytes());
        assert!(parse(&s).is_err());
        // A file whose size would need too many blocks.
        let mut f = header(9, 8);
        f.extend(96u64.to_le_bytes());
        f.extend(u64::MAX.to_le_bytes());
        f.extend(0u64.to_le_bytes());
        for v in [1u32, NONE32, 0, NONE32] {
            f.extend(v.to_le_bytes());
        }
        assert!(parse(&f).is_err());
        // A fragment tail that cannot fit.
        let mut f = header(2, 7);
        for v in [96u32, 0, 4000, 200] {
            f.extend(v.to_le_bytes());
        }
        assert!(parse(&f).is_err());
    }
}
