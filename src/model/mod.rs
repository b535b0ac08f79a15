//! The one entry model every format reader produces.
//!
//! A reader turns the bytes of an image into image-level [`Fact`]s and a tree of
//! [`Entry`]s reached through the [`Filesystem`] trait. Everything the diff engine and
//! the renderers know about an image comes through these types, so a new format only
//! has to fill them in.
//!
//! `Option` is how a format says "I do not store this": an ISO 9660 image without Rock
//! Ridge has no owner, so its `uid` is `None`, not `0`.

use std::borrow::Cow;
use std::fmt;

pub mod blocks;
pub mod key;
pub mod span;
pub(crate) mod structure;

use crate::error::Result;
use crate::time::Timestamp;

/// The kind of file system an image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Format {
    /// ECMA-119 / ISO 9660, with Rock Ridge and Joliet where present.
    Iso9660,
    /// Squashfs 4.0.
    Squashfs,
    /// FAT12, FAT16 or FAT32, with VFAT long names (EFI system partition images).
    Fat,
    /// cpio archives, plain or compressed, possibly several in a row (initrds).
    Cpio,
    /// An ar archive (a Debian package, a static library), read as the
    /// directory of its members.
    Ar,
    /// A tar archive (ustar, GNU or pax): a source tarball, a Debian
    /// package's `data.tar.xz`.
    Tar,
    /// A unified kernel image (a PE file with a `.linux` section), read as the
    /// directory of its sections. Never sniffed: opened only where two UKIs
    /// are compared.
    Uki,
    /// A directory of the machine's own file system (the tree an image was
    /// made from), read with `lstat`, `readlink` and the files' bytes. It has
    /// no image-level facts, so none are compared against it.
    Directory,
    /// An mtree manifest (`isodiff manifest`, `bsdtar --format=mtree`): the
    /// metadata and sha256 digests of a tree, without its bytes. Read only as
    /// a whole input, never sniffed inside an image.
    Manifest,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Iso9660 => "ISO 9660",
            Format::Squashfs => "squashfs",
            Format::Fat => "FAT",
            Format::Cpio => "cpio",
            Format::Uki => "UKI",
            Format::Ar => "ar",
            Format::Tar => "tar",
            Format::Directory => "directory",
            Format::Manifest => "mtree manifest",
        })
    }
}

/// An opaque handle of one node (file, directory, ...) inside one [`Filesystem`].
///
/// Only meaningful to the file system that handed it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u64);

/// What kind of thing an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A unix domain socket.
    Socket,
}

impl EntryKind {
    /// The short name used in listings and JSON (`file`, `dir`, `symlink`, `char`,
    /// `block`, `fifo`, `socket`).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::CharDevice => "char",
            EntryKind::BlockDevice => "block",
            EntryKind::Fifo => "fifo",
            EntryKind::Socket => "socket",
        }
    }

    /// The letter `ls -l` shows for this kind.
    pub fn ls_letter(self) -> char {
        match self {
            EntryKind::File => '-',
            EntryKind::Dir => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::CharDevice => 'c',
            EntryKind::BlockDevice => 'b',
            EntryKind::Fifo => 'p',
            EntryKind::Socket => 's',
        }
    }

    /// Decodes the file type bits (`S_IFMT`) of a POSIX mode.
    pub(crate) fn from_posix_mode(mode: u32) -> Option<EntryKind> {
        Some(match mode & 0o170000 {
            0o100000 => EntryKind::File,
            0o040000 => EntryKind::Dir,
            0o120000 => EntryKind::Symlink,
            0o020000 => EntryKind::CharDevice,
            0o060000 => EntryKind::BlockDevice,
            0o010000 => EntryKind::Fifo,
            0o140000 => EntryKind::Socket,
            _ => return None,
        })
    }
}

/// The metadata of one entry, as the format stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// What kind of entry this is.
    pub kind: EntryKind,
    /// Permission bits plus setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: Option<u32>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Modification time.
    pub mtime: Option<Timestamp>,
    /// Access time.
    pub atime: Option<Timestamp>,
    /// Attribute change time.
    pub ctime: Option<Timestamp>,
    /// Number of hard links.
    pub nlink: Option<u32>,
    /// Device number (major, minor) of a device node.
    pub rdev: Option<(u32, u32)>,
    /// Size of a regular file's content in bytes (0 for other kinds).
    pub size: u64,
    /// Target of a symbolic link, as bytes.
    pub target: Option<Vec<u8>>,
    /// Extended attributes (name, value), sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Meta {
    /// Metadata of the given kind with nothing else known.
    pub fn new(kind: EntryKind) -> Meta {
        Meta {
            kind,
            mode: None,
            uid: None,
            gid: None,
            mtime: None,
            atime: None,
            ctime: None,
            nlink: None,
            rdev: None,
            size: 0,
            target: None,
            xattrs: Vec::new(),
        }
    }
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The effective name, as bytes (for ISO 9660: Rock Ridge, else Joliet, else the
    /// ISO name without its version).
    pub name: Vec<u8>,
    /// Handle to list (directories) or read (files) this entry.
    pub node: NodeId,
    /// The entry's metadata.
    pub meta: Meta,
    /// Format-specific fields that have no place in [`Meta`] (record flags, the names
    /// in other namespaces, Rock Ridge stamps beyond the three times, raw SUSP
    /// entries, the extent location, ...). Compared by name.
    pub attrs: Vec<Fact>,
}

/// The entries of one directory, and what went wrong while reading it.
///
/// A damaged record costs only itself: the entries that could be read are listed,
/// and each problem is kept in `errors`.
#[derive(Debug, Default)]
pub struct Listing {
    /// Entries sorted by name bytes.
    pub entries: Vec<Entry>,
    /// Problems found in this directory (damaged records, loops, limits hit).
    pub errors: Vec<crate::Error>,
}

/// A named, typed field of an image or an entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fact {
    /// Dotted name, e.g. `pvd.volume_id` or `rr.tf.creation`.
    pub name: Cow<'static, str>,
    /// The value as stored.
    pub value: Value,
    /// What kind of thing it says, declared by the reader: `--semantic` and
    /// the causes follow from it, not from its name. Placement details (block
    /// addresses, table offsets) change whenever anything before them
    /// changes; the diff skips them unless asked.
    pub role: Role,
    /// What it merely encodes, when a difference of it follows from another
    /// difference (a directory record's date from the entry's mtime, a GPT's
    /// backup header address from the image size).
    #[serde(skip)]
    pub follows: Option<Follows>,
}

/// What kind of thing a [`Fact`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// What the image holds or is (names, ids, types, flags): the default.
    #[default]
    Content,
    /// A point in time.
    Time,
    /// Who owns something.
    Ownership,
    /// How the bytes were packed (compressor, block size, counts and sizes of
    /// stored structures): another producer's setting, the same files.
    Packing,
    /// Where something is (a block address, a table offset): changes whenever
    /// anything before it changes.
    Placement,
    /// An identifier the producer made up (a GUID, a volume serial).
    Identifier,
}

impl Role {
    /// The name used in reports (`time`, `packing`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Role::Content => "content",
            Role::Time => "time",
            Role::Ownership => "ownership",
            Role::Packing => "packing",
            Role::Placement => "placement",
            Role::Identifier => "identifier",
        }
    }
}

/// What a [`Fact`] merely encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Follows {
    /// A field of the entry it belongs to: differs whenever that field does.
    Entry(EntryField),
    /// Any of these fields of the entry it belongs to, or its extended
    /// attributes when `xattrs`: how an entry is stored when the shape
    /// follows what it holds (a squashfs extended inode, used for a link
    /// count above one, a large size or extended attributes).
    Fields {
        /// The fields it follows.
        fields: &'static [EntryField],
        /// Whether it follows the extended attributes too.
        xattrs: bool,
    },
    /// The data of the file it belongs to: differs whenever the content does
    /// (how a squashfs file's bytes are split: a block of zeros is stored as
    /// a hole, a short file of zeros as one instead of a fragment).
    Content,
    /// The size of the image: differs whenever the image size does (a GPT's
    /// backup header address, a partition's sector count).
    ImageSize,
    /// The number of entries of the image (a squashfs inode count).
    EntryCount,
    /// Other facts of its group (a checksum over a header): differs whenever
    /// one of them does.
    Group,
}

/// A field of an entry's metadata ([`Meta`]): one difference per field, and
/// what a [`Fact`] may follow ([`Follows::Entry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryField {
    /// The entry's kind.
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
    /// File size.
    Size,
}

impl EntryField {
    /// The name reports give the field's differences (`mtime`).
    pub fn name(self) -> &'static str {
        match self {
            EntryField::Type => "type",
            EntryField::Mode => "mode",
            EntryField::Uid => "uid",
            EntryField::Gid => "gid",
            EntryField::Mtime => "mtime",
            EntryField::Atime => "atime",
            EntryField::Ctime => "ctime",
            EntryField::Nlink => "nlink",
            EntryField::Rdev => "rdev",
            EntryField::Symlink => "symlink",
            EntryField::Size => "size",
        }
    }

    /// What kind of thing the field says.
    pub(crate) fn role(self) -> Role {
        match self {
            EntryField::Mtime | EntryField::Atime | EntryField::Ctime => Role::Time,
            EntryField::Uid | EntryField::Gid => Role::Ownership,
            _ => Role::Content,
        }
    }

    /// True when this field differs between `a` and `b`.
    pub(crate) fn differs(self, a: &Meta, b: &Meta) -> bool {
        match self {
            EntryField::Type => a.kind != b.kind,
            EntryField::Mode => a.mode != b.mode,
            EntryField::Uid => a.uid != b.uid,
            EntryField::Gid => a.gid != b.gid,
            EntryField::Mtime => a.mtime != b.mtime,
            EntryField::Atime => a.atime != b.atime,
            EntryField::Ctime => a.ctime != b.ctime,
            EntryField::Nlink => a.nlink != b.nlink,
            EntryField::Rdev => a.rdev != b.rdev,
            EntryField::Symlink => a.target != b.target,
            EntryField::Size => a.size != b.size,
        }
    }
}

impl Fact {
    /// A fact that describes content or metadata; a point in time has the
    /// role [`Role::Time`].
    pub fn new(name: impl Into<Cow<'static, str>>, value: Value) -> Fact {
        let role = match value {
            Value::Time(_) => Role::Time,
            _ => Role::Content,
        };
        Fact {
            name: name.into(),
            value,
            role,
            follows: None,
        }
    }

    /// A fact that only describes where something is placed.
    pub(crate) fn layout(name: impl Into<Cow<'static, str>>, value: Value) -> Fact {
        Fact::new(name, value).role(Role::Placement)
    }

    /// A point in time.
    pub(crate) fn time(name: impl Into<Cow<'static, str>>, value: Value) -> Fact {
        Fact::new(name, value).role(Role::Time)
    }

    /// How the bytes were packed.
    pub(crate) fn packing(name: impl Into<Cow<'static, str>>, value: Value) -> Fact {
        Fact::new(name, value).role(Role::Packing)
    }

    /// An identifier the producer made up.
    pub(crate) fn identifier(name: impl Into<Cow<'static, str>>, value: Value) -> Fact {
        Fact::new(name, value).role(Role::Identifier)
    }

    /// True for a placement detail ([`Role::Placement`]).
    pub fn is_placement(&self) -> bool {
        self.role == Role::Placement
    }

    /// The same with another role.
    pub(crate) fn role(mut self, role: Role) -> Fact {
        self.role = role;
        self
    }

    /// The same, declared to follow from `follows`.
    pub(crate) fn follows(mut self, follows: Follows) -> Fact {
        self.follows = Some(follows);
        self
    }
}

/// The value of a [`Fact`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    /// An unsigned number.
    Int(u64),
    /// A signed number.
    Signed(i64),
    /// A flag.
    Bool(bool),
    /// Text, already decoded (trailing padding kept: it is part of what differs).
    Text(String),
    /// Raw bytes that are not text.
    #[serde(serialize_with = "serialize_hex")]
    Bytes(Vec<u8>),
    /// A point in time.
    Time(Timestamp),
    /// The format has a place for this but it is unset (an all-zero ISO date).
    Unset,
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Signed(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Text(v) => write!(f, "{v:?}"),
            Value::Bytes(v) => write!(f, "0x{}", hex(v)),
            Value::Time(t) => write!(f, "{t}"),
            Value::Unset => f.write_str("unset"),
        }
    }
}

/// How to get at a file's bytes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Content<'a> {
    /// The content is these slices of the image, concatenated (ISO extents).
    Slices(Vec<&'a [u8]>),
    /// Squashfs: raw (mostly compressed) data blocks and a fragment tail, slices of
    /// the image, so equal raw blocks prove equal content without decompressing.
    #[doc(hidden)]
    Blocks(blocks::BlockList<'a>),
    /// Bytes the reader derived and owns (a system area with its parsed fields
    /// blanked out).
    Owned(std::sync::Arc<[u8]>),
    /// A file of a directory, mapped read-only for as long as the content is
    /// held (a tree has more files than a process may keep mapped at once).
    Mapped(std::sync::Arc<crate::map::MappedFile>),
    /// A file of which only the length and the SHA-256 digest are known (a
    /// manifest): compared by digest; its bytes cannot be read.
    Digest {
        /// The content's length.
        len: u64,
        /// Its SHA-256.
        sha256: [u8; 32],
    },
}

impl<'a> Content<'a> {
    /// The plain slices of the image that hold the content, when it is stored
    /// plainly; `None` when it must be decoded.
    pub(crate) fn as_slices(&self) -> Option<&[&'a [u8]]> {
        match self {
            Content::Slices(s) => Some(s),
            Content::Blocks(_)
            | Content::Owned(_)
            | Content::Mapped(_)
            | Content::Digest { .. } => None,
        }
    }

    /// The content's bytes as a sequence of chunks, borrowed from the image where
    /// it is stored plainly.
    pub fn chunks<'c>(
        &'c self,
    ) -> Box<dyn Iterator<Item = Result<std::borrow::Cow<'c, [u8]>>> + 'c> {
        match self {
            Content::Slices(s) => Box::new(s.iter().map(|s| Ok(std::borrow::Cow::Borrowed(*s)))),
            Content::Blocks(b) => Box::new(b.chunks().map(|c| c.map(std::borrow::Cow::Owned))),
            Content::Owned(v) => Box::new(std::iter::once(Ok(std::borrow::Cow::Borrowed(&v[..])))),
            Content::Mapped(m) => {
                Box::new(std::iter::once(Ok(std::borrow::Cow::Borrowed(m.bytes()))))
            }
            Content::Digest { .. } => Box::new(std::iter::once(Err(crate::Error::malformed(
                "content",
                0,
                "only its digest is known (a manifest)",
            )))),
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Slices(s) => s.iter().map(|s| s.len() as u64).sum(),
            Content::Blocks(b) => b.len(),
            Content::Owned(v) => v.len() as u64,
            Content::Mapped(m) => m.bytes().len() as u64,
            Content::Digest { len, .. } => *len,
        }
    }

    /// True when the content has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The content as one contiguous slice: borrowed when it is one piece of the
    /// image, else gathered into a buffer of at most `max` bytes
    /// ([`crate::Error::LimitExceeded`] past it).
    pub fn contiguous(&self, max: u64) -> Result<Cow<'_, [u8]>> {
        if let Content::Mapped(m) = self {
            return Ok(Cow::Borrowed(m.bytes()));
        }
        if let Some(s) = self.as_slices() {
            match s {
                [] => return Ok(Cow::Borrowed(&[])),
                [one] => return Ok(Cow::Borrowed(one)),
                _ => {}
            }
        }
        let len = self.len();
        crate::limits::check("bytes gathered for one file", len, max)?;
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        for c in self.chunks() {
            buf.extend_from_slice(&c?);
        }
        Ok(Cow::Owned(buf))
    }

    /// The first `want` bytes (fewer when the content is shorter), decoding only
    /// as much as that takes: for sniffing what a file holds.
    pub fn head(&self, want: usize) -> Result<Cow<'_, [u8]>> {
        if let Content::Blocks(b) = self {
            return b.head(want).map(Cow::Owned);
        }
        let mut out: Vec<u8> = Vec::new();
        for c in self.chunks() {
            let c = c?;
            if out.is_empty() && c.len() >= want {
                return Ok(match c {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[..want]),
                    Cow::Owned(mut v) => {
                        v.truncate(want);
                        Cow::Owned(v)
                    }
                });
            }
            let take = (want - out.len()).min(c.len());
            out.extend_from_slice(&c[..take]);
            if out.len() >= want {
                break;
            }
        }
        Ok(Cow::Owned(out))
    }
}

/// One file system, opened over bytes it borrows (a map, a slice of a parent, a buffer).
pub trait Filesystem: Send + Sync {
    /// Which format this is.
    fn format(&self) -> Format;
    /// Image-level fields: volume descriptors, superblock, ...
    fn facts(&self) -> &[Fact];
    /// The root directory.
    fn root(&self) -> NodeId;
    /// Metadata of the root directory itself.
    fn root_meta(&self) -> &Meta;
    /// The entries of a directory, sorted by name bytes.
    fn children(&self, dir: NodeId) -> Result<Listing>;
    /// The content of a regular file.
    fn content(&self, file: NodeId) -> Result<Content<'_>>;
    /// Parts of the image compared like files although no directory lists them
    /// (boot images the tree does not hold, a system area), by stable names.
    fn specials(&self) -> Vec<Special<'_>> {
        Vec::new()
    }
    /// The bytes this file system was opened over, when its format accounts for
    /// them byte by byte (see [`crate::report::ByteAccounting`]); `None` otherwise.
    fn raw_bytes(&self) -> Option<&[u8]> {
        None
    }
    /// The span of every structure of the image, built now from the bytes (not
    /// kept from opening it): call it only to attribute differing bytes.
    /// Hidden: the byte accounting's types are no API; a file system made
    /// outside the crate has no layout and keeps this default.
    #[doc(hidden)]
    fn byte_layout(&self) -> Result<span::Layout> {
        Ok(span::Layout::new())
    }
    /// Where the main structures of the image are (file extents, tables), to
    /// compare two images of different sizes. Hidden, as
    /// [`Filesystem::byte_layout`].
    #[doc(hidden)]
    fn placements(&self) -> Vec<span::Placement> {
        Vec::new()
    }
    /// The compressor whose stream this image was read out of (`zstd`), when
    /// it was decompressed as a whole input; `None` for an image read as stored.
    fn decompressed_from(&self) -> Option<&'static str> {
        None
    }
    /// The image a file holds, as this reader describes it without its bytes
    /// (a manifest's section of a nested image): what to compare the inside
    /// of another side's image against when the file's content is only a
    /// digest. `None` for readers that have the bytes (open them instead).
    fn described_image(&self, _file: NodeId) -> Option<Box<dyn Filesystem + '_>> {
        None
    }
    /// Oddities of the image that were read leniently, as libarchive and
    /// xorriso read them (a NetBSD makefs root record of 68 bytes, a Rock
    /// Ridge `TF` entry one byte short): each one sentence, said in the report
    /// and by `isodiff ls` so that nothing is accepted silently. Unlike a
    /// problem, a warning does not make the result trouble (exit 2): the
    /// image was read in full.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A part of an image that is compared like a file but is not in the tree.
#[derive(Debug, Clone)]
pub struct Special<'a> {
    /// A name that is the same for the same part of two images, e.g. `system-area`
    /// or `el-torito:2 (UEFI)`; used as the location.
    pub name: String,
    /// Its bytes.
    pub content: Content<'a>,
}
