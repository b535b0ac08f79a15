//! Listing every entry of an image: what `isodiff ls` prints.

use crate::error::Error;
use crate::model::{Entry, EntryKind, Filesystem, Meta};

/// One listed entry: where it is, and its metadata.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The location as in the report contract: outermost first, each element an
    /// absolute path inside the file system named by the ones before it.
    pub location: Vec<Vec<u8>>,
    /// The entry's metadata.
    pub meta: Meta,
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
