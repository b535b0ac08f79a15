//! Raw ECMA-119 structures: both-endian numbers, the two date forms and the
//! directory record, each declared once with its field table.

use super::attrs::{
    RECORD_DATE, RECORD_EXT_ATTR_LENGTH, RECORD_FILE_UNIT_SIZE, RECORD_FLAGS,
    RECORD_INTERLEAVE_GAP, RECORD_VOLUME_SEQUENCE,
};
use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::model::span::{Explain, Key};
use crate::model::structure::{
    field_at, structure, Array, AsciiDecimal, Be16, Be32, Encoding, Le16, Le32, NotANumber, U8,
};
use crate::model::Value;
use crate::time::{Civil, Precision, Timestamp};

structure! {
    /// A both-endian 32-bit number (ECMA-119 7.3.3), read through [`Both32`].
    pub(crate) struct BothEndian32[8] {
        le: 0, 4, Le32, "little-endian copy", Explain::Nothing;
        be: 4, 4, Be32, "big-endian copy", Explain::Nothing;
    }
}

structure! {
    /// A both-endian 16-bit number (ECMA-119 7.2.3), read through [`Both16`].
    pub(crate) struct BothEndian16[4] {
        le: 0, 2, Le16, "little-endian copy", Explain::Nothing;
        be: 2, 2, Be16, "big-endian copy", Explain::Nothing;
    }
}

/// A both-endian 32-bit number as the encoding of a table's field.
pub(crate) struct Both32;
/// A both-endian 16-bit number as the encoding of a table's field.
pub(crate) struct Both16;

impl Encoding for Both32 {
    /// The little-endian copy, and whether the big-endian copy disagrees with it.
    type Value<'a> = (u32, bool);
    const WIDTH: Option<usize> = Some(BothEndian32::LEN);
    fn read(b: &[u8], _: &'static str) -> (u32, bool) {
        BothEndian32::new(b).map_or((0, false), |n| (n.le(), n.le() != n.be()))
    }
}

impl Encoding for Both16 {
    /// The little-endian copy, and whether the big-endian copy disagrees with it.
    type Value<'a> = (u16, bool);
    const WIDTH: Option<usize> = Some(BothEndian16::LEN);
    fn read(b: &[u8], _: &'static str) -> (u16, bool) {
        BothEndian16::new(b).map_or((0, false), |n| (n.le(), n.le() != n.be()))
    }
}

structure! {
    /// The fixed part of a directory record (ECMA-119 9.1), before its
    /// identifier; the explanations are those of the record's entry.
    pub(crate) struct RecordFixed[33] {
        length: 0, 1, U8, "length", Explain::Derived;
        ext_attr_len: 1, 1, U8, "extended attribute length",
            Explain::Entry(&[Key::Attribute(RECORD_EXT_ATTR_LENGTH)]);
        extent: 2, 8, Both32, "extent location", Explain::Placement;
        data_len: 10, 8, Both32, "data length",
            Explain::EntryOrPlacement(&[Key::SIZE, Key::Children, Key::Content]);
        date: 18, 7, RecordDate, "recording date",
            Explain::Entry(&[Key::MTIME, Key::Attribute(RECORD_DATE)]);
        flags: 25, 1, U8, "flags", Explain::Entry(&[Key::TYPE, Key::Attribute(RECORD_FLAGS)]);
        unit_size: 26, 1, U8, "file unit size",
            Explain::Entry(&[Key::Attribute(RECORD_FILE_UNIT_SIZE)]);
        interleave_gap: 27, 1, U8, "interleave gap",
            Explain::Entry(&[Key::Attribute(RECORD_INTERLEAVE_GAP)]);
        volume_sequence: 28, 4, Both16, "volume sequence number",
            Explain::Entry(&[Key::Attribute(RECORD_VOLUME_SEQUENCE)]);
        name_len: 32, 1, U8, "identifier length", Explain::Derived;
    }
}

/// Size of the fixed part of a directory record (before the name).
pub(crate) const RECORD_FIXED: usize = RecordFixed::LEN;

structure! {
    /// The fixed part of a path table record (ECMA-119 9.4), before the
    /// directory's identifier: its numbers are little-endian in a type L
    /// table, big-endian in a type M table.
    pub(crate) struct PathRecord[8] {
        name_len: 0, 1, U8, "identifier length", Explain::Derived;
        ext_attr_len: 1, 1, U8, "extended attribute length", Explain::Nothing;
        extent: 2, 4, Array<4>, "extent location", Explain::Placement;
        parent: 6, 2, Array<2>, "parent number", Explain::Placement;
    }
}

impl PathRecord<'_> {
    /// The directory's first block, in a type L table (`little`) or M.
    pub(crate) fn extent_in(&self, little: bool) -> u32 {
        if little {
            u32::from_le_bytes(self.extent())
        } else {
            u32::from_be_bytes(self.extent())
        }
    }
}

/// Directory record flag bits (ECMA-119 9.1.6).
pub(crate) mod flag {
    /// The entry is a directory.
    pub const DIRECTORY: u8 = 0x02;
    /// The entry is an associated file.
    pub const ASSOCIATED: u8 = 0x04;
    /// More records of the same file follow (multi-extent).
    pub const MULTI_EXTENT: u8 = 0x80;
}

/// Zone offset in quarter hours, as ECMA-119 stores it. Out-of-range values (genisoimage
/// writes -96 for dates past 2038) are read as UTC, as libarchive does; the raw value
/// is kept in the timestamp so that a difference in it still shows.
fn zone(raw: u8) -> (i32, Option<i16>) {
    let quarters = i16::from(raw as i8);
    let minutes = quarters * 15;
    if (-48..=52).contains(&quarters) {
        (i32::from(minutes), Some(minutes))
    } else {
        (0, Some(minutes))
    }
}

structure! {
    /// The 7-byte date of a directory record (ECMA-119 9.1.5), also a
    /// short-form TF stamp; read through [`RecordDate`].
    pub(crate) struct RecordStamp[7] {
        year: 0, 1, U8, "years since 1900", Explain::Nothing;
        month: 1, 1, U8, "month", Explain::Nothing;
        day: 2, 1, U8, "day", Explain::Nothing;
        hour: 3, 1, U8, "hour", Explain::Nothing;
        minute: 4, 1, U8, "minute", Explain::Nothing;
        second: 5, 1, U8, "second", Explain::Nothing;
        zone: 6, 1, U8, "zone", Explain::Nothing;
    }
}

structure! {
    /// The 17-byte date of a volume descriptor (ECMA-119 8.4.26.1), also a
    /// long-form TF stamp: sixteen digits and a zone; read through
    /// [`LongDate`].
    pub(crate) struct LongStamp[17] {
        year: 0, 4, AsciiDecimal, "year", Explain::Nothing;
        month: 4, 2, AsciiDecimal, "month", Explain::Nothing;
        day: 6, 2, AsciiDecimal, "day", Explain::Nothing;
        hour: 8, 2, AsciiDecimal, "hour", Explain::Nothing;
        minute: 10, 2, AsciiDecimal, "minute", Explain::Nothing;
        second: 12, 2, AsciiDecimal, "second", Explain::Nothing;
        hundredths: 14, 2, AsciiDecimal, "hundredths", Explain::Nothing;
        zone: 16, 1, U8, "zone", Explain::Nothing;
    }
}

/// Where a long date's digits end: its zone byte.
const LONG_ZONE_AT: usize = field_at(LongStamp::FIELDS, "zone") as usize;

/// A directory record's date as an encoding of a table's field ([`RecordStamp`]):
/// `Unset` when all bytes are zero, the raw bytes when a field is out of range.
pub(crate) struct RecordDate;
/// A volume descriptor's date as an encoding of a table's field ([`LongStamp`]):
/// `Unset` when the digits are all zero (the standard's "not specified"), the
/// raw bytes when they do not form a date.
pub(crate) struct LongDate;

impl Encoding for RecordDate {
    type Value<'a> = Value;
    const WIDTH: Option<usize> = Some(RecordStamp::LEN);
    fn read(b: &[u8], _: &'static str) -> Value {
        RecordStamp::new(b).map_or(Value::Unset, |s| s.value())
    }
}

impl Encoding for LongDate {
    type Value<'a> = Value;
    const WIDTH: Option<usize> = Some(LongStamp::LEN);
    fn read(b: &[u8], _: &'static str) -> Value {
        LongStamp::new(b).map_or(Value::Unset, |s| s.value())
    }
}

impl RecordStamp<'_> {
    fn value(&self) -> Value {
        let b = self.bytes();
        if b.iter().all(|&x| x == 0) {
            return Value::Unset;
        }
        let civil = Civil {
            year: 1900 + i64::from(self.year()),
            month: u32::from(self.month()),
            day: u32::from(self.day()),
            hour: u32::from(self.hour()),
            minute: u32::from(self.minute()),
            second: u32::from(self.second()),
        };
        let (offset, raw_offset) = zone(self.zone());
        match Timestamp::from_civil(civil, offset, 0, Precision::Seconds) {
            Some(mut t) => {
                t.offset_minutes = raw_offset;
                Value::Time(t)
            }
            None => Value::Bytes(b.to_vec()),
        }
    }
}

impl LongStamp<'_> {
    fn value(&self) -> Value {
        let b = self.bytes();
        if b[..LONG_ZONE_AT].iter().all(|&d| d == b'0' || d == 0) && self.zone() == 0 {
            return Value::Unset;
        }
        // Two digits are at most 99, four 9999: the conversions cannot fail.
        let num = |v: Result<u64, NotANumber>| v.ok().and_then(|v| u32::try_from(v).ok());
        let parsed = (|| {
            let civil = Civil {
                year: i64::from(num(self.year())?),
                month: num(self.month())?,
                day: num(self.day())?,
                hour: num(self.hour())?,
                minute: num(self.minute())?,
                second: num(self.second())?,
            };
            let (offset, raw_offset) = zone(self.zone());
            let hundredths = num(self.hundredths())?;
            let mut t = Timestamp::from_civil(
                civil,
                offset,
                hundredths * 10_000_000,
                Precision::Hundredths,
            )?;
            t.offset_minutes = raw_offset;
            Some(t)
        })();
        match parsed {
            Some(t) => Value::Time(t),
            None => Value::Bytes(b.to_vec()),
        }
    }
}

/// One directory record (ECMA-119 9.1), borrowed from the image: its fixed
/// part is read through [`RecordFixed`] when asked, never copied.
#[derive(Debug, Clone)]
pub(crate) struct DirRecord<'a> {
    /// Where the record starts in the image.
    pub offset: u64,
    /// The fixed part, before the identifier.
    pub fixed: RecordFixed<'a>,
    /// File identifier bytes, as stored (with `;1`).
    pub name: &'a [u8],
    /// The System Use area (SUSP entries).
    pub system_use: &'a [u8],
    /// Where the System Use area starts in the image.
    pub system_use_offset: u64,
}

impl<'a> DirRecord<'a> {
    /// Parses the record that `raw` holds exactly (its length byte included).
    pub(crate) fn parse(raw: &'a [u8], offset: u64) -> Result<DirRecord<'a>> {
        let len = raw.first().copied().unwrap_or(0);
        Self::parse_as(raw, offset, usize::from(len))
    }

    /// Reads and parses the record at `at` of `image`, as long as its length
    /// byte says: `first` names the length byte in an error, `record` the
    /// record.
    pub(crate) fn read(
        image: Bytes<'a>,
        at: u64,
        first: &'static str,
        record: &'static str,
    ) -> Result<DirRecord<'a>> {
        let [len] = *image.array(at, first)?;
        Self::parse(image.get(at, u64::from(len), record)?, at)
    }

    /// Parses the root directory record of a volume descriptor: the 34 bytes of
    /// `raw`, whatever its length byte says. Returns the record and, when the
    /// length byte is not 34, what it says.
    ///
    /// NetBSD's makefs writes 68 there (ECMA-119 9.1 and 8.4.18 make the field
    /// 34 bytes, the volume set identifier following it); libarchive and xorriso
    /// read such images, so this reader does too, reading only the 34 bytes the
    /// field has, and lets the caller say so. Only a record that is a root's
    /// (identifier one byte, 0x00) is read this way.
    pub(crate) fn parse_root(raw: &'a [u8], offset: u64) -> Result<(DirRecord<'a>, Option<u8>)> {
        let field = RECORD_FIXED + 1;
        if let Some(fixed) = RecordFixed::new(raw) {
            let declared = fixed.length();
            let a_root = fixed.name_len() == 1 && raw.get(RECORD_FIXED) == Some(&0);
            if usize::from(declared) > field && raw.len() == field && a_root {
                return Ok((Self::parse_as(raw, offset, field)?, Some(declared)));
            }
        }
        Ok((Self::parse(raw, offset)?, None))
    }

    /// Parses a record of `len` bytes at the start of `raw`.
    fn parse_as(raw: &'a [u8], offset: u64, len: usize) -> Result<DirRecord<'a>> {
        let fixed = RecordFixed::new(raw).filter(|_| len > RECORD_FIXED && len <= raw.len());
        let Some(fixed) = fixed else {
            return Err(Error::malformed(
                "directory record",
                offset,
                format!("record length {len} is impossible here"),
            ));
        };
        let name_len = usize::from(fixed.name_len());
        let name_end = RECORD_FIXED + name_len;
        if name_end > len {
            return Err(Error::malformed(
                "directory record",
                offset,
                format!("file identifier of {name_len} bytes overruns the {len}-byte record"),
            ));
        }
        // A pad byte follows an even-length identifier so the System Use area starts
        // on an even offset.
        let su_start = (name_end + usize::from(name_len % 2 == 0)).min(len);
        Ok(DirRecord {
            offset,
            fixed,
            name: raw.get(RECORD_FIXED..name_end).unwrap_or_default(),
            system_use: raw.get(su_start..len).unwrap_or_default(),
            system_use_offset: offset + su_start as u64,
        })
    }

    /// First logical block of the extent (the little-endian copy).
    pub(crate) fn extent(&self) -> u32 {
        self.fixed.extent().0
    }

    /// Length of the extent's data in bytes (the little-endian copy).
    pub(crate) fn data_len(&self) -> u32 {
        self.fixed.data_len().0
    }

    /// Volume sequence number (the little-endian copy).
    pub(crate) fn volume_sequence(&self) -> u16 {
        self.fixed.volume_sequence().0
    }

    /// File flags.
    pub(crate) fn flags(&self) -> u8 {
        self.fixed.flags()
    }

    /// Names of both-endian fields whose two copies disagree.
    pub(crate) fn endian_mismatches(&self) -> Vec<&'static str> {
        [
            ("extent", self.fixed.extent().1),
            ("data_length", self.fixed.data_len().1),
            ("volume_sequence_number", self.fixed.volume_sequence().1),
        ]
        .into_iter()
        .filter_map(|(name, bad)| bad.then_some(name))
        .collect()
    }

    /// True for the `.` record (identifier 0x00).
    pub(crate) fn is_self(&self) -> bool {
        self.name == [0]
    }

    /// True for the `..` record (identifier 0x01).
    pub(crate) fn is_parent(&self) -> bool {
        self.name == [1]
    }

    /// True when the directory flag is set.
    pub(crate) fn is_dir(&self) -> bool {
        self.flags() & flag::DIRECTORY != 0
    }
}

/// The ISO 9660 identifier without its `;version` and without the trailing dot that
/// marks an empty extension (`README.;1` is `README`).
pub(crate) fn strip_version(name: &[u8]) -> &[u8] {
    let name = match name.iter().rposition(|&c| c == b';') {
        Some(semi) if name[semi + 1..].iter().all(u8::is_ascii_digit) => &name[..semi],
        _ => name,
    };
    match name.strip_suffix(b".") {
        Some(stem) if !stem.is_empty() => stem,
        _ => name,
    }
}

/// Decodes a UCS-2/UTF-16 big-endian Joliet string into UTF-8 bytes (unpaired
/// surrogates become U+FFFD).
pub(crate) fn ucs2_to_utf8(b: &[u8]) -> Vec<u8> {
    let units = b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect::<String>()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as a writer would lay it out.
    pub(crate) fn record(name: &[u8], flags: u8, extent: u32, len: u32, su: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; RECORD_FIXED];
        r[2..6].copy_from_slice(&extent.to_le_bytes());
        r[6..10].copy_from_slice(&extent.to_be_bytes());
        r[10..14].copy_from_slice(&len.to_le_bytes());
        r[14..18].copy_from_slice(&len.to_be_bytes());
        r[18..25].copy_from_slice(&[124, 6, 2, 12, 30, 15, 8]);
        r[25] = flags;
        r[28..32].copy_from_slice(&[1, 0, 0, 1]);
        r[32] = name.len() as u8;
        r.extend_from_slice(name);
        if name.len() % 2 == 0 {
            r.push(0);
        }
        r.extend_from_slice(su);
        r[0] = r.len() as u8;
        r
    }

    #[test]
    fn the_fixed_part_is_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        assert_eq!(
            check_table(RecordFixed::FIELDS, RECORD_FIXED as u64),
            Ok(())
        );
        assert_eq!(check_table(RecordStamp::FIELDS, 7), Ok(()));
        assert_eq!(check_table(BothEndian32::FIELDS, 8), Ok(()));
        assert_eq!(check_table(BothEndian16::FIELDS, 4), Ok(()));
        assert_eq!(check_table(LongStamp::FIELDS, 17), Ok(()));
    }

    #[test]
    fn parses_a_record() {
        let raw = record(b"README.TXT;1", 0, 20, 1234, b"NM\x05\x01\x00");
        let rec = DirRecord::parse(&raw, 100).ok();
        let rec = rec.as_ref();
        assert_eq!(rec.map(|r| r.extent()), Some(20));
        assert_eq!(rec.map(|r| r.data_len()), Some(1234));
        assert_eq!(rec.map(|r| r.name), Some(&b"README.TXT;1"[..]));
        assert_eq!(rec.map(|r| r.system_use), Some(&b"NM\x05\x01\x00"[..]));
        assert_eq!(rec.map(|r| r.system_use_offset), Some(100 + 33 + 12 + 1));
        assert_eq!(rec.map(|r| r.endian_mismatches().is_empty()), Some(true));
    }

    #[test]
    fn a_root_record_longer_than_its_field_is_read_as_the_field() {
        let mut root = record(&[0], 0x02, 20, 2048, b"");
        assert_eq!(root.len(), 34);
        let parsed = DirRecord::parse_root(&root, 156).ok();
        assert_eq!(
            parsed.as_ref().map(|(r, l)| (r.extent(), *l)),
            Some((20, None))
        );
        // NetBSD makefs: 68.
        root[0] = 68;
        let parsed = DirRecord::parse_root(&root, 156).ok();
        assert_eq!(
            parsed
                .as_ref()
                .map(|(r, l)| (r.extent(), r.data_len(), r.system_use.len(), *l)),
            Some((20, 2048, 0, Some(68)))
        );
        assert!(DirRecord::parse(&root, 156).is_err());
        // Only a root's record (identifier 0x00) is read so.
        let mut other = record(b"A", 0x02, 20, 2048, b"");
        other[0] = 68;
        assert!(DirRecord::parse_root(&other, 156).is_err());
    }

    #[test]
    fn rejects_overlong_identifier() {
        let mut raw = record(b"A", 0, 0, 0, b"");
        raw[32] = 200;
        assert!(DirRecord::parse(&raw, 0).is_err());
        assert!(DirRecord::parse(&raw[..10], 0).is_err());
    }

    #[test]
    fn notices_endian_disagreement() {
        let mut raw = record(b"A", 0, 7, 0, b"");
        raw[9] = 8;
        let rec = DirRecord::parse(&raw, 0).ok();
        assert_eq!(rec.map(|r| r.endian_mismatches()), Some(vec!["extent"]));
    }

    #[test]
    fn record_dates_with_zones() {
        // 2024-06-02 12:30:15 at +02:00 is 10:30:15 UTC.
        let record_date = |b: &[u8]| RecordDate::read(b, "date");
        let v = record_date(&[124, 6, 2, 12, 30, 15, 8]);
        assert!(
            matches!(v, Value::Time(t) if t.rfc3339() == "2024-06-02T10:30:15Z" && t.offset_minutes == Some(120))
        );
        assert_eq!(record_date(&[0; 7]), Value::Unset);
        // genisoimage's -96 quarter hours past 2038: read as UTC, raw zone kept.
        let v = record_date(&[140, 1, 1, 0, 0, 0, (-96i8) as u8]);
        assert!(
            matches!(v, Value::Time(t) if t.rfc3339() == "2040-01-01T00:00:00Z" && t.offset_minutes == Some(-1440))
        );
        assert_eq!(
            record_date(&[80, 13, 1, 0, 0, 0, 0]),
            Value::Bytes(vec![80, 13, 1, 0, 0, 0, 0])
        );
    }

    #[test]
    fn long_dates() {
        let long_date = |b: &[u8]| LongDate::read(b, "date");
        let v = long_date(b"2024060212301525\x00");
        assert!(matches!(v, Value::Time(t) if t.rfc3339() == "2024-06-02T12:30:15.25Z"));
        assert_eq!(long_date(b"0000000000000000\x00"), Value::Unset);
        assert!(matches!(
            long_date(b"20240x0212301525\x00"),
            Value::Bytes(_)
        ));
    }

    #[test]
    fn names() {
        assert_eq!(strip_version(b"README.TXT;1"), b"README.TXT");
        assert_eq!(strip_version(b"README.;1"), b"README");
        assert_eq!(strip_version(b"DIR"), b"DIR");
        assert_eq!(strip_version(b"."), b".");
        assert_eq!(
            ucs2_to_utf8(&[0, b'a', 0x00, 0xe9, 0xd8, 0x3d, 0xde, 0x00]),
            "aé😀".as_bytes()
        );
    }
}
