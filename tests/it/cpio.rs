//! The cpio reader against GNU cpio and the real compressors: archives are made at
//! test time with `cpio -o -H newc|crc|odc` from a small tree made here (modes with
//! setuid, a symlink, a hard link, a fifo, device nodes when we may make them,
//! non-ASCII and spaced names, a deep path), plain, piped through gzip, xz, zstd,
//! lz4 (frame) and `lz4 -l` (the kernel's legacy format), and concatenated after an
//! uncompressed early-microcode archive as initrds are. For each:
//!
//! - `isodiff ls --json` lists every source path with its type, mode, owner, size,
//!   mtime, link count, device numbers and symlink target, and exactly the names
//!   `cpio -it` lists (plain archives);
//! - the library's content of every file equals its source.
//!
//! Then `isodiff A B --json -` on pairs: a member's mtime, a member's mode, and a
//! compressor change alone (which must give image facts only, no entry); and the
//! first inside ISO images made by xorriso, located under `/boot/initrd.img`.
//!
//! Without the tools the tests print a note and pass, unless `ISODIFF_REQUIRE_TOOLS`
//! is set.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{found, isodiff, json_report, ls_json, on_path, parse_lines, TempDir};
use isodiff::{EntryKind, Limits, MappedFile};

fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-ec", script])
        .env("TZ", "UTC")
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the source tree `dir/root` and an early-microcode tree `dir/early`.
/// Returns whether device nodes could be made (they need root).
fn make_source(dir: &Path) -> bool {
    sh(&format!(
        r#"
r='{r}'; e='{e}'
mkdir -p "$r/bin" "$r/etc" "$r/dev" "$r/deep/a/b/c/d" "$e/kernel/x86/microcode"
head -c 70000 /dev/urandom > "$r/bin/busybox"
chmod 0755 "$r/bin/busybox"
ln -s busybox "$r/bin/sh"
printf 'box\n' > "$r/etc/hostname"
ln "$r/etc/hostname" "$r/etc/hardlink"
printf 'root:*:1::::::\n' > "$r/etc/shadow"
chmod 0600 "$r/etc/shadow"
printf 'x' > "$r/etc/setuid-tool"
chmod 04755 "$r/etc/setuid-tool"
mkfifo "$r/dev/initctl"
printf 'spaced\n' > "$r/name with spaces"
printf 'unicode\n' > "$r/ünïcödé"
: > "$r/empty"
printf 'deep\n' > "$r/deep/a/b/c/d/file"
printf '#!/bin/sh\nexec /bin/sh\n' > "$r/init"
chmod 0755 "$r/init"
printf 'GenuineIntel microcode' > "$e/kernel/x86/microcode/GenuineIntel.bin"
find "$r" "$e" -exec touch -h -d '2024-06-02 00:00:00' {{}} +
touch -h -d '2001-02-03 04:05:06' "$r/init" "$r/bin/sh"
"#,
        r = dir.join("root").display(),
        e = dir.join("early").display(),
    ));
    let devices = Command::new("sh")
        .args([
            "-ec",
            "mknod \"$1/dev/null\" c 1 3 && mknod \"$1/dev/sda\" b 8 0",
        ])
        .arg("sh")
        .arg(dir.join("root"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if devices {
        sh(&format!(
            "touch -h -d '2024-06-02 00:00:00' '{r}/dev/null' '{r}/dev/sda' '{r}/dev'",
            r = dir.join("root").display()
        ));
    } else {
        eprintln!("note: mknod failed (not root?); device nodes are not tested");
    }
    devices
}

/// `cpio -o -H format` of the tree at `src`, names as `find .` gives them
/// (`.`, `./bin`, ...) or, with `bare`, without the `./` and without `.`.
fn cpio(src: &Path, format: &str, bare: bool) -> Vec<u8> {
    let find = if bare {
        "find . -mindepth 1 | sed 's,^\\./,,'"
    } else {
        "find ."
    };
    let out = Command::new("sh")
        .args(["-ec", &format!("{find} | cpio -o -H {format} --quiet")])
        .current_dir(src)
        .output()
        .expect("cpio runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `data` piped through `cmd`.
fn pipe(cmd: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("output");
    assert!(writer.join().is_ok_and(|r| r.is_ok()));
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

const COMPRESSORS: [(&str, &[&str]); 5] = [
    ("gzip", &["gzip", "-n", "-9"]),
    ("xz", &["xz", "--check=crc32", "-6"]),
    ("zstd", &["zstd", "-q", "-19"]),
    ("lz4", &["lz4", "-q", "-9"]),
    ("lz4-legacy", &["lz4", "-l", "-q", "-9"]),
];

fn tools() -> bool {
    on_path(&["cpio", "gzip", "xz", "zstd", "lz4", "mkfifo", "find"])
}

/// What `isodiff ls --json` must say about each path of the tree at `src`.
fn expected(src: &Path, root_listed: bool) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = src.join(&rel);
        let m = std::fs::symlink_metadata(&path).expect("stat");
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else {
            "file"
        };
        let key = format!("/{}", rel.display());
        let key = if key == "/" {
            key
        } else {
            key.trim_end_matches('/').to_owned()
        };
        let mut v = serde_json::json!({"type": kind});
        if !rel.as_os_str().is_empty() || root_listed {
            v["mode"] = format!("{:04o}", m.mode() & 0o7777).into();
            v["uid"] = m.uid().into();
            v["gid"] = m.gid().into();
            v["mtime"] = isodiff::Timestamp::from_unix(m.mtime()).rfc3339().into();
            v["nlink"] = m.nlink().into();
        }
        if kind == "file" {
            v["size"] = m.size().into();
        }
        if kind == "symlink" {
            let t = std::fs::read_link(&path).expect("readlink");
            v["target"] = t.display().to_string().into();
        }
        if kind == "char" || kind == "block" {
            let r = m.rdev();
            let (major, minor) = ((r >> 8) & 0xfff, (r & 0xff) | ((r >> 12) & 0xfff00));
            v["rdev"] = serde_json::json!([major, minor]);
        }
        out.insert(key, v);
        if ft.is_dir() {
            for e in std::fs::read_dir(&path).expect("read_dir") {
                stack.push(rel.join(e.expect("entry").file_name()));
            }
        }
    }
    out
}

/// Checks the listing of `img` against the tree at `src` (listed under `prefix`).
fn check_listing(img: &Path, src: &Path, root_listed: bool, what: &str) {
    let listed = ls_json(img);
    for (path, want) in expected(src, root_listed) {
        let got = listed
            .get(&path)
            .unwrap_or_else(|| panic!("{what}: {path} is not listed"));
        for (field, value) in want.as_object().expect("object") {
            assert_eq!(&got[field], value, "{what}: {path} {field}");
        }
        if !root_listed && path == "/" {
            assert!(
                got.get("mode").is_none(),
                "{what}: an implied root has no mode"
            );
        }
    }
}

/// Every regular file's content, read through the library, by path.
fn contents(img: &Path) -> BTreeMap<String, Vec<u8>> {
    let map = MappedFile::open(img).expect("map");
    let fs = isodiff::open(map.bytes(), &Limits::default()).expect("opens");
    assert_eq!(fs.format(), isodiff::Format::Cpio);
    let mut out = BTreeMap::new();
    let mut stack = vec![(String::new(), fs.root())];
    while let Some((path, dir)) = stack.pop() {
        let listing = fs.children(dir).expect("children");
        assert!(listing.errors.is_empty(), "{path}: {:?}", listing.errors);
        for e in listing.entries {
            let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
            match e.meta.kind {
                EntryKind::Dir => stack.push((p, e.node)),
                EntryKind::File => {
                    let c = fs.content(e.node).expect("content");
                    let mut bytes = Vec::new();
                    for chunk in c.chunks() {
                        bytes.extend_from_slice(&chunk.expect("chunk"));
                    }
                    out.insert(p, bytes);
                }
                _ => {}
            }
        }
    }
    out
}

fn check_contents(img: &Path, src: &Path, what: &str) {
    for (path, bytes) in contents(img) {
        let source = src.join(path.trim_start_matches('/'));
        if let Ok(want) = std::fs::read(&source) {
            assert_eq!(bytes, want, "{what}: {path}");
        }
    }
}

/// The names `cpio -it` lists, as absolute paths.
fn cpio_names(img: &Path) -> BTreeSet<String> {
    let out = Command::new("cpio")
        .args(["-it", "--quiet", "-F"])
        .arg(img)
        .output()
        .expect("cpio runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let l = l.trim_start_matches("./");
            if l == "." {
                "/".to_owned()
            } else {
                format!("/{l}")
            }
        })
        .collect()
}

#[test]
fn listing_matches_the_source_for_every_format_and_compressor() {
    if !tools() {
        return;
    }
    let tmp = TempDir::new("cpio-ls");
    make_source(&tmp.0);
    let (root, early) = (tmp.0.join("root"), tmp.0.join("early"));

    for (format, bare) in [("newc", false), ("crc", false), ("odc", true)] {
        let img = tmp.0.join(format!("{format}.cpio"));
        std::fs::write(&img, cpio(&root, format, bare)).expect("write");
        check_listing(&img, &root, !bare, format);
        check_contents(&img, &root, format);
        let listed: BTreeSet<String> = ls_json(&img).into_keys().collect();
        let mut names = cpio_names(&img);
        names.insert("/".into());
        assert_eq!(listed, names, "{format}: isodiff ls against cpio -it");
    }

    let early_cpio = cpio(&early, "newc", false);
    let main = cpio(&root, "newc", false);
    for (name, cmd) in COMPRESSORS {
        let packed = pipe(cmd, &main);
        // Alone, and after an uncompressed early archive.
        let alone = tmp.0.join(format!("main.{name}"));
        std::fs::write(&alone, &packed).expect("write");
        check_listing(&alone, &root, true, name);
        check_contents(&alone, &root, name);

        let mut initrd = early_cpio.clone();
        initrd.extend(&packed);
        let img = tmp.0.join(format!("initrd.{name}"));
        std::fs::write(&img, &initrd).expect("write");
        let what = format!("early + {name}");
        check_listing(&img, &root, true, &what);
        check_contents(&img, &root, &what);
        let listed = ls_json(&img);
        let ucode = &listed["/kernel/x86/microcode/GenuineIntel.bin"];
        assert_eq!(ucode["size"], 22, "{what}");

        let map = MappedFile::open(&img).expect("map");
        let fs = isodiff::open(map.bytes(), &Limits::default()).expect("opens");
        let fact = |n: &str| {
            fs.facts()
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.to_string())
        };
        assert_eq!(fact("segments").as_deref(), Some("2"), "{what}");
        assert_eq!(fact("segment.1.compression").as_deref(), Some("\"none\""));
        assert_eq!(fact("segment.2.compression"), Some(format!("{name:?}")));
        assert_eq!(fact("segment.2.formats").as_deref(), Some("\"newc\""));
    }
}

fn one(location: &str, kind: &str) -> BTreeSet<(String, String, String)> {
    [(location.to_owned(), kind.to_owned(), String::new())].into()
}

#[test]
fn pairs_differ_in_exactly_what_was_changed() {
    if !tools() {
        return;
    }
    let tmp = TempDir::new("cpio-diff");
    make_source(&tmp.0);
    let (root, early) = (tmp.0.join("root"), tmp.0.join("early"));
    let early_cpio = cpio(&early, "newc", false);
    let initrd = |name: &str, compressor: &[&str]| -> PathBuf {
        let mut bytes = early_cpio.clone();
        bytes.extend(pipe(compressor, &cpio(&root, "newc", false)));
        let p = tmp.0.join(name);
        std::fs::write(&p, bytes).expect("write");
        p
    };
    let zstd: &[&str] = &["zstd", "-q", "-19"];
    let a = initrd("a.img", zstd);
    let a2 = initrd("a2.img", zstd);
    let (code, r) = json_report(&a, &a2);
    assert_eq!(
        (code, r["identical"].as_bool()),
        (Some(0), Some(true)),
        "{r}"
    );

    // The compressor alone: facts of the image, no entry.
    let gz = initrd("gz.img", &["gzip", "-n", "-9"]);
    let (code, r) = json_report(&a, &gz);
    assert_eq!(code, Some(1));
    let f = found(&r);
    assert!(
        f.iter()
            .all(|(loc, kind, _)| loc.is_empty() && kind == "image"),
        "{r:#}"
    );
    assert!(f.contains(&(
        String::new(),
        "image".into(),
        "segment.2.compression".into()
    )));
    let legacy = initrd("legacy.img", &["lz4", "-l", "-q"]);
    let (_, r) = json_report(&gz, &legacy);
    assert!(found(&r).iter().all(|(loc, _, _)| loc.is_empty()), "{r:#}");

    // A member's mtime.
    sh(&format!(
        "touch -d '2024-06-03 00:00:00' '{}'",
        root.join("etc/shadow").display()
    ));
    let mtime = initrd("mtime.img", zstd);
    let (code, r) = json_report(&a, &mtime);
    assert_eq!(code, Some(1));
    assert_eq!(found(&r), one("/etc/shadow", "mtime"), "{r:#}");
    let d = &r["differences"][0];
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("2024-06-02T00:00:00Z"), Some("2024-06-03T00:00:00Z"))
    );

    // A member's mode.
    sh(&format!(
        "chmod 0640 '{}'",
        root.join("etc/shadow").display()
    ));
    let mode = initrd("mode.img", zstd);
    let (code, r) = json_report(&mtime, &mode);
    assert_eq!(code, Some(1));
    assert_eq!(found(&r), one("/etc/shadow", "mode"), "{r:#}");
    let d = &r["differences"][0];
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("0600"), Some("0640"))
    );

    // Inside ISO images, as /boot/initrd.img.
    if !on_path(&["xorriso"]) {
        return;
    }
    let mut isos = Vec::new();
    for (name, img) in [("a", &a), ("b", &mtime)] {
        let tree = tmp.0.join(format!("iso-{name}"));
        std::fs::create_dir_all(tree.join("boot")).expect("mkdir");
        std::fs::copy(img, tree.join("boot/initrd.img")).expect("copy");
        sh(&format!(
            "find '{}' -exec touch -h -d '2024-06-02 00:00:00' {{}} +",
            tree.display()
        ));
        let iso = tmp.0.join(format!("{name}.iso"));
        let status = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&tree)
            .env("SOURCE_DATE_EPOCH", "1717286400")
            .output()
            .expect("xorriso runs");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        isos.push(iso);
    }
    let out = isodiff(&["ls".as_ref(), "--json".as_ref(), isos[0].as_os_str()]);
    let listed = parse_lines(&out.stdout);
    assert_eq!(listed["/boot/initrd.img:/etc/shadow"]["mode"], "0600");
    assert_eq!(
        listed["/boot/initrd.img:/kernel/x86/microcode/GenuineIntel.bin"]["size"],
        22
    );
    let (code, r) = json_report(&isos[0], &isos[1]);
    assert_eq!(code, Some(1));
    assert_eq!(
        found(&r),
        one("/boot/initrd.img:/etc/shadow", "mtime"),
        "{r:#}"
    );
}
