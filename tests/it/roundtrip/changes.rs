//! Known changes: a tree, the same tree with a few changes applied, both
//! packed by one producer; the comparison must report exactly those changes,
//! each at its path with its kind (`main.rs` runs it).
//!
//! A change is planned against the tree by path, so that a failing case can be
//! shrunk to fewer changes and fewer entries and still mean the same thing.

use std::collections::BTreeSet;

use super::gen::{split, Data, Kind, Node, Rng, Tree};
use super::producers::Producer;

/// One change to a tree.
#[derive(Clone, Debug)]
pub enum Change {
    /// One byte of a file changed, its size kept.
    Content(Vec<u8>),
    /// Bytes appended to a file.
    Grow(Vec<u8>),
    /// Another permission mode.
    Mode(Vec<u8>),
    /// Another owner (uid).
    Owner(Vec<u8>),
    /// Another mtime, whole seconds later.
    Time(Vec<u8>),
    /// A leaf moved to a new name in its directory.
    Rename(Vec<u8>, Vec<u8>),
    /// A new file in a directory (the empty path: the root).
    Add(Vec<u8>),
    /// A leaf removed.
    Remove(Vec<u8>),
    /// Another symlink target.
    Target(Vec<u8>),
    /// A hard link replaced by a copy of the file.
    Unlink(Vec<u8>),
}

/// A difference the report must hold: (absolute path, kind).
pub type Expect = (Vec<u8>, &'static str);

fn abs(path: &[u8]) -> Vec<u8> {
    [b"/", path].concat()
}

/// Files some hard link points to, and the hard links: their names share an
/// inode, so a change to one shows on all; only `Unlink` touches them.
fn linked(tree: &Tree) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for (i, n) in tree.nodes.iter().enumerate() {
        if let Kind::HardLink(to) = n.kind {
            out.insert(i);
            out.insert(to);
        }
    }
    out
}

/// Plans one to four changes the producer can show, on distinct entries.
pub fn plan(tree: &Tree, seed: u64, p: &Producer) -> Vec<Change> {
    let mut rng = Rng::new(seed ^ 0x5eed_c4a9_3e5a_11d7);
    let linked = linked(tree);
    let k = &p.keeps;
    let mut used: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut out = Vec::new();
    let want = rng.range(1, 4);
    for _ in 0..want * 8 {
        if out.len() as u64 >= want {
            break;
        }
        let what = rng.below(10);
        if what == 6 {
            let dirs: Vec<&Node> = tree
                .nodes
                .iter()
                .filter(|n| matches!(n.kind, Kind::Dir))
                .collect();
            let dir = if dirs.is_empty() || rng.chance(40) {
                Vec::new()
            } else {
                rng.pick(&dirs).path.clone()
            };
            out.push(Change::Add(dir));
            continue;
        }
        if tree.nodes.is_empty() {
            continue;
        }
        let i = rng.below(tree.nodes.len() as u64) as usize;
        let n = &tree.nodes[i];
        if used.contains(&n.path) {
            continue;
        }
        let free = !linked.contains(&i);
        let leaf = !matches!(n.kind, Kind::Dir);
        let bytes = matches!(&n.kind, Kind::File(Data::Bytes(b)) if !b.is_empty());
        let plain = matches!(&n.kind, Kind::File(Data::Bytes(_)));
        let is_dir = matches!(n.kind, Kind::Dir);
        let change = match what {
            0 if free && bytes => Change::Content(n.path.clone()),
            1 if free && plain => Change::Grow(n.path.clone()),
            2 if free && k.mode && !matches!(n.kind, Kind::Symlink(_)) => {
                Change::Mode(n.path.clone())
            }
            3 if free && k.owners == Some(true) => Change::Owner(n.path.clone()),
            4 if free && (k.dir_times || !is_dir) => Change::Time(n.path.clone()),
            5 if free && leaf => {
                let (dir, _) = split(&n.path);
                Change::Rename(n.path.clone(), new_name(tree, dir, &mut rng, "renamed"))
            }
            7 if free && leaf => Change::Remove(n.path.clone()),
            8 if free && matches!(n.kind, Kind::Symlink(_)) => Change::Target(n.path.clone()),
            9 if k.nlink && matches!(n.kind, Kind::HardLink(_)) => Change::Unlink(n.path.clone()),
            _ => continue,
        };
        used.insert(n.path.clone());
        out.push(change);
    }
    out
}

/// A path in `dir` that no entry of `tree` has.
fn new_name(tree: &Tree, dir: &[u8], rng: &mut Rng, stem: &str) -> Vec<u8> {
    loop {
        let name = format!("{stem}-{}", rng.below(1_000_000));
        let path = if dir.is_empty() {
            name.into_bytes()
        } else {
            [dir, b"/", name.as_bytes()].concat()
        };
        // Case-insensitively, for FAT.
        let lower = path.to_ascii_lowercase();
        if !tree
            .nodes
            .iter()
            .any(|n| n.path.to_ascii_lowercase() == lower)
        {
            return path;
        }
    }
}

/// The tree with `changes` applied, and the differences they must cause.
/// A change whose entry is no longer in the tree (a shrunk case) is left out.
pub fn apply(tree: &Tree, changes: &[Change], seed: u64, p: &Producer) -> (Tree, Vec<Expect>) {
    let mut rng = Rng::new(seed ^ 0x0dd_ba11_cafe_f00d);
    let mut t = tree.clone();
    let mut expect: Vec<Expect> = Vec::new();
    let find = |t: &Tree, path: &[u8]| t.nodes.iter().position(|n| n.path == path);
    for c in changes {
        match c {
            Change::Content(path) => {
                let Some(i) = find(&t, path) else { continue };
                if let Kind::File(Data::Bytes(b)) = &mut t.nodes[i].kind {
                    if b.is_empty() {
                        continue;
                    }
                    let at = rng.below(b.len() as u64) as usize;
                    b[at] ^= 1 << rng.below(8);
                    expect.push((abs(path), "content"));
                }
            }
            Change::Grow(path) => {
                let Some(i) = find(&t, path) else { continue };
                if let Kind::File(Data::Bytes(b)) = &mut t.nodes[i].kind {
                    let more = rng.range(1, 5000) as usize;
                    b.extend(rng.bytes(more));
                    expect.push((abs(path), "size"));
                    expect.push((abs(path), "content"));
                }
            }
            Change::Mode(path) => {
                let Some(i) = find(&t, path) else { continue };
                let n = &mut t.nodes[i];
                n.mode ^= 1 << rng.below(12);
                expect.push((abs(path), "mode"));
            }
            Change::Owner(path) => {
                let Some(i) = find(&t, path) else { continue };
                let n = &mut t.nodes[i];
                n.uid = if n.uid == 4242 { 4343 } else { 4242 };
                expect.push((abs(path), "uid"));
            }
            Change::Time(path) => {
                let Some(i) = find(&t, path) else { continue };
                let n = &mut t.nodes[i];
                // Whole seconds, even (FAT keeps 2 s), and inside the time
                // range the format holds: earlier when later would not fit.
                let step = 2 * rng.range(1, 1000) as i64;
                let base = n.mtime - n.mtime.rem_euclid(2);
                n.mtime = if base + step <= p.caps.max_time {
                    base + step
                } else {
                    base - step
                };
                if n.mtime == base {
                    continue;
                }
                n.nanos = 0;
                expect.push((abs(path), "mtime"));
                if p.keeps.mtime_as_created {
                    expect.push((abs(path), "attribute fat.created"));
                }
            }
            Change::Rename(from, to) => {
                let Some(i) = find(&t, from) else { continue };
                t.nodes[i].path = to.clone();
                expect.push((abs(from), "removed"));
                expect.push((abs(to), "added"));
            }
            Change::Add(dir) => {
                if !dir.is_empty() && find(&t, dir).is_none() {
                    continue;
                }
                let path = new_name(&t, dir, &mut rng, "added");
                let len = rng.below(3000) as usize;
                t.nodes.push(Node {
                    path: path.clone(),
                    kind: Kind::File(Data::Bytes(rng.bytes(len))),
                    mode: 0o644,
                    uid: 0,
                    gid: 0,
                    mtime: p.caps.min_time.max(1_000_000_000),
                    nanos: 0,
                    xattrs: Vec::new(),
                });
                expect.push((abs(&path), "added"));
            }
            Change::Remove(path) => {
                let Some(i) = find(&t, path) else { continue };
                remove(&mut t, i);
                expect.push((abs(path), "removed"));
            }
            Change::Target(path) => {
                let Some(i) = find(&t, path) else { continue };
                if let Kind::Symlink(target) = &mut t.nodes[i].kind {
                    target.insert(0, b'x');
                    if target.len() > p.caps.max_target {
                        target.truncate(p.caps.max_target);
                        target.pop();
                        target.push(b'y');
                    }
                    expect.push((abs(path), "symlink"));
                }
            }
            Change::Unlink(path) => {
                let Some(i) = find(&t, path) else { continue };
                let Kind::HardLink(to) = t.nodes[i].kind else {
                    continue;
                };
                let names: Vec<usize> = (0..t.nodes.len())
                    .filter(|&j| j == to || matches!(t.nodes[j].kind, Kind::HardLink(x) if x == to))
                    .collect();
                t.nodes[i].kind = t.nodes[to].kind.clone();
                // Every name of the inode loses a link; the copy has one.
                for j in names {
                    expect.push((abs(&t.nodes[j].path), "nlink"));
                }
            }
        }
    }
    expect.sort();
    expect.dedup();
    (t, expect)
}

/// Removes node `i` and renumbers the hard links after it.
pub fn remove(t: &mut Tree, i: usize) {
    t.nodes.remove(i);
    for n in &mut t.nodes {
        if let Kind::HardLink(to) = &mut n.kind {
            if *to > i {
                *to -= 1;
            }
        }
    }
}
