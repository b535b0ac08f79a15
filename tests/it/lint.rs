//! `isodiff lint IMAGE`: one image checked against a profile, reported like a
//! comparison (found value -> expected value), exit 0 clean, 1 findings, 2 trouble.

use crate::common;

use std::collections::BTreeSet;

use common::{fixture, isodiff, on_path, TempDir};

/// The three store paths the bundled pair's side a did not canonicalise.
const NOT_CANONICAL: [&str; 3] = [
    "/kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup",
    "/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users",
    "/pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf",
];

fn lint_json(args: &[&str], image: &std::path::Path) -> (Option<i32>, serde_json::Value) {
    let mut all: Vec<&std::ffi::OsStr> = vec!["lint".as_ref()];
    all.extend(args.iter().map(|a| a.as_ref() as &std::ffi::OsStr));
    all.extend(["--json".as_ref(), "-".as_ref(), image.as_os_str()]);
    let out = isodiff(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

#[test]
fn nix_profile_names_exactly_the_store_paths_not_canonicalised() {
    let (code, report) = lint_json(&["--profile", "nix"], &fixture("nixos-like-a.iso"));
    assert_eq!(code, Some(1), "{report:#}");
    let found: BTreeSet<(String, String)> = common::differences(&report)
        .iter()
        .map(|d| {
            assert_eq!(d["cause"], "nix-not-canonical", "{d}");
            let location = d["location"].as_array().expect("location");
            assert_eq!(location[0], "/nix-store.squashfs");
            (
                location[1].as_str().unwrap_or_default().to_owned(),
                d["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = NOT_CANONICAL
        .iter()
        .flat_map(|p| {
            [
                ((*p).to_owned(), "mode".to_owned()),
                ((*p).to_owned(), "mtime".to_owned()),
            ]
        })
        .collect();
    assert_eq!(found, want);
    let mode = common::differences(&report)
        .into_iter()
        .find(|d| d["kind"] == "mode")
        .expect("mode");
    assert_eq!(
        (mode["a"].as_str(), mode["b"].as_str()),
        (Some("0644"), Some("0444"))
    );
    assert_eq!(report["causes"][0]["id"], "nix-not-canonical");
    assert_eq!(report["causes"][0]["differences"], 6);

    // The canonical side is clean, in every format's exit code.
    let (code, report) = lint_json(&["--profile", "nix"], &fixture("nixos-like-b.iso"));
    assert_eq!(code, Some(0), "{report:#}");
    assert!(common::differences(&report).is_empty());
    let text = isodiff(&[
        "lint".as_ref(),
        "--profile".as_ref(),
        "nix".as_ref(),
        fixture("nixos-like-a.iso").as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Nix store metadata not canonical: 6 differences"),
        "{text}"
    );
}

#[test]
fn general_profile_finds_times_after_the_epoch_and_random_guids() {
    // Every file of the fixture is younger than 1990; none is younger than 2100.
    let a = fixture("nixos-like-a.iso");
    let (code, report) = lint_json(&["--source-date-epoch", "631152000"], &a);
    assert_eq!(code, Some(1));
    let times = common::differences(&report);
    assert!(!times.is_empty());
    assert!(
        times.iter().all(|d| d["cause"] == "build-clock"),
        "{report:#}"
    );
    let (code, report) = lint_json(&["--source-date-epoch", "4102444800"], &a);
    assert_eq!(code, Some(0), "{report:#}");

    if !on_path(&common::GRUB_TOOLS) {
        eprintln!("note: grub-mkrescue, xorriso or mformat missing: random GUIDs not checked");
        return;
    }
    let dir = TempDir::new("lint-grub");
    let iso = common::grub_mkrescue_images(&dir.0, &["a.iso"]).remove(0);
    let (code, report) = lint_json(&[], &iso);
    assert_eq!(code, Some(1), "{report:#}");
    let ids: Vec<serde_json::Value> = common::differences(&report)
        .into_iter()
        .filter(|d| d["cause"] == "random-id")
        .collect();
    assert!(
        ids.iter().any(|d| d["field"] == "gpt.disk_guid"),
        "{report:#}"
    );
}

#[test]
fn a_missing_image_is_trouble() {
    let out = isodiff(&["lint".as_ref(), "/nonexistent/x.iso".as_ref()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}
