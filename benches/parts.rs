//! Criterion benchmarks of the parts: ISO walk, squashfs walk, and the diff of the
//! bundled NixOS-like pair (content comparison included). For whole-tool figures
//! against other tools see `benches/compare-tools.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use isodiff::listing::{walk, walk_nested, Nesting};
use isodiff::{Limits, MappedFile};

fn fixture(name: &str) -> MappedFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name);
    MappedFile::open(&path).expect("fixture present")
}

fn count_entries(fs: &dyn isodiff::Filesystem) -> usize {
    let mut n = 0;
    walk(fs, &[], &mut |_| n += 1, &mut |_| {});
    n
}

fn readers(c: &mut Criterion) {
    let iso = fixture("rr-xorriso.iso");
    c.bench_function("iso9660 open + walk (rr-xorriso.iso)", |b| {
        b.iter(|| {
            let fs = isodiff::open(iso.bytes(), &Limits::default()).expect("opens");
            count_entries(fs.as_ref())
        })
    });
    let nixos = fixture("nixos-like-a.iso");
    c.bench_function(
        "iso + nested squashfs and FAT walk (nixos-like-a.iso)",
        |b| {
            b.iter(|| {
                let fs = isodiff::open(nixos.bytes(), &Limits::default()).expect("opens");
                let mut n = 0;
                walk_nested(
                    fs.as_ref(),
                    &[],
                    &Nesting::default(),
                    &mut |_| n += 1,
                    &mut |_| {},
                );
                n
            })
        },
    );
}

fn diff(c: &mut Criterion) {
    let (a, b) = (fixture("nixos-like-a.iso"), fixture("nixos-like-b.iso"));
    let options = isodiff::Options::default();
    c.bench_function("diff nixos-like-a.iso nixos-like-b.iso", |bench| {
        bench.iter(|| {
            isodiff::diff_bytes(a.bytes(), b.bytes(), &options)
                .expect("diffs")
                .differences
                .len()
        })
    });
    c.bench_function("diff nixos-like-a.iso with itself", |bench| {
        bench.iter(|| {
            isodiff::diff_bytes(a.bytes(), a.bytes(), &options)
                .expect("diffs")
                .differences
                .len()
        })
    });
}

criterion_group!(benches, readers, diff);
criterion_main!(benches);
