//! How squashfs decodes a file's raw blocks ([`crate::model::blocks`] holds
//! them): its compressor, and a cache of the fragment blocks many files'
//! tails share.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::compress::{decompress, decompress_prefix, Compressor};
use crate::error::Result;
use crate::model::blocks::BlockCodec;

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

/// How the blocks of one squashfs image are decoded: its compressor, and the
/// cache of its fragment blocks (none in tests that want none).
#[derive(Debug)]
pub struct SquashCodec {
    compressor: Compressor,
    cache: Option<FragmentCache>,
}

impl SquashCodec {
    /// Decodes with `compressor`, keeping fragment blocks in `cache`.
    pub fn new(compressor: Compressor, cache: Option<FragmentCache>) -> SquashCodec {
        SquashCodec { compressor, cache }
    }
}

impl BlockCodec for SquashCodec {
    fn id(&self) -> u32 {
        u32::from(self.compressor.id())
    }

    fn decompress(
        &self,
        raw: &[u8],
        max: usize,
        structure: &'static str,
        offset: u64,
    ) -> Result<Vec<u8>> {
        decompress(self.compressor, raw, max, structure, offset)
    }

    fn decompress_prefix(
        &self,
        raw: &[u8],
        want: usize,
        max: usize,
        structure: &'static str,
        offset: u64,
    ) -> Result<Vec<u8>> {
        decompress_prefix(self.compressor, raw, want, max, structure, offset)
    }

    fn shared(&self, raw: &[u8], max: usize, offset: u64) -> Result<Arc<Vec<u8>>> {
        let load = || decompress(self.compressor, raw, max, "fragment block", offset);
        match &self.cache {
            Some(cache) => cache.get(offset, load),
            None => load().map(Arc::new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::model::blocks::{BlockList, Codec, DataBlock, FragmentTail};
    use std::io::Write;

    #[test]
    fn blocks_sparse_and_tail() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&[1u8; 4096]).unwrap();
        let block0 = z.finish().unwrap();
        let frag = b"..tail..";
        let codec = SquashCodec::new(Compressor::Gzip, None);
        let list = BlockList {
            codec: Codec(&codec),
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
