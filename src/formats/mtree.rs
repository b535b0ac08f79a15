//! An mtree manifest (mtree(5)) as one side of a comparison: the metadata
//! and SHA-256 digests of a tree, as `isodiff manifest` and
//! `bsdtar -cf - --format=mtree` write them, so that a published manifest of a
//! kilobyte stands in for a gigabyte image.
//!
//! Read: full-path entries (`.`, `./a/b`), `/set` and `/unset`, lines
//! continued with `\`, names in mtree's octal escapes, and the keywords
//! `type`, `mode`, `uid`, `gid`, `time`, `size`, `link`, `nlink`, `device`
//! and `sha256digest`; others are ignored. A file's content is its digest
//! ([`Content::Digest`]): compared with an image's file, the digests say
//! whether they agree, and a difference says only that. A file without a
//! `sha256digest` has no content to compare (a problem of that entry).
//!
//! Times are read as written, `secs.fraction`, the fraction as a count of
//! nanoseconds (what libarchive's reader does, so bsdtar's unpadded
//! fractions read as it meant them), with [`Precision::Nanoseconds`]: an
//! image's time is compared at the precision the image stores.
//!
//! # Nested images
//!
//! `isodiff manifest` writes each nested image as a section of its own (see
//! [`crate::manifest`]): its root as `./x.squashfs:` and its entries as
//! `./x.squashfs:/etc/passwd`, after the line of the file `./x.squashfs`. A
//! path component ending in an unescaped `:` is read as such a section when
//! the manifest has already listed a file of that name in that directory; the
//! section is then the file's [`Filesystem::described_image`], a tree of its
//! own, so that the diff compares it entry by entry with the image the other
//! side holds there. Elsewhere the `:` is part of the name (bsdtar does not
//! escape it); `isodiff manifest` escapes a `:` that ends a name (`\072`),
//! so its sections and its names cannot be confused.
//!
//! Not read: the classic relative form (`..` lines), refused with an error
//! naming the line.

use crate::error::{Error, Result};
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};
use crate::time::{Precision, Timestamp};

/// The first bytes of a manifest.
pub const MAGIC: &[u8] = b"#mtree";

/// True when `data` starts as a manifest.
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

struct Node {
    name: Vec<u8>,
    meta: Meta,
    sha256: Option<[u8; 32]>,
    children: Vec<usize>,
    /// The root of the section that describes the image this file holds.
    section: Option<usize>,
    /// The lines of entries in this directory that could not be read: each
    /// costs only its entry, as a damaged record of an image does.
    errors: Vec<Error>,
}

impl Node {
    fn new(name: &[u8], meta: Meta) -> Node {
        Node {
            name: name.to_vec(),
            meta,
            sha256: None,
            children: Vec::new(),
            section: None,
            errors: Vec::new(),
        }
    }
}

/// A manifest read as a tree of entries: the outermost image's, or a nested
/// image's section of it (the nodes of all sections are one list, shared).
pub struct MtreeFs {
    nodes: std::sync::Arc<[Node]>,
    root: usize,
}

/// The nodes while the manifest is read.
struct Builder {
    nodes: Vec<Node>,
    /// (directory, name) -> child: a store's top directory lists tens of
    /// thousands of entries, and a scan of its children per line would make
    /// reading quadratic.
    index: std::collections::HashMap<(usize, Vec<u8>), usize>,
}

/// Decodes mtree's escapes: `\` and three octal digits, `\\`.
fn decode(word: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(word.len());
    let mut i = 0;
    while i < word.len() {
        let b = word[i];
        let octal = word
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b, octal) {
            (b'\\', Some(d)) => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            (b'\\', None) if word.get(i + 1) == Some(&b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex32(text: &str) -> Option<[u8; 32]> {
    let b = text.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Applies the keywords of one line (after `/set` defaults) to an entry;
/// what is wrong with them, when a value cannot be read.
fn apply(keys: &[(String, String)]) -> std::result::Result<(Meta, Option<[u8; 32]>), String> {
    let get = |k: &str| {
        keys.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let bad = |key: &str| match get(key) {
        Some(v) => format!("{key}={v} cannot be read"),
        None => format!("{key} cannot be read"),
    };
    let kind = match get("type").unwrap_or("file") {
        "file" => EntryKind::File,
        "dir" => EntryKind::Dir,
        "link" => EntryKind::Symlink,
        "char" => EntryKind::CharDevice,
        "block" => EntryKind::BlockDevice,
        "fifo" => EntryKind::Fifo,
        "socket" => EntryKind::Socket,
        _ => return Err(bad("type")),
    };
    let mut m = Meta::new(kind);
    let num = |k: &str| -> std::result::Result<Option<u64>, String> {
        get(k)
            .map(|v| v.parse::<u64>().map_err(|_| bad(k)))
            .transpose()
    };
    let small = |k: &str| -> std::result::Result<Option<u32>, String> {
        num(k)?
            .map(|v| u32::try_from(v).map_err(|_| bad(k)))
            .transpose()
    };
    if let Some(mode) = get("mode") {
        let v = u32::from_str_radix(mode, 8).map_err(|_| bad("mode"))?;
        m.mode = Some(v & 0o7777);
    }
    m.uid = small("uid")?;
    m.gid = small("gid")?;
    m.nlink = small("nlink")?;
    if let Some(t) = get("time") {
        let (secs, frac) = t.split_once('.').unwrap_or((t, "0"));
        let secs: i64 = secs.parse().map_err(|_| bad("time"))?;
        let nanos: u32 = frac.parse().map_err(|_| bad("time"))?;
        if nanos >= 1_000_000_000 {
            return Err(format!("{}: a fraction past a second", bad("time")));
        }
        m.mtime = Some(Timestamp {
            secs,
            nanos,
            offset_minutes: None,
            precision: Precision::Nanoseconds,
        });
    }
    if kind == EntryKind::File {
        m.size = num("size")?.unwrap_or(0);
    }
    if kind == EntryKind::Symlink {
        m.target = get("link").map(|l| decode(l.as_bytes()));
    }
    if matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
        if let Some(d) = get("device") {
            let parts: Vec<&str> = d.split(',').collect();
            let n = |s: Option<&&str>| s.and_then(|s| s.parse::<u32>().ok());
            let (major, minor) = match parts.len() {
                3 => (n(parts.get(1)), n(parts.get(2))),
                2 => (n(parts.first()), n(parts.get(1))),
                _ => (None, None),
            };
            m.rdev = Some((
                major.ok_or_else(|| bad("device"))?,
                minor.ok_or_else(|| bad("device"))?,
            ));
        }
    }
    let sha = match get("sha256digest").or_else(|| get("sha256")) {
        Some(h) => Some(hex32(h).ok_or_else(|| bad("sha256digest"))?),
        None => None,
    };
    Ok((m, sha))
}

impl MtreeFs {
    /// Reads the manifest in `data`. A line it cannot read (a value that is
    /// no value, a path that cannot be placed) is an error of that entry,
    /// listed among the problems of the directory that would hold it; the
    /// rest is read, so a comparison still says everything else. Refused as a
    /// whole: a manifest without `#mtree`, the relative form, and one past the
    /// entry limit.
    pub fn open(data: &[u8], limits: &crate::limits::Limits) -> Result<MtreeFs> {
        if !sniff(data) {
            return Err(Error::malformed(
                "mtree manifest",
                0,
                "no #mtree at its start",
            ));
        }
        let mut fs = Builder {
            nodes: vec![Node::new(b"/", Meta::new(EntryKind::Dir))],
            index: std::collections::HashMap::new(),
        };
        let mut set: Vec<(String, String)> = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        // Where the line being read (with its continuations) starts: byte
        // offset and number, for its errors.
        let mut line_start: Option<(u64, usize)> = None;
        let mut offset = 0u64;
        for (n, raw) in data.split(|&b| b == b'\n').enumerate() {
            let here = offset;
            offset += raw.len() as u64 + 1;
            let (line_at, line_no) = *line_start.get_or_insert((here, n + 1));
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            // A line ending in an unescaped `\` continues on the next.
            if let Some(head) = raw.strip_suffix(b"\\") {
                pending.extend_from_slice(head);
                pending.push(b' ');
                continue;
            }
            line_start = None;
            pending.extend_from_slice(raw);
            let line = std::mem::take(&mut pending);
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut words = text.split_ascii_whitespace();
            let first = words.next().unwrap_or_default();
            let keys: Vec<(String, String)> = words
                .map(|w| match w.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (w.to_owned(), String::new()),
                })
                .collect();
            match first {
                "/set" => set.extend(keys),
                "/unset" => {
                    if keys.iter().any(|(k, _)| k == "all") {
                        set.clear();
                    }
                    set.retain(|(k, _)| !keys.iter().any(|(u, _)| u == k));
                }
                ".." => {
                    return Err(Error::malformed(
                        "mtree line",
                        line_at,
                        format!(
                            "line {line_no}: the relative form (`..` lines) is not read; \
                             write full paths (bsdtar and isodiff manifest do)"
                        ),
                    ))
                }
                _ => {
                    if fs.nodes.len() as u64 > limits.max_entries {
                        return Err(Error::LimitExceeded {
                            limit: "entries per image",
                            value: fs.nodes.len() as u64,
                            max: limits.max_entries,
                        });
                    }
                    let mut all = set.clone();
                    all.extend(keys);
                    let added = apply(&all).and_then(|(meta, sha)| {
                        fs.add(first.as_bytes(), meta, sha, limits.max_depth)
                    });
                    if let Err(why) = added {
                        let dir = fs.holder(first.as_bytes());
                        fs.nodes[dir].errors.push(Error::malformed(
                            "mtree line",
                            line_at,
                            format!("line {line_no} ({first}): {why}; the entry is left out"),
                        ));
                    }
                }
            }
        }
        for i in 0..fs.nodes.len() {
            let mut kids = std::mem::take(&mut fs.nodes[i].children);
            kids.sort_by(|&x, &y| fs.nodes[x].name.cmp(&fs.nodes[y].name));
            fs.nodes[i].children = kids;
        }
        Ok(MtreeFs {
            nodes: fs.nodes.into(),
            root: 0,
        })
    }

    fn node(&self, id: NodeId) -> Result<&Node> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.nodes.get(i))
            .ok_or_else(|| Error::malformed("mtree node", id.0, "no such node"))
    }
}

/// The components of a path as written (`.`, `./a/b`), still escaped: split
/// before decoding, as an escaped `/` or `:` (`\057`, `\072`) is part of a
/// name, never a separator. `None` for a path not starting with `./`.
fn components(word: &[u8]) -> Option<Vec<&[u8]>> {
    let rest = match word {
        b"." => &[][..],
        p => p.strip_prefix(b"./")?,
    };
    Some(
        rest.split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .collect(),
    )
}

impl Builder {
    /// The file of `dir` whose section `raw` (a component `x.squashfs:`)
    /// names: the root of the section describing the image the file holds,
    /// when the file `x.squashfs` was listed there.
    fn section_file(&self, dir: usize, raw: &[u8]) -> Option<usize> {
        raw.strip_suffix(b":")
            .and_then(|stem| self.child(dir, &decode(stem)))
            .filter(|&c| self.nodes[c].meta.kind == EntryKind::File)
    }

    /// The directory whose listing holds the errors of the entry at `word`:
    /// its parent, or the deepest of its ancestors the manifest has (the
    /// root when the path cannot be read at all).
    fn holder(&self, word: &[u8]) -> usize {
        let parts = components(word).unwrap_or_default();
        let mut at = 0;
        for raw in parts.iter().take(parts.len().saturating_sub(1)) {
            let next = match self.section_file(at, raw) {
                Some(file) => self.nodes[file].section,
                None => self.child(at, &decode(raw)),
            };
            match next.filter(|&n| self.nodes[n].meta.kind == EntryKind::Dir) {
                Some(n) => at = n,
                None => break,
            }
        }
        at
    }

    /// The child of `dir` named `name`.
    fn child(&self, dir: usize, name: &[u8]) -> Option<usize> {
        self.index.get(&(dir, name.to_vec())).copied()
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Puts the entry at `word` (the path as written, still escaped: `.`,
    /// `./a/b`, `./x.squashfs:/etc/passwd`) in the tree, making the
    /// directories above it that the manifest does not list.
    /// What is wrong, when the entry cannot be placed.
    fn add(
        &mut self,
        word: &[u8],
        meta: Meta,
        sha: Option<[u8; 32]>,
        max_depth: u32,
    ) -> std::result::Result<(), String> {
        let parts = components(word).ok_or("a path not starting with ./")?;
        if parts.len() as u64 > u64::from(max_depth) {
            return Err(format!(
                "{} levels deep, past the directory depth limit {max_depth}",
                parts.len()
            ));
        }
        let mut at = 0;
        let mut section_root = true;
        for (i, raw) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            if let Some(file) = self.section_file(at, raw) {
                at = match self.nodes[file].section {
                    Some(root) => root,
                    None => {
                        let root = self.push(Node::new(b"/", Meta::new(EntryKind::Dir)));
                        self.nodes[file].section = Some(root);
                        root
                    }
                };
                section_root = true;
                continue;
            }
            let name = decode(raw);
            at = match self.child(at, &name) {
                Some(c) => c,
                None => {
                    let id = self.push(Node::new(&name, Meta::new(EntryKind::Dir)));
                    self.nodes[at].children.push(id);
                    self.index.insert((at, name), id);
                    id
                }
            };
            section_root = false;
            if !last && self.nodes[at].meta.kind != EntryKind::Dir {
                return Err("a path below a non-directory".to_owned());
            }
        }
        if section_root && meta.kind != EntryKind::Dir {
            return Err(
                "the root of a tree or of a nested image's section is not a dir".to_owned(),
            );
        }
        let node = &mut self.nodes[at];
        node.meta = meta;
        node.sha256 = sha;
        Ok(())
    }
}

impl Filesystem for MtreeFs {
    fn format(&self) -> Format {
        Format::Manifest
    }

    fn facts(&self) -> &[Fact] {
        &[]
    }

    fn root(&self) -> NodeId {
        NodeId(self.root as u64)
    }

    fn root_meta(&self) -> &Meta {
        &self.nodes[self.root].meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        let node = self.node(dir)?;
        let entries = node
            .children
            .iter()
            .map(|&c| Entry {
                name: self.nodes[c].name.clone(),
                node: NodeId(c as u64),
                meta: self.nodes[c].meta.clone(),
                attrs: Vec::new(),
            })
            .collect();
        Ok(Listing {
            entries,
            errors: node.errors.clone(),
        })
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = self.node(file)?;
        match node.sha256 {
            Some(sha256) => Ok(Content::Digest {
                len: node.meta.size,
                sha256,
            }),
            None => Err(Error::malformed(
                "mtree entry",
                file.0,
                "the manifest states no sha256digest of this file",
            )),
        }
    }

    fn described_image(&self, file: NodeId) -> Option<Box<dyn Filesystem + '_>> {
        let root = self.node(file).ok()?.section?;
        Some(Box::new(MtreeFs {
            nodes: self.nodes.clone(),
            root,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_reads_as_a_tree() -> Result<()> {
        let text = b"#mtree\n/set uid=0 gid=0\n. type=dir mode=755 time=1.0\n\
            ./a\\040b type=file mode=644 time=2.500000000 size=3 \\\n sha256digest=\
            abababababababababababababababababababababababababababababababab\n\
            ./d/l type=link link=a\\040b time=3.0\n";
        let fs = MtreeFs::open(text, &crate::limits::Limits::default())?;
        let root = fs.children(fs.root())?;
        let names: Vec<&[u8]> = root.entries.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"a b"[..], b"d"]);
        let a = &root.entries[0];
        assert_eq!(
            (a.meta.uid, a.meta.mode, a.meta.size),
            (Some(0), Some(0o644), 3)
        );
        assert_eq!(
            a.meta.mtime.map(|t| (t.secs, t.nanos)),
            Some((2, 500_000_000))
        );
        assert!(
            matches!(fs.content(a.node)?, Content::Digest { len: 3, sha256 } if sha256 == [0xab; 32])
        );
        let d = fs.children(root.entries[1].node)?;
        assert_eq!(d.entries[0].meta.target.as_deref(), Some(&b"a b"[..]));
        assert!(MtreeFs::open(b"#mtree\n..\n", &crate::limits::Limits::default()).is_err());
        Ok(())
    }

    /// The problems listed in the directories of `fs`, with the directory's
    /// path, and every entry's path: depth first.
    fn walk(fs: &MtreeFs) -> (Vec<(String, String)>, Vec<String>) {
        let (mut problems, mut paths) = (Vec::new(), Vec::new());
        let mut stack = vec![(fs.root(), String::new())];
        while let Some((dir, path)) = stack.pop() {
            let Ok(l) = fs.children(dir) else {
                continue;
            };
            for e in l.errors {
                problems.push((format!("{path}/"), e.to_string()));
            }
            for e in l.entries {
                let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
                paths.push(p.clone());
                if e.meta.kind == EntryKind::Dir {
                    stack.push((e.node, p));
                }
            }
        }
        paths.sort();
        (problems, paths)
    }

    /// A line that cannot be read costs only its entry: the error is listed
    /// in the directory that would hold it (naming the line, where it starts
    /// and why), and the lines before and after it read.
    #[test]
    fn a_damaged_line_is_an_error_of_its_entry() -> Result<()> {
        let deep = format!("#mtree\n.{} type=dir\n./ok type=file\n", "/d".repeat(5));
        let shallow = crate::limits::Limits::default().max_depth(4);
        let fs = MtreeFs::open(deep.as_bytes(), &shallow)?;
        let (problems, paths) = walk(&fs);
        // Its directories are not listed either: the root holds the error.
        assert_eq!(paths, ["/ok"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, "/");
        assert!(problems[0].1.contains("line 2 "), "{problems:?}");
        assert!(problems[0].1.contains("depth limit 4"), "{problems:?}");

        // Each line: its text, the directory listing its error (none when it
        // reads) and a word of the error.
        let cases: [(&str, &str, &str); 10] = [
            ("./x: type=file", "/", "not a dir"),
            (". type=file", "/", "not a dir"),
            ("./s/a sha256digest=zz", "/s/", "sha256digest=zz"),
            ("./s/a mode=9", "/s/", "mode=9"),
            ("x", "/", "./"),
            ("./x/b", "/", "below a non-directory"),
            ("./s/a time=1.99999999999", "/s/", "time=1.99999999999"),
            ("./s/a time=1.1000000000", "/s/", "past a second"),
            ("./s/\\777 type=char device=1", "/s/", "device=1"),
            ("./s/t type=knot", "/s/", "type=knot"),
        ];
        for (line, holder, why) in cases {
            // Line 4 of a manifest whose other entries read.
            let text = format!("#mtree\n./x type=file\n./s type=dir\n{line}\n./s/z type=file\n");
            let fs = MtreeFs::open(text.as_bytes(), &crate::limits::Limits::default())?;
            let (problems, paths) = walk(&fs);
            assert_eq!(paths, ["/s", "/s/z", "/x"], "{line}");
            let listed: Vec<&str> = problems.iter().map(|(d, _)| d.as_str()).collect();
            assert_eq!(listed, [holder], "{line}");
            let offset = text.find(&format!("\n{line}\n")).unwrap_or_default() + 1;
            for (_, p) in &problems {
                assert!(p.contains(&format!("at byte {offset}: line 4 ")), "{p}");
                assert!(p.contains(why), "{line}: {p}");
            }
        }
        Ok(())
    }

    fn names(fs: &dyn Filesystem, dir: NodeId) -> Result<Vec<Vec<u8>>> {
        Ok(fs
            .children(dir)?
            .entries
            .into_iter()
            .map(|e| e.name)
            .collect())
    }

    #[test]
    fn sections_read_as_the_images_their_files_hold() -> Result<()> {
        let text = b"#mtree\n. type=dir\n./x.sq type=file size=9\n./x.sq: type=dir mode=755\n\
            ./x.sq:/f type=file size=1\n./x.sq:/in.img type=file\n./x.sq:/in.img: type=dir\n\
            ./x.sq:/in.img:/g type=file\n./odd: type=dir\n./odd:/h type=file\n\
            ./esc\\072 type=file\n";
        let fs = MtreeFs::open(text, &crate::limits::Limits::default())?;
        let root = fs.children(fs.root())?;
        // A `name:` after no file of that name, or escaped, is a name.
        assert_eq!(
            names(&fs, fs.root())?,
            [&b"esc:"[..], b"odd:", b"x.sq"].map(|n| n.to_vec())
        );
        let odd = &root.entries[1];
        assert_eq!(names(&fs, odd.node)?, [b"h".to_vec()]);
        assert!(fs.described_image(odd.node).is_none());
        assert!(fs.described_image(root.entries[0].node).is_none());
        let sq = &root.entries[2];
        assert_eq!(sq.meta.kind, EntryKind::File);
        let inner = fs
            .described_image(sq.node)
            .ok_or(Error::UnknownFormat("no".into()))?;
        assert_eq!(inner.root_meta().mode, Some(0o755));
        let listed = inner.children(inner.root())?;
        assert_eq!(
            names(inner.as_ref(), inner.root())?,
            [b"f".to_vec(), b"in.img".to_vec()]
        );
        let deeper = inner
            .described_image(listed.entries[1].node)
            .ok_or(Error::UnknownFormat("no".into()))?;
        assert_eq!(names(deeper.as_ref(), deeper.root())?, [b"g".to_vec()]);
        Ok(())
    }

    /// Every byte of a manifest with nested sections changed, dropped or
    /// doubled in turn, and lines swapped: each reads or is refused, never
    /// panics, and what reads lists and nests (walked as `isodiff ls` does)
    /// within the limits.
    #[test]
    fn damaged_manifests_read_or_are_refused() {
        let good: &[u8] = b"#mtree\n. type=dir\n./x.sq type=file size=2 sha256digest=\
            abababababababababababababababababababababababababababababababab\n\
            ./x.sq: type=dir\n./x.sq:/in type=file size=1\n./x.sq:/in: type=dir\n\
            ./x.sq:/in:/d/l type=link link=a\\040b\n./y\\072 type=char device=native,1,2\n";
        let limits = crate::limits::Limits::default()
            .max_entries(64)
            .max_depth(8);
        let nesting = crate::listing::Nesting {
            limits: limits.clone(),
            max_depth: 4,
            max_buffer_bytes: 1 << 20,
        };
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for i in 0..good.len() {
            for b in [b':', b'/', b'\\', b' ', b'\n', b'=', b'.', 0xff] {
                let mut c = good.to_vec();
                c[i] = b;
                cases.push(c);
            }
            let mut dropped = good.to_vec();
            dropped.remove(i);
            cases.push(dropped);
            let mut doubled = good.to_vec();
            doubled.insert(i, good[i]);
            cases.push(doubled);
        }
        let lines: Vec<&[u8]> = good.split(|&b| b == b'\n').collect();
        for i in 1..lines.len() {
            let mut swapped = lines.clone();
            swapped.swap(i - 1, i);
            cases.push(swapped.join(&b'\n'));
        }
        let mut read = 0;
        for case in &cases {
            let Ok(fs) = MtreeFs::open(case, &limits) else {
                continue;
            };
            read += 1;
            let mut listed = 0u64;
            crate::listing::walk_nested(&fs, &[], &nesting, &mut |_| listed += 1, &mut |_| {});
            // Each node is listed once at most: a section belongs to one file.
            assert!(
                listed <= 64 + 8 + 2,
                "{listed}: {}",
                String::from_utf8_lossy(case)
            );
        }
        assert!(read > cases.len() / 4, "{read} of {} read", cases.len());
    }
}
