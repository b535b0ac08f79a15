//! Boot structures: El Torito catalog entries, the hybrid MBR/GPT system area and
//! the boot info table, on images made by grub-mkrescue and xorriso.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{isodiff, on_path, TempDir};

fn fields(report: &serde_json::Value) -> Vec<String> {
    report["differences"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn two_grub_mkrescue_runs_give_a_short_text_report() {
    if !on_path(&common::GRUB_TOOLS) {
        return;
    }
    let dir = TempDir::new("grub-twice");
    let [a, b]: [std::path::PathBuf; 2] = common::grub_mkrescue_images(&dir.0, &["a.iso", "b.iso"])
        .try_into()
        .expect("two images");
    let out = isodiff(&[a.as_os_str(), b.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = text.lines().count();
    // Issue 6 cites 1,336 lines of diffoscope output for such a pair; the repeated time shifts of
    // hundreds of files are one line here.
    assert!(lines < 60, "{lines} lines:\n{text}");
    assert!(
        text.lines().any(|l| l.starts_with("image  gpt.disk_guid ")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("image  mtime")
            && l.contains(" s on ")
            && l.contains(" entries (build clock in file times; e.g. ")),
        "{text}"
    );
    // The EFI image is opened as FAT and its inside compared.
    assert!(
        text.lines()
            .any(|l| l.starts_with("/efi.img:/") || l.starts_with("/efi.img  ")),
        "{text}"
    );
    let report = common::json_report(&a, &b).1;
    let f = fields(&report);
    assert!(f.iter().any(|f| f == "gpt.disk_guid"), "{f:?}");
    assert!(f.iter().any(|f| f == "pvd.creation_date"), "{f:?}");
    // Causes: the GUIDs and the FAT serial are random ids; every file time
    // shift of the run is one build-clock cause, named in the block that
    // opens the text report.
    let cause_of = |field: &str| -> Vec<String> {
        common::differences(&report)
            .iter()
            .filter(|d| d["field"].as_str() == Some(field))
            .map(|d| d["cause"].as_str().unwrap_or("none").to_owned())
            .collect()
    };
    for field in ["gpt.disk_guid", "gpt.partition1.unique_guid", "volume_id"] {
        let causes = cause_of(field);
        assert!(!causes.is_empty(), "{field}");
        assert!(
            causes.iter().all(|c| c == "random-id"),
            "{field}: {causes:?}"
        );
    }
    assert!(cause_of("pvd.creation_date")
        .iter()
        .all(|c| c == "image-dates"));
    let all = common::differences(&report);
    let times: Vec<&serde_json::Value> = all
        .iter()
        .filter(|d| matches!(d["kind"].as_str(), Some("mtime" | "atime" | "ctime")))
        .collect();
    assert!(times.len() > 100, "{}", times.len());
    assert!(times.iter().all(|d| d["cause"] == "build-clock"));
    let top: Vec<&str> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("image  ") && !l.starts_with('/'))
        .collect();
    let clock: Vec<&&str> = top
        .iter()
        .filter(|l| l.contains("build clock in file times: "))
        .collect();
    assert_eq!(clock.len(), 1, "{text}");
    let causes = report["causes"].as_array().expect("causes");
    assert_eq!(causes[0]["id"], "build-clock", "{causes:?}");
    let n = causes[0]["differences"].as_u64().expect("count");
    assert!(n >= times.len() as u64);
    assert!(
        clock[0].contains(&format!(": {n} differences in ")),
        "{text}"
    );
    // Markdown fits an issue comment, causes first.
    let md = isodiff(&[
        "--markdown".as_ref(),
        "-".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.chars().count() < 65_536, "{}", md.len());
    let causes_at = md.find("### Causes").expect("causes");
    assert!(causes_at < md.find("### the outer image").expect("details"));
}

fn xorriso(out: &Path, tree: &Path, boot: &[&str]) {
    let status = Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-V", "BOOT"])
        .args(boot)
        .arg("-o")
        .arg(out)
        .arg(tree)
        .env("SOURCE_DATE_EPOCH", "1717286400")
        .status()
        .expect("xorriso runs");
    assert!(status.success());
}

#[test]
fn el_torito_entries_and_boot_info_table() {
    if !on_path(&["xorriso"]) {
        return;
    }
    let dir = TempDir::new("eltorito-pair");
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(tree.join("boot")).expect("tree");
    std::fs::write(tree.join("boot/loader.bin"), vec![0x90u8; 8192]).expect("loader");
    std::fs::write(tree.join("boot/efi.img"), vec![0u8; 4096]).expect("efi");
    let (a, b, c) = (
        dir.0.join("a.iso"),
        dir.0.join("b.iso"),
        dir.0.join("c.iso"),
    );
    let common_opts = ["-b", "boot/loader.bin", "-no-emul-boot", "-boot-info-table"];
    xorriso(
        &a,
        &tree,
        &[&common_opts[..], &["-boot-load-size", "4"]].concat(),
    );
    // Another load size, and a second (UEFI) entry.
    xorriso(
        &b,
        &tree,
        &[
            &common_opts[..],
            &[
                "-boot-load-size",
                "8",
                "-eltorito-alt-boot",
                "-e",
                "boot/efi.img",
                "-no-emul-boot",
            ],
        ]
        .concat(),
    );
    let report = common::json_report(&a, &b).1;
    let f = fields(&report);
    assert!(
        f.iter().any(|f| f == "eltorito.entry1.sector_count"),
        "{f:?}"
    );
    assert!(f.iter().any(|f| f == "eltorito.boot_entries"), "{f:?}");
    // The second entry is on one side only: one difference, not one per field.
    assert!(f.iter().any(|f| f == "eltorito.entry2"), "{f:?}");
    assert!(
        !f.iter().any(|f| f.starts_with("eltorito.entry2.")),
        "{f:?}"
    );
    // The loader's boot info table differs only in addresses (the catalog moved
    // it): no content difference for it.
    let loader: Vec<&serde_json::Value> = report["differences"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter(|d| d["location"][0] == "/boot/loader.bin")
                .collect()
        })
        .unwrap_or_default();
    assert!(loader.iter().all(|d| d["kind"] != "content"), "{loader:?}");

    // A changed byte after the table is still content.
    let mut bytes = vec![0x90u8; 8192];
    bytes[100] = 0x91;
    std::fs::write(tree.join("boot/loader.bin"), bytes).expect("loader");
    xorriso(
        &c,
        &tree,
        &[&common_opts[..], &["-boot-load-size", "4"]].concat(),
    );
    let report = common::json_report(&a, &c).1;
    let loader: Vec<&serde_json::Value> = report["differences"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .filter(|d| d["location"][0] == "/boot/loader.bin")
                .collect()
        })
        .unwrap_or_default();
    let content = loader
        .iter()
        .find(|d| d["kind"] == "content")
        .expect("content difference");
    assert_eq!(
        content["summary"],
        "1 byte differs in 1 region from offset 100"
    );
    assert!(
        loader
            .iter()
            .any(|d| d["field"] == "boot_info_table.checksum"),
        "{loader:?}"
    );
}

#[test]
fn hybrid_system_area_fields() {
    let a = common::fixture("nixos-like-a.iso");
    let map = isodiff::MappedFile::open(&a).expect("map");
    let fs = isodiff::open(map.bytes(), &isodiff::Limits::default()).expect("opens");
    let get = |n: &str| {
        fs.facts()
            .iter()
            .find(|f| f.name == n)
            .map(|f| f.value.to_string())
    };
    // What `xorriso -report_system_area plain` says of this image.
    assert_eq!(get("mbr.partition1.status").as_deref(), Some("128"));
    assert_eq!(get("mbr.partition2.type").as_deref(), Some("\"0xef\""));
    assert_eq!(
        get("gpt.partition1.type_guid").as_deref(),
        Some("\"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\"")
    );
    assert_eq!(
        get("gpt.partition2.name").as_deref(),
        Some("\"ISOHybrid1\"")
    );
    assert_eq!(get("eltorito.entry1.platform").as_deref(), Some("\"BIOS\""));
    assert_eq!(get("eltorito.entry2.platform").as_deref(), Some("\"UEFI\""));
    assert_eq!(get("eltorito.entry1.sector_count").as_deref(), Some("4"));
}
