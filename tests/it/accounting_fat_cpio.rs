//! Byte accounting of FAT images and cpio archives (plain, gzip-compressed,
//! and nested in an ISO), on images made here by the real tools (mkfs.vfat and
//! mtools, GNU cpio, gzip, xorriso) and by patching single bytes of them: every
//! differing byte is explained by the entry-level difference it encodes, or
//! named by the structure that holds it.
//!
//! Without the tools the tests print a note and pass, unless
//! `ISODIFF_REQUIRE_TOOLS` is set.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{differences, find, json_report, n, of_kind, on_path, record, TempDir};
use serde_json::Value as Json;

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

fn touch(path: &Path, time: &str) {
    run(Command::new("touch").args(["-h", "-d", time]).arg(path));
}

fn write(path: &Path, bytes: &[u8], time: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, bytes).expect("write");
    touch(path, time);
}

/// A copy of `src` named `name` with `patch` applied.
fn patched(src: &Path, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(src).expect("read");
    patch(&mut bytes);
    let out = src.with_file_name(name);
    std::fs::write(&out, bytes).expect("write");
    out
}

/// Asserts that every differing byte of the record was explained.
fn all_explained(rec: &Json) {
    assert!(n(&rec["differing_bytes"]) > 0, "{rec}");
    assert_eq!(rec["explained_bytes"], rec["differing_bytes"], "{rec}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec}");
}

/// The one `bytes` difference of a report.
fn one_bytes(r: &Json) -> Json {
    let bytes = of_kind(r, "bytes");
    assert_eq!(bytes.len(), 1, "{r:#}");
    bytes[0].clone()
}

const MOTD: &[u8] = b"fat-marker: hello from the EFI partition\n";

/// A FAT12 image of 2 MiB (volume id 12345678) holding a boot loader, a text
/// file whose mtime is `motd_time`, and a file with a long name; made with
/// mkfs.vfat and `mcopy -m`.
fn make_fat(dir: &Path, out: &Path, motd_time: &str) {
    let src = dir.join("fat-src");
    let _ = std::fs::remove_dir_all(&src);
    let loader: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&src.join("BOOTX64.EFI"), &loader, "2024-06-02 12:00:00");
    write(&src.join("motd.txt"), MOTD, motd_time);
    write(
        &src.join("A Long Name.txt"),
        b"long name\n",
        "2024-06-02 12:00:02",
    );
    let _ = std::fs::remove_file(out);
    run(Command::new("mkfs.vfat")
        .args(["--invariant", "-C", "-n", "EFIBOOT", "-i", "12345678"])
        .arg(out)
        .arg("2048"));
    for d in ["::/EFI", "::/EFI/BOOT"] {
        run(Command::new("mmd").arg("-i").arg(out).arg(d));
    }
    for (file, target) in [
        ("BOOTX64.EFI", "::/EFI/BOOT/BOOTX64.EFI"),
        ("motd.txt", "::/EFI/motd.txt"),
        ("A Long Name.txt", "::/A Long Name.txt"),
    ] {
        run(Command::new("mcopy")
            .args(["-m", "-i"])
            .arg(out)
            .arg(src.join(file))
            .arg(target));
    }
}

fn fat_tools() -> bool {
    on_path(&["mkfs.vfat", "mmd", "mcopy"])
}

#[test]
fn fat_bytes_are_explained_or_named() {
    if !fat_tools() {
        return;
    }
    let dir = TempDir::new("acct-fat");
    let (a, b) = (dir.0.join("a.img"), dir.0.join("b.img"));
    make_fat(&dir.0, &a, "2024-06-02 12:00:00");
    make_fat(&dir.0, &b, "2024-06-03 08:30:00");

    // Another mtime (and, from mcopy -m, access date and creation time): the
    // directory entry's bytes are those differences, nothing is said twice.
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    assert!(of_kind(&r, "bytes").is_empty(), "{r:#}");
    let mtimes = of_kind(&r, "mtime");
    assert_eq!(mtimes.len(), 1, "{r:#}");
    assert_eq!(mtimes[0]["location"], serde_json::json!(["/EFI/motd.txt"]));
    all_explained(&record(&r, &[]));

    // One byte of the file's data cluster: its content, explained.
    let data = patched(&a, "data.img", |bytes| {
        let at = find(bytes, MOTD) + 5;
        bytes[at] ^= 0x20;
    });
    let (code, r) = json_report(&a, &data);
    assert_eq!(code, Some(1));
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    assert_eq!(diffs[0]["kind"], "content");
    assert_eq!(diffs[0]["location"], serde_json::json!(["/EFI/motd.txt"]));
    let rec = record(&r, &[]);
    all_explained(&rec);
    assert_eq!(n(&rec["differing_bytes"]), 1);

    // One byte of the boot code: no entry or fact holds it, the boot sector's
    // field is named.
    let code_img = patched(&a, "code.img", |bytes| bytes[300] ^= 0x5a);
    let (code, r) = json_report(&a, &code_img);
    assert_eq!(code, Some(1), "{r:#}");
    let d = one_bytes(&r);
    assert_eq!(d["location"], serde_json::json!([]));
    assert_eq!(d["field"], "boot sector (boot code)");
    assert_eq!(d["structure"], "boot sector");
    assert_eq!((n(&d["offset"]), n(&d["length"])), (300, 1));
    assert_eq!(n(&record(&r, &[])["reported_bytes"]), 1);

    // One byte of a free cluster near the end: unclaimed, said where.
    let len = std::fs::metadata(&a).map(|m| m.len()).unwrap_or(0) as usize;
    let free = patched(&a, "free.img", |bytes| bytes[len - 4096] = 0x77);
    let (code, r) = json_report(&a, &free);
    assert_eq!(code, Some(1), "{r:#}");
    let d = one_bytes(&r);
    assert_eq!(d["structure"], "unclaimed");
    let field = d["field"].as_str().unwrap_or_default();
    assert!(
        field.starts_with("unclaimed bytes in free clusters after "),
        "{field}"
    );
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["unattributed_bytes"]), 1, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec}");
}

fn cpio_tools() -> bool {
    on_path(&["cpio", "gzip", "sh", "find", "sort"])
}

/// `tree` as a newc archive (sorted, reproducible) in `out`.
fn make_cpio(tree: &Path, out: &Path) {
    let script = format!(
        "cd '{}' && find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet > '{}'",
        tree.display(),
        out.display()
    );
    run(Command::new("sh").args(["-ec", &script]));
}

fn gzip(input: &Path, out: &Path) {
    let script = format!("gzip -n -9 -c '{}' > '{}'", input.display(), out.display());
    run(Command::new("sh").args(["-ec", &script]));
}

const INIT: &[u8] = b"#!/bin/sh\n# cpio-marker: the init script\nexec /bin/sh\n";

/// An initrd's main tree: `/init`, `/etc/motd`, `/bin/tool`, with fixed times.
fn main_tree(dir: &Path, motd: &[u8], motd_time: &str) -> PathBuf {
    let t = dir.join("main-tree");
    let _ = std::fs::remove_dir_all(&t);
    write(&t.join("init"), INIT, "@1700000000");
    write(&t.join("etc/motd"), motd, motd_time);
    write(&t.join("bin/tool"), b"tool!", "@1700000000");
    for d in ["etc", "bin", "."] {
        touch(&t.join(d), "@1700000000");
    }
    t
}

/// An early microcode tree, stored uncompressed in front of the main archive.
fn early_tree(dir: &Path) -> PathBuf {
    let t = dir.join("early-tree");
    let _ = std::fs::remove_dir_all(&t);
    write(
        &t.join("kernel/x86/microcode/GenuineIntel.bin"),
        b"ucode-marker: microcode blob",
        "@1700000000",
    );
    for d in ["kernel/x86/microcode", "kernel/x86", "kernel", "."] {
        touch(&t.join(d), "@1700000000");
    }
    t
}

/// An initrd: the early archive, padded to 512 bytes, then the gzipped main.
fn make_initrd(dir: &Path, main: &Path, out: &Path) {
    let (early, packed) = (dir.join("early.cpio"), dir.join("main.cpio.gz"));
    let main_cpio = dir.join("main.cpio");
    make_cpio(&early_tree(dir), &early);
    make_cpio(main, &main_cpio);
    gzip(&main_cpio, &packed);
    let mut bytes = std::fs::read(&early).expect("read");
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    bytes.extend(std::fs::read(&packed).expect("read"));
    std::fs::write(out, bytes).expect("write");
}

#[test]
fn cpio_bytes_are_explained_or_named() {
    if !cpio_tools() {
        return;
    }
    let dir = TempDir::new("acct-cpio");
    let (a, b) = (dir.0.join("a.cpio"), dir.0.join("b.cpio"));
    make_cpio(&main_tree(&dir.0, b"hello\n", "@1700000000"), &a);
    make_cpio(&main_tree(&dir.0, b"hello\n", "@1700000100"), &b);

    // Another mtime: the header's mtime field, explained.
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    assert_eq!(diffs[0]["kind"], "mtime");
    assert_eq!(diffs[0]["location"], serde_json::json!(["/etc/motd"]));
    all_explained(&record(&r, &[]));

    // A byte of the padding after a member's data: no difference of an entry,
    // named as that padding.
    let pad = patched(&a, "pad.cpio", |bytes| {
        let at = find(bytes, INIT) + INIT.len();
        assert_eq!(bytes[at], 0, "{} bytes of init need padding", INIT.len());
        bytes[at] = b'x';
    });
    let (code, r) = json_report(&a, &pad);
    assert_eq!(code, Some(1), "{r:#}");
    let d = one_bytes(&r);
    assert_eq!(d["field"], "data padding of /init");
    assert_eq!(d["structure"], "padding");
    assert_eq!(n(&record(&r, &[])["reported_bytes"]), 1);

    // A member's content inside a gzip segment (behind a plain early archive):
    // the compressed bytes are explained by the decoded items.
    let (ia, ib) = (dir.0.join("a.initrd"), dir.0.join("b.initrd"));
    make_initrd(&dir.0, &main_tree(&dir.0, b"hello\n", "@1700000000"), &ia);
    make_initrd(&dir.0, &main_tree(&dir.0, b"hellx\n", "@1700000000"), &ib);
    let (la, lb) = (std::fs::metadata(&ia), std::fs::metadata(&ib));
    assert_eq!(
        la.map(|m| m.len()).ok(),
        lb.map(|m| m.len()).ok(),
        "the pair compresses to the same size"
    );
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    assert_eq!(diffs[0]["kind"], "content");
    assert_eq!(diffs[0]["location"], serde_json::json!(["/etc/motd"]));
    all_explained(&record(&r, &[]));

    // A changed byte of the plain early archive's header (the uid's last
    // digit) with nothing to explain it but the uid itself.
    let uid = patched(&ia, "uid.initrd", |bytes| {
        let at = find(bytes, b"kernel/x86/microcode/GenuineIntel.bin") - 110;
        // newc: magic (6), ino (8), mode (8), uid (8): its last digit at 29.
        bytes[at + 29] = b'1';
    });
    let (code, r) = json_report(&ia, &uid);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    assert_eq!(diffs.len(), 1, "{r:#}");
    assert_eq!(diffs[0]["kind"], "uid");
    all_explained(&record(&r, &[]));
}

#[test]
fn nested_fat_and_initrd_are_accounted_in_their_own_records() {
    if !fat_tools() || !cpio_tools() || !on_path(&["xorriso"]) {
        return;
    }
    let dir = TempDir::new("acct-nested");
    let root = dir.0.join("iso-root");
    std::fs::create_dir_all(&root).expect("mkdir");
    make_fat(&dir.0, &root.join("efi.img"), "2024-06-02 12:00:00");
    make_initrd(
        &dir.0,
        &main_tree(&dir.0, b"hello\n", "@1700000000"),
        &root.join("initrd.img"),
    );
    for f in ["efi.img", "initrd.img", "."] {
        touch(&root.join(f), "@1700000000");
    }
    let iso = dir.0.join("a.iso");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
        .arg(&iso)
        .arg(&root));

    // A byte of a file in the FAT image, one of the plain early archive's
    // microcode, and one of the FAT's boot code.
    let b = patched(&iso, "b.iso", |bytes| {
        let efi = find(bytes, MOTD);
        bytes[efi + 5] ^= 0x20;
        let ucode = find(bytes, b"ucode-marker");
        bytes[ucode + 2] ^= 0x20;
        // The FAT image starts with its boot sector: jump, then "mkfs.fat".
        let boot = find(bytes, b"mkfs.fat") - 3;
        bytes[boot + 300] ^= 0x5a;
    });
    let (code, r) = json_report(&iso, &b);
    assert_eq!(code, Some(1), "{r:#}");
    // The outer image hands the nested images' extents down to them: nothing
    // differs outside, and their bytes are counted as handed down.
    let outer = record(&r, &[]);
    assert_eq!(n(&outer["differing_bytes"]), 0, "{outer}");
    let nested_len = ["efi.img", "initrd.img"]
        .iter()
        .map(|f| std::fs::metadata(root.join(f)).map_or(0, |m| m.len()))
        .sum::<u64>();
    assert_eq!(n(&outer["nested_bytes"]), nested_len, "{outer}");
    let fat = record(&r, &["/efi.img"]);
    assert_eq!(n(&fat["differing_bytes"]), 2, "{fat}");
    assert_eq!(n(&fat["explained_bytes"]), 1, "{fat}");
    assert_eq!(n(&fat["reported_bytes"]), 1, "{fat}");
    let initrd = record(&r, &["/initrd.img"]);
    all_explained(&initrd);
    assert_eq!(n(&initrd["differing_bytes"]), 1, "{initrd}");

    let content = of_kind(&r, "content");
    let places: Vec<&Json> = content.iter().map(|d| &d["location"]).collect();
    assert!(
        places.contains(&&serde_json::json!(["/efi.img", "/EFI/motd.txt"])),
        "{r:#}"
    );
    assert!(
        places.contains(&&serde_json::json!([
            "/initrd.img",
            "/kernel/x86/microcode/GenuineIntel.bin"
        ])),
        "{r:#}"
    );
    let d = one_bytes(&r);
    assert_eq!(d["location"], serde_json::json!(["/efi.img"]));
    assert_eq!(d["field"], "boot sector (boot code)");
}
