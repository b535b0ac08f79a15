//! Errors of the library. Each names the structure and the byte offset where the
//! problem sits, so a damaged image can be inspected by hand at that spot.

use std::path::{Path, PathBuf};

use serde::Serialize;

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
    /// A problem of one input, with the file it is in and, for a comparison,
    /// which of the two inputs that is: the errors of the readers name
    /// structures and offsets, not the file. Its text is the file, the images
    /// nested in it that enclose the problem ([`Error::InImage`]), then the
    /// problem: `b.iso:/nix-store.squashfs: squashfs superblock at byte 0: ...`.
    #[error("{}", in_file_text(path, source))]
    InFile {
        /// The file (`a` or `b` for images compared as bytes).
        path: PathBuf,
        /// The input of a comparison it is; `None` for one image read alone.
        side: Option<Which>,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// A problem inside an image nested in another, with that image's path in
    /// its parent (`/nix-store.squashfs`): one link of the chain of enclosing
    /// images ([`Error::images`]).
    #[error("{image}: {source}")]
    InImage {
        /// The nested image's path in its parent, as text.
        image: String,
        /// What is wrong in it.
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

/// Which input of a comparison: where a problem was found, which side has
/// something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// The first image.
    A,
    /// The second image.
    B,
}

impl Which {
    /// `a` or `b`.
    pub fn letter(self) -> &'static str {
        match self {
            Which::A => "a",
            Which::B => "b",
        }
    }
}

/// `file:/image:/image: problem`; an error of the file itself (it cannot be
/// read, it is empty) names the file already.
fn in_file_text(path: &Path, source: &Error) -> String {
    let mut text = path.display().to_string();
    let mut inner = source;
    while let Error::InImage { image, source } = inner {
        text.push(':');
        text.push_str(image);
        inner = source;
    }
    match inner {
        Error::Io { .. } | Error::NotAFile { .. } | Error::EmptyFile { .. } => inner.to_string(),
        _ => format!("{text}: {inner}"),
    }
}

impl Error {
    /// The error itself, or for [`Error::InFile`] and [`Error::InImage`] the
    /// error inside: what to match on to tell kinds of trouble apart.
    pub fn cause(&self) -> &Error {
        match self {
            Error::InFile { source, .. } | Error::InImage { source, .. } => source.cause(),
            other => other,
        }
    }

    /// Which input of a comparison the error is in, when it is one of the two
    /// ([`crate::diff_files`], [`crate::diff_bytes`]).
    pub fn side(&self) -> Option<Which> {
        match self {
            Error::InFile { side, .. } => *side,
            _ => None,
        }
    }

    /// The images nested in the input that enclose the error, outermost first,
    /// each as its path in its parent: `["/nix-store.squashfs"]` for a damaged
    /// squashfs named as `nixos.iso:/nix-store.squashfs`; empty when the error
    /// is in the input itself.
    pub fn images(&self) -> Vec<&str> {
        let mut images = Vec::new();
        let mut e = self;
        loop {
            match e {
                Error::InFile { source, .. } => e = source,
                Error::InImage { image, source } => {
                    images.push(image.as_str());
                    e = source;
                }
                _ => return images,
            }
        }
    }

    /// The error inside the nested image `image` (its path in its parent).
    pub(crate) fn in_image(self, image: &[u8]) -> Error {
        Error::InImage {
            image: crate::escape::escape(image),
            source: Box::new(self),
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
