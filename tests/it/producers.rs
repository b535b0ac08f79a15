//! ISOs as other producers write them list as libarchive reads them (`bsdtar
//! -tvf`): NetBSD's makefs (with and without Rock Ridge), Joliet-only images,
//! relocated deep trees. Images are made here by the producers when they are
//! installed (each part skipped with a note when one is missing, or failing
//! when `ISODIFF_REQUIRE_TOOLS` is set, as in CI). Producers that cannot run
//! here (Nero, mkhybrid, an old xorriso) are checked on images from
//! libarchive's test suite (testdata/libarchive, its README says whence).
//!
//! Where a producer's oddity makes libarchive and the Linux kernel disagree
//! (NetBSD makefs relocates deep directories without `RE`), the test says
//! which reading isodiff follows and checks it against the source tree.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

type Listing = BTreeMap<String, serde_json::Value>;

/// Runs `cmd`, panicking with its stderr when it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tree with what listings show: directories, a setuid file with owners,
/// a relative and an absolute symlink, an empty file, mixed-case names.
/// Owners need root; without it the files keep the caller's.
fn make_tree(root: &Path) {
    let sh = format!(
        r#"set -e
cd '{root}'
mkdir -p boot/grub etc/ssl sbin empty-dir
printf 'set timeout=5\n' > boot/grub/grub.cfg
printf 'hello\n' > README
printf '#!/bin/sh\n' > sbin/init
# chown clears setuid: owners first.
chown 0:27 sbin/init 2>/dev/null || true
chmod 4750 sbin/init
ln -s ../README etc/readme-link
ln -s /nix/store/x-users etc/users
: > etc/EmptyFile
chmod 0700 empty-dir
"#,
        root = root.display()
    );
    run(Command::new("sh").args(["-c", &sh]));
}

/// Nine levels below `root`: deeper than ISO 9660's eight, so writers relocate.
fn make_deep(root: &Path) {
    let deep = root.join("deep/1/2/3/4/5/6/7/8");
    std::fs::create_dir_all(&deep).expect("deep dirs");
    std::fs::write(deep.join("leaf"), b"leaf\n").expect("leaf");
}

/// `bsdtar -tvf IMAGE` as the JSON of `isodiff ls --json`, keyed by path
/// (`/x`): type, and with Rock Ridge mode, uid, gid and symlink target; size
/// of files. Times (minutes, local) and link counts are left out. The root
/// (`.`), whose mode libarchive does not take from Rock Ridge, is left out.
fn bsdtar_listing(image: &Path, rock_ridge: bool) -> Listing {
    bsdtar_listing_skipping(image, rock_ridge, None)
}

/// [`bsdtar_listing`], leaving out names that start with `skip` (names with
/// spaces, which the columns cannot hold apart).
fn bsdtar_listing_skipping(image: &Path, rock_ridge: bool, skip: Option<&str>) -> Listing {
    let out = Command::new("bsdtar")
        .args(["--numeric-owner", "-tvf"])
        .arg(image)
        .output()
        .expect("bsdtar runs");
    assert!(
        out.status.success(),
        "bsdtar cannot read {}: {}",
        image.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map = Listing::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // perm nlink uid gid size month day time name [-> target]; the test
        // trees have no spaces in names but the one skipped.
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() >= 9, "unexpected bsdtar line {line:?}");
        let name = cols[8].trim_end_matches('/');
        if name == "." || skip.is_some_and(|s| name.starts_with(s)) {
            continue;
        }
        let kind = match cols[0].as_bytes()[0] {
            b'-' => "file",
            b'd' => "dir",
            b'l' => "symlink",
            other => panic!("type {} in {line:?}", other as char),
        };
        let mut v = serde_json::json!({ "type": kind });
        if rock_ridge {
            v["mode"] = mode_bits(cols[0]).into();
            v["uid"] = cols[2].parse::<u64>().expect("uid").into();
            v["gid"] = cols[3].parse::<u64>().expect("gid").into();
            if kind == "symlink" {
                assert_eq!(cols.get(9), Some(&"->"), "{line}");
                v["target"] = cols[10..].join(" ").into();
            }
        }
        // A second record of one extent is a hard link to the first, which
        // a tar listing shows with size 0 ("link to"): no size to compare.
        if cols.get(9..11) == Some(&["link", "to"][..]) {
            v["hardlink"] = true.into();
        } else if kind == "file" {
            v["size"] = cols[4].parse::<u64>().expect("size").into();
        }
        map.insert(format!("/{name}"), v);
    }
    map
}

/// `-rwsr-x---` -> `"4750"`.
fn mode_bits(perm: &str) -> String {
    let mut mode = 0u32;
    for (i, &c) in perm.as_bytes()[1..10].iter().enumerate() {
        let bit = 1 << (8 - i);
        let special = match i {
            2 => 0o4000,
            5 => 0o2000,
            _ => 0o1000,
        };
        match c {
            b'r' | b'w' | b'x' => mode |= bit,
            b's' | b't' => mode |= bit | special,
            b'S' | b'T' => mode |= special,
            _ => {}
        }
    }
    format!("{mode:04o}")
}

/// `isodiff ls --json` of `image` with the fields [`bsdtar_listing`] has, and
/// the warnings it said on stderr.
fn ours(image: &Path, rock_ridge: bool) -> (Listing, String) {
    let out = isodiff(&["ls".as_ref(), "--json".as_ref(), image.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "isodiff ls {}: {stderr}",
        image.display()
    );
    let mut keep = vec!["type", "size"];
    if rock_ridge {
        keep.extend(["mode", "uid", "gid", "target"]);
    }
    let listing = parse_lines(&out.stdout)
        .into_iter()
        .filter(|(k, _)| k != "/")
        .map(|(k, v)| {
            let mut o = serde_json::Map::new();
            for key in &keep {
                if let Some(x) = v.get(*key) {
                    // Directories and links list a size of 0; bsdtar gives none.
                    if *key == "size" && v["type"] != "file" {
                        continue;
                    }
                    o.insert((*key).to_owned(), x.clone());
                }
            }
            (k, serde_json::Value::Object(o))
        })
        .collect();
    (listing, stderr)
}

fn assert_same(image: &Path, theirs: &Listing, ours: &Listing) {
    let mut problems = Vec::new();
    for (path, t) in theirs {
        let mut t = t.clone();
        let ours_here = ours.get(path).cloned().map(|mut o| {
            if t.get("hardlink").is_some() {
                o.as_object_mut().map(|o| o.remove("size"));
            }
            o
        });
        t.as_object_mut().map(|o| o.remove("hardlink"));
        match ours_here.as_ref() {
            None => problems.push(format!("{path}: listed by bsdtar, not by isodiff")),
            Some(o) if *o != t => problems.push(format!("{path}:\n  bsdtar:  {t}\n  isodiff: {o}")),
            Some(_) => {}
        }
    }
    for path in ours.keys().filter(|p| !theirs.contains_key(*p)) {
        problems.push(format!("{path}: listed by isodiff, not by bsdtar"));
    }
    assert!(
        problems.is_empty(),
        "{}: isodiff and bsdtar disagree:\n{}",
        image.display(),
        problems.join("\n")
    );
}

fn makefs(tree: &Path, out: &Path, options: &[&str]) {
    let mut cmd = Command::new("makefs");
    cmd.args(["-t", "cd9660"]);
    if !options.is_empty() {
        cmd.arg("-o").arg(options.join(","));
    }
    run(cmd.arg(out).arg(tree));
}

/// NetBSD makefs, with and without Rock Ridge: listed as bsdtar lists it,
/// and its oddities (every `TF` one byte short) said as warnings, not problems.
#[test]
fn makefs_images_list_as_libarchive_reads_them() {
    if !on_path(&["makefs", "bsdtar"]) {
        return;
    }
    let t = TempDir::new("makefs");
    let tree = t.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    make_tree(&tree);
    for (name, rr) in [("plain.iso", false), ("rr.iso", true)] {
        let image = t.0.join(name);
        makefs(&tree, &image, if rr { &["rockridge"] } else { &[] });
        let (listing, stderr) = ours(&image, rr);
        assert_same(&image, &bsdtar_listing(&image, rr), &listing);
        // The listing is the tree's: every name is there.
        assert!(listing.contains_key(if rr { "/sbin/init" } else { "/SBIN/INIT" }));
        if rr {
            assert!(
                stderr.contains("warning: Rock Ridge TF entries shorter"),
                "the short TF entries are not said: {stderr}"
            );
            assert_eq!(listing["/sbin/init"]["mode"], "4750");
        }
    }
}

/// makefs relocates directories deeper than eight levels with `CL` and `PL`
/// but no `RE`. libarchive (which trusts `RE`) then lists the relocated
/// directory under `/.rr_moved` and an empty directory where it belongs;
/// the Linux kernel and libisofs list it in both places. isodiff shows it
/// where it belongs only, as the tree was, and says so in a warning; the
/// rest of the image lists as bsdtar lists it.
#[test]
fn makefs_relocation_without_re_is_shown_where_it_belongs() {
    if !on_path(&["makefs", "bsdtar"]) {
        return;
    }
    let t = TempDir::new("makefs-deep");
    let tree = t.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    make_tree(&tree);
    make_deep(&tree);
    let image = t.0.join("deep.iso");
    makefs(&tree, &image, &["rockridge"]);
    let (listing, stderr) = ours(&image, true);
    assert!(
        stderr.contains("warning: relocated directories have a PL entry but no RE"),
        "{stderr}"
    );
    assert_eq!(
        listing.get("/deep/1/2/3/4/5/6/7/8/leaf"),
        Some(&serde_json::json!({"type": "file", "size": 5, "mode": "0644", "uid": 0, "gid": 0}))
    );
    // The relocation directory is kept, empty, as genisoimage's `rr_moved` is.
    assert!(!listing.keys().any(|k| k.starts_with("/.rr_moved/")));
    // bsdtar: the same entries outside the relocated part.
    let moved = |k: &String| k.starts_with("/.rr_moved") || k.starts_with("/deep/1/2/3/4/5/6");
    let theirs: Listing = bsdtar_listing(&image, true)
        .into_iter()
        .filter(|(k, _)| !moved(k))
        .collect();
    let mine: Listing = listing.into_iter().filter(|(k, _)| !moved(k)).collect();
    assert_same(&image, &theirs, &mine);

    // A comparison of two such images says the oddities once per image and
    // side, and is no trouble.
    let again = t.0.join("deep2.iso");
    makefs(&tree, &again, &["rockridge"]);
    let (code, r) = json_report(&image, &again);
    assert_ne!(code, Some(2), "{r:#}");
    let warnings = r["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(warnings.len(), 4, "{r:#}");
    assert!(r["problems"].as_array().is_some_and(|p| p.is_empty()));
}

/// A root record whose length byte says 68 (older makefs releases; the field
/// is 34 bytes) reads as 34, with a warning in the report and by `ls`.
#[test]
fn a_68_byte_root_record_is_read_with_a_warning() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    let t = TempDir::new("root68");
    let tree = t.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    make_tree(&tree);
    let image = t.0.join("a.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(&image)
        .arg(&tree));
    let mut bytes = std::fs::read(&image).expect("image");
    assert_eq!(bytes[16 * 2048 + 156], 34);
    let patched = t.0.join("b.iso");
    bytes[16 * 2048 + 156] = 68;
    std::fs::write(&patched, &bytes).expect("patched");
    let (listing, stderr) = ours(&patched, true);
    assert_eq!(listing, ours(&image, true).0);
    assert!(
        stderr.contains("warning: the root directory record"),
        "{stderr}"
    );
    let (code, r) = json_report(&image, &patched);
    assert_eq!(code, Some(1), "{r:#}");
    let w = r["warnings"].as_array().cloned().unwrap_or_default();
    assert_eq!(w.len(), 1, "{r:#}");
    assert_eq!(w[0]["side"], "b");
    // The length byte itself is the one difference.
    let fields: Vec<_> = found(&r).into_iter().collect();
    assert_eq!(fields.len(), 1, "{fields:?}");
}

/// Joliet-only images (no Rock Ridge): names from Joliet, as bsdtar reads them.
#[test]
fn joliet_only_images_list_as_libarchive_reads_them() {
    let t = TempDir::new("joliet-only");
    let tree = t.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    make_tree(&tree);
    // Symlinks have no place in Joliet: writers drop them or fail.
    for link in ["etc/readme-link", "etc/users"] {
        std::fs::remove_file(tree.join(link)).expect("unlink");
    }
    std::fs::write(tree.join("Mixed Case.Long-Name.txt"), b"x").expect("file");
    let mut images = Vec::new();
    if have("xorriso", &["-version"]) {
        let out = t.0.join("xorriso-j.iso");
        run(Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-J", "-o"])
            .arg(&out)
            .arg(&tree));
        images.push(out);
    }
    if have("genisoimage", &["-version"]) {
        let out = t.0.join("genisoimage-j.iso");
        run(Command::new("genisoimage")
            .args(["-quiet", "-J", "-o"])
            .arg(&out)
            .arg(&tree));
        images.push(out);
    }
    if !on_path(&["bsdtar"]) {
        return;
    }
    for image in &images {
        let (listing, _) = ours(image, false);
        // The space in a name keeps bsdtar's columns apart: compare the rest
        // by columns, that name by its presence.
        let spaced = "/Mixed Case.Long-Name.txt";
        assert!(listing.contains_key(spaced), "{listing:?}");
        let mine: Listing = listing.into_iter().filter(|(k, _)| k != spaced).collect();
        let theirs = bsdtar_listing_skipping(image, false, Some("Mixed"));
        assert_same(image, &theirs, &mine);
    }
}

/// Relocated deep trees: genisoimage writes `rr_moved` with `RE`, xorriso
/// writes deep trees as they are; both list as bsdtar lists them.
#[test]
fn deep_trees_list_as_libarchive_reads_them() {
    if !on_path(&["bsdtar"]) {
        return;
    }
    let t = TempDir::new("deep");
    let tree = t.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    make_tree(&tree);
    make_deep(&tree);
    let mut images = Vec::new();
    if have("genisoimage", &["-version"]) {
        let out = t.0.join("genisoimage-deep.iso");
        run(Command::new("genisoimage")
            .args(["-quiet", "-R", "-o"])
            .arg(&out)
            .arg(&tree));
        images.push(out);
    }
    if have("xorriso", &["-version"]) {
        let out = t.0.join("xorriso-deep.iso");
        run(Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&out)
            .arg(&tree));
        images.push(out);
    }
    for image in &images {
        let (mut listing, stderr) = ours(image, true);
        assert!(!stderr.contains("warning"), "{stderr}");
        assert!(listing.contains_key("/deep/1/2/3/4/5/6/7/8/leaf"));
        // genisoimage's relocation directory stays visible, empty, as the
        // Linux kernel, libisofs and pycdlib show it; libarchive hides it.
        assert!(!listing.keys().any(|k| k.starts_with("/rr_moved/")));
        listing.remove("/rr_moved");
        assert_same(image, &bsdtar_listing(image, true), &listing);
    }
}

/// `bsdtar`'s mtree of `image`: path (`/x`) -> modification time in seconds.
fn bsdtar_times(image: &Path) -> BTreeMap<String, i64> {
    let out = Command::new("bsdtar")
        .args(["-cf", "-", "--format=mtree", "--options", "mtree:!all,time"])
        .arg(format!("@{}", image.display()))
        .output()
        .expect("bsdtar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((path, time)) = line.split_once(" time=") else {
            continue;
        };
        let secs = time.split('.').next().and_then(|s| s.parse().ok());
        let path = path.trim_start_matches('.');
        let path = if path.is_empty() { "/" } else { path };
        map.insert(path.to_owned(), secs.expect("a time in seconds"));
    }
    map
}

/// Seconds since 1970 of an RFC 3339 UTC time as `isodiff ls --json` writes
/// it (`2010-06-29T12:03:00Z`, maybe with a fraction).
fn unix_secs(t: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| -> i64 { t[r].parse().expect("a number") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// Images made by producers that do not run here, from libarchive's test
/// suite (testdata/libarchive, with their origin): Nero's Joliet-only image,
/// mkhybrid's relocated deep tree and zisofs files, the xorriso of 2011.
/// Each lists as `bsdtar -tvf` lists it, with the times libarchive reads,
/// and the paths libarchive's own tests expect.
#[test]
fn libarchive_test_images_list_as_libarchive_reads_them() {
    if !on_path(&["bsdtar"]) {
        return;
    }
    let dir = fixture("libarchive");
    // name, Rock Ridge, what libarchive's test of it expects to find.
    let samples: [(&str, bool, &[&str]); 4] = [
        // test_read_format_isojoliet_versioned.c: `;1` stripped from the
        // Joliet names Nero writes.
        (
            "test_read_format_iso_joliet_by_nero",
            false,
            &["/", "/test", "/test/test.txt"],
        ),
        // test_read_format_isorr_rr_moved.c: rr_moved hidden, dir10 in place.
        (
            "test_read_format_iso_rockridge_rr_moved",
            true,
            &[
                "/dir1/dir2/dir3/dir4/dir5/dir6/dir7/dir8/dir9/dir10/deep",
                "/file",
            ],
        ),
        // test_read_format_isozisofs_bz2.c: zisofs files at their size.
        (
            "test_read_format_iso_zisofs",
            true,
            &["/file", "/hardlink", "/symlink4"],
        ),
        // test_read_format_iso_xorriso.c: empty files at location 0.
        (
            "test_read_format_iso_xorriso",
            true,
            &["/empty", "/hardlink", "/dir2/file4"],
        ),
    ];
    for (name, rock_ridge, expected) in samples {
        let image = dir.join(format!("{name}.iso.gz"));
        let (listing, stderr) = ours(&image, rock_ridge);
        assert!(!stderr.contains("warning"), "{name}: {stderr}");
        let out = isodiff(&["ls".as_ref(), "--json".as_ref(), image.as_os_str()]);
        let full = parse_lines(&out.stdout);
        for path in expected {
            assert!(full.contains_key(*path), "{name}: no {path} in {full:?}");
        }
        let theirs: Listing = bsdtar_listing(&image, rock_ridge)
            .into_iter()
            .map(|(k, v)| (k.replacen("/./", "/", 1), v))
            .collect();
        assert_same(&image, &theirs, &listing);
        let times = bsdtar_times(&image);
        assert_eq!(times.len(), full.len(), "{name}: {times:?}");
        for (path, v) in &full {
            let ours = v["mtime"].as_str().map(unix_secs);
            assert_eq!(ours, times.get(path).copied(), "{name}: mtime of {path}");
        }
    }
}
