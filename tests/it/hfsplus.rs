//! The HFS+ volume of grub-mkrescue images (APM partition `HFSPLUS_Hybrid`):
//! its volume headers and catalog are claimed in the byte layout, so two runs
//! of grub-mkrescue on one tree leave no unclaimed differing bytes; and every
//! byte of such an image, zero padding included, is claimed by a structure.
//! The HFS+ tree is a namespace over the ISO tree: each entry's HFS+ name and
//! dates, checked against 7-Zip's reading of the volume (`7zz`, Debian's
//! `7zip`), on grub-mkrescue's images and on an xorriso `-hfsplus` image of a
//! tree with folders, empty files, hard links and a symlink.

use crate::common;

use std::collections::BTreeMap;
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
        // Each entry has its HFS+ record, as 7-Zip reads it (hundreds of
        // modules, the directories, the Mac boot files), but the two that
        // grub-mkrescue leaves out of the HFS+ tree.
        if on_path(&["7zz"]) {
            let (paired, unpaired) = agrees_with_7zip(image, &dir.0);
            assert!(paired > 100, "{paired}");
            assert_eq!(unpaired, ["/boot.catalog", "/efi.img"]);
        }
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

/// A tree with what the HFS+ catalog pairs in several ways: folders (one
/// empty, one dated apart), empty files, a file and its hard link, a
/// symlink, a name HFS+ decomposes.
fn hybrid_tree(root: &Path) {
    let sh = format!(
        r#"set -e
cd '{root}'
mkdir -p dir/sub emptydir
printf 'hello\n' > dir/file.txt
: > empty
: > dir/sub/empty2
head -c 5000 /dev/zero | tr '\0' x > big
ln big bighard
ln -s dir/file.txt link
printf 'u' > 'Ünïcode.txt'
touch -d '2020-01-02 03:04:05' dir emptydir dir/sub/empty2
"#,
        root = root.display()
    );
    let ok = std::process::Command::new("sh")
        .args(["-c", &sh])
        .status()
        .expect("sh");
    assert!(ok.success());
}

/// `xorriso -as mkisofs -R -J -hfsplus` of `tree` at `out`.
fn hybrid_image(tree: &Path, out: &Path) {
    let ok = std::process::Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-R", "-J", "-hfsplus"])
        .args(["-apm-block-size", "2048", "-o"])
        .arg(out)
        .arg(tree)
        .output()
        .expect("xorriso runs");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

/// Every entry of `image` below the root: path -> its attributes (name ->
/// value as text, `unset` when unset).
fn attributes(image: &[u8]) -> BTreeMap<String, BTreeMap<String, String>> {
    let fs = isodiff::open(image, &isodiff::Limits::default()).expect("opens");
    let mut out = BTreeMap::new();
    let mut stack = vec![(fs.root(), String::new())];
    while let Some((dir, path)) = stack.pop() {
        let listing = fs.children(dir).expect("a listing");
        assert!(listing.errors.is_empty(), "{:?}", listing.errors);
        for e in listing.entries {
            let p = format!("{path}/{}", String::from_utf8_lossy(&e.name));
            let attrs = e
                .attrs
                .iter()
                .map(|a| {
                    let v = match &a.value {
                        isodiff::Value::Text(t) => t.clone(),
                        isodiff::Value::Time(t) => t.rfc3339(),
                        isodiff::Value::Unset => "unset".to_owned(),
                        other => format!("{other:?}"),
                    };
                    (a.name.to_string(), v)
                })
                .collect();
            if e.meta.kind == isodiff::EntryKind::Dir {
                stack.push((e.node, p.clone()));
            }
            out.insert(p, attrs);
        }
    }
    out
}

/// 7-Zip's listing of the HFS+ volume of `image` (its Apple partition map's
/// `Apple_HFS` partition, cut out): path below the volume's root -> (name,
/// create, content modification, attribute modification and access
/// dates, as `YYYY-MM-DDTHH:MM:SSZ`).
fn seven_zip(image: &Path, dir: &Path) -> BTreeMap<String, [String; 5]> {
    let bytes = std::fs::read(image).expect("image");
    let be = |at: usize, n: usize| {
        bytes[at..at + n]
            .iter()
            .fold(0usize, |v, &b| v << 8 | b as usize)
    };
    let block = be(2, 2);
    let start = (1..16)
        .map(|i| block * i)
        .find(|&e| &bytes[e..e + 2] == b"PM" && bytes[e + 48..].starts_with(b"Apple_HFS\0"))
        .map(|e| be(e + 8, 4) * block)
        .expect("an Apple_HFS partition");
    let volume = dir.join("hfs.img");
    std::fs::write(&volume, &bytes[start..]).expect("volume");
    let out = std::process::Command::new("7zz")
        .args(["l", "-tHFS", "-slt"])
        .arg(&volume)
        .env("TZ", "UTC")
        .output()
        .expect("7zz runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut map = BTreeMap::new();
    for item in text.split("\n\n").filter(|b| b.contains("\nFolder = ")) {
        let get = |k: &str| {
            item.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} = ")))
                .unwrap_or_default()
                .to_owned()
        };
        let time = |k: &str| format!("{}Z", get(k).replacen(' ', "T", 1));
        // The volume's root folder is named after the volume.
        let full = get("Path");
        let Some((_, path)) = full.split_once('/') else {
            continue;
        };
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        let dates = [
            time("Created"),
            time("Modified"),
            time("Metadata Changed"),
            time("Accessed"),
        ];
        let [a, b, c, d] = dates;
        map.insert(format!("/{path}"), [name, a, b, c, d]);
    }
    map
}

/// Checks the HFS+ names and dates of the entries of `image` (scratch
/// files in `dir`) against 7-Zip's reading of its HFS+ volume: each entry
/// with a record agrees with 7-Zip on its name and four dates (7-Zip shows
/// no backup date), and 7-Zip lists no other. The count of those entries,
/// and the paths of the entries without a record.
fn agrees_with_7zip(image: &Path, dir: &Path) -> (usize, Vec<String>) {
    let ours = attributes(&std::fs::read(image).expect("image"));
    let theirs = seven_zip(image, dir);
    // An entry's path by HFS+ names (decomposed as HFS+ writes them).
    let hfs_path = |iso: &str| -> String {
        let mut p = String::new();
        let mut at = String::new();
        for part in iso.split('/').skip(1) {
            at = format!("{at}/{part}");
            p = format!("{p}/{}", ours[&at]["hfsplus.name"]);
        }
        p
    };
    let mut unpaired = Vec::new();
    for (path, attrs) in &ours {
        if attrs["hfsplus.name"] == "unset" {
            assert_eq!(
                attrs.keys().filter(|k| k.starts_with("hfsplus.")).count(),
                1
            );
            unpaired.push(path.clone());
            continue;
        }
        let hfs = hfs_path(path);
        let Some([name, created, modified, changed, accessed]) = theirs.get(&hfs) else {
            panic!("{path} ({hfs}) not listed by 7-Zip: {theirs:#?}");
        };
        assert_eq!(&attrs["hfsplus.name"], name, "{path}");
        for (attr, want) in [
            ("hfsplus.record.create_date", created),
            ("hfsplus.record.content_mod_date", modified),
            ("hfsplus.record.attribute_mod_date", changed),
            ("hfsplus.record.access_date", accessed),
        ] {
            assert_eq!(&attrs[attr], want, "{path} {attr}");
        }
    }
    let paired = ours.len() - unpaired.len();
    assert_eq!(theirs.len(), paired, "7-Zip lists others: {theirs:#?}");
    (paired, unpaired)
}

/// The HFS+ tree of an xorriso `-hfsplus` image is a namespace over the
/// ISO tree: every entry (folders, empty files, each hard link, the symlink)
/// has its HFS+ name and dates as attributes, as 7-Zip reads them from the
/// catalog; a date changed in a folder's or an empty file's record alone is
/// reported at that entry; and every catalog byte is an entry's, so nothing
/// differing is left unexplained.
#[test]
fn hfsplus_folders_and_empty_files_pair_with_their_entries() {
    if !on_path(&["xorriso", "7zz"]) {
        return;
    }
    let dir = TempDir::new("hfsplus-tree");
    let tree = dir.0.join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    hybrid_tree(&tree);
    let a = dir.0.join("a.iso");
    hybrid_image(&tree, &a);
    let bytes = std::fs::read(&a).expect("image");
    let (paired, unpaired) = agrees_with_7zip(&a, &dir.0);
    assert_eq!((paired, unpaired.len()), (10, 0), "{unpaired:?}");
    let ours = attributes(&bytes);
    // The dates set apart are the folder's and the empty file's own.
    assert_eq!(
        ours["/dir"]["hfsplus.record.content_mod_date"],
        "2020-01-02T03:04:05Z"
    );
    assert_eq!(
        ours["/dir/sub/empty2"]["hfsplus.record.content_mod_date"],
        "2020-01-02T03:04:05Z"
    );
    assert_eq!(ours["/bighard"]["hfsplus.name"], "bighard");

    // A date changed in the records of a folder and of an empty file alone.
    let mut patched = bytes.clone();
    for (name, kind) in [("emptydir", 1u16), ("empty", 2)] {
        let units: Vec<u8> = name.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let key_len = 6 + units.len();
        let be16 = |b: &[u8], at: usize| u16::from_be_bytes([b[at], b[at + 1]]) as usize;
        let key = (8..bytes.len() - units.len())
            .filter(|&p| bytes[p..p + units.len()] == units[..])
            .map(|p| p - 8)
            .find(|&k| {
                be16(&bytes, k) == key_len
                    && be16(&bytes, k + 6) == name.len()
                    && be16(&bytes, k + 2 + key_len) == usize::from(kind)
            })
            .unwrap_or_else(|| panic!("the catalog record of {name}"));
        // The content modification date, 16 bytes into the record's data.
        patched[key + 2 + key_len + 16 + 3] ^= 1;
    }
    let b = dir.0.join("b.iso");
    std::fs::write(&b, &patched).expect("patched");
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let want: std::collections::BTreeSet<(String, String, String)> = ["/emptydir", "/empty"]
        .iter()
        .map(|p| {
            (
                (*p).to_owned(),
                "attribute".to_owned(),
                "hfsplus.record.content_mod_date".to_owned(),
            )
        })
        .collect();
    assert_eq!(found(&r), want, "{r:#}");
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 2, "{rec:#}");
    assert_eq!(n(&rec["explained_bytes"]), 2, "{rec:#}");
    // Every byte of the image is claimed, the catalog's by records.
    assert!(gaps(&a).is_empty(), "{:?}", gaps(&a));

    // A folder renamed in the HFS+ tree alone (its record's key and its
    // thread record, each with the name after its length, 8 units): the
    // record is still the entry's (the one folder left over in the root on
    // both sides), so its name differs, said at the entry, as a Joliet
    // name would; its bytes follow from that.
    let name: Vec<u8> = "emptydir"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let mut renamed = bytes.clone();
    let mut patched = 0;
    for p in 2..bytes.len() - name.len() {
        if bytes[p..p + name.len()] == name[..] && bytes[p - 2..p] == [0, 8] {
            renamed[p + name.len() - 1] = b's';
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "the folder record's key and its thread record");
    let c = dir.0.join("c.iso");
    std::fs::write(&c, &renamed).expect("renamed");
    let (code, r) = json_report(&a, &c);
    assert_eq!(code, Some(1), "{r:#}");
    let want: std::collections::BTreeSet<(String, String, String)> = [(
        "/emptydir".to_owned(),
        "attribute".to_owned(),
        "hfsplus.name".to_owned(),
    )]
    .into();
    assert_eq!(found(&r), want, "{r:#}");
    let d = &r["differences"][0];
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("emptydir"), Some("emptydis")),
        "{r:#}"
    );
    let rec = record(&r, &[]);
    assert_eq!(n(&rec["differing_bytes"]), 2, "{rec:#}");
    assert_eq!(n(&rec["unattributed_bytes"]), 0, "{rec:#}");
    assert_eq!(n(&rec["explained_bytes"]), 2, "{rec:#}");
}
