//! Opening an image: the one place where bytes become a [`Filesystem`], for the
//! outermost images and for every image nested in another, in the diff and in
//! `isodiff ls` alike.
//!
//! The format is recognized by its magic bytes, never by a name. A compressed
//! stream (gzip, xz, lzma, zstd, bzip2, lz4) is looked into: when its first
//! decompressed bytes are an image, the whole stream is decompressed into a buffer
//! of at most [`Limits::max_decompressed_bytes`] and that image is opened. Nothing
//! is written to disk. A compressed cpio archive (an initrd) is the exception: it
//! opens as cpio directly, so that its segments (an uncompressed microcode archive,
//! then a compressed main one) stay visible as they are.
//!
//! # What the report learns of it
//!
//! An image read out of a compressed stream carries image facts named after the
//! compressor: `zstd.compressed_size` (bytes of the stream), the gzip header's
//! fields (`gzip.mtime`, `gzip.os`, `gzip.name`), and `xz.trailing_bytes` (say)
//! when bytes follow the stream. Facts are what the renderers already print and
//! the JSON contract already holds (`kind: "image"`, `field`), so no new report
//! type is needed. They are grouped by the compressor's name rather than under one
//! `input.` prefix because the diff reports a group of facts that only one side
//! has as one line naming the group: `nixos.iso.zst` against a plain `nixos.iso`
//! reads `zstd present -> (none)`, which says from what the image was
//! decompressed; two streams of one compressor show their differing fields
//! (`zstd.compressed_size 152905 -> 151992`). Like every fact, they show only where
//! the two sides differ.
//!
//! A stream cut short or damaged still opens when what came out of it is an image:
//! what could be decompressed is read as a truncated image, and the damage is an
//! error of its root directory.
//!
//! # Why the buffer lives in a cell
//!
//! Readers borrow the bytes they read ([`IsoFs<'a>`](super::iso9660::IsoFs) and
//! the others), and [`open`] returns a file system that borrows its input. A
//! decompressed buffer has no owner outside the call, so it is kept together with
//! the reader opened over it in a [`self_cell`] (a self-referential pair that the
//! crate proves sound), instead of leaking it or teaching every reader to own its
//! bytes.

use std::borrow::Cow;

use super::compress::{self, Compression, Sink};
use super::sniff::{self as magic, ISO_HEAD};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::{Content, Fact, Filesystem, Format, Listing, Meta, NodeId, Special, Value};

/// How much of a compressed file's head is decompressed from to see whether it
/// holds an image. The ISO 9660 signature is 32 KiB into the decompressed bytes,
/// and a bzip2 stream yields nothing before its whole first block (up to 900 KB,
/// which data that does not compress keeps near that size) is read.
const COMPRESSED_HEAD: usize = 1 << 20;

/// Opens the file system in `data`, recognized by its magic bytes; a compressed
/// stream that holds an image is decompressed (under
/// [`Limits::max_decompressed_bytes`]) and that image opened.
///
/// Fails when `data` is no image this crate reads, or when the image as a whole
/// is unreadable; damage further in is reported by [`Filesystem::children`] of the
/// directory where it is.
pub fn open<'a>(data: &'a [u8], limits: &Limits) -> Result<Box<dyn Filesystem + 'a>> {
    if let Some(format) = magic::sniff(data) {
        return open_as(format, data, limits);
    }
    if data.is_empty() {
        return Err(Error::UnknownFormat("no bytes at all".into()));
    }
    if let Some(c) = Compression::detect(data) {
        return decompressed(c, data, limits);
    }
    Err(Error::UnknownFormat(
        "no ISO 9660 signature at byte 32769, no squashfs, FAT boot sector, cpio, ar \
         or tar magic, and no compressed image or cpio archive"
            .into(),
    ))
}

/// The format of the image a file's content holds, if it holds one.
///
/// Reads the head once: as many bytes as the farthest magic needs (ISO 9660's,
/// 32 KiB in), fewer for a shorter file. A file kept in a squashfs costs one
/// decode of its first block (streaming compressors stop after the head), or a
/// cached fragment block for a short file. Only a file that starts as a
/// compressed stream is decompressed from, once, and read further (up to
/// `COMPRESSED_HEAD`) only when its head decompresses to too little to hold
/// the ISO 9660 magic: each decode of a compressed man page counts when a
/// listing meets tens of thousands of them.
pub fn image_format(content: &Content<'_>) -> Option<Format> {
    let head = content.head(ISO_HEAD).ok()?;
    if let Some(format) = magic::sniff(&head) {
        return Some(format);
    }
    let c = Compression::detect(&head)?;
    let mut inside = compress::peek(c, &head, ISO_HEAD);
    if inside.len() < ISO_HEAD && content.len() > head.len() as u64 {
        inside = compress::peek(c, &content.head(COMPRESSED_HEAD).ok()?, ISO_HEAD);
    }
    magic::sniff(&inside)
}

/// An image opened from a file of another image.
pub struct Nested<'c> {
    /// The file system.
    pub fs: Box<dyn Filesystem + 'c>,
    /// The bytes it was opened from when they are one slice of the parent image
    /// (an ISO extent): the parent's byte accounting leaves them to this image.
    /// `None` when the file had to be gathered or decoded into a buffer.
    pub source: Option<&'c [u8]>,
}

/// Opens the image held by a file's `content`, gathering the file into a buffer
/// of at most `max_buffer` bytes when it is not one slice of its image (a file of
/// a squashfs), then as [`open`] does. Call it for contents that
/// [`image_format`] recognized.
pub fn open_nested<'c>(
    content: &'c Content<'_>,
    limits: &Limits,
    max_buffer: u64,
) -> Result<Nested<'c>> {
    match content.contiguous(max_buffer)? {
        Cow::Borrowed(bytes) => Ok(Nested {
            fs: open(bytes, limits)?,
            source: Some(bytes),
        }),
        Cow::Owned(buffer) => {
            let cell = Cell::try_new(buffer, |b| open(b, limits))?;
            Ok(Nested {
                fs: Box::new(Buffered::new(cell, None, Vec::new())),
                source: None,
            })
        }
    }
}

/// Opens `data` as `format`.
fn open_as<'a>(
    format: Format,
    data: &'a [u8],
    limits: &Limits,
) -> Result<Box<dyn Filesystem + 'a>> {
    Ok(match format {
        Format::Iso9660 => Box::new(super::iso9660::IsoFs::open(data, limits)?),
        Format::Squashfs => Box::new(super::squashfs::SquashFs::open(data, limits)?),
        Format::Fat => Box::new(super::fat::FatFs::open(data, limits)?),
        Format::Cpio => Box::new(super::cpio::CpioFs::open(data, limits)?),
        Format::Uki => Box::new(super::pe::UkiFs::open(data)?),
        Format::Ar => Box::new(super::ar::ArFs::open(data, limits)?),
        Format::Tar => Box::new(super::tar::TarFs::open(data, limits)?),
        // Never sniffed: a directory is opened by its path, a manifest only
        // as a whole input (see `input`).
        Format::Directory | Format::Manifest => {
            return Err(Error::UnknownFormat(format!(
                "a {format} is opened only as a whole input"
            )))
        }
    })
}

/// Decompresses the stream `data` starts with and opens the image inside.
fn decompressed<'a>(
    c: Compression,
    data: &'a [u8],
    limits: &Limits,
) -> Result<Box<dyn Filesystem + 'a>> {
    // Look before decompressing it all: a compressed file of another kind is
    // refused after a few KiB, not after gigabytes.
    let head = compress::peek(c, data, ISO_HEAD);
    let Some(format) = magic::sniff(&head) else {
        return Err(Error::UnknownFormat(format!(
            "a compressed stream ({}, {} bytes) whose content is no image this tool \
             reads (no ISO 9660, squashfs, FAT, cpio, ar or tar signature once decompressed)",
            c.name(),
            data.len()
        )));
    };
    let max = limits.max_decompressed_bytes;
    let mut sink = Sink::new(0, max);
    if let Some(size) = compress::content_size(c, data) {
        // The header says it holds more than allowed: no need to find out.
        crate::limits::check("decompressed bytes of one image", size, max)?;
        sink.reserve(size);
    }
    let (consumed, header, damage) = match compress::decompress(c, data, 0, &mut sink) {
        Ok(stream) => (stream.consumed, stream.facts, None),
        Err(e @ Error::LimitExceeded { .. }) => return Err(e),
        // Cut short or damaged: what came out before the damage is opened as a
        // truncated image when it still is one; the damage is said on its root.
        Err(e) if magic::sniff(&sink.out) == Some(format) => (data.len(), Vec::new(), Some(e)),
        Err(e) => return Err(e),
    };
    let name = c.name();
    let mut facts = vec![Fact::packing(
        format!("{name}.compressed_size"),
        Value::Int(consumed as u64),
    )];
    // The stream's header fields come named by their compressor (`gzip.mtime`).
    facts.extend(header.into_iter().map(|(n, v)| Fact::new(n, v)));
    let trailing = data.len().saturating_sub(consumed);
    if trailing > 0 {
        facts.push(Fact::new(
            format!("{name}.trailing_bytes"),
            Value::Int(trailing as u64),
        ));
    }
    let cell = Cell::try_new(sink.out, |b| open_as(format, b, limits))?;
    let mut fs = Buffered::new(cell, Some(facts), damage.into_iter().collect());
    fs.decompressed_from = Some(name);
    Ok(Box::new(fs))
}

/// A reader opened over bytes it borrows (the dependent's lifetime).
type Reader<'b> = Box<dyn Filesystem + 'b>;

self_cell::self_cell!(
    /// A buffer and the file system opened over it.
    struct Cell {
        owner: Vec<u8>,
        #[covariant]
        dependent: Reader,
    }
);

/// A file system read from a buffer of its own (decompressed, or gathered from
/// the blocks of a file), with the facts of how the buffer was made and the
/// problems met making it.
struct Buffered {
    cell: Cell,
    /// The facts of the compressed stream followed by the image's own; `None`:
    /// the image's own.
    facts: Option<Vec<Fact>>,
    /// Problems of the buffer (a stream cut short), said on the root directory.
    root_errors: Vec<Error>,
    /// The compressor of the stream the buffer was decompressed from.
    decompressed_from: Option<&'static str>,
}

impl Buffered {
    fn new(cell: Cell, input_facts: Option<Vec<Fact>>, root_errors: Vec<Error>) -> Buffered {
        let facts = input_facts.map(|mut f| {
            f.extend_from_slice(cell.borrow_dependent().facts());
            f
        });
        Buffered {
            cell,
            facts,
            root_errors,
            decompressed_from: None,
        }
    }

    fn inner(&self) -> &dyn Filesystem {
        self.cell.borrow_dependent().as_ref()
    }
}

impl Filesystem for Buffered {
    fn format(&self) -> Format {
        self.inner().format()
    }

    fn decompressed_from(&self) -> Option<&'static str> {
        self.decompressed_from
    }

    fn facts(&self) -> &[Fact] {
        match &self.facts {
            Some(f) => f,
            None => self.inner().facts(),
        }
    }

    fn root(&self) -> NodeId {
        self.inner().root()
    }

    fn root_meta(&self) -> &Meta {
        self.inner().root_meta()
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        let mut listing = self.inner().children(dir)?;
        if dir == self.root() {
            listing.errors.extend(self.root_errors.iter().cloned());
        }
        Ok(listing)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        self.inner().content(file)
    }

    fn specials(&self) -> Vec<Special<'_>> {
        self.inner().specials()
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        self.inner().raw_bytes()
    }

    fn byte_layout(&self) -> Result<crate::model::span::Layout> {
        self.inner().byte_layout()
    }

    fn placements(&self) -> Vec<crate::model::span::Placement> {
        self.inner().placements()
    }

    fn warnings(&self) -> Vec<String> {
        self.inner().warnings()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::compress::tests::{bz2, gz, xz};

    /// The smallest image there is to sniff: a squashfs superblock's magic.
    fn squashfs_head() -> Vec<u8> {
        let mut b = b"hsqs".to_vec();
        b.resize(96, 0);
        b
    }

    #[test]
    fn sniffs_into_compressed_streams() {
        let head = squashfs_head();
        let zst = zstd::bulk::compress(&head, 3).unwrap_or_default();
        for packed in [gz(&head), xz(&head), bz2(&head), zst] {
            assert_eq!(
                image_format(&Content::Slices(vec![&packed])),
                Some(Format::Squashfs)
            );
        }
        let text = gz(b"a compressed text file");
        assert_eq!(image_format(&Content::Slices(vec![&text])), None);
    }

    #[test]
    fn compressed_files_that_are_no_image_are_refused_by_what_they_are() {
        let e = open(&xz(b"plain text"), &Limits::default()).err();
        let said = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(said.contains("a compressed stream (xz, "), "{said}");
        let e = open(&[], &Limits::default()).err();
        assert!(matches!(e, Some(Error::UnknownFormat(_))), "{e:?}");
    }
}
