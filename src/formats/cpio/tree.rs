//! Turning the members of all segments, in order, into a tree of entries.

use std::collections::{BTreeMap, HashMap};

use super::header::MAX_NAME;
use super::segments::{Loc, Member, Parsed};
use crate::error::Error;
use crate::formats::tree::{occupy, slot, GrowingNode, Misplaced, Occupied};
use crate::limits::Limits;
use crate::model::{Entry, EntryKind, Fact, Meta, NodeId, Value};
use crate::time::Timestamp;

/// One entry of the tree.
#[derive(Debug)]
pub(crate) struct Node {
    pub entry: Entry,
    /// Children (indices into the tree), sorted by name.
    pub children: Vec<u32>,
    /// Problems with the members of this directory.
    pub errors: Vec<Error>,
    /// A regular file's data.
    pub data: Option<Loc>,
}

/// The whole tree, node 0 being the root.
#[derive(Debug)]
pub(crate) struct Tree {
    pub nodes: Vec<Node>,
}

struct Building {
    entry: Entry,
    children: BTreeMap<Vec<u8>, u32>,
    errors: Vec<Error>,
    data: Option<Loc>,
    /// Made up for a parent no member names.
    implied: bool,
    overwrites: u64,
}

impl GrowingNode for Building {
    fn kind(&self) -> EntryKind {
        self.entry.meta.kind
    }
    fn children_mut(&mut self) -> &mut BTreeMap<Vec<u8>, u32> {
        &mut self.children
    }
}

fn implied_dir(id: u32, name: Vec<u8>) -> Building {
    Building {
        entry: Entry {
            name,
            node: NodeId(u64::from(id)),
            meta: Meta::new(EntryKind::Dir),
            attrs: vec![Fact::new("cpio.implied", Value::Bool(true))],
        },
        children: BTreeMap::new(),
        errors: Vec::new(),
        data: None,
        implied: true,
        overwrites: 0,
    }
}

/// Says which member an error is about.
fn about(m: &Member, label: &str, reason: impl std::fmt::Display) -> Error {
    Error::malformed(
        "cpio member",
        m.offset,
        format!(
            "{:?} (segment {label}): {reason}",
            String::from_utf8_lossy(&m.name)
        ),
    )
}

pub(crate) fn build(input: &[u8], p: &Parsed, limits: &Limits) -> Tree {
    let labels: Vec<String> = p
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| s.label(i))
        .collect();
    let label = |m: &Member| labels.get(m.segment).cloned().unwrap_or_default();
    let bytes = |loc: &Loc| super::slice(input, &p.buffers, loc);

    // Hard links: the last link in an archive that carries data gives it to all.
    let is_link = |m: &Member| m.nlink >= 2 && m.mode & 0o170000 == 0o100000;
    let mut holders: HashMap<(usize, (u32, u32), u64), Loc> = HashMap::new();
    for m in p.members.iter().filter(|m| is_link(m) && m.data.len > 0) {
        holders.insert((m.archive, m.dev, m.ino), m.data);
    }

    let mut nodes: Vec<Building> = vec![implied_dir(0, Vec::new())];
    let mut root_errors: Vec<Error> = p.errors.clone();
    for m in &p.members {
        let seg = label(m);
        let implied = |id, _, name| implied_dir(id, name);
        let slot = match slot(&mut nodes, &m.name, limits.max_depth, implied) {
            Ok(slot) => slot,
            Err(Misplaced::TooDeep(e)) => {
                root_errors.push(e);
                continue;
            }
            Err(why) => {
                let e = about(m, &seg, why.reason());
                match why.at() {
                    Some(dir) => nodes[dir as usize].errors.push(e),
                    None => root_errors.push(e),
                }
                continue;
            }
        };
        let parent = slot.parent;
        let Some(kind) = EntryKind::from_posix_mode(m.mode) else {
            let e = about(
                m,
                &seg,
                format!("mode {:#o} has no known file type", m.mode),
            );
            nodes[parent as usize].errors.push(e);
            continue;
        };
        let mut meta = Meta::new(kind);
        meta.mode = Some(m.mode & 0o7777);
        meta.uid = Some(m.uid);
        meta.gid = Some(m.gid);
        meta.mtime = i64::try_from(m.mtime).ok().map(Timestamp::from_unix);
        meta.nlink = Some(m.nlink);
        let mut data = None;
        match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => meta.rdev = Some(m.rdev),
            EntryKind::Symlink => {
                if m.data.len as u64 > MAX_NAME {
                    let e = about(m, &seg, format!("a symlink target of {} bytes", m.data.len));
                    nodes[parent as usize].errors.push(e);
                    continue;
                }
                meta.target = Some(bytes(&m.data).to_vec());
            }
            EntryKind::File => {
                let loc = if is_link(m) {
                    holders
                        .get(&(m.archive, m.dev, m.ino))
                        .copied()
                        .unwrap_or(m.data)
                } else {
                    m.data
                };
                meta.size = loc.len as u64;
                data = Some(loc);
            }
            _ => {}
        }
        // GNU cpio and the kernel sum regular files only; other members carry 0.
        if let (Some(check), EntryKind::File) = (m.check, kind) {
            let sum = bytes(&m.data)
                .iter()
                .fold(0u32, |s, &b| s.wrapping_add(u32::from(b)));
            if sum != check {
                let e = about(
                    m,
                    &seg,
                    format!("the data sums to {sum:#x}, the header's checksum is {check:#x}"),
                );
                nodes[parent as usize].errors.push(e);
            }
        }
        let mut attrs = vec![
            Fact::layout("cpio.segment", Value::Text(seg.clone())),
            Fact::layout("cpio.ino", Value::Int(m.ino)),
            Fact::layout("cpio.dev", Value::Text(format!("{}:{}", m.dev.0, m.dev.1))),
            // Where the header is: in the image for a plain segment, else in the
            // segment's decompressed bytes.
            Fact::layout("cpio.offset", Value::Int(m.offset)),
        ];
        let id = match occupy(&mut nodes, slot, kind, implied) {
            Ok((id, dropped)) => {
                if let Some(lost) = dropped {
                    nodes[parent as usize].errors.push(about(
                        m,
                        &seg,
                        format!("replaces a directory with {lost} entries, which are dropped"),
                    ));
                }
                id
            }
            Err(Occupied::RootNotDir) => {
                root_errors.push(about(m, &seg, "names the root but is not a directory"));
                continue;
            }
        };
        let node = &mut nodes[id as usize];
        // A member named before (not a directory only implied by a path).
        if !node.implied {
            node.overwrites += 1;
        }
        if node.overwrites > 0 {
            attrs.push(Fact::new("cpio.overwrites", Value::Int(node.overwrites)));
        }
        node.entry.meta = meta;
        node.entry.attrs = attrs;
        node.data = data;
        node.implied = false;
    }
    if let Some(root) = nodes.first_mut() {
        root.errors.splice(0..0, root_errors);
    }
    Tree {
        nodes: nodes
            .into_iter()
            .map(|b| Node {
                entry: b.entry,
                children: b.children.into_values().collect(),
                errors: b.errors,
                data: b.data,
            })
            .collect(),
    }
}
