//! `isodiff ls --json` against independent readers of the same images: pycdlib
//! (every field, through `testdata/reference-ls.py`) and xorriso (`-exec lsdl`), on
//! the committed fixtures and on images made here by grub-mkrescue, xorriso and
//! genisoimage. A reader that is not installed skips its part with a note, unless
//! `ISODIFF_REQUIRE_TOOLS` is set (as in CI).
//!
//! The python that runs pycdlib is `ISODIFF_PYTHON` when set (for a pycdlib from
//! PyPI in a virtual environment: `ISODIFF_PYTHON=/path/to/venv/bin/python`),
//! else the first of Debian's `/usr/bin/python3` and `python3` on PATH that can
//! import pycdlib. Any pycdlib 1.x is accepted (checked with Debian's 1.12 and
//! PyPI's 1.22): a field the installed version cannot give is named by the script
//! (`unread`), left out of the comparison of that entry, and noted on stderr; the
//! location and type of every entry are always compared.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, have, ls_json, parse_lines, TempDir};

type Listing = BTreeMap<String, serde_json::Value>;

fn imports_pycdlib(py: &str) -> bool {
    Command::new(py)
        .args(["-c", "import pycdlib"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The python to run pycdlib with: `ISODIFF_PYTHON`, else Debian's python (where
/// python3-pycdlib is installed), else `python3` on PATH.
fn python_with_pycdlib() -> Option<String> {
    if let Some(py) = std::env::var_os("ISODIFF_PYTHON") {
        let py = py.to_string_lossy().into_owned();
        assert!(
            imports_pycdlib(&py),
            "ISODIFF_PYTHON={py} cannot import pycdlib"
        );
        return Some(py);
    }
    ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|py| imports_pycdlib(py))
        .map(str::to_owned)
        .or_else(|| {
            have("pycdlib", &[]);
            None
        })
}

/// The version of pycdlib `py` imports, for the notes.
fn pycdlib_version(py: &str) -> String {
    Command::new(py)
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('pycdlib'))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "of unknown version".to_owned())
}

fn pycdlib_listing(py: &str, image: &Path) -> Listing {
    let out = Command::new(py)
        .arg(fixture("reference-ls.py"))
        .arg(image)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "pycdlib could not read {}: {}",
        image.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_lines(&out.stdout)
}

/// Takes the fields pycdlib could not read out of its listing (the script names
/// them under `unread`), removes the same fields from ours, and prints one note
/// per field and reason, with the number of entries: those fields are skipped,
/// never silently. Location and type are never skipped.
fn skip_unread(image: &Path, version: &str, theirs: &mut Listing, ours: &mut Listing) {
    let mut skipped: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (path, t) in theirs.iter_mut() {
        let Some(unread) = t.as_object_mut().and_then(|o| o.remove("unread")) else {
            continue;
        };
        let unread = unread.as_object().expect("unread is an object of reasons");
        for (key, reason) in unread {
            assert!(
                !matches!(key.as_str(), "location" | "type"),
                "{}: pycdlib {version} could not read the {key} of {path}",
                image.display()
            );
            if let Some(o) = ours.get_mut(path).and_then(|v| v.as_object_mut()) {
                o.remove(key);
            }
            let reason = reason.as_str().unwrap_or_default().to_owned();
            *skipped.entry((key.clone(), reason)).or_default() += 1;
        }
    }
    for ((key, reason), count) in skipped {
        eprintln!(
            "note: pycdlib {version} cannot read {key} ({reason}): {key} of {count} \
             entries of {} not compared with pycdlib",
            image.display()
        );
    }
}

fn assert_same(image: &Path, reader: &str, theirs: &Listing, ours: &Listing) {
    let mut problems = Vec::new();
    for (path, t) in theirs {
        match ours.get(path) {
            None => problems.push(format!("{path}: listed by {reader}, not by isodiff")),
            Some(o) if o != t => problems.push(format!("{path}:\n  {reader}: {t}\n  isodiff: {o}")),
            Some(_) => {}
        }
    }
    for path in ours.keys().filter(|p| !theirs.contains_key(*p)) {
        problems.push(format!("{path}: listed by isodiff, not by {reader}"));
    }
    assert!(
        problems.is_empty(),
        "{}: isodiff and {reader} disagree:\n{}",
        image.display(),
        problems.join("\n")
    );
}

/// What `xorriso -exec lsdl` shows, in the same shape: `type`, `mode`, `uid`,
/// `gid`, `size` (files), `rdev` (devices) and `target`. Its link counts and its
/// minute-precision dates are not comparable and left out.
fn xorriso_listing(image: &Path) -> Listing {
    let out = Command::new("xorriso")
        .args(["-abort_on", "FATAL", "-indev"])
        .arg(image)
        .args(["-find", "/", "-exec", "lsdl"])
        .output()
        .expect("xorriso runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = Listing::new();
    for line in text.lines().filter(|l| l.ends_with('\'')) {
        let (head, quoted) = line.split_once(" '").expect("lsdl line has a quoted path");
        let (path, target) = match quoted.split_once("' -> '") {
            Some((p, t)) => (p, Some(t.trim_end_matches('\''))),
            None => (quoted.trim_end_matches('\''), None),
        };
        let cols: Vec<&str> = head.split_whitespace().collect();
        let perm = cols[0];
        let kind = match perm.as_bytes()[0] {
            // xorriso marks the El Torito boot catalog 'e'; on the medium it is a file.
            b'-' | b'e' => "file",
            b'd' => "dir",
            b'l' => "symlink",
            b'c' => "char",
            b'b' => "block",
            b'p' => "fifo",
            b's' => "socket",
            other => panic!("unknown type letter {other} in {line}"),
        };
        let mut v = serde_json::json!({
            "type": kind,
            "mode": mode_bits(perm),
            "uid": cols[2].parse::<u64>().expect("numeric uid"),
            "gid": cols[3].parse::<u64>().expect("numeric gid"),
        });
        match kind {
            "file" => v["size"] = cols[4].parse::<u64>().expect("size").into(),
            "char" | "block" => {
                let (major, minor) = cols[4].split_once(',').expect("major,minor");
                v["rdev"] = serde_json::json!([
                    major.parse::<u64>().expect("major"),
                    minor.parse::<u64>().expect("minor")
                ]);
            }
            _ => {}
        }
        if let Some(t) = target {
            v["target"] = t.into();
        }
        map.insert(path.to_owned(), v);
    }
    assert!(
        !map.is_empty(),
        "xorriso listed nothing for {}: {}",
        image.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    map
}

/// `-rwsr-xr-x` -> `"4755"`.
fn mode_bits(perm: &str) -> String {
    let b = perm.as_bytes();
    let mut mode = 0u32;
    for (i, &c) in b[1..10].iter().enumerate() {
        let bit = 1 << (8 - i);
        match c {
            b'r' | b'w' | b'x' => mode |= bit,
            b's' | b't' => mode |= bit | special(i),
            b'S' | b'T' => mode |= special(i),
            _ => {}
        }
    }
    format!("{mode:04o}")
}

fn special(column: usize) -> u32 {
    match column {
        2 => 0o4000,
        5 => 0o2000,
        _ => 0o1000,
    }
}

/// Who wrote an image: the writers encode `PN` differently.
#[derive(Clone, Copy, PartialEq)]
enum Writer {
    Libisofs,
    Genisoimage,
}

/// Our listing reduced to the fields xorriso shows.
///
/// genisoimage puts major and minor in the two `PN` words, which we (like the
/// Linux kernel and pycdlib) read as such; libisofs joins the words into one
/// 64-bit `dev_t` and splits it the glibc way, so for those images xorriso shows
/// exactly that transformation of the true numbers.
fn comparable_with_xorriso(ours: &Listing, writer: Writer) -> Listing {
    ours.iter()
        .map(|(k, v)| {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                for gone in ["location", "mtime", "nlink"] {
                    o.remove(gone);
                }
                if let (Writer::Genisoimage, Some(rdev)) = (writer, o.get_mut("rdev")) {
                    let word = |i: usize| rdev[i].as_u64().expect("rdev numbers");
                    let dev = word(0) << 32 | word(1);
                    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
                    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
                    *rdev = serde_json::json!([major, minor]);
                }
            }
            (k.clone(), v)
        })
        .collect()
}

fn check_image(image: &Path, writer: Writer) {
    // pycdlib and xorriso read the ISO alone: leave out the entries of images
    // nested in it (the FAT efi.img of grub-mkrescue), which tests/fat.rs checks.
    let ours: Listing = ls_json(image)
        .into_iter()
        .filter(|(_, v)| v["location"].as_array().is_some_and(|l| l.len() == 1))
        .collect();
    if let Some(py) = python_with_pycdlib() {
        let version = pycdlib_version(&py);
        let mut theirs = pycdlib_listing(&py, image);
        let mut ours = ours.clone();
        skip_unread(image, &version, &mut theirs, &mut ours);
        assert_same(image, &format!("pycdlib {version}"), &theirs, &ours);
    }
    if have("xorriso", &["-version"]) {
        assert_same(
            image,
            "xorriso",
            &xorriso_listing(image),
            &comparable_with_xorriso(&ours, writer),
        );
    }
}

#[test]
fn committed_fixtures_agree_with_pycdlib_and_xorriso() {
    check_image(&fixture("rr-xorriso.iso"), Writer::Libisofs);
    check_image(&fixture("rr-genisoimage.iso"), Writer::Genisoimage);
    check_image(&fixture("eltorito.iso"), Writer::Libisofs);
}

/// A small tree with what installer images hold: setuid files, owners, links,
/// devices, deep directories, long names.
fn make_tree(root: &Path) {
    let sh = format!(
        r#"set -e
cd '{root}'
mkdir -p boot/grub etc/ssl/certs deep/1/2/3/4/5/6/7/8/9 sbin
printf 'set timeout=5\n' > boot/grub/grub.cfg
printf 'x\n' > deep/1/2/3/4/5/6/7/8/9/file
printf '#!/bin/sh\n' > sbin/init && chmod 4750 sbin/init && chown 0:27 sbin/init
ln -s ../usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt etc/ssl/certs/ISRG_Root_X1.pem
ln -s /nix/store/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users etc/lingering-users
printf 'netgroup\n' > etc/netgroup && chmod 0444 etc/netgroup && touch -d '1980-01-01 00:00:01' etc/netgroup
printf 'mdadm\n' > etc/mdadm.conf && touch -d '1970-01-01 00:00:01' etc/mdadm.conf
mknod dev-console c 5 1
touch "$(printf 'n%.0s' $(seq 1 240))"
"#,
        root = root.display()
    );
    let ok = Command::new("sh")
        .args(["-c", &sh])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "building the test tree failed (needs root for mknod and chown)"
    );
}

fn run(cmd: &mut Command) -> bool {
    let out = cmd.output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("{cmd:?} did not run: {e}"),
    }
}

#[test]
fn images_made_here_agree_with_pycdlib_and_xorriso() {
    let dir = TempDir::new("parity");
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree dir");
    make_tree(&tree);
    let mut images: Vec<(PathBuf, Writer)> = Vec::new();
    if have("xorriso", &["-version"]) {
        for (name, opts) in [
            ("xorriso-r.iso", &["-r", "-J"][..]),
            ("xorriso-level3.iso", &["-R", "-iso-level", "3"][..]),
        ] {
            let out = dir.0.join(name);
            run(Command::new("xorriso")
                .args(["-as", "mkisofs", "-quiet"])
                .args(opts)
                .arg("-o")
                .arg(&out)
                .arg(&tree));
            images.push((out, Writer::Libisofs));
        }
    }
    if have("genisoimage", &["-version"]) {
        let out = dir.0.join("genisoimage-r.iso");
        run(Command::new("genisoimage")
            .args(["-quiet", "-r", "-J", "-o"])
            .arg(&out)
            .arg(&tree));
        images.push((out, Writer::Genisoimage));
    }
    if have("grub-mkrescue", &["--version"]) {
        let out = dir.0.join("grub.iso");
        // Only the platforms installed here; grub-mkrescue finds them itself.
        run(Command::new("grub-mkrescue").arg("-o").arg(&out).arg(&tree));
        images.push((out, Writer::Libisofs));
    }
    for (image, writer) in &images {
        check_image(image, *writer);
    }
}
