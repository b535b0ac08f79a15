//! Budgets that keep a hostile image from exhausting the machine that reads it.

use crate::error::{Error, Result};

/// Budgets for reading one image. The defaults fit real installer images with room to
/// spare; raise them for unusual ones.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest directory nesting followed.
    pub max_depth: u32,
    /// Most entries read from one image.
    pub max_entries: u64,
    /// Most SUSP continuation areas (`CE`) followed for one directory record.
    pub max_continuations: u32,
    /// Most bytes of System Use entries gathered for one directory record.
    pub max_system_use_bytes: u64,
    /// Most bytes decompressed from one image's compressed parts (all the
    /// compressed segments of a cpio archive together), and the most an image
    /// compressed whole (`nixos.iso.zst`) may decompress to: a decompression
    /// bomb stops here with [`Error::LimitExceeded`].
    pub max_decompressed_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 1024,
            max_entries: 10_000_000,
            max_continuations: 64,
            max_system_use_bytes: 1 << 20,
            // Real initrds decompress to a few hundred MiB; 4 GiB leaves room for
            // firmware-heavy ones and still fits the memory of a build machine.
            max_decompressed_bytes: 4 << 30,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_depth`] (at least 1).
    pub fn max_depth(mut self, depth: u32) -> Limits {
        self.max_depth = depth.max(1);
        self
    }

    /// Sets [`Limits::max_entries`] (at least 1).
    pub fn max_entries(mut self, entries: u64) -> Limits {
        self.max_entries = entries.max(1);
        self
    }

    /// Sets [`Limits::max_decompressed_bytes`].
    pub fn max_decompressed_bytes(mut self, bytes: u64) -> Limits {
        self.max_decompressed_bytes = bytes;
        self
    }

    /// Sets [`Limits::max_continuations`].
    pub fn max_continuations(mut self, hops: u32) -> Limits {
        self.max_continuations = hops;
        self
    }
}

/// Returns `LimitExceeded` when `value > max`.
pub(crate) fn check(limit: &'static str, value: u64, max: u64) -> Result<()> {
    if value > max {
        Err(Error::LimitExceeded { limit, value, max })
    } else {
        Ok(())
    }
}
