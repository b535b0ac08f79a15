//! The report: a plain data structure built once by the diff and rendered by
//! independent renderers (text, JSON). Its JSON form is the contract of
//! `../shared/DESIGN.md` (version 1): fields may be added, never renamed or removed.

pub mod json;
pub mod text;

use serde::Serialize;

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
    /// True when no difference was found (problems aside).
    pub identical: bool,
    /// Every difference, sorted by location.
    pub differences: Vec<Difference>,
    /// What could not be read or compared; the rest of the report still holds.
    pub problems: Vec<Problem>,
}

/// One of the two compared images.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// The path it was read from, as given.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
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
        }
    }
}

/// One difference, with the values on both sides.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Where it is.
    #[serde(serialize_with = "serialize_location")]
    pub location: Location,
    /// What differs.
    pub kind: Kind,
    /// For `image`, `xattr` and `attribute`: which field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The value in the first image (null where absent).
    pub a: serde_json::Value,
    /// The value in the second image (null where absent).
    pub b: serde_json::Value,
    /// For `added` and `removed`: how many entries, the entry itself included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// One line saying how content differs (`20 bytes differ in 1 region from
    /// offset 410580`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Human text: digests, a unified diff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Difference {
    /// A difference of `kind` at `location` with values `a` and `b`.
    pub fn new(
        location: Location,
        kind: Kind,
        a: serde_json::Value,
        b: serde_json::Value,
    ) -> Difference {
        Difference {
            location,
            kind,
            field: None,
            a,
            b,
            entries: None,
            summary: None,
            detail: None,
        }
    }

    /// The same with `field` set.
    pub fn with_field(mut self, field: impl Into<String>) -> Difference {
        self.field = Some(field.into());
        self
    }
}

/// Which image a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// The first image.
    A,
    /// The second image.
    B,
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
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(location.len()))?;
    for part in location {
        seq.serialize_element(&String::from_utf8_lossy(part))?;
    }
    seq.end()
}
