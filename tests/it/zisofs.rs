//! zisofs: files stored compressed (Rock Ridge `ZF`, xorriso's `--zisofs`
//! filter) list and compare by their decompressed content, as the Linux kernel
//! and libarchive show them. Images are made with xorriso (skipped with a note
//! when it is missing) from one tree, plainly and compressed.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::*;

/// A tree with a compressible file, a file of zeros (whose blocks zisofs stores
/// empty), an incompressible one (xorriso leaves it plain) and a small one.
fn make_tree(dir: &Path, change: bool) {
    std::fs::create_dir_all(dir.join("sub")).expect("tree");
    let mut text: Vec<u8> = (1..20_000)
        .flat_map(|i| format!("line {i} of some compressible text\n").into_bytes())
        .collect();
    if change {
        text[500_000] = b'X';
    }
    std::fs::write(dir.join("text.txt"), text).expect("text");
    std::fs::write(dir.join("zeros"), vec![0u8; 300 << 10]).expect("zeros");
    // Bytes no deflate shrinks: a simple generator, the same on every run.
    let mut x = 0x1234_5678u32;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(dir.join("noise.bin"), noise).expect("noise");
    std::fs::write(dir.join("sub/small"), b"hi\n").expect("small");
}

/// Writes `tree` to `out` with xorriso, compressed with zisofs when `zisofs`.
/// SOURCE_DATE_EPOCH pins the image's and the files' dates, so two runs
/// differ only where their trees do.
fn xorriso(tree: &Path, out: &Path, zisofs: bool) {
    xorriso_with(tree, out, zisofs, None);
}

/// [`xorriso`] with global zisofs parameters (`-zisofs PARAMS`), such as
/// `version_2=on` for zisofs2.
fn xorriso_with(tree: &Path, out: &Path, zisofs: bool, params: Option<&str>) {
    let mut cmd = Command::new("xorriso");
    cmd.env("SOURCE_DATE_EPOCH", "1600000000")
        .arg("-outdev")
        .arg(out);
    if let Some(p) = params {
        cmd.args(["-zisofs", p]);
    }
    cmd.arg("-map").arg(tree).arg("/");
    if zisofs {
        cmd.args(["-set_filter_r", "--zisofs", "/", "--"]);
    }
    let done = cmd.arg("-commit").output().expect("xorriso runs");
    assert!(
        done.status.success(),
        "xorriso failed: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn zisofs_files_list_and_compare_by_their_content() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    let t = TempDir::new("zisofs");
    let (tree, changed) = (t.0.join("tree"), t.0.join("changed"));
    make_tree(&tree, false);
    make_tree(&changed, true);
    let plain = t.0.join("plain.iso");
    let z = t.0.join("z.iso");
    let z2 = t.0.join("z2.iso");
    xorriso(&tree, &plain, false);
    xorriso(&tree, &z, true);
    xorriso(&changed, &z2, true);
    // The compressed image is smaller: the filter did compress.
    let len = |p: &Path| std::fs::metadata(p).expect("image").len();
    assert!(len(&z) + 500_000 < len(&plain), "zisofs did not compress");

    // Listed at the uncompressed size, as in the plain image.
    let (lp, lz) = (ls_json(&plain), ls_json(&z));
    assert_eq!(lp.keys().collect::<Vec<_>>(), lz.keys().collect::<Vec<_>>());
    for (k, v) in &lp {
        assert_eq!(v["size"], lz[k]["size"], "size of {k}");
    }
    let text_len = len(&tree.join("text.txt"));
    assert_eq!(n(&lz["/text.txt"]["size"]), text_len);
    assert_eq!(n(&lz["/zeros"]["size"]), 300 << 10);

    // As libarchive lists them.
    if on_path(&["bsdtar"]) {
        let out = Command::new("bsdtar")
            .arg("-tvf")
            .arg(&z)
            .output()
            .expect("bsdtar");
        let listing = String::from_utf8_lossy(&out.stdout);
        for (name, size) in [("text.txt", text_len), ("zeros", 300 << 10)] {
            let line = listing
                .lines()
                .find(|l| l.ends_with(&format!(" {name}")))
                .unwrap_or_else(|| panic!("bsdtar lists no {name}: {listing}"));
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields[4].parse::<u64>().ok(), Some(size), "{line}");
        }
    }

    // Plain against compressed: the same content; only how it is stored differs.
    let (code, r) = json_report(&plain, &z);
    assert_eq!(code, Some(1));
    let kinds: Vec<(String, String, String)> = found(&r).into_iter().collect();
    assert!(
        kinds
            .iter()
            .all(|(_, kind, _)| kind == "attribute" || kind == "layout" || kind == "image"),
        "{kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .any(|(loc, kind, _)| loc == "/text.txt" && kind == "attribute"),
        "the compression is not reported: {kinds:?}"
    );
    assert!(of_kind(&r, "content").is_empty() && of_kind(&r, "size").is_empty());
    let semantic = isodiff(&["--semantic".as_ref(), plain.as_os_str(), z.as_os_str()]);
    assert_eq!(
        semantic.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&semantic.stdout)
    );

    // A changed byte is found at its offset in the decompressed content, and
    // every differing byte of the images (header, pointers, blocks) is
    // explained by that one content difference.
    let (code, r) = json_report(&z, &z2);
    assert_eq!(code, Some(1));
    let content = of_kind(&r, "content");
    assert_eq!(content.len(), 1, "{r:#}");
    assert_eq!(content[0]["location"], serde_json::json!(["/text.txt"]));
    assert_eq!(n(&content[0]["first_offset"]), 500_000, "{r:#}");
    assert_eq!(n(&content[0]["differing_bytes"]), 1, "{r:#}");
    assert_eq!(differences(&r).len(), 1, "{r:#}");
    let rec = record(&r, &[]);
    assert!(n(&rec["differing_bytes"]) > 0);
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec:#}");
    assert_eq!(n(&rec["explained_bytes"]), n(&rec["differing_bytes"]));
}

/// A zisofs file whose `ZF` entry claims more than the limit allows is an
/// error of that file: the rest of the image still compares.
#[test]
fn zisofs_bomb_is_an_error_of_its_file() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    let t = TempDir::new("zisofs-bomb");
    let (tree, changed) = (t.0.join("tree"), t.0.join("changed"));
    make_tree(&tree, false);
    make_tree(&changed, true);
    let (z, z2) = (t.0.join("z.iso"), t.0.join("z2.iso"));
    xorriso(&tree, &z, true);
    xorriso(&changed, &z2, true);
    let out = isodiff(&[
        "--max-decompressed".as_ref(),
        "400K".as_ref(),
        z.as_os_str(),
        z2.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}{err}");
    // /zeros (300 KiB) still reads; /text.txt (712 KiB) is over the limit.
    assert!(format!("{text}{err}").contains("/text.txt"), "{text}{err}");
    assert!(!format!("{text}{err}").contains("/zeros"), "{text}{err}");
}

/// zisofs2 (xorriso's `-zisofs version_2=on`, marked by `ZF` of version 2 or,
/// with `susp_z2=on`, by `Z2`): listed at the uncompressed size and compared
/// by content like version 1. libarchive 3.6 and the Linux kernel do not
/// decode zisofs2 (bsdtar lists the stored size), so the listing is checked
/// against the tree the image was made from.
#[test]
fn zisofs2_files_list_and_compare_by_their_content() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    let t = TempDir::new("zisofs2");
    let (tree, changed) = (t.0.join("tree"), t.0.join("changed"));
    make_tree(&tree, false);
    make_tree(&changed, true);
    let plain = t.0.join("plain.iso");
    xorriso(&tree, &plain, false);
    let len = |p: &Path| std::fs::metadata(p).expect("file").len();
    for (tag, params) in [("zf", "version_2=on"), ("z2", "version_2=on:susp_z2=on")] {
        let z = t.0.join(format!("{tag}.iso"));
        let z2 = t.0.join(format!("{tag}-changed.iso"));
        xorriso_with(&tree, &z, true, Some(params));
        xorriso_with(&changed, &z2, true, Some(params));
        assert!(len(&z) + 500_000 < len(&plain), "zisofs2 did not compress");
        // The stored form is zisofs2: its magic is in the image.
        let bytes = std::fs::read(&z).expect("image");
        let magic = [0xef, 0x22, 0x55, 0xa1, 0xbc, 0x1b, 0x95, 0xa0];
        assert!(
            bytes.windows(8).any(|w| w == magic),
            "{tag}: no zisofs2 file"
        );

        // Every file at the size it has in the tree.
        let lz = ls_json(&z);
        for name in ["text.txt", "zeros", "noise.bin", "sub/small"] {
            assert_eq!(
                n(&lz[&format!("/{name}")]["size"]),
                len(&tree.join(name)),
                "{tag}: size of {name}"
            );
            assert_eq!(
                lz[&format!("/{name}")]["size"],
                ls_json(&plain)[&format!("/{name}")]["size"]
            );
        }

        // Against the plain image: only how the files are stored differs.
        let semantic = isodiff(&["--semantic".as_ref(), plain.as_os_str(), z.as_os_str()]);
        assert_eq!(
            semantic.status.code(),
            Some(0),
            "{tag}: {}",
            String::from_utf8_lossy(&semantic.stdout)
        );
        let (code, r) = json_report(&plain, &z);
        assert_eq!(code, Some(1));
        assert!(
            of_kind(&r, "content").is_empty() && of_kind(&r, "size").is_empty(),
            "{r:#}"
        );
        assert!(
            found(&r).iter().any(|(loc, kind, field)| loc == "/text.txt"
                && kind == "attribute"
                && field == "zisofs"),
            "{tag}: the compression is not reported: {r:#}"
        );

        // A changed byte is found at its offset in the decompressed content,
        // and every differing byte of the images is explained by it.
        let (code, r) = json_report(&z, &z2);
        assert_eq!(code, Some(1));
        let content = of_kind(&r, "content");
        assert_eq!(content.len(), 1, "{r:#}");
        assert_eq!(content[0]["location"], serde_json::json!(["/text.txt"]));
        assert_eq!(n(&content[0]["first_offset"]), 500_000, "{r:#}");
        assert_eq!(differences(&r).len(), 1, "{r:#}");
        let rec = record(&r, &[]);
        assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec:#}");
        assert_eq!(
            n(&rec["explained_bytes"]),
            n(&rec["differing_bytes"]),
            "{rec:#}"
        );
    }

    // Version 1 against zisofs2 of the same tree: the same content, stored
    // with another algorithm and block size; every differing byte follows.
    let (v1, v2) = (t.0.join("v1.iso"), t.0.join("v2.iso"));
    xorriso(&tree, &v1, true);
    xorriso_with(&tree, &v2, true, Some("version_2=on"));
    let (code, r) = json_report(&v1, &v2);
    assert_eq!(code, Some(1));
    assert!(of_kind(&r, "content").is_empty(), "{r:#}");
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec:#}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec:#}");
}
