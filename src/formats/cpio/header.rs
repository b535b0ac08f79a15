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

/// Length of a newc/crc header.
pub(crate) const NEWC_LEN: usize = 110;
/// Length of an odc header.
pub(crate) const ODC_LEN: usize = 76;
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

    /// The format whose magic `b` starts with.
    pub(crate) fn detect(b: &[u8]) -> Option<CpioFormat> {
        match b.get(..6)? {
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

fn field(b: &[u8], at: usize, len: usize, radix: u32) -> Option<u64> {
    let s = b.get(at..at + len)?;
    s.iter().try_fold(0u64, |acc, &c| {
        let d = char::from(c).to_digit(radix)?;
        acc.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
    })
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
    let header_len = if format == CpioFormat::Odc {
        ODC_LEN
    } else {
        NEWC_LEN
    };
    let h = match buf.get(at..).and_then(|b| b.get(..header_len)) {
        Some(h) => h,
        None => {
            return Err(Error::OutOfBounds {
                structure: "cpio header",
                offset,
                end: offset + header_len as u64,
                len: base + buf.len() as u64,
            })
        }
    };
    let bad = |what: &str| {
        Error::malformed(
            "cpio header",
            offset,
            format!("{} field {what} is not a number", format.name()),
        )
    };
    let (dev, ino, mode, uid, gid, nlink, mtime, size, rdev, namesize, check);
    if format == CpioFormat::Odc {
        let f = |at: usize, len: usize, what: &str| field(h, at, len, 8).ok_or_else(|| bad(what));
        dev = split_dev(f(6, 6, "dev")?);
        ino = f(12, 6, "ino")?;
        mode = f(18, 6, "mode")?;
        uid = f(24, 6, "uid")?;
        gid = f(30, 6, "gid")?;
        nlink = f(36, 6, "nlink")?;
        rdev = split_dev(f(42, 6, "rdev")?);
        mtime = f(48, 11, "mtime")?;
        namesize = f(59, 6, "namesize")?;
        size = f(65, 11, "filesize")?;
        check = None;
    } else {
        let f = |i: usize, what: &str| field(h, 6 + 8 * i, 8, 16).ok_or_else(|| bad(what));
        ino = f(0, "ino")?;
        mode = f(1, "mode")?;
        uid = f(2, "uid")?;
        gid = f(3, "gid")?;
        nlink = f(4, "nlink")?;
        mtime = f(5, "mtime")?;
        size = f(6, "filesize")?;
        dev = (f(7, "devmajor")? as u32, f(8, "devminor")? as u32);
        rdev = (f(9, "rdevmajor")? as u32, f(10, "rdevminor")? as u32);
        namesize = f(11, "namesize")?;
        let c = f(12, "check")?;
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
