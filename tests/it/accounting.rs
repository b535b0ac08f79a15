//! Byte accounting on pairs made by the real tools and by patching single bytes
//! of real images: every differing byte is attributed to the structure that holds
//! it, explained by a difference reported elsewhere, or named as unclaimed; a
//! pair whose bytes differ is never "identical".

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{differences, find, fixture, have, isodiff, json_report, n, of_kind, record, TempDir};

fn text_report(a: &Path, b: &Path) -> String {
    let out = isodiff(&[a.as_os_str(), b.as_os_str()]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of `src` in `dir` with `patch` applied.
fn patched(dir: &Path, src: &Path, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(src).expect("read fixture");
    patch(&mut bytes);
    let out = dir.join(name);
    std::fs::write(&out, bytes).expect("write");
    out
}

#[test]
fn a_changed_er_byte_is_named_as_such() {
    let dir = TempDir::new("acct-er");
    let a = fixture("rr-xorriso.iso");
    let mut at = 0;
    let b = patched(&dir.0, &a, "er.iso", |bytes| {
        // One letter of the ER descriptor text, "THE ROCK RIDGE ...".
        at = find(bytes, b"THE ROCK RIDGE") + 4;
        bytes[at] ^= 0x20;
    });
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(r["identical"], false);
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    let d = &diffs[0];
    assert_eq!(d["kind"], "bytes");
    assert_eq!(d["location"], serde_json::json!([]));
    assert_eq!(d["field"], "SUSP entry ER of / (descriptor)");
    assert_eq!(d["structure"], "SUSP entry");
    assert_eq!((n(&d["offset"]), n(&d["length"])), (at as u64, 1));
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 1);
    assert_eq!(n(&rec["ranges"]), 1);
    assert_eq!(n(&rec["unattributed_bytes"]), 0);
    assert_eq!(n(&rec["reported_bytes"]), 1);

    let text = text_report(&a, &b);
    assert!(
        text.lines().any(|l| l.starts_with(&format!(
            "image  bytes SUSP entry ER of / (descriptor): 1 byte differs from offset {at} (0x"
        ))),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l
            == "image  byte accounting: 1 differing byte in 1 range, not all explained \
                (1 in structures reported as bytes)"),
        "{text}"
    );
}

#[test]
fn a_changed_padding_byte_is_unclaimed_and_said_so() {
    let dir = TempDir::new("acct-pad");
    let a = fixture("rr-xorriso.iso");
    let mut at = 0;
    // xorriso pads the image with 300 KiB of zeros that belong to no file;
    // they are claimed as padding. A byte that is not zero there is claimed
    // by nothing in b: the padding of a is what differs, and b's byte is said
    // to be unclaimed.
    let b = patched(&dir.0, &a, "pad.iso", |bytes| {
        at = bytes.len() - 1000;
        bytes[at] = 1;
    });
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    let d = &diffs[0];
    assert_eq!(
        (d["kind"].as_str(), d["structure"].as_str()),
        (Some("bytes"), Some("padding"))
    );
    let summary = d["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("in b: unclaimed bytes after ")
            && summary.ends_with("the last structure (padding at the end of the image)"),
        "{summary}"
    );
    assert_eq!(n(&d["offset"]), at as u64);
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["unattributed_bytes"]), 0);
    assert_eq!(n(&rec["reported_bytes"]), 1);
}

#[test]
fn a_changed_tf_stamp_is_the_mtime_difference_and_nothing_more() {
    let dir = TempDir::new("acct-tf");
    let a = fixture("rr-xorriso.iso");
    let b = patched(&dir.0, &a, "tf.iso", |bytes| {
        // The record of /plain.txt: its NM entry, and the TF entry before it.
        let nm = find(bytes, b"NM\x0e\x01\x00plain.txt");
        let tf = nm - 200
            + bytes[nm - 200..nm]
                .windows(2)
                .rposition(|w| w == b"TF")
                .expect("a TF entry before the NM entry");
        let flags = bytes[tf + 4];
        assert_eq!(flags & 0x81, 0, "short form, no creation stamp: {flags:#x}");
        assert_ne!(flags & 0x02, 0, "a modify stamp: {flags:#x}");
        // The modify stamp is the first; its seconds are its sixth byte.
        bytes[tf + 5 + 5] += 1;
    });
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    assert_eq!(diffs[0]["kind"], "mtime");
    assert_eq!(diffs[0]["location"], serde_json::json!(["/plain.txt"]));
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 1);
    assert_eq!(n(&rec["explained_bytes"]), 1);
    assert_eq!(n(&rec["unattributed_bytes"]), 0);
    let text = text_report(&a, &b);
    assert!(
        text.contains(
            "image  byte accounting: 1 differing byte in 1 range, every one explained \
             (1 by the differences above)\n"
        ),
        "{text}"
    );
    assert!(
        !text.contains("  bytes "),
        "the TF bytes are not said twice:\n{text}"
    );
}

#[test]
fn bundled_nixos_like_pair_is_fully_explained() {
    let (a, b) = (fixture("nixos-like-a.iso"), fixture("nixos-like-b.iso"));
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    assert!(of_kind(&r, "bytes").is_empty(), "{r:#}");
    let inner = record(&r, &["/nix-store.squashfs"]);
    assert!(n(&inner["differing_bytes"]) > 100_000, "{inner}");
    assert_eq!(n(&inner["unattributed_bytes"]), 0, "{inner}");
    assert_eq!(n(&inner["reported_bytes"]), 0, "{inner}");
    assert_eq!(
        n(&inner["explained_bytes"]) + n(&inner["placement_bytes"]),
        n(&inner["differing_bytes"])
    );
    // The outer images differ only inside the squashfs's extent, which is at the
    // same place in both: handed down to the squashfs's own record, not read twice.
    let outer = record(&r, &[]);
    assert_eq!(n(&outer["differing_bytes"]), 0, "{outer}");
    assert!(
        n(&outer["nested_bytes"]) >= n(&inner["differing_bytes"]),
        "{outer}"
    );
    let text = text_report(&a, &b);
    assert!(
        text.lines().any(|l| l
            .starts_with("image  byte accounting: no differing byte outside nested images (")
            && l.ends_with(" bytes handed down to them)")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("/nix-store.squashfs  byte accounting: ")
                && l.contains(", every one explained (")),
        "{text}"
    );
}

/// Bytes outside the nested image are still compared when its extent is
/// handed down: a padding byte changed beside the squashfs is found.
#[test]
fn bytes_beside_a_nested_image_are_still_accounted() {
    let dir = TempDir::new("acct-beside");
    let a = fixture("nixos-like-a.iso");
    let mut at = 0;
    let b = patched(
        &dir.0,
        &fixture("nixos-like-b.iso"),
        "beside.iso",
        |bytes| {
            at = bytes.len() - 1000;
            bytes[at] ^= 1;
        },
    );
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    let outer = record(&r, &[]);
    assert_eq!(n(&outer["differing_bytes"]), 1, "{outer}");
    assert_eq!(
        n(&outer["unattributed_bytes"]) + n(&outer["reported_bytes"]),
        1,
        "{outer}"
    );
    assert!(n(&outer["nested_bytes"]) > 100_000, "{outer}");
    let bytes = of_kind(&r, "bytes");
    assert_eq!(bytes.len(), 1, "{r:#}");
    assert_eq!(n(&bytes[0]["offset"]), at as u64);
    let inner = record(&r, &["/nix-store.squashfs"]);
    assert!(n(&inner["differing_bytes"]) > 100_000, "{inner}");
}

/// Every byte patched in turn, at a sample of offsets across the image: the
/// pair is never identical, and never crashes.
#[test]
fn no_patched_byte_goes_unreported() {
    use isodiff::{diff_bytes, Options};
    let options = Options::default().threads(1);
    for name in ["rr-xorriso.iso", "eltorito.iso", "rr-genisoimage.iso"] {
        let a = std::fs::read(fixture(name)).expect("fixture");
        let mut reported = 0;
        for at in (0..a.len()).step_by(997) {
            let mut b = a.clone();
            b[at] ^= 0x5a;
            let Ok(r) = diff_bytes(&a, &b, &options) else {
                continue;
            };
            assert!(
                !r.identical || !r.problems.is_empty(),
                "{name}: byte {at} changed, report identical"
            );
            if let Some(rec) = r.byte_accounting.first() {
                assert_eq!(rec.differing_bytes, 1, "{name} at {at}");
                reported += 1;
            }
        }
        assert!(reported > 300, "{name}: {reported} pairs accounted");
    }
}

fn mksquashfs(tree: &Path, out: &Path, extra: &[&str]) {
    let status = Command::new("mksquashfs")
        .arg(tree)
        .arg(out)
        .args([
            "-quiet",
            "-no-progress",
            "-noappend",
            "-mkfs-time",
            "1",
            "-all-time",
            "1",
            "-b",
            "65536",
        ])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("mksquashfs runs");
    assert!(status.success());
}

/// A tree of five incompressible files, three 64 KiB blocks each.
fn squash_tree(dir: &Path) -> PathBuf {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("d")).expect("tree");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 1..=5u64 {
        let bytes: Vec<u8> = (0..150_000 + i * 1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(tree.join(format!("d/f{i}")), bytes).expect("write");
    }
    std::fs::write(tree.join("small"), "small\n").expect("write");
    tree
}

/// A file added whose tail joins a fragment block other files' tails are in:
/// the block and its fragment table entry (named after its first file, which is
/// now the new one) change because of the added file, and say nothing more.
#[test]
fn a_tail_joining_a_shared_fragment_is_the_added_file() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("acct-frag");
    let (ta, tb) = (dir.0.join("a"), dir.0.join("b"));
    for t in [&ta, &tb] {
        std::fs::create_dir_all(t).expect("tree");
        std::fs::write(t.join("f"), "ffff\n").expect("write");
        std::fs::write(t.join("g"), "gggg\n").expect("write");
    }
    std::fs::write(tb.join("e"), "eeee\n").expect("write");
    let (a, b) = (dir.0.join("a.sq"), dir.0.join("b.sq"));
    mksquashfs(&ta, &a, &["-all-root"]);
    mksquashfs(&tb, &b, &["-all-root"]);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size(&a), size(&b), "the test needs images of one size");
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    assert!(of_kind(&r, "bytes").is_empty(), "{r:#}");
    assert_eq!(of_kind(&r, "added").len(), 1, "{r:#}");
    let rec = record(&r, &[]);
    assert!(n(&rec["differing_bytes"]) > 0, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
}

/// A file that loses its only xattr is stored as a basic inode instead of an
/// extended one: every field moves, and all of it follows from the xattr
/// difference; the inode type, which only follows it, is no difference of
/// its own.
#[test]
fn an_inode_stored_in_another_shape_is_its_xattr_difference() {
    if !have("mksquashfs", &["-version"]) || !have("setfattr", &["--version"]) {
        return;
    }
    let dir = TempDir::new("acct-shape");
    let (ta, tb) = (dir.0.join("a"), dir.0.join("b"));
    for t in [&ta, &tb] {
        std::fs::create_dir_all(t).expect("tree");
        std::fs::write(t.join("f"), "ffff\n").expect("write");
        std::fs::write(t.join("g"), "gggg\n").expect("write");
    }
    let status = Command::new("setfattr")
        .args(["-n", "user.y", "-v", "abcd"])
        .arg(ta.join("g"))
        .status()
        .expect("setfattr runs");
    assert!(
        status.success(),
        "setfattr (a file system with user xattrs?)"
    );
    let (a, b) = (dir.0.join("a.sq"), dir.0.join("b.sq"));
    mksquashfs(&ta, &a, &["-all-root"]);
    mksquashfs(&tb, &b, &["-all-root"]);
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    assert_eq!(size(&a), size(&b), "the test needs images of one size");
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    assert!(of_kind(&r, "bytes").is_empty(), "{r:#}");
    assert!(
        !differences(&r)
            .iter()
            .any(|d| d["field"] == "squashfs.inode_type"),
        "{r:#}"
    );
    assert!(
        differences(&r)
            .iter()
            .any(|d| d["kind"] == "xattr" && d["location"] == serde_json::json!(["/g"])),
        "{r:#}"
    );
    let rec = record(&r, &[]);
    assert!(n(&rec["differing_bytes"]) > 0, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
}

#[test]
fn mksquashfs_sort_reorders_blocks_and_says_which() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("acct-sort");
    let tree = squash_tree(&dir.0);
    let (a, a2, b) = (dir.0.join("a.sq"), dir.0.join("a2.sq"), dir.0.join("b.sq"));
    mksquashfs(&tree, &a, &[]);
    mksquashfs(&tree, &a2, &[]);
    let sort = dir.0.join("sort");
    std::fs::write(
        &sort,
        format!(
            "{} 10\n{} 5\n",
            tree.join("d/f5").display(),
            tree.join("d/f4").display()
        ),
    )
    .expect("sort file");
    mksquashfs(&tree, &b, &["-sort", sort.to_str().unwrap_or_default()]);

    // Without -sort twice: the same bytes, identical, no accounting.
    let (code, r) = json_report(&a, &a2);
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["byte_accounting"], serde_json::json!([]));

    let (ma, mb) = (std::fs::metadata(&a), std::fs::metadata(&b));
    assert_eq!(ma.map(|m| m.len()).ok(), mb.map(|m| m.len()).ok());
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "entry-identical, bytes differ: {r:#}");
    let diffs = differences(&r);
    assert!(!diffs.is_empty());
    // Nothing differs but where the blocks are: data blocks that moved on
    // their own, said per structure, with both offsets.
    for d in &diffs {
        assert_eq!(d["kind"], "bytes", "{d}");
        assert_eq!(d["structure"], "data block", "{d}");
        let field = d["field"].as_str().unwrap_or_default();
        assert!(
            field.starts_with("data block 0 of /d/f"),
            "the first block of a file that moved: {field}"
        );
        assert!(
            d["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("moved from offset ")),
            "{d}"
        );
        assert_ne!(d["a"], d["b"]);
    }
    let moved: Vec<&str> = diffs.iter().filter_map(|d| d["field"].as_str()).collect();
    assert!(moved.contains(&"data block 0 of /d/f5"), "{moved:?}");
    assert!(moved.contains(&"data block 0 of /d/f4"), "{moved:?}");
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["explained_bytes"]), 0, "{rec}");
    assert_eq!(
        n(&rec["reported_bytes"]) + n(&rec["placement_bytes"]),
        n(&rec["differing_bytes"])
    );
    let text = text_report(&a, &b);
    assert!(
        text.contains("image  bytes data block 0 of /d/f5: moved from offset "),
        "{text}"
    );
    assert!(text.contains(", not all explained ("), "{text}");

    // The same pair inside two ISOs: the outer bytes are explained by the
    // nested image, whose own accounting names the blocks.
    if !have("xorriso", &["-version"]) {
        return;
    }
    let mut isos = Vec::new();
    for (name, sq) in [("a", &a), ("b", &b)] {
        let root = dir.0.join(format!("iso-{name}"));
        std::fs::create_dir_all(&root).expect("iso root");
        std::fs::copy(sq, root.join("store.squashfs")).expect("copy");
        let _ = Command::new("touch")
            .args(["-d", "@1"])
            .arg(root.join("store.squashfs"))
            .arg(&root)
            .status();
        let iso = dir.0.join(format!("{name}.iso"));
        let status = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&root)
            .env("SOURCE_DATE_EPOCH", "1717286400")
            .stderr(std::process::Stdio::null())
            .status()
            .expect("xorriso runs");
        assert!(status.success());
        isos.push(iso);
    }
    let (code, r) = json_report(&isos[0], &isos[1]);
    assert_eq!(code, Some(1));
    let outer = record(&r, &[]);
    assert_eq!(
        outer["explained_bytes"], outer["differing_bytes"],
        "{outer}"
    );
    let inner = record(&r, &["/store.squashfs"]);
    assert_eq!(n(&inner["unattributed_bytes"]), 0);
    assert!(n(&inner["reported_bytes"]) > 0);
    assert!(differences(&r)
        .iter()
        .all(|d| d["kind"] == "bytes" && d["location"] == serde_json::json!(["/store.squashfs"])));
}

#[test]
fn squashfs_inode_bytes_are_decoded_to_their_fields() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("acct-inode");
    let tree = squash_tree(&dir.0);
    let a = dir.0.join("a.sq");
    // Inodes stored uncompressed, so that one byte of one inode can be patched.
    mksquashfs(&tree, &a, &["-noI"]);
    let raw = std::fs::read(&a).expect("read");
    let inode_table = u64::from_le_bytes(raw[64..72].try_into().unwrap_or_default()) as usize;
    // The first inode, after the metadata block's 2-byte header.
    let first = inode_table + 2;
    let mode = patched(&dir.0, &a, "mode.sq", |b| b[first + 2] ^= 0o020);
    let mtime = patched(&dir.0, &a, "mtime.sq", |b| b[first + 8] ^= 1);
    let number = patched(&dir.0, &a, "number.sq", |b| b[first + 12] ^= 0x40);

    for (b, kind) in [(&mode, "mode"), (&mtime, "mtime")] {
        let (code, r) = json_report(&a, b);
        assert_eq!(code, Some(1));
        let diffs = differences(&r);
        assert_eq!(diffs.len(), 1, "{r:#}");
        assert_eq!(diffs[0]["kind"], kind);
        let rec = record(&r, &[]);
        assert_eq!(n(&rec["explained_bytes"]), 1, "{rec}");
    }
    // An inode number is placement; changed with nothing else, it is reported.
    let (code, r) = json_report(&a, &number);
    assert_ne!(code, Some(0), "{r:#}");
    let bytes = of_kind(&r, "bytes");
    assert_eq!(bytes.len(), 1, "{r:#}");
    assert_eq!(
        bytes[0]["field"],
        "inode table: metadata block 0 (placement)"
    );
}

#[test]
fn images_of_different_sizes_compare_their_layout() {
    if !have("xorriso", &["-version"]) || !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("acct-layout");
    let tree = squash_tree(&dir.0);
    let (a, b) = (dir.0.join("a.sq"), dir.0.join("b.sq"));
    mksquashfs(&tree, &a, &[]);
    // Incompressible, so that the image grows past its 4 KiB padding.
    let noise = std::fs::read(tree.join("d/f1")).expect("read");
    std::fs::write(tree.join("d/added"), &noise[..70_000]).expect("write");
    let _ = Command::new("touch")
        .args(["-d", "@1"])
        .arg(tree.join("d/added"))
        .status();
    mksquashfs(&tree, &b, &[]);
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    assert_eq!(r["byte_accounting"], serde_json::json!([]));
    let layout = of_kind(&r, "layout");
    assert_eq!(layout.len(), 1, "{r:#}");
    assert_eq!(layout[0]["field"], "tables");
    let summary = layout[0]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("moved (e.g. "), "{summary}");
    assert!(summary.contains("inode table"), "{summary}");

    let (ia, ib) = (dir.0.join("a.iso"), dir.0.join("b.iso"));
    for (iso, extra) in [(&ia, None), (&ib, Some("more.txt"))] {
        if let Some(name) = extra {
            std::fs::write(tree.join(name), vec![b'x'; 5000]).expect("write");
        }
        let status = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(iso)
            .arg(&tree)
            .env("SOURCE_DATE_EPOCH", "1717286400")
            .stderr(std::process::Stdio::null())
            .status()
            .expect("xorriso runs");
        assert!(status.success());
    }
    let (_, r) = json_report(&ia, &ib);
    let layout = of_kind(&r, "layout");
    let extents = layout
        .iter()
        .find(|d| d["field"] == "file extents")
        .unwrap_or_else(|| panic!("{r:#}"));
    let summary = extents["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("only in b (e.g. /more.txt)"), "{summary}");
    let text = text_report(&ia, &ib);
    assert!(
        text.lines()
            .any(|l| l.starts_with("image  layout file extents: ")),
        "{text}"
    );
}
