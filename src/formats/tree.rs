//! What the eager readers (ISO 9660, squashfs, FAT, cpio) share: a tree of nodes in
//! an arena, children held as indices, node 0 the root.

use std::collections::BTreeMap;

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

/// A node of an archive's tree while it is built from its members (cpio, tar).
pub(crate) trait GrowingNode {
    /// The kind it has now.
    fn kind(&self) -> EntryKind;
    /// Its children by name.
    fn children_mut(&mut self) -> &mut BTreeMap<Vec<u8>, u32>;
}

/// Where a member goes in an archive's tree.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The directory that holds it.
    pub parent: u32,
    /// The node already there under its name, or the root for `.`.
    pub existing: Option<u32>,
    /// Its name in `parent` (empty for the root).
    pub name: Vec<u8>,
}

/// Why a member has no place in the tree.
#[derive(Debug)]
pub(crate) enum Misplaced {
    /// A path with `..` leaves the tree: said at the root.
    LeavesTree,
    /// Deeper than the limit: said at the root.
    TooDeep(Error),
    /// A parent it names is no directory: said at the deepest directory found.
    ParentNotDir { parent: u32, part: String },
}

impl Misplaced {
    /// The directory whose problems list it: `None` for the root's.
    pub(crate) fn at(&self) -> Option<u32> {
        match self {
            Misplaced::ParentNotDir { parent, .. } => Some(*parent),
            _ => None,
        }
    }

    /// What to say of the member.
    pub(crate) fn reason(&self) -> String {
        match self {
            Misplaced::LeavesTree => "a path with `..` leaves the tree; not unpacked".to_owned(),
            Misplaced::TooDeep(e) => e.to_string(),
            Misplaced::ParentNotDir { part, .. } => {
                format!("its parent {part:?} is not a directory; not unpacked")
            }
        }
    }
}

/// Finds where the member named `name` goes, making the parent directories
/// no member named before (with `implied(id, parent, name)`), as archive
/// extractors do.
pub(crate) fn slot<N: GrowingNode>(
    nodes: &mut Vec<N>,
    name: &[u8],
    max_depth: u32,
    implied: impl Fn(u32, u32, Vec<u8>) -> N,
) -> std::result::Result<Slot, Misplaced> {
    let parts = components(name).ok_or(Misplaced::LeavesTree)?;
    if parts.len() as u64 > u64::from(max_depth) {
        return Err(Misplaced::TooDeep(Error::LimitExceeded {
            limit: "directory depth",
            value: parts.len() as u64,
            max: u64::from(max_depth),
        }));
    }
    let mut parent = 0u32;
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        let next = nodes[parent as usize].children_mut().get(*part).copied();
        match next {
            Some(id) if nodes[id as usize].kind() == EntryKind::Dir => parent = id,
            Some(_) => {
                return Err(Misplaced::ParentNotDir {
                    parent,
                    part: String::from_utf8_lossy(part).into_owned(),
                })
            }
            None => {
                let id = nodes.len() as u32;
                nodes.push(implied(id, parent, part.to_vec()));
                nodes[parent as usize]
                    .children_mut()
                    .insert(part.to_vec(), id);
                parent = id;
            }
        }
    }
    // The member `.` (or `/`, `./`) describes the root itself.
    let (existing, name) = match parts.last() {
        None => (Some(0u32), Vec::new()),
        Some(last) => (
            nodes[parent as usize].children_mut().get(*last).copied(),
            last.to_vec(),
        ),
    };
    Ok(Slot {
        parent,
        existing,
        name,
    })
}

/// Why a member cannot take its slot.
#[derive(Debug)]
pub(crate) enum Occupied {
    /// It names the root but is no directory.
    RootNotDir,
}

/// Puts a member of `kind` in `slot`: the node there (a later member replaces
/// an earlier one, as extraction does), or a new one made by `new(id,
/// parent, name)`. Returns its id and, when a non-directory replaced a
/// directory, how many entries were dropped with it.
pub(crate) fn occupy<N: GrowingNode>(
    nodes: &mut Vec<N>,
    slot: Slot,
    kind: EntryKind,
    new: impl FnOnce(u32, u32, Vec<u8>) -> N,
) -> std::result::Result<(u32, Option<usize>), Occupied> {
    match slot.existing {
        Some(0) if kind != EntryKind::Dir => Err(Occupied::RootNotDir),
        Some(id) => {
            let children = nodes[id as usize].children_mut();
            let dropped = (kind != EntryKind::Dir && !children.is_empty()).then(|| {
                let lost = children.len();
                children.clear();
                lost
            });
            Ok((id, dropped))
        }
        None => {
            let id = nodes.len() as u32;
            nodes.push(new(id, slot.parent, slot.name.clone()));
            nodes[slot.parent as usize]
                .children_mut()
                .insert(slot.name, id);
            Ok((id, None))
        }
    }
}

/// A node of a reader's arena.
pub(crate) trait ArenaNode {
    /// Its name in its directory (empty for the root).
    fn name(&self) -> &[u8];
    /// What kind of entry it is.
    fn kind(&self) -> EntryKind;
    /// The entry as listed, this node being number `id`.
    fn listed(&self, id: u32) -> Entry;
    /// Indices of the children, sorted by name.
    fn child_ids(&self) -> &[u32];
    /// Problems met while reading this directory.
    fn errors(&self) -> &[Error];
}

/// Implements [`ArenaNode`] for a node type with `entry`, `children` and `errors`.
macro_rules! arena_node {
    ($node:ty) => {
        impl $crate::formats::tree::ArenaNode for $node {
            fn name(&self) -> &[u8] {
                &self.entry.name
            }
            fn kind(&self) -> $crate::model::EntryKind {
                self.entry.meta.kind
            }
            fn listed(&self, _: u32) -> $crate::model::Entry {
                self.entry.clone()
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
        parts.push(n.name());
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
        p.extend_from_slice(n.name());
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
    if node.kind() != EntryKind::Dir {
        return Err(Error::malformed("node handle", dir.0, "not a directory"));
    }
    let entries = node
        .child_ids()
        .iter()
        .filter_map(|&c| nodes.get(c as usize).map(|n| n.listed(c)))
        .collect();
    Ok(Listing {
        entries,
        errors: node.errors().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node with only what building needs.
    struct Test {
        kind: EntryKind,
        children: BTreeMap<Vec<u8>, u32>,
    }

    impl GrowingNode for Test {
        fn kind(&self) -> EntryKind {
            self.kind
        }
        fn children_mut(&mut self) -> &mut BTreeMap<Vec<u8>, u32> {
            &mut self.children
        }
    }

    fn dir(_: u32, _: u32, _: Vec<u8>) -> Test {
        Test {
            kind: EntryKind::Dir,
            children: BTreeMap::new(),
        }
    }

    /// Puts a member of `kind` at `name`, as the archive readers do.
    fn put(nodes: &mut Vec<Test>, name: &str, kind: EntryKind) -> Result<(u32, Option<usize>)> {
        let s = slot(nodes, name.as_bytes(), 4, dir)
            .map_err(|why| Error::malformed("member", 0, why.reason()))?;
        let (id, dropped) = occupy(nodes, s, kind, dir)
            .map_err(|_| Error::malformed("member", 0, "root not a directory"))?;
        nodes[id as usize].kind = kind;
        Ok((id, dropped))
    }

    #[test]
    fn members_find_their_places() {
        let mut nodes = vec![dir(0, 0, Vec::new())];
        // Parents no member names are made; `.` and `/` are the root.
        let (file, _) = put(&mut nodes, "./a/b/f", EntryKind::File).unwrap();
        assert_eq!(nodes.len(), 4);
        assert_eq!(put(&mut nodes, "/", EntryKind::Dir).unwrap(), (0, None));
        assert!(put(&mut nodes, ".", EntryKind::File).is_err());
        // Through a file, out of the tree, too deep: no place.
        let err = |r: Result<(u32, Option<usize>)>| r.unwrap_err().to_string();
        assert!(err(put(&mut nodes, "a/b/f/g", EntryKind::File)).contains("is not a directory"));
        assert!(err(put(&mut nodes, "a/../../x", EntryKind::File)).contains("leaves the tree"));
        assert!(err(put(&mut nodes, "1/2/3/4/5", EntryKind::File)).contains("directory depth"));
        // A later member replaces an earlier one; a file replacing a
        // directory drops its entries.
        assert_eq!(
            put(&mut nodes, "a/b/f", EntryKind::File).unwrap(),
            (file, None)
        );
        assert_eq!(put(&mut nodes, "a", EntryKind::Symlink).unwrap().1, Some(1));
        assert!(nodes[1].children.is_empty());
    }
}
