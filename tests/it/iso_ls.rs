//! `isodiff ls` on the ISO fixtures of `testdata/`: the fields we know the fixtures
//! hold (see `testdata/make-images.sh`), and clear failures on bad input.

use crate::common;

use common::{fixture, isodiff, ls_json};
use serde_json::json;

fn field<'a>(
    listing: &'a std::collections::BTreeMap<String, serde_json::Value>,
    path: &str,
) -> &'a serde_json::Value {
    listing.get(path).unwrap_or_else(|| {
        panic!(
            "{path} is not listed; listed: {:?}",
            listing.keys().collect::<Vec<_>>()
        )
    })
}

#[test]
fn rock_ridge_fields_from_both_writers() {
    for image in ["rr-xorriso.iso", "rr-genisoimage.iso"] {
        let l = ls_json(&fixture(image));
        let f = |p| field(&l, p);
        assert_eq!(f("/")["type"], "dir", "{image}");
        assert_eq!(f("/setuid.sh")["mode"], "4755", "{image}");
        assert_eq!(f("/sticky")["mode"], "1777", "{image}");
        assert_eq!(f("/owned/file")["uid"], 1000, "{image}");
        assert_eq!(f("/owned/file")["gid"], 100, "{image}");
        assert_eq!(f("/owned/file")["mode"], "0640", "{image}");
        assert_eq!(f("/owned/file")["mtime"], "1980-01-01T00:00:00Z", "{image}");
        assert_eq!(
            f("/after-2038.txt")["mtime"],
            "2040-01-01T12:00:00Z",
            "{image}"
        );
        assert_eq!(f("/plain.txt")["size"], 6, "{image}");
        assert_eq!(f("/big.txt")["size"], 70000, "{image}");
        assert_eq!(f("/rel-link")["target"], "plain.txt", "{image}");
        assert_eq!(f("/root-link")["target"], "/", "{image}");
        assert_eq!(f("/fifo")["type"], "fifo", "{image}");
        assert_eq!(f("/null")["type"], "char", "{image}");
        assert_eq!(f("/null")["rdev"], json!([1, 3]), "{image}");
        assert_eq!(f("/sda1")["type"], "block", "{image}");
        assert_eq!(f("/sda1")["rdev"], json!([8, 1]), "{image}");
        assert_eq!(f("/Mixed Case Ünïcode.txt")["size"], 16, "{image}");
        let long = format!("/{}", "long-name-".repeat(21));
        assert_eq!(f(&long)["size"], 5, "{image}: a name that needs a CE area");
        let deep = "/deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/bottom.txt";
        assert_eq!(
            f(deep)["size"],
            5,
            "{image}: a file below a relocated directory"
        );
        assert_eq!(f("/deep/l2/l3/l4/l5/l6/l7/l8/l9")["type"], "dir", "{image}");
    }
    let x = ls_json(&fixture("rr-xorriso.iso"));
    let target = field(&x, "/long-link")["target"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected = format!(
        "/usr/lib/{}/../{}/lib.so.1",
        "component".repeat(20),
        "x".repeat(150)
    );
    assert_eq!(
        target, expected,
        "a target split over SL entries and a CE area"
    );
}

#[test]
fn genisoimage_relocation_is_undone() {
    let l = ls_json(&fixture("rr-genisoimage.iso"));
    // genisoimage leaves its relocation directory visible, but empty: the moved
    // directory is shown at its real place only.
    assert_eq!(field(&l, "/rr_moved")["type"], "dir");
    assert!(
        !l.keys().any(|k| k.starts_with("/rr_moved/")),
        "{:?}",
        l.keys()
    );
}

#[test]
fn joliet_only_and_level1_names() {
    let j = ls_json(&fixture("joliet-only.iso"));
    assert_eq!(field(&j, "/DIR/a longer Joliet name.txt")["size"], 7);
    assert_eq!(field(&j, "/README.TXT")["size"], 7);
    // Without Rock Ridge there is no mode, owner or link count to report.
    assert!(field(&j, "/README.TXT").get("mode").is_none());
    assert!(field(&j, "/README.TXT").get("uid").is_none());
    let l1 = ls_json(&fixture("level1.iso"));
    let names: Vec<&String> = l1.keys().collect();
    assert_eq!(
        names,
        [
            "/",
            "/DIR",
            "/DIR/SUB",
            "/DIR/SUB/FILE.DAT",
            "/NOEXT",
            "/README.TXT"
        ]
    );
    assert_eq!(field(&l1, "/README.TXT")["mtime"], "2024-06-02T00:00:00Z");
}

#[test]
fn el_torito_image_lists_its_catalog_and_loader() {
    let l = ls_json(&fixture("eltorito.iso"));
    assert_eq!(field(&l, "/boot/loader.bin")["size"], 4096);
    assert_eq!(field(&l, "/boot.catalog")["size"], 2048);
}

#[test]
fn text_listing_reads_like_unsquashfs() {
    let out = isodiff(&["ls".as_ref(), fixture("rr-xorriso.iso").as_os_str()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.ends_with(" /setuid.sh"))
        .unwrap_or_default();
    assert!(line.starts_with("-rwsr-xr-x 0/0 "), "{line}");
    assert!(line.contains(" 2024-06-02T00:00:00Z "), "{line}");
    let sticky = text
        .lines()
        .find(|l| l.ends_with(" /sticky"))
        .unwrap_or_default();
    assert!(sticky.starts_with("drwxrwxrwt "), "{sticky}");
    let link = text
        .lines()
        .find(|l| l.contains(" /rel-link"))
        .unwrap_or_default();
    assert!(link.ends_with(" /rel-link -> plain.txt"), "{link}");
}

#[test]
fn bad_input_is_exit_code_2_with_a_message() {
    let dir = common::TempDir::new("bad-input");
    let garbage = dir.0.join("garbage.iso");
    std::fs::write(&garbage, vec![0x5a; 100_000]).expect("write");
    let empty = dir.0.join("empty.iso");
    std::fs::write(&empty, b"").expect("write");
    let image = std::fs::read(fixture("rr-xorriso.iso")).expect("fixture");
    let truncated = dir.0.join("truncated.iso");
    std::fs::write(&truncated, &image[..image.len() / 2]).expect("write");
    let missing = dir.0.join("missing.iso");
    for (path, says) in [
        (&garbage, "not a recognized image"),
        (&empty, "is empty (0 bytes)"),
        (&truncated, "truncated"),
        (&missing, "cannot read"),
    ] {
        let out = isodiff(&["ls".as_ref(), path.as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert!(stderr.contains(says), "{}: {stderr}", path.display());
    }
}

#[test]
fn a_file_in_two_extents_is_one_entry() {
    // fuzz/make-seeds.sh splits M.BIN (5000 bytes of 'm') into two records by hand,
    // 4096 + 904 bytes, as writers do for files over 4 GiB.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/iso9660/multi-extent.iso");
    let l = ls_json(&path);
    let files: Vec<&String> = l.keys().filter(|k| k.as_str() != "/").collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(l[files[0]]["size"], 5000);
    let map = isodiff::MappedFile::open(&path).expect("map");
    let fs = isodiff::open(map.bytes(), &isodiff::Limits::default()).expect("opens");
    let listing = fs.children(fs.root()).expect("root lists");
    let content = fs.content(listing.entries[0].node).expect("content");
    let bytes: Vec<u8> = content
        .chunks()
        .flat_map(|c| c.expect("chunk").into_owned())
        .collect();
    assert_eq!(bytes, vec![b'm'; 5000]);
    match content {
        isodiff::Content::Slices(s) => {
            assert_eq!(s.iter().map(|s| s.len()).collect::<Vec<_>>(), [4096, 904])
        }
        other => panic!("{other:?}"),
    }
}
