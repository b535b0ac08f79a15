//! A file's content as squashfs stores it: raw data blocks and a fragment tail.
//!
//! The raw (usually compressed) bytes are slices of the image, so two images can be
//! compared block by block before anything is decompressed: equal raw blocks under
//! the same compressor are equal content.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::compress::{decompress, decompress_prefix, Compressor};
use crate::error::{Error, Result};

/// Decompressed fragment blocks of one image, shared by the files whose tails they
/// hold: without it, every small file would decompress its whole fragment block
/// again. Bounded by bytes; the oldest blocks go first.
#[derive(Debug)]
pub struct FragmentCache {
    inner: Mutex<CacheInner>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct CacheInner {
    blocks: HashMap<u64, Arc<Vec<u8>>>,
    order: VecDeque<u64>,
    bytes: usize,
}

impl FragmentCache {
    /// A cache holding at most `max_bytes` of decompressed blocks.
    pub fn new(max_bytes: usize) -> FragmentCache {
        FragmentCache {
            inner: Mutex::new(CacheInner::default()),
            max_bytes,
        }
    }

    /// The block at `offset`, decompressed by `load` when it is not cached.
    /// Loading happens outside the lock, so threads do not wait on each other's
    /// decompression (two may occasionally decompress the same block).
    fn get(&self, offset: u64, load: impl FnOnce() -> Result<Vec<u8>>) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self.lock().blocks.get(&offset) {
            return Ok(b.clone());
        }
        let block = Arc::new(load()?);
        let mut inner = self.lock();
        if !inner.blocks.contains_key(&offset) {
            inner.bytes += block.len();
            inner.blocks.insert(offset, block.clone());
            inner.order.push_back(offset);
            while inner.bytes > self.max_bytes {
                let Some(old) = inner.order.pop_front() else {
                    break;
                };
                if let Some(b) = inner.blocks.remove(&old) {
                    inner.bytes -= b.len();
                }
            }
        }
        Ok(block)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A reference to the image's [`FragmentCache`], if any. Ignored by equality: two
/// block lists are the same whatever cache they read through.
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheRef<'a>(pub Option<&'a FragmentCache>);

impl PartialEq for CacheRef<'_> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for CacheRef<'_> {}

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

/// The data of one squashfs file: full blocks, then an optional fragment tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockList<'a> {
    /// How compressed blocks are compressed.
    pub compressor: Compressor,
    /// The image's block size: every block but a last short one holds this much.
    pub block_size: u32,
    /// The file size.
    pub size: u64,
    /// The data blocks in file order.
    pub blocks: Vec<DataBlock<'a>>,
    /// The tail, when it is kept in a fragment block.
    pub fragment: Option<FragmentTail<'a>>,
    /// Where decompressed fragment blocks are kept.
    pub cache: CacheRef<'a>,
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
            decompress(
                self.compressor,
                b.raw,
                self.block_size as usize,
                "data block",
                b.offset,
            )?
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
        let Some(f) = &self.fragment else {
            return Ok(Vec::new());
        };
        let load = || {
            decompress(
                self.compressor,
                f.raw,
                self.block_size as usize,
                "fragment block",
                f.block_offset,
            )
        };
        let cached;
        let owned;
        let data: &[u8] = match (f.compressed, self.cache.0) {
            (false, _) => f.raw,
            (true, Some(cache)) => {
                cached = cache.get(f.block_offset, load)?;
                &cached
            }
            (true, None) => {
                owned = load()?;
                &owned
            }
        };
        let (start, end) = (f.offset as usize, f.offset as usize + f.len as usize);
        data.get(start..end).map(<[u8]>::to_vec).ok_or_else(|| {
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
                return decompress_prefix(
                    self.compressor,
                    b.raw,
                    want,
                    max,
                    "data block",
                    b.offset,
                );
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn blocks_sparse_and_tail() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[1u8; 4096]).unwrap();
        let block0 = z.finish().unwrap();
        let frag = b"..tail..";
        let list = BlockList {
            cache: CacheRef::default(),
            compressor: Compressor::Gzip,
            block_size: 4096,
            size: 4096 * 2 + 4,
            blocks: vec![
                DataBlock {
                    offset: 96,
                    raw: &block0,
                    compressed: true,
                },
                DataBlock {
                    offset: 200,
                    raw: &[],
                    compressed: true,
                },
            ],
            fragment: Some(FragmentTail {
                index: 0,
                block_offset: 300,
                raw: frag,
                compressed: false,
                offset: 2,
                len: 4,
            }),
        };
        let all = list.to_vec().unwrap();
        assert_eq!(all.len(), 8196);
        assert!(all[..4096].iter().all(|&b| b == 1));
        assert!(all[4096..8192].iter().all(|&b| b == 0));
        assert_eq!(&all[8192..], b"tail");
        assert_eq!(list.block_len(2), 4);
        let sizes: Vec<usize> = list.chunks().map(|c| c.map_or(0, |c| c.len())).collect();
        assert_eq!(sizes, [4096, 4096, 4]);

        // A tail reaching past its fragment block.
        let mut bad = list.clone();
        if let Some(f) = &mut bad.fragment {
            f.len = 7;
        }
        assert!(matches!(
            bad.to_vec(),
            Err(Error::Malformed { offset: 300, .. })
        ));
        // A block that decompresses to the wrong length.
        let mut bad = list.clone();
        bad.size = 4000;
        bad.fragment = None;
        bad.blocks.truncate(1);
        assert!(matches!(
            bad.to_vec(),
            Err(Error::Malformed { offset: 96, .. })
        ));
    }
}
