//! Byte accounting of squashfs pairs where files were added and removed among
//! many small files: mksquashfs repacks every fragment block after the first
//! change, renumbers the inodes after it, and regroups the headers of large
//! directory listings. All of that follows from the added and removed files;
//! the report holds exactly the planted differences and no `bytes` finding.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{found, have, json_report, n, of_kind, record, TempDir};

/// Small files of pseudo-random text (`seed`): their tails fill fragment
/// blocks, and a directory of `count` of them has a listing of many headers.
fn small_files(dir: &Path, count: usize, seed: u64) {
    std::fs::create_dir_all(dir).expect("dir");
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..count {
        let len = 100 + (next() % 3000) as usize;
        let text: Vec<u8> = (0..len)
            .map(|_| b"abcdefgh \n"[(next() % 10) as usize])
            .collect();
        std::fs::write(dir.join(format!("{i:05}")), text).expect("write");
    }
}

fn mksquashfs(tree: &Path, out: &Path, comp: &str) {
    let status = Command::new("mksquashfs")
        .arg(tree)
        .arg(out)
        .args(["-quiet", "-no-progress", "-noappend", "-all-root"])
        .args(["-mkfs-time", "1", "-all-time", "1", "-b", "131072"])
        .args(["-comp", comp])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("mksquashfs runs");
    assert!(status.success());
}

/// Builds a and b, b without `a/{gone:05}` and the file after it, with
/// `a/00700x` added (one entry fewer: the inodes after them are renumbered),
/// one file grown and one file's mode changed. `None` when the two images come out of
/// different sizes (bytes at the same offsets are then not compared).
fn churn_pair(dir: &Path, comp: &str, seed: u64, gone: usize) -> Option<(PathBuf, PathBuf)> {
    let (ta, tb) = (dir.join("ta"), dir.join("tb"));
    for t in [&ta, &tb] {
        let _ = std::fs::remove_dir_all(t);
        small_files(&t.join("a"), 1500, seed);
        small_files(&t.join("b"), 1500, seed + 1);
    }
    for f in [gone, gone + 1] {
        std::fs::remove_file(tb.join(format!("a/{f:05}"))).expect("remove");
    }
    std::fs::write(tb.join("a/00700x"), "added\n").expect("add");
    let grown = tb.join("b/00700");
    let mut text = std::fs::read(&grown).expect("read");
    text.extend_from_slice(b"one more line\n");
    std::fs::write(&grown, text).expect("grow");
    let status = Command::new("chmod")
        .arg("0600")
        .arg(tb.join("b/01200"))
        .status()
        .expect("chmod");
    assert!(status.success());
    let (a, b) = (dir.join("a.sq"), dir.join("b.sq"));
    mksquashfs(&ta, &a, comp);
    mksquashfs(&tb, &b, comp);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    (size(&a) == size(&b)).then_some((a, b))
}

fn planted(gone: usize) -> BTreeSet<(String, String, String)> {
    let s = |l: String, k: &str| (l, k.to_owned(), String::new());
    [
        s(format!("/a/{gone:05}"), "removed"),
        s(format!("/a/{:05}", gone + 1), "removed"),
        s("/a/00700x".to_owned(), "added"),
        // One entry fewer.
        (
            String::new(),
            "image".to_owned(),
            "superblock.inode_count".to_owned(),
        ),
        s("/b/00700".to_owned(), "size"),
        s("/b/00700".to_owned(), "content"),
        s("/b/01200".to_owned(), "mode"),
    ]
    .into_iter()
    .collect()
}

#[test]
fn repacked_fragments_and_regrouped_listings_follow_from_the_planted_changes() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("acct-churn");
    let mut compared = 0;
    for comp in ["xz", "zstd", "gzip"] {
        for seed in [3u64, 11] {
            // Images a few bytes apart in size are padded to the same 4 KiB
            // most of the time; another file removed tries again.
            let Some((gone, (a, b))) =
                (3..9).find_map(|gone| churn_pair(&dir.0, comp, seed, gone).map(|p| (gone, p)))
            else {
                continue;
            };
            compared += 1;
            let (code, r) = json_report(&a, &b);
            let what = format!("{comp}, seed {seed}, /a/{gone:05} removed");
            assert_eq!(code, Some(1), "{what}: {r:#}");
            assert!(of_kind(&r, "bytes").is_empty(), "{what}: {r:#}");
            assert_eq!(found(&r), planted(gone), "{what}");
            // The inode count follows from the entries added and removed.
            let count = of_kind(&r, "image");
            assert_eq!(count.len(), 1, "{what}: {count:?}");
            assert_eq!(count[0]["consequence"], true, "{what}: {count:?}");
            assert_eq!(r["consequences"], 1, "{what}");
            let rec = record(&r, &[]);
            // The files after the removed one were repacked: most of the
            // image differs, and all of it is explained.
            assert!(n(&rec["differing_bytes"]) > 100_000, "{what}: {rec}");
            assert_eq!(n(&rec["reported_bytes"]), 0, "{what}: {rec}");
            assert_eq!(n(&rec["unattributed_bytes"]), 0, "{what}: {rec}");
        }
    }
    assert!(compared >= 3, "only {compared} pairs came out of one size");
}
