//! Inodes: a 16-byte common header, then a body by type (basic types 1 to 7,
//! extended 8 to 14 with link counts, xattr indices and wider fields).

use super::metadata::{Cursor, Reader, Table};
use super::superblock::NONE32;
use crate::error::{Error, Result};
use crate::model::EntryKind;

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
        TYPE_NAMES
            .get(usize::from(self.type_code).wrapping_sub(1))
            .copied()
            .unwrap_or("unknown")
    }
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
    let type_code = c.u16()?;
    let mode = c.u16()?;
    let uid_index = c.u16()?;
    let gid_index = c.u16()?;
    let mtime = c.u32()?;
    let number = c.u32()?;
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
    let (nlink, xattr, body) = match (kind, extended) {
        (EntryKind::Dir, false) => {
            let block = c.u32()?;
            let nlink = c.u32()?;
            let file_size = u32::from(c.u16()?);
            let offset = c.u16()?;
            let parent = c.u32()?;
            let d = DirLayout {
                block,
                offset,
                file_size,
                parent,
                index_count: 0,
            };
            (nlink, None, Body::Dir(d))
        }
        (EntryKind::Dir, true) => {
            let nlink = c.u32()?;
            let file_size = c.u32()?;
            let block = c.u32()?;
            let parent = c.u32()?;
            let index_count = c.u16()?;
            let offset = c.u16()?;
            let xattr = c.u32()?;
            let d = DirLayout {
                block,
                offset,
                file_size,
                parent,
                index_count,
            };
            (nlink, xattr_of(xattr), Body::Dir(d))
        }
        (EntryKind::File, false) => {
            let blocks_start = u64::from(c.u32()?);
            let frag = c.u32()?;
            let frag_offset = c.u32()?;
            let size = u64::from(c.u32()?);
            let f = file_layout(&c, blocks_start, size, None, frag, frag_offset, block_size)
                .map_err(malformed)?;
            (1, None, Body::File(f))
        }
        (EntryKind::File, true) => {
            let blocks_start = c.u64()?;
            let size = c.u64()?;
            let sparse = c.u64()?;
            let nlink = c.u32()?;
            let frag = c.u32()?;
            let frag_offset = c.u32()?;
            let xattr = c.u32()?;
            let f = file_layout(
                &c,
                blocks_start,
                size,
                Some(sparse),
                frag,
                frag_offset,
                block_size,
            )
            .map_err(malformed)?;
            (nlink, xattr_of(xattr), Body::File(f))
        }
        (EntryKind::Symlink, _) => {
            let nlink = c.u32()?;
            let len = c.u32()?;
            if len > MAX_TARGET {
                return Err(malformed(format!(
                    "symlink target of {len} bytes (at most {MAX_TARGET})"
                )));
            }
            let mut target = Vec::with_capacity(len as usize);
            c.read_into(len as usize, &mut target)?;
            let xattr = if extended { xattr_of(c.u32()?) } else { None };
            (nlink, xattr, Body::Symlink(target))
        }
        (EntryKind::BlockDevice | EntryKind::CharDevice, _) => {
            let nlink = c.u32()?;
            let rdev = c.u32()?;
            let xattr = if extended { xattr_of(c.u32()?) } else { None };
            (nlink, xattr, Body::Device(rdev))
        }
        (EntryKind::Fifo | EntryKind::Socket, _) => {
            let nlink = c.u32()?;
            let xattr = if extended { xattr_of(c.u32()?) } else { None };
            (nlink, xattr, Body::Ipc)
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
