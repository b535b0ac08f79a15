//! What the eager readers (ISO 9660, squashfs, FAT, cpio) share: a tree of nodes in
//! an arena, children held as indices, node 0 the root.

use crate::error::{Error, Result};
use crate::model::span::EntryPath;
use crate::model::{Entry, EntryKind, Listing, NodeId};

/// The path components of a member name; `None` when it has a `..`.
pub(crate) fn components(name: &[u8]) -> Option<Vec<&[u8]>> {
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty() && *p != b".")
        .collect();
    if parts.iter().any(|p| *p == b"..") {
        return None;
    }
    Some(parts)
}

/// A node of a reader's arena.
pub(crate) trait ArenaNode {
    /// The entry as listed.
    fn entry(&self) -> &Entry;
    /// Indices of the children, sorted by name.
    fn child_ids(&self) -> &[u32];
    /// Problems met while reading this directory.
    fn errors(&self) -> &[Error];
}

/// Implements [`ArenaNode`] for a node type with `entry`, `children` and `errors`.
macro_rules! arena_node {
    ($node:ty) => {
        impl $crate::formats::tree::ArenaNode for $node {
            fn entry(&self) -> &$crate::model::Entry {
                &self.entry
            }
            fn child_ids(&self) -> &[u32] {
                &self.children
            }
            fn errors(&self) -> &[$crate::error::Error] {
                &self.errors
            }
        }
    };
}
pub(crate) use arena_node;

/// A node that knows its parent (node 0, the root, is its own).
pub(crate) trait WithParent: ArenaNode {
    /// Index of the parent directory.
    fn parent(&self) -> u32;
}

/// Implements [`WithParent`] for a node type with a `parent` field.
macro_rules! parent_node {
    ($node:ty) => {
        impl $crate::formats::tree::WithParent for $node {
            fn parent(&self) -> u32 {
                self.parent
            }
        }
    };
}
pub(crate) use parent_node;

/// The path of a node, for messages: `/` for the root.
pub(crate) fn path<N: WithParent>(nodes: &[N], node: u32) -> String {
    String::from_utf8_lossy(&raw_path(nodes, node)).into_owned()
}

/// The path of a node as the diff names it: the raw names joined by `/`.
fn raw_path<N: WithParent>(nodes: &[N], mut node: u32) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    while node != 0 {
        let Some(n) = nodes.get(node as usize) else {
            break;
        };
        parts.push(&n.entry().name);
        // A bad index or a cycle ends the walk instead of looping.
        if parts.len() > nodes.len() {
            break;
        }
        node = n.parent();
    }
    let mut path = Vec::new();
    for p in parts.iter().rev() {
        path.push(b'/');
        path.extend_from_slice(p);
    }
    if path.is_empty() {
        path.push(b'/');
    }
    path
}

/// The path of every node as the diff names entries (the raw names joined by
/// `/`), each made once: a byte layout hands them to many structures.
pub(crate) fn entry_paths<N: WithParent>(nodes: &[N]) -> Vec<EntryPath> {
    let mut paths: Vec<EntryPath> = Vec::with_capacity(nodes.len());
    let mut p = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        // Parents come before their children (every reader's walk pushes them
        // so); for a node whose parent does not, the path is found walking up.
        let parent = usize::try_from(n.parent()).unwrap_or(0);
        let Some(dir) = paths.get(parent).filter(|_| parent < i) else {
            paths.push(raw_path(nodes, i as u32).into());
            continue;
        };
        p.clear();
        p.extend_from_slice(dir);
        if !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(&n.entry().name);
        paths.push(EntryPath::from(&p[..]));
    }
    paths
}

/// The nearest of `node` and its ancestors for which `is` holds.
pub(crate) fn ancestor<N: WithParent>(
    nodes: &[N],
    mut node: u32,
    is: impl Fn(&N) -> bool,
) -> Option<u32> {
    for _ in 0..=nodes.len() {
        let n = nodes.get(node as usize)?;
        if is(n) {
            return Some(node);
        }
        if node == 0 {
            return None;
        }
        node = n.parent();
    }
    None
}

/// The node a handle names, or an error for a handle this image never gave out.
pub(crate) fn node<N>(nodes: &[N], id: NodeId) -> Result<&N> {
    usize::try_from(id.0)
        .ok()
        .and_then(|i| nodes.get(i))
        .ok_or_else(|| Error::malformed("node handle", id.0, "no such node in this image"))
}

/// The listing of directory `dir`: its children's entries and its problems.
pub(crate) fn listing<N: ArenaNode>(nodes: &[N], dir: NodeId) -> Result<Listing> {
    let node = node(nodes, dir)?;
    if node.entry().meta.kind != EntryKind::Dir {
        return Err(Error::malformed("node handle", dir.0, "not a directory"));
    }
    let entries = node
        .child_ids()
        .iter()
        .filter_map(|&c| nodes.get(c as usize))
        .map(|n| n.entry().clone())
        .collect();
    Ok(Listing {
        entries,
        errors: node.errors().to_vec(),
    })
}
