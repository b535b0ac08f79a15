//! Turning the members of all segments, in order, into a tree of entries.

use std::collections::{BTreeMap, HashMap};

use super::header::MAX_NAME;
use super::segments::{Loc, Member, Parsed};
use crate::error::Error;
use crate::formats::tree::components;
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
        let Some(parts) = components(&m.name) else {
            root_errors.push(about(
                m,
                &seg,
                "a path with `..` leaves the tree; not unpacked",
            ));
            continue;
        };
        if parts.len() as u64 > u64::from(limits.max_depth) {
            root_errors.push(Error::LimitExceeded {
                limit: "directory depth",
                value: parts.len() as u64,
                max: u64::from(limits.max_depth),
            });
            continue;
        }
        // Find or make the parent directory.
        let mut parent = 0u32;
        let mut blocked = None;
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            let next = nodes[parent as usize].children.get(*part).copied();
            match next {
                Some(id) if nodes[id as usize].entry.meta.kind == EntryKind::Dir => parent = id,
                Some(_) => {
                    blocked = Some(String::from_utf8_lossy(part).into_owned());
                    break;
                }
                None => {
                    let id = nodes.len() as u32;
                    nodes.push(implied_dir(id, part.to_vec()));
                    nodes[parent as usize].children.insert(part.to_vec(), id);
                    parent = id;
                }
            }
        }
        if let Some(part) = blocked {
            let e = about(
                m,
                &seg,
                format!("its parent {part:?} is not a directory; not unpacked"),
            );
            nodes[parent as usize].errors.push(e);
            continue;
        }
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
        // The member `.` (or `/`, `./`) describes the root itself.
        let (target, name) = match parts.last() {
            None => (Some(0u32), Vec::new()),
            Some(last) => (
                nodes[parent as usize].children.get(*last).copied(),
                last.to_vec(),
            ),
        };
        match target {
            Some(id) => {
                let old = &mut nodes[id as usize];
                if id == 0 && kind != EntryKind::Dir {
                    root_errors.push(about(m, &seg, "names the root but is not a directory"));
                    continue;
                }
                if !old.implied {
                    old.overwrites += 1;
                }
                if old.overwrites > 0 {
                    attrs.push(Fact::new("cpio.overwrites", Value::Int(old.overwrites)));
                }
                if kind != EntryKind::Dir && !old.children.is_empty() {
                    let lost = old.children.len();
                    old.children.clear();
                    nodes[parent as usize].errors.push(about(
                        m,
                        &seg,
                        format!("replaces a directory with {lost} entries, which are dropped"),
                    ));
                }
                let old = &mut nodes[id as usize];
                old.entry.meta = meta;
                old.entry.attrs = attrs;
                old.data = data;
                old.implied = false;
            }
            None => {
                let id = nodes.len() as u32;
                nodes.push(Building {
                    entry: Entry {
                        name: name.clone(),
                        node: NodeId(u64::from(id)),
                        meta,
                        attrs,
                    },
                    children: BTreeMap::new(),
                    errors: Vec::new(),
                    data,
                    implied: false,
                    overwrites: 0,
                });
                nodes[parent as usize].children.insert(name, id);
            }
        }
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
