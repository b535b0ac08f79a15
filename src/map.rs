//! Read-only memory maps of image files: the one place that needs `unsafe`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// An image file mapped read-only into memory.
#[derive(Debug)]
pub struct MappedFile {
    map: Option<memmap2::Mmap>,
}

impl MappedFile {
    /// Maps `path` read-only.
    pub fn open(path: &Path) -> Result<MappedFile> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source: Arc::new(source),
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            // An empty file cannot be mapped, and has nothing to map.
            return Ok(MappedFile { map: None });
        }
        // SAFETY: the map is read-only. Another process truncating or rewriting the
        // file while we read it is outside what this tool can defend against (reads
        // past a truncation raise SIGBUS), the same contract every mmap-based reader
        // has; the file is never written through this map.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(MappedFile { map: Some(map) })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
    }
}
