//! isodiff compares two ISO 9660 images and every file system nested in them, and
//! pinpoints exactly what differs.
//!
//! # From the top
//!
//! Compare two images: [`diff_files`] maps both read-only, opens every nested
//! image it meets (squashfs, ISO 9660, FAT, cpio) and returns one [`Report`]
//! whose [`differences`](Report::differences) name a location, a [`Kind`] and the
//! values on both sides.
//!
//! ```
//! use std::path::Path;
//! use isodiff::{diff_files, Kind, Options};
//!
//! // The pair the sources bundle: b's squashfs has a few planted changes.
//! let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
//! let (a, b) = (data.join("nixos-like-a.iso"), data.join("nixos-like-b.iso"));
//! let report = diff_files(&a, &b, &Options::default())?;
//!
//! assert!(!report.identical);
//! for d in &report.differences {
//!     // `/nix-store.squashfs:/etc/passwd  mode 0644 -> 0444`: the location is
//!     // outermost image first, `what()` the kind (and field), then both values.
//!     let (a, b) = isodiff::report::text::values(d);
//!     println!(
//!         "{}  {} {a} -> {b}",
//!         isodiff::report::text::location(&d.location),
//!         d.what(),
//!     );
//! }
//! let modes = report.differences.iter().filter(|d| d.kind() == Kind::Mode);
//! assert_eq!(modes.count(), 3);
//! # Ok::<(), isodiff::Error>(())
//! ```
//!
//! Either path may also be a directory (the tree an image was made from) or a
//! place inside an image, `nixos.iso:/nix-store.squashfs` or `a.iso:/boot`: see
//! [`input`] for how a `:` is read. A directory's entries are read field by
//! field as an image's are (from `lstat`, `readlink` and the extended
//! attributes; atime and ctime are left out, since reading a file changes the
//! one and no tool sets the other). [`manifest::write`] writes an mtree
//! manifest of an image.
//!
//! Open one image and read its image-level facts (volume descriptors, superblock,
//! boot catalog); [`listing::walk_nested`] walks its entries:
//!
//! ```
//! use std::path::Path;
//! use isodiff::{open, Limits, MappedFile};
//!
//! let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nixos-like-a.iso");
//! let map = MappedFile::open(&path)?;
//! let fs = open(map.bytes(), &Limits::default())?;
//! for fact in fs.facts() {
//!     println!("{} = {}", fact.name, fact.value);
//! }
//! # Ok::<(), isodiff::Error>(())
//! ```
//!
//! [`report::filter::Filter`] hides what a reader does not care about, counting
//! what it hid; `report::text`, `report::json` and the other renderers write a
//! report; [`Options::on_difference`] streams each difference to a sink as it is
//! found. The `examples/` folder of the sources has runnable programs for each
//! (`cargo run --example diff_two`, `list`, `filtered`, `stream`).
//!
//! # Features
//!
//! `cli` (default): the `isodiff` command and the crates only it uses (clap,
//! clap_complete, clap_mangen, indicatif, mimalloc). A program that links the
//! library alone depends on it with `default-features = false`.
//!
//! # Limits and untrusted input
//!
//! Images come from strangers. Every offset, length and count read from an image is
//! checked against the image before use; a damaged record is an error for its entry
//! (see [`Listing::errors`]) while the rest still lists; directory loops are detected;
//! depth, entry counts and continuation areas have budgets ([`Limits`]).

#![deny(missing_docs)]
// `unsafe` is forbidden in every module but `map`, which creates the memory map.
#![deny(unsafe_code)]

#[forbid(unsafe_code)]
mod accounting;
#[forbid(unsafe_code)]
mod bytes;
#[forbid(unsafe_code)]
mod diff;
#[forbid(unsafe_code)]
mod error;
#[forbid(unsafe_code)]
mod escape;
#[forbid(unsafe_code)]
mod formats;
#[forbid(unsafe_code)]
mod limits;
#[forbid(unsafe_code)]
pub mod lint;
#[forbid(unsafe_code)]
pub mod listing;
#[forbid(unsafe_code)]
pub mod manifest;
mod map;
#[forbid(unsafe_code)]
mod model;
#[forbid(unsafe_code)]
pub mod report;
#[forbid(unsafe_code)]
mod time;

pub use diff::{diff_bytes, diff_files, diff_filesystems, Options};
pub use error::{Error, Result};
pub use escape::escape;
pub use formats::input;
pub use formats::open::open;
pub use limits::Limits;
pub use map::MappedFile;
pub use model::{
    Content, Entry, EntryField, EntryKind, Fact, Filesystem, Follows, Format, Listing, Meta,
    NodeId, Role, Special, Value,
};
pub use report::{ByteAccounting, Difference, Kind, Location, Report, Which};
pub use time::{Precision, Timestamp};

/// The readers and the byte accounting below the API, for the fuzz targets
/// (each drives one reader without the format sniffing of [`open`]) and for
/// the tests that check one reader's tables or the accounting's keys. Not part
/// of the API: it changes with the internals, in any release.
#[doc(hidden)]
pub mod internals {
    pub use crate::accounting::{Explain, Key, Layout};
    pub use crate::formats::cpio::CpioFs;
    pub use crate::formats::fat::FatFs;
    pub use crate::formats::iso9660::IsoFs;
    pub use crate::formats::mtree::MtreeFs;
    pub use crate::formats::open::{image_format, open_nested};
    pub use crate::formats::squashfs::{BlockList, SquashFs};
}
