//! Errors of the library. Each names the structure and the byte offset where the
//! problem sits, so a damaged image can be inspected by hand at that spot.

use std::path::PathBuf;

/// The result type of the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading or comparing images.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The image file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
    /// The path names no regular file: a directory, a device, a pipe. Said apart
    /// from [`Error::Io`] because the OS's own words for it (mapping a directory
    /// fails with "No such device") send the user looking in the wrong place.
    #[error("{} is {what}; isodiff compares image files and directories", path.display())]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead (`a directory`, `a character device`, ...).
        what: &'static str,
    },
    /// The file holds no bytes at all (a failed download, a build that never
    /// wrote its image).
    #[error("{} is empty (0 bytes): there is no image in it", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A problem of one input file as a whole, with the file it is in: the
    /// errors of the readers name structures and offsets, not the file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A place inside an image (`IMAGE:/path`) that names nothing to compare:
    /// no such entry, or an entry that is neither a directory nor an image.
    #[error("{path}: {reason}")]
    Address {
        /// The path inside the image, as given.
        path: String,
        /// Why it names nothing to compare.
        reason: String,
    },
    /// No supported file system signature was found.
    #[error("not a recognized image: {0}")]
    UnknownFormat(String),
    /// A structure reaches past the end of the image.
    #[error("{structure} at byte {offset}: needs bytes up to {end} but the image has only {len} (truncated?)")]
    OutOfBounds {
        /// Which structure.
        structure: &'static str,
        /// Where it starts, from the start of its image.
        offset: u64,
        /// Where it would end.
        end: u64,
        /// The image's size.
        len: u64,
    },
    /// A structure holds a value it cannot hold.
    #[error("{structure} at byte {offset}: {reason}")]
    Malformed {
        /// Which structure.
        structure: &'static str,
        /// Where it starts, from the start of its image.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A budget of [`crate::Limits`] was used up.
    #[error("limit exceeded: {limit} (reached {value}, allowed {max})")]
    LimitExceeded {
        /// The name of the limit.
        limit: &'static str,
        /// The value that exceeded it.
        value: u64,
        /// The limit in force.
        max: u64,
    },
    /// A directory contains one of its own ancestors.
    #[error("directory loop: {child} leads back to its ancestor {ancestor}")]
    Loop {
        /// The path of the ancestor.
        ancestor: String,
        /// The path of the entry that points back to it.
        child: String,
    },
}

impl Error {
    /// The error itself, or for [`Error::InFile`] the error inside: what to match
    /// on to tell kinds of trouble apart.
    pub fn cause(&self) -> &Error {
        match self {
            Error::InFile { source, .. } => source.cause(),
            other => other,
        }
    }

    /// A `Malformed` error.
    pub(crate) fn malformed(
        structure: &'static str,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Malformed {
            structure,
            offset,
            reason: reason.into(),
        }
    }
}
