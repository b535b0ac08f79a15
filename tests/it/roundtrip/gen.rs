//! A seeded, reproducible generator of random file trees, written to disk, and
//! the expectation read back from the disk (what a producer saw).
//!
//! The generator is told what the target format can hold ([`Caps`]) and makes
//! only trees that fit: a producer that cannot store a name or a file type is not
//! what these tests look for. What a producer stores of what it was given (time
//! precision, owners, ...) is the business of `producers.rs`.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

/// splitmix64: small, fast, and the same sequence on every machine, so a seed
/// names a tree for good.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// What the target format (and its producer) can hold at all.
#[derive(Clone, Copy, Debug)]
pub struct Caps {
    /// Names may be any bytes but `/` and NUL (else valid UTF-8 only).
    pub invalid_utf8: bool,
    /// Names are compared case-sensitively (else no two siblings may differ
    /// only in case).
    pub case_sensitive: bool,
    /// Only characters a FAT long name may hold.
    pub fat_names: bool,
    /// Longest name in bytes.
    pub max_name: usize,
    pub symlinks: bool,
    /// Longest symlink target in bytes.
    pub max_target: usize,
    /// Fifos and device nodes (only when running as root, for the devices).
    pub specials: bool,
    pub hardlinks: bool,
    pub xattrs: bool,
    /// Earliest and latest mtime, in seconds since the epoch.
    pub min_time: i64,
    pub max_time: i64,
    /// Deepest directory level.
    pub max_depth: usize,
}

impl Caps {
    /// Squashfs and cpio: everything a Linux file system holds, times in u32.
    pub fn unix() -> Caps {
        Caps {
            invalid_utf8: true,
            case_sensitive: true,
            fat_names: false,
            max_name: 255,
            symlinks: true,
            max_target: 4000,
            specials: true,
            hardlinks: true,
            xattrs: true,
            min_time: 0,
            max_time: u32::MAX as i64,
            max_depth: 12,
        }
    }
}

/// One entry of a generated tree.
#[derive(Clone, Debug)]
pub struct Node {
    /// Path relative to the tree's root, components joined by `/`.
    pub path: Vec<u8>,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub nanos: u32,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Clone, Debug)]
pub enum Kind {
    File(Data),
    Dir,
    Symlink(Vec<u8>),
    Fifo,
    Char(u32, u32),
    Block(u32, u32),
    /// A hard link to the file at this index of [`Tree::nodes`].
    HardLink(usize),
}

/// A file's content: plain bytes, or a sparse file of `len` bytes with data
/// only at some offsets.
#[derive(Clone, Debug)]
pub enum Data {
    Bytes(Vec<u8>),
    Sparse {
        len: u64,
        pieces: Vec<(u64, Vec<u8>)>,
    },
}

/// A generated tree: the root's own metadata and every entry below it.
#[derive(Clone, Debug)]
pub struct Tree {
    pub root: Node,
    pub nodes: Vec<Node>,
}

const UNICODE: &[&str] = &["é", "ß", "Ω", "日本", "ñ", "😀", "ﬁ", "İ", "Å"];
/// Bytes no FAT long name holds, and `~`: mtools 4.0.32 gives a long name
/// whose eighth character is `~` (`abcdefg~1`, seed 16588207502955783167) a
/// short name with NUL bytes in its extension and a long-name checksum that
/// does not match it; `fsck.vfat -n` reports both ("Wrong checksum for long
/// file name", "Bad short file name") and mdir lists the short name alone.
const FAT_BAD: &[u8] = b"\"*/:<>?\\|~";

/// Sizes around squashfs's 4 KiB and 128 KiB blocks and ISO's 2 KiB sectors;
/// tails under the block size become fragments.
const EDGES: &[u64] = &[
    0, 1, 2047, 2048, 2049, 4095, 4096, 4097, 8192, 131071, 131072, 131073,
];

/// Total bytes of content of one tree, so that a case stays fast.
const DATA_BUDGET: u64 = 1 << 20;

struct Gen<'c> {
    rng: Rng,
    caps: &'c Caps,
    nodes: Vec<Node>,
    data: u64,
    root: bool,
}

/// Makes the tree of `seed` for a format of `caps`.
pub fn tree(seed: u64, caps: &Caps) -> Tree {
    let mut g = Gen {
        rng: Rng::new(seed),
        caps,
        nodes: Vec::new(),
        data: 0,
        root: is_root(),
    };
    let root = g.meta(Vec::new(), Kind::Dir);
    g.dir(Vec::new(), 0);
    // Hard links last, to files made anywhere in the tree.
    if caps.hardlinks {
        let files: Vec<usize> = (0..g.nodes.len())
            .filter(|&i| matches!(g.nodes[i].kind, Kind::File(_)))
            .collect();
        let dirs: Vec<Vec<u8>> = std::iter::once(Vec::new())
            .chain(
                g.nodes
                    .iter()
                    .filter(|n| matches!(n.kind, Kind::Dir))
                    .map(|n| n.path.clone()),
            )
            .collect();
        if !files.is_empty() {
            for _ in 0..g.rng.below(4) {
                let to = *g.rng.pick(&files);
                let dir = g.rng.pick(&dirs).clone();
                let name = g.unique_name(&dir);
                let path = join(&dir, &name);
                if path.len() > 3000 {
                    continue;
                }
                let mut n = g.nodes[to].clone();
                n.path = path;
                n.kind = Kind::HardLink(to);
                g.nodes.push(n);
            }
        }
    }
    Tree {
        root,
        nodes: g.nodes,
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

impl Gen<'_> {
    fn dir(&mut self, path: Vec<u8>, depth: usize) {
        // Mostly small directories, sometimes a wide one, and sometimes a deep
        // chain (ISO 9660 producers relocate or not past eight levels).
        let wide = self.rng.chance(5);
        let count = if wide {
            self.rng.range(30, 90)
        } else {
            self.rng.below(6)
        };
        let chain = depth < self.caps.max_depth && self.rng.chance(8);
        for i in 0..count + u64::from(chain) {
            let name = self.unique_name(&path);
            let child = join(&path, &name);
            if child.len() > 3000 {
                continue;
            }
            let subdir_chance = if wide { 3 } else { 25 };
            let is_dir = (i == count && chain)
                || (depth < self.caps.max_depth && self.rng.chance(subdir_chance));
            if is_dir {
                let n = self.meta(child.clone(), Kind::Dir);
                self.nodes.push(n);
                self.dir(child, depth + 1);
            } else {
                let kind = self.leaf_kind();
                let n = self.meta(child, kind);
                self.nodes.push(n);
            }
        }
    }

    fn leaf_kind(&mut self) -> Kind {
        let roll = self.rng.below(100);
        if self.caps.symlinks && roll < 20 {
            return Kind::Symlink(self.target());
        }
        if self.caps.specials && roll < 24 {
            if !self.root || self.rng.chance(40) {
                return Kind::Fifo;
            }
            // Majors and minors within what Linux's dev_t (12 and 20 bits) and
            // squashfs's 32-bit encoding hold.
            let major = if self.rng.chance(70) {
                self.rng.below(256) as u32
            } else {
                self.rng.below(4096) as u32
            };
            let minor = if self.rng.chance(70) {
                self.rng.below(256) as u32
            } else {
                self.rng.below(1 << 20) as u32
            };
            return if self.rng.chance(50) {
                Kind::Char(major, minor)
            } else {
                Kind::Block(major, minor)
            };
        }
        Kind::File(self.data())
    }

    fn data(&mut self) -> Data {
        let left = DATA_BUDGET.saturating_sub(self.data);
        let want = match self.rng.below(10) {
            0..=3 => self.rng.below(200),
            4..=6 => {
                let e = *self.rng.pick(EDGES);
                e.saturating_add(self.rng.below(3)).saturating_sub(1)
            }
            7 => self.rng.range(200, 20_000),
            8 => self.rng.range(20_000, 300_000),
            _ => 0,
        };
        let len = want.min(left);
        // Sparse files cost no budget for their holes; only where data is.
        if self.rng.chance(6) {
            let len = self.rng.range(131_072, 3 << 20);
            let mut pieces = Vec::new();
            for _ in 0..self.rng.below(3) {
                let at = self.rng.below(len);
                let n = self.rng.range(1, 5000).min(len - at);
                pieces.push((at, self.fill(n as usize)));
            }
            return Data::Sparse { len, pieces };
        }
        self.data += len;
        Data::Bytes(self.fill(len as usize))
    }

    /// Random bytes, text-like bytes, or runs (compressible, and all-zero blocks
    /// that mksquashfs stores as holes).
    fn fill(&mut self, n: usize) -> Vec<u8> {
        match self.rng.below(4) {
            0 => self.rng.bytes(n),
            1 => (0..n).map(|i| b"lorem ipsum dolor\n"[i % 18]).collect(),
            2 => vec![0; n],
            _ => {
                let mut v = vec![0u8; n];
                for chunk in v.chunks_mut(4096) {
                    if self.rng.chance(50) {
                        let b = self.rng.next() as u8;
                        chunk.fill(b);
                    }
                }
                v
            }
        }
    }

    /// A symlink target of some length: components joined by single slashes
    /// (no empty, `.` or `..` parts unless chosen), relative or absolute.
    fn target(&mut self) -> Vec<u8> {
        let want = match self.rng.below(6) {
            0 => self.rng.range(1, 8),
            1 | 2 => self.rng.range(8, 100),
            3 => self.rng.range(240, 270),
            4 => self.rng.range(500, 1100),
            _ => self.rng.range(1, 4000),
        }
        .min(self.caps.max_target as u64) as usize;
        let mut t = Vec::new();
        if self.rng.chance(30) {
            t.push(b'/');
        }
        while t.len() < want {
            if !t.is_empty() && t.last() != Some(&b'/') {
                t.push(b'/');
            }
            let part = match self.rng.below(8) {
                0 => b"..".to_vec(),
                1 => b".".to_vec(),
                _ => {
                    let n = self.rng.range(1, 60).min((want - t.len()).max(1) as u64);
                    self.name_bytes(n as usize)
                }
            };
            t.extend_from_slice(&part);
        }
        if t.last() == Some(&b'/') && t.len() > 1 {
            t.pop();
        }
        t.truncate(self.caps.max_target);
        // The cut may split a character: a format that holds only UTF-8
        // (pycdlib takes targets as text) gets whole characters.
        while !self.caps.invalid_utf8 && std::str::from_utf8(&t).is_err() {
            t.pop();
        }
        t
    }

    /// Name characters the format allows, about `n` bytes of them.
    fn name_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < n {
            let roll = self.rng.below(100);
            if roll < 8 {
                let c = self.rng.pick(UNICODE).as_bytes();
                // mtools writes a character outside the BMP as its low 16 bits
                // (U+1F600 as U+F600): a producer's limit, so FAT names keep
                // to the BMP.
                // mtools also transliterates U+FB01 (the ligature) to `f`.
                // And İ to `I`: both seen in mdir's listing.
                if self.caps.fat_names
                    && (c.len() == 4 || c == "ﬁ".as_bytes() || c == "İ".as_bytes())
                {
                    continue;
                }
                out.extend_from_slice(c);
            } else if roll < 12 && self.caps.invalid_utf8 {
                out.push(self.rng.range(0x80, 0xff) as u8);
            } else if roll < 15 {
                out.push(*self.rng.pick(b" -_.,+=~#%()[]{}'!&@$^"));
            } else {
                out.push(
                    *self
                        .rng
                        .pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
                );
            }
        }
        if self.caps.fat_names {
            out.retain(|b| !FAT_BAD.contains(b));
        }
        out
    }

    /// A name not yet used in `dir` (case-insensitively unless the format is
    /// case-sensitive); sometimes the case twin of a sibling, where allowed.
    fn unique_name(&mut self, dir: &[u8]) -> Vec<u8> {
        let siblings: Vec<Vec<u8>> = self
            .nodes
            .iter()
            .filter_map(|n| {
                let (parent, name) = split(&n.path);
                (parent == dir).then(|| name.to_vec())
            })
            .collect();
        let fold = |n: &[u8]| String::from_utf8_lossy(n).to_lowercase();
        for attempt in 0.. {
            let name = if self.caps.case_sensitive && attempt == 0 && self.rng.chance(10) {
                match siblings
                    .iter()
                    .find(|s| s.iter().any(u8::is_ascii_alphabetic))
                {
                    Some(s) => s
                        .iter()
                        .map(|b| {
                            if b.is_ascii_lowercase() {
                                b.to_ascii_uppercase()
                            } else {
                                b.to_ascii_lowercase()
                            }
                        })
                        .collect(),
                    None => continue,
                }
            } else {
                let len = match self.rng.below(10) {
                    0 => self.rng.range(100, self.caps.max_name as u64),
                    1 | 2 => self.rng.range(9, 40),
                    _ => self.rng.range(1, 12),
                } as usize;
                let mut n = self.name_bytes(len);
                // Trim to the limit without cutting a UTF-8 sequence in two
                // where names must be UTF-8.
                while n.len() > self.caps.max_name
                    || (!self.caps.invalid_utf8 && std::str::from_utf8(&n).is_err())
                {
                    n.pop();
                }
                if self.caps.fat_names {
                    // FAT drops trailing dots and spaces, and leading spaces.
                    while matches!(n.last(), Some(b'.' | b' ')) {
                        n.pop();
                    }
                    while n.first() == Some(&b' ') {
                        n.remove(0);
                    }
                }
                n
            };
            if name.is_empty() || name == b"." || name == b".." {
                continue;
            }
            let clash = siblings
                .iter()
                .any(|s| *s == name || (!self.caps.case_sensitive && fold(s) == fold(&name)));
            if !clash {
                return name;
            }
        }
        unreachable!()
    }

    fn meta(&mut self, path: Vec<u8>, kind: Kind) -> Node {
        let is_dir = matches!(kind, Kind::Dir);
        let mode = match self.rng.below(12) {
            0 => 0o4755,
            1 => 0o2755,
            2 => 0o1777,
            3 => 0o000,
            4 => self.rng.below(0o10000) as u32,
            5 => 0o600,
            6 => 0o444,
            _ if is_dir => 0o755,
            _ => *self.rng.pick(&[0o644, 0o755]),
        };
        let id = |rng: &mut Rng| match rng.below(6) {
            0 | 1 => 0,
            2 => 1000,
            3 => 65534,
            4 => rng.below(70_000) as u32,
            _ => rng.range(100_000, u32::MAX as u64 - 1) as u32,
        };
        let (uid, gid) = (id(&mut self.rng), id(&mut self.rng));
        let (lo, hi) = (self.caps.min_time as u64, self.caps.max_time as u64);
        let mtime = match self.rng.below(6) {
            0 => lo as i64,
            1 => hi as i64,
            2 => 2_147_483_647 + self.rng.range(0, 2) as i64 - 1,
            _ => self.rng.range(lo, hi) as i64,
        }
        .clamp(lo as i64, hi as i64);
        let nanos = if self.rng.chance(70) {
            self.rng.below(1_000_000_000) as u32
        } else {
            0
        };
        let mut xattrs = Vec::new();
        // Linux allows user.* xattrs on files and directories only.
        if self.caps.xattrs && matches!(kind, Kind::File(_) | Kind::Dir) && self.rng.chance(15) {
            for i in 0..self.rng.range(1, 3) {
                let ns = if self.root && self.rng.chance(30) {
                    "trusted"
                } else {
                    "user"
                };
                let name = format!("{ns}.k{i}{}", self.rng.below(1000)).into_bytes();
                let len = *self.rng.pick(&[0u64, 1, 10, 100, 300]) as usize;
                xattrs.push((name, self.rng.bytes(len)));
            }
            xattrs.sort();
            xattrs.dedup_by(|a, b| a.0 == b.0);
        }
        Node {
            path,
            kind,
            mode,
            uid: if self.root { uid } else { 0 },
            gid: if self.root { gid } else { 0 },
            mtime,
            nanos,
            xattrs,
        }
    }
}

/// (parent, name) of a relative path.
pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn os(path: &[u8]) -> &OsStr {
    OsStr::from_bytes(path)
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path")
}

fn check(what: &str, p: &Path, rc: libc::c_int) {
    assert!(
        rc == 0,
        "{what} {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
}

/// Writes `tree` under `dir` (which must exist and be empty). Returns false
/// when the file system refused the extended attributes (none are then set).
pub fn materialize(tree: &Tree, dir: &Path) {
    let at = |rel: &[u8]| -> PathBuf {
        if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(os(rel))
        }
    };
    // Create everything first, then owners, modes and times: creating an entry
    // changes its directory's mtime, and chown clears setuid bits.
    for n in &tree.nodes {
        let p = at(&n.path);
        match &n.kind {
            Kind::Dir => std::fs::create_dir(&p).expect("mkdir"),
            Kind::File(data) => {
                let f = std::fs::File::create(&p).expect("create");
                match data {
                    Data::Bytes(b) => f.write_all_at(b, 0).expect("write"),
                    Data::Sparse { len, pieces } => {
                        f.set_len(*len).expect("set_len");
                        for (off, b) in pieces {
                            f.write_all_at(b, *off).expect("write");
                        }
                    }
                }
            }
            Kind::Symlink(t) => std::os::unix::fs::symlink(os(t), &p).expect("symlink"),
            Kind::Fifo => {
                check("mkfifo", &p, unsafe {
                    libc::mkfifo(cstr(&p).as_ptr(), 0o644)
                });
            }
            Kind::Char(ma, mi) | Kind::Block(ma, mi) => {
                let fmt = if matches!(n.kind, Kind::Char(..)) {
                    libc::S_IFCHR
                } else {
                    libc::S_IFBLK
                };
                let dev = libc::makedev(*ma, *mi);
                check("mknod", &p, unsafe {
                    libc::mknod(cstr(&p).as_ptr(), fmt | 0o644, dev)
                });
            }
            Kind::HardLink(to) => std::fs::hard_link(at(&tree.nodes[*to].path), &p).expect("link"),
        }
    }
    for n in std::iter::once(&tree.root).chain(&tree.nodes) {
        if matches!(n.kind, Kind::HardLink(_)) {
            continue;
        }
        let p = cstr(&at(&n.path));
        for (k, v) in &n.xattrs {
            let k = CString::new(k.clone()).expect("xattr name");
            check("lsetxattr", &at(&n.path), unsafe {
                libc::lsetxattr(p.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0)
            });
        }
        check("lchown", &at(&n.path), unsafe {
            libc::lchown(p.as_ptr(), n.uid, n.gid)
        });
        if !matches!(n.kind, Kind::Symlink(_)) {
            check("chmod", &at(&n.path), unsafe {
                libc::chmod(p.as_ptr(), n.mode as libc::mode_t)
            });
        }
    }
    // Times last of all, children before parents is not needed: setting a time
    // changes no directory.
    for n in std::iter::once(&tree.root).chain(&tree.nodes) {
        if matches!(n.kind, Kind::HardLink(_)) {
            continue;
        }
        let p = cstr(&at(&n.path));
        let t = libc::timespec {
            tv_sec: n.mtime as libc::time_t,
            tv_nsec: n.nanos as _,
        };
        check("utimensat", &at(&n.path), unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                p.as_ptr(),
                [t, t].as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        });
    }
}

/// What the disk holds for one entry, read back with lstat: what a producer sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub nanos: u32,
    pub nlink: u32,
    pub size: u64,
    pub target: Option<Vec<u8>>,
    pub rdev: Option<(u32, u32)>,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The content of a regular file.
    pub content: Option<Vec<u8>>,
}

/// Extended attributes, (name, value), sorted by name.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Every entry under `dir`, keyed by its absolute path in the image (`/` for the
/// root), as lstat and readdir give it.
pub fn read_back(tree: &Tree, dir: &Path) -> BTreeMap<Vec<u8>, Seen> {
    let xattrs: BTreeMap<Vec<u8>, Xattrs> = std::iter::once(&tree.root)
        .chain(&tree.nodes)
        .map(|n| {
            let owner = match n.kind {
                Kind::HardLink(to) => &tree.nodes[to],
                _ => n,
            };
            (n.path.clone(), owner.xattrs.clone())
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut stack = vec![Vec::<u8>::new()];
    while let Some(rel) = stack.pop() {
        let p = if rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(os(&rel))
        };
        let m = std::fs::symlink_metadata(&p).expect("lstat");
        let ft = m.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else {
            "file"
        };
        let rdev = (kind == "char" || kind == "block").then(|| {
            let r = m.rdev();
            (libc::major(r), libc::minor(r))
        });
        let seen = Seen {
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            mtime: m.mtime(),
            nanos: m.mtime_nsec() as u32,
            nlink: m.nlink() as u32,
            size: if kind == "file" { m.size() } else { 0 },
            target: (kind == "symlink").then(|| {
                std::fs::read_link(&p)
                    .expect("readlink")
                    .as_os_str()
                    .as_bytes()
                    .to_vec()
            }),
            rdev,
            xattrs: xattrs.get(&rel).cloned().unwrap_or_default(),
            content: (kind == "file").then(|| std::fs::read(&p).expect("read")),
        };
        out.insert([b"/", &rel[..]].concat(), seen);
        if kind == "dir" {
            for e in std::fs::read_dir(&p).expect("read_dir") {
                let name = e.expect("entry").file_name();
                stack.push(join(&rel, name.as_bytes()));
            }
        }
    }
    out
}
