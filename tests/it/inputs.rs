//! Inputs as people have them: images compressed whole (`nixos.iso.zst`), at the
//! top level and nested in other images; inputs that are no image at all (a
//! device, an empty file, an unreadable one, a stream that decompresses past
//! the limit), each refused with its own message and exit code 2.

use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{found, have, isodiff, json_report, ls_json, member, TempDir};

/// Compresses bytes whole.
type Pack = fn(&[u8]) -> Vec<u8>;

/// The compressors an image may come wrapped in, by the fact group they leave.
fn compressors() -> Vec<(&'static str, Pack)> {
    vec![
        ("gzip", gzip),
        ("xz", xz),
        ("zstd", |d| zstd::bulk::compress(d, 3).expect("zstd")),
        ("bzip2", bzip2),
    ]
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut s = liblzma::stream::Stream::new_easy_encoder(1, liblzma::stream::Check::Crc64)
        .expect("xz encoder");
    let mut out = Vec::with_capacity(data.len());
    s.process_vec(data, &mut out, liblzma::stream::Action::Finish)
        .expect("xz");
    out
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).expect("bzip2");
    e.finish().expect("bzip2")
}

/// Writes `pack(bytes of fixture)` to `dir/name`.
fn packed(dir: &Path, fixture: &str, name: &str, pack: Pack) -> PathBuf {
    let image = std::fs::read(common::fixture(fixture)).expect("fixture");
    let path = dir.join(name);
    std::fs::write(&path, pack(&image)).expect("write");
    path
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_compressed_image_compares_as_the_image_inside() {
    let dir = TempDir::new("inputs-compressed");
    let (a, b) = (
        common::fixture("nixos-like-a.iso"),
        common::fixture("nixos-like-b.iso"),
    );
    let (code, plain) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    let plain = found(&plain);
    for (name, pack) in compressors() {
        let za = packed(&dir.0, "nixos-like-a.iso", &format!("a.iso.{name}"), pack);
        // Compressed against plain: the same differences, and one line that says
        // from what the first was decompressed.
        let (code, report) = json_report(&za, &b);
        assert_eq!(code, Some(1), "{name}: {report:#}");
        assert!(report["problems"].as_array().is_some_and(|p| p.is_empty()));
        let mut expected = plain.clone();
        expected.insert((String::new(), "image".into(), name.into()));
        assert_eq!(found(&report), expected, "{name}");
        let group = report["differences"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["field"] == name).cloned())
            .unwrap_or_default();
        assert_eq!(group["a"], "present", "{name}: {group}");
        assert!(group["b"].is_null(), "{name}: {group}");
        // Both compressed alike: only the images' own differences (and the
        // streams' sizes, which differ with the content).
        let zb = packed(&dir.0, "nixos-like-b.iso", &format!("b.iso.{name}"), pack);
        let (code, report) = json_report(&za, &zb);
        assert_eq!(code, Some(1), "{name}");
        let extra: BTreeSet<_> = found(&report).difference(&plain).cloned().collect();
        let size = (
            String::new(),
            "image".into(),
            format!("{name}.compressed_size"),
        );
        assert!(
            extra.is_empty() || extra == BTreeSet::from([size]),
            "{name}: {extra:?}"
        );
        // And `ls` lists what is inside.
        assert_eq!(ls_json(&za), ls_json(&a), "{name}");
    }
}

#[test]
fn the_same_image_compressed_and_plain_differs_only_in_the_wrapper() {
    let dir = TempDir::new("inputs-wrapper");
    let a = common::fixture("rr-xorriso.iso");
    let za = packed(&dir.0, "rr-xorriso.iso", "a.iso.zst", |d| {
        zstd::bulk::compress(d, 3).expect("zstd")
    });
    let out = isodiff(&[za.as_os_str(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("image  zstd present -> (none)"), "{text}");
    assert!(text.ends_with("1 difference(s)\n"), "{text}");
}

/// The lines of a text report that say a difference or its detail: without
/// the header naming the inputs, the causes (they count the differences) and
/// the totals.
fn said(report: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(report);
    let mut lines = Vec::new();
    let mut causes = false;
    for l in text.lines() {
        if l.starts_with("causes:") {
            causes = true;
            continue;
        }
        if causes && l.starts_with(' ') {
            continue;
        }
        causes = false;
        let header = ["--- ", "+++ ", "no known cause", "by kind: "]
            .iter()
            .any(|p| l.starts_with(p))
            || l.ends_with(" difference(s)");
        if !header {
            lines.push(l.to_owned());
        }
    }
    lines
}

/// One side compressed with zstd, the other with xz: the plain pair's report,
/// line for line, and two lines that say from what each side was decompressed.
#[test]
fn a_pair_compressed_with_zstd_and_xz_reports_as_the_plain_pair() {
    let dir = TempDir::new("inputs-zstd-xz");
    let (a, b) = (
        common::fixture("nixos-like-a.iso"),
        common::fixture("nixos-like-b.iso"),
    );
    let za = packed(&dir.0, "nixos-like-a.iso", "a.iso.zst", |d| {
        zstd::bulk::compress(d, 3).expect("zstd")
    });
    let xb = packed(&dir.0, "nixos-like-b.iso", "b.iso.xz", xz);
    let plain = isodiff(&[a.as_os_str(), b.as_os_str()]);
    assert_eq!(plain.status.code(), Some(1));
    let packed = isodiff(&[za.as_os_str(), xb.as_os_str()]);
    assert_eq!(packed.status.code(), Some(1), "{}", stderr(&packed));
    let mut want = said(&plain.stdout);
    assert!(want.len() > 10, "{want:?}");
    // The wrappers' lines come first: image facts of the outermost image.
    want.splice(
        0..0,
        [
            "image  xz (none) -> present".to_owned(),
            "image  zstd present -> (none)".to_owned(),
        ],
    );
    assert_eq!(said(&packed.stdout), want);
    let text = String::from_utf8_lossy(&packed.stdout);
    assert!(
        text.contains("compressor or packing only: 2 differences"),
        "{text}"
    );
    // Each side says what it was decompressed from, even where both were
    // packed alike.
    assert!(
        text.starts_with(&format!(
            "--- {} (decompressed from zstd)\n+++ {} (decompressed from xz)\n",
            za.display(),
            xb.display()
        )),
        "{text}"
    );
    let same = isodiff(&[
        za.as_os_str(),
        za.as_os_str(),
        "--json".as_ref(),
        "-".as_ref(),
    ]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    let json: serde_json::Value = serde_json::from_slice(&same.stdout).expect("JSON");
    assert_eq!(json["a"]["decompressed_from"], "zstd", "{json:#}");
    assert_eq!(json["b"]["decompressed_from"], "zstd", "{json:#}");
}

/// Bytes after the stream are said, not dropped.
#[test]
fn bytes_after_the_stream_are_a_fact() {
    let dir = TempDir::new("inputs-trailing");
    let image = std::fs::read(common::fixture("rr-xorriso.iso")).expect("fixture");
    let a = dir.0.join("a.iso.gz");
    std::fs::write(&a, gzip(&image)).expect("write");
    let b = dir.0.join("b.iso.gz");
    let mut padded = gzip(&image);
    padded.extend([0u8; 4096]);
    std::fs::write(&b, padded).expect("write");
    let (code, report) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{report:#}");
    let found = found(&report);
    assert_eq!(
        found,
        BTreeSet::from([(String::new(), "image".into(), "gzip.trailing_bytes".into())]),
        "{report:#}"
    );
}

fn sh(script: &str) {
    let out = Command::new("sh")
        .args(["-ec", script])
        .output()
        .expect("sh runs");
    assert!(out.status.success(), "{script}\n{}", stderr(&out));
}

/// `xorriso` of the tree at `tree`.
fn make_iso(tree: &Path, out: &Path) {
    let status = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(out)
        .arg(tree)
        .env("SOURCE_DATE_EPOCH", "1717286400")
        .status()
        .expect("xorriso runs");
    assert!(status.success());
}

#[test]
fn compressed_images_nested_in_images_are_opened_at_every_level() {
    if !have("xorriso", &["-version"]) || !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("inputs-nested");
    let d = &dir.0;
    // Outer ISOs holding the bundled pair's images compressed with xz: ISO in xz
    // in ISO, and in that a squashfs. Then the same inside squashfs images, whose
    // files are not one slice of the outer image but blocks to gather.
    for (side, fixture) in [("a", "nixos-like-a.iso"), ("b", "nixos-like-b.iso")] {
        let tree = d.join(format!("tree-{side}"));
        std::fs::create_dir_all(&tree).expect("mkdir");
        let inner = packed(&tree, fixture, "inner.iso.xz", xz);
        // Only the inside may differ.
        sh(&format!(
            "touch -d '2024-06-02 00:00:00' '{}'",
            inner.display()
        ));
        make_iso(&tree, &d.join(format!("{side}.iso")));
        sh(&format!(
            "mksquashfs '{t}' '{d}/{side}.sqfs' -quiet -noappend -comp gzip -mkfs-time 0 -all-time 0 >/dev/null",
            t = tree.display(),
            d = d.display()
        ));
    }
    let (code, plain) = json_report(
        &common::fixture("nixos-like-a.iso"),
        &common::fixture("nixos-like-b.iso"),
    );
    assert_eq!(code, Some(1));
    // Every difference of the bundled pair, one level down.
    let expected: BTreeSet<_> = found(&plain)
        .into_iter()
        .map(|(location, kind, field)| {
            let location = if location.is_empty() {
                "/inner.iso.xz".to_owned()
            } else {
                format!("/inner.iso.xz:{location}")
            };
            (location, kind, field)
        })
        .collect();
    for outer in ["iso", "sqfs"] {
        let (a, b) = (d.join(format!("a.{outer}")), d.join(format!("b.{outer}")));
        let (code, report) = json_report(&a, &b);
        assert_eq!(code, Some(1), "{outer}: {report:#}");
        assert!(
            report["problems"].as_array().is_some_and(|p| p.is_empty()),
            "{outer}: {report:#}"
        );
        let got: BTreeSet<_> = found(&report)
            .into_iter()
            .filter(|(location, _, _)| location.starts_with("/inner.iso.xz"))
            .collect();
        // The outer pair's own byte accounting and the stream sizes aside.
        let size = (
            "/inner.iso.xz".to_owned(),
            "image".into(),
            "xz.compressed_size".into(),
        );
        let got: BTreeSet<_> = got.into_iter().filter(|d| *d != size).collect();
        assert_eq!(got, expected, "{outer}");
        let listed = ls_json(&a);
        assert!(
            listed.contains_key("/inner.iso.xz:/nix-store.squashfs:/"),
            "{outer}: {:?}",
            listed.keys().collect::<Vec<_>>()
        );
    }
}

/// A compressed cpio archive (an initrd) still opens as cpio, its segments
/// visible, not as a compressed stream holding a cpio.
#[test]
fn a_compressed_cpio_is_still_a_cpio_with_its_segments() {
    let mut archive = member("hello", 0o100644, b"hi\n");
    archive.extend(member("TRAILER!!!", 0, b""));
    for (name, pack) in compressors() {
        let bytes = pack(&archive);
        let fs = isodiff::open(&bytes, &isodiff::Limits::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(fs.format(), isodiff::Format::Cpio, "{name}");
        let facts: Vec<String> = fs
            .facts()
            .iter()
            .map(|f| format!("{} = {}", f.name, f.value))
            .collect();
        assert!(
            facts.contains(&format!("segment.1.compression = {name:?}")),
            "{name}: {facts:?}"
        );
        assert!(
            !facts.iter().any(|f| f.contains("compressed_size")),
            "{name}: {facts:?}"
        );
    }
}

/// Runs `isodiff A B` and `isodiff ls A`; both must exit 2 saying `says`, and
/// print no report.
fn refused(a: &Path, extra: &[&str], says: &[&str]) {
    let b = common::fixture("rr-xorriso.iso");
    let mut compare: Vec<&std::ffi::OsStr> = extra.iter().map(|s| s.as_ref()).collect();
    compare.extend([a.as_os_str(), b.as_os_str()]);
    let mut ls: Vec<&std::ffi::OsStr> = vec!["ls".as_ref()];
    ls.extend(extra.iter().map(std::ffi::OsStr::new));
    ls.push(a.as_os_str());
    for args in [compare, ls] {
        let out = isodiff(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        for s in says {
            assert!(err.contains(s), "{args:?}: {s:?} not in {err}");
        }
        // One message, not a cascade.
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_device_is_no_image() {
    // A directory is an input now (tests/trees.rs); a device node is not.
    let null = Path::new("/dev/null");
    if !null.exists() {
        return;
    }
    refused(
        null,
        &[],
        &["/dev/null is a character device; isodiff compares image files and directories"],
    );
}

/// A directory is a side of its own (tests/trees.rs), but no image to look
/// into with `:/`: said so, not "no such file".
#[test]
fn a_directory_is_no_image_to_look_into() {
    let dir = TempDir::new("inputs-dir-address");
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(&tree).expect("mkdir");
    let said = format!("{} is a directory, not an image file", tree.display());
    refused(
        &dir.0.join("tree:/boot"),
        &[],
        &[&said, "IMAGE:/PATH looks inside images only"],
    );
}

#[test]
fn an_empty_file_is_no_image() {
    let dir = TempDir::new("inputs-empty");
    let empty = dir.0.join("empty.iso");
    std::fs::write(&empty, b"").expect("write");
    let said = format!("{} is empty (0 bytes)", empty.display());
    refused(&empty, &[], &[&said]);
}

#[test]
fn a_stream_past_the_limit_names_the_limit_and_the_flag() {
    let dir = TempDir::new("inputs-limit");
    let a = packed(&dir.0, "rr-xorriso.iso", "a.iso.zst", |d| {
        zstd::bulk::compress(d, 3).expect("zstd")
    });
    refused(
        &a,
        &["--max-decompressed", "64K"],
        &[
            "a.iso.zst",
            "decompressed bytes of one image",
            "allowed 65536",
            "raise it with --max-decompressed",
        ],
    );
    // Raised, it opens.
    let out = isodiff(&[
        "--max-decompressed".as_ref(),
        "1M".as_ref(),
        a.as_os_str(),
        common::fixture("rr-xorriso.iso").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn an_unreadable_file_says_so() {
    let dir = TempDir::new("inputs-unreadable");
    let secret = dir.0.join("secret.iso");
    std::fs::copy(common::fixture("rr-xorriso.iso"), &secret).expect("copy");
    sh(&format!("chmod 000 '{}'", secret.display()));
    // root reads a file of mode 000: run as nobody then (the temp dir and the
    // build tree are readable by everyone).
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let b = common::fixture("rr-xorriso.iso");
    let bin = env!("CARGO_BIN_EXE_isodiff");
    for args in [
        vec![secret.as_os_str(), b.as_os_str()],
        vec!["ls".as_ref(), secret.as_os_str()],
    ] {
        let out = if root {
            if !have("setpriv", &["--version"]) {
                return;
            }
            Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin])
                .args(&args)
                .output()
                .expect("setpriv runs")
        } else {
            isodiff(&args)
        };
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(out.stdout.is_empty());
        assert!(
            err.contains(&format!("cannot read {}", secret.display()))
                && err.contains("Permission denied"),
            "{err}"
        );
    }
}

/// `isodiff --json - A B` where the report must come out despite trouble: exit
/// 2, the report, its problems as (location, message).
fn troubled(a: &Path, b: &Path) -> (serde_json::Value, Vec<(String, String)>) {
    let (code, report) = json_report(a, b);
    assert_eq!(code, Some(2), "{report:#}");
    let problems = report["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let location: Vec<&str> = p["location"]
                .as_array()
                .map(|l| l.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            (
                location.join(":"),
                p["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (report, problems)
}

fn has(problems: &[(String, String)], location: &str, says: &str) -> bool {
    problems
        .iter()
        .any(|(l, m)| l == location && m.contains(says))
}

/// `isodiff ls IMAGE`: exit 2, the listing's locations, and stderr.
fn ls_troubled(image: &Path) -> (BTreeSet<String>, String) {
    let out = isodiff(&["ls".as_ref(), "--json".as_ref(), image.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    (
        common::parse_lines(&out.stdout).into_keys().collect(),
        stderr(&out),
    )
}

#[test]
fn a_truncated_iso_reports_everything_readable() {
    let dir = TempDir::new("inputs-truncated-iso");
    let a = common::fixture("nixos-like-a.iso");
    let image = std::fs::read(&a).expect("fixture");
    let cut = |name: &str, len: usize| {
        let p = dir.0.join(name);
        std::fs::write(&p, &image[..len]).expect("write");
        p
    };
    // Cut inside the nested squashfs: that one file's content is gone, every
    // other entry is still there and compared.
    let squashfs = common::find(&image, b"hsqs");
    let mid = cut("mid.iso", squashfs + 4096);
    let (report, problems) = troubled(&a, &mid);
    assert!(
        has(&problems, "/", "volume (its volume space size)"),
        "{problems:?}"
    );
    assert!(
        has(
            &problems,
            "/nix-store.squashfs",
            "content unreadable: file extent"
        ),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        report["differences"].as_array().is_some_and(|d| d
            .iter()
            .all(|d| d["kind"] != "added" && d["kind"] != "removed")),
        "{report:#}"
    );
    let (listed, err) = ls_troubled(&mid);
    for entry in ["/", "/boot/bzImage", "/boot/efi.img", "/nix-store.squashfs"] {
        assert!(listed.contains(entry), "{entry}: {listed:?}");
    }
    assert!(
        err.contains("/nix-store.squashfs: file extent at byte"),
        "{err}"
    );
    // Cut at 60%: only xorriso's padding is lost.
    let most = cut("most.iso", image.len() * 6 / 10);
    let (report, problems) = troubled(&a, &most);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(has(&problems, "/", "(truncated?)"), "{problems:?}");
    assert!(
        report["differences"]
            .as_array()
            .is_some_and(|d| d.is_empty()),
        "{report:#}"
    );
    // Cut just past the descriptors: those are compared, the root is not there.
    let head = cut("head.iso", 40 << 10);
    let (report, problems) = troubled(&head, &a);
    assert!(
        has(&problems, "/", "root directory at byte"),
        "{problems:?}"
    );
    assert!(
        found(&report).contains(&("/nix-store.squashfs".into(), "added".into(), String::new())),
        "{report:#}"
    );
    let (listed, _) = ls_troubled(&head);
    assert_eq!(listed, BTreeSet::from(["/".to_owned()]));
}

/// The squashfs image inside the bundled ISO, whole.
fn bundled_squashfs() -> Vec<u8> {
    let image = std::fs::read(common::fixture("nixos-like-a.iso")).expect("fixture");
    let start = common::find(&image, b"hsqs");
    let sb = &image[start..start + 96];
    let used = u64::from_le_bytes(sb[40..48].try_into().expect("8 bytes")) as usize;
    image[start..start + used].to_vec()
}

#[test]
fn a_truncated_squashfs_reports_everything_readable() {
    let dir = TempDir::new("inputs-truncated-squashfs");
    let whole = bundled_squashfs();
    let full = dir.0.join("full.sqfs");
    std::fs::write(&full, &whole).expect("write");
    // Its last table, the id table, cut: every entry is still read, owners
    // unknown.
    let short = dir.0.join("short.sqfs");
    std::fs::write(&short, &whole[..whole.len() - 4]).expect("write");
    let (report, problems) = troubled(&short, &full);
    assert!(
        has(&problems, "/", "id table index at byte"),
        "{problems:?}"
    );
    assert!(has(&problems, "/", "superblock bytes_used"), "{problems:?}");
    let kinds: BTreeSet<String> = common::differences(&report)
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["uid".into(), "gid".into()]),
        "{report:#}"
    );
    let (listed, _) = ls_troubled(&short);
    assert_eq!(listed, ls_json(&full).into_keys().collect());
    // Cut in its data: the tables are gone, the superblock is still compared.
    let half = dir.0.join("half.sqfs");
    std::fs::write(&half, &whole[..whole.len() / 2]).expect("write");
    let (_, problems) = troubled(&half, &full);
    assert!(has(&problems, "/", "(truncated?)"), "{problems:?}");
    ls_troubled(&half);
}

#[test]
fn a_compressed_stream_cut_short_opens_what_came_out() {
    let dir = TempDir::new("inputs-truncated-stream");
    let a = common::fixture("nixos-like-a.iso");
    let image = std::fs::read(&a).expect("fixture");
    let packed = zstd::bulk::compress(&image, 3).expect("zstd");
    let cut = dir.0.join("cut.iso.zst");
    std::fs::write(&cut, &packed[..packed.len() * 6 / 10]).expect("write");
    let (_, problems) = troubled(&cut, &a);
    assert!(has(&problems, "/", "zstd frame"), "{problems:?}");
    let (listed, _) = ls_troubled(&cut);
    assert!(listed.contains("/boot/bzImage"), "{listed:?}");
}

/// NetBSD makefs writes the primary descriptor's root directory record length
/// as 68 (ECMA-119 has 34): read, and said as a fact, not refused.
#[test]
fn a_root_record_of_68_bytes_is_read_and_said() {
    let dir = TempDir::new("inputs-makefs-root");
    let original = common::fixture("rr-xorriso.iso");
    let mut image = std::fs::read(&original).expect("fixture");
    // The PVD is sector 16; its root directory record is at byte 156 of it.
    let at = 16 * 2048 + 156;
    assert_eq!(image[at], 34, "xorriso writes 34");
    image[at] = 68;
    let makefs = dir.0.join("makefs-like.iso");
    std::fs::write(&makefs, &image).expect("write");
    // Every entry as in the original, and no problem: exit 0.
    assert_eq!(ls_json(&makefs), ls_json(&original));
    // Against the original: that byte, said as a fact, explained.
    let (code, report) = json_report(&original, &makefs);
    assert_eq!(code, Some(1), "{report:#}");
    let d = common::differences(&report);
    assert_eq!(d.len(), 1, "{report:#}");
    assert_eq!(d[0]["field"], "pvd.root.record_length");
    assert!(d[0]["a"].is_null() && d[0]["b"] == 68, "{report:#}");
    let rec = common::record(&report, &[]);
    assert_eq!(
        (
            common::n(&rec["differing_bytes"]),
            common::n(&rec["explained_bytes"])
        ),
        (1, 1),
        "{rec}"
    );
    // Two such images: identical, no warning to trip a script.
    let (code, report) = json_report(&makefs, &makefs);
    assert_eq!(code, Some(0), "{report:#}");
}

/// An error of a comparison says which input it is in and the nested images
/// around it: the library user's `match` needs both, and the message names
/// them in the `IMAGE:/path` form the user typed.
#[test]
fn an_error_names_its_side_and_the_images_around_it() {
    let dir = TempDir::new("error-chain");
    let mut good = member("hello", 0o100644, b"hi\n");
    good.extend(member("TRAILER!!!", 0, b""));
    // A squashfs magic and nothing a superblock can hold after it.
    let mut damaged = member(
        "x.squashfs",
        0o100644,
        &[b"hsqs".as_slice(), &[0; 200]].concat(),
    );
    damaged.extend(member("TRAILER!!!", 0, b""));
    let (a, b) = (dir.0.join("a.cpio"), dir.0.join("b.cpio"));
    std::fs::write(&a, &good).expect("write a");
    std::fs::write(&b, &damaged).expect("write b");
    let options = isodiff::Options::default();

    let inside = PathBuf::from(format!("{}:/x.squashfs", b.display()));
    let Err(e) = isodiff::diff_files(&a, &inside, &options) else {
        panic!("a damaged squashfs opened");
    };
    assert_eq!(e.side(), Some(isodiff::Which::B), "{e}");
    assert_eq!(e.images(), ["/x.squashfs"], "{e}");
    assert!(
        matches!(e.cause(), isodiff::Error::Malformed { .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}:/x.squashfs: ", b.display())),
        "{text}"
    );

    // The same input first: the other side, and an error of the file itself.
    let Err(e) = isodiff::diff_files(&inside, &a, &options) else {
        panic!("a damaged squashfs opened");
    };
    assert_eq!(e.side(), Some(isodiff::Which::A), "{e}");
    let missing = dir.0.join("missing.iso");
    let Err(e) = isodiff::diff_files(&a, &missing, &options) else {
        panic!("a missing file opened");
    };
    assert_eq!(
        (e.side(), e.images().len()),
        (Some(isodiff::Which::B), 0),
        "{e}"
    );
    assert!(matches!(e.cause(), isodiff::Error::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with("cannot read "), "{e}");

    // Bytes compared have no file: the side still says which.
    let Err(e) = isodiff::diff_bytes(&good, b"no image", &options) else {
        panic!("text opened as an image");
    };
    assert_eq!(e.side(), Some(isodiff::Which::B), "{e}");
}
