//! The HFS+ volume of grub-mkrescue images (APM partition `HFSPLUS_Hybrid`):
//! its volume headers and catalog are claimed in the byte layout, so two runs
//! of grub-mkrescue on one tree leave no unclaimed differing bytes; and every
//! byte of such an image, zero padding included, is claimed by a structure.

use crate::common;

use std::path::Path;

use common::*;

/// The bytes of `image` that no structure claims: (start, len) of each gap.
/// Zero padding counts too: the sector padding after every structure, the
/// HFS+ volume's unused blocks and xorriso's padding at the end (partition
/// `Gap1`) are claimed by name.
fn gaps(image: &Path) -> Vec<(u64, u64)> {
    let bytes = std::fs::read(image).expect("read");
    let fs = isodiff::open(&bytes, &isodiff::Limits::default()).expect("opens");
    let mut layout = fs.byte_layout().expect("a layout");
    let mut out = Vec::new();
    let mut at = 0u64;
    for s in layout.spans() {
        if s.start > at {
            out.push((at, s.start - at));
        }
        at = at.max(s.start + s.len);
    }
    if at < bytes.len() as u64 {
        out.push((at, bytes.len() as u64 - at));
    }
    out
}

/// The bytes claimed by spans of `class`.
fn claimed_as(image: &Path, class: &str) -> u64 {
    let bytes = std::fs::read(image).expect("read");
    let fs = isodiff::open(&bytes, &isodiff::Limits::default()).expect("opens");
    let mut layout = fs.byte_layout().expect("a layout");
    layout
        .spans()
        .iter()
        .filter(|s| s.owner.class == class)
        .map(|s| s.len)
        .sum()
}

#[test]
fn grub_mkrescue_hfsplus_is_claimed() {
    if !on_path(&GRUB_TOOLS) {
        return;
    }
    let dir = TempDir::new("grub-hfsplus");
    let [a, b]: [std::path::PathBuf; 2] = grub_mkrescue_images(&dir.0, &["a.iso", "b.iso"])
        .try_into()
        .expect("two images");

    // Every byte belongs to a structure: the HFS+ volume headers, catalog
    // nodes and special files, and the zero padding too, named for what it
    // is (xorriso's 300 KiB at the end lies in the partition `Gap1`).
    for image in [&a, &b] {
        let g = gaps(image);
        assert!(
            g.is_empty(),
            "unclaimed bytes in {}: {g:?}",
            image.display()
        );
        assert!(claimed_as(image, "padding") >= 300 << 10);
        assert!(claimed_as(image, "sector padding") > 0);
    }

    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1));
    // The catalog records' dates follow the entries' times, the volume
    // headers' dates are image facts: no differing byte is left unexplained.
    let bytes = of_kind(&r, "bytes");
    assert!(bytes.is_empty(), "{bytes:#?}");
    let rec = record(&r, &[]);
    assert!(n(&rec["differing_bytes"]) > 0);
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec:#}");
    let fields = found(&r);
    for field in ["hfsplus.create_date", "hfsplus.modify_date"] {
        assert!(
            fields
                .iter()
                .any(|(loc, kind, f)| loc.is_empty() && kind == "image" && f == field),
            "{field} not reported: {fields:?}"
        );
    }
}

/// The HFS+ tree is another namespace over the ISO's files: a catalog file
/// record is paired with the entry whose data it shares, so a date changed
/// in the record alone is reported at that entry (as its attribute), and
/// every differing byte is explained by it.
#[test]
fn hfsplus_catalog_records_pair_with_their_entries() {
    if !on_path(&GRUB_TOOLS) {
        return;
    }
    let dir = TempDir::new("grub-hfsplus-pair");
    let a = grub_mkrescue_images(&dir.0, &["a.iso"]).remove(0);
    let mut bytes = std::fs::read(&a).expect("image");
    // The file record of grub.cfg: key length (2), parent id (4), name
    // length (2), the name in UTF-16BE; then record type 2 (a file), and the
    // content modification date 16 bytes into the record's data.
    let name: Vec<u8> = "grub.cfg"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]) as usize;
    let file_record = (8..bytes.len() - name.len())
        .filter(|&p| bytes[p..p + name.len()] == name[..])
        .map(|p| p - 8)
        .find(|&key| {
            let data = key + 2 + be16(&bytes, key);
            be16(&bytes, key + 6) == 8 && be16(&bytes, key) == 22 && be16(&bytes, data) == 2
        })
        .expect("the catalog file record of grub.cfg");
    let date = file_record + 2 + 22 + 16;
    bytes[date + 3] ^= 1;
    let b = dir.0.join("b.iso");
    std::fs::write(&b, &bytes).expect("patched");

    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let fields = found(&r);
    assert_eq!(
        fields.into_iter().collect::<Vec<_>>(),
        vec![(
            "/boot/grub/grub.cfg".to_owned(),
            "attribute".to_owned(),
            "hfsplus.record.content_mod_date".to_owned()
        )],
        "{r:#}"
    );
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 1, "{rec:#}");
    assert_eq!(n(&rec["explained_bytes"]), 1, "{rec:#}");
}
