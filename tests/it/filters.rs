//! `--exclude`, `--ignore` and `--semantic` on the bundled NixOS-like pair (and on a
//! pair that differs only in how its squashfs is packed): each hides exactly what
//! it names, says how much it hid in every report, and the exit code follows what
//! is left.

use crate::common;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use common::{fixture, isodiff, TempDir};

const HELLO: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1";

fn run_on(a: &Path, b: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    all.push(a.as_os_str());
    all.push(b.as_os_str());
    isodiff(&all)
}

fn run(args: &[&str]) -> Output {
    run_on(
        &fixture("nixos-like-a.iso"),
        &fixture("nixos-like-b.iso"),
        args,
    )
}

/// The JSON report of the bundled pair with `args`, and the exit code.
fn json(args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut all = vec!["--json", "-"];
    all.extend_from_slice(args);
    let out = run(&all);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// (last location element, kind, field) of each difference.
fn found(report: &serde_json::Value) -> BTreeSet<(String, String, String)> {
    report["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            let loc = d["location"].as_array().expect("location");
            (
                loc.last()
                    .and_then(|p| p.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The rules of the `filtered` object as (rule, pattern, differences).
fn rules(report: &serde_json::Value) -> Vec<(String, String, u64)> {
    report["filtered"]["rules"]
        .as_array()
        .expect("filtered.rules")
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap_or_default().to_owned(),
                r["pattern"].as_str().unwrap_or_default().to_owned(),
                r["differences"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect()
}

#[test]
fn ignore_hides_exactly_the_named_kinds_and_counts_them() {
    let (_, all) = json(&[]);
    let (code, r) = json(&["--ignore", "mtime,mode"]);
    assert_eq!(code, Some(1));
    let expected: BTreeSet<_> = found(&all)
        .into_iter()
        .filter(|(_, kind, _)| kind != "mtime" && kind != "mode")
        .collect();
    assert_eq!(found(&r), expected);
    assert_eq!(expected.len(), 7);
    assert_eq!(r["filtered"]["differences"], 6);
    assert_eq!(r["filtered"]["problems"], 0);
    assert_eq!(
        rules(&r),
        [
            ("ignore".into(), "mtime".into(), 3),
            ("ignore".into(), "mode".into(), 3)
        ]
    );
    assert_eq!(
        r["filtered"]["by_kind"],
        serde_json::json!({"mode": 3, "mtime": 3})
    );
    // Repeating the option is the same as a list.
    let (_, again) = json(&["--ignore", "mtime", "--ignore", "mode"]);
    assert_eq!(again["filtered"], r["filtered"]);

    // The text report says it, before the count of what is left.
    let text = String::from_utf8_lossy(&run(&["--ignore", "mtime,mode"]).stdout).into_owned();
    assert!(
        text.ends_with(
            "6 difference(s) hidden by filters: --ignore mtime 3, --ignore mode 3\n7 difference(s)\n"
        ),
        "{text}"
    );
    assert!(!text.contains("  mtime ") && !text.contains("  mode "));
}

#[test]
fn image_fields_by_name_and_glob() {
    let (_, r) = json(&["--ignore", "superblock.*"]);
    assert_eq!(r["filtered"]["differences"], 1);
    assert!(!found(&r).iter().any(|(_, kind, _)| kind == "image"));
    let (_, r) = json(&["--ignore", "superblock.mkfs_time"]);
    assert_eq!(r["filtered"]["differences"], 1);
    let (_, r) = json(&["--ignore", "image"]);
    assert_eq!(r["filtered"]["differences"], 1);
}

#[test]
fn exclude_hides_locations_and_what_is_below_them() {
    // A directory: everything under the hello package.
    let (code, r) = json(&["--exclude", "*-hello-2.12.1"]);
    assert_eq!(code, Some(1));
    assert_eq!(r["filtered"]["differences"], 5);
    assert!(
        !found(&r).iter().any(|(loc, _, _)| loc.starts_with(HELLO)),
        "{r:#}"
    );
    // Anchored path with `**`, and a bare name that matches at any depth.
    let (_, r) = json(&["--exclude", "/nix-store.squashfs:/**/share/motd"]);
    assert_eq!(r["filtered"]["differences"], 2);
    let (_, r) = json(&["--exclude", "motd", "--exclude", "added"]);
    assert_eq!(
        rules(&r),
        [
            ("exclude".into(), "motd".into(), 2),
            ("exclude".into(), "added".into(), 1)
        ]
    );
    // `*` stops at `/`: the anchored pattern names top-level entries only.
    let (_, r) = json(&["--exclude", "/nix-store.squashfs:/*-etc-netgroup"]);
    assert_eq!(r["filtered"]["differences"], 2);
    let (_, r) = json(&["--exclude", "/nix-store.squashfs:/*/share"]);
    assert_eq!(r["filtered"]["differences"], 4);
}

#[test]
fn nothing_left_is_exit_zero_and_says_what_was_hidden() {
    // The nested image itself: all of it.
    let (code, r) = json(&["--exclude", "/nix-store.squashfs"]);
    assert_eq!(code, Some(0), "{r:#}");
    assert_eq!(r["identical"], true);
    assert_eq!(r["differences"], serde_json::json!([]));
    assert_eq!(r["filtered"]["differences"], 13);

    let out = run(&["--ignore", "*"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with(
            "13 difference(s) hidden by filters: --ignore * 13\nidentical after filtering\n"
        ),
        "{text}"
    );

    let dir = TempDir::new("filters-none-left");
    let (html, md) = (dir.0.join("r.html"), dir.0.join("r.md"));
    let out = run(&[
        "--ignore",
        "*",
        "--html",
        html.to_str().expect("utf-8 temp path"),
        "--markdown",
        md.to_str().expect("utf-8 temp path"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(page.contains("id=\"verdict\">Identical after filtering</p>"));
    assert!(page.contains("id=\"filtered\">13 difference(s) hidden by filters: --ignore * 13</p>"));
    let md = std::fs::read_to_string(&md).expect("md");
    assert!(md.contains("**Identical after filtering**"), "{md}");
    assert!(
        md.contains("> 13 difference(s) hidden by filters: --ignore \\* 13"),
        "{md}"
    );
}

#[test]
fn semantic_hides_times_ownership_and_packing() {
    let (code, r) = json(&["--semantic"]);
    assert_eq!(code, Some(1));
    let kinds: BTreeSet<String> = found(&r).into_iter().map(|(_, k, _)| k).collect();
    let expected: BTreeSet<String> = ["mode", "symlink", "content", "size", "added", "removed"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(kinds, expected);
    assert_eq!(r["filtered"]["differences"], 4, "3 mtimes and mkfs_time");
    let hid: Vec<(String, String, u64)> = rules(&r).into_iter().filter(|r| r.2 > 0).collect();
    // By the role each reader declares: three mtimes and the mkfs time.
    assert_eq!(hid, [("semantic".into(), "time".into(), 4)]);
    // Semantic rules that hid nothing are no mistake: no note on stderr.
    let out = run(&["--semantic"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_rule_that_hides_nothing_is_noted() {
    let out = run(&["--ignore", "mtim", "--exclude", "/nowhere"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("isodiff: note: --ignore mtim hid nothing"),
        "{err}"
    );
    assert!(
        err.contains("isodiff: note: --exclude /nowhere hid nothing"),
        "{err}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "0 difference(s) hidden by filters; hid nothing: --exclude /nowhere, --ignore mtim\n"
        ),
        "{text}"
    );
}

#[test]
fn bad_patterns_are_trouble_before_any_work() {
    for args in [["--exclude", "[abc"], ["--ignore", "x\\"]] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad pattern"), "{err}");
    }
}

#[test]
fn semantic_makes_a_repacked_pair_identical() {
    if !common::on_path(&["mksquashfs", "xorriso", "mkfs.vfat", "mcopy", "mmd"]) {
        return;
    }
    let dir = TempDir::new("filters-recompressed");
    let out = Command::new("bash")
        .arg(fixture("make-nixos-pair.sh"))
        .arg(&dir.0)
        .args(["xz", "recompressed"])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "make-nixos-pair.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The bare squashfs images differ only in packing. (The ISOs also hold an
    // efi.img made by mkfs.vfat, whose bytes can differ between two runs.)
    let (a, b) = (dir.0.join("a.squashfs"), dir.0.join("b.squashfs"));
    let plain = run_on(&a, &b, &[]);
    assert_eq!(plain.status.code(), Some(1));
    let semantic = run_on(&a, &b, &["--semantic", "--json", "-"]);
    let r: serde_json::Value = serde_json::from_slice(&semantic.stdout).expect("JSON");
    assert_eq!(semantic.status.code(), Some(0), "{r:#}");
    let hidden: BTreeSet<String> = rules(&r)
        .into_iter()
        .filter(|r| r.2 > 0)
        .map(|r| r.1)
        .collect();
    // The compressor and block size are declared packing.
    assert!(hidden.contains("packing"), "{r:#}");
    assert!(hidden.is_subset(&BTreeSet::from(["packing".to_owned(), "layout".to_owned()])));
    let packing: BTreeSet<&str> = r["differences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert!(packing.is_empty(), "{packing:?}");
    // In the ISOs, nothing is left inside the squashfs.
    let (a, b) = (dir.0.join("a.iso"), dir.0.join("b.iso"));
    let out = run_on(&a, &b, &["--semantic", "--json", "-"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let inside: Vec<_> = r["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .filter(|d| d["location"][0] == "/nix-store.squashfs")
        .collect();
    assert!(inside.is_empty(), "{inside:#?}");
}
