//! The job isodiff exists for: NixOS-like installer pairs made by
//! `testdata/make-nixos-pair.sh` (squashfs inside a hybrid ISO, as nixpkgs builds
//! it). The report must hold exactly the planted differences, and a pair that
//! differs only in the squashfs compressor and block size none at entry level.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::{fixture, found, isodiff, json_report, TempDir};

const HELLO: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1";

fn tools() -> bool {
    common::on_path(&["mksquashfs", "xorriso", "mkfs.vfat", "mcopy", "mmd"])
}

fn make_pair(dir: &Path, comp: &str, mode: &str) {
    let out = Command::new("bash")
        .arg(fixture("make-nixos-pair.sh"))
        .arg(dir)
        .args([comp, mode])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "make-nixos-pair.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn planted(container: &str) -> BTreeSet<(String, String, String)> {
    let at = |path: &str| {
        if container.is_empty() {
            path.to_owned()
        } else {
            format!("{container}:{path}")
        }
    };
    let mut set = BTreeSet::new();
    let image_location = if container.is_empty() {
        String::new()
    } else {
        container.to_owned()
    };
    set.insert((
        image_location,
        "image".to_owned(),
        "superblock.mkfs_time".to_owned(),
    ));
    for f in [
        "/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users",
        "/kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup",
        "/pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf",
    ] {
        set.insert((at(f), "mode".into(), String::new()));
        set.insert((at(f), "mtime".into(), String::new()));
    }
    for (path, kind) in [
        (format!("{HELLO}/bin/hello"), "content"),
        (format!("{HELLO}/share/motd"), "content"),
        (format!("{HELLO}/share/motd"), "size"),
        (format!("{HELLO}/share/added"), "added"),
        (format!("{HELLO}/share/removed"), "removed"),
        (
            "/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/current".to_owned(),
            "symlink",
        ),
    ] {
        set.insert((at(&path), kind.into(), String::new()));
    }
    set
}

fn assert_exactly(report: &serde_json::Value, expected: &BTreeSet<(String, String, String)>) {
    let got = found(report);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
}

/// Every byte accounting record (same-size image pairs) explains every
/// differing byte by the planted differences or by placement.
fn assert_fully_explained(report: &serde_json::Value) {
    for rec in report["byte_accounting"].as_array().into_iter().flatten() {
        assert_eq!(rec["unattributed_bytes"], 0, "{rec}");
        assert_eq!(rec["reported_bytes"], 0, "{rec}");
    }
}

#[test]
fn planted_differences_in_xz_and_zstd_pairs() {
    if !tools() {
        return;
    }
    for comp in ["xz", "zstd"] {
        let dir = TempDir::new(&format!("nixos-{comp}"));
        make_pair(&dir.0, comp, "planted");
        let (code, r) = json_report(&dir.0.join("a.iso"), &dir.0.join("b.iso"));
        assert_eq!(code, Some(1), "{r:#}");
        assert_exactly(&r, &planted("/nix-store.squashfs"));
        assert_fully_explained(&r);
        let diffs = r["differences"].as_array().cloned().unwrap_or_default();
        let get = |path: &str, kind: &str| {
            diffs
                .iter()
                .find(|d| d["location"][1] == path && d["kind"] == kind)
                .cloned()
                .unwrap_or_default()
        };
        let m = get("/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users", "mtime");
        assert_eq!(
            (m["a"].as_str(), m["b"].as_str()),
            (Some("1980-01-01T00:00:00Z"), Some("1970-01-01T00:00:01Z"))
        );
        let m = get("/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users", "mode");
        assert_eq!(
            (m["a"].as_str(), m["b"].as_str()),
            (Some("0644"), Some("0444"))
        );
        let elf = get(&format!("{HELLO}/bin/hello"), "content");
        // The ELF file is this machine's /bin/true: which section holds offset
        // 4096 depends on its build, that one is named does not.
        let summary = elf["summary"].as_str().unwrap_or_default();
        assert!(
            summary.starts_with("20 bytes differ in 1 region from offset 4096 (section ."),
            "{summary}"
        );
        let motd = get(&format!("{HELLO}/share/motd"), "content");
        assert!(motd["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("-This is line two.\n+This is line 2.\n"));
        let mkfs = diffs
            .iter()
            .find(|d| d["field"] == "superblock.mkfs_time")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            (mkfs["a"].as_str(), mkfs["b"].as_str()),
            (Some("1970-01-01T00:00:01Z"), Some("2024-06-02T00:00:00Z"))
        );

        // The bare squashfs images give the same, without the container.
        let (code, r) = json_report(&dir.0.join("a.squashfs"), &dir.0.join("b.squashfs"));
        assert_eq!(code, Some(1));
        assert_exactly(&r, &planted(""));
        assert_fully_explained(&r);
    }
}

#[test]
fn recompressed_pair_has_no_entry_level_difference() {
    if !tools() {
        return;
    }
    let dir = TempDir::new("nixos-recompressed");
    make_pair(&dir.0, "xz", "recompressed");
    for (a, b) in [("a.iso", "b.iso"), ("a.squashfs", "b.squashfs")] {
        let (code, r) = json_report(&dir.0.join(a), &dir.0.join(b));
        let entry_level: Vec<_> = found(&r)
            .into_iter()
            // Image-level kinds (facts, and byte accounting's layout and bytes
            // findings) are not entries.
            .filter(|(_, kind, _)| !matches!(kind.as_str(), "image" | "layout" | "bytes"))
            .collect();
        assert!(entry_level.is_empty(), "{a} vs {b}: {entry_level:#?}");
        let fields: BTreeSet<String> = found(&r).into_iter().map(|(_, _, f)| f).collect();
        assert!(fields.contains("superblock.compressor"), "{fields:?}");
        assert!(fields.contains("superblock.block_size"), "{fields:?}");
        assert_eq!(code, Some(1));
    }
}

#[test]
fn bundled_pair_reports_the_planted_differences() {
    let (code, r) = json_report(&fixture("nixos-like-a.iso"), &fixture("nixos-like-b.iso"));
    assert_eq!(code, Some(1));
    assert_exactly(&r, &planted("/nix-store.squashfs"));
}

/// `ls --max-nesting N` lists images inside images down to level N; 0 lists
/// the image alone (no file read), 1 its nested images but not theirs.
#[test]
fn ls_max_nesting_bounds_the_images_listed() {
    let image = fixture("nixos-like-a.iso");
    let levels = |n: &str| -> BTreeSet<usize> {
        let out = isodiff(&[
            "ls".as_ref(),
            "--json".as_ref(),
            "--max-nesting".as_ref(),
            n.as_ref(),
            image.as_os_str(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        common::parse_lines(&out.stdout)
            .values()
            .filter_map(|v| v["location"].as_array().map(Vec::len))
            .collect()
    };
    let all = common::ls_json(&image);
    let deepest = all
        .values()
        .filter_map(|v| v["location"].as_array().map(Vec::len))
        .max();
    assert_eq!(levels("0"), BTreeSet::from([1]));
    assert_eq!(levels("1"), BTreeSet::from([1, 2]));
    assert_eq!(levels("8").iter().max().copied(), deepest);
}

#[test]
fn ls_lists_the_squashfs_inside_the_iso_like_the_bare_one() {
    if !tools() {
        return;
    }
    let dir = TempDir::new("nixos-ls");
    make_pair(&dir.0, "zstd", "planted");
    let iso = common::ls_json(&dir.0.join("a.iso"));
    let bare = common::ls_json(&dir.0.join("a.squashfs"));
    let nested: std::collections::BTreeMap<String, serde_json::Value> = iso
        .iter()
        .filter_map(|(k, v)| {
            let inner = k.strip_prefix("/nix-store.squashfs:")?;
            let mut v = v.clone();
            v["location"] = serde_json::json!([inner]);
            Some((inner.to_owned(), v))
        })
        .collect();
    assert!(nested.len() > 50, "{} nested entries", nested.len());
    assert_eq!(nested, bare);
    // The ISO's own entries come first, the nested ones after them.
    let order: Vec<bool> = {
        let out = isodiff(&[
            "ls".as_ref(),
            "--json".as_ref(),
            dir.0.join("a.iso").as_os_str(),
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.contains("\"location\":[\"/nix-store.squashfs\","))
            .collect()
    };
    let first_nested = order.iter().position(|&n| n).unwrap_or(order.len());
    assert!(
        order[first_nested..].iter().all(|&n| n),
        "nested entries are listed after the ISO's own"
    );
    // And unsquashfs sees the same paths.
    let out = Command::new("unsquashfs")
        .arg("-lln")
        .arg(dir.0.join("a.squashfs"))
        .output()
        .expect("unsquashfs");
    let theirs: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.split_once(" squashfs-root")
                .map(|(_, p)| p.split(" -> ").next().unwrap_or(p).to_owned())
        })
        .map(|p| if p.is_empty() { "/".to_owned() } else { p })
        .collect();
    let ours: BTreeSet<String> = bare.keys().cloned().collect();
    assert_eq!(ours, theirs);
}
