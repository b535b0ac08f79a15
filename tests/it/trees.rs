//! A directory as one side (an image against the tree it was made from, or
//! two trees) and places inside images (`IMAGE:/path`) as sides.

use crate::common;

use std::collections::BTreeSet;
use std::fs::{self, File, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{found, have, isodiff, json_report, TempDir};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A time with a fraction of a second, which squashfs cannot store: the tree
/// and its image must still agree.
fn at(secs: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

fn set_mtime(path: &Path, t: SystemTime) {
    let f = File::open(path).expect("open to set its time");
    f.set_times(FileTimes::new().set_modified(t).set_accessed(t))
        .expect("set times");
}

fn mtime(path: &Path) -> SystemTime {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

/// A small tree with every kind mksquashfs and a directory share: files (one
/// empty, one with an xattr), a hard link, a symlink, a fifo, nested
/// directories, a setuid bit, sub-second times.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("data/deep")).expect("mkdir");
    fs::write(root.join("data/f"), b"first content\n").expect("write");
    fs::write(root.join("data/g"), vec![7u8; 70_000]).expect("write");
    fs::write(root.join("empty"), b"").expect("write");
    fs::write(root.join("h"), b"#!/bin/sh\necho h\n").expect("write");
    fs::set_permissions(root.join("h"), fs::Permissions::from_mode(0o4755)).expect("chmod");
    fs::hard_link(root.join("data/f"), root.join("data/deep/f-again")).expect("link");
    std::os::unix::fs::symlink("data/f", root.join("link")).expect("symlink");
    let fifo = Command::new("mkfifo")
        .arg(root.join("fifo"))
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success());
    xattr::set(root.join("data/f"), "user.origin", b"tree").expect("xattr");
    for (i, p) in ["data/f", "data/g", "empty", "h", "data/deep", "data", ""]
        .iter()
        .enumerate()
    {
        set_mtime(&root.join(p), at(1_700_000_000 + i as u64, 123_456_789));
    }
}

fn mksquashfs(tree: &Path, out: &Path) {
    let st = Command::new("mksquashfs")
        .arg(tree)
        .arg(out)
        .args(["-quiet", "-no-progress", "-noappend", "-comp", "gzip"])
        .status()
        .expect("mksquashfs runs");
    assert!(st.success());
}

fn xorriso(tree: &Path, out: &Path) {
    let st = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(out)
        .arg(tree)
        .status()
        .expect("xorriso runs");
    assert!(st.success());
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(l, k)| ((*l).to_owned(), (*k).to_owned(), String::new()))
        .collect()
}

/// The differences of `a` against `b`, as (location, kind, field), with the
/// exit code; fails on problems.
fn compare(a: &Path, b: &Path) -> (Option<i32>, BTreeSet<(String, String, String)>) {
    let (code, r) = json_report(a, b);
    assert!(
        r["problems"].as_array().is_none_or(|p| p.is_empty()),
        "{r:#}"
    );
    (code, found(&r))
}

#[test]
fn a_squashfs_in_an_iso_is_the_tree_it_was_made_from_until_the_tree_changes() {
    if !have("mksquashfs", &["-version"]) || !have("xorriso", &["-version"]) {
        return;
    }
    let tmp = TempDir::new("trees-squashfs");
    let tree = tmp.0.join("tree");
    make_tree(&tree);
    let iso_tree = tmp.0.join("iso");
    fs::create_dir_all(&iso_tree).expect("mkdir");
    mksquashfs(&tree, &iso_tree.join("x.squashfs"));
    let iso = tmp.0.join("a.iso");
    xorriso(&iso_tree, &iso);
    let addr = tmp.0.join("a.iso:/x.squashfs");

    // mksquashfs keeps owners, modes, xattrs, hard links and whole seconds:
    // every field the squashfs has agrees with the tree.
    let (code, diffs) = compare(&addr, &tree);
    assert_eq!((code, diffs), (Some(0), BTreeSet::new()));

    // Planted: content of the same length (times kept), a mode, an mtime by
    // one second, an xattr value, an added file (its directory's time kept).
    let f = tree.join("data/f");
    let before = mtime(&f);
    fs::write(&f, b"FIRST content\n").expect("write");
    set_mtime(&f, before);
    fs::set_permissions(tree.join("data/g"), fs::Permissions::from_mode(0o600)).expect("chmod");
    set_mtime(&tree.join("h"), at(1_700_000_004, 0));
    xattr::set(tree.join("data/deep/f-again"), "user.origin", b"moved").expect("xattr");
    let dir_time = mtime(&tree.join("data/deep"));
    fs::write(tree.join("data/deep/new"), b"new\n").expect("write");
    set_mtime(&tree.join("data/deep"), dir_time);

    let (code, diffs) = compare(&addr, &tree);
    let mut want = set(&[
        // The hard link shares the content and the xattr.
        ("/data/f", "content"),
        ("/data/deep/f-again", "content"),
        ("/data/g", "mode"),
        ("/h", "mtime"),
        ("/data/deep/new", "added"),
    ]);
    for p in ["/data/f", "/data/deep/f-again"] {
        want.insert((p.to_owned(), "xattr".to_owned(), "user.origin".to_owned()));
    }
    assert_eq!(code, Some(1));
    assert_eq!(diffs, want);

    // The text report says what the squashfs and the tree hold.
    let out = isodiff(&[addr.as_os_str(), tree.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("/data/g  mode 0644 -> 0600"), "{text}");
    assert!(
        text.contains("/h  mtime 2023-11-14T22:13:23Z -> 2023-11-14T22:13:24.000000000Z"),
        "{text}"
    );
}

#[test]
fn a_sub_second_change_is_no_difference_against_squashfs_but_is_between_trees() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let tmp = TempDir::new("trees-two");
    let tree = tmp.0.join("tree");
    make_tree(&tree);
    let sq = tmp.0.join("t.squashfs");
    mksquashfs(&tree, &sq);
    let copy = tmp.0.join("copy");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&tree)
        .arg(&copy)
        .status()
        .expect("cp runs");
    assert!(cp.success());
    assert_eq!(compare(&tree, &copy), (Some(0), BTreeSet::new()));

    // 1 ns later: the same second, so squashfs cannot tell; another tree can.
    set_mtime(&copy.join("empty"), at(1_700_000_002, 123_456_790));
    assert_eq!(compare(&sq, &copy), (Some(0), BTreeSet::new()));
    assert_eq!(
        compare(&tree, &copy),
        (Some(1), set(&[("/empty", "mtime")]))
    );
    // The type of an entry.
    fs::remove_file(copy.join("fifo")).expect("rm");
    fs::write(copy.join("fifo"), b"").expect("write");
    let (_, diffs) = compare(&tree, &copy);
    assert!(
        diffs.contains(&("/fifo".into(), "type".into(), String::new())),
        "{diffs:?}"
    );
}

#[test]
fn an_image_in_the_tree_is_opened_and_compared_inside() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let tmp = TempDir::new("trees-nested");
    let inner = tmp.0.join("inner");
    make_tree(&inner);
    let tree = tmp.0.join("tree");
    fs::create_dir_all(&tree).expect("mkdir");
    mksquashfs(&inner, &tree.join("inner.squashfs"));
    set_mtime(&tree.join("inner.squashfs"), at(1_700_000_100, 0));
    set_mtime(&tree, at(1_700_000_100, 0));
    let outer = tmp.0.join("outer.squashfs");
    mksquashfs(&tree, &outer);
    assert_eq!(compare(&outer, &tree), (Some(0), BTreeSet::new()));

    // The tree's inner image made again from a changed tree: the difference is
    // located inside it.
    fs::set_permissions(inner.join("data/g"), fs::Permissions::from_mode(0o640)).expect("chmod");
    mksquashfs(&inner, &tree.join("inner.squashfs"));
    set_mtime(&tree.join("inner.squashfs"), at(1_700_000_100, 0));
    set_mtime(&tree, at(1_700_000_100, 0));
    let (code, diffs) = compare(&outer, &tree);
    assert_eq!(code, Some(1));
    assert!(
        diffs.contains(&(
            "/inner.squashfs:/data/g".into(),
            "mode".into(),
            String::new()
        )),
        "{diffs:?}"
    );
    // Nothing outside it (its superblock's mkfs_time is the image's own).
    assert!(
        diffs.iter().all(|d| d.0.starts_with("/inner.squashfs")),
        "{diffs:?}"
    );
}

#[test]
fn a_directory_of_an_image_compares_only_that_subtree() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    let tmp = TempDir::new("trees-subtree");
    let (ta, tb) = (tmp.0.join("ta"), tmp.0.join("tb"));
    for t in [&ta, &tb] {
        fs::create_dir_all(t.join("boot/grub")).expect("mkdir");
        fs::write(t.join("boot/grub/grub.cfg"), b"set timeout=5\n").expect("write");
        fs::write(t.join("boot/vmlinuz"), b"kernel").expect("write");
        set_mtime(&t.join("boot/grub/grub.cfg"), at(1_600_000_000, 0));
        set_mtime(&t.join("boot/vmlinuz"), at(1_600_000_000, 0));
        set_mtime(&t.join("boot/grub"), at(1_600_000_000, 0));
        set_mtime(&t.join("boot"), at(1_600_000_000, 0));
    }
    fs::write(tb.join("boot/grub/grub.cfg"), b"set timeout=9\n").expect("write");
    set_mtime(&tb.join("boot/grub/grub.cfg"), at(1_600_000_000, 0));
    // Outside /boot: a file only b has, which the addresses leave out.
    fs::write(tb.join("README"), b"b only").expect("write");
    let (a, b) = (tmp.0.join("a.iso"), tmp.0.join("b.iso"));
    xorriso(&ta, &a);
    xorriso(&tb, &b);
    let (whole, _) = compare(&a, &b);
    assert_eq!(whole, Some(1));
    let (code, diffs) = compare(&tmp.0.join("a.iso:/boot"), &tmp.0.join("b.iso:/boot"));
    assert_eq!(
        (code, diffs),
        (Some(1), set(&[("/grub/grub.cfg", "content")]))
    );
    // The same directory of one image is identical to itself, and to the tree.
    let (code, diffs) = compare(&tmp.0.join("a.iso:/boot"), &tmp.0.join("a.iso:/boot/"));
    assert_eq!((code, diffs), (Some(0), BTreeSet::new()));

    // A file name with ':' that exists is that file, not an address.
    let odd = tmp.0.join("odd:/");
    fs::create_dir_all(&odd).expect("mkdir");
    fs::copy(&a, odd.join("a.iso")).expect("copy");
    let (code, diffs) = compare(&tmp.0.join("odd:/a.iso"), &a);
    assert_eq!((code, diffs), (Some(0), BTreeSet::new()));
    let (code, _) = compare(&tmp.0.join("odd:/a.iso:/boot"), &tmp.0.join("a.iso:/boot"));
    assert_eq!(code, Some(0));

    // Places that name nothing to compare: exit 2, one message each.
    for (arg, says) in [
        ("a.iso:/missing", "a.iso: /missing: no such entry"),
        (
            "a.iso:/boot/vmlinuz",
            "/boot/vmlinuz: is a file but no image",
        ),
        ("a.iso:boot", "a.iso:boot: No such file"),
    ] {
        let out = isodiff(&[tmp.0.join(arg).as_os_str(), b.as_os_str()]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{arg}: {err}");
        assert!(err.contains(says), "{arg}: {says:?} not in {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn ls_lists_a_tree_and_a_place_inside_an_image() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let tmp = TempDir::new("trees-ls");
    let tree = tmp.0.join("tree");
    make_tree(&tree);
    let sq = tmp.0.join("t.squashfs");
    mksquashfs(&tree, &sq);
    let listed = common::ls_json(&tree);
    let inside = common::ls_json(&tmp.0.join("t.squashfs:/data"));
    assert_eq!(listed["/h"]["mode"], "4755");
    assert_eq!(listed["/link"]["target"], "data/f");
    assert_eq!(listed["/data/g"]["mtime"], "2023-11-14T22:13:21.123456789Z");
    assert_eq!(inside["/g"]["mtime"], "2023-11-14T22:13:21Z");
    let keys: Vec<&String> = inside.keys().collect();
    assert_eq!(keys, ["/", "/deep", "/deep/f-again", "/f", "/g"]);
}
