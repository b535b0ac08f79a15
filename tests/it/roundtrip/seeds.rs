//! Fuzz seeds from the generator: small images of random trees, packed by every
//! installed ISO 9660 and squashfs producer, for the `iso9660` and `squashfs`
//! fuzz targets (structure-aware inputs: every record, SUSP entry, inode and
//! table in them is one a real producer wrote, for trees no one chose).
//!
//! Run by hand (an ignored test), then commit what it wrote:
//!
//! ```text
//! ISODIFF_FUZZ_SEEDS=fuzz/corpus cargo test --release --test it -- --ignored write_fuzz_seeds
//! ```
//!
//! Each image goes to `$ISODIFF_FUZZ_SEEDS/<target>/gen-<producer>-<seed>`,
//! where the target follows from the format `isodiff::open` finds. The trees
//! are cut down first (short files, small sparse files) and ISO images lose
//! their zero end sectors, because libFuzzer's time per input grows with its
//! size and it never makes an input larger than its largest seed: an image
//! still over [`MAX_SEED`] is not written.

use std::path::Path;

use isodiff::{Format, Limits};

use super::common::{on_path, TempDir};
use super::gen::{self, Data, Kind, Tree};
use super::harness;
use super::producers;

/// Largest seed written, in bytes (the committed seeds stay under 100 KB).
pub const MAX_SEED: usize = 100_000;

/// Longest file kept in a seed's tree: a little over one ISO sector and one
/// 4 KiB squashfs block, so files still span blocks and leave tails.
const MAX_FILE: usize = 5000;

/// Longest sparse file: holes still become sparse blocks in squashfs, but ISO
/// 9660 stores them as zeros.
const MAX_SPARSE: u64 = 20_000;

/// The tree of `seed`, cut down so that its image stays small.
pub fn small_tree(seed: u64, caps: &gen::Caps) -> Tree {
    let mut tree = gen::tree(seed, caps);
    for n in &mut tree.nodes {
        if let Kind::File(data) = &mut n.kind {
            match data {
                Data::Bytes(b) => b.truncate(MAX_FILE),
                Data::Sparse { len, pieces } => {
                    *len = (*len).min(MAX_SPARSE);
                    let end = *len;
                    pieces.retain(|(at, _)| *at < end);
                    for (at, bytes) in pieces.iter_mut() {
                        bytes.truncate((end - *at) as usize);
                    }
                }
            }
        }
    }
    tree
}

/// `image` without the zero sectors at its end, with the volume space size of
/// every primary and supplementary descriptor shrunk to match, so that the
/// seed stays a sound image (xorriso pads 300 KiB).
pub fn strip_iso_padding(mut image: Vec<u8>) -> Vec<u8> {
    const SECTOR: usize = 2048;
    let used = image.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let sectors = used.div_ceil(SECTOR);
    image.truncate(sectors * SECTOR);
    for s in 16..sectors {
        let d = &mut image[s * SECTOR..(s + 1) * SECTOR];
        if d[0] == 255 {
            break;
        }
        if matches!(d[0], 1 | 2) && &d[1..6] == b"CD001" {
            let n = sectors as u32;
            d[80..84].copy_from_slice(&n.to_le_bytes());
            d[84..88].copy_from_slice(&n.to_be_bytes());
        }
    }
    image
}

/// Writes up to `per_producer` seeds per ISO 9660 or squashfs producer into
/// `out/<target>/`; returns how many it wrote.
pub fn write(out: &Path, per_producer: u64) -> usize {
    let scratch = TempDir::new("fuzz-seeds");
    let mut written = 0;
    for p in producers::all() {
        if !on_path(p.tools) || (p.unavailable)().is_some() {
            eprintln!("note: {} cannot run here; no seeds from it", p.name);
            continue;
        }
        let base = super::seeds_base(p.name);
        let mut kept = 0;
        // A few more trees than wanted: some images come out too large.
        for i in 0..per_producer * 3 {
            if kept == per_producer {
                break;
            }
            let seed = base.wrapping_add(i);
            let tree = small_tree(seed, &p.caps);
            // Seeds must list something to mutate (tests/it/replay.rs checks that
            // every seed lists a file): no near-empty trees.
            let files = tree
                .nodes
                .iter()
                .filter(|n| matches!(n.kind, Kind::File(_)))
                .count();
            if files == 0 || tree.nodes.len() < 3 {
                continue;
            }
            let src = scratch.0.join("src");
            let img = scratch.0.join("img");
            let _ = std::fs::remove_dir_all(&src);
            let _ = std::fs::remove_file(&img);
            std::fs::create_dir(&src).expect("mkdir src");
            gen::materialize(&tree, &src);
            if (p.pack)(&src, &img).is_err() {
                continue;
            }
            let image = std::fs::read(&img).expect("read the packed image");
            let target = match isodiff::open(&image, &Limits::default()).map(|fs| fs.format()) {
                Ok(Format::Iso9660) => "iso9660",
                Ok(Format::Squashfs) => "squashfs",
                _ => break, // another format: not a producer for these targets
            };
            let image = if target == "iso9660" {
                strip_iso_padding(image)
            } else {
                image
            };
            if image.len() > MAX_SEED {
                continue;
            }
            // Cutting zero end sectors also cuts a file of zeros stored last:
            // only seeds that still list cleanly, with every file readable.
            match harness::open_and_exercise(&image) {
                Ok(o) if o.problems == 0 && o.content_errors == 0 => {}
                _ => continue,
            }
            let dir = out.join(target);
            std::fs::create_dir_all(&dir).expect("mkdir the seed directory");
            std::fs::write(dir.join(format!("gen-{}-{seed}", p.name)), &image)
                .expect("write a seed");
            kept += 1;
            written += 1;
        }
        eprintln!("{}: {kept} seeds", p.name);
    }
    written
}
