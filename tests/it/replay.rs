//! Replays every input of the fuzz corpora and regressions (`fuzz/corpus/*/`,
//! `fuzz/regressions/*/`) through what the fuzz targets do: `isodiff::open` (and
//! the ISO 9660 reader directly), the full listing and every file's content, under
//! the targets' small limits. None may panic, and each must finish in under 5 s.
//!
//! Every crash the fuzzer finds is minimized into `fuzz/regressions/<target>/`, so
//! this test keeps it fixed without needing the nightly toolchain.

use crate::{harness, hostile};

use std::path::{Path, PathBuf};
use std::time::Duration;

use hostile::run_all;

const PER_INPUT: Duration = Duration::from_secs(5);

/// Every file under `fuzz/<kind>/<target>/`, sorted.
fn inputs(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut files = Vec::new();
    let Ok(targets) = std::fs::read_dir(&root) else {
        return files;
    };
    for target in targets.flatten() {
        let Ok(entries) = std::fs::read_dir(target.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// What the two fuzz targets do with one input.
fn replay(data: &[u8]) -> (Option<harness::Outcome>, Option<harness::Outcome>) {
    let any = harness::open_and_exercise(data).ok();
    let iso = isodiff::internals::IsoFs::open(data, &harness::limits())
        .ok()
        .map(|fs| harness::exercise(&fs));
    (any, iso)
}

fn replay_all(kind: &str) -> usize {
    let files = inputs(kind);
    let cases = files
        .iter()
        .map(|f| {
            let name = f.display().to_string();
            let data = std::fs::read(f).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, data)
        })
        .collect::<Vec<_>>();
    let count = cases.len();
    let finished = run_all(cases, PER_INPUT, |data: &Vec<u8>| replay(data));
    let mut failures = Vec::new();
    for f in &finished {
        match &f.result {
            Err(panic) => failures.push(format!("{}: panicked: {panic}", f.name)),
            Ok(_) if f.elapsed >= PER_INPUT => {
                failures.push(format!("{}: took {:?}", f.name, f.elapsed))
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

#[test]
fn corpus_replays_without_panic() {
    let count = replay_all("corpus");
    assert!(count > 0, "no seed corpus under fuzz/corpus/");
}

#[test]
fn regressions_replay_without_panic() {
    // Empty until the fuzzer finds something; then each input stays here for good.
    replay_all("regressions");
}

#[test]
fn the_seed_images_list_cleanly() {
    // The seeds made by fuzz/make-seeds.sh are sound images: if one stops listing,
    // the fuzzer would start from a broken seed without anyone noticing. (And a
    // reader that starts to fail on a real image is a finding in itself.)
    let mut nested = 0;
    for path in inputs("corpus") {
        let name = path.display().to_string();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let outcome = match harness::open_and_exercise(&data) {
            Ok(o) => o,
            // Seeds for formats `open` does not sniff yet (FAT, cpio).
            Err(isodiff::Error::UnknownFormat(_)) => continue,
            Err(e) => panic!("{name} does not open: {e}"),
        };
        assert_eq!(outcome.problems, 0, "{name}: {outcome:?}");
        assert_eq!(outcome.content_errors, 0, "{name}: {outcome:?}");
        assert!(
            outcome.listed > 1 && outcome.files > 0,
            "{name}: {outcome:?}"
        );
        nested += outcome.nested_listed;
    }
    assert!(nested > 0, "no seed holds a nested image");
}

/// What the `diff` fuzz target does with one input: the first four bytes split
/// the rest into two images, which are compared and rendered.
fn replay_diff(data: &[u8]) {
    let (Some(head), Some(rest)) = (data.get(..4), data.get(4..)) else {
        return;
    };
    let split = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let (a, b) = rest.split_at(split % (rest.len() + 1));
    let options = isodiff::Options::default()
        .limits(harness::limits())
        .calling_thread(true)
        .max_nesting(2)
        .max_buffer_bytes(16 << 20);
    if let Ok(report) = isodiff::diff_bytes(a, b, &options) {
        let mut sink = std::io::sink();
        let _ = isodiff::report::text::write(&report, &mut sink);
        let _ = isodiff::report::json::write(&report, &mut sink);
    }
}

#[test]
fn diff_seeds_compare_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/diff");
    let mut count = 0;
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let data = std::fs::read(entry.path()).unwrap_or_default();
        let started = std::time::Instant::now();
        replay_diff(&data);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{}",
            entry.path().display()
        );
        count += 1;
    }
    assert!(count >= 4, "the diff target's seeds are missing");
}

/// The `members` target's seeds, through what it does (`harness::members`):
/// none may panic or take long, and the executables differing in code reach
/// the disassembly, of both instruction sets (else the fuzzer would not
/// exercise the decoders).
#[test]
fn members_seeds_compare_and_reach_the_disassembly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/members");
    let mut arches = std::collections::BTreeSet::new();
    let mut count = 0;
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let data = std::fs::read(entry.path()).unwrap_or_default();
        let started = std::time::Instant::now();
        let report = harness::members(&data);
        assert!(started.elapsed() < PER_INPUT, "{}", entry.path().display());
        for d in report.iter().flat_map(|r| &r.differences) {
            if let isodiff::report::Change::Content(c) = &d.change {
                arches.extend(c.disassembly.as_ref().map(|x| x.arch.name()));
            }
        }
        count += 1;
    }
    assert!(count >= 7, "the members target's seeds are missing");
    assert_eq!(
        arches.into_iter().collect::<Vec<_>>(),
        ["aarch64", "x86-64"],
        "seeds that reach the disassembly"
    );
}

/// The `iso9660` target's structure-aware mutation changes one field the
/// reader declares and nothing else, both halves of a both-endian field
/// alike, and reaches both-endian fields (extents, sizes) at all.
#[test]
fn the_iso_field_mutation_sets_one_declared_field() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/iso9660/testdata-rr-xorriso.iso");
    let image = std::fs::read(&path).expect("the seed");
    let fields = harness::iso_fields(&image);
    assert!(
        fields.iter().any(|f| f.len == 8),
        "no both-endian field found"
    );
    let mut both_endian = 0;
    for seed in 0..300u32 {
        let mut data = image.clone();
        let size = harness::mutate_iso_field(&mut data, image.len(), seed);
        assert_eq!(size, Some(image.len()));
        let Some(field) = changed_field(&fields, &image, &data, seed) else {
            continue;
        };
        let now = &data[field.start..field.start + field.len];
        let was = &image[field.start..field.start + field.len];
        let both = |b: &[u8]| {
            b.len() % 4 == 0 && b[..b.len() / 2].iter().eq(b[b.len() / 2..].iter().rev())
        };
        if both(was) && field.len >= 4 {
            assert!(
                both(now),
                "seed {seed}: {} {was:?} became {now:?}",
                field.name
            );
            both_endian += 1;
        }
    }
    assert!(
        both_endian > 0,
        "no both-endian field was set in 300 mutations"
    );
}

/// The one declared field holding every byte a mutation (by `seed`) changed
/// in `data`, a copy of `image`; `None` when it changed nothing.
fn changed_field<'f>(
    fields: &'f [harness::FieldAt],
    image: &[u8],
    data: &[u8],
    seed: u32,
) -> Option<&'f harness::FieldAt> {
    let changed: Vec<usize> = (0..image.len()).filter(|&i| data[i] != image[i]).collect();
    let (&first, &last) = (changed.first()?, changed.last()?);
    let field = fields
        .iter()
        .find(|f| f.start <= first && last < f.start + f.len)
        .unwrap_or_else(|| panic!("seed {seed}: bytes {first}..={last} changed, in no one field"));
    Some(field)
}

/// The `squashfs` target's structure-aware mutation finds every inode of an
/// image whose metadata is stored uncompressed, where the image holds it
/// (each inode's number read from where the field is said to be: 1 to the
/// superblock's inode count, each once), none in compressed metadata, and
/// changes one field only, reaching the inodes' and listings' fields.
#[test]
fn the_squashfs_field_mutation_sets_one_declared_field() {
    let seed = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/squashfs")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |v, &x| v << 8 | u64::from(x));
    let image = seed("uncompressed.squashfs");
    let fields = harness::squashfs_fields(&image);
    let mut numbers: Vec<u64> = fields
        .iter()
        .filter(|f| f.name == "inode number")
        .map(|f| le(&image[f.start..f.start + f.len]))
        .collect();
    numbers.sort_unstable();
    let count = le(&image[4..8]);
    assert!(count > 5, "{count} inodes");
    assert_eq!(numbers, (1..=count).collect::<Vec<_>>());
    let in_tables = |name: &str| {
        matches!(
            name,
            "inode number" | "mode" | "mtime" | "uid index" | "gid index"
        ) || name.starts_with("entry ")
            || name.starts_with("header ")
    };
    let compressed = harness::squashfs_fields(&seed("gzip-4k.squashfs"));
    assert!(compressed.iter().any(|f| f.name == "block position"));
    assert!(!compressed.iter().any(|f| f.name == "inode number"));

    let mut reached = 0;
    for seed in 0..300u32 {
        let mut data = image.clone();
        let size = harness::mutate_squashfs_field(&mut data, image.len(), seed);
        assert_eq!(size, Some(image.len()));
        let Some(field) = changed_field(&fields, &image, &data, seed) else {
            continue;
        };
        if in_tables(&field.name) {
            reached += 1;
        }
    }
    assert!(
        reached > 0,
        "no inode or listing field was set in 300 mutations"
    );
}
