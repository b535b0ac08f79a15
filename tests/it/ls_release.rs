//! `listing::walk_nested_releasing`: the same listing as `walk_nested`, with the
//! image's pages released as files are looked into.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use isodiff::listing::{walk_nested, walk_nested_releasing, ListError, Listed, Nesting};
use isodiff::{open, Limits, MappedFile};

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
