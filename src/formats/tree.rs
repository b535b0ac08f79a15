//! What the eager readers (ISO 9660, squashfs, FAT, cpio) share: a tree of nodes in
//! an arena, children held as indices, node 0 the root.

use crate::error::{Error, Result};
use crate::model::{Entry, EntryKind, Listing, NodeId};

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
pub(crate) fn path<N: WithParent>(nodes: &[N], mut node: u32) -> String {
    let mut parts: Vec<&[u8]> = Vec::new();
    while node != 0 {
        let Some(n) = nodes.get(node as usize) else {
            break;
        };
        parts.push(&n.entry().name);
        // Parents always come before their children; a bad index or a cycle ends
        // the walk instead of looping.
        if parts.len() > nodes.len() {
            break;
        }
        node = n.parent();
    }
    let parts: Vec<String> = parts
        .iter()
        .rev()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    format!("/{}", parts.join("/"))
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
