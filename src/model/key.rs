//! Typed keys: the differences a byte span names as what can explain it.
//!
//! A reader says, structure by structure, which reported difference a change
//! of some bytes follows from ([`super::span::Explain`]). It names that
//! difference with a [`Key`], never with text: a key the diff never reports
//! would explain nothing, silently. The entry-level keys are the enum's
//! variants (a misspelt one does not compile); the name of an attribute comes
//! from the reader's own facts, declared once ([`Attr`] constants where the name
//! is fixed), and `tests/it/explain_keys.rs` checks every attribute a reader's
//! spans name against the attributes it gives the same entries.

use std::borrow::Cow;
use std::fmt;

use super::EntryField;

/// A difference the diff reports at an entry, as a byte span names it.
///
/// `Copy` and made of `'static` parts, so that a reader's list of keys is a
/// constant (`&[Key::Content, Key::Field(EntryField::Size)]`); attributes
/// whose names are made at run time are named by
/// [`super::span::Explain::EntryAttribute`] instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// A field of the entry's metadata (`mtime`, `size`, ...).
    Field(EntryField),
    /// The entry's content.
    Content,
    /// The entry's content, compared as an image of its own: its differences
    /// are reported inside it.
    Nested,
    /// One of a directory's children was added, removed or changed type.
    Children,
    /// The entry is only in the second image.
    Added,
    /// The entry is only in the first image.
    Removed,
    /// Any extended attribute of the entry.
    Xattr,
    /// A format-specific attribute of the entry (a [`super::Fact`] of
    /// [`super::Entry::attrs`]) of this name.
    Attribute(Attr),
}

/// The metadata fields' keys, for short lists of keys.
impl Key {
    /// [`EntryField::Type`].
    pub const TYPE: Key = Key::Field(EntryField::Type);
    /// [`EntryField::Mode`].
    pub const MODE: Key = Key::Field(EntryField::Mode);
    /// [`EntryField::Uid`].
    pub const UID: Key = Key::Field(EntryField::Uid);
    /// [`EntryField::Gid`].
    pub const GID: Key = Key::Field(EntryField::Gid);
    /// [`EntryField::Mtime`].
    pub const MTIME: Key = Key::Field(EntryField::Mtime);
    /// [`EntryField::Atime`].
    pub const ATIME: Key = Key::Field(EntryField::Atime);
    /// [`EntryField::Ctime`].
    pub const CTIME: Key = Key::Field(EntryField::Ctime);
    /// [`EntryField::Nlink`].
    pub const NLINK: Key = Key::Field(EntryField::Nlink);
    /// [`EntryField::Rdev`].
    pub const RDEV: Key = Key::Field(EntryField::Rdev);
    /// [`EntryField::Symlink`].
    pub const SYMLINK: Key = Key::Field(EntryField::Symlink);
    /// [`EntryField::Size`].
    pub const SIZE: Key = Key::Field(EntryField::Size);
}

impl fmt::Display for Key {
    /// The kind of difference and its field, as reports show them
    /// (`mtime`, `attribute rr.pn`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Field(field) => write!(f, "{}", field.name()),
            Key::Content => f.write_str("content"),
            Key::Nested => f.write_str("nested image"),
            Key::Children => f.write_str("children"),
            Key::Added => f.write_str("added"),
            Key::Removed => f.write_str("removed"),
            Key::Xattr => f.write_str("xattr"),
            Key::Attribute(a) => write!(f, "attribute {}", a.as_str()),
        }
    }
}

/// The fixed name of an entry attribute ([`super::Fact`] in
/// [`super::Entry::attrs`]): a reader declares it once, as a constant, and
/// makes both its facts and its spans' keys from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attr(&'static str);

impl Attr {
    /// The attribute named `name`.
    pub const fn new(name: &'static str) -> Attr {
        Attr(name)
    }

    /// Its dotted name (`rr.tf.creation`).
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl From<Attr> for Cow<'static, str> {
    fn from(a: Attr) -> Cow<'static, str> {
        Cow::Borrowed(a.0)
    }
}
