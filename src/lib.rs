//! isodiff compares two ISO 9660 images and every file system nested in them, and
//! pinpoints exactly what differs.
//!
//! # From the top
//!
//! ```no_run
//! use isodiff::{open, Limits, MappedFile};
//!
//! let map = MappedFile::open("nixos.iso".as_ref())?;
//! let fs = open(map.bytes(), &Limits::default())?;
//! for fact in fs.facts() {
//!     println!("{} = {}", fact.name, fact.value);
//! }
//! # Ok::<(), isodiff::Error>(())
//! ```
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
pub mod accounting;
#[forbid(unsafe_code)]
mod bytes;
#[forbid(unsafe_code)]
pub mod diff;
#[forbid(unsafe_code)]
pub mod error;
#[forbid(unsafe_code)]
pub mod escape;
#[forbid(unsafe_code)]
pub mod formats;
#[forbid(unsafe_code)]
pub mod limits;
#[forbid(unsafe_code)]
pub mod listing;
mod map;
#[forbid(unsafe_code)]
pub mod model;
#[forbid(unsafe_code)]
pub mod report;
#[forbid(unsafe_code)]
pub mod time;

pub use diff::{diff_bytes, diff_files, diff_filesystems, Options};
pub use error::{Error, Result};
pub use formats::open::open;
pub use limits::Limits;
pub use map::MappedFile;
pub use model::{
    Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId, Value,
};
pub use report::{ByteAccounting, Difference, Kind, Report};
pub use time::{Precision, Timestamp};
