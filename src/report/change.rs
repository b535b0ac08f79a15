//! The typed change behind each [`Difference`](super::Difference): what differs,
//! with the values of both sides as the formats store them (a time keeps its
//! precision and zone, a mode is a number, a digest is 32 bytes, a text diff is
//! hunks of lines).
//!
//! The diff engine and the byte accounting build these and never write report
//! text. Everything a report says in words is made here, at the edge, by the
//! rendering methods ([`Change::summary`], [`Change::detail_lines`],
//! [`Change::field`], [`Val::shown`] ...), which the renderers and the JSON
//! serialization share: the JSON report (version 1) is one rendering of these
//! types, its keys and values the same as when they were stored as text.
//!
//! ```no_run
//! use isodiff::report::{text, Change, EntryField, Val};
//! use isodiff::{diff_files, Options};
//!
//! let report = diff_files("a.iso".as_ref(), "b.iso".as_ref(), &Options::default())?;
//! for d in &report.differences {
//!     let at = text::location(&d.location);
//!     match &d.change {
//!         Change::Entry { field: EntryField::Mtime, a: Val::Time(a), b: Val::Time(b) } => {
//!             println!("{at}: mtime moved by {} s", b.secs - a.secs);
//!         }
//!         Change::Content(c) => {
//!             println!("{at}: {} bytes differ, the first at {:?}", c.differing_bytes, c.first_offset);
//!             for hunk in c.text_diff.iter().flat_map(|t| &t.hunks) {
//!                 for line in &hunk.lines {
//!                     println!("    {line}");
//!                 }
//!             }
//!         }
//!         _ => {
//!             let (a, b) = text::values(d);
//!             println!("{at}: {} {a} -> {b}", d.what());
//!         }
//!     }
//! }
//! # Ok::<(), isodiff::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::code::{CodeHeader, CodeRow, Disassembly};
use super::{Kind, Which};
use crate::model::{hex, EntryKind, Format};
use crate::time::Timestamp;

/// One side's value of a difference, typed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Val {
    /// Not there on this side: the format does not store it, or the entry, fact
    /// or group of facts is missing. Shown as `null` (JSON) or `(none)`.
    Absent,
    /// The format has a place for it, but it is unset (an all-zero ISO date).
    /// Shown like [`Val::Absent`].
    Unset,
    /// An unsigned number (an owner, a size, a count, a block address).
    Unsigned(u64),
    /// A signed number.
    Signed(i64),
    /// A flag.
    Bool(bool),
    /// Text, already decoded.
    Text(String),
    /// Raw bytes that are not text, shown in lower-case hex without a prefix.
    Bytes(Vec<u8>),
    /// A point in time, at the precision and with the zone the format stores.
    Time(Timestamp),
    /// Permission bits (with setuid, setgid and sticky), shown in octal (`0644`).
    Mode(u32),
    /// A device number.
    Device {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// The kind of an entry (`file`, `dir`, ...).
    Kind(EntryKind),
    /// A path as stored (a symbolic link's target), shown as text.
    Path(Vec<u8>),
    /// The format of an image.
    Format(Format),
    /// A group of facts (a Joliet descriptor, a GPT) that this side has.
    Present,
    /// A boot image that no directory lists.
    BootImage,
    /// Raw bytes shown as text when they are UTF-8 without NUL, else as `0x`
    /// and hex (an extended attribute's value).
    Raw(Vec<u8>),
    /// A SHA-256 digest (of a file's content), shown as `sha256:` and hex.
    Sha256([u8; 32]),
    /// The first bytes of a structure whose bytes differ.
    Excerpt(Excerpt),
    /// Where a structure is.
    Place(Place),
}

impl Val {
    /// The value as the reports show it.
    pub(crate) fn shown(&self) -> Shown<'_> {
        self.shown_with_zone(false)
    }

    /// The value as shown, a time with its zone when `zone` (see [`shown_pair`]).
    fn shown_with_zone(&self, zone: bool) -> Shown<'_> {
        match self {
            Val::Absent | Val::Unset => Shown::Null,
            Val::Unsigned(n) => Shown::Unsigned(*n),
            // As JSON numbers: the same number however it is stored.
            Val::Signed(n) => match u64::try_from(*n) {
                Ok(n) => Shown::Unsigned(n),
                Err(_) => Shown::Signed(*n),
            },
            Val::Bool(b) => Shown::Bool(*b),
            Val::Text(s) => Shown::Text(Cow::Borrowed(s)),
            Val::Bytes(b) => Shown::Text(Cow::Owned(hex(b))),
            Val::Time(t) if zone => Shown::Text(Cow::Owned(t.to_string())),
            Val::Time(t) => Shown::Text(Cow::Owned(t.rfc3339())),
            Val::Mode(m) => Shown::Text(Cow::Owned(format!("{m:04o}"))),
            Val::Device { major, minor } => Shown::Pair(*major, *minor),
            Val::Kind(k) => Shown::Text(Cow::Borrowed(k.name())),
            Val::Path(p) => Shown::Text(String::from_utf8_lossy(p)),
            Val::Format(f) => Shown::Text(Cow::Owned(f.to_string())),
            Val::Present => Shown::Text(Cow::Borrowed("present")),
            Val::BootImage => Shown::Text(Cow::Borrowed("boot image")),
            Val::Raw(v) => match std::str::from_utf8(v) {
                Ok(s) if !s.contains('\0') => Shown::Text(Cow::Borrowed(s)),
                _ => Shown::Text(Cow::Owned(format!("0x{}", hex(v)))),
            },
            Val::Sha256(d) => Shown::Text(Cow::Owned(format!("sha256:{}", hex(d)))),
            Val::Excerpt(e) => Shown::Text(Cow::Owned(e.to_string())),
            Val::Place(p) => Shown::Text(Cow::Owned(p.to_string())),
        }
    }

    /// True when the value is shown as `null`: absent or unset.
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Absent | Val::Unset)
    }

    /// An optional number: [`Val::Unsigned`], or [`Val::Absent`] for `None`.
    pub(crate) fn unsigned(n: Option<impl Into<u64>>) -> Val {
        n.map_or(Val::Absent, |n| Val::Unsigned(n.into()))
    }

    /// An optional time: [`Val::Time`], or [`Val::Absent`] for `None`.
    pub(crate) fn time(t: Option<Timestamp>) -> Val {
        t.map_or(Val::Absent, Val::Time)
    }

    /// The value with a time made what it shows: its instant at the precision
    /// printed, without its zone (unless `zone`). Two values that read the
    /// same (a FAT and an ISO time of the same second) are then equal.
    fn as_read(&self, zone: bool) -> Val {
        match self {
            Val::Unset => Val::Absent,
            Val::Time(t) => {
                let (secs, nanos) = t.shown_instant();
                Val::Time(Timestamp {
                    secs,
                    nanos,
                    offset_minutes: if zone { t.offset_minutes } else { None },
                    precision: t.precision.printed(),
                })
            }
            other => other.clone(),
        }
    }
}

impl From<&crate::model::Value> for Val {
    fn from(v: &crate::model::Value) -> Val {
        use crate::model::Value;
        match v {
            Value::Int(n) => Val::Unsigned(*n),
            Value::Signed(n) => Val::Signed(*n),
            Value::Bool(b) => Val::Bool(*b),
            Value::Text(s) => Val::Text(s.clone()),
            Value::Bytes(b) => Val::Bytes(b.clone()),
            Value::Time(t) => Val::Time(*t),
            Value::Unset => Val::Unset,
        }
    }
}

/// True when a pair of times is shown with their zones: they differ, but only
/// in their zone (at the precision printed, they are the same instant).
fn zoned(a: &Val, b: &Val) -> bool {
    matches!((a, b), (Val::Time(x), Val::Time(y)) if x != y && x.prints_as(y))
}

/// Both values of a difference as shown: like [`Val::shown`], but two times
/// that differ only in their zone are shown with it (`2024-06-02T00:00:00Z
/// (zone +60 min)`), so that the difference shows.
pub(crate) fn shown_pair<'v>(a: &'v Val, b: &'v Val) -> (Shown<'v>, Shown<'v>) {
    let zone = zoned(a, b);
    (a.shown_with_zone(zone), b.shown_with_zone(zone))
}

/// Both values as they read, for grouping changes that look the same (see
/// [`super::Report::repeated`]).
pub(crate) fn read_pair(a: &Val, b: &Val) -> (Val, Val) {
    let zone = zoned(a, b);
    (a.as_read(zone), b.as_read(zone))
}

/// True when two values are shown the same (an unset and an absent value, two
/// times equal at the precision printed): no difference to show.
pub(crate) fn shown_same(a: &Val, b: &Val) -> bool {
    a == b || a.shown() == b.shown()
}

/// A value as the reports show it: the JSON value (with [`Serialize`]) and its
/// text (with [`fmt::Display`]: `null` as `(none)`, an empty text as `""`;
/// not escaped, renderers escape it for their format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown<'a> {
    /// `null`.
    Null,
    /// A number.
    Unsigned(u64),
    /// A signed number.
    Signed(i64),
    /// A flag.
    Bool(bool),
    /// A string.
    Text(Cow<'a, str>),
    /// Two numbers (a device number), `[major,minor]`.
    Pair(u32, u32),
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Null => f.write_str("(none)"),
            Shown::Unsigned(n) => write!(f, "{n}"),
            Shown::Signed(n) => write!(f, "{n}"),
            Shown::Bool(b) => write!(f, "{b}"),
            Shown::Text(s) if s.is_empty() => f.write_str("\"\""),
            Shown::Text(s) => f.write_str(s),
            Shown::Pair(a, b) => write!(f, "[{a},{b}]"),
        }
    }
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Shown::Null => s.serialize_none(),
            Shown::Unsigned(n) => s.serialize_u64(*n),
            Shown::Signed(n) => s.serialize_i64(*n),
            Shown::Bool(b) => s.serialize_bool(*b),
            Shown::Text(t) => s.serialize_str(t),
            Shown::Pair(a, b) => [a, b].serialize(s),
        }
    }
}

/// Up to a few bytes of a structure, from its first differing byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Excerpt {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// True when the differing stretch goes on past them.
    pub more: bool,
}

impl fmt::Display for Excerpt {
    /// `0x` and hex, `...` when there is more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "0x{}{}",
            hex(&self.bytes),
            if self.more { "..." } else { "" }
        )
    }
}

/// Where a structure is in its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Place {
    /// Its first byte.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
}

impl fmt::Display for Place {
    /// `at 34816, 2048 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}, {} bytes", self.start, self.len)
    }
}

pub use crate::model::EntryField;

impl EntryField {
    /// The kind of difference this field's changes are.
    pub(crate) fn kind(self) -> Kind {
        match self {
            EntryField::Type => Kind::Type,
            EntryField::Mode => Kind::Mode,
            EntryField::Uid => Kind::Uid,
            EntryField::Gid => Kind::Gid,
            EntryField::Mtime => Kind::Mtime,
            EntryField::Atime => Kind::Atime,
            EntryField::Ctime => Kind::Ctime,
            EntryField::Nlink => Kind::Nlink,
            EntryField::Rdev => Kind::Rdev,
            EntryField::Symlink => Kind::Symlink,
            EntryField::Size => Kind::Size,
        }
    }
}

/// What is on one side only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Subject {
    /// An entry of this kind (a directory with everything below it).
    Entry(EntryKind),
    /// A boot image that no directory lists.
    BootImage,
}

impl Subject {
    /// The value it is shown as.
    pub(crate) fn val(self) -> Val {
        match self {
            Subject::Entry(k) => Val::Kind(k),
            Subject::BootImage => Val::BootImage,
        }
    }
}

/// What differs, with the values of both sides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Change {
    /// A field of an entry's metadata.
    Entry {
        /// Which field.
        field: EntryField,
        /// The value in the first image.
        a: Val,
        /// The value in the second image.
        b: Val,
    },
    /// An extended attribute of an entry (values: [`Val::Raw`] or
    /// [`Val::Absent`]).
    Xattr {
        /// Its name.
        name: Vec<u8>,
        /// The value in the first image.
        a: Val,
        /// The value in the second image.
        b: Val,
    },
    /// A format-specific field of an entry (record flags, names in another
    /// namespace, Rock Ridge stamps beyond the three times, an ELF build id).
    Attribute {
        /// Its dotted name (`rr.tf.creation`).
        name: Cow<'static, str>,
        /// The value in the first image.
        a: Val,
        /// The value in the second image.
        b: Val,
    },
    /// An image-level fact (volume descriptor, superblock, boot catalog ...).
    Image {
        /// Its dotted name (`superblock.mkfs_time`); a group of facts only one
        /// side has is named by the group (`joliet`, values [`Val::Present`]).
        name: Cow<'static, str>,
        /// The value in the first image.
        a: Val,
        /// The value in the second image.
        b: Val,
    },
    /// A file's content (or a part compared like one: a boot image, the system
    /// area).
    Content(Box<ContentChange>),
    /// Something on one side only: an entry with everything below it, or a
    /// boot image.
    OneSided {
        /// The side that has it: [`Which::B`] for added, [`Which::A`] for removed.
        side: Which,
        /// What it is.
        subject: Subject,
        /// For an entry: how many entries, itself included.
        entries: Option<u64>,
    },
    /// Bytes of a same-size image pair that no other difference explains (the
    /// byte accounting's finding).
    Bytes(Box<BytesChange>),
    /// Where the structures of two images of different sizes are.
    Layout(Box<LayoutChange>),
}

/// How two contents differ.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ContentChange {
    /// Length of the first side's content, in bytes.
    pub len_a: u64,
    /// Length of the second side's content.
    pub len_b: u64,
    /// Bytes that differ within the common length.
    pub differing_bytes: u64,
    /// Maximal runs of differing bytes within the common length.
    pub regions: u64,
    /// The first differing byte within the common length, if one does.
    pub first_offset: Option<u64>,
    /// SHA-256 of the first side's content.
    pub sha256_a: [u8; 32],
    /// SHA-256 of the second side's content.
    pub sha256_b: [u8; 32],
    /// For ELF files: where the first differing byte is.
    pub elf: Option<ElfPlace>,
    /// For PE files (EFI applications): where the first differing byte is, a
    /// section or `(headers)`.
    pub pe: Option<ElfPlace>,
    /// For compressed files: the compressor (`gzip`) whose decompressed
    /// content this is (offsets, digests and the diff are of it).
    pub decompressed: Option<&'static str>,
    /// For texts small enough: a unified diff of their lines.
    pub text_diff: Option<TextDiff>,
    /// For binary content (no text diff): the bytes of the first differing
    /// regions, both sides, with a little context.
    pub hexdump: Option<Hexdump>,
    /// For ELF and PE files: the instructions of the first differing regions
    /// of code, both sides.
    pub disassembly: Option<Disassembly>,
    /// Whether the detail (digests and text diff) is shown.
    pub detail: Detail,
    /// Only the digests (and lengths) are known: one side is a manifest, so
    /// no byte, region or offset can be said.
    pub digest_only: bool,
}

/// The bytes of the first differing regions of two contents, both sides,
/// bounded (a few regions, a few hundred bytes each).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Hexdump {
    /// The regions shown, in order of offset.
    pub regions: Vec<HexRegion>,
    /// Differing regions past the last one shown.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_regions: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One region of a [`Hexdump`]: the bytes of both sides from one offset (a
/// multiple of 16, as `xxd` rows start). Near the end of a content one side
/// may hold fewer bytes than the other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct HexRegion {
    /// The first byte shown, from the start of the content.
    pub offset: u64,
    /// The first side's bytes from `offset`.
    #[serde(serialize_with = "as_hex")]
    pub a: Vec<u8>,
    /// The second side's bytes from `offset`.
    #[serde(serialize_with = "as_hex")]
    pub b: Vec<u8>,
    /// True when the differing run goes on past the bytes shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut: bool,
}

fn as_hex<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// Bytes per row of a hexdump, as `xxd` writes them.
pub(crate) const HEX_ROW: usize = 16;

/// One row of a hexdump (16 bytes at most), as `xxd` writes it, in a unified
/// diff: `-00001000: 7f45 4c46 ...  .ELF....`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexRow<'a> {
    /// Whose row: `None` when both sides hold these bytes, [`Which::A`] for
    /// the first side's (a removed line), [`Which::B`] for the second's.
    pub side: Option<Which>,
    /// The offset of its first byte.
    pub offset: u64,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// The other side's bytes at the same offsets, to tell which differ.
    pub other: &'a [u8],
}

impl HexRow<'_> {
    /// True when byte `i` of the row differs from the other side's.
    pub(crate) fn differs(&self, i: usize) -> bool {
        self.bytes.get(i) != self.other.get(i)
    }

    /// Writes the row, each byte's text (two hex digits, then its character)
    /// passed through `byte` with whether it differs: the HTML report marks
    /// them so.
    pub(crate) fn write_with(&self, out: &mut String, byte: &dyn Fn(&mut String, &str, bool)) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        out.push(match self.side {
            None => ' ',
            Some(Which::A) => '-',
            Some(Which::B) => '+',
        });
        // Into the string itself, and each byte's text from a stack buffer:
        // a string allocated per byte made the rows of every renderer the
        // `members` fuzz target's most costly part.
        let _ = fmt::Write::write_fmt(out, format_args!("{:08x}:", self.offset));
        for i in 0..HEX_ROW {
            if i % 2 == 0 {
                out.push(' ');
            }
            match self.bytes.get(i) {
                Some(&b) => {
                    let text = [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]];
                    byte(
                        out,
                        std::str::from_utf8(&text).unwrap_or("??"),
                        self.differs(i),
                    );
                }
                None => out.push_str("  "),
            }
        }
        out.push_str("  ");
        for (i, &b) in self.bytes.iter().enumerate() {
            let c = if b.is_ascii_graphic() || b == b' ' {
                b
            } else {
                b'.'
            };
            let text = [c];
            byte(
                out,
                std::str::from_utf8(&text).unwrap_or("."),
                self.differs(i),
            );
        }
    }
}

impl fmt::Display for HexRow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_with(&mut s, &|out, text, _| out.push_str(text));
        f.write_str(&s)
    }
}

/// The header of a hexdump region: as a unified diff's hunk header over the
/// rows of `xxd` (row `n` is line `n + 1`, as diffoscope numbers them), then
/// the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexHeader {
    /// The first row, counted from 1.
    pub old_start: u64,
    /// Rows of the first side in the region.
    pub old_rows: u64,
    /// The first row of the second side.
    pub new_start: u64,
    /// Rows of the second side in the region.
    pub new_rows: u64,
    /// The first byte of the region.
    pub offset: u64,
}

impl fmt::Display for HexHeader {
    /// `@@ -257,3 +257,3 @@ offset 0x1000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = Hunk {
            old_start: self.old_start,
            old_lines: self.old_rows,
            new_start: self.new_start,
            new_lines: self.new_rows,
            lines: Vec::new(),
        };
        write!(f, "{h} offset {:#x}", self.offset)
    }
}

impl HexRegion {
    /// The region's header and its rows: a row both sides hold alike once,
    /// a differing row as the first side's then the second's, aligned.
    pub(crate) fn lines(&self) -> (HexHeader, Vec<HexRow<'_>>) {
        let rows = self.a.len().max(self.b.len()).div_ceil(HEX_ROW);
        fn row(v: &[u8], i: usize) -> &[u8] {
            let start = (i * HEX_ROW).min(v.len());
            &v[start..(start + HEX_ROW).min(v.len())]
        }
        let mut out = Vec::new();
        let (mut old_rows, mut new_rows) = (0u64, 0u64);
        for i in 0..rows {
            let (x, y) = (row(&self.a, i), row(&self.b, i));
            let offset = self.offset + (i * HEX_ROW) as u64;
            if x == y {
                out.push(HexRow {
                    side: None,
                    offset,
                    bytes: x,
                    other: y,
                });
                old_rows += 1;
                new_rows += 1;
                continue;
            }
            if !x.is_empty() {
                out.push(HexRow {
                    side: Some(Which::A),
                    offset,
                    bytes: x,
                    other: y,
                });
                old_rows += 1;
            }
            if !y.is_empty() {
                out.push(HexRow {
                    side: Some(Which::B),
                    offset,
                    bytes: y,
                    other: x,
                });
                new_rows += 1;
            }
        }
        let first = self.offset / HEX_ROW as u64;
        // An empty range starts at the line before it, as in `diff -u`.
        let start = |n: u64| first + u64::from(n > 0);
        let header = HexHeader {
            old_start: start(old_rows),
            old_rows,
            new_start: start(new_rows),
            new_rows,
            offset: self.offset,
        };
        (header, out)
    }
}

/// Whether a content difference's detail (its digests and text diff) is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Detail {
    /// Shown.
    Shown,
    /// Left out to keep the report within a size ([`super::limit::cap`]); when
    /// `noted`, a one-line note says so where it was.
    LeftOut {
        /// Whether the note is shown.
        noted: bool,
    },
}

/// Where in an ELF or PE file a byte is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ElfPlace {
    /// The name of the section holding it (`?` when it has none).
    pub section: String,
    /// Its offset from the start of the section.
    pub section_offset: u64,
    /// The symbol whose span holds it, in an allocated section, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<ElfSymbol>,
}

/// A symbol of an ELF file, and an offset into it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ElfSymbol {
    /// Its name (`?` when it has none).
    pub name: String,
    /// The offset from its address.
    pub offset: u64,
}

impl fmt::Display for ElfPlace {
    /// `section .text+0x76c6c, symbol main+0x1c`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "section {}+{:#x}", self.section, self.section_offset)?;
        if let Some(s) = &self.symbol {
            write!(f, ", symbol {}+{:#x}", s.name, s.offset)?;
        }
        Ok(())
    }
}

/// A unified diff of two texts, line by line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TextDiff {
    /// The hunks, in order.
    pub hunks: Vec<Hunk>,
    /// When the diff was cut to a number of lines (headers included), that
    /// number: the last hunk may then be incomplete.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_at_lines: Option<u64>,
}

/// One hunk of a unified diff. Its ranges are those of the header, as
/// `diff -u` writes them: a range of one line is its line number, an empty
/// range starts at the line before it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Hunk {
    /// First line in the first text.
    pub old_start: u64,
    /// Lines of the first text.
    pub old_lines: u64,
    /// First line in the second text.
    pub new_start: u64,
    /// Lines of the second text.
    pub new_lines: u64,
    /// Its lines.
    pub lines: Vec<Line>,
}

impl fmt::Display for Hunk {
    /// The header line, `@@ -4,7 +4,7 @@`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let range = |f: &mut fmt::Formatter<'_>, start: u64, len: u64| {
            if len == 1 {
                write!(f, "{start}")
            } else {
                write!(f, "{start},{len}")
            }
        };
        f.write_str("@@ -")?;
        range(f, self.old_start, self.old_lines)?;
        f.write_str(" +")?;
        range(f, self.new_start, self.new_lines)?;
        f.write_str(" @@")
    }
}

/// A line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Line {
    /// What the line is.
    pub op: LineOp,
    /// Its text, without its line end (`\n` or `\r\n`).
    pub text: String,
}

/// What a line of a hunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LineOp {
    /// In both texts.
    Context,
    /// Only in the first text.
    Removed,
    /// Only in the second text.
    Added,
    /// The line before it ends its text without a line end
    /// (`\ No newline at end of file`; its text is empty).
    NoNewline,
}

impl fmt::Display for Line {
    /// The line as a unified diff writes it: ` x`, `-x`, `+x`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            LineOp::Context => write!(f, " {}", self.text),
            LineOp::Removed => write!(f, "-{}", self.text),
            LineOp::Added => write!(f, "+{}", self.text),
            LineOp::NoNewline => f.write_str("\\ No newline at end of file"),
        }
    }
}

/// The note that replaces a detail left out by [`super::limit::cap`].
pub const DETAIL_CUT: &str = "[detail left out: --max-report-size reached]";

/// One line of a content difference's detail, typed: renderers style each
/// kind of line their way, and [`fmt::Display`] gives its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetailLine<'a> {
    /// The digest of one side's content, `sha256 a 5f3c...`.
    Digest(Which, &'a [u8; 32]),
    /// A hunk's header, `@@ -1,3 +1,4 @@`.
    Hunk(&'a Hunk),
    /// A line of a hunk.
    Line(&'a Line),
    /// The diff was cut at this many lines: `[diff cut at 400 lines]`.
    DiffCut(u64),
    /// The detail was left out: [`DETAIL_CUT`].
    LeftOut,
    /// The header of a hexdump region.
    HexHeader(HexHeader),
    /// A row of a hexdump region.
    HexRow(HexRow<'a>),
    /// A hexdump region was cut at its size limit.
    HexCut,
    /// More differing regions than shown: `[N more differing regions not shown]`.
    HexMore(u64),
    /// The header of a region of disassembled code.
    CodeHeader(CodeHeader<'a>),
    /// An instruction of a region of code.
    CodeRow(CodeRow<'a>),
    /// A side had more instructions over a region than are shown.
    CodeCut,
    /// More differing regions of code than shown.
    CodeMore(u64),
}

impl fmt::Display for DetailLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DetailLine::Digest(side, d) => write!(f, "sha256 {} {}", side.letter(), hex(*d)),
            DetailLine::Hunk(h) => write!(f, "{h}"),
            DetailLine::Line(l) => write!(f, "{l}"),
            DetailLine::DiffCut(n) => write!(f, "[diff cut at {n} lines]"),
            DetailLine::LeftOut => f.write_str(DETAIL_CUT),
            DetailLine::HexHeader(h) => write!(f, "{h}"),
            DetailLine::HexRow(r) => write!(f, "{r}"),
            DetailLine::HexCut => f.write_str("[region cut: --max-hexdump-bytes reached]"),
            DetailLine::HexMore(n) => write!(
                f,
                "[{n} more differing region{} not shown: --hexdump-regions]",
                plural(*n)
            ),
            DetailLine::CodeHeader(h) => write!(f, "{h}"),
            DetailLine::CodeRow(r) => write!(f, "{r}"),
            DetailLine::CodeCut => f.write_str("[instructions cut: the region is longer]"),
            DetailLine::CodeMore(n) => write!(
                f,
                "[{n} more differing region{} of code not disassembled: --disassembly-regions]",
                plural(*n)
            ),
        }
    }
}

impl DetailLine<'_> {
    /// True for the lines of a unified diff (hunk headers and hunk lines, and
    /// a hexdump's, which is a unified diff of `xxd` rows).
    pub(crate) fn is_diff(&self) -> bool {
        matches!(
            self,
            DetailLine::Hunk(_)
                | DetailLine::Line(_)
                | DetailLine::HexHeader(_)
                | DetailLine::HexRow(_)
                | DetailLine::CodeHeader(_)
                | DetailLine::CodeRow(_)
        )
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `20 bytes differ` / `1 byte differs`.
fn bytes_differ(n: u64) -> String {
    format!(
        "{n} byte{} differ{}",
        plural(n),
        if n == 1 { "s" } else { "" }
    )
}

impl ContentChange {
    /// One line: `20 bytes differ in 1 region from offset 410580 (section
    /// .text+0x76c6c)`, and how much longer one side is.
    pub fn summary(&self) -> String {
        if self.digest_only {
            // No byte can be placed: the lengths are said as the size.
            return "the digests differ (one side is a manifest: only its digest is known)"
                .to_owned();
        }
        let mut s = match self.first_offset {
            Some(first) => format!(
                "{} in {} region{} from offset {first}",
                bytes_differ(self.differing_bytes),
                self.regions,
                plural(self.regions),
            ),
            None => "no byte of the common length differs".to_owned(),
        };
        if self.len_a != self.len_b {
            let common = self.len_a.min(self.len_b);
            let (side, extra) = if self.len_a > self.len_b {
                ("a", self.len_a - common)
            } else {
                ("b", self.len_b - common)
            };
            s.push_str(&format!(
                "; {extra} more byte{} in {side} after offset {common}",
                plural(extra)
            ));
        }
        if let Some(place) = self.elf.as_ref().or(self.pe.as_ref()) {
            s.push_str(&format!(" ({place})"));
        }
        if let Some(c) = self.decompressed {
            s.push_str(&format!(" (decompressed {c})"));
        }
        s
    }

    /// The detail's lines: the digests, then the text diff; or the note that
    /// it was left out; none when it was left out without one.
    pub(crate) fn detail_lines(&self) -> Vec<DetailLine<'_>> {
        match self.detail {
            Detail::LeftOut { noted: true } => return vec![DetailLine::LeftOut],
            Detail::LeftOut { noted: false } => return Vec::new(),
            Detail::Shown => {}
        }
        let mut out = vec![
            DetailLine::Digest(Which::A, &self.sha256_a),
            DetailLine::Digest(Which::B, &self.sha256_b),
        ];
        if let Some(t) = &self.text_diff {
            for h in &t.hunks {
                out.push(DetailLine::Hunk(h));
                out.extend(h.lines.iter().map(DetailLine::Line));
            }
            if let Some(n) = t.cut_at_lines {
                out.push(DetailLine::DiffCut(n));
            }
        }
        if let Some(x) = &self.hexdump {
            for region in &x.regions {
                let (header, rows) = region.lines();
                out.push(DetailLine::HexHeader(header));
                out.extend(rows.into_iter().map(DetailLine::HexRow));
                if region.cut {
                    out.push(DetailLine::HexCut);
                }
            }
            if x.more_regions > 0 {
                out.push(DetailLine::HexMore(x.more_regions));
            }
        }
        if let Some(x) = &self.disassembly {
            for region in &x.regions {
                let (header, rows) = region.lines();
                out.push(DetailLine::CodeHeader(header));
                out.extend(rows.into_iter().map(DetailLine::CodeRow));
                if region.cut {
                    out.push(DetailLine::CodeCut);
                }
            }
            if x.more_regions > 0 {
                out.push(DetailLine::CodeMore(x.more_regions));
            }
        }
        out
    }

    /// The detail as one text (the JSON report's `detail`): its lines, each
    /// ended by a newline but the digests' last when there is no text diff.
    pub fn detail(&self) -> Option<String> {
        let lines = self.detail_lines();
        if lines.is_empty() {
            return None;
        }
        let mut s = lines
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let diff = self.text_diff.is_some() || self.hexdump.is_some() || self.disassembly.is_some();
        if self.detail == Detail::Shown && diff {
            s.push('\n');
        }
        Some(s)
    }
}

/// Raw bytes of a same-size image pair that no other difference explains.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BytesChange {
    /// A structure whose bytes are reported.
    Structure {
        /// The kind of structure (`data block`, `SUSP entry`).
        class: Cow<'static, str>,
        /// The structure (`SUSP entry ER of / (descriptor)`).
        name: String,
        /// Its first differing byte, from the start of the image.
        offset: u64,
        /// Bytes from `offset` to the last differing byte of the structure,
        /// inclusive.
        length: u64,
        /// How many of those bytes differ.
        differing_bytes: u64,
        /// What happened to it.
        how: Reported,
    },
    /// Bytes in no structure of either image (padding, a gap).
    Unclaimed {
        /// The gap, named by what is around it.
        name: String,
        /// Its first differing byte.
        offset: u64,
        /// Bytes from `offset` to its last differing byte, inclusive.
        length: u64,
        /// How many of those bytes differ.
        differing_bytes: u64,
        /// The first bytes of each side from `offset`.
        shown: [Excerpt; 2],
    },
    /// An item of a compressed table (a squashfs inode, a directory listing),
    /// compared decoded.
    Item {
        /// The table (`inode table`).
        table: Cow<'static, str>,
        /// The kind of item (`inode`).
        class: Cow<'static, str>,
        /// The item (`inode table: inode of /x`).
        name: String,
        /// What changed in it (`mode`, `only in a`).
        what: String,
        /// The compressed block that holds it, when known.
        block: Option<Block>,
    },
    /// More structures differ than one image pair reports; they are left out.
    LeftOut {
        /// How many were left out.
        structures: u64,
        /// How many are reported at most.
        max: u64,
    },
}

/// What happened to a structure whose bytes are reported.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reported {
    /// Its bytes changed, with nothing to explain them.
    Changed {
        /// What changed in it (its fields), empty when not told apart.
        what: String,
        /// The first bytes of each side from the first differing byte.
        shown: [Excerpt; 2],
        /// The other image's structure at the same offset, when it is another
        /// one: the side and its name.
        other: Option<(Which, String)>,
    },
    /// Only addresses and offsets changed, but nothing else in the image did.
    PlacementAlone {
        /// The first bytes of each side from the first differing byte.
        shown: [Excerpt; 2],
    },
    /// It moved with the same bytes, out of order with what precedes it.
    Moved {
        /// Where it is in the first image.
        offset_a: u64,
        /// Where it is in the second image.
        offset_b: u64,
    },
}

/// A compressed block of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Block {
    /// The image.
    pub side: Which,
    /// Its first byte.
    pub offset: u64,
    /// Its length in bytes.
    pub length: u64,
}

impl BytesChange {
    /// The structure, with what happened to it where that is part of its name
    /// (`inode table: inode of /x (mode)`, `... (placement)`).
    pub(crate) fn field(&self) -> Cow<'_, str> {
        match self {
            BytesChange::Structure { name, how, .. } => match how {
                Reported::Changed { what, .. } if !what.is_empty() => {
                    Cow::Owned(format!("{name} ({what})"))
                }
                Reported::PlacementAlone { .. } => Cow::Owned(format!("{name} (placement)")),
                _ => Cow::Borrowed(name),
            },
            BytesChange::Unclaimed { name, .. } => Cow::Borrowed(name),
            BytesChange::Item { name, what, .. } => Cow::Owned(format!("{name} ({what})")),
            BytesChange::LeftOut { .. } => Cow::Borrowed("more structures whose bytes differ"),
        }
    }

    /// The kind of structure, to group many of one kind (`data block`,
    /// `unclaimed`, `inode table: inode`, `more`).
    pub(crate) fn structure(&self) -> Cow<'_, str> {
        match self {
            BytesChange::Structure { class, .. } => Cow::Borrowed(class),
            BytesChange::Unclaimed { .. } => Cow::Borrowed("unclaimed"),
            BytesChange::Item { table, class, .. } => Cow::Owned(format!("{table}: {class}")),
            BytesChange::LeftOut { .. } => Cow::Borrowed("more"),
        }
    }

    /// Where: the first differing byte (for an item, its compressed block).
    pub(crate) fn offset(&self) -> Option<u64> {
        match self {
            BytesChange::Structure { offset, .. } | BytesChange::Unclaimed { offset, .. } => {
                Some(*offset)
            }
            BytesChange::Item { block, .. } => block.map(|b| b.offset),
            BytesChange::LeftOut { .. } => None,
        }
    }

    /// How many bytes from [`BytesChange::offset`].
    pub(crate) fn length(&self) -> Option<u64> {
        match self {
            BytesChange::Structure { length, .. } | BytesChange::Unclaimed { length, .. } => {
                Some(*length)
            }
            BytesChange::Item { block, .. } => block.map(|b| b.length),
            BytesChange::LeftOut { .. } => None,
        }
    }

    /// How many bytes differ, where counted.
    pub(crate) fn differing_bytes(&self) -> Option<u64> {
        match self {
            BytesChange::Structure {
                differing_bytes, ..
            }
            | BytesChange::Unclaimed {
                differing_bytes, ..
            } => Some(*differing_bytes),
            _ => None,
        }
    }

    /// The values of both sides: the first bytes, the offsets of a structure
    /// that moved, or nothing.
    pub(crate) fn values(&self) -> (Val, Val) {
        match self {
            BytesChange::Structure {
                how: Reported::Changed { shown, .. } | Reported::PlacementAlone { shown },
                ..
            }
            | BytesChange::Unclaimed { shown, .. } => (
                Val::Excerpt(shown[0].clone()),
                Val::Excerpt(shown[1].clone()),
            ),
            BytesChange::Structure {
                how: Reported::Moved { offset_a, offset_b },
                ..
            } => (Val::Unsigned(*offset_a), Val::Unsigned(*offset_b)),
            _ => (Val::Absent, Val::Absent),
        }
    }

    /// One line saying how the bytes differ.
    pub(crate) fn summary(&self) -> String {
        let count = |n: u64, first: u64| format!("{} from offset {first}", bytes_differ(n));
        match self {
            BytesChange::Structure {
                offset,
                differing_bytes: n,
                how,
                ..
            } => match how {
                Reported::Changed { other, .. } => {
                    let mut s = count(*n, *offset);
                    if let Some((side, other)) = other {
                        s.push_str(&format!("; in {}: {other}", side.letter()));
                    }
                    s
                }
                Reported::PlacementAlone { .. } => format!(
                    "{}; only addresses and offsets, but nothing else in this image differs",
                    count(*n, *offset)
                ),
                Reported::Moved { offset_a, offset_b } => format!(
                    "moved from offset {offset_a} to {offset_b} with the same bytes, out of order \
                     with what precedes it ({n} differing byte{} here)",
                    plural(*n)
                ),
            },
            BytesChange::Unclaimed {
                offset,
                differing_bytes,
                ..
            } => count(*differing_bytes, *offset),
            BytesChange::Item { table, block, .. } => format!(
                "decoded from the compressed {table} block{}",
                match block {
                    Some(b) => format!(" at offset {} of {}", b.offset, b.side.letter()),
                    None => String::new(),
                }
            ),
            BytesChange::LeftOut { structures, max } => {
                format!("{structures} more structures left out (at most {max} per image pair)")
            }
        }
    }
}

/// Where the structures of two images of different sizes are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayoutChange {
    /// The one structure of its kind on each side (a table) is elsewhere or of
    /// another size.
    Placed {
        /// The structure.
        name: String,
        /// Where it is in the first image.
        a: Place,
        /// Where it is in the second image.
        b: Place,
    },
    /// Structures of one kind (file extents) moved, changed size or are on one
    /// side only.
    Class {
        /// The kind of structure (`file extent`).
        class: Cow<'static, str>,
        /// How many the first image has.
        count_a: u64,
        /// How many the second image has.
        count_b: u64,
        /// What happened to them, in the order moved, changed size, only in a,
        /// only in b; each with a few examples.
        groups: Vec<LayoutGroup>,
    },
}

/// Structures of one kind that moved, changed size, or are on one side only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LayoutGroup {
    /// Moved: examples (name, start in a, start in b).
    Moved {
        /// How many.
        total: u64,
        /// A few of them.
        examples: Vec<(String, u64, u64)>,
    },
    /// Changed size: examples (name, length in a, length in b).
    Resized {
        /// How many.
        total: u64,
        /// A few of them.
        examples: Vec<(String, u64, u64)>,
    },
    /// Only in one image.
    OnlyIn {
        /// The image that has them.
        side: Which,
        /// How many.
        total: u64,
        /// A few of their names.
        examples: Vec<String>,
    },
}

impl fmt::Display for LayoutGroup {
    /// `2 moved (e.g. /a 100 -> 200, /b 300 -> 400, ...)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (total, what, examples): (u64, &str, Vec<String>) = match self {
            LayoutGroup::Moved { total, examples } => (
                *total,
                "moved",
                examples
                    .iter()
                    .map(|(n, x, y)| format!("{n} {x} -> {y}"))
                    .collect(),
            ),
            LayoutGroup::Resized { total, examples } => (
                *total,
                "changed size",
                examples
                    .iter()
                    .map(|(n, x, y)| format!("{n} {x} -> {y} bytes"))
                    .collect(),
            ),
            LayoutGroup::OnlyIn {
                side,
                total,
                examples,
            } => (
                *total,
                match side {
                    Which::A => "only in a",
                    Which::B => "only in b",
                },
                examples.clone(),
            ),
        };
        let more = if total > examples.len() as u64 {
            ", ..."
        } else {
            ""
        };
        write!(f, "{total} {what} (e.g. {}{more})", examples.join(", "))
    }
}

impl LayoutChange {
    /// The structure, or the kind of structure in the plural (`file extents`).
    pub(crate) fn field(&self) -> Cow<'_, str> {
        match self {
            LayoutChange::Placed { name, .. } => Cow::Borrowed(name),
            LayoutChange::Class { class, .. } => Cow::Owned(format!("{class}s")),
        }
    }

    /// The values of both sides: where the structure is, or how many of the
    /// kind there are.
    pub(crate) fn values(&self) -> (Val, Val) {
        match self {
            LayoutChange::Placed { a, b, .. } => (Val::Place(*a), Val::Place(*b)),
            LayoutChange::Class {
                count_a, count_b, ..
            } => (Val::Unsigned(*count_a), Val::Unsigned(*count_b)),
        }
    }

    /// What happened to the structures of a kind, in one line.
    pub(crate) fn summary(&self) -> Option<String> {
        match self {
            LayoutChange::Placed { .. } => None,
            LayoutChange::Class {
                count_a,
                count_b,
                groups,
                ..
            } => Some(format!(
                "{count_a} in a, {count_b} in b: {}",
                groups
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }
}

impl Change {
    /// The kind of difference.
    pub fn kind(&self) -> Kind {
        match self {
            Change::Entry { field, .. } => field.kind(),
            Change::Xattr { .. } => Kind::Xattr,
            Change::Attribute { .. } => Kind::Attribute,
            Change::Image { .. } => Kind::Image,
            Change::Content(_) => Kind::Content,
            Change::OneSided { side: Which::A, .. } => Kind::Removed,
            Change::OneSided { side: Which::B, .. } => Kind::Added,
            Change::Bytes(_) => Kind::Bytes,
            Change::Layout(_) => Kind::Layout,
        }
    }

    /// For `image`, `xattr`, `attribute`, `bytes` and `layout`: which field or
    /// structure.
    pub fn field(&self) -> Option<Cow<'_, str>> {
        match self {
            Change::Xattr { name, .. } => Some(String::from_utf8_lossy(name)),
            Change::Attribute { name, .. } | Change::Image { name, .. } => {
                Some(Cow::Borrowed(name))
            }
            Change::Bytes(b) => Some(b.field()),
            Change::Layout(l) => Some(l.field()),
            Change::Entry { .. } | Change::Content(_) | Change::OneSided { .. } => None,
        }
    }

    /// The values of both sides.
    pub fn values(&self) -> (Cow<'_, Val>, Cow<'_, Val>) {
        match self {
            Change::Entry { a, b, .. }
            | Change::Xattr { a, b, .. }
            | Change::Attribute { a, b, .. }
            | Change::Image { a, b, .. } => (Cow::Borrowed(a), Cow::Borrowed(b)),
            Change::Content(c) => (
                Cow::Owned(Val::Sha256(c.sha256_a)),
                Cow::Owned(Val::Sha256(c.sha256_b)),
            ),
            Change::OneSided { side, subject, .. } => match side {
                Which::A => (Cow::Owned(subject.val()), Cow::Owned(Val::Absent)),
                Which::B => (Cow::Owned(Val::Absent), Cow::Owned(subject.val())),
            },
            Change::Bytes(x) => {
                let (a, b) = x.values();
                (Cow::Owned(a), Cow::Owned(b))
            }
            Change::Layout(l) => {
                let (a, b) = l.values();
                (Cow::Owned(a), Cow::Owned(b))
            }
        }
    }

    /// For something on one side only: how many entries.
    pub(crate) fn entries(&self) -> Option<u64> {
        match self {
            Change::OneSided { entries, .. } => *entries,
            _ => None,
        }
    }

    /// One line saying how content, bytes or layout differ.
    pub fn summary(&self) -> Option<String> {
        match self {
            Change::Content(c) => Some(c.summary()),
            Change::Bytes(b) => Some(b.summary()),
            Change::Layout(l) => l.summary(),
            _ => None,
        }
    }

    /// The detail's lines (see [`ContentChange::detail_lines`]); none but for
    /// content.
    pub(crate) fn detail_lines(&self) -> Vec<DetailLine<'_>> {
        match self {
            Change::Content(c) => c.detail_lines(),
            _ => Vec::new(),
        }
    }

    /// The detail as one text (see [`ContentChange::detail`]).
    pub fn detail(&self) -> Option<String> {
        match self {
            Change::Content(c) => c.detail(),
            _ => None,
        }
    }

    /// For `bytes`: the kind of structure.
    pub(crate) fn structure(&self) -> Option<Cow<'_, str>> {
        match self {
            Change::Bytes(b) => Some(b.structure()),
            _ => None,
        }
    }

    /// For `bytes`: where the first differing byte is.
    pub(crate) fn offset(&self) -> Option<u64> {
        match self {
            Change::Bytes(b) => b.offset(),
            _ => None,
        }
    }

    /// For `bytes`: how many bytes from [`Change::offset`].
    pub(crate) fn length(&self) -> Option<u64> {
        match self {
            Change::Bytes(b) => b.length(),
            _ => None,
        }
    }
}

/// The JSON object of a difference (version 1 of the report): the keys it
/// always had, in their order, then the keys added with the typed change
/// (`differing_bytes`, `regions`, `first_offset`, `sha256`, `elf`, `text_diff`,
/// `hexdump`, `pe`, `decompressed`, `disassembly`).
pub(crate) fn serialize<S: Serializer>(d: &super::Difference, s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(None)?;
    m.serialize_entry("location", &super::LocationText(&d.location))?;
    m.serialize_entry("kind", &d.kind())?;
    let c = &d.change;
    if let Some(field) = c.field() {
        m.serialize_entry("field", &field)?;
    }
    let (a, b) = c.values();
    let (a, b) = shown_pair(&a, &b);
    m.serialize_entry("a", &a)?;
    m.serialize_entry("b", &b)?;
    if let Some(n) = c.entries() {
        m.serialize_entry("entries", &n)?;
    }
    if let Some(summary) = c.summary() {
        m.serialize_entry("summary", &summary)?;
    }
    if let Some(detail) = c.detail() {
        m.serialize_entry("detail", &detail)?;
    }
    if let Some(structure) = c.structure() {
        m.serialize_entry("structure", &structure)?;
    }
    if let Some(offset) = c.offset() {
        m.serialize_entry("offset", &offset)?;
    }
    if let Some(length) = c.length() {
        m.serialize_entry("length", &length)?;
    }
    m.serialize_entry("cause", &d.cause.map(|c| c.id))?;
    // Added with the typed change: what the summary and detail say, as data.
    match c {
        Change::Content(x) => {
            if x.digest_only {
                m.serialize_entry("digest_only", &true)?;
            }
            m.serialize_entry("differing_bytes", &x.differing_bytes)?;
            m.serialize_entry("regions", &x.regions)?;
            if let Some(first) = x.first_offset {
                m.serialize_entry("first_offset", &first)?;
            }
            #[derive(serde::Serialize)]
            struct Digests {
                a: String,
                b: String,
            }
            m.serialize_entry(
                "sha256",
                &Digests {
                    a: hex(&x.sha256_a),
                    b: hex(&x.sha256_b),
                },
            )?;
            if let Some(elf) = &x.elf {
                m.serialize_entry("elf", elf)?;
            }
            if let Some(pe) = &x.pe {
                m.serialize_entry("pe", pe)?;
            }
            if let Some(c) = x.decompressed {
                m.serialize_entry("decompressed", c)?;
            }
            if let (Some(t), Detail::Shown) = (&x.text_diff, x.detail) {
                m.serialize_entry("text_diff", t)?;
            }
            if let (Some(h), Detail::Shown) = (&x.hexdump, x.detail) {
                m.serialize_entry("hexdump", h)?;
            }
            if let (Some(d), Detail::Shown) = (&x.disassembly, x.detail) {
                m.serialize_entry("disassembly", d)?;
            }
        }
        Change::Bytes(x) => {
            if let Some(n) = x.differing_bytes() {
                m.serialize_entry("differing_bytes", &n)?;
            }
        }
        _ => {}
    }
    // Added with the roles readers declare: what kind of thing differs, when
    // it is not content, and whether it only follows from other differences.
    // (Entry fields say theirs by their kind.)
    let declared = matches!(c, Change::Image { .. } | Change::Attribute { .. });
    if declared && d.role != crate::model::Role::Content {
        m.serialize_entry("role", d.role.name())?;
    }
    if d.consequence {
        m.serialize_entry("consequence", &true)?;
    }
    m.end()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::report::{Difference, Subject};
    use crate::time::Precision;
    use serde_json::json;

    /// A content change with digests of `a` and `b`, a two-region difference
    /// and a one-hunk text diff.
    pub(crate) fn content() -> ContentChange {
        ContentChange {
            len_a: 14,
            len_b: 18,
            differing_bytes: 3,
            regions: 2,
            first_offset: Some(4),
            sha256_a: [0xaa; 32],
            sha256_b: [0xbb; 32],
            digest_only: false,
            elf: None,
            pe: None,
            decompressed: None,
            text_diff: Some(TextDiff {
                hunks: vec![Hunk {
                    old_start: 1,
                    old_lines: 2,
                    new_start: 1,
                    new_lines: 2,
                    lines: vec![
                        Line {
                            op: LineOp::Context,
                            text: "one".into(),
                        },
                        Line {
                            op: LineOp::Removed,
                            text: "two".into(),
                        },
                        Line {
                            op: LineOp::Added,
                            text: "2".into(),
                        },
                        Line {
                            op: LineOp::NoNewline,
                            text: String::new(),
                        },
                    ],
                }],
                cut_at_lines: Some(5),
            }),
            hexdump: None,
            disassembly: None,
            detail: Detail::Shown,
        }
    }

    fn loc(parts: &[&str]) -> crate::report::Location {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    fn excerpt(bytes: &[u8], more: bool) -> Excerpt {
        Excerpt {
            bytes: bytes.to_vec(),
            more,
        }
    }

    /// The keys added with the typed change; every other key must be as before.
    const ADDED: &[&str] = &[
        "differing_bytes",
        "regions",
        "first_offset",
        "sha256",
        "elf",
        "text_diff",
        "cause",
    ];

    /// The JSON of a difference without the keys added with the typed change.
    fn old_keys(d: &Difference) -> serde_json::Value {
        let mut v = serde_json::to_value(d).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !ADDED.contains(&k.as_str()));
        }
        v
    }

    #[test]
    fn every_variant_serializes_to_the_keys_and_values_of_version_1() {
        let t = |secs, offset, precision| Timestamp {
            secs,
            nanos: 250_000_000,
            offset_minutes: offset,
            precision,
        };
        let sq = loc(&["/s.sq"]);
        let at = loc(&["/s.sq", "/a"]);
        let kind = |k| Subject::Entry(k);
        let (hex_a, hex_b) = ("aa".repeat(32), "bb".repeat(32));
        let mut elf = content();
        elf.text_diff = None;
        elf.first_offset = Some(4096);
        elf.elf = Some(ElfPlace {
            section: ".text".into(),
            section_offset: 0x76c6c,
            symbol: Some(ElfSymbol {
                name: "main".into(),
                offset: 0x1c,
            }),
        });
        let mut cut = content();
        cut.detail = Detail::LeftOut { noted: true };
        let mut dropped = content();
        dropped.detail = Detail::LeftOut { noted: false };
        let structure = |how| BytesChange::Structure {
            class: "SUSP entry".into(),
            name: "SUSP entry ER of / (descriptor)".into(),
            offset: 40000,
            length: 20,
            differing_bytes: 2,
            how,
        };
        let shown = || [excerpt(&[0x54; 16], true), excerpt(&[0x74; 16], true)];
        let table: Vec<(Difference, serde_json::Value)> = vec![
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o4755),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "mode", "a": "0644", "b": "4755"}),
            ),
            (
                Difference::entry(at.clone(), EntryField::Uid, Val::Absent, Val::Unsigned(0)),
                json!({"location": ["/s.sq", "/a"], "kind": "uid", "a": null, "b": 0}),
            ),
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Mtime,
                    Val::Time(Timestamp::from_unix(315_532_800)),
                    Val::Time(Timestamp::from_unix(1)),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "mtime",
                       "a": "1980-01-01T00:00:00Z", "b": "1970-01-01T00:00:01Z"}),
            ),
            (
                // Only the zone differs: both shown with their zones.
                Difference::entry(
                    at.clone(),
                    EntryField::Ctime,
                    Val::Time(t(0, Some(0), Precision::Hundredths)),
                    Val::Time(t(0, Some(60), Precision::Hundredths)),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "ctime",
                       "a": "1970-01-01T00:00:00.25Z",
                       "b": "1970-01-01T00:00:00.25Z (zone +60 min)"}),
            ),
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Rdev,
                    Val::Device { major: 1, minor: 3 },
                    Val::Absent,
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "rdev", "a": [1, 3], "b": null}),
            ),
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Symlink,
                    Val::Path(b"target-\xffa".to_vec()),
                    Val::Path(b"target-b".to_vec()),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "symlink",
                       "a": "target-\u{fffd}a", "b": "target-b"}),
            ),
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Type,
                    Val::Kind(EntryKind::Dir),
                    Val::Kind(EntryKind::CharDevice),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "type", "a": "dir", "b": "char"}),
            ),
            (
                Difference::entry(
                    at.clone(),
                    EntryField::Size,
                    Val::Unsigned(17),
                    Val::Unsigned(23),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "size", "a": 17, "b": 23}),
            ),
            (
                Difference::xattr(
                    at.clone(),
                    b"user.x".to_vec(),
                    Some(b"hello".to_vec()),
                    Some(vec![0, 0xff]),
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "xattr", "field": "user.x",
                       "a": "hello", "b": "0x00ff"}),
            ),
            (
                Difference::xattr(at.clone(), b"user.y".to_vec(), None, Some(Vec::new())),
                json!({"location": ["/s.sq", "/a"], "kind": "xattr", "field": "user.y",
                       "a": null, "b": ""}),
            ),
            (
                Difference::attribute(
                    at.clone(),
                    "rr.tf.creation",
                    Val::Time(t(86_400, None, Precision::Hundredths)),
                    Val::Unset,
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "attribute", "field": "rr.tf.creation",
                       "a": "1970-01-02T00:00:00.25Z", "b": null}),
            ),
            (
                Difference::attribute(
                    at.clone(),
                    "elf.build_id",
                    Val::Bytes(vec![0xde, 0xad]),
                    Val::Absent,
                ),
                json!({"location": ["/s.sq", "/a"], "kind": "attribute", "field": "elf.build_id",
                       "a": "dead", "b": null}),
            ),
            (
                Difference::image_fact(Vec::new(), "joliet", Val::Present, Val::Absent),
                json!({"location": [], "kind": "image", "field": "joliet", "a": "present", "b": null}),
            ),
            (
                Difference::image_fact(
                    Vec::new(),
                    "format",
                    Val::Format(Format::Iso9660),
                    Val::Format(Format::Squashfs),
                ),
                json!({"location": [], "kind": "image", "field": "format",
                       "a": "ISO 9660", "b": "squashfs"}),
            ),
            (
                Difference::image_fact(
                    sq.clone(),
                    "pvd.volume_id",
                    Val::Text("NIXOS".into()),
                    Val::Text(String::new()),
                ),
                json!({"location": ["/s.sq"], "kind": "image", "field": "pvd.volume_id",
                       "a": "NIXOS", "b": ""}),
            ),
            (
                Difference::image_fact(sq.clone(), "x.flags", Val::Bool(true), Val::Signed(-2)),
                json!({"location": ["/s.sq"], "kind": "image", "field": "x.flags",
                       "a": true, "b": -2}),
            ),
            (
                Difference::content(at.clone(), content()),
                json!({"location": ["/s.sq", "/a"], "kind": "content",
                       "a": format!("sha256:{hex_a}"), "b": format!("sha256:{hex_b}"),
                       "summary": "3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14",
                       "detail": format!("sha256 a {hex_a}\nsha256 b {hex_b}\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n\\ No newline at end of file\n[diff cut at 5 lines]\n")}),
            ),
            (
                Difference::content(at.clone(), elf),
                json!({"location": ["/s.sq", "/a"], "kind": "content",
                       "a": format!("sha256:{hex_a}"), "b": format!("sha256:{hex_b}"),
                       "summary": "3 bytes differ in 2 regions from offset 4096; 4 more bytes in b after offset 14 (section .text+0x76c6c, symbol main+0x1c)",
                       "detail": format!("sha256 a {hex_a}\nsha256 b {hex_b}")}),
            ),
            (
                Difference::content(at.clone(), cut),
                json!({"location": ["/s.sq", "/a"], "kind": "content",
                       "a": format!("sha256:{hex_a}"), "b": format!("sha256:{hex_b}"),
                       "summary": "3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14",
                       "detail": DETAIL_CUT}),
            ),
            (
                Difference::content(at.clone(), dropped),
                json!({"location": ["/s.sq", "/a"], "kind": "content",
                       "a": format!("sha256:{hex_a}"), "b": format!("sha256:{hex_b}"),
                       "summary": "3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14"}),
            ),
            (
                Difference::one_sided(at.clone(), Which::B, kind(EntryKind::Dir), Some(3)),
                json!({"location": ["/s.sq", "/a"], "kind": "added", "a": null, "b": "dir", "entries": 3}),
            ),
            (
                Difference::one_sided(at.clone(), Which::A, kind(EntryKind::File), Some(1)),
                json!({"location": ["/s.sq", "/a"], "kind": "removed", "a": "file", "b": null, "entries": 1}),
            ),
            (
                Difference::one_sided(
                    loc(&["el-torito:2 (UEFI)"]),
                    Which::A,
                    Subject::BootImage,
                    None,
                ),
                json!({"location": ["el-torito:2 (UEFI)"], "kind": "removed", "a": "boot image", "b": null}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    structure(Reported::Changed {
                        what: String::new(),
                        shown: shown(),
                        other: None,
                    }),
                ),
                json!({"location": [], "kind": "bytes", "field": "SUSP entry ER of / (descriptor)",
                       "a": format!("0x{}...", "54".repeat(16)), "b": format!("0x{}...", "74".repeat(16)),
                       "summary": "2 bytes differ from offset 40000", "structure": "SUSP entry",
                       "offset": 40000, "length": 20}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    structure(Reported::Changed {
                        what: "ext_len".into(),
                        shown: [excerpt(&[1], false), excerpt(&[2], false)],
                        other: Some((Which::B, "directory record of /x".into())),
                    }),
                ),
                json!({"location": [], "kind": "bytes", "field": "SUSP entry ER of / (descriptor) (ext_len)",
                       "a": "0x01", "b": "0x02",
                       "summary": "2 bytes differ from offset 40000; in b: directory record of /x",
                       "structure": "SUSP entry", "offset": 40000, "length": 20}),
            ),
            (
                Difference::bytes(
                    sq.clone(),
                    structure(Reported::PlacementAlone { shown: shown() }),
                ),
                json!({"location": ["/s.sq"], "kind": "bytes", "field": "SUSP entry ER of / (descriptor) (placement)",
                       "a": format!("0x{}...", "54".repeat(16)), "b": format!("0x{}...", "74".repeat(16)),
                       "summary": "2 bytes differ from offset 40000; only addresses and offsets, but nothing else in this image differs",
                       "structure": "SUSP entry", "offset": 40000, "length": 20}),
            ),
            (
                Difference::bytes(
                    sq.clone(),
                    BytesChange::Structure {
                        class: "data block".into(),
                        name: "data block 0 of /d/f5".into(),
                        offset: 96,
                        length: 131072,
                        differing_bytes: 1,
                        how: Reported::Moved {
                            offset_a: 96,
                            offset_b: 131168,
                        },
                    },
                ),
                json!({"location": ["/s.sq"], "kind": "bytes", "field": "data block 0 of /d/f5",
                       "a": 96, "b": 131168,
                       "summary": "moved from offset 96 to 131168 with the same bytes, out of order with what precedes it (1 differing byte here)",
                       "structure": "data block", "offset": 96, "length": 131072}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    BytesChange::Unclaimed {
                        name: "unclaimed bytes after extent of /f".into(),
                        offset: 9000,
                        length: 1,
                        differing_bytes: 1,
                        shown: [excerpt(&[0], false), excerpt(&[0x33], false)],
                    },
                ),
                json!({"location": [], "kind": "bytes", "field": "unclaimed bytes after extent of /f",
                       "a": "0x00", "b": "0x33", "summary": "1 byte differs from offset 9000",
                       "structure": "unclaimed", "offset": 9000, "length": 1}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    BytesChange::Item {
                        table: "id table".into(),
                        class: "id".into(),
                        name: "id table: id 7".into(),
                        what: "only in a".into(),
                        block: Some(Block {
                            side: Which::A,
                            offset: 300,
                            length: 10,
                        }),
                    },
                ),
                json!({"location": [], "kind": "bytes", "field": "id table: id 7 (only in a)",
                       "a": null, "b": null,
                       "summary": "decoded from the compressed id table block at offset 300 of a",
                       "structure": "id table: id", "offset": 300, "length": 10}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    BytesChange::Item {
                        table: "inode table".into(),
                        class: "inode".into(),
                        name: "inode table: inode of /x".into(),
                        what: "mode".into(),
                        block: None,
                    },
                ),
                json!({"location": [], "kind": "bytes", "field": "inode table: inode of /x (mode)",
                       "a": null, "b": null,
                       "summary": "decoded from the compressed inode table block",
                       "structure": "inode table: inode"}),
            ),
            (
                Difference::bytes(
                    Vec::new(),
                    BytesChange::LeftOut {
                        structures: 100,
                        max: 2000,
                    },
                ),
                json!({"location": [], "kind": "bytes", "field": "more structures whose bytes differ",
                       "a": null, "b": null,
                       "summary": "100 more structures left out (at most 2000 per image pair)",
                       "structure": "more"}),
            ),
            (
                Difference::layout(
                    Vec::new(),
                    LayoutChange::Placed {
                        name: "inode table".into(),
                        a: Place {
                            start: 100,
                            len: 20,
                        },
                        b: Place {
                            start: 120,
                            len: 20,
                        },
                    },
                ),
                json!({"location": [], "kind": "layout", "field": "inode table",
                       "a": "at 100, 20 bytes", "b": "at 120, 20 bytes"}),
            ),
            (
                Difference::layout(
                    Vec::new(),
                    LayoutChange::Class {
                        class: "file extent".into(),
                        count_a: 4,
                        count_b: 5,
                        groups: vec![
                            LayoutGroup::Moved {
                                total: 4,
                                examples: vec![
                                    ("/a".into(), 1, 2),
                                    ("/b".into(), 3, 4),
                                    ("/c".into(), 5, 6),
                                ],
                            },
                            LayoutGroup::Resized {
                                total: 1,
                                examples: vec![("/d".into(), 10, 20)],
                            },
                            LayoutGroup::OnlyIn {
                                side: Which::B,
                                total: 1,
                                examples: vec!["/e".into()],
                            },
                        ],
                    },
                ),
                json!({"location": [], "kind": "layout", "field": "file extents", "a": 4, "b": 5,
                       "summary": "4 in a, 5 in b: 4 moved (e.g. /a 1 -> 2, /b 3 -> 4, /c 5 -> 6, ...); 1 changed size (e.g. /d 10 -> 20 bytes); 1 only in b (e.g. /e)"}),
            ),
        ];
        for (d, want) in &table {
            assert_eq!(&old_keys(d), want, "{d:?}");
            // Keys in the order of version 1 (serde_json keeps them sorted when
            // parsed, so the text is checked).
            let text = serde_json::to_string(d).unwrap_or_default();
            let order: Vec<usize> = ["\"location\"", "\"kind\"", "\"a\"", "\"b\""]
                .iter()
                .filter_map(|k| text.find(k))
                .collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        }
    }

    #[test]
    fn added_keys_say_as_data_what_the_text_says() {
        let d = Difference::content(loc(&["/f"]), content());
        let v = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(v["differing_bytes"], 3);
        assert_eq!(v["regions"], 2);
        assert_eq!(v["first_offset"], 4);
        assert_eq!(
            v["sha256"],
            json!({"a": "aa".repeat(32), "b": "bb".repeat(32)})
        );
        assert_eq!(v["text_diff"]["cut_at_lines"], 5);
        assert_eq!(
            v["text_diff"]["hunks"][0],
            json!({"old_start": 1, "old_lines": 2, "new_start": 1, "new_lines": 2,
                   "lines": [{"op": "context", "text": "one"}, {"op": "removed", "text": "two"},
                             {"op": "added", "text": "2"}, {"op": "no_newline", "text": ""}]})
        );
        let mut cut = d.clone();
        cut.leave_out_detail(true);
        let v = serde_json::to_value(&cut).unwrap_or_default();
        assert!(v.get("text_diff").is_none(), "left out with the detail");
    }

    #[test]
    fn hexdump_rows_are_xxd_rows_in_a_unified_diff() {
        let mut a: Vec<u8> = (0u8..40).collect();
        a[0] = b'<';
        let mut b = a.clone();
        b[17] = b'&';
        b.truncate(36);
        let mut c = content();
        c.text_diff = None;
        c.hexdump = Some(Hexdump {
            regions: vec![HexRegion {
                offset: 0x1000,
                a,
                b,
                cut: true,
            }],
            more_regions: 2,
        });
        let lines: Vec<String> = c.detail_lines().iter().map(|l| l.to_string()).collect();
        assert_eq!(
            lines[2..],
            [
                "@@ -257,3 +257,3 @@ offset 0x1000",
                " 00001000: 3c01 0203 0405 0607 0809 0a0b 0c0d 0e0f  <...............",
                "-00001010: 1011 1213 1415 1617 1819 1a1b 1c1d 1e1f  ................",
                "+00001010: 1026 1213 1415 1617 1819 1a1b 1c1d 1e1f  .&..............",
                "-00001020: 2021 2223 2425 2627                       !\"#$%&'",
                "+00001020: 2021 2223                                 !\"#",
                "[region cut: --max-hexdump-bytes reached]",
                "[2 more differing regions not shown: --hexdump-regions]",
            ]
        );
        assert!(c.detail_lines().iter().filter(|l| l.is_diff()).count() == 6);
        let d = Difference::content(loc(&["/f"]), c);
        let v = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(v["hexdump"]["regions"][0]["offset"], 4096);
        assert_eq!(v["hexdump"]["regions"][0]["cut"], true);
        assert_eq!(v["hexdump"]["more_regions"], 2);
        assert_eq!(
            v["hexdump"]["regions"][0]["b"].as_str().map(str::len),
            Some(72)
        );
        let mut cut = d.clone();
        cut.leave_out_detail(true);
        let v = serde_json::to_value(&cut).unwrap_or_default();
        assert!(v.get("hexdump").is_none(), "left out with the detail");
    }

    #[test]
    fn hunk_headers_are_written_as_diff_does() {
        let h = |old_start, old_lines, new_start, new_lines| {
            Hunk {
                old_start,
                old_lines,
                new_start,
                new_lines,
                lines: Vec::new(),
            }
            .to_string()
        };
        assert_eq!(h(1, 1, 1, 1), "@@ -1 +1 @@");
        assert_eq!(h(0, 0, 1, 2), "@@ -0,0 +1,2 @@");
        assert_eq!(h(4, 7, 4, 8), "@@ -4,7 +4,8 @@");
    }

    #[test]
    fn values_that_show_alike_are_the_same() {
        let a = Val::Time(Timestamp::from_unix(1));
        let mut t = Timestamp::from_unix(1);
        t.precision = crate::time::Precision::TwoSeconds;
        t.offset_minutes = Some(0);
        let b = Val::Time(t);
        assert!(shown_same(&a, &b));
        assert_eq!(read_pair(&a, &Val::Absent), read_pair(&b, &Val::Unset));
        assert!(shown_same(&Val::Unset, &Val::Absent));
        assert!(shown_same(&Val::Unsigned(5), &Val::Signed(5)));
        assert!(!shown_same(&Val::Unsigned(5), &Val::Text("5".into())));
        assert_eq!(Val::Text(String::new()).shown().to_string(), "\"\"");
        assert_eq!(Val::Absent.shown().to_string(), "(none)");
        assert_eq!(
            Val::Device { major: 1, minor: 3 }.shown().to_string(),
            "[1,3]"
        );
    }
}
