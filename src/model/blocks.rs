//! A file's content as raw blocks: slices of the image, usually compressed,
//! and a tail kept in a block shared with other files' tails (squashfs data
//! blocks and fragments).
//!
//! Equal raw blocks decoded alike are equal content: two images can be
//! compared block by block before anything is decompressed. The model holds
//! the blocks; the reader decodes them ([`BlockCodec`]), so that the model
//! needs nothing of the reader.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// How a reader decodes its raw blocks: its compressor, and where it keeps
/// blocks that many files share.
pub trait BlockCodec: fmt::Debug + Send + Sync {
    /// The reader's id of the compressor: two codecs of one id decode equal
    /// raw bytes to equal bytes.
    fn id(&self) -> u32;

    /// The block `raw` (stored compressed at `offset`, a `structure`),
    /// decoded to at most `max` bytes.
    fn decompress(
        &self,
        raw: &[u8],
        max: usize,
        structure: &'static str,
        offset: u64,
    ) -> Result<Vec<u8>>;

    /// The first `want` bytes of the same, decoding no more than that where
    /// the compressor allows.
    fn decompress_prefix(
        &self,
        raw: &[u8],
        want: usize,
        max: usize,
        structure: &'static str,
        offset: u64,
    ) -> Result<Vec<u8>>;

    /// A block shared by many files' tails (stored compressed at `offset`),
    /// decoded: a reader may keep it for the next file that needs it.
    fn shared(&self, raw: &[u8], max: usize, offset: u64) -> Result<Arc<Vec<u8>>> {
        self.decompress(raw, max, "fragment block", offset)
            .map(Arc::new)
    }
}

/// A reader's [`BlockCodec`], compared by its id: two block lists are the same
/// whatever codec object they decode through.
#[derive(Clone, Copy)]
pub struct Codec<'a>(pub &'a dyn BlockCodec);

impl fmt::Debug for Codec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Codec<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for Codec<'_> {}

/// Most bytes [`BlockList::to_vec`] reserves up front; past that the buffer grows
/// with what is actually decompressed.
const MAX_RESERVE: u64 = 64 << 20;

/// One data block of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataBlock<'a> {
    /// Where the raw bytes start in the image.
    pub offset: u64,
    /// The bytes as stored; empty for a sparse block (all zeros).
    pub raw: &'a [u8],
    /// True when `raw` is compressed, false when it is stored as is.
    pub compressed: bool,
}

impl DataBlock<'_> {
    /// True for a sparse block: nothing stored, all zeros.
    pub fn is_sparse(&self) -> bool {
        self.raw.is_empty()
    }
}

/// The tail of a file kept in a fragment block shared with other files' tails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentTail<'a> {
    /// The fragment's index in the fragment table.
    pub index: u32,
    /// Where the raw fragment block starts in the image.
    pub block_offset: u64,
    /// The whole fragment block as stored.
    pub raw: &'a [u8],
    /// True when `raw` is compressed.
    pub compressed: bool,
    /// Where this file's tail starts in the decompressed fragment block.
    pub offset: u32,
    /// Length of the tail.
    pub len: u32,
}

/// The data of one file stored as raw blocks: full blocks, then an optional
/// tail kept in a block shared with other files' tails (a squashfs fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockList<'a> {
    /// How compressed blocks are decoded.
    pub codec: Codec<'a>,
    /// The image's block size: every block but a last short one holds this much.
    pub block_size: u32,
    /// The file size.
    pub size: u64,
    /// The data blocks in file order.
    pub blocks: Vec<DataBlock<'a>>,
    /// The tail, when it is kept in a fragment block.
    pub fragment: Option<FragmentTail<'a>>,
}

impl BlockList<'_> {
    /// The file size in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// How many bytes block `i` holds once decompressed.
    pub fn block_len(&self, i: usize) -> u64 {
        let start = (i as u64).saturating_mul(u64::from(self.block_size));
        self.size
            .saturating_sub(start)
            .min(u64::from(self.block_size))
    }

    /// The decompressed bytes of block `i`, checked to be exactly
    /// [`BlockList::block_len`] long.
    pub fn block(&self, i: usize) -> Result<Vec<u8>> {
        let b = self.blocks.get(i).ok_or_else(|| {
            Error::malformed("data block", 0, format!("the file has no block {i}"))
        })?;
        let want = self.block_len(i) as usize;
        if b.is_sparse() {
            return Ok(vec![0; want]);
        }
        let data = if b.compressed {
            self.codec
                .0
                .decompress(b.raw, self.block_size as usize, "data block", b.offset)?
        } else {
            b.raw.to_vec()
        };
        if data.len() != want {
            return Err(Error::malformed(
                "data block",
                b.offset,
                format!(
                    "block {i} holds {} bytes, the file size needs {want}",
                    data.len()
                ),
            ));
        }
        Ok(data)
    }

    /// The decompressed tail from the fragment block (empty when there is none).
    pub fn tail(&self) -> Result<Vec<u8>> {
        self.tail_head(usize::MAX)
    }

    /// The first `want` bytes of the tail: a listing looks at the head of
    /// every file, most of which are only a tail, and copying whole tails out
    /// of their shared blocks was an eighth of its time.
    fn tail_head(&self, want: usize) -> Result<Vec<u8>> {
        let Some(f) = &self.fragment else {
            return Ok(Vec::new());
        };
        let shared;
        let data: &[u8] = if f.compressed {
            shared = self
                .codec
                .0
                .shared(f.raw, self.block_size as usize, f.block_offset)?;
            &shared
        } else {
            f.raw
        };
        let (start, end) = (f.offset as usize, f.offset as usize + f.len as usize);
        let taken = start + (end - start).min(want);
        let tail = data.get(start..end).and_then(|_| data.get(start..taken));
        tail.map(<[u8]>::to_vec).ok_or_else(|| {
            Error::malformed(
                "fragment block",
                f.block_offset,
                format!(
                    "fragment {} holds {} bytes, the tail needs bytes {start}..{end}",
                    f.index,
                    data.len()
                ),
            )
        })
    }

    /// The first `want` bytes of the content (fewer for a shorter file), decoding
    /// no more of the first block than that where the compressor allows: to tell
    /// whether a file is an image without decompressing its whole first block.
    pub fn head(&self, want: usize) -> Result<Vec<u8>> {
        if let Some(b) = self.blocks.first() {
            let full = self.block_len(0) as usize;
            if b.compressed && !b.is_sparse() && want < full {
                let max = self.block_size as usize;
                return self
                    .codec
                    .0
                    .decompress_prefix(b.raw, want, max, "data block", b.offset);
            }
        } else if self.fragment.is_some() {
            return self.tail_head(want);
        }
        let mut out = Vec::new();
        for chunk in self.chunks() {
            out.extend_from_slice(&chunk?);
            if out.len() >= want {
                break;
            }
        }
        out.truncate(want);
        Ok(out)
    }

    /// The decompressed content one block at a time, then the tail: at most one
    /// block size of memory per step. Stops after the first error.
    pub fn chunks(&self) -> impl Iterator<Item = Result<Vec<u8>>> + '_ {
        let tail = self.fragment.is_some().then_some(self.blocks.len());
        let mut failed = false;
        (0..self.blocks.len()).chain(tail).map_while(move |i| {
            if failed {
                return None;
            }
            let chunk = if i < self.blocks.len() {
                self.block(i)
            } else {
                self.tail()
            };
            failed = chunk.is_err();
            Some(chunk)
        })
    }

    /// The whole decompressed file, checked to be exactly [`BlockList::len`] bytes.
    /// Holds it all in memory: for files known to be small, or in tests;
    /// [`BlockList::chunks`] streams.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size.min(MAX_RESERVE) as usize);
        for chunk in self.chunks() {
            out.extend(chunk?);
        }
        if out.len() as u64 != self.size {
            return Err(Error::malformed(
                "file data",
                self.blocks.first().map_or(0, |b| b.offset),
                format!(
                    "blocks and tail hold {} bytes, the file size is {}",
                    out.len(),
                    self.size
                ),
            ));
        }
        Ok(out)
    }
}
