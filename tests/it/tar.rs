//! tar archives read as file systems: `isodiff ls` states what GNU tar's own
//! listing states, for archives GNU tar and bsdtar write in each format; a
//! Debian package's data.tar.xz is compared entry by entry.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{differences, isodiff, json_report, n, on_path, record, TempDir};

fn run(cmd: &mut Command) {
    let ok = cmd.status().map(|s| s.success()).unwrap_or(false);
    assert!(ok, "{cmd:?} failed");
}

/// A tree with every kind of entry tar holds: a directory, files with an
/// owner and a mode of their own, a hard link, a symlink, a fifo, devices
/// (when run as root) and a path longer than the 100 bytes of a header's
/// name field. Every time is 1700000000.
fn tree(root: &Path) {
    let deep = root.join("d").join("a".repeat(60)).join("b".repeat(60));
    std::fs::create_dir_all(&deep).expect("mkdir");
    std::fs::write(root.join("d/f"), "data\n").expect("write");
    std::fs::write(deep.join("long"), "deep\n").expect("write");
    let sh = "chmod 640 d/f && chown 1234:56 d/f && ln d/f h && ln -s d/f s && mkfifo p && \
              { [ $(id -u) != 0 ] || { mknod c c 1 3 && mknod b b 7 0; }; } && \
              find . -exec touch -h -d @1700000000 {} +";
    run(Command::new("sh").args(["-c", sh]).current_dir(root));
}

/// `isodiff ls` of `image` as (path, line without the path).
fn ls(image: &Path) -> BTreeMap<String, String> {
    let out = isodiff(&["ls".as_ref(), image.as_os_str()]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (meta, path) = l.split_once(" /")?;
            let (path, target) = match path.split_once(" -> ") {
                Some((p, t)) => (p, format!(" -> {t}")),
                None => (path, String::new()),
            };
            let f: Vec<&str> = meta.split_whitespace().collect();
            Some((format!("/{path}"), format!("{}{target}", f.join(" "))))
        })
        .collect()
}

/// GNU tar's verbose listing of `archive` (UTC, numeric owners) in the
/// shape of [`ls`]: a hard link (`h`, size 0, `link to`) is stated as the
/// file it links to, which is how the tree holds it.
fn tar_tv(archive: &Path) -> BTreeMap<String, String> {
    let out = Command::new("tar")
        .args(["-tv", "--full-time", "--numeric-owner", "-f"])
        .arg(archive)
        .env("TZ", "UTC")
        .output()
        .expect("tar");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut rows = BTreeMap::new();
    let mut links = Vec::new();
    for l in text.lines() {
        let mut f: Vec<&str> = l.split_whitespace().collect();
        assert!(f.len() >= 6, "{l}");
        let rest = f.split_off(5).join(" ");
        let (mode, owner, size, day, time) = (f[0], f[1], f[2], f[3], f[4]);
        let norm = |p: &str| {
            let p = p.trim_start_matches("./").trim_end_matches('/');
            format!("/{p}").trim_end_matches('/').to_string()
        };
        let fields = |mode: &str, size: &str, target: &str| {
            format!("{mode} {owner} {size} {day}T{time}Z{target}")
        };
        if let Some((p, t)) = rest.split_once(" link to ") {
            links.push((norm(p), norm(t), mode.replacen('h', "-", 1)));
        } else if let Some((p, t)) = rest.split_once(" -> ") {
            rows.insert(norm(p), fields(mode, size, &format!(" -> {t}")));
        } else {
            let p = if rest.is_empty() {
                "/".into()
            } else {
                norm(&rest)
            };
            rows.insert(
                if p.is_empty() { "/".into() } else { p },
                fields(mode, size, ""),
            );
        }
    }
    for (p, t, _) in links {
        let row = rows.get(&t).cloned().unwrap_or_default();
        rows.insert(p, row);
    }
    rows
}

#[test]
fn ls_states_what_tar_lists_for_every_writer_and_format() {
    if !on_path(&["tar"]) {
        return;
    }
    let dir = TempDir::new("tar-ls");
    let root = dir.0.join("t");
    std::fs::create_dir_all(&root).expect("mkdir");
    tree(&root);
    let mut writers: Vec<(String, Vec<&str>)> = ["gnu", "posix", "ustar", "oldgnu"]
        .into_iter()
        .map(|f| (format!("gnu-{f}"), vec!["tar", "--format", f, "-cf"]))
        .collect();
    if on_path(&["bsdtar"]) {
        for f in ["pax", "ustar", "gnutar"] {
            writers.push((format!("bsd-{f}"), vec!["bsdtar", "--format", f, "-cf"]));
        }
    } else {
        eprintln!("bsdtar not found: only GNU tar's archives are read");
    }
    for (name, cmd) in writers {
        let archive = dir.0.join(format!("{name}.tar"));
        run(Command::new(cmd[0])
            .args(&cmd[1..])
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .arg("."));
        let ours = ls(&archive);
        let theirs = tar_tv(&archive);
        assert_eq!(ours, theirs, "{name}");
        assert!(ours.len() >= 9, "{name}: {ours:#?}");
        assert!(ours.keys().any(|p| p.len() > 120), "{name}: {ours:#?}");
    }
}

/// A package built with dpkg-deb whose one file says `x`.
fn deb(dir: &Path, name: &str, x: &str, mtime: &str) -> std::path::PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(d.join("DEBIAN")).expect("mkdir");
    std::fs::create_dir_all(d.join("usr/bin")).expect("mkdir");
    std::fs::write(
        d.join("DEBIAN/control"),
        "Package: x\nVersion: 1\nArchitecture: all\nMaintainer: x <x@x>\nDescription: x\n",
    )
    .expect("write");
    std::fs::write(d.join("usr/bin/x"), x).expect("write");
    std::fs::write(d.join("usr/bin/y"), "same\n").expect("write");
    run(Command::new("sh")
        .args(["-c", "find . -exec touch -h -d @1700000000 {} +"])
        .current_dir(&d));
    run(Command::new("touch")
        .args(["-d", mtime])
        .arg(d.join("usr/bin/y")));
    let out = dir.join(format!("{name}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&d)
        .arg(&out)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .stdout(std::process::Stdio::null()));
    out
}

#[test]
fn two_debs_differ_by_the_files_inside_their_data_tar() {
    if !on_path(&["dpkg-deb", "xz"]) {
        eprintln!("dpkg-deb not found: skipped");
        return;
    }
    let dir = TempDir::new("tar-deb");
    let a = deb(&dir.0, "a", "version one\n", "@1700000000");
    let b = deb(&dir.0, "b", "version two\n", "@1699999900");
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    // The xz streams' sizes differ too: a packing fact of the stream, not of
    // the archive.
    let mut found: Vec<(String, serde_json::Value)> = differences(&r)
        .iter()
        .filter(|d| {
            !(d["kind"] == "image" && d["field"].as_str().is_some_and(|f| f.starts_with("xz.")))
        })
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or("").to_string(),
                d["location"].clone(),
            )
        })
        .collect();
    found.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(
        found,
        vec![
            (
                "content".to_string(),
                serde_json::json!(["/data.tar.xz", "/usr/bin/x"])
            ),
            (
                "mtime".to_string(),
                serde_json::json!(["/data.tar.xz", "/usr/bin/y"])
            ),
        ],
        "{r:#}"
    );
    // The tar's own differing bytes (its header's mtime and checksum, the
    // file's data) are all explained by those differences.
    let acc = record(&r, &["/data.tar.xz"]);
    assert!(n(&acc["differing_bytes"]) > 0, "{acc:#}");
    assert_eq!(n(&acc["unattributed_bytes"]), 0, "{acc:#}");
    assert_eq!(acc["explained_bytes"], acc["differing_bytes"], "{acc:#}");
}
