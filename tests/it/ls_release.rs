//! `listing::walk_nested_releasing`: the same listing as `walk_nested`, with the
//! image's pages released as files are looked into.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use isodiff::listing::{walk_nested, walk_nested_releasing, ListError, Listed, Nesting};
use isodiff::{open, Limits, MappedFile};

use crate::common::member;

#[test]
fn releasing_lists_the_same_and_releases() -> isodiff::Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/nixos-like-a.iso");
    let map = MappedFile::open(&path)?;
    let fs = open(map.bytes(), &Limits::default())?;
    let nesting = Nesting::default();
    let list = |release: Option<&(dyn Fn() + Sync)>| {
        let mut seen = Vec::new();
        let mut problems = 0;
        let mut visit = |l: Listed| seen.push(l.location);
        let mut problem = |_: ListError| problems += 1;
        match release {
            Some(r) => {
                walk_nested_releasing(fs.as_ref(), &[], &nesting, r, &mut visit, &mut problem)
            }
            None => walk_nested(fs.as_ref(), &[], &nesting, &mut visit, &mut problem),
        }
        (seen, problems)
    };
    let releases = AtomicUsize::new(0);
    let release = || {
        releases.fetch_add(1, Ordering::Relaxed);
        map.release(map.bytes());
    };
    let plain = list(None);
    let released = list(Some(&release));
    assert_eq!(plain, released);
    // Entries of the squashfs inside were listed, after its pages were let go.
    assert!(plain.0.iter().any(|l| l.len() == 2));
    // Once per file system with files: the ISO and the squashfs in it.
    assert!(releases.load(Ordering::Relaxed) >= 2);
    Ok(())
}

/// Files are looked into on the pool's threads while the walk goes on, in
/// batches: with 13,000 files (more batches than may wait at once, so the
/// walking thread looks into some itself), the images among them are still
/// listed in the walk's order, each entry once.
#[test]
fn images_among_many_files_are_listed_in_walk_order() -> isodiff::Result<()> {
    let images = [3usize, 2100, 4300, 6000, 9000, 12_990];
    let name = |i: usize| format!("f{i:05}");
    let mut outer = Vec::new();
    for i in 0..13_000 {
        let data = if images.contains(&i) {
            let mut inner = member(&format!("{}-inside", name(i)), 0o100644, b"x\n");
            inner.extend(member("TRAILER!!!", 0, b""));
            inner
        } else {
            format!("file {i}\n").into_bytes()
        };
        outer.extend(member(&name(i), 0o100644, &data));
    }
    outer.extend(member("TRAILER!!!", 0, b""));
    let fs = open(&outer, &Limits::default())?;
    let (mut top, mut nested, mut problems) = (0, Vec::new(), Vec::new());
    walk_nested(
        fs.as_ref(),
        &[],
        &Nesting::default(),
        &mut |l: Listed| match l.location.as_slice() {
            [_] => top += 1,
            [outer, inner] if inner.as_slice() != b"/" => {
                nested.push((outer.clone(), inner.clone()));
            }
            _ => {}
        },
        &mut |e: ListError| problems.push(e.error.to_string()),
    );
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(top, 13_001, "the root and every file");
    let expected: Vec<_> = images
        .iter()
        .map(|&i| {
            let inside = format!("/{}-inside", name(i)).into_bytes();
            (format!("/{}", name(i)).into_bytes(), inside)
        })
        .collect();
    assert_eq!(nested, expected);
    Ok(())
}
