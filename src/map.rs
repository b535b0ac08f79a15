//! Read-only memory maps of image files: the one place that needs `unsafe`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// An image file mapped read-only into memory.
#[derive(Debug)]
pub struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps `path` read-only. Fails with [`Error::NotAFile`] for a directory,
    /// device or pipe, and with [`Error::EmptyFile`] for a file of 0 bytes: no
    /// image can be in either, and saying so beats the OS's error for mapping them.
    pub fn open(path: &Path) -> Result<MappedFile> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source: Arc::new(source),
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(Error::NotAFile {
                path: path.to_owned(),
                what: file_type(&meta.file_type()),
            });
        }
        if meta.len() == 0 {
            return Err(Error::EmptyFile {
                path: path.to_owned(),
            });
        }
        // SAFETY: the map is read-only. Another process truncating or rewriting the
        // file while we read it is outside what this tool can defend against (reads
        // past a truncation raise SIGBUS), the same contract every mmap-based reader
        // has; the file is never written through this map.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(MappedFile { map })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// Lets the kernel drop the pages under `part` (a slice of [`MappedFile::bytes`])
    /// from this process's resident set, once they have been compared: they stay in
    /// the page cache, and a later read maps them again. Keeps the resident memory
    /// of a whole-image comparison from growing with the images. Slices of other
    /// memory, and pages only partly inside `part`, are left alone.
    pub fn release(&self, part: &[u8]) {
        let map = &self.map;
        let base = map.as_ptr() as usize;
        let start = part.as_ptr() as usize;
        let Some(offset) = start
            .checked_sub(base)
            .filter(|&o| o + part.len() <= map.len())
        else {
            return;
        };
        const PAGE: usize = 4096;
        let first = offset.div_ceil(PAGE) * PAGE;
        let end = (offset + part.len()) / PAGE * PAGE;
        if end > first {
            // SAFETY: the map is a read-only, shared mapping of a file we never write
            // through it. MADV_DONTNEED on such a mapping only discards this process's
            // page table entries; the next access faults the same file contents back
            // in from the page cache. No slice handed out can observe a change.
            #[allow(unsafe_code)]
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, first, end - first)
            };
        }
    }
}

/// What a file that is not a regular file is, in words.
fn file_type(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_fifo() {
            return "a named pipe";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}
