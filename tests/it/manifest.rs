//! `isodiff manifest IMAGE`: an mtree manifest that bsdtar reads, and that
//! agrees with bsdtar's own mtree of the image on every field both write.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::{have, isodiff, TempDir};

/// path -> keyword -> value, of the entry lines of an mtree file (comments,
/// blank lines and `/set` left out: neither writer uses `/set`).
type Mtree = BTreeMap<String, BTreeMap<String, String>>;

fn parse(text: &str) -> Mtree {
    let mut out = Mtree::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(!line.starts_with('/'), "a /set or /unset line: {line}");
        let mut words = line.split(' ');
        let path = words.next().unwrap_or_default().to_owned();
        let keys = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(out.insert(path.clone(), keys).is_none(), "{path} twice");
    }
    out
}

/// `secs.fraction` as (seconds, the fraction's digits as a number): bsdtar
/// writes the nanoseconds as a plain number, this tool with nine digits.
fn time(v: &str) -> (i64, u64) {
    let (s, f) = v.split_once('.').unwrap_or((v, "0"));
    (s.parse().unwrap_or(i64::MIN), f.parse().unwrap_or(u64::MAX))
}

fn tree(root: &Path) {
    fs::create_dir_all(root.join("boot/grub")).expect("mkdir");
    fs::write(root.join("boot/grub/grub.cfg"), b"set timeout=5\n").expect("write");
    fs::write(root.join("boot/vmlinuz"), vec![1u8; 10_000]).expect("write");
    fs::write(root.join("with space#and=sign"), b"odd name\n").expect("write");
    fs::write(root.join("run"), b"#!/bin/sh\n").expect("write");
    fs::set_permissions(
        root.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4711),
    )
    .expect("chmod");
    std::os::unix::fs::symlink("boot/vmlinuz", root.join("kernel")).expect("symlink");
}

#[test]
fn the_manifest_of_an_iso_agrees_with_bsdtar_and_bsdtar_reads_it() {
    if !have("xorriso", &["-version"])
        || !have("bsdtar", &["--version"])
        || !have("mksquashfs", &["-version"])
    {
        return;
    }
    let tmp = TempDir::new("manifest");
    let t = tmp.0.join("tree");
    tree(&t);
    // A nested image: its own section.
    let inner = tmp.0.join("inner");
    tree(&inner);
    let st = Command::new("mksquashfs")
        .arg(&inner)
        .arg(t.join("store.squashfs"))
        .args(["-quiet", "-no-progress", "-noappend"])
        .status()
        .expect("mksquashfs runs");
    assert!(st.success());
    let iso = tmp.0.join("a.iso");
    let st = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(&iso)
        .arg(&t)
        .status()
        .expect("xorriso runs");
    assert!(st.success());

    let out = isodiff(&["manifest".as_ref(), iso.as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours_text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(ours_text.starts_with("#mtree\n"));
    assert!(ours_text.contains("\n# /store.squashfs\n"), "{ours_text}");
    let ours = parse(&ours_text);

    let theirs = Command::new("bsdtar")
        .args(["-cf", "-", "--format=mtree", "--options", "mtree:sha256"])
        .arg(format!("@{}", iso.display()))
        .output()
        .expect("bsdtar runs");
    assert!(theirs.status.success());
    let theirs = parse(&String::from_utf8_lossy(&theirs.stdout));

    // Every entry bsdtar lists, this manifest lists (it adds the nested
    // image's section), and every field both state agrees.
    let mut compared = 0;
    for (path, keys) in &theirs {
        let mine = ours
            .get(path)
            .unwrap_or_else(|| panic!("{path} not in the manifest:\n{ours_text}"));
        for (k, v) in keys {
            let Some(w) = mine.get(k) else {
                continue;
            };
            compared += 1;
            match k.as_str() {
                "time" => assert_eq!(time(v), time(w), "{path} time"),
                _ => assert_eq!(v, w, "{path} {k}"),
            }
        }
    }
    assert_eq!(theirs.len(), 9, "{theirs:?}");
    // type, mode, uid, gid, time on each; size and sha256 on the 5 files; link.
    let least = 9 * 5 + 5 * 2 + 1;
    assert!(compared >= least, "only {compared} fields compared");
    assert!(ours.contains_key("./with\\040space\\043and\\075sign"));
    let nested = &ours["./store.squashfs:/boot/vmlinuz"];
    assert_eq!(
        nested["sha256digest"],
        ours["./boot/vmlinuz"]["sha256digest"]
    );
    assert_eq!(ours["./run"]["mode"], "4711");

    // bsdtar reads the manifest, every entry of it.
    let mtree = tmp.0.join("a.mtree");
    fs::write(&mtree, &out.stdout).expect("write");
    let listed = Command::new("bsdtar")
        .arg("-tvf")
        .arg(&mtree)
        .output()
        .expect("bsdtar runs");
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let lines = String::from_utf8_lossy(&listed.stdout).lines().count();
    assert_eq!(lines, ours.len());
}

#[test]
fn a_manifest_is_one_side_of_a_comparison() {
    if !have("xorriso", &["-version"]) || !have("bsdtar", &["--version"]) {
        return;
    }
    let tmp = TempDir::new("manifest-side");
    let t = tmp.0.join("tree");
    tree(&t);
    let iso = tmp.0.join("a.iso");
    let st = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(&iso)
        .arg(&t)
        .status()
        .expect("xorriso runs");
    assert!(st.success());
    let ours = isodiff(&["manifest".as_ref(), iso.as_os_str()]);
    assert_eq!(ours.status.code(), Some(0));
    let theirs = Command::new("bsdtar")
        .args(["-cf", "-", "--format=mtree", "--options", "mtree:sha256"])
        .arg(format!("@{}", iso.display()))
        .output()
        .expect("bsdtar runs");
    assert!(theirs.status.success());
    // Each manifest of the image agrees with it: what bsdtar leaves out
    // (nlink 1) is not compared.
    for (name, text) in [
        ("ours.mtree", &ours.stdout),
        ("bsdtar.mtree", &theirs.stdout),
    ] {
        let m = tmp.0.join(name);
        fs::write(&m, text).expect("write");
        let (code, r) = common::json_report(&m, &iso);
        assert_eq!(code, Some(0), "{name}: {r:#}");
    }
    // Planted in the manifest: another digest, another mode.
    let text = String::from_utf8_lossy(&ours.stdout).into_owned();
    let digest = parse(&text)["./boot/vmlinuz"]["sha256digest"].clone();
    let planted = text
        .replace(&digest, &"0".repeat(64))
        .replace("mode=4711", "mode=711");
    assert_ne!(planted, text);
    let m = tmp.0.join("planted.mtree");
    fs::write(&m, planted).expect("write");
    let (code, r) = common::json_report(&m, &iso);
    assert_eq!(code, Some(1));
    let want: std::collections::BTreeSet<(String, String, String)> =
        [("/boot/vmlinuz", "content"), ("/run", "mode")]
            .iter()
            .map(|(l, k)| ((*l).to_owned(), (*k).to_owned(), String::new()))
            .collect();
    assert_eq!(common::found(&r), want);
    let content = common::of_kind(&r, "content");
    assert_eq!(content[0]["digest_only"], true);
    assert_eq!(content[0]["sha256"]["a"], "0".repeat(64));
    assert!(content[0]["summary"]
        .as_str()
        .is_some_and(|s| s.contains("only its digest is known")));

    // A damaged line costs only its entry: the problem is listed (exit 2),
    // naming the line, and the rest is still compared (the planted
    // differences found; the entry left out is the image's alone).
    let planted = fs::read_to_string(&m).expect("planted");
    let line = planted
        .lines()
        .position(|l| l.starts_with("./kernel "))
        .expect("the line of ./kernel");
    let damaged: String = planted
        .lines()
        .enumerate()
        .map(|(i, l)| match i == line {
            true => "./kernel type=link mode=zz link=boot/vmlinuz\n".to_owned(),
            false => format!("{l}\n"),
        })
        .collect();
    let m = tmp.0.join("damaged.mtree");
    fs::write(&m, damaged).expect("write");
    let (code, r) = common::json_report(&m, &iso);
    assert_eq!(code, Some(2), "{r:#}");
    let problems: Vec<(String, String)> = r["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["location"].to_string(),
                p["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].0, r#"["/"]"#, "{problems:?}");
    let message = &problems[0].1;
    for part in [
        format!("line {} (./kernel)", line + 1),
        "mode=zz".to_owned(),
    ] {
        assert!(message.contains(&part), "{part} in {message}");
    }
    let mut with_kernel = want.clone();
    with_kernel.insert(("/kernel".to_owned(), "added".to_owned(), String::new()));
    assert_eq!(common::found(&r), with_kernel, "{r:#}");
}

/// The kinds of difference a manifest can show: what its lines state. Not
/// image facts (superblocks, volume descriptors), format-specific attributes,
/// xattrs, atime and ctime, nor the byte accounting; and of content only
/// whether the digests agree.
const STATED: &[&str] = &[
    "added", "removed", "type", "content", "size", "mode", "uid", "gid", "mtime", "symlink",
    "nlink", "rdev",
];

#[test]
fn a_manifest_compares_nested_images_entry_by_entry() {
    let tmp = TempDir::new("manifest-nested");
    let (a, b) = (
        common::fixture("nixos-like-a.iso"),
        common::fixture("nixos-like-b.iso"),
    );
    let out = isodiff(&["manifest".as_ref(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for section in ["\n# /nix-store.squashfs\n", "\n# /boot/efi.img\n"] {
        assert!(text.contains(section), "{section:?} in\n{text}");
    }
    let m = tmp.0.join("a.mtree");
    fs::write(&m, &out.stdout).expect("write");

    // Against its own image: identical, nested images included.
    let (code, r) = common::json_report(&m, &a);
    assert_eq!(code, Some(0), "{r:#}");

    // Against the other image: every difference of the image pair that a
    // manifest states, found inside the nested squashfs, and the squashfs's
    // digest (all the manifest knows of its superblock, which differs too).
    let (code, plain) = common::json_report(&a, &b);
    assert_eq!(code, Some(1));
    let mut want: std::collections::BTreeSet<_> = common::found(&plain)
        .into_iter()
        .filter(|(_, kind, _)| STATED.contains(&kind.as_str()))
        .collect();
    assert!(
        common::found(&plain).len() > want.len(),
        "the pair differs in what a manifest cannot see (the superblock)"
    );
    assert!(
        want.iter()
            .filter(|(l, k, _)| l.starts_with("/nix-store.squashfs:/") && k == "mode")
            .count()
            == 3,
        "{want:?}"
    );
    want.insert((
        "/nix-store.squashfs".into(),
        "content".into(),
        String::new(),
    ));
    let (code, r) = common::json_report(&m, &b);
    assert_eq!(code, Some(1), "{r:#}");
    assert!(
        r["problems"].as_array().is_some_and(|p| p.is_empty()),
        "{r:#}"
    );
    assert_eq!(common::found(&r), want, "{r:#}");
    // A content difference says only that the digests differ.
    for c in common::of_kind(&r, "content") {
        assert_eq!(c["digest_only"], true, "{c}");
        assert!(
            c["summary"]
                .as_str()
                .is_some_and(|s| s.contains("only its digest is known")),
            "{c}"
        );
    }
    // The manifest as side b: the same, added and removed swapped.
    let swapped: std::collections::BTreeSet<_> = want
        .iter()
        .map(|(l, k, f)| {
            let k = match k.as_str() {
                "added" => "removed",
                "removed" => "added",
                k => k,
            };
            (l.clone(), k.to_owned(), f.clone())
        })
        .collect();
    let (code, r) = common::json_report(&b, &m);
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(common::found(&r), swapped, "{r:#}");

    // A nested image named inside the manifest, as inside an image.
    let inner = tmp.0.join("a.mtree:/nix-store.squashfs");
    let (code, r) = common::json_report(
        &inner,
        &common::fixture("nixos-like-a.iso:/nix-store.squashfs"),
    );
    assert_eq!(code, Some(0), "{r:#}");

    // Read back and written again, the manifest is the same text.
    let again = isodiff(&["manifest".as_ref(), m.as_os_str()]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&again.stdout), text);
}
