//! Squashfs 4.0: superblock, compressor options, inode, directory, id, fragment and
//! xattr tables, and file data as raw blocks.
//!
//! # Why our own parser and not backhand
//!
//! The design names backhand for squashfs. Its docs and source (0.25) show a reader
//! that loads every inode into a map and the whole directory table up front, fails
//! the whole image with a unit `CorruptedOrInvalidSquashfs` on any damage (the
//! detail goes to a log), parses no xattrs, and needs Rust 1.90. A diff tool must
//! say which structure at which byte is damaged and keep listing the rest, so this
//! module reads the on-disk format itself: it is small (metadata blocks of at most
//! 8 KiB behind a 2-byte header, seven inode shapes, one directory record shape,
//! lookup tables). It uses the same decompressor crates as backhand (flate2,
//! liblzma, lz4_flex, rust-lzo, zstd), each bounded by an output buffer.
//!
//! # Shape
//!
//! The tree is walked once at open time, as for ISO 9660: every directory listing
//! and inode is read, ids and xattrs resolved, loops and repeated directories
//! refused. File data is not touched until [`Filesystem::content`] is asked; it then
//! reads the file's block list from its inode and hands out the raw blocks and the
//! fragment as slices of the image ([`Content::Blocks`]).
//!
//! # Untrusted input
//!
//! Every table position is checked against the superblock's `bytes_used` and the
//! tables around it, every reference against its table, every metadata block to
//! decompress to at most 8 KiB and every data or fragment block to at most the block
//! size. Counts from the image never size an allocation directly: buffers grow with
//! bytes actually read, under caps where real images stay far below (4 Mi blocks per
//! file, 4 KiB symlink targets, 64 KiB xattr values, 1 MiB of xattrs per inode and
//! 256 MiB per image). Decompressed metadata blocks are cached, at most 512 of them.
//! A fragment block is decompressed for each file that reads its tail: no fragment
//! cache, so memory stays at one block per read.

mod compress;
mod content;
mod dir;
mod entries;
mod inode;
mod metadata;
mod spans;
mod superblock;
mod walk;
mod xattr;

pub use crate::model::blocks::{BlockList, DataBlock, FragmentTail};
pub use compress::Compressor;
pub use content::{FragmentCache, SquashCodec};
pub(crate) use superblock::has_magic as sniff;

/// Bytes of decompressed fragment blocks kept per image (16 blocks of 1 MiB,
/// 128 of 128 KiB). Files are read about in the order their tails were
/// packed, so a few blocks serve; the cache lives as long as the image, through
/// the byte accounting's peak.
const FRAGMENT_CACHE_BYTES: usize = 16 << 20;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::formats::tree;
use crate::limits::Limits;
use crate::model::blocks::Codec;
use crate::model::{Content, Fact, Filesystem, Format, Listing, Meta, NodeId, Value};
use metadata::{IndexEntry, Lookup, Reader, Table};
use superblock::{Superblock, ABSENT, SUPERBLOCK_SIZE};

/// Bit of a block size word that marks a block stored uncompressed.
const BLOCK_UNCOMPRESSED: u32 = 1 << 24;

/// An opened squashfs image.
#[derive(Debug)]
pub struct SquashFs<'a> {
    image: Bytes<'a>,
    reader: Reader<'a>,
    sb: Superblock,
    facts: Vec<Fact>,
    tree: walk::Tree,
    /// The root's metadata, made once ([`Filesystem::root_meta`] lends it).
    root_meta: Meta,
    inode_table: Table,
    fragments: Lookup,
    /// Decodes the blocks of the files, with a cache of fragment blocks.
    codec: SquashCodec,
}

impl<'a> SquashFs<'a> {
    /// Parses the superblock and tables of `data` and walks its directory tree.
    ///
    /// Fails only when the superblock is unreadable. A truncated or damaged
    /// image opens with what can be read: a `bytes_used` past the end, an
    /// unreadable id table (owners then unknown), fragment table index (tails
    /// then unreadable, each file saying so) or root inode (the root then empty,
    /// the superblock still compared) are errors of the root directory; damaged
    /// entries are reported by [`Filesystem::children`] of their directory, and
    /// damaged image-level extras (compressor options, xattr table) by the
    /// root's.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<SquashFs<'a>> {
        let image = Bytes::new(data);
        let sb = superblock::read(image)?;
        let reader = Reader::new(image, sb.compressor);
        let mut facts = sb.facts();
        let mut root_errors = Vec::new();
        if sb.bytes_used > image.len() {
            root_errors.push(Error::OutOfBounds {
                structure: "file system (superblock bytes_used)",
                offset: 0,
                end: sb.bytes_used,
                len: image.len(),
            });
        }
        match superblock::compressor_options(&sb, &reader) {
            Ok(f) => facts.extend(f),
            Err(e) => root_errors.push(e),
        }

        let id_lookup = Lookup {
            index: sb.id_table,
            count: u64::from(sb.id_count),
            entry_size: entries::IdEntry::LEN,
            floor: SUPERBLOCK_SIZE,
            name: "id table",
        };
        // Without the id table (the last table: the first cut by a truncation)
        // the entries are still read, their owners unknown.
        let ids = image
            .get(sb.id_table, id_lookup.index_len(), "id table index")
            .and_then(|_| {
                (0..id_lookup.count)
                    .map(|i| {
                        id_lookup
                            .entry(&reader, i)
                            .map(|e| entries::IdEntry::from_prefix(&e).id())
                    })
                    .collect::<Result<Vec<u32>>>()
            })
            .map_err(|e| root_errors.push(e))
            .ok();

        let fragments = Lookup {
            index: sb.fragment_table,
            count: u64::from(sb.fragment_count),
            entry_size: entries::FragmentEntry::LEN,
            floor: SUPERBLOCK_SIZE,
            name: "fragment table",
        };
        // Without the fragment index, files' tails are unreadable (each says so
        // when read); the tree still is.
        if fragments.count > 0 {
            if let Err(e) = image.get(
                sb.fragment_table,
                fragments.index_len(),
                "fragment table index",
            ) {
                root_errors.push(e);
            }
        }

        let xattrs = match xattr::Xattrs::open(&reader, sb.xattr_id_table, sb.bytes_used) {
            Ok(x) => x,
            Err(e) => {
                root_errors.push(e);
                None
            }
        };
        if let Some(x) = &xattrs {
            facts.push(Fact::new("xattr.sets", Value::Int(x.count())));
        }

        let inode_table = Table {
            start: sb.inode_table,
            end: sb.directory_table,
            name: "inode table",
        };
        let dir_table = Table {
            start: sb.directory_table,
            end: directory_table_end(image, &sb),
            name: "directory table",
        };
        let walker = walk::Walker::new(
            &reader,
            inode_table,
            dir_table,
            sb.block_size,
            ids.as_deref(),
            xattrs,
            limits,
        );
        // Without its root inode nothing can be listed: only the root is there,
        // saying why, and the superblock is still compared.
        // As many entries as inodes, but hard links; no more than the limit
        // allows, nor than a hostile superblock's count could fit in its
        // inode table (an inode is at least 20 bytes, and a real table
        // compresses them less than tenfold: a table that packs more grows the
        // arena as it is read instead).
        let expected = u64::from(sb.inode_count)
            .min(limits.max_entries)
            .min(inode_table.end.saturating_sub(inode_table.start) / 2);
        let tree = walker.walk(
            sb.root_inode,
            Vec::new(),
            usize::try_from(expected).unwrap_or(0),
        );
        let mut tree = tree.unwrap_or_else(|e| walk::Tree::unreadable(sb.root_inode, e));
        // The image's own damage first, then what the walk met in the root.
        if let Some(root) = tree.nodes.first_mut() {
            root_errors.append(&mut root.errors);
            root.errors = root_errors;
        }
        facts.push(Fact::layout("image_size", Value::Int(image.len())));
        let codec = SquashCodec::new(
            sb.compressor,
            Some(FragmentCache::new(FRAGMENT_CACHE_BYTES)),
        );
        let root_meta = tree.nodes.first().map_or_else(
            || Meta::new(crate::model::EntryKind::Dir),
            |root| root.stored.meta(),
        );
        Ok(SquashFs {
            image,
            reader,
            sb,
            facts,
            tree,
            root_meta,
            inode_table,
            fragments,
            codec,
        })
    }

    fn node(&self, id: NodeId) -> Result<&walk::Node> {
        tree::node(&self.tree.nodes, id)
    }

    /// The raw blocks and fragment tail of a regular file.
    pub fn blocks(&self, file: NodeId) -> Result<BlockList<'_>> {
        let node = self.node(file)?;
        let Some(layout) = node.file else {
            return Err(Error::malformed(
                "node handle",
                file.0,
                "not a regular file",
            ));
        };
        let bs = u64::from(self.sb.block_size);
        // Data blocks and fragment blocks sit between the superblock (and the
        // compressor options) and the inode table.
        let data_end = self.sb.inode_table;
        let sizes = inode::block_sizes(
            &self.reader,
            self.inode_table,
            layout.sizes_at,
            layout.block_count,
        )?;
        let mut blocks = Vec::with_capacity(sizes.len());
        let mut pos = layout.blocks_start;
        for (i, word) in sizes.into_iter().enumerate() {
            let len = u64::from(word & !BLOCK_UNCOMPRESSED);
            if len > bs {
                return Err(Error::malformed(
                    "data block",
                    pos,
                    format!("block {i} is stored in {len} bytes, more than the block size {bs}"),
                ));
            }
            // A sparse block stores nothing, so where it "is" does not matter:
            // gensquashfs gives a file of holes only a start of 0.
            let raw = if len == 0 {
                &[][..]
            } else {
                self.data_slice(pos, len, data_end, "data block")?
            };
            blocks.push(DataBlock {
                offset: pos,
                raw,
                compressed: word & BLOCK_UNCOMPRESSED == 0,
            });
            pos += len;
        }
        let fragment = match layout.fragment {
            None => None,
            Some((index, offset)) => {
                let e = self.fragments.entry(&self.reader, u64::from(index))?;
                let e = entries::FragmentEntry::from_prefix(&e);
                let (start, word) = (e.start(), e.size());
                let len = u64::from(word & !BLOCK_UNCOMPRESSED);
                if len == 0 || len > bs {
                    return Err(Error::malformed(
                        "fragment table",
                        self.sb.fragment_table,
                        format!("fragment {index} is stored in {len} bytes (must be 1 to {bs})"),
                    ));
                }
                let raw = self.data_slice(start, len, data_end, "fragment block")?;
                Some(FragmentTail {
                    index,
                    block_offset: start,
                    raw,
                    compressed: word & BLOCK_UNCOMPRESSED == 0,
                    offset,
                    len: (layout.size - layout.block_count * bs) as u32,
                })
            }
        };
        Ok(BlockList {
            codec: Codec(&self.codec),
            block_size: self.sb.block_size,
            size: layout.size,
            blocks,
            fragment,
        })
    }

    fn data_slice(
        &self,
        pos: u64,
        len: u64,
        end: u64,
        structure: &'static str,
    ) -> Result<&'a [u8]> {
        let fits = pos >= SUPERBLOCK_SIZE && pos.checked_add(len).is_some_and(|e| e <= end);
        if !fits {
            return Err(Error::malformed(
                structure,
                pos,
                format!(
                    "{len} bytes here are outside the data area (bytes {SUPERBLOCK_SIZE}..{end})"
                ),
            ));
        }
        self.image.get(pos, len, structure)
    }
}

/// Where the directory table ends: at the first of the later tables (or their
/// metadata blocks, which precede their index) that starts after it.
fn directory_table_end(image: Bytes<'_>, sb: &Superblock) -> u64 {
    let first_block = |index: u64, present: bool| -> Option<u64> {
        if !present || index == ABSENT {
            return None;
        }
        let b = image
            .get(index, IndexEntry::LEN as u64, "table index")
            .ok()?;
        IndexEntry::new(b).map(|e| e.block())
    };
    let candidates = [
        Some(sb.fragment_table),
        first_block(sb.fragment_table, sb.fragment_count > 0),
        Some(sb.export_table),
        first_block(sb.export_table, sb.inode_count > 0),
        Some(sb.id_table),
        first_block(sb.id_table, sb.id_count > 0),
        Some(sb.xattr_id_table),
        // The xattr header's first field is where the key/value blocks start.
        first_block(sb.xattr_id_table, true),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter(|&p| p != ABSENT && p > sb.directory_table && p <= sb.bytes_used)
        .min()
        .unwrap_or(sb.bytes_used)
}

impl Filesystem for SquashFs<'_> {
    fn format(&self) -> Format {
        Format::Squashfs
    }

    fn facts(&self) -> &[Fact] {
        &self.facts
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.root_meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        tree::listing(&self.tree.nodes, dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        self.blocks(file).map(Content::Blocks)
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.image.as_slice())
    }

    fn byte_layout(&self) -> Result<crate::model::span::Layout> {
        Ok(self.layout())
    }

    fn placements(&self) -> Vec<crate::model::span::Placement> {
        self.placements_of()
    }
}

#[cfg(test)]
mod tests {
    use super::metadata::tests::plain_block;
    use super::*;
    use crate::model::EntryKind;

    fn inode_header(type_code: u16, number: u32) -> Vec<u8> {
        let mut h = Vec::new();
        for v in [type_code, 0o755, 0, 0] {
            h.extend(v.to_le_bytes());
        }
        h.extend(1_700_000_000u32.to_le_bytes());
        h.extend(number.to_le_bytes());
        h
    }

    fn dir_entry(offset: u16, diff: i16, type_code: u16, name: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend(offset.to_le_bytes());
        e.extend(diff.to_le_bytes());
        e.extend(type_code.to_le_bytes());
        e.extend(((name.len() - 1) as u16).to_le_bytes());
        e.extend(name);
        e
    }

    /// A tiny uncompressed image: a root with a file, an entry pointing back at the
    /// root, and an entry whose inode reference is outside its block.
    fn image() -> Vec<u8> {
        let mut listing = Vec::new();
        for v in [2u32, 0, 1] {
            listing.extend(v.to_le_bytes());
        }
        listing.extend(dir_entry(32, 1, 2, b"file"));
        listing.extend(dir_entry(0, 0, 1, b"up"));
        listing.extend(dir_entry(500, 2, 2, b"zbad"));

        let mut inodes = inode_header(1, 1);
        for v in [0u32, 2] {
            inodes.extend(v.to_le_bytes());
        }
        inodes.extend((listing.len() as u16 + 3).to_le_bytes());
        inodes.extend(0u16.to_le_bytes());
        inodes.extend(0u32.to_le_bytes());
        inodes.extend(inode_header(2, 2));
        for v in [96u32, u32::MAX, 0, 5, 5 | BLOCK_UNCOMPRESSED] {
            inodes.extend(v.to_le_bytes());
        }

        let mut img = vec![0u8; 96];
        img.extend(b"hello");
        let inode_table = img.len() as u64;
        img.extend(plain_block(&inodes));
        let dir_table = img.len() as u64;
        img.extend(plain_block(&listing));
        let id_block = img.len() as u64;
        img.extend(plain_block(&1000u32.to_le_bytes()));
        let id_table = img.len() as u64;
        img.extend(id_block.to_le_bytes());
        let sb =
            superblock::tests::superblock(img.len() as u64, inode_table, dir_table, id_table, 0);
        img[..96].copy_from_slice(&sb);
        img
    }

    #[test]
    fn lists_and_reports_damage_per_entry() {
        let img = image();
        let fs = SquashFs::open(&img, &Limits::default()).unwrap();
        assert_eq!(fs.root_meta().nlink, Some(2));
        assert_eq!(fs.root_meta().uid, Some(1000));
        let l = fs.children(fs.root()).unwrap();
        let names: Vec<&[u8]> = l.entries.iter().map(|e| &e.name[..]).collect();
        assert_eq!(names, [&b"file"[..], b"up"]);
        assert_eq!(l.errors.len(), 2, "{:?}", l.errors);
        assert!(
            matches!(&l.errors[0], Error::Loop { ancestor, child } if ancestor == "/" && child == "/up")
        );
        let bad = l.errors[1].to_string();
        assert!(
            bad.contains("\"zbad\"") && bad.contains("offset 500"),
            "{bad}"
        );

        let file = &l.entries[0];
        assert_eq!(
            (file.meta.size, file.meta.nlink, file.meta.mode),
            (5, Some(1), Some(0o755))
        );
        let Content::Blocks(b) = fs.content(file.node).unwrap() else {
            panic!("not blocks");
        };
        assert_eq!(b.blocks.len(), 1);
        assert!(!b.blocks[0].compressed);
        assert_eq!(b.to_vec().unwrap(), b"hello");
        assert!(fs.content(fs.root()).is_err());
        assert!(fs.children(file.node).is_err());
    }

    #[test]
    fn limits_and_damage_never_panic() {
        let img = image();
        let fs = SquashFs::open(&img, &Limits::default().max_entries(2)).unwrap();
        let l = fs.children(fs.root()).unwrap();
        assert_eq!(l.entries.len(), 1);
        assert!(l
            .errors
            .iter()
            .any(|e| matches!(e, Error::LimitExceeded { .. })));

        // Every truncation and every single-byte change either opens or fails
        // cleanly, and whatever opens can be listed and read.
        for len in 0..img.len() {
            let _ = SquashFs::open(&img[..len], &Limits::default());
        }
        for at in 0..img.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut bad = img.clone();
                bad[at] = v;
                if let Ok(fs) = SquashFs::open(&bad, &Limits::default()) {
                    let mut stack = vec![fs.root()];
                    while let Some(dir) = stack.pop() {
                        for e in fs.children(dir).map(|l| l.entries).unwrap_or_default() {
                            match e.meta.kind {
                                EntryKind::Dir => stack.push(e.node),
                                EntryKind::File => {
                                    if let Ok(Content::Blocks(b)) = fs.content(e.node) {
                                        let _ = b.to_vec();
                                    }
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }
}
