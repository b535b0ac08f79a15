//! Helpers for the hostile-input tests (`replay.rs`, `mutation.rs`): a watchdog that
//! turns a hang into a test failure, a deterministic PRNG, and a reader of the
//! directory layout of a trusted fixture (to know where its metadata is).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A fixture in `testdata/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// How one case ended.
#[derive(Debug)]
pub struct Finished<T> {
    /// The case's name.
    pub name: String,
    /// Its value, or the message it panicked with.
    pub result: Result<T, String>,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Runs `f` on every case, one after the other, on a worker thread, with each
/// panic caught. Panics (failing the test) when a case runs longer than `limit`:
/// the stuck worker is left behind, and the test binary ends without waiting for it.
pub fn run_all<C, T, F>(cases: Vec<(String, C)>, limit: Duration, f: F) -> Vec<Finished<T>>
where
    C: Send + 'static,
    T: Send + 'static,
    F: Fn(&C) -> T + Send + 'static,
{
    let names: Vec<String> = cases.iter().map(|(n, _)| n.clone()).collect();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (_, case) in cases {
            let start = Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| f(&case))).map_err(panic_message);
            if tx.send((result, start.elapsed())).is_err() {
                return;
            }
        }
    });
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match rx.recv_timeout(limit) {
            Ok((result, elapsed)) => out.push(Finished {
                name,
                result,
                elapsed,
            }),
            Err(RecvTimeoutError::Timeout) => {
                panic!("{name}: still running after {limit:?} (a hang?)")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{name}: the worker thread died"),
        }
    }
    out
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// xorshift64*: deterministic, so a failing case has the same name on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Sector size of every fixture.
pub const SECTOR: usize = 2048;

pub fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes `v` as an ECMA-119 both-endian 32-bit number at `at`.
pub fn put_both32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    b[at + 4..at + 8].copy_from_slice(&v.to_be_bytes());
}

/// One directory record of a fixture.
#[derive(Debug, Clone)]
pub struct Record {
    /// Byte offset of the record in the image.
    pub offset: usize,
    /// Its length byte.
    pub len: usize,
    pub extent: u32,
    pub size: u32,
    pub flags: u8,
    /// The file identifier as stored.
    pub name: Vec<u8>,
    /// The extent of the directory that holds it.
    pub parent_extent: u32,
    /// Which tree: the descriptor's type (1 primary, 2 supplementary).
    pub tree: u8,
}

impl Record {
    pub fn is_dir(&self) -> bool {
        self.flags & 2 != 0
    }

    /// `.` or `..`.
    pub fn is_special(&self) -> bool {
        self.name == [0] || self.name == [1]
    }

    /// The System Use area's byte range in the image.
    pub fn system_use(&self) -> std::ops::Range<usize> {
        let name_end = 33 + self.name.len();
        let start = name_end + usize::from(self.name.len() % 2 == 0);
        self.offset + start.min(self.len)..self.offset + self.len
    }
}

/// Where the metadata of a trusted fixture is.
#[derive(Debug, Default)]
pub struct Layout {
    /// Byte offsets of the volume descriptors, the terminator included.
    pub descriptors: Vec<usize>,
    /// (descriptor offset, root extent, root size) of the primary and Joliet trees.
    pub roots: Vec<(usize, u32, u32)>,
    /// Byte ranges of every directory extent.
    pub dirs: Vec<std::ops::Range<usize>>,
    /// Every directory record but the root records of the descriptors.
    pub records: Vec<Record>,
    /// The El Torito boot catalog's byte offset, if any.
    pub boot_catalog: Option<usize>,
}

impl Layout {
    /// Reads the layout of `img`. Only for fixtures: it trusts what it reads (but
    /// stops on a repeated directory, so it cannot loop).
    pub fn read(img: &[u8]) -> Layout {
        let mut l = Layout::default();
        let mut at = 16 * SECTOR;
        loop {
            assert_eq!(&img[at + 1..at + 6], b"CD001", "descriptor at {at}");
            l.descriptors.push(at);
            match img[at] {
                0 => l.boot_catalog = Some(le32(img, at + 71) as usize * SECTOR),
                1 | 2 => l
                    .roots
                    .push((at, le32(img, at + 156 + 2), le32(img, at + 156 + 10))),
                255 => break,
                _ => {}
            }
            at += SECTOR;
        }
        let mut seen = std::collections::HashSet::new();
        for &(desc, root, size) in &l.roots.clone() {
            let tree = img[desc];
            let mut stack = vec![(root, size)];
            while let Some((extent, size)) = stack.pop() {
                if !seen.insert(extent) {
                    continue;
                }
                let start = extent as usize * SECTOR;
                let end = start + size as usize;
                l.dirs.push(start..end);
                let mut pos = start;
                while pos < end {
                    let len = usize::from(img[pos]);
                    if len == 0 {
                        pos = (pos / SECTOR + 1) * SECTOR;
                        continue;
                    }
                    let name_len = usize::from(img[pos + 32]);
                    let r = Record {
                        offset: pos,
                        len,
                        extent: le32(img, pos + 2),
                        size: le32(img, pos + 10),
                        flags: img[pos + 25],
                        name: img[pos + 33..pos + 33 + name_len].to_vec(),
                        parent_extent: extent,
                        tree,
                    };
                    if r.is_dir() && !r.is_special() {
                        stack.push((r.extent, r.size));
                    }
                    l.records.push(r);
                    pos += len;
                }
            }
        }
        l
    }

    /// The record of the primary tree (type 1) whose identifier, without
    /// `;version`, is `name` and which sits in the directory at `parent_extent`.
    pub fn primary(&self, parent_extent: u32, name: &[u8]) -> &Record {
        self.records
            .iter()
            .find(|r| {
                r.tree == 1
                    && r.parent_extent == parent_extent
                    && r.name.split(|&c| c == b';').next() == Some(name)
            })
            .unwrap_or_else(|| {
                panic!(
                    "no record {:?} in the directory at block {parent_extent}",
                    String::from_utf8_lossy(name)
                )
            })
    }

    /// The root extent of the primary tree.
    pub fn primary_root(&self) -> u32 {
        self.roots[0].1
    }
}

/// Writes `v` as an ECMA-119 both-endian 16-bit number at `at`.
pub fn put_both16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    b[at + 2..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A directory record as a writer lays it out.
pub fn record(name: &[u8], extent: u32, size: u32, flags: u8) -> Vec<u8> {
    let mut r = vec![0u8; 33];
    put_both32(&mut r, 2, extent);
    put_both32(&mut r, 10, size);
    r[18..25].copy_from_slice(&[124, 6, 2, 0, 0, 0, 0]);
    r[25] = flags;
    put_both16(&mut r, 28, 1);
    r[32] = name.len() as u8;
    r.extend_from_slice(name);
    if name.len() % 2 == 0 {
        r.push(0);
    }
    r[0] = r.len() as u8;
    r
}

/// A directory extent holding `records` (`.` and `..` first), none crossing a
/// sector boundary, padded to whole sectors.
pub fn directory(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for r in records {
        let room = SECTOR - out.len() % SECTOR;
        if r.len() > room {
            out.resize(out.len() + room, 0);
        }
        out.extend_from_slice(r);
    }
    out.resize(out.len().div_ceil(SECTOR) * SECTOR, 0);
    out
}

/// A volume descriptor: primary (kind 1), Joliet (2) or the terminator (255).
pub fn descriptor(kind: u8, volume_sectors: u32, root: u32, root_size: u32) -> Vec<u8> {
    let mut d = vec![0u8; SECTOR];
    d[0] = kind;
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    if kind == 255 {
        return d;
    }
    put_both32(&mut d, 80, volume_sectors);
    if kind == 2 {
        d[88..91].copy_from_slice(b"%/E");
    }
    put_both16(&mut d, 120, 1);
    put_both16(&mut d, 124, 1);
    put_both16(&mut d, 128, SECTOR as u16);
    d[156..190].copy_from_slice(&record(&[0], root, root_size, 2));
    d[881] = 1;
    d
}

/// Places `extents` (sector number, bytes) after the descriptors `descs` (from
/// sector 16 on) in an image of `sectors` sectors.
pub fn image(sectors: usize, descs: &[Vec<u8>], extents: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut img = vec![0u8; sectors * SECTOR];
    for (i, d) in descs.iter().enumerate() {
        img[(16 + i) * SECTOR..(17 + i) * SECTOR].copy_from_slice(d);
    }
    for (sector, bytes) in extents {
        img[sector * SECTOR..sector * SECTOR + bytes.len()].copy_from_slice(bytes);
    }
    img
}

/// A directory DAG without a loop: every directory of level `k` holds `fan`
/// subdirectories that all share the one extent of level `k + 1`; the last level
/// holds `fan` one-byte files. A few KB that read as `fan^(depth+1)` entries.
pub fn dag_image(fan: usize, depth: usize) -> Vec<u8> {
    // Every level gets the room of the biggest one (the files' level).
    let room = directory(&dag_level(fan, 0, 0, 0, 0)).len() / SECTOR;
    let first = 18;
    let data = first + (depth + 1) * room;
    let extents: Vec<_> = (0..=depth)
        .map(|k| {
            let at = first + k * room;
            (
                at,
                directory(&dag_level(fan, at, at + room, depth - k, room)),
            )
        })
        .collect();
    let size = (room * SECTOR) as u32;
    let descs = [
        descriptor(1, data as u32 + 1, first as u32, size),
        descriptor(255, 0, 0, 0),
    ];
    let mut img = image(data + 1, &descs, &extents);
    img[data * SECTOR] = b'x';
    img
}

/// One level of [`dag_image`] at sector `at`; `next` is the next level's sector
/// (or, for the last level, the files' data sector).
fn dag_level(fan: usize, at: usize, next: usize, below: usize, room: usize) -> Vec<Vec<u8>> {
    let size = (room * SECTOR) as u32;
    let mut records = vec![
        record(&[0], at as u32, size, 2),
        record(&[1], at as u32, size, 2),
    ];
    for i in 0..fan {
        records.push(if below > 0 {
            record(format!("D{i:04}").as_bytes(), next as u32, size, 2)
        } else {
            record(format!("F{i:04}.;1").as_bytes(), next as u32, 1, 0)
        });
    }
    records
}

/// A primary and a Joliet tree whose roots each hold `n` subdirectories (all
/// sharing one empty extent), named differently in the two trees, so that no
/// directory of one tree has a partner in the other.
pub fn wide_image(n: usize) -> Vec<u8> {
    let empty = 19;
    let tree = |root: usize, joliet: bool| {
        let mut records = vec![
            record(&[0], root as u32, 0, 2),
            record(&[1], root as u32, 0, 2),
        ];
        for i in 0..n {
            let name = if joliet {
                format!("j{i:06}")
                    .encode_utf16()
                    .flat_map(|u| u.to_be_bytes())
                    .collect()
            } else {
                format!("D{i:06}").into_bytes()
            };
            records.push(record(&name, empty as u32, SECTOR as u32, 2));
        }
        let mut dir = directory(&records);
        let size = dir.len() as u32;
        put_both32(&mut dir, 10, size);
        dir
    };
    let primary_at = 20;
    let primary = tree(primary_at, false);
    let joliet_at = primary_at + primary.len() / SECTOR;
    let joliet = tree(joliet_at, true);
    let sectors = joliet_at + joliet.len() / SECTOR;
    let descs = [
        descriptor(1, sectors as u32, primary_at as u32, primary.len() as u32),
        descriptor(2, sectors as u32, joliet_at as u32, joliet.len() as u32),
        descriptor(255, 0, 0, 0),
    ];
    let empty_dir = directory(&[
        record(&[0], empty as u32, SECTOR as u32, 2),
        record(&[1], empty as u32, SECTOR as u32, 2),
    ]);
    image(
        sectors,
        &descs,
        &[
            (empty, empty_dir),
            (primary_at, primary),
            (joliet_at, joliet),
        ],
    )
}

/// Writes a SUSP `CE` entry pointing at `length` bytes at `offset` of `block`.
pub fn ce_entry(block: u32, offset: u32, length: u32) -> Vec<u8> {
    let mut e = vec![b'C', b'E', 28, 1];
    e.resize(28, 0);
    put_both32(&mut e, 4, block);
    put_both32(&mut e, 12, offset);
    put_both32(&mut e, 20, length);
    e
}

/// A Rock Ridge image whose `n` file records all continue (`CE`) into one 16 KiB
/// area of unknown SUSP entries that continues into itself: each record, read
/// alone, gathers the per-record maximum of System Use bytes.
pub fn shared_ce_image(n: usize) -> Vec<u8> {
    const AREA: usize = 16 * 1024;
    let root = 18;
    let with_ce = |name: &[u8], area: usize| {
        let mut r = record(name, 0, 1, 0);
        r.extend(ce_entry(area as u32, 0, AREA as u32));
        r[0] = r.len() as u8;
        r
    };
    let dir_len = directory(
        &(0..n + 2)
            .map(|_| with_ce(b"F0000.;1", 0))
            .collect::<Vec<_>>(),
    )
    .len();
    let area = root + dir_len / SECTOR;
    let data = area + AREA / SECTOR;
    let mut dot = record(&[0], root as u32, dir_len as u32, 2);
    dot.extend_from_slice(b"SP\x07\x01\xbe\xef\x00");
    dot[0] = dot.len() as u8;
    let mut records = vec![dot, record(&[1], root as u32, dir_len as u32, 2)];
    for i in 0..n {
        let mut r = with_ce(format!("F{i:04}.;1").as_bytes(), area);
        put_both32(&mut r, 2, data as u32);
        records.push(r);
    }
    let mut chain = b"ZZ\x04\x01".repeat((AREA - 28) / 4);
    chain.extend(ce_entry(area as u32, 0, AREA as u32));
    let descs = [
        descriptor(1, data as u32 + 1, root as u32, dir_len as u32),
        descriptor(255, 0, 0, 0),
    ];
    let mut img = image(
        data + 1,
        &descs,
        &[(root, directory(&records)), (area, chain)],
    );
    img[data * SECTOR] = b'x';
    img
}
