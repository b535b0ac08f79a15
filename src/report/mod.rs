//! The report: a plain data structure built once by the diff and rendered by
//! independent renderers (text, JSON, HTML, Markdown, diffoscope's JSON). Its JSON
//! form is the contract of `../shared/DESIGN.md` (version 1): fields may be added,
//! never renamed or removed.
//!
//! Between the diff and the renderers the report can be narrowed: [`filter`] hides
//! what the user named (`--exclude`, `--ignore`, `--semantic`) and [`limit`] cuts it
//! to a size (`--max-report-size`). Both work on the finished report, so the diff
//! engine knows nothing of them, and both record what they took away
//! ([`Report::filtered`], [`Report::cut`]) so every renderer can say so: nothing is
//! dropped silently.

pub(crate) mod cause;
pub(crate) mod change;
pub(crate) mod code;
pub mod diffoscope;
pub mod filter;
pub mod html;
pub mod json;
pub mod limit;
pub mod markdown;
pub(crate) mod summary;
pub mod text;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::model::{Follows, Role};
use serde::Serialize;

pub use crate::error::Which;
pub use cause::{CauseClass, CauseCount, Rule};
pub(crate) use change::DetailLine;
pub use change::{
    Block, BytesChange, Change, ContentChange, Detail, ElfPlace, ElfSymbol, EntryField, Excerpt,
    HexRegion, Hexdump, Hunk, LayoutChange, LayoutGroup, Line, LineOp, Place, Reported, Subject,
    TextDiff, Val,
};
pub use code::{Arch, CodeRegion, Disassembly, Insn};
pub use filter::{Filter, Filtered};
pub use limit::Cut;

/// A location: outermost image first; each element an absolute path inside the file
/// system named by the elements before it. `[]` is the outermost image itself.
pub type Location = Vec<Vec<u8>>;

/// Everything found when comparing two images.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The first image.
    pub a: Side,
    /// The second image.
    pub b: Side,
    /// True when no difference was found (problems aside); after a [`Filter`], when
    /// none is left ([`Report::filtered`] says how many were hidden).
    pub identical: bool,
    /// Every difference, sorted by location.
    pub differences: Vec<Difference>,
    /// What could not be read or compared; the rest of the report still holds.
    pub problems: Vec<Problem>,
    /// Oddities read leniently, as libarchive and xorriso read them (see
    /// [`crate::Filesystem::warnings`]), once per image that has them. Unlike
    /// problems they leave the verdict alone: the image was read in full.
    /// Absent from the JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
    /// What a [`Filter`] hid; `None` when no filter was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered: Option<Filtered>,
    /// What [`limit::cap`] left out to keep the report within a size; `None` when
    /// nothing was cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut: Option<Cut>,
    /// One record per pair of same-size images whose bytes were compared and found
    /// to differ: how many bytes differ and what explains them. Empty when no
    /// such pair was met.
    pub byte_accounting: Vec<ByteAccounting>,
    /// The causes of the differences, most frequent first (see [`CauseClass`]):
    /// what a user should read first.
    pub causes: Vec<cause::CauseCount>,
    /// How many differences (consequences aside) have no known cause.
    pub no_known_cause: u64,
}

/// Where the differing bytes of one pair of same-size images went. Every differing
/// byte is in exactly one of the four counts: `explained_bytes`,
/// `placement_bytes`, `reported_bytes`, `unattributed_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ByteAccounting {
    /// The image pair (`[]`: the outermost images).
    #[serde(serialize_with = "serialize_location")]
    pub location: Location,
    /// Bytes that differ.
    pub differing_bytes: u64,
    /// Maximal runs of differing bytes.
    pub ranges: u64,
    /// Bytes in no structure of either image (padding, gaps between structures),
    /// reported as `bytes` differences that name them as unclaimed.
    pub unattributed_bytes: u64,
    /// Bytes that encode an entry-level or image-level difference reported
    /// elsewhere (the TF bytes of an mtime change, the extent of a file whose
    /// content differs, a nested image with its own accounting).
    pub explained_bytes: u64,
    /// Bytes that only say where things are (block addresses, table offsets) or
    /// belong to structures that moved with the structures before them.
    pub placement_bytes: u64,
    /// Bytes in structures reported as `bytes` differences (changed with no other
    /// difference to explain them, or moved on their own).
    pub reported_bytes: u64,
    /// Bytes at offsets where both images hold a nested image compared on its
    /// own, whether they differ or not: not compared here but handed down to that
    /// image's record (or, when the nested images differ in size, to its `layout`
    /// differences). Not part of [`ByteAccounting::differing_bytes`].
    #[serde(default)]
    pub nested_bytes: u64,
}

impl ByteAccounting {
    /// True when every differing byte follows from a difference reported at entry
    /// or image level, or from placement.
    pub fn all_explained(&self) -> bool {
        self.reported_bytes == 0 && self.unattributed_bytes == 0
    }
}

impl Report {
    /// The exit status `isodiff` gives for this report, as `cmp` and `diff` do:
    /// 0 identical, 1 different, 2 when something could not be read (whatever
    /// else was found).
    pub fn exit_code(&self) -> u8 {
        if !self.problems.is_empty() {
            2
        } else if self.identical {
            0
        } else {
            1
        }
    }

    /// A report of `differences` (sorted by location) and `problems`, with nothing
    /// filtered or cut.
    pub(crate) fn new(
        a: Side,
        b: Side,
        differences: Vec<Difference>,
        problems: Vec<Problem>,
    ) -> Report {
        Report {
            a,
            b,
            identical: differences.is_empty(),
            differences,
            problems,
            warnings: Vec::new(),
            filtered: None,
            cut: None,
            byte_accounting: Vec::new(),
            causes: Vec::new(),
            no_known_cause: 0,
        }
    }

    /// What the report concludes, counted once for every renderer.
    pub fn verdict(&self) -> Verdict {
        if self.identical && self.problems.is_empty() {
            let hidden = self.filtered.as_ref().is_some_and(|f| f.differences > 0);
            return Verdict::Identical {
                after_filtering: hidden,
            };
        }
        let following = self.consequences();
        let left_out = self.cut.as_ref().map_or(0, |c| c.differences);
        Verdict::Different {
            differences: self.differences.len() as u64 + left_out - following,
            following,
            problems: self.problems.len() as u64,
        }
    }

    /// How many differences only follow from others ([`Difference::consequence`]).
    pub fn consequences(&self) -> u64 {
        self.differences.iter().filter(|d| d.consequence).count() as u64
    }

    /// How many differences there are of each kind, in the order of [`Kind`].
    pub fn count_by_kind(&self) -> BTreeMap<Kind, u64> {
        let mut counts = BTreeMap::new();
        for d in &self.differences {
            *counts.entry(d.kind()).or_insert(0) += 1;
        }
        counts
    }

    /// How many differences there are in each file system, keyed by the location of
    /// that file system (`[]` for the outermost image), in location order.
    pub fn count_by_image(&self) -> BTreeMap<&[Vec<u8>], u64> {
        let mut counts = BTreeMap::new();
        for d in &self.differences {
            *counts.entry(d.image()).or_insert(0) += 1;
        }
        counts
    }

    /// Changes that recur: differences of the same kind and field with the same two
    /// values at several locations (600 files all moved from one mtime to another),
    /// most frequent first, at least `min` of each. Content and one-sided entries
    /// are left out: their values say nothing in common.
    ///
    /// Values are compared as they read (two times of the same second stored
    /// at different precisions are the same change); changes seen as often are
    /// in the order of their kind, field and JSON values.
    pub fn repeated(&self, min: u64) -> Vec<Repeated> {
        type Key<'r> = (Kind, Option<Cow<'r, str>>, Val, Val);
        let mut groups: HashMap<Key<'_>, (u64, usize)> = HashMap::new();
        for (i, d) in self.differences.iter().enumerate() {
            let kind = d.kind();
            if matches!(kind, Kind::Content | Kind::Added | Kind::Removed) {
                continue;
            }
            let (a, b) = d.values();
            let (a, b) = change::read_pair(&a, &b);
            groups.entry((kind, d.field(), a, b)).or_insert((0, i)).0 += 1;
        }
        let mut out: Vec<(Repeated, String, String)> = groups
            .into_values()
            .filter(|(n, _)| *n >= min)
            .map(|(count, i)| {
                let d = &self.differences[i];
                let (a, b) = d.values();
                let json = |v: &change::Shown<'_>| serde_json::to_string(v).unwrap_or_default();
                let (ja, jb) = {
                    let (sa, sb) = change::shown_pair(&a, &b);
                    (json(&sa), json(&sb))
                };
                let r = Repeated {
                    kind: d.kind(),
                    field: d.field().map(Cow::into_owned),
                    a: a.into_owned(),
                    b: b.into_owned(),
                    count,
                };
                (r, ja, jb)
            })
            .collect();
        out.sort_by(|(x, xa, xb), (y, ya, yb)| {
            (std::cmp::Reverse(x.count), x.kind, &x.field, xa, xb).cmp(&(
                std::cmp::Reverse(y.count),
                y.kind,
                &y.field,
                ya,
                yb,
            ))
        });
        out.into_iter().map(|(r, _, _)| r).collect()
    }
}

/// What a report concludes (see [`Report::verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No difference, and no problem.
    Identical {
        /// Filters hid differences.
        after_filtering: bool,
    },
    /// Differences or problems.
    Different {
        /// Differences a user must read (shown or cut, not consequences).
        differences: u64,
        /// Differences that only follow from those.
        following: u64,
        /// Problems met.
        problems: u64,
    },
}

impl Verdict {
    /// `identical`, `identical after filtering`, or `3 difference(s) (and 7
    /// that follow from them), 1 problem(s)`; `in` is said after the count of
    /// differences (`" in 2 file system(s)"`), when not empty.
    pub fn describe(&self, within: &str) -> String {
        match *self {
            Verdict::Identical {
                after_filtering: false,
            } => "identical".to_owned(),
            Verdict::Identical {
                after_filtering: true,
            } => "identical after filtering".to_owned(),
            Verdict::Different {
                differences,
                following,
                problems,
            } => {
                let mut v = format!("{differences} difference(s){within}");
                if following > 0 {
                    v.push_str(&format!(" (and {following} that follow from them)"));
                }
                if problems > 0 {
                    v.push_str(&format!(", {problems} problem(s)"));
                }
                v
            }
        }
    }
}

/// A change shared by several differences (see [`Report::repeated`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Repeated {
    /// The kind of the differences.
    pub kind: Kind,
    /// Their field, if their kind has one.
    pub field: Option<String>,
    /// The value in the first image (of the first of them).
    pub a: Val,
    /// The value in the second image.
    pub b: Val,
    /// How many differences share it.
    pub count: u64,
}

impl Repeated {
    /// What differs, in words (see [`Difference::what`]).
    pub(crate) fn what(&self) -> String {
        what(self.kind, self.field.as_deref())
    }
}

/// One of the two compared images.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The path it was read from, as given.
    pub path: String,
    /// Its size in bytes, as stored (compressed, when it was).
    pub size: u64,
    /// The compressor whose stream the image was read out of (`zstd`), when
    /// the input was compressed; `null` otherwise.
    pub decompressed_from: Option<&'static str>,
}

impl Side {
    /// The image read from `path`, of `size` bytes, as it is stored.
    pub(crate) fn new(path: impl Into<String>, size: u64) -> Side {
        Side {
            path: path.into(),
            size,
            decompressed_from: None,
        }
    }

    /// The path, and the compressor it was decompressed from if any: how
    /// reports name the side (`a.iso.zst (decompressed from zstd)`).
    pub(crate) fn shown(&self) -> String {
        match self.decompressed_from {
            Some(c) => format!("{} (decompressed from {c})", self.path),
            None => self.path.clone(),
        }
    }
}

/// What kind of difference it is. Entry-level kinds name the field that differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An image-level fact (volume descriptor, superblock, ...); `field` names it.
    Image,
    /// Only in the second image.
    Added,
    /// Only in the first image.
    Removed,
    /// The entry is of another type (file, dir, symlink, ...).
    Type,
    /// Permission bits.
    Mode,
    /// Owner.
    Uid,
    /// Group.
    Gid,
    /// Modification time.
    Mtime,
    /// Access time.
    Atime,
    /// Attribute change time.
    Ctime,
    /// Hard link count.
    Nlink,
    /// Device number.
    Rdev,
    /// Symbolic link target.
    Symlink,
    /// An extended attribute; `field` names it.
    Xattr,
    /// File size.
    Size,
    /// File content.
    Content,
    /// A format-specific field of the entry (record flags, names in another
    /// namespace, Rock Ridge stamps beyond the three times); `field` names it.
    Attribute,
    /// Raw bytes of a same-size image pair that no other difference explains:
    /// `field` names the structure that holds them (`SUSP entry ER of /
    /// (descriptor)`, `data block 0 of /x`, `unclaimed bytes after ...`),
    /// `offset` and `length` say where. Located at the image, like `image`.
    Bytes,
    /// Placement of the structures of two images of different sizes: what moved
    /// or changed size (`field`: a kind of structure or a table). Located at the
    /// image, like `image`.
    Layout,
}

impl Kind {
    /// The name used in JSON and text.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Type => "type",
            Kind::Mode => "mode",
            Kind::Uid => "uid",
            Kind::Gid => "gid",
            Kind::Mtime => "mtime",
            Kind::Atime => "atime",
            Kind::Ctime => "ctime",
            Kind::Nlink => "nlink",
            Kind::Rdev => "rdev",
            Kind::Symlink => "symlink",
            Kind::Xattr => "xattr",
            Kind::Size => "size",
            Kind::Content => "content",
            Kind::Attribute => "attribute",
            Kind::Bytes => "bytes",
            Kind::Layout => "layout",
        }
    }

    /// True for kinds located at an image rather than at an entry of it (`image`,
    /// `bytes`, `layout`).
    pub(crate) fn is_image_level(self) -> bool {
        matches!(self, Kind::Image | Kind::Bytes | Kind::Layout)
    }
}

/// One difference: where it is, and the typed change (see [`Change`]).
///
/// The accessors ([`Difference::kind`], [`Difference::field`], [`Difference::values`],
/// [`Difference::summary`], ...) render the change the way every report shows it;
/// its JSON form (version 1 of the report) is made from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// Where it is.
    pub location: Location,
    /// What differs, with the values of both sides.
    pub change: Change,
    /// What kind of thing differs, as the reader declared it for facts and
    /// attributes (a time, an owner, packing, placement, an identifier) and as
    /// the field says for entry metadata: `--semantic` and the causes read it.
    pub role: Role,
    /// What the differing fact merely encodes, as its reader declared it.
    pub follows: Option<Follows>,
    /// Set when the difference only follows from others the report holds (a
    /// GPT's backup header address when the image size differs): counted apart
    /// from the differences a user must read.
    pub consequence: bool,
    /// Why it most likely differs, when a known cause ([`CauseClass`]) recognizes
    /// it (set as the report is made).
    pub cause: Option<&'static cause::CauseClass>,
}

impl Serialize for Difference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        change::serialize(self, s)
    }
}

impl Difference {
    /// A difference of `change` at `location`.
    pub(crate) fn new(location: Location, change: Change) -> Difference {
        let role = match &change {
            Change::Entry { field, .. } => field.role(),
            _ => Role::Content,
        };
        Difference {
            location,
            change,
            role,
            follows: None,
            consequence: false,
            cause: None,
        }
    }

    /// A field of an entry's metadata that differs.
    pub(crate) fn entry(location: Location, field: EntryField, a: Val, b: Val) -> Difference {
        Difference::new(location, Change::Entry { field, a, b })
    }

    /// An extended attribute that differs (`None`: absent on that side).
    pub(crate) fn xattr(
        location: Location,
        name: Vec<u8>,
        a: Option<Vec<u8>>,
        b: Option<Vec<u8>>,
    ) -> Difference {
        let val = |v: Option<Vec<u8>>| v.map_or(Val::Absent, Val::Raw);
        Difference::new(
            location,
            Change::Xattr {
                name,
                a: val(a),
                b: val(b),
            },
        )
    }

    /// A format-specific field of an entry that differs.
    pub(crate) fn attribute(
        location: Location,
        name: impl Into<Cow<'static, str>>,
        a: Val,
        b: Val,
    ) -> Difference {
        let name = name.into();
        Difference::new(location, Change::Attribute { name, a, b })
    }

    /// An image-level fact that differs; `location` names the image.
    pub(crate) fn image_fact(
        location: Location,
        name: impl Into<Cow<'static, str>>,
        a: Val,
        b: Val,
    ) -> Difference {
        let name = name.into();
        Difference::new(location, Change::Image { name, a, b })
    }

    /// The same with another role.
    pub(crate) fn with_role(mut self, role: Role) -> Difference {
        self.role = role;
        self
    }

    /// The same with the role and what it follows that `fact` declares.
    pub(crate) fn declared_by(mut self, fact: &crate::model::Fact) -> Difference {
        self.role = fact.role;
        self.follows = fact.follows;
        self
    }

    /// Contents that differ.
    pub(crate) fn content(location: Location, content: ContentChange) -> Difference {
        Difference::new(location, Change::Content(Box::new(content)))
    }

    /// Something only `side` has (`entries`: how many entries, for an entry).
    pub(crate) fn one_sided(
        location: Location,
        side: Which,
        subject: Subject,
        entries: Option<u64>,
    ) -> Difference {
        Difference::new(
            location,
            Change::OneSided {
                side,
                subject,
                entries,
            },
        )
    }

    /// Bytes of a same-size image pair; `location` names the image.
    pub(crate) fn bytes(location: Location, bytes: BytesChange) -> Difference {
        Difference::new(location, Change::Bytes(Box::new(bytes)))
    }

    /// Placement of structures of two images of different sizes; `location`
    /// names the image.
    pub(crate) fn layout(location: Location, layout: LayoutChange) -> Difference {
        Difference::new(location, Change::Layout(Box::new(layout)))
    }

    /// What kind of difference it is.
    pub fn kind(&self) -> Kind {
        self.change.kind()
    }

    /// For `image`, `xattr`, `attribute`, `bytes` and `layout`: which field or
    /// structure (`superblock.mkfs_time`, `user.comment`, `data block 0 of /x`).
    pub fn field(&self) -> Option<Cow<'_, str>> {
        self.change.field()
    }

    /// The values of both sides as they show in a report.
    pub fn values(&self) -> (Cow<'_, Val>, Cow<'_, Val>) {
        self.change.values()
    }

    /// For `added` and `removed`: how many entries, the entry itself included.
    pub fn entries(&self) -> Option<u64> {
        self.change.entries()
    }

    /// For `content`, `bytes` and `layout`: one line saying how they differ
    /// (`20 bytes differ in 1 region from offset 410580`).
    pub fn summary(&self) -> Option<String> {
        self.change.summary()
    }

    /// For `content`: the digests and the unified diff, line by line.
    pub(crate) fn detail_lines(&self) -> Vec<DetailLine<'_>> {
        self.change.detail_lines()
    }

    /// For `content`: the digests and the unified diff, as one text.
    pub fn detail(&self) -> Option<String> {
        self.change.detail()
    }

    /// True when the difference has a detail to show.
    pub(crate) fn has_detail(&self) -> bool {
        matches!(&self.change, Change::Content(c) if c.detail != change::Detail::LeftOut { noted: false })
    }

    /// Leaves the detail out (to keep a report within a size), with a one-line
    /// note where it was when `noted`.
    pub(crate) fn leave_out_detail(&mut self, noted: bool) {
        if let Change::Content(c) = &mut self.change {
            c.detail = change::Detail::LeftOut { noted };
            c.text_diff = None;
            c.hexdump = None;
            c.disassembly = None;
        }
    }

    /// For `bytes`: the kind of structure.
    pub fn structure(&self) -> Option<Cow<'_, str>> {
        self.change.structure()
    }

    /// For `bytes`: where the first differing byte is, from the start of the
    /// image the location names (a nested image's own offsets).
    pub fn offset(&self) -> Option<u64> {
        self.change.offset()
    }

    /// For `bytes`: how many bytes from [`Difference::offset`] to the last
    /// differing byte of the structure, inclusive.
    pub fn length(&self) -> Option<u64> {
        self.change.length()
    }

    /// The location of the file system this difference is in: the location itself
    /// for an image-level difference (it names the image), else the location without its
    /// last element (the entry's path inside that file system).
    pub fn image(&self) -> &[Vec<u8>] {
        if self.kind().is_image_level() {
            &self.location
        } else {
            let n = self.location.len().saturating_sub(1);
            &self.location[..n]
        }
    }

    /// What differs, in words: the kind, with the field where there is one
    /// (`mode`, `xattr user.comment`, `superblock.mkfs_time`).
    pub fn what(&self) -> String {
        what(self.kind(), self.field().as_deref())
    }
}

/// What differs, in words, from a kind and its field.
fn what(kind: Kind, field: Option<&str>) -> String {
    match (field, kind) {
        (Some(f), Kind::Image) => f.to_owned(),
        (Some(f), kind) => format!("{} {f}", kind.name()),
        (None, kind) => kind.name().to_owned(),
    }
}

/// Something that could not be read or compared.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Where (for a directory: the directory).
    #[serde(serialize_with = "serialize_location")]
    pub location: Location,
    /// In which image.
    pub side: Which,
    /// What went wrong.
    pub message: String,
}

fn serialize_location<S: serde::Serializer>(location: &Location, s: S) -> Result<S::Ok, S::Error> {
    LocationText(location).serialize(s)
}

/// A location as JSON: an array of its elements as text.
pub(crate) struct LocationText<'l>(pub &'l [Vec<u8>]);

impl Serialize for LocationText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for part in self.0 {
            seq.serialize_element(&String::from_utf8_lossy(part))?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Precision, Timestamp};

    fn side(p: &str) -> Side {
        Side::new(p, 0)
    }

    #[test]
    fn repeated_groups_values_as_they_read_most_frequent_first() {
        let at = |p: &str| vec![b"/img".to_vec(), p.as_bytes().to_vec()];
        let time = |secs, precision| {
            Val::Time(Timestamp {
                secs,
                nanos: 0,
                offset_minutes: None,
                precision,
            })
        };
        let mut ds = Vec::new();
        // The same mtime change, read alike though stored at 1 s and 2 s
        // precision (an ISO and a FAT time): one change, seen three times.
        for (p, precision) in [
            ("/a", Precision::Seconds),
            ("/b", Precision::TwoSeconds),
            ("/c", Precision::Seconds),
        ] {
            ds.push(Difference::entry(
                at(p),
                EntryField::Mtime,
                time(0, precision),
                time(2, precision),
            ));
        }
        // Two changes seen twice each: in the order of their values as JSON
        // (`"0600"` before `null`).
        for p in ["/d", "/e"] {
            ds.push(Difference::entry(
                at(p),
                EntryField::Mode,
                Val::Absent,
                Val::Mode(0o644),
            ));
            ds.push(Difference::entry(
                at(p),
                EntryField::Mode,
                Val::Mode(0o600),
                Val::Absent,
            ));
        }
        // Content and one-sided entries are never grouped.
        for p in ["/f", "/g"] {
            ds.push(Difference::one_sided(
                at(p),
                Which::B,
                Subject::Entry(crate::model::EntryKind::File),
                Some(1),
            ));
        }
        let r = Report::new(side("a"), side("b"), ds, Vec::new());
        let rep = r.repeated(2);
        let seen: Vec<(String, String, String, u64)> = rep
            .iter()
            .map(|r| {
                let (a, b) = change::shown_pair(&r.a, &r.b);
                (r.what(), a.to_string(), b.to_string(), r.count)
            })
            .collect();
        let row = |w: &str, a: &str, b: &str, n| (w.to_owned(), a.to_owned(), b.to_owned(), n);
        assert_eq!(
            seen,
            [
                row("mtime", "1970-01-01T00:00:00Z", "1970-01-01T00:00:02Z", 3),
                row("mode", "0600", "(none)", 2),
                row("mode", "(none)", "0644", 2),
            ]
        );
    }
}
