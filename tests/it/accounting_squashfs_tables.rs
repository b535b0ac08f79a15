//! Byte accounting of the squashfs id, export and xattr tables, on images made
//! by mksquashfs (owners set with pseudo definitions, xattrs with setfattr) and
//! on copies with single fields patched: each table is decoded into items owned
//! by the entries that use them, an owner or xattr difference explains the table
//! bytes that encode it and nothing else, and a changed field no difference
//! explains is named down to the item and field.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{differences, have, json_report, n, of_kind, record, TempDir};
use serde_json::Value as Json;

/// Runs mksquashfs on `tree` with fixed times, the root owned by 0:0, and
/// `extra` options.
fn mksquashfs(tree: &Path, out: &Path, extra: &[&str]) {
    let output = Command::new("mksquashfs")
        .arg(tree)
        .arg(out)
        .args([
            "-quiet",
            "-no-progress",
            "-noappend",
            "-mkfs-time",
            "1",
            "-all-time",
            "1",
            "-root-uid",
            "0",
            "-root-gid",
            "0",
        ])
        .args(extra)
        .output()
        .expect("mksquashfs runs");
    assert!(
        output.status.success(),
        "mksquashfs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Sets xattr `name` of `path` to `value` with setfattr; false (or, with
/// `ISODIFF_REQUIRE_TOOLS`, a failure) when the file system here refuses it.
fn setfattr(path: &Path, name: &str, value: &str) -> bool {
    let ok = Command::new("setfattr")
        .args(["-n", name, "-v", value])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("ISODIFF_REQUIRE_TOOLS").is_none(),
            "setfattr -n {name} failed on {} (ISODIFF_REQUIRE_TOOLS is set)",
            path.display()
        );
        eprintln!("note: setfattr refused here; skipping the xattr part of the test");
    }
    ok
}

/// A tree of `/f`, its hard link `/h` and `/g`, three small files (fragment
/// tails, so every inode is a 32-byte basic inode when there are no xattrs).
fn tree(dir: &Path, name: &str) -> PathBuf {
    let tree = dir.join(name);
    std::fs::create_dir_all(&tree).expect("tree");
    std::fs::write(tree.join("f"), "f\n").expect("write");
    std::fs::write(tree.join("g"), "g\n").expect("write");
    std::fs::hard_link(tree.join("f"), tree.join("h")).expect("hard link");
    tree
}

fn both_tools() -> bool {
    have("mksquashfs", &["-version"]) && have("setfattr", &["--version"])
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn le_u64(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default()) as usize
}

/// Where the data of the first metadata block of a lookup table (whose index
/// starts at `index`) is; asserts the block is stored uncompressed.
fn first_lookup_block(img: &[u8], index: usize) -> usize {
    let block = le_u64(img, index);
    assert_ne!(
        le_u16(img, block) & 0x8000,
        0,
        "the block at {block} is stored uncompressed"
    );
    block + 2
}

/// `name` with the 8 hex digits after its last ` #` replaced by `<digest>`;
/// panics when they are not there.
fn masked(name: &str) -> String {
    let (head, digest) = name
        .rsplit_once(" #")
        .unwrap_or_else(|| panic!("no digest in {name:?}"));
    assert!(
        digest.len() == 8 && digest.bytes().all(|c| c.is_ascii_hexdigit()),
        "{name:?}"
    );
    format!("{head} #<digest>")
}

/// Asserts two images have the same size: byte accounting needs it.
fn same_size(a: &Path, b: &Path) {
    let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    assert_eq!(
        len(a),
        len(b),
        "the pair must have the same size for byte accounting; mksquashfs made \
         images of different sizes here"
    );
}

/// Asserts every differing byte of the pair is explained by its differences:
/// no `bytes` difference, nothing reported, nothing unclaimed.
fn all_explained(r: &Json) {
    assert!(of_kind(r, "bytes").is_empty(), "{r:#}");
    let rec = record(r, &[]);
    assert!(n(&rec["differing_bytes"]) > 0, "{rec}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 0, "{rec}");
    assert!(n(&rec["explained_bytes"]) > 0, "{rec}");
}

#[test]
fn id_export_and_xattr_tables_are_decoded_into_items_of_their_entries() {
    if !both_tools() {
        return;
    }
    let dir = TempDir::new("sqt-items");
    let t = tree(&dir.0, "t");
    if !setfattr(&t.join("f"), "user.x", "aaaa") || !setfattr(&t.join("g"), "user.y", "same") {
        return;
    }
    let img = dir.0.join("a.sq");
    mksquashfs(&t, &img, &["-p", "g m 644 1000 1000"]);
    let bytes = std::fs::read(&img).expect("read");
    let fs = isodiff::open(&bytes, &isodiff::Limits::default()).expect("opens");
    let mut layout = fs.byte_layout().expect("a layout");

    let table = |name: &str| {
        layout
            .tables
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no decoded {name}"))
            .clone()
    };
    // (item name, its entries) of a table.
    let items = |name: &str| -> Vec<(String, Vec<String>)> {
        let t = table(name);
        t.items
            .iter()
            .map(|it| {
                let mut entries: Vec<String> = it
                    .entries
                    .iter()
                    .map(|e| String::from_utf8_lossy(e).into_owned())
                    .collect();
                entries.sort();
                (it.name(&t.name), entries)
            })
            .collect()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // Ids by value, each owned by the entries that use it as uid or gid.
    let mut ids = items("id table");
    ids.sort();
    assert_eq!(
        ids,
        [
            ("id table: id 0".to_owned(), s(&["/", "/f", "/h"])),
            ("id table: id 1000".to_owned(), s(&["/g"])),
        ]
    );
    // One inode reference per inode number, owned by its paths (hard links
    // share one).
    let mut export = items("export table");
    export.sort();
    assert_eq!(
        export,
        [
            (
                "export table: reference to inode of /".to_owned(),
                s(&["/"])
            ),
            (
                "export table: reference to inode of /f".to_owned(),
                s(&["/f", "/h"])
            ),
            (
                "export table: reference to inode of /g".to_owned(),
                s(&["/g"])
            ),
        ]
    );
    // Xattr sets named by their keys and a digest of what they hold, and the
    // ids after the sets they point at.
    let mut xids: Vec<(String, Vec<String>)> = items("xattr id table")
        .into_iter()
        .map(|(name, entries)| (masked(&name), entries))
        .collect();
    xids.sort();
    assert_eq!(
        xids,
        [
            (
                "xattr id table: entry for user.x #<digest>".to_owned(),
                s(&["/f", "/h"])
            ),
            (
                "xattr id table: entry for user.y #<digest>".to_owned(),
                s(&["/g"])
            ),
        ]
    );
    let mut sets: Vec<(String, Vec<String>)> = items("xattr key/value table")
        .into_iter()
        .map(|(name, entries)| (masked(&name), entries))
        .collect();
    sets.sort();
    assert_eq!(
        sets,
        [
            (
                "xattr key/value table: key/value set user.x #<digest>".to_owned(),
                s(&["/f", "/h"])
            ),
            (
                "xattr key/value table: key/value set user.y #<digest>".to_owned(),
                s(&["/g"])
            ),
        ]
    );
    // The digest names what a set holds: the id of /f and its set agree.
    let digest = |table: &str| {
        items(table)
            .into_iter()
            .find(|(_, entries)| entries.contains(&"/f".to_owned()))
            .and_then(|(name, _)| name.rsplit_once(" #").map(|(_, d)| d.to_owned()))
    };
    assert_eq!(digest("xattr id table"), digest("xattr key/value table"));
    // A set's fields are its key's type, name and value, by the key's name.
    let kv = table("xattr key/value table");
    let set = kv
        .items
        .iter()
        .find(|it| it.entries.iter().any(|e| e[..] == b"/f"[..]))
        .expect("the set of /f");
    let set_bytes = &kv.stream[set.range.start as usize..set.range.end as usize];
    // Type and name length (4), "x", value length (4), "aaaa".
    assert_eq!(set_bytes.len(), 4 + 1 + 4 + 4, "{set_bytes:?}");
    let fields: Vec<(u64, u64, String)> = (kv.fields)(set, set_bytes)
        .into_iter()
        .map(|f| (f.at, f.len, f.name.into_owned()))
        .collect();
    assert_eq!(
        fields,
        [
            (0, 2, "user.x type".to_owned()),
            (2, 3, "user.x name".to_owned()),
            (5, 8, "user.x value".to_owned()),
        ]
    );

    // Every metadata block of these tables points at its decoded table.
    let names: Vec<String> = layout.tables.iter().map(|t| t.name.to_string()).collect();
    let mut seen = Vec::new();
    for span in layout.spans() {
        if span.owner.class != "metadata block" {
            continue;
        }
        let Some((table, _)) = span.owner.name.split_once(": ") else {
            continue;
        };
        match span.owner.explain {
            isodiff::internals::Explain::Decoded(t) => {
                assert_eq!(
                    names.get(t).map(String::as_str),
                    Some(table),
                    "{}",
                    span.owner.name
                );
            }
            ref other => panic!("{}: {other:?}", span.owner.name),
        }
        seen.push(table.to_owned());
    }
    for table in [
        "id table",
        "export table",
        "xattr id table",
        "xattr key/value table",
    ] {
        assert!(seen.iter().any(|t| t == table), "{table}: {seen:?}");
    }
}

#[test]
fn a_changed_owner_is_explained_by_the_id_and_inode_tables() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("sqt-owner");
    let t = tree(&dir.0, "t");
    let a = dir.0.join("a.sq");
    mksquashfs(&t, &a, &["-p", "g m 644 1000 1000"]);
    for (pseudo, kind, other) in [
        // A new uid, met before 1000 when the inodes are written: the id
        // table gets an id more before 1000, and /g's gid index changes with
        // its gid unchanged.
        ("g m 644 1001 1000", "uid", "gid"),
        // A new gid, met last: the id table gets an id more at its end, and
        // the rest of its block decodes to the same bytes.
        ("g m 644 1000 1001", "gid", "uid"),
    ] {
        let b = dir.0.join(format!("{kind}.sq"));
        mksquashfs(&t, &b, &["-p", pseudo]);
        same_size(&a, &b);
        let (code, r) = json_report(&a, &b);
        assert_eq!(code, Some(1), "{r:#}");
        let changed = of_kind(&r, kind);
        assert_eq!(changed.len(), 1, "{r:#}");
        assert_eq!(changed[0]["location"], serde_json::json!(["/g"]));
        assert!(of_kind(&r, other).is_empty(), "{r:#}");
        let image = of_kind(&r, "image");
        assert_eq!(image.len(), 1, "{r:#}");
        assert_eq!(image[0]["field"], "superblock.id_count");
        all_explained(&r);
    }
}

#[test]
fn a_patched_id_is_the_owner_difference_of_the_entries_using_it() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("sqt-id");
    let t = tree(&dir.0, "t");
    let a = dir.0.join("a.sq");
    mksquashfs(&t, &a, &["-noId", "-p", "g m 644 1000 1000"]);
    let mut img = std::fs::read(&a).expect("read");
    assert_eq!(le_u16(&img, 26), 2, "two ids: 0 and 1000");
    let ids = first_lookup_block(&img, le_u64(&img, 48));
    let k = (0..2)
        .find(|k| le_u32(&img, ids + 4 * k) == 1000)
        .expect("id 1000 in the id table");
    // 1000 (0x03e8) becomes 1001.
    img[ids + 4 * k] ^= 0x01;
    let b = dir.0.join("b.sq");
    std::fs::write(&b, &img).expect("write");

    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    for kind in ["uid", "gid"] {
        let d = of_kind(&r, kind);
        assert_eq!(d.len(), 1, "{kind}: {r:#}");
        assert_eq!(d[0]["location"], serde_json::json!(["/g"]));
        assert_eq!(
            (d[0]["a"].as_u64(), d[0]["b"].as_u64()),
            (Some(1000), Some(1001))
        );
    }
    all_explained(&r);
    assert_eq!(n(&record(&r, &[])["differing_bytes"]), 1);
}

#[test]
fn ids_reordered_with_every_index_renumbered_are_placement_only() {
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("sqt-swap");
    let t = tree(&dir.0, "t");
    let a = dir.0.join("a.sq");
    mksquashfs(&t, &a, &["-noI", "-no-xattrs", "-p", "g m 644 1000 1000"]);
    let mut img = std::fs::read(&a).expect("read");
    assert_eq!(le_u16(&img, 26), 2, "two ids: 0 and 1000");
    // Swap the two ids ...
    let ids = first_lookup_block(&img, le_u64(&img, 48));
    let (x, y) = (le_u32(&img, ids), le_u32(&img, ids + 4));
    img[ids..ids + 4].copy_from_slice(&y.to_le_bytes());
    img[ids + 4..ids + 8].copy_from_slice(&x.to_le_bytes());
    // ... and every uid and gid index of every inode: the same owners.
    let inode_table = le_u64(&img, 64);
    let header = le_u16(&img, inode_table);
    assert_ne!(header & 0x8000, 0, "inodes stored uncompressed (-noI)");
    let end = inode_table + 2 + usize::from(header & 0x7fff);
    let block_size = le_u32(&img, 12);
    let mut at = inode_table + 2;
    for _ in 0..le_u32(&img, 4) {
        let kind = le_u16(&img, at);
        let len = match kind {
            1 => 32,
            // Basic and extended files (the hard link makes one extended):
            // header and body, then one size word per full block.
            2 | 9 => {
                let (body, fragment, size) = if kind == 2 {
                    (32, le_u32(&img, at + 20), le_u32(&img, at + 28))
                } else {
                    (56, le_u32(&img, at + 44), le_u64(&img, at + 24) as u32)
                };
                let blocks = if fragment == u32::MAX {
                    size.div_ceil(block_size)
                } else {
                    size / block_size
                };
                body + 4 * blocks as usize
            }
            other => panic!("inode type {other} at {at}: only dirs and files expected"),
        };
        for field in [at + 4, at + 6] {
            img[field] ^= 1;
        }
        at += len;
    }
    assert_eq!(at, end, "the inodes fill their block");
    let b = dir.0.join("b.sq");
    std::fs::write(&b, &img).expect("write");

    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    // No entry differs; the bytes that do are only where things are, which
    // with nothing else differing is reported as such.
    let diffs = differences(&r);
    assert!(diffs.iter().all(|d| d["kind"] == "bytes"), "{r:#}");
    let fields: Vec<&str> = diffs.iter().filter_map(|d| d["field"].as_str()).collect();
    assert!(
        fields.iter().all(|f| f.ends_with(" (placement)")),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"id table: metadata block 0 (placement)"),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"inode table: metadata block 0 (placement)"),
        "{fields:?}"
    );
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
    assert_eq!(n(&rec["explained_bytes"]), 0, "{rec}");
}

/// Where the xattr id table entry of the set whose first key is `user.NAME`
/// is, in an image made with -noX.
fn xattr_id_entry(img: &[u8], name: &[u8]) -> usize {
    let header = le_u64(img, 56);
    let kv_start = le_u64(img, header);
    let count = le_u32(img, header + 8) as usize;
    let kv = kv_start + 2;
    assert_ne!(
        le_u16(img, kv_start) & 0x8000,
        0,
        "key/values stored uncompressed (-noX)"
    );
    let ids = first_lookup_block(img, header + 16);
    (0..count)
        .map(|i| ids + 16 * i)
        .find(|&e| {
            let xref = le_u64(img, e);
            assert_eq!(xref >> 16, 0, "one key/value block");
            let key = kv + (xref & 0xffff);
            let len = usize::from(le_u16(img, key + 2));
            le_u16(img, key) == 0 && &img[key + 4..key + 4 + len] == name
        })
        .unwrap_or_else(|| panic!("no set with user.{}", String::from_utf8_lossy(name)))
}

#[test]
fn a_changed_xattr_value_is_that_attribute_and_nothing_more() {
    if !both_tools() {
        return;
    }
    let dir = TempDir::new("sqt-xattr");
    let (ta, tb) = (tree(&dir.0, "ta"), tree(&dir.0, "tb"));
    for (t, v) in [(&ta, "aaaa"), (&tb, "bbbb")] {
        if !setfattr(&t.join("f"), "user.x", v) || !setfattr(&t.join("g"), "user.y", "same") {
            return;
        }
    }
    let (a, b) = (dir.0.join("a.sq"), dir.0.join("b.sq"));
    mksquashfs(&ta, &a, &["-noX"]);
    mksquashfs(&tb, &b, &["-noX"]);
    same_size(&a, &b);
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let diffs = differences(&r);
    let xattr: Vec<(&Json, &Json, &Json)> = diffs
        .iter()
        .filter(|d| d["kind"] == "xattr")
        .map(|d| (&d["location"], &d["field"], &d["b"]))
        .collect();
    assert_eq!(
        xattr,
        [
            (
                &serde_json::json!(["/f"]),
                &Json::from("user.x"),
                &Json::from("bbbb")
            ),
            (
                &serde_json::json!(["/h"]),
                &Json::from("user.x"),
                &Json::from("bbbb")
            ),
        ],
        "{r:#}"
    );
    all_explained(&r);
    assert_eq!(
        n(&record(&r, &[])["differing_bytes"]),
        4,
        "the four value bytes"
    );

    // The same pair, and in b one more byte changed: the size word of /g's
    // xattr id entry, which no reader uses. An xattr difference of /f does not
    // explain a byte of /g's set: it is reported, down to the field.
    let mut img = std::fs::read(&b).expect("read");
    let entry = xattr_id_entry(&img, b"y");
    img[entry + 12] ^= 0x10;
    let b2 = dir.0.join("b2.sq");
    std::fs::write(&b2, &img).expect("write");
    let (code, r) = json_report(&a, &b2);
    assert_eq!(code, Some(1), "{r:#}");
    let bytes = of_kind(&r, "bytes");
    assert_eq!(bytes.len(), 1, "{r:#}");
    assert_eq!(
        masked(
            bytes[0]["field"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches(" (size)")
        ),
        "xattr id table: entry for user.y #<digest>"
    );
    assert!(
        bytes[0]["field"]
            .as_str()
            .is_some_and(|f| f.ends_with(" (size)")),
        "{r:#}"
    );
    assert_eq!(bytes[0]["structure"], "xattr id table: entry");
    assert_eq!(of_kind(&r, "xattr").len(), 2, "{r:#}");
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 5, "{rec}");
    assert_eq!(n(&rec["explained_bytes"]), 4, "{rec}");
    assert_eq!(n(&rec["reported_bytes"]), 1, "{rec}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec}");
}

#[test]
fn a_set_shared_by_many_files_pairs_with_itself_when_one_leaves_it() {
    if !both_tools() {
        return;
    }
    let dir = TempDir::new("sqt-shared");
    let mut images = Vec::new();
    for (name, first) in [("a", "same"), ("b", "different")] {
        let t = dir.0.join(name);
        std::fs::create_dir_all(&t).expect("tree");
        for (i, f) in ["f1", "f2", "f3"].iter().enumerate() {
            std::fs::write(t.join(f), format!("{i}\n")).expect("write");
            // mksquashfs stores the set of f2 and f3 (and in a, of f1) once.
            let value = if i == 0 { first } else { "same" };
            if !setfattr(&t.join(f), "user.v", value) {
                return;
            }
        }
        let img = dir.0.join(format!("{name}.sq"));
        mksquashfs(&t, &img, &["-noX"]);
        images.push(img);
    }
    let (a, b) = (&images[0], &images[1]);
    same_size(a, b);
    let (code, r) = json_report(a, b);
    assert_eq!(code, Some(1), "{r:#}");
    let xattr = of_kind(&r, "xattr");
    assert_eq!(xattr.len(), 1, "{r:#}");
    assert_eq!(xattr[0]["location"], serde_json::json!(["/f1"]));
    // The set f2 and f3 keep is the same set, although its first file is no
    // longer /f1; the one /f1 has now is explained by its difference.
    all_explained(&r);
}

#[test]
fn a_value_stored_by_reference_in_one_image_and_in_place_in_the_other_is_placement() {
    if !both_tools() {
        return;
    }
    let dir = TempDir::new("sqt-ool");
    let mut images = Vec::new();
    let long = "LONGVALUELONGVALUE";
    for (name, first) in [("a", long), ("b", "OTHERVALUEOTHERVAL")] {
        let t = dir.0.join(name);
        std::fs::create_dir_all(&t).expect("tree");
        // In a, /f2's user.a equals /f1's: mksquashfs stores it once, and /f2's
        // set refers to it. In b, /f1's differs: /f2's set holds it in place.
        for (f, a, b) in [("f1", first, "1"), ("f2", long, "2")] {
            std::fs::write(t.join(f), format!("{f}\n")).expect("write");
            if !setfattr(&t.join(f), "user.a", a) || !setfattr(&t.join(f), "user.b", b) {
                return;
            }
        }
        let img = dir.0.join(format!("{name}.sq"));
        mksquashfs(&t, &img, &["-noX"]);
        images.push(img);
    }
    let (a, b) = (&images[0], &images[1]);
    same_size(a, b);
    let raw = std::fs::read(a).expect("read");
    assert_eq!(
        raw.windows(long.len())
            .filter(|w| *w == long.as_bytes())
            .count(),
        1,
        "a stores the long value once"
    );
    let (code, r) = json_report(a, b);
    assert_eq!(code, Some(1), "{r:#}");
    let xattr = of_kind(&r, "xattr");
    assert_eq!(xattr.len(), 1, "{r:#}");
    assert_eq!(xattr[0]["location"], serde_json::json!(["/f1"]));
    // /f2's attributes are the same; how its set stores them follows from
    // /f1's change: placement, not a finding.
    all_explained(&r);
    assert!(n(&record(&r, &[])["placement_bytes"]) > 0, "{r:#}");
}

/// The layouts name entries by their raw names, as the diff does: a file whose
/// name is no UTF-8 has its inode bytes explained by its own mode difference.
#[test]
fn the_inode_of_a_name_that_is_no_utf8_is_explained_by_its_difference() {
    use std::os::unix::ffi::OsStrExt;
    if !have("mksquashfs", &["-version"]) {
        return;
    }
    let dir = TempDir::new("sqt-latin1");
    let t = tree(&dir.0, "t");
    let name: &[u8] = b"caf\xe9";
    std::fs::write(t.join(std::ffi::OsStr::from_bytes(name)), "caf\n").expect("write");
    let mut images = Vec::new();
    for (side, mode) in [("a", "644"), ("b", "600")] {
        // The pseudo definition names the file by its raw bytes.
        let pseudo = dir.0.join(format!("{side}.pseudo"));
        let mut line = name.to_vec();
        line.extend_from_slice(format!(" m {mode} 0 0\n").as_bytes());
        std::fs::write(&pseudo, line).expect("write");
        let img = dir.0.join(format!("{side}.sq"));
        mksquashfs(&t, &img, &["-pf", pseudo.to_str().expect("an ASCII path")]);
        images.push(img);
    }
    let (a, b) = (&images[0], &images[1]);
    same_size(a, b);
    let (code, r) = json_report(a, b);
    assert_eq!(code, Some(1), "{r:#}");
    assert_eq!(of_kind(&r, "mode").len(), 1, "{r:#}");
    all_explained(&r);
}
