//! The FAT reader against dosfstools and mtools: images are made at test time with
//! `mkfs.vfat` (FAT12, FAT16 and FAT32) and filled with `mmd`/`mcopy -m` from a
//! small tree made here (long names, a lower-case 8.3 name, a non-ASCII name, a
//! file of exactly one cluster, an empty file, a fragmented file, attributes set
//! with `mattrib`). For each image:
//!
//! - `isodiff ls --json` lists exactly the paths `mdir -/ -b` lists, each with the
//!   type, size and mtime (to the 2 s FAT stores) of its source;
//! - the library's content of every file equals its source;
//! - volume id, labels and FAT type are image facts; attributes and creation time
//!   are entry attributes.
//!
//! Then `isodiff A B --json -` on pairs: a different volume id gives exactly that
//! fact; a member's different mtime gives its mtime (and the access date and
//! creation time `mcopy -m` derives from it); and the same inside an ISO made by
//! xorriso gives locations like `["/boot/efi.img", "/EFI/BOOT/BOOTX64.EFI"]`.
//!
//! All tools run with `SOURCE_DATE_EPOCH` and `TZ=UTC` (and mkfs.vfat with
//! `--invariant`), so two runs on the same tree make the same bytes. Without the tools the tests print a note and pass, unless
//! `ISODIFF_REQUIRE_TOOLS` is set.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{found, json_report, ls_json, on_path, TempDir};
use isodiff::{Content, EntryKind, Filesystem, Limits, MappedFile, Value};

const EPOCH: &str = "1700000000";

fn run(cmd: &mut Command) {
    let out = cmd
        .env("TZ", "UTC")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(script: &str) {
    run(Command::new("sh").args(["-ec", script]));
}

fn tools() -> bool {
    on_path(&["mkfs.vfat", "mmd", "mcopy", "mdir", "mattrib"])
}

/// The source tree: relative path, content (`None` for a directory), mtime.
fn source_files() -> Vec<(&'static str, Option<Vec<u8>>, &'static str)> {
    let big: Vec<u8> = (0..150_000u32).map(|i| (i * 31 % 251) as u8).collect();
    vec![
        ("EFI", None, "2024-06-02 00:00:00"),
        ("EFI/BOOT", None, "2024-06-02 00:00:00"),
        ("EFI/BOOT/BOOTX64.EFI", Some(big), "2024-06-02 12:34:56"),
        (
            "EFI/BOOT/grub.cfg",
            Some(b"set timeout=5\n".to_vec()),
            "2024-06-02 12:34:57",
        ),
        (
            "A Long Name With Spaces.txt",
            Some(b"long\n".to_vec()),
            "2001-02-03 04:05:06",
        ),
        (
            "readme.txt",
            Some(b"lower case 8.3\n".to_vec()),
            "1999-12-31 23:59:58",
        ),
        (
            "UPPER.TXT",
            Some(b"upper\n".to_vec()),
            "2010-10-10 10:10:10",
        ),
        (
            "café.txt",
            Some("non-ASCII name\n".as_bytes().to_vec()),
            "2020-01-01 00:00:00",
        ),
        (
            "one-cluster.bin",
            Some(vec![0xa5; 2048]),
            "2020-01-01 00:00:02",
        ),
        ("empty", Some(Vec::new()), "2020-01-01 00:00:04"),
        ("Mixed Case Dir", None, "2024-06-02 00:00:00"),
        ("Mixed Case Dir/nested", None, "2024-06-02 00:00:00"),
        (
            "Mixed Case Dir/nested/deep file.dat",
            Some(b"deep\n".repeat(1000)),
            "2024-06-02 01:02:03",
        ),
    ]
}

/// Writes the source tree under `dir/src`.
fn make_source(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    for (path, content, _) in source_files() {
        let p = src.join(path);
        match content {
            None => std::fs::create_dir_all(&p).expect("mkdir"),
            Some(c) => std::fs::write(&p, c).expect("write"),
        }
    }
    for (path, _, time) in source_files() {
        run(Command::new("touch")
            .args(["-h", "-d", time])
            .arg(src.join(path)));
    }
    src
}

/// A FAT image of `size_kib` made by mkfs.vfat with `mkfs_args` and filled from
/// `src`: directories with mmd, files with `mcopy -m` (keeping mtimes), in the
/// order of [`source_files`]; `UPPER.TXT` made read-only and hidden.
fn make_fat(src: &Path, out: &Path, size_kib: u32, mkfs_args: &[&str]) {
    let _ = std::fs::remove_file(out);
    // --invariant: the label entry's time (which mkfs.vfat takes from the clock,
    // not from SOURCE_DATE_EPOCH) and other time-based values become constants.
    run(Command::new("mkfs.vfat")
        .args(["--invariant", "-C"])
        .args(mkfs_args)
        .arg(out)
        .arg(size_kib.to_string()));
    for (path, content, _) in source_files() {
        let target = format!("::/{path}");
        if content.is_none() {
            run(Command::new("mmd").arg("-i").arg(out).arg(&target));
        } else {
            run(Command::new("mcopy")
                .args(["-m", "-i"])
                .arg(out)
                .arg(src.join(path))
                .arg(&target));
        }
    }
    run(Command::new("mattrib")
        .args(["+r", "+h", "-i"])
        .arg(out)
        .arg("::/UPPER.TXT"));
}

/// The paths `mdir -/ -b` lists, as absolute paths without the trailing `/` of
/// directories.
fn mdir_paths(img: &Path) -> BTreeSet<String> {
    let out = Command::new("mdir")
        .args(["-/", "-b", "-a", "-i"])
        .arg(img)
        .arg("::/")
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .expect("mdir runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("::"))
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

/// Seconds since the epoch of `touch -d` text, in UTC.
fn epoch_of(time: &str) -> i64 {
    let out = Command::new("date")
        .args(["-u", "-d", time, "+%s"])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

fn rfc3339(secs: i64) -> String {
    isodiff::Timestamp::from_unix(secs).rfc3339()
}

fn fact(fs: &dyn Filesystem, name: &str) -> Option<Value> {
    fs.facts()
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.clone())
}

/// Every entry of the image by path, with its content when it is a file.
fn library_walk(fs: &dyn Filesystem) -> Vec<(String, isodiff::Entry, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), fs.root())];
    while let Some((path, dir)) = stack.pop() {
        let listing = fs.children(dir).expect("children");
        assert!(listing.errors.is_empty(), "{path}: {:?}", listing.errors);
        for e in listing.entries {
            let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
            let content = match e.meta.kind {
                EntryKind::Dir => {
                    stack.push((p.clone(), e.node));
                    None
                }
                _ => {
                    let c = fs.content(e.node).expect("content");
                    assert!(matches!(c, Content::Slices(_)));
                    let mut bytes = Vec::new();
                    for chunk in c.chunks() {
                        bytes.extend_from_slice(&chunk.expect("chunk"));
                    }
                    Some(bytes)
                }
            };
            out.push((p, e, content));
        }
    }
    out
}

#[test]
fn listing_matches_the_source_and_mdir() {
    if !tools() {
        return;
    }
    let tmp = TempDir::new("fat-ls");
    let src = make_source(&tmp.0);
    // (type, mkfs arguments, size in KiB): FAT12 with 2 KiB clusters, FAT16, and
    // FAT32 with 512-byte clusters so the 150 KB file spans hundreds of clusters.
    let kinds: [(&str, &[&str], u32); 3] = [
        ("FAT12", &["-F", "12", "-s", "4"], 4096),
        ("FAT16", &["-F", "16", "-s", "4"], 16384),
        ("FAT32", &["-F", "32", "-s", "1"], 40960),
    ];
    for (fat_type, args, size) in kinds {
        let img = tmp.0.join(format!("{fat_type}.img"));
        let mut mkfs: Vec<&str> = vec!["-n", "ESP LABEL", "-i", "1234ABCD"];
        mkfs.extend(args);
        make_fat(&src, &img, size, &mkfs);

        let listed = ls_json(&img);
        let paths: BTreeSet<String> = listed.keys().filter(|k| *k != "/").cloned().collect();
        // mtools lower-cases only the ASCII of an 8.3 name with the lower-case
        // flag (`cafÉ.txt`); Linux, Windows and isodiff the whole code page.
        let lower = |s: &BTreeSet<String>| -> BTreeSet<String> {
            s.iter().map(|p| p.to_lowercase()).collect()
        };
        assert_eq!(
            lower(&paths),
            lower(&mdir_paths(&img)),
            "{fat_type}: isodiff ls against mdir"
        );
        for (path, content, time) in source_files() {
            let v = &listed[&format!("/{path}")];
            let kind = if content.is_some() { "file" } else { "dir" };
            assert_eq!(v["type"], kind, "{fat_type} {path}");
            assert!(
                v.get("mode").is_none(),
                "{fat_type} {path}: FAT has no mode"
            );
            if let Some(c) = &content {
                assert_eq!(v["size"], c.len() as u64, "{fat_type} {path}");
                // FAT keeps even seconds: the source time rounded down.
                let want = rfc3339(epoch_of(time) / 2 * 2);
                assert_eq!(v["mtime"], want, "{fat_type} {path}");
            }
        }

        let map = MappedFile::open(&img).expect("map");
        let fs = isodiff::open(map.bytes(), &Limits::default()).expect("opens");
        assert_eq!(fs.format(), isodiff::Format::Fat);
        assert_eq!(
            fact(fs.as_ref(), "fat_type"),
            Some(Value::Text(fat_type.into()))
        );
        assert_eq!(
            fact(fs.as_ref(), "volume_id"),
            Some(Value::Text("1234-ABCD".into()))
        );
        assert_eq!(
            fact(fs.as_ref(), "volume_label"),
            Some(Value::Text("ESP LABEL  ".into()))
        );
        assert_eq!(
            fact(fs.as_ref(), "root_label"),
            Some(Value::Text("ESP LABEL  ".into()))
        );
        assert_eq!(fact(fs.as_ref(), "fats_agree"), Some(Value::Bool(true)));
        if fat_type == "FAT32" {
            assert_eq!(fact(fs.as_ref(), "fsinfo.valid"), Some(Value::Bool(true)));
            assert_eq!(
                fact(fs.as_ref(), "backup_boot_sector_matches"),
                Some(Value::Bool(true))
            );
        }

        let entries = library_walk(fs.as_ref());
        assert_eq!(entries.len(), source_files().len(), "{fat_type}");
        for (path, entry, content) in &entries {
            let (_, want, time) = source_files()
                .into_iter()
                .find(|(p, _, _)| format!("/{p}") == *path)
                .unwrap_or_else(|| panic!("{fat_type}: {path} is not in the source"));
            assert_eq!(content, &want, "{fat_type} {path}: content");
            let attr = |n: &str| {
                entry
                    .attrs
                    .iter()
                    .find(|f| f.name == n)
                    .map(|f| f.value.clone())
            };
            // mcopy -m stamps creation and access with the source mtime too.
            let created = match attr("fat.created") {
                Some(Value::Time(t)) => t.rfc3339(),
                other => panic!("{fat_type} {path}: fat.created is {other:?}"),
            };
            if want.is_some() {
                assert_eq!(
                    created,
                    format!(
                        "{}.00Z",
                        rfc3339(epoch_of(time) / 2 * 2).trim_end_matches('Z')
                    )
                );
                assert_eq!(
                    entry.meta.atime.map(|t| t.rfc3339()),
                    Some(rfc3339(epoch_of(time))[..10].to_owned()),
                    "{fat_type} {path}: access date"
                );
            }
            let attributes = attr("fat.attributes");
            let want_attributes = match (path.as_str(), want.is_some()) {
                ("/UPPER.TXT", _) => "read-only,hidden,archive",
                (_, true) => "archive",
                (_, false) => "",
            };
            assert_eq!(
                attributes,
                Some(Value::Text(want_attributes.into())),
                "{fat_type} {path}"
            );
        }
        let short = |p: &str| {
            entries
                .iter()
                .find(|(path, _, _)| path == p)
                .and_then(|(_, e, _)| e.attrs.iter().find(|f| f.name == "fat.short_name"))
                .map(|f| f.value.clone())
        };
        assert_eq!(short("/readme.txt"), Some(Value::Text("README.TXT".into())));
        assert_eq!(
            short("/A Long Name With Spaces.txt"),
            Some(Value::Text("ALONGN~1.TXT".into()))
        );
    }
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn pairs_differ_in_exactly_what_was_changed() {
    if !tools() {
        return;
    }
    let tmp = TempDir::new("fat-diff");
    let src = make_source(&tmp.0);
    let img = |name: &str| tmp.0.join(name);
    let base: &[&str] = &["-n", "EFIBOOT", "-i", "1234ABCD"];
    make_fat(&src, &img("a.img"), 4096, base);
    make_fat(&src, &img("a2.img"), 4096, base);
    make_fat(
        &src,
        &img("id.img"),
        4096,
        &["-n", "EFIBOOT", "-i", "5678ABCD"],
    );

    // Two runs on the same tree give the same image: exit 0, nothing reported.
    let (code, r) = json_report(&img("a.img"), &img("a2.img"));
    assert_eq!(
        (code, r["identical"].as_bool()),
        (Some(0), Some(true)),
        "{r}"
    );

    let (code, r) = json_report(&img("a.img"), &img("id.img"));
    assert_eq!(code, Some(1));
    assert_eq!(found(&r), set(&[("", "image", "volume_id")]), "{r:#}");
    let d = &r["differences"][0];
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("1234-ABCD"), Some("5678-ABCD"))
    );

    // One member 2 minutes newer: mcopy -m derives creation and access from it.
    sh(&format!(
        "touch -d '2024-06-02 12:36:56' '{}'",
        src.join("EFI/BOOT/BOOTX64.EFI").display()
    ));
    make_fat(&src, &img("mtime.img"), 4096, base);
    let (code, r) = json_report(&img("a.img"), &img("mtime.img"));
    assert_eq!(code, Some(1));
    let file = "/EFI/BOOT/BOOTX64.EFI";
    assert_eq!(
        found(&r),
        set(&[(file, "mtime", ""), (file, "attribute", "fat.created")]),
        "{r:#}"
    );
    let mtime = r["differences"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["kind"] == "mtime"))
        .expect("an mtime difference");
    assert_eq!(mtime["a"], "2024-06-02T12:34:56Z");
    assert_eq!(mtime["b"], "2024-06-02T12:36:56Z");

    // The same, as /boot/efi.img inside ISO images.
    if !on_path(&["xorriso"]) {
        return;
    }
    let mut isos = Vec::new();
    for (name, fat) in [("a", "a.img"), ("b", "mtime.img")] {
        let tree = tmp.0.join(format!("iso-{name}"));
        std::fs::create_dir_all(tree.join("boot")).expect("mkdir");
        std::fs::copy(img(fat), tree.join("boot/efi.img")).expect("copy");
        sh(&format!(
            "find '{}' -exec touch -h -d '2024-06-02 00:00:00' {{}} +",
            tree.display()
        ));
        let iso = tmp.0.join(format!("{name}.iso"));
        run(Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&tree));
        isos.push(iso);
    }
    let listed = ls_json(&isos[0]);
    assert_eq!(
        listed["/boot/efi.img:/EFI/BOOT/BOOTX64.EFI"]["size"],
        150_000
    );
    let (code, r) = json_report(&isos[0], &isos[1]);
    assert_eq!(code, Some(1));
    let file = "/boot/efi.img:/EFI/BOOT/BOOTX64.EFI";
    assert_eq!(
        found(&r),
        set(&[(file, "mtime", ""), (file, "attribute", "fat.created")]),
        "{r:#}"
    );
}
