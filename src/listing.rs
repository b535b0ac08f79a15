//! Listing every entry of an image: what `isodiff ls` prints.

use crate::error::Error;
use crate::model::{Entry, EntryKind, Filesystem, Meta, NodeId};

/// One listed entry: where it is, and its metadata.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The location as in the report contract: outermost first, each element an
    /// absolute path inside the file system named by the ones before it.
    pub location: Vec<Vec<u8>>,
    /// The entry's metadata.
    pub meta: Meta,
    /// Its handle in the file system listed.
    pub node: NodeId,
}

/// A problem met while listing, and the directory it was met in.
#[derive(Debug, Clone)]
pub struct ListError {
    /// The location of the directory.
    pub location: Vec<Vec<u8>>,
    /// What went wrong.
    pub error: Error,
}

/// Walks `fs` depth-first in name order, calling `visit` for every entry (the root
/// first) and `problem` for every error met. `prefix` is prepended to locations.
pub fn walk(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    visit: &mut dyn FnMut(Listed),
    problem: &mut dyn FnMut(ListError),
) {
    let located = |path: &[u8]| {
        let mut location = prefix.to_vec();
        location.push(path.to_vec());
        location
    };
    visit(Listed {
        location: located(b"/"),
        meta: fs.root_meta().clone(),
        node: fs.root(),
    });
    // Depth-first preorder with an explicit stack (the depth of an image is not
    // ours to choose): a directory's entries are pushed in reverse so they pop in
    // name order, each directory listed right after its own line.
    let mut stack: Vec<(Vec<u8>, Option<Entry>)> = vec![(Vec::new(), None)];
    while let Some((path, entry)) = stack.pop() {
        let dir = match entry {
            None => fs.root(),
            Some(Entry { node, meta, .. }) => {
                let is_dir = meta.kind == EntryKind::Dir;
                visit(Listed {
                    location: located(&path),
                    meta,
                    node,
                });
                if !is_dir {
                    continue;
                }
                node
            }
        };
        let listing = match fs.children(dir) {
            Ok(l) => l,
            Err(error) => {
                problem(ListError {
                    location: located(&display_dir(&path)),
                    error,
                });
                continue;
            }
        };
        for error in listing.errors {
            problem(ListError {
                location: located(&display_dir(&path)),
                error,
            });
        }
        for entry in listing.entries.into_iter().rev() {
            let mut child = path.clone();
            child.push(b'/');
            child.extend_from_slice(&entry.name);
            stack.push((child, Some(entry)));
        }
    }
}

fn display_dir(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        b"/".to_vec()
    } else {
        path.to_vec()
    }
}

/// How deep and how much [`walk_nested`] opens images inside images.
#[derive(Debug, Clone)]
pub struct Nesting {
    /// Budgets for each image opened.
    pub limits: crate::Limits,
    /// Most levels of images inside images.
    pub max_depth: u32,
    /// Largest nested image gathered into memory when it is not one slice of its
    /// parent (a compressed squashfs inside a squashfs).
    pub max_buffer_bytes: u64,
}

impl Default for Nesting {
    fn default() -> Nesting {
        let options = crate::diff::Options::default();
        Nesting {
            limits: options.limits,
            max_depth: options.max_nesting,
            max_buffer_bytes: options.max_buffer_bytes,
        }
    }
}

/// Like [`walk`], and then, for every file that is itself an image (recognized by
/// its magic), the entries of that image, located under the file.
pub fn walk_nested(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    nesting: &Nesting,
    visit: &mut dyn FnMut(Listed),
    problem: &mut dyn FnMut(ListError),
) {
    walk_nested_releasing(fs, prefix, nesting, &|| {}, visit, problem);
}

/// Like [`walk_nested`], calling `release` every [`RELEASE_EVERY_FILES`] files
/// looked into, when their pages are no longer needed: a listing touches the
/// head of every file, and without it the whole image would stay resident
/// (pass [`crate::MappedFile::release`] of the image's map).
pub fn walk_nested_releasing(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    nesting: &Nesting,
    release: &(dyn Fn() + Sync),
    visit: &mut dyn FnMut(Listed),
    problem: &mut dyn FnMut(ListError),
) {
    walk_nested_at(fs, prefix, nesting, 0, release, visit, problem);
}

/// How many files are looked into (in parallel) between two releases of the
/// image's pages. Bounds the resident pages to what so many files' heads touch
/// (a data block or a fragment block each, most shared), and keeps the list of
/// files waiting to be looked into short whatever the image.
pub const RELEASE_EVERY_FILES: usize = 2048;

/// A file the walk met, and where.
type Found = (Vec<u8>, NodeId);

/// A file looked into that is an image, or whose content could not be had.
type Sniffed = (Found, Option<Error>);

/// Most batches of files waiting to be looked into while the walk goes on;
/// past it the walking thread looks into its batch itself. Bounds the paths
/// held whatever the image (the walk is faster than decoding files' heads).
const MAX_WAITING_BATCHES: usize = 4;

/// Which of `batch` are images, in order; a file whose content cannot be had
/// is an error for it. The files of a batch are looked into one after the
/// other, so that consecutive files sharing a fragment block find it decoded.
fn sniff_batch(fs: &dyn Filesystem, batch: Vec<Found>) -> Vec<Sniffed> {
    batch
        .into_iter()
        .filter_map(|(path, node)| {
            // A manifest's section of a nested image: no bytes to look into.
            if fs.described_image(node).is_some() {
                return Some(((path, node), None));
            }
            match fs.content(node) {
                Ok(content) => crate::formats::open::image_format(&content)
                    .is_some()
                    .then_some(((path, node), None)),
                Err(error) => Some(((path, node), Some(error))),
            }
        })
        .collect()
}

/// The images among the files of `fs` (and the files that could not be read),
/// in walk order, walking `fs` as [`walk`] does meanwhile. Decoding files'
/// heads is the listing's main cost: batches of files are looked into on the
/// pool's threads while this one walks on.
fn walk_and_sniff(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    look: bool,
    release: &(dyn Fn() + Sync),
    visit: &mut dyn FnMut(Listed),
    problem: &mut dyn FnMut(ListError),
) -> Vec<Sniffed> {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    // By batch number, so that the images come out in walk order whichever
    // batch is looked into first.
    let done: Mutex<BTreeMap<usize, Vec<Sniffed>>> = Mutex::new(BTreeMap::new());
    let waiting = AtomicUsize::new(0);
    rayon::in_place_scope(|scope| {
        let (done, waiting) = (&done, &waiting);
        let mut sent = 0;
        let mut send = |batch: &mut Vec<Found>| {
            if batch.is_empty() {
                return;
            }
            let (batch, index) = (std::mem::take(batch), sent);
            sent += 1;
            let finish = move |found| {
                release();
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(index, found);
            };
            if waiting.load(Ordering::Acquire) >= MAX_WAITING_BATCHES {
                finish(sniff_batch(fs, batch));
                return;
            }
            waiting.fetch_add(1, Ordering::AcqRel);
            scope.spawn(move |_| {
                finish(sniff_batch(fs, batch));
                waiting.fetch_sub(1, Ordering::AcqRel);
            });
        };
        let mut batch: Vec<Found> = Vec::new();
        walk(
            fs,
            prefix,
            &mut |l: Listed| {
                if look && l.meta.kind == EntryKind::File && l.meta.size > 0 {
                    if let Some(path) = l.location.last() {
                        batch.push((path.clone(), l.node));
                        if batch.len() >= RELEASE_EVERY_FILES {
                            send(&mut batch);
                        }
                    }
                }
                visit(l);
            },
            problem,
        );
        send(&mut batch);
    });
    let done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    done.into_values().flatten().collect()
}

fn walk_nested_at(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    nesting: &Nesting,
    depth: u32,
    release: &(dyn Fn() + Sync),
    visit: &mut dyn FnMut(Listed),
    problem: &mut dyn FnMut(ListError),
) {
    let look = depth < nesting.max_depth;
    // Only the images found (and the batches waiting) are held, not every file.
    let found = walk_and_sniff(fs, prefix, look, release, visit, problem);
    for ((path, node), error) in found {
        let mut location = prefix.to_vec();
        location.push(path);
        // A file whose bytes cannot be had (an extent past the end of a
        // truncated image) is listed, and its trouble said.
        if let Some(error) = error {
            problem(ListError { location, error });
            continue;
        }
        if let Some(described) = fs.described_image(node) {
            walk_nested_at(
                described.as_ref(),
                &location,
                nesting,
                depth + 1,
                release,
                visit,
                problem,
            );
            continue;
        }
        let content = match fs.content(node) {
            Ok(c) => c,
            Err(error) => {
                problem(ListError { location, error });
                continue;
            }
        };
        let opened =
            crate::formats::open::open_nested(&content, &nesting.limits, nesting.max_buffer_bytes);
        match opened {
            Ok(inner) => walk_nested_at(
                inner.fs.as_ref(),
                &location,
                nesting,
                depth + 1,
                release,
                visit,
                problem,
            ),
            Err(error) => problem(ListError { location, error }),
        }
    }
}
