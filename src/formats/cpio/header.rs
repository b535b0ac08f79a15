//! cpio member headers: the "new" ASCII format (`070701`), the same with a
//! checksum (`070702`), and the portable "old" ASCII format (`070707`, odc).
//!
//! newc and crc headers are 110 bytes: the magic and thirteen 8-digit hex fields;
//! the name follows, NUL-terminated and padded so that the data starts on a
//! multiple of 4, and the data is padded to a multiple of 4 too (counted from the
//! start of the archive, as the kernel counts). odc headers are 76 bytes of octal
//! fields with no padding anywhere. The kernel's initramfs unpacker reads only
//! newc and crc; odc is read because `cpio -H odc` writes it.

use crate::error::{Error, Result};
use crate::model::key::Key;
use crate::model::span::Explain;
use crate::model::structure::{structure, Array, AsciiHex, AsciiOctal, NotANumber};

/// Explained by the entry's mode (which holds its type).
const MODE: Explain = Explain::Entry(&[Key::MODE, Key::TYPE]);
/// Explained by what the size encodes: the content, or a symlink's target.
const SIZE: Explain = Explain::Entry(&[Key::SIZE, Key::Content, Key::SYMLINK]);
/// Explained by the link count, or the children that make a directory's.
const NLINK: Explain = Explain::Entry(&[Key::NLINK, Key::Children]);

structure! {
    /// What every member header starts with: `070701` (newc), `070702`
    /// (crc) or `070707` (odc).
    pub(crate) struct Magic[6] {
        magic: 0, 6, Array<6>, "magic", Explain::Nothing;
    }
}

structure! {
    /// A newc (`070701`) or crc (`070702`) member header: thirteen 8-digit hex
    /// fields after the magic. Inode and device numbers are renumbered by any
    /// insertion (placement); the name's length follows from the name.
    pub(crate) struct NewcHeader[110] {
        /// [`Magic`].
        magic: 0, 6, Magic<'static>, "magic", Explain::Nothing;
        ino: 6, 8, AsciiHex, "ino", Explain::Placement;
        mode: 14, 8, AsciiHex, "mode", MODE;
        uid: 22, 8, AsciiHex, "uid", Explain::Entry(&[Key::UID]);
        gid: 30, 8, AsciiHex, "gid", Explain::Entry(&[Key::GID]);
        nlink: 38, 8, AsciiHex, "nlink", NLINK;
        mtime: 46, 8, AsciiHex, "mtime", Explain::Entry(&[Key::MTIME]);
        filesize: 54, 8, AsciiHex, "filesize", SIZE;
        devmajor: 62, 8, AsciiHex, "devmajor", Explain::Placement;
        devminor: 70, 8, AsciiHex, "devminor", Explain::Placement;
        rdevmajor: 78, 8, AsciiHex, "rdevmajor", Explain::Entry(&[Key::RDEV]);
        rdevminor: 86, 8, AsciiHex, "rdevminor", Explain::Entry(&[Key::RDEV]);
        namesize: 94, 8, AsciiHex, "namesize", Explain::Derived;
        /// The crc format's sum of the data bytes; zero in newc (where a
        /// change is a finding of its own: the accounting says so).
        check: 102, 8, AsciiHex, "check", Explain::Entry(&[Key::Content]);
    }
}

structure! {
    /// An odc (`070707`) member header: octal fields, device numbers in the
    /// 16-bit form GNU cpio writes.
    pub(crate) struct OdcHeader[76] {
        /// [`Magic`].
        magic: 0, 6, Magic<'static>, "magic", Explain::Nothing;
        dev: 6, 6, AsciiOctal, "dev", Explain::Placement;
        ino: 12, 6, AsciiOctal, "ino", Explain::Placement;
        mode: 18, 6, AsciiOctal, "mode", MODE;
        uid: 24, 6, AsciiOctal, "uid", Explain::Entry(&[Key::UID]);
        gid: 30, 6, AsciiOctal, "gid", Explain::Entry(&[Key::GID]);
        nlink: 36, 6, AsciiOctal, "nlink", NLINK;
        rdev: 42, 6, AsciiOctal, "rdev", Explain::Entry(&[Key::RDEV]);
        mtime: 48, 11, AsciiOctal, "mtime", Explain::Entry(&[Key::MTIME]);
        namesize: 59, 6, AsciiOctal, "namesize", Explain::Derived;
        filesize: 65, 11, AsciiOctal, "filesize", SIZE;
    }
}

/// The longest name or symlink target the kernel's unpacker accepts (`PATH_MAX`).
pub(crate) const MAX_NAME: u64 = 4096;

/// The header formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum CpioFormat {
    Newc,
    Crc,
    Odc,
}

impl CpioFormat {
    pub(crate) fn name(self) -> &'static str {
        match self {
            CpioFormat::Newc => "newc",
            CpioFormat::Crc => "crc",
            CpioFormat::Odc => "odc",
        }
    }

    /// The length of its header (without the name).
    pub(crate) fn header_len(self) -> usize {
        match self {
            CpioFormat::Odc => OdcHeader::LEN,
            _ => NewcHeader::LEN,
        }
    }

    /// The format whose magic `b` starts with.
    pub(crate) fn detect(b: &[u8]) -> Option<CpioFormat> {
        match &Magic::new(b)?.magic() {
            b"070701" => Some(CpioFormat::Newc),
            b"070702" => Some(CpioFormat::Crc),
            b"070707" => Some(CpioFormat::Odc),
            _ => None,
        }
    }
}

/// One member header, decoded, with where its name and data are in the buffer.
#[derive(Debug, Clone)]
pub(crate) struct Header<'b> {
    pub format: CpioFormat,
    pub dev: (u32, u32),
    pub ino: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u64,
    pub rdev: (u32, u32),
    /// The crc format's sum of the data bytes.
    pub check: Option<u32>,
    pub name: &'b [u8],
    /// Where the data starts, and its length.
    pub data_at: usize,
    pub data_len: usize,
    /// Where the next header starts.
    pub next: usize,
}

impl Header<'_> {
    /// True for the member that ends an archive.
    pub(crate) fn is_trailer(&self) -> bool {
        self.name == b"TRAILER!!!"
    }
}

/// Major and minor of an odc device number: the 16-bit form GNU cpio writes
/// (`major << 8 | minor`), decoded like glibc's `major()`/`minor()`.
fn split_dev(dev: u64) -> (u32, u32) {
    let dev = dev as u32;
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

/// Reads the header at `at` of `buf`. `structure` offsets in errors are `base +
/// at`, the header's place in the image (or in its decompressed segment).
pub(crate) fn parse(buf: &[u8], at: usize, base: u64) -> Result<Header<'_>> {
    let h = parse_fields(buf, at, base)?;
    // The data must be there; the padding after it may be cut (the trailer is
    // often the last bytes of an image, its padding not written).
    if h.data_len > 0 && h.data_at + h.data_len > buf.len() {
        return Err(Error::OutOfBounds {
            structure: "cpio member data",
            offset: base + h.data_at as u64,
            end: base + (h.data_at + h.data_len) as u64,
            len: base + buf.len() as u64,
        });
    }
    // Positions past the end (cut padding) become the end, so callers can slice.
    Ok(Header {
        data_at: h.data_at.min(buf.len()),
        next: h.next.min(buf.len()),
        ..h
    })
}

/// Whether `head` (perhaps only the first bytes of an image) starts with a cpio
/// header whose fields and name are sound; its data may lie beyond `head`.
pub(crate) fn starts_with_header(head: &[u8]) -> bool {
    parse_fields(head, 0, 0).is_ok()
}

/// [`parse`] without the check that the data is inside `buf`.
fn parse_fields(buf: &[u8], at: usize, base: u64) -> Result<Header<'_>> {
    let offset = base + at as u64;
    let Some(format) = buf.get(at..).and_then(CpioFormat::detect) else {
        return Err(Error::malformed(
            "cpio header",
            offset,
            "no cpio magic (070701, 070702 or 070707)",
        ));
    };
    let header_len = format.header_len();
    let h = buf.get(at..).unwrap_or_default();
    let out_of_bounds = || Error::OutOfBounds {
        structure: "cpio header",
        offset,
        end: offset + header_len as u64,
        len: base + buf.len() as u64,
    };
    let bad = |NotANumber(what)| {
        Error::malformed(
            "cpio header",
            offset,
            format!("{} field {what} is not a number", format.name()),
        )
    };
    let (dev, ino, mode, uid, gid, nlink, mtime, size, rdev, namesize, check);
    if format == CpioFormat::Odc {
        let h = OdcHeader::new(h).ok_or_else(out_of_bounds)?;
        dev = split_dev(h.dev().map_err(bad)?);
        ino = h.ino().map_err(bad)?;
        mode = h.mode().map_err(bad)?;
        uid = h.uid().map_err(bad)?;
        gid = h.gid().map_err(bad)?;
        nlink = h.nlink().map_err(bad)?;
        rdev = split_dev(h.rdev().map_err(bad)?);
        mtime = h.mtime().map_err(bad)?;
        namesize = h.namesize().map_err(bad)?;
        size = h.filesize().map_err(bad)?;
        check = None;
    } else {
        let h = NewcHeader::new(h).ok_or_else(out_of_bounds)?;
        ino = h.ino().map_err(bad)?;
        mode = h.mode().map_err(bad)?;
        uid = h.uid().map_err(bad)?;
        gid = h.gid().map_err(bad)?;
        nlink = h.nlink().map_err(bad)?;
        mtime = h.mtime().map_err(bad)?;
        size = h.filesize().map_err(bad)?;
        dev = (
            h.devmajor().map_err(bad)? as u32,
            h.devminor().map_err(bad)? as u32,
        );
        rdev = (
            h.rdevmajor().map_err(bad)? as u32,
            h.rdevminor().map_err(bad)? as u32,
        );
        namesize = h.namesize().map_err(bad)?;
        let c = h.check().map_err(bad)?;
        check = (format == CpioFormat::Crc).then_some(c as u32);
    }
    if namesize == 0 || namesize > MAX_NAME {
        return Err(Error::malformed(
            "cpio header",
            offset,
            format!("name size {namesize} (must be 1 to {MAX_NAME}, with the NUL)"),
        ));
    }
    let name_at = at + header_len;
    let name_end = name_at + namesize as usize;
    let name = match buf.get(name_at..name_end) {
        Some(n) => n,
        None => {
            return Err(Error::OutOfBounds {
                structure: "cpio member name",
                offset: base + name_at as u64,
                end: base + name_end as u64,
                len: base + buf.len() as u64,
            })
        }
    };
    let Some((&0, name)) = name.split_last() else {
        return Err(Error::malformed(
            "cpio member name",
            base + name_at as u64,
            "the name does not end with NUL",
        ));
    };
    let align = |p: usize| {
        if format == CpioFormat::Odc {
            Some(p)
        } else {
            p.checked_add(3).map(|p| p & !3)
        }
    };
    let data_at = align(name_end);
    let data_len = usize::try_from(size).ok();
    let data_end = data_at.zip(data_len).and_then(|(a, l)| a.checked_add(l));
    let next = data_end.and_then(align);
    let (Some(data_at), Some(data_len), Some(next)) = (data_at, data_len, next) else {
        return Err(Error::malformed(
            "cpio header",
            offset,
            format!("file size {size} is impossibly large"),
        ));
    };
    Ok(Header {
        format,
        dev,
        ino,
        mode: mode as u32,
        uid: uid as u32,
        gid: gid as u32,
        nlink: nlink as u32,
        mtime,
        rdev,
        check,
        name,
        data_at,
        data_len,
        next,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A newc (or crc) member at `at` (for the alignment) of an archive.
    pub(crate) fn newc(
        magic: &str,
        at: usize,
        name: &[u8],
        mode: u32,
        mtime: u32,
        data: &[u8],
    ) -> Vec<u8> {
        let check: u32 = if magic == "070702" {
            data.iter().map(|&b| u32::from(b)).sum()
        } else {
            0
        };
        let fields = [
            1,
            mode,
            0,
            0,
            1,
            mtime,
            data.len() as u32,
            0,
            0,
            0,
            0,
            name.len() as u32 + 1,
            check,
        ];
        let mut m = magic.as_bytes().to_vec();
        for f in fields {
            m.extend(format!("{f:08X}").as_bytes());
        }
        m.extend(name);
        m.push(0);
        while (at + m.len()) % 4 != 0 {
            m.push(0);
        }
        m.extend(data);
        while (at + m.len()) % 4 != 0 {
            m.push(0);
        }
        m
    }

    /// An odc member.
    pub(crate) fn odc(name: &[u8], mode: u32, mtime: u32, data: &[u8], rdev: u32) -> Vec<u8> {
        let mut m = format!(
            "070707{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:06o}{:011o}{:06o}{:011o}",
            0o1234,
            7,
            mode,
            0,
            0,
            1,
            rdev,
            mtime,
            name.len() + 1,
            data.len()
        )
        .into_bytes();
        m.extend(name);
        m.push(0);
        m.extend(data);
        m
    }

    #[test]
    fn newc_and_odc_headers() {
        let m = newc(
            "070701",
            0,
            b"etc/hostname",
            0o100644,
            1_700_000_000,
            b"box\n",
        );
        let h = parse(&m, 0, 0).unwrap();
        assert_eq!(h.format, CpioFormat::Newc);
        assert_eq!(h.name, b"etc/hostname");
        assert_eq!(h.mode, 0o100644);
        assert_eq!(h.mtime, 1_700_000_000);
        // 110 + 13 = 123, padded to 124.
        assert_eq!((h.data_at, h.data_len, h.next), (124, 4, 128));
        assert_eq!(h.check, None);

        let m = newc("070702", 0, b"x", 0o100600, 5, b"\x01\x02\xff");
        assert_eq!(parse(&m, 0, 0).unwrap().check, Some(0x102));

        let m = odc(b"dev/console", 0o020600, 9, b"", 5 << 8 | 1);
        let h = parse(&m, 0, 0).unwrap();
        assert_eq!(h.format, CpioFormat::Odc);
        assert_eq!(h.rdev, (5, 1));
        // 0o1234 = 0x29c: major 2, minor 0x9c.
        assert_eq!(h.dev, (2, 0x9c));
        assert_eq!(h.data_at, 76 + 12);
        assert_eq!(h.next, 76 + 12);
    }

    #[test]
    fn the_field_tables_cover_the_headers() {
        use crate::model::structure::check_table;
        assert_eq!(
            check_table(NewcHeader::FIELDS, NewcHeader::LEN as u64),
            Ok(())
        );
        assert_eq!(
            check_table(OdcHeader::FIELDS, OdcHeader::LEN as u64),
            Ok(())
        );
        assert_eq!(check_table(Magic::FIELDS, Magic::LEN as u64), Ok(()));
    }

    #[test]
    fn damage_is_an_error() {
        let m = newc("070701", 0, b"a", 0o100644, 0, b"data");
        for len in 0..m.len() - 3 {
            assert!(parse(&m[..len], 0, 0).is_err(), "length {len}");
        }
        let mut bad = m.clone();
        bad[20] = b'g';
        assert!(
            parse(&bad, 0, 0).is_err_and(|e| e.to_string().contains("field mode is not a number"))
        );
        let mut bad = m.clone();
        bad[94..102].copy_from_slice(b"00000000");
        assert!(parse(&bad, 0, 0).is_err());
        let mut bad = m.clone();
        bad[54..62].copy_from_slice(b"FFFFFFFF");
        assert!(parse(&bad, 0, 0).is_err());
        let mut bad = m;
        bad[111] = b'x';
        assert!(parse(&bad, 0, 0).is_err_and(|e| e.to_string().contains("NUL")));
    }
}
