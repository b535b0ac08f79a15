//! The diff engine: walks two file systems as a merge on names, directory by
//! directory, in parallel, and reports every differing field with both values.
//!
//! Format-agnostic: it sees only the [`Filesystem`] trait. Content is compared by the
//! cheapest proof first (equal bytes of the maps), and a differing file that is itself
//! an image on both sides is opened and compared entry by entry instead of being
//! reported as a blob.

pub(crate) mod content;
mod disasm;
mod elf;
mod meta;
mod pe;
#[cfg(test)]
pub(crate) use pe::tests::efi as pe_fixture;
mod pyc;
mod walk;

use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, Which};
use crate::limits::Limits;
use crate::map::MappedFile;
use crate::model::Filesystem;
use crate::report::{Difference, Report, Side};

/// How to compare: [`Options::default`], changed by one setter per setting.
///
/// ```
/// let options = isodiff::Options::default().layout(true).threads(1).hexdump_regions(0);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) limits: Limits,
    pub(crate) layout: bool,
    pub(crate) max_nesting: u32,
    pub(crate) max_buffer_bytes: u64,
    pub(crate) max_text_diff_bytes: u64,
    pub(crate) text_diff_timeout: Duration,
    pub(crate) max_diff_lines: usize,
    pub(crate) hexdump_regions: usize,
    pub(crate) max_hexdump_bytes: usize,
    pub(crate) disassembly_regions: usize,
    pub(crate) threads: usize,
    pub(crate) calling_thread: bool,
    pub(crate) progress: Option<Arc<AtomicU64>>,
    pub(crate) progress_bytes: Option<Arc<AtomicU64>>,
    pub(crate) sink: Option<Sink>,
}

/// What receives each difference as it is found ([`Options::on_difference`]).
#[derive(Clone)]
pub(crate) struct Sink(pub(crate) Arc<dyn Fn(&Difference) + Send + Sync>);

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sink")
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            limits: Limits::default(),
            layout: false,
            max_nesting: Options::DEFAULT_MAX_NESTING,
            max_buffer_bytes: 4 << 30,
            max_text_diff_bytes: 1 << 20,
            text_diff_timeout: Duration::from_secs(2),
            max_diff_lines: 400,
            hexdump_regions: Options::DEFAULT_HEXDUMP_REGIONS,
            max_hexdump_bytes: 256,
            disassembly_regions: Options::DEFAULT_DISASSEMBLY_REGIONS,
            threads: 0,
            calling_thread: false,
            progress: None,
            progress_bytes: None,
            sink: None,
        }
    }
}

impl Options {
    /// How deep images nested in images are opened, by default.
    pub const DEFAULT_MAX_NESTING: u32 = 8;
    /// How many differing regions of a binary content are shown as a hexdump,
    /// by default.
    pub const DEFAULT_HEXDUMP_REGIONS: usize = 4;
    /// How many differing regions of code are shown disassembled, by default.
    pub const DEFAULT_DISASSEMBLY_REGIONS: usize = 4;

    /// Budgets for reading each image (outer and nested).
    pub fn limits(mut self, limits: Limits) -> Options {
        self.limits = limits;
        self
    }

    /// Also compare placement details (extent addresses, table offsets, inode
    /// numbers), which change whenever anything before them changes. Off by
    /// default.
    pub fn layout(mut self, layout: bool) -> Options {
        self.layout = layout;
        self
    }

    /// How deep images nested in images are opened
    /// ([`Options::DEFAULT_MAX_NESTING`]).
    pub fn max_nesting(mut self, depth: u32) -> Options {
        self.max_nesting = depth;
        self
    }

    /// Largest nested image or file that is gathered into memory when it is not
    /// one contiguous slice of its parent (4 GiB).
    pub fn max_buffer_bytes(mut self, bytes: u64) -> Options {
        self.max_buffer_bytes = bytes;
        self
    }

    /// Largest file shown as a unified text diff (1 MiB).
    pub fn max_text_diff_bytes(mut self, bytes: u64) -> Options {
        self.max_text_diff_bytes = bytes;
        self
    }

    /// Time allowed for one text diff; past it the diff is approximate (2 s).
    pub fn text_diff_timeout(mut self, timeout: Duration) -> Options {
        self.text_diff_timeout = timeout;
        self
    }

    /// Most lines of one unified diff (400).
    pub fn max_diff_lines(mut self, lines: usize) -> Options {
        self.max_diff_lines = lines;
        self
    }

    /// Most differing regions of a binary content shown as a hexdump, 0 for
    /// none ([`Options::DEFAULT_HEXDUMP_REGIONS`]).
    pub fn hexdump_regions(mut self, regions: usize) -> Options {
        self.hexdump_regions = regions;
        self
    }

    /// Most bytes of one hexdump region, rounded up to whole rows of 16 (256).
    pub fn max_hexdump_bytes(mut self, bytes: usize) -> Options {
        self.max_hexdump_bytes = bytes;
        self
    }

    /// Most differing regions of an ELF or PE file's code (x86, x86-64,
    /// aarch64) shown disassembled, both sides, 0 for none
    /// ([`Options::DEFAULT_DISASSEMBLY_REGIONS`]).
    pub fn disassembly_regions(mut self, regions: usize) -> Options {
        self.disassembly_regions = regions;
        self
    }

    /// Worker threads, 0 for one per core (the default). The report does not
    /// depend on it.
    pub fn threads(mut self, threads: usize) -> Options {
        self.threads = threads;
        self
    }

    /// Compare on the calling thread alone: no pool built and no thread
    /// started per comparison. The thread's first comparison makes it a pool of
    /// one thread, itself, kept for the thread's life (rayon cannot take a
    /// thread back out of a pool); later ones reuse it, and so does any other
    /// rayon work of that thread (`join`, parallel iterators), which then runs
    /// on it alone instead of rayon's global pool. For a caller that
    /// compares many small inputs one after another, as a fuzzer does: a pool
    /// per comparison costs thread starts, and its threads end after the
    /// comparison has returned, so LeakSanitizer sees their memory as held
    /// and scans the heap. The walk recurses once per directory level on the
    /// calling thread's stack, so that stack must hold the trees' depth (the
    /// pool's threads get 64 MiB). Overrides [`Options::threads`]; on a thread
    /// that already works for another rayon pool a pool is built as usual.
    pub fn calling_thread(mut self, calling_thread: bool) -> Options {
        self.calling_thread = calling_thread;
        self
    }

    /// A counter of the entry pairs compared so far, for a progress display.
    pub fn progress(mut self, entries: Arc<AtomicU64>) -> Options {
        self.progress = Some(entries);
        self
    }

    /// A counter of the bytes of the two images covered so far: the stored
    /// size of every pair of files compared whole (equal, or differing and not
    /// images), at any depth, both sides added; for squashfs, a file's data
    /// blocks (its tail in a shared fragment block is not counted). A nested
    /// image that is opened counts by the files inside it, not again as a
    /// file, so the two images' sizes together are a total for a progress bar,
    /// which the count ends short of (tables, directories and tails are not
    /// counted). Files that share blocks (deduplicated) and files inside a
    /// decompressed image (an initrd) count again, so a display should cap the
    /// count at its total.
    pub fn progress_bytes(mut self, bytes: Arc<AtomicU64>) -> Options {
        self.progress_bytes = Some(bytes);
        self
    }

    /// Calls `sink` with each difference as the comparison finds it, so that a
    /// program can show or store findings while a large pair is still being
    /// compared (the report is made only at the end). Called from the worker
    /// threads, in no set order (parallel directories interleave), once per
    /// difference of the report, cut or not by the report's limits. What needs
    /// the whole comparison is not known yet when it is called: whether a
    /// difference only follows from another ([`Difference::follows`]), the
    /// causes, the byte accounting's summary; the report has them.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    ///
    /// let seen = Arc::new(AtomicU64::new(0));
    /// let count = seen.clone();
    /// let options = isodiff::Options::default().on_difference(move |d| {
    ///     count.fetch_add(1, Ordering::Relaxed);
    ///     let _ = &d.location;
    /// });
    /// let report = isodiff::diff_files(
    ///     "testdata/nixos-like-a.iso".as_ref(),
    ///     "testdata/nixos-like-b.iso".as_ref(),
    ///     &options,
    /// )?;
    /// assert_eq!(seen.load(Ordering::Relaxed), report.differences.len() as u64);
    /// # Ok::<(), isodiff::Error>(())
    /// ```
    pub fn on_difference(mut self, sink: impl Fn(&Difference) + Send + Sync + 'static) -> Options {
        self.sink = Some(Sink(Arc::new(sink)));
        self
    }
}

/// Compares two opened file systems.
pub fn diff_filesystems(
    a: &dyn Filesystem,
    b: &dyn Filesystem,
    options: &Options,
) -> Result<Report> {
    run(walk::Differ::new(options), a, b, options)
}

fn run(
    differ: walk::Differ<'_>,
    a: &dyn Filesystem,
    b: &dyn Filesystem,
    options: &Options,
) -> Result<Report> {
    let walk = || differ.filesystems(a, b, &Vec::new(), 0);
    let done = options.calling_thread && on_calling_thread(walk).is_some();
    if !done {
        pool(options)?.install(walk);
    }
    Ok(differ.into_report(Side::new("a", 0), Side::new("b", 0)))
}

thread_local! {
    /// The thread as a pool of itself ([`Options::calling_thread`]), or None
    /// when it could not be made one (it works for another pool already).
    static CALLING: std::cell::OnceCell<Option<rayon::ThreadPool>> =
        const { std::cell::OnceCell::new() };
}

/// Runs `op` in the pool made of the calling thread (inline: the thread is
/// the pool's only worker), made on the thread's first call; None when the
/// thread cannot be made a pool.
fn on_calling_thread<R: Send>(op: impl FnOnce() -> R + Send) -> Option<R> {
    CALLING.with(|own| {
        own.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .use_current_thread()
                .build()
                .ok()
        })
        .as_ref()
        .map(|pool| pool.install(op))
    })
}

/// Compares two images given as bytes. Fails when either cannot be opened at all.
pub fn diff_bytes(a: &[u8], b: &[u8], options: &Options) -> Result<Report> {
    let open = |bytes, which: Which| {
        crate::formats::open::open(bytes, &options.limits)
            .map_err(|e| in_file(which, Path::new(which.letter()), e))
    };
    let (fa, fb) = (open(a, Which::A)?, open(b, Which::B)?);
    let mut report = diff_filesystems(fa.as_ref(), fb.as_ref(), options)?;
    report.a.size = a.len() as u64;
    report.b.size = b.len() as u64;
    Ok(report)
}

/// Compares two inputs: image files, directories (the trees images were made
/// from) or places inside images (`a.iso:/boot`, `nixos.iso:/nix-store.squashfs`;
/// see [`crate::formats::input`] for how a `:` is read). Fails when either
/// cannot be read or opened at all; problems further down are in
/// [`Report::problems`].
pub fn diff_files(a: &Path, b: &Path, options: &Options) -> Result<Report> {
    use crate::formats::input::{descend, Input};
    let located = |path: &Path, which| {
        let input = Input::locate(path).map_err(|e| in_file(which, path, e))?;
        let loaded = input.load().map_err(|e| in_file(which, input.file(), e))?;
        Ok::<_, Error>((input, loaded))
    };
    let (ia, la) = located(a, Which::A)?;
    let (ib, lb) = located(b, Which::B)?;
    // Both at once: opening may decompress a whole image.
    let (fa, fb) = rayon::join(|| la.open(&options.limits), || lb.open(&options.limits));
    let fa = fa.map_err(|e| in_file(Which::A, ia.file(), e))?;
    let fb = fb.map_err(|e| in_file(Which::B, ib.file(), e))?;
    let (limits, max) = (&options.limits, options.max_buffer_bytes);
    // The size of what is compared: the file, or the image named inside it;
    // a directory (or a directory inside an image) has none.
    let size = |input: &Input, fs: &dyn Filesystem, map: Option<&MappedFile>| match input.inside() {
        None => map.map_or(0, |m| m.bytes().len() as u64),
        Some(_) => fs.raw_bytes().map_or(0, |r| r.len() as u64),
    };
    let compared = descend(fa.as_ref(), ia.inside(), limits, max, |sa| {
        descend(fb.as_ref(), ib.inside(), limits, max, |sb| {
            // Compared pages leave the resident set, so memory does not grow
            // with the images.
            // A part of one image only leaves the map that holds it.
            let differ = walk::Differ::new(options).with_release(|part| {
                for m in [la.map(), lb.map()].into_iter().flatten() {
                    m.release(part.unwrap_or(m.bytes()));
                }
            });
            let sizes = (size(&ia, sa, la.map()), size(&ib, sb, lb.map()));
            run(differ, sa, sb, options).map(|r| (r, sizes))
        })
        .map_err(|e| in_file(Which::B, ib.file(), e))?
    })
    .map_err(|e| in_file(Which::A, ia.file(), e))?;
    let (mut report, (size_a, size_b)) = compared?;
    report.a = Side::new(a.display().to_string(), size_a);
    report.b = Side::new(b.display().to_string(), size_b);
    // Said whether or not the other side was compressed too: two images read
    // out of streams of one compressor may differ in nothing else.
    report.a.decompressed_from = fa.decompressed_from();
    report.b.decompressed_from = fb.decompressed_from();
    Ok(report)
}

/// The error of one input of the comparison, with the input and its file.
fn in_file(side: Which, path: &Path, e: Error) -> Error {
    match e {
        Error::InFile { .. } => e,
        other => Error::InFile {
            path: path.to_owned(),
            side: Some(side),
            source: Box::new(other),
        },
    }
}

/// A pool whose threads have room for deep trees: the walk recurses once per
/// directory level.
fn pool(options: &Options) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads)
        .stack_size(64 << 20)
        .thread_name(|i| format!("isodiff-{i}"))
        .build()
        .map_err(|e| Error::malformed("thread pool", 0, e.to_string()))
}
