//! What one side of a comparison names, and the file system it is: an image
//! file, a directory (the tree an image was made from), or a place inside an
//! image, `IMAGE:/path`, which is a nested image (`nixos.iso:/nix-store.squashfs`)
//! or a directory of it (`a.iso:/boot`). Images nested deeper are named in turn:
//! `nixos.iso:/boot/efi.img:/EFI`.
//!
//! # A file name holding `:`, or an address
//!
//! The whole argument is tried as a path first: when it names a file or a
//! directory, it is that, whatever `:` it holds. Only when it names nothing is
//! it read as an address: split at a `:` followed by `/`, leftmost first, where
//! the part before names a file. The part after is an absolute path inside
//! that image (so `a.iso:boot` is never an address). Inside an image the same
//! rule holds: the whole rest names an entry if it can, else it is split at
//! the leftmost `:/` whose left part is a file holding an image. An existing
//! file named `a.iso:/x` (a directory `a.iso:` with a file `x`) therefore wins
//! over the address; to name the address then, give the image another name (a
//! symbolic link). No escape syntax was added: every spelling of a path that
//! exists (`./a.iso:/x`, `a.iso://x`) still names that path, and a rule that
//! never reinterprets an existing path cannot surprise anyone.
//!
//! # What a place inside an image compares
//!
//! A nested image is compared whole, with its image facts (its superblock).
//! A directory of an image is compared as a tree only: the image's facts
//! (volume descriptors, boot catalog, system area) describe the whole image,
//! not the part named, so none are compared, and the image's bytes are not
//! accounted.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::map::MappedFile;
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};

/// One input as the user named it: a file or directory of the machine, and a
/// place inside it when it is an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    file: PathBuf,
    inside: Option<Vec<u8>>,
}

impl Input {
    /// Reads an argument (see the module docs for how a `:` in it is read).
    /// Fails, with the OS's error for the whole argument, when it names
    /// nothing and holds no `:/` after an existing file.
    pub fn locate(arg: &Path) -> Result<Input> {
        let whole = std::fs::symlink_metadata(arg);
        if whole.is_ok() {
            return Ok(Input {
                file: arg.to_owned(),
                inside: None,
            });
        }
        let bytes = arg.as_os_str().as_encoded_bytes();
        for i in split_points(bytes) {
            let head = Path::new(os_str(&bytes[..i]));
            if head.is_file() {
                return Ok(Input {
                    file: head.to_owned(),
                    inside: Some(bytes[i + 1..].to_vec()),
                });
            }
        }
        // `DIR:/x` where `DIR/x` does not exist: said as what it is, since the
        // OS's "no such file" for the whole argument does not tell that only
        // an image file can be looked into this way.
        for i in split_points(bytes) {
            let head = Path::new(os_str(&bytes[..i]));
            if head.is_dir() {
                return Err(Error::Address {
                    path: arg.display().to_string(),
                    reason: format!(
                        "{} is a directory, not an image file: IMAGE:/PATH looks inside \
                         images only; name a directory's entries by their paths ({}{})",
                        head.display(),
                        head.display(),
                        String::from_utf8_lossy(&bytes[i + 1..]),
                    ),
                });
            }
        }
        let source = whole
            .err()
            .unwrap_or_else(|| std::io::ErrorKind::NotFound.into());
        Err(Error::Io {
            path: arg.to_owned(),
            source: std::sync::Arc::new(source),
        })
    }

    /// The file or directory of the machine.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The place inside it, as given after the `:` (starting with `/`).
    pub fn inside(&self) -> Option<&[u8]> {
        self.inside.as_deref()
    }

    /// Maps the image file, or checks the directory. A directory with a place
    /// inside it is no input: its files are named by their paths.
    pub fn load(&self) -> Result<Loaded> {
        #[cfg(unix)]
        if self.inside.is_none() && self.file.is_dir() {
            return Ok(Loaded::Directory(self.file.clone()));
        }
        MappedFile::open(&self.file).map(Loaded::Image)
    }
}

/// The argument bytes `b` as an OS string: they came from one, cut at an
/// ASCII `:`, so they still are one.
fn os_str(b: &[u8]) -> &std::ffi::OsStr {
    // Unix paths are bytes; elsewhere only UTF-8 arguments are split, which
    // avoids the unsafe `from_encoded_bytes_unchecked`.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
    #[cfg(not(unix))]
    {
        std::ffi::OsStr::new(std::str::from_utf8(b).unwrap_or(""))
    }
}

/// Where a `:` is followed by `/`, leftmost first.
fn split_points(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    b.windows(2)
        .enumerate()
        .filter(|(_, w)| w == b":/")
        .map(|(i, _)| i)
}

/// An input made ready to open.
#[derive(Debug)]
pub enum Loaded {
    /// An image file, mapped read-only.
    Image(MappedFile),
    /// A directory, read as it is listed.
    #[cfg(unix)]
    Directory(PathBuf),
}

impl Loaded {
    /// The file system: the image, recognized by its magic, an mtree
    /// manifest, or the directory.
    pub fn open(&self, limits: &Limits) -> Result<Box<dyn Filesystem + '_>> {
        match self {
            // A manifest is read only here, as a whole input: inside an
            // image a file starting `#mtree` is just a file.
            Loaded::Image(map) if super::mtree::sniff(map.bytes()) => {
                Ok(Box::new(super::mtree::MtreeFs::open(map.bytes(), limits)?))
            }
            Loaded::Image(map) => super::open::open(map.bytes(), limits),
            #[cfg(unix)]
            Loaded::Directory(path) => Ok(Box::new(super::dir::DirFs::open(path, limits)?)),
        }
    }

    /// The map of an image file.
    pub(crate) fn map(&self) -> Option<&MappedFile> {
        match self {
            Loaded::Image(map) => Some(map),
            #[cfg(unix)]
            Loaded::Directory(_) => None,
        }
    }
}

/// Calls `f` with the file system `inside` names in `fs` (`fs` itself for
/// `None` or `/`), opening the nested images on the way (gathered into at
/// most `max_buffer` bytes where they are not one slice of their parent).
pub fn descend<R>(
    fs: &dyn Filesystem,
    inside: Option<&[u8]>,
    limits: &Limits,
    max_buffer: u64,
    f: impl FnOnce(&dyn Filesystem) -> R,
) -> Result<R> {
    match inside {
        None => Ok(f(fs)),
        Some(text) => descend_in(fs, text, limits, max_buffer, f),
    }
}

fn address(path: &[u8], reason: impl Into<String>) -> Error {
    Error::Address {
        path: crate::escape::escape(path),
        reason: reason.into(),
    }
}

fn descend_in<R>(
    fs: &dyn Filesystem,
    text: &[u8],
    limits: &Limits,
    max_buffer: u64,
    f: impl FnOnce(&dyn Filesystem) -> R,
) -> Result<R> {
    if !text.starts_with(b"/") {
        return Err(address(text, "a path inside an image starts with /"));
    }
    if text.split(|&b| b == b'/').all(|c| c.is_empty()) {
        return Ok(f(fs));
    }
    if let Some(e) = lookup(fs, text)? {
        return match e.meta.kind {
            EntryKind::Dir => Ok(f(&Subtree {
                fs,
                node: e.node,
                meta: e.meta,
            })),
            EntryKind::File => {
                // A manifest's section of a nested image (`a.mtree:/x.squashfs`).
                if let Some(described) = fs.described_image(e.node) {
                    return Ok(f(described.as_ref()));
                }
                let content = fs.content(e.node)?;
                if super::open::image_format(&content).is_none() {
                    return Err(address(
                        text,
                        "is a file but no image this tool reads (nor a directory)",
                    ));
                }
                let nested = super::open::open_nested(&content, limits, max_buffer)
                    .map_err(|e| e.in_image(text))?;
                Ok(f(nested.fs.as_ref()))
            }
            other => Err(address(
                text,
                format!("is a {}, not a directory or an image", other.name()),
            )),
        };
    }
    for i in split_points(text) {
        let (head, rest) = (&text[..i], &text[i + 1..]);
        let Some(e) = lookup(fs, head)? else {
            continue;
        };
        if e.meta.kind != EntryKind::File {
            continue;
        }
        if let Some(described) = fs.described_image(e.node) {
            return descend_in(described.as_ref(), rest, limits, max_buffer, f)
                .map_err(|e| e.in_image(head));
        }
        let content = fs.content(e.node)?;
        if super::open::image_format(&content).is_none() {
            continue;
        }
        let nested =
            super::open::open_nested(&content, limits, max_buffer).map_err(|e| e.in_image(head))?;
        return descend_in(nested.fs.as_ref(), rest, limits, max_buffer, f)
            .map_err(|e| e.in_image(head));
    }
    Err(address(text, "no such entry"))
}

/// The entry at `path` (components between `/`), not following symbolic
/// links; `None` when a component is missing or not a directory.
fn lookup(fs: &dyn Filesystem, path: &[u8]) -> Result<Option<Entry>> {
    let mut dir = fs.root();
    let mut found: Option<Entry> = None;
    for name in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if let Some(e) = &found {
            if e.meta.kind != EntryKind::Dir {
                return Ok(None);
            }
            dir = e.node;
        }
        let listing = fs.children(dir)?;
        match listing.entries.into_iter().find(|e| e.name == name) {
            Some(e) => found = Some(e),
            None => return Ok(None),
        }
    }
    Ok(found)
}

/// A directory of an image as a file system of its own: its tree, without
/// the image's facts, special parts or bytes (they are the whole image's).
struct Subtree<'f> {
    fs: &'f dyn Filesystem,
    node: NodeId,
    meta: Meta,
}

impl Filesystem for Subtree<'_> {
    fn format(&self) -> Format {
        self.fs.format()
    }

    fn facts(&self) -> &[Fact] {
        &[]
    }

    fn root(&self) -> NodeId {
        self.node
    }

    fn root_meta(&self) -> &Meta {
        &self.meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        self.fs.children(dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        self.fs.content(file)
    }

    fn described_image(&self, file: NodeId) -> Option<Box<dyn Filesystem + '_>> {
        self.fs.described_image(file)
    }

    // The subtree was read as leniently as the whole image: say so.
    fn warnings(&self) -> Vec<String> {
        self.fs.warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_splits_after_an_existing_file_only() {
        let dir = std::env::temp_dir().join(format!("isodiff-input-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let made = std::fs::create_dir_all(dir.join("d:")).and_then(|()| {
            std::fs::write(dir.join("a.iso"), b"x")?;
            std::fs::write(dir.join("d:/x"), b"x")?;
            std::fs::write(dir.join("b:c.iso"), b"x")
        });
        let check = || {
            made.as_ref().map_err(|e| e.to_string())?;
            let at = |s: &str| Input::locate(&dir.join(s)).map_err(|e| e.to_string());
            // A name with ':' that exists is that file.
            let plain = at("b:c.iso")?;
            assert_eq!(
                (plain.file(), plain.inside()),
                (&*dir.join("b:c.iso"), None)
            );
            // Else the part before ':/' that is a file, and a path inside.
            let addr = at("b:c.iso:/boot/x.img:/y")?;
            assert_eq!(addr.file(), dir.join("b:c.iso"));
            assert_eq!(addr.inside(), Some(&b"/boot/x.img:/y"[..]));
            // An existing path wins over an address ('d:' is a directory).
            let real = at("d:/x")?;
            assert_eq!(real.inside(), None);
            // No '/' after the ':': no address, the OS's error for the whole.
            assert!(at("a.iso:boot").is_err());
            assert!(at("nothing.iso:/boot").is_err());
            // A directory is no image to look into: said so.
            let said = at("d::/y").err().unwrap_or_default();
            assert!(
                said.contains("d: is a directory, not an image file"),
                "{said}"
            );
            Ok::<(), String>(())
        };
        let result = check();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(result, Ok(()));
    }
}
