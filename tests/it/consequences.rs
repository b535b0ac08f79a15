//! Differences that only follow from others: facts their readers declare to
//! follow the image size (a GPT's backup header, a hybrid MBR's partition) are
//! marked `consequence` and counted apart, and `--semantic` hides them as the
//! packing they are.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{differences, have, isodiff, json_report, TempDir};

/// A hybrid ISO (isohybrid MBR, GPT, El Torito with an EFI image) of a tree
/// holding `data_len` bytes of data.
fn hybrid(dir: &Path, name: &str, data_len: usize) -> PathBuf {
    let tree = dir.join(format!("tree-{name}"));
    std::fs::create_dir_all(tree.join("isolinux")).expect("tree");
    std::fs::create_dir_all(tree.join("boot")).expect("tree");
    std::fs::copy(
        "/usr/lib/ISOLINUX/isolinux.bin",
        tree.join("isolinux/isolinux.bin"),
    )
    .expect("isolinux.bin");
    std::fs::write(tree.join("boot/efi.img"), vec![0u8; 64 << 10]).expect("efi.img");
    std::fs::write(tree.join("data"), vec![7u8; data_len]).expect("data");
    let out = dir.join(format!("{name}.iso"));
    let status = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-r"])
        .args(["-eltorito-boot", "isolinux/isolinux.bin", "-no-emul-boot"])
        .args(["-boot-load-size", "4", "-boot-info-table"])
        .args(["-isohybrid-mbr", "/usr/lib/ISOLINUX/isohdpfx.bin"])
        .args(["-eltorito-alt-boot", "-e", "boot/efi.img", "-no-emul-boot"])
        .args(["-isohybrid-gpt-basdat", "-o"])
        .arg(&out)
        .arg(&tree)
        .env("SOURCE_DATE_EPOCH", "1717286400")
        .stderr(std::process::Stdio::null())
        .status()
        .expect("xorriso runs");
    assert!(status.success());
    out
}

#[test]
fn partition_fields_that_follow_the_image_size_are_consequences() {
    if !have("xorriso", &["-version"]) {
        return;
    }
    if !Path::new("/usr/lib/ISOLINUX/isohdpfx.bin").exists() {
        assert!(
            std::env::var_os("ISODIFF_REQUIRE_TOOLS").is_none(),
            "isolinux is required (ISODIFF_REQUIRE_TOOLS is set) but is not installed"
        );
        eprintln!("note: isolinux is not installed; skipping the hybrid-image test");
        return;
    }
    let dir = TempDir::new("consequences");
    let (a, b) = (hybrid(&dir.0, "a", 300_000), hybrid(&dir.0, "b", 3_000_000));
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    let diffs = differences(&r);
    let following: Vec<&str> = diffs
        .iter()
        .filter(|d| d["consequence"] == true)
        .filter_map(|d| d["field"].as_str())
        .collect();
    for field in [
        "gpt.backup_lba",
        "gpt.last_usable_lba",
        "mbr.partition1.sectors",
    ] {
        assert!(following.contains(&field), "{field} in {following:?}");
    }
    // Each is declared packing, and nothing that does not follow the size is
    // taken for a consequence: the file's own size and content stay.
    for d in diffs.iter().filter(|d| d["consequence"] == true) {
        assert_eq!(d["role"], "packing", "{d}");
        assert_eq!(d["location"], serde_json::json!([]), "{d}");
    }
    let kinds: Vec<&str> = diffs
        .iter()
        .filter(|d| d["consequence"].is_null())
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"size") && kinds.contains(&"content"),
        "{kinds:?}"
    );
    assert_eq!(r["consequences"], following.len() as u64);

    // The text report says them in one line and counts them apart.
    let out = isodiff(&[a.as_os_str(), b.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("gpt.backup_lba"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].starts_with("image  follows from the differences above: "),
        "{text}"
    );
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.ends_with(&format!(
            "difference(s) (and {} that follow from them)",
            following.len()
        )),
        "{text}"
    );

    // --semantic hides them with the packing they are.
    let out = isodiff(&[
        "--semantic".as_ref(),
        "--json".as_ref(),
        "-".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        differences(&r).iter().all(|d| d["consequence"].is_null()),
        "{r:#}"
    );
}
