//! Inside a differing file (issue 18): the bytes of the differing regions of a
//! binary, in every report format; EFI binaries (PE) read field by field, in a
//! FAT image in an ISO, as installers hold them.

use crate::common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::{differences, find, fixture, isodiff, json_report, on_path, TempDir};

const HELLO: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1/bin/hello";
const MOTD: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1/share/motd";

/// `isodiff ARGS... A B` on the bundled pair.
fn run(args: &[&OsStr]) -> std::process::Output {
    let (a, b) = (fixture("nixos-like-a.iso"), fixture("nixos-like-b.iso"));
    let mut all: Vec<&OsStr> = args.to_vec();
    all.push(a.as_os_str());
    all.push(b.as_os_str());
    isodiff(&all)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn content_of<'j>(json: &'j serde_json::Value, path: &str) -> &'j serde_json::Value {
    json["differences"]
        .as_array()
        .and_then(|ds| {
            ds.iter()
                .find(|d| d["kind"] == "content" && d["location"][1] == path)
        })
        .unwrap_or_else(|| panic!("no content difference of {path}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// The 20 bytes planted in the hello binary (`abcdefghijklmnopqrst` at 4096).
const ROWS: [&str; 5] = [
    "@@ -256,4 +256,4 @@ offset 0xff0",
    "-00001000: 0000 0000 0000 0000 7090 0000 0000 0000  ........p.......",
    "+00001000: 6162 6364 6566 6768 696a 6b6c 6d6e 6f70  abcdefghijklmnop",
    "-00001010: 0700 0000 1100 0000 0000 0000 0000 0000  ................",
    "+00001010: 7172 7374 1100 0000 0000 0000 0000 0000  qrst............",
];

#[test]
fn binary_difference_shows_its_bytes_in_every_format() {
    let dir = TempDir::new("inside-hexdump");
    let f = |name: &str| dir.0.join(name);
    let out = run(&[
        "--text".as_ref(),
        f("r.txt").as_os_str(),
        "--json".as_ref(),
        f("r.json").as_os_str(),
        "--html".as_ref(),
        f("r.html").as_os_str(),
        "--markdown".as_ref(),
        f("r.md").as_os_str(),
        "--diffoscope-json".as_ref(),
        f("d.json").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let text = read(&f("r.txt"));
    let at = text.find(HELLO).unwrap_or_else(|| panic!("{text}"));
    let after: Vec<&str> = text[at..].lines().skip(3).take(6).collect();
    assert_eq!(after[0], format!("    {}", ROWS[0]), "{text}");
    assert_eq!(
        after[1],
        "     00000ff0: 6890 0000 0000 0000 0700 0000 1000 0000  h..............."
    );
    for (line, want) in after[2..].iter().zip(&ROWS[1..]) {
        assert_eq!(*line, format!("    {want}"));
    }

    // JSON: the bytes of both sides, as added keys; a text keeps its diff only.
    let json: serde_json::Value = serde_json::from_str(&read(&f("r.json"))).expect("JSON");
    assert_eq!(json["isodiff_report"], 1);
    let hello = content_of(&json, HELLO);
    let region = &hello["hexdump"]["regions"][0];
    assert_eq!(region["offset"], 4080);
    let (a, b) = (
        unhex(region["a"].as_str().unwrap_or_default()),
        unhex(region["b"].as_str().unwrap_or_default()),
    );
    assert_eq!((a.len(), b.len()), (64, 64));
    assert_eq!(&b[16..36], b"abcdefghijklmnopqrst");
    assert_eq!(a[..16], b[..16], "context");
    assert!(hello["hexdump"].get("more_regions").is_none());
    let motd = content_of(&json, MOTD);
    assert!(motd.get("hexdump").is_none() && motd.get("text_diff").is_some());

    // HTML: each differing byte is marked, in hex and as a character.
    let html = read(&f("r.html"));
    assert!(
        html.contains("<span class=\"l add\">+00001000: <mark>61</mark><mark>62</mark> "),
        "{html}"
    );
    assert!(html.contains("<mark>a</mark><mark>b</mark>"));
    assert!(html.contains("<span class=\"l ctx\"> 00000ff0: 6890 0000"));

    let md = read(&f("r.md"));
    assert!(ROWS.iter().all(|r| md.contains(r)), "{md}");

    // diffoscope: the hexdump is the node's unified diff, as diffoscope's own
    // `xxd` diff of binaries is.
    let dj = read(&f("d.json"));
    let dj: serde_json::Value = serde_json::from_str(&dj).expect("diffoscope JSON");
    let mut stack = vec![&dj];
    let mut diffs = Vec::new();
    while let Some(n) = stack.pop() {
        diffs.extend(n["unified_diff"].as_str());
        stack.extend(n["details"].as_array().into_iter().flatten());
    }
    assert!(
        diffs.iter().any(|d| ROWS.iter().all(|r| d.contains(r))),
        "{diffs:?}"
    );
}

#[test]
fn hexdump_rows_are_what_xxd_writes() {
    if !common::have("xxd", &["-v"]) {
        return;
    }
    let json = run(&["--json".as_ref(), "-".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let region = &content_of(&json, HELLO)["hexdump"]["regions"][0];
    let dir = TempDir::new("inside-xxd");
    let file = dir.0.join("b.bin");
    std::fs::write(&file, unhex(region["b"].as_str().unwrap_or_default())).expect("write");
    let xxd = Command::new("xxd")
        .args(["-o", "4080"])
        .arg(&file)
        .output()
        .expect("xxd runs");
    let xxd = String::from_utf8_lossy(&xxd.stdout);
    assert_eq!(xxd.lines().count(), 4, "{xxd}");
    let text = String::from_utf8_lossy(&run(&[]).stdout).into_owned();
    for row in xxd.lines() {
        let ours = [format!("    +{row}"), format!("     {row}")];
        assert!(
            ours.iter().any(|o| text.lines().any(|l| l == o)),
            "{row} not in\n{text}"
        );
    }
}

#[test]
fn hexdump_flags_bound_it() {
    let out = run(&["--hexdump-regions".as_ref(), "0".as_ref()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("00001000:"), "{text}");
    let out = run(&["--max-hexdump-bytes".as_ref(), "16".as_ref()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("    @@ -256 +256 @@ offset 0xff0\n"),
        "{text}"
    );
    assert!(text.contains("[region cut: --max-hexdump-bytes reached]"));
    assert!(!text.contains("00001000:"));
}

fn run_tool(cmd: &mut Command) {
    let out = cmd
        .env("TZ", "UTC")
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A real EFI application written by objcopy (which stamps the current time in
/// its TimeDateStamp and computes the checksum): GRUB's when installed, else
/// `/bin/true` made a PE.
fn objcopy_efi(out: &Path) {
    let grub = Path::new("/usr/lib/grub/x86_64-efi/monolithic/grubx64.efi");
    if grub.exists() {
        run_tool(Command::new("objcopy").arg(grub).arg(out));
    } else {
        run_tool(
            Command::new("objcopy")
                .args(["-O", "pei-x86-64", "/bin/true"])
                .arg(out),
        );
    }
}

/// An ISO holding `efi.img`, a FAT image with `efi` as `/EFI/BOOT/BOOTX64.EFI`.
fn efi_iso(dir: &Path, efi: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("mkdir");
    let fat = root.join("efi.img");
    run_tool(
        Command::new("mkfs.vfat")
            .args(["--invariant", "-C", "-n", "EFIBOOT", "-i", "12345678"])
            .arg(&fat)
            .arg("16384"),
    );
    for d in ["::/EFI", "::/EFI/BOOT"] {
        run_tool(Command::new("mmd").arg("-i").arg(&fat).arg(d));
    }
    run_tool(Command::new("touch").args(["-d", "@1700000000"]).arg(efi));
    run_tool(
        Command::new("mcopy")
            .args(["-m", "-i"])
            .arg(&fat)
            .arg(efi)
            .arg("::/EFI/BOOT/BOOTX64.EFI"),
    );
    for f in [&fat, &root] {
        run_tool(Command::new("touch").args(["-d", "@1700000000"]).arg(f));
    }
    let iso = dir.join("a.iso");
    run_tool(
        Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&root),
    );
    iso
}

/// The offset of the PE file's COFF header (after `PE\0\0`, x86-64) in `bytes`.
fn coff_header(bytes: &[u8]) -> usize {
    find(bytes, b"PE\0\0\x64\x86") + 4
}

#[test]
fn efi_binaries_that_differ_only_in_their_time_stamp_say_so() {
    if !on_path(&["objcopy", "mkfs.vfat", "mmd", "mcopy", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-pe");
    let efi = dir.0.join("BOOTX64.EFI");
    objcopy_efi(&efi);
    let a = efi_iso(&dir.0, &efi);
    // What a second objcopy run an hour later writes: another TimeDateStamp,
    // and so another checksum.
    let mut bytes = std::fs::read(&a).expect("read");
    let coff = coff_header(&bytes);
    let stamp = u32::from_le_bytes(bytes[coff + 4..coff + 8].try_into().expect("4 bytes"));
    bytes[coff + 4..coff + 8].copy_from_slice(&(stamp + 3600).to_le_bytes());
    let checksum = coff + 20 + 64;
    bytes[checksum] ^= 0x10;
    let b = dir.0.join("b.iso");
    std::fs::write(&b, &bytes).expect("write");

    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    let at = serde_json::json!(["/efi.img", "/EFI/BOOT/BOOTX64.EFI"]);
    let fields: Vec<(&str, &str)> = ds
        .iter()
        .map(|d| {
            assert_eq!(d["location"], at, "{r:#}");
            (
                d["kind"].as_str().unwrap_or_default(),
                d["field"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("attribute", "pe.checksum"),
            ("attribute", "pe.time_date_stamp")
        ],
        "{r:#}"
    );
    let time = |s: u32| {
        let out = Command::new("date")
            .args(["-u", "-d", &format!("@{s}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(ds[1]["a"], time(stamp).as_str());
    assert_eq!(ds[1]["b"], time(stamp + 3600).as_str());
    // Every differing byte of the FAT image is the file's, explained by them.
    let text =
        String::from_utf8_lossy(&isodiff(&[a.as_os_str(), b.as_os_str()]).stdout).into_owned();
    assert!(
        text.contains("/efi.img:/EFI/BOOT/BOOTX64.EFI  attribute pe.time_date_stamp "),
        "{text}"
    );
    assert!(!text.contains("content"), "{text}");
    assert!(text.contains("every one explained"), "{text}");

    // A changed byte of the code is content, placed in its section, and its
    // section's digest differs.
    let text_start = {
        let out = Command::new("objdump")
            .arg("-h")
            .arg(&efi)
            .output()
            .expect("objdump");
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(".text"))
            .unwrap_or_else(|| panic!("{out}"))
            .to_owned();
        let file_off = line.split_whitespace().nth(5).unwrap_or_default();
        usize::from_str_radix(file_off, 16).expect("hex")
    };
    let mut bytes = std::fs::read(&a).expect("read");
    let pe_start = coff_header(&bytes) - 4 - {
        let e = std::fs::read(&efi).expect("read");
        coff_header(&e) - 4
    };
    bytes[pe_start + text_start + 0x20] ^= 0xff;
    std::fs::write(&b, &bytes).expect("write");
    let (code, r) = json_report(&a, &b);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    let content: Vec<_> = ds.iter().filter(|d| d["kind"] == "content").collect();
    assert_eq!(content.len(), 1, "{r:#}");
    assert_eq!(
        content[0]["summary"],
        "1 byte differs in 1 region from offset ".to_owned()
            + &(text_start + 0x20).to_string()
            + " (section .text+0x20)",
        "{r:#}"
    );
    assert_eq!(content[0]["pe"]["section"], ".text");
    assert!(
        ds.iter().any(|d| d["field"] == "pe.section..text.sha256"),
        "{r:#}"
    );
}

/// An ISO (its dates fixed) holding `files` (path, bytes, mtime), made by xorriso.
fn iso_of(dir: &Path, name: &str, files: &[(&str, &[u8], &str)]) -> std::path::PathBuf {
    let root = dir.join(format!("{name}-root"));
    for (path, bytes, time) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, bytes).expect("write");
        run_tool(Command::new("touch").args(["-d", time]).arg(&p));
    }
    run_tool(Command::new("find").arg(&root).args([
        "-type",
        "d",
        "-exec",
        "touch",
        "-d",
        "@1700000000",
        "{}",
        "+",
    ]));
    let iso = dir.join(format!("{name}.iso"));
    run_tool(
        Command::new("xorriso")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["-as", "mkisofs", "-quiet", "-R", "-o"])
            .arg(&iso)
            .arg(&root),
    );
    iso
}

/// `text` compressed by gzip, its header holding `mtime` (or none) and `name`.
fn gzip(dir: &Path, text: &[u8], mtime: Option<&str>, name: &str) -> Vec<u8> {
    let src = dir.join("gz-src").join(name);
    std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
    std::fs::write(&src, text).expect("write");
    let mut cmd = Command::new("gzip");
    cmd.arg("-c");
    match mtime {
        Some(t) => run_tool(Command::new("touch").args(["-d", t]).arg(&src)),
        None => {
            cmd.arg("-n");
        }
    }
    let out = cmd.arg(&src).output().expect("gzip runs");
    assert!(out.status.success());
    out.stdout
}

const PAGE: &[u8] = b".TH X 1\nline one\nline two\nline three\n";

#[test]
fn gzip_members_are_compared_by_their_header_and_their_text() {
    if !on_path(&["gzip", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-gzip");
    let t = "@1700000000";
    let man = "man/man1/x.1.gz";
    // The same page gzip'd an hour apart: the header time, nothing else.
    let a = gzip(&dir.0, PAGE, Some("@1700000000"), "x.1");
    let b = gzip(&dir.0, PAGE, Some("@1700003600"), "x.1");
    assert_ne!(a, b);
    let ia = iso_of(&dir.0, "a", &[(man, &a, t)]);
    let ib = iso_of(&dir.0, "b", &[(man, &b, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    assert_eq!(ds.len(), 1, "{r:#}");
    assert_eq!(ds[0]["location"], serde_json::json!(["/man/man1/x.1.gz"]));
    assert_eq!(ds[0]["field"], "gzip.mtime");
    assert_eq!(ds[0]["a"], "2023-11-14T22:13:20Z");
    assert_eq!(ds[0]["b"], "2023-11-14T23:13:20Z");
    assert_eq!(r["byte_accounting"][0]["unattributed_bytes"], 0, "{r:#}");
    assert_eq!(
        r["byte_accounting"][0]["explained_bytes"],
        r["byte_accounting"][0]["differing_bytes"]
    );

    // A changed line: a unified diff of the decompressed text.
    let changed = String::from_utf8_lossy(PAGE).replace("two", "2");
    let b = gzip(&dir.0, changed.as_bytes(), Some("@1700000000"), "x.1");
    let ib = iso_of(&dir.0, "b2", &[(man, &b, t)]);
    let out = isodiff(&[ia.as_os_str(), ib.as_os_str()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "/man/man1/x.1.gz  content: 13 bytes differ in 1 region from offset 22; \
             2 more bytes in a after offset 35 (decompressed gzip)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("     line one\n    -line two\n    +line 2\n     line three\n"),
        "{text}"
    );
    assert!(!text.contains("gzip.mtime"), "{text}");

    // The same text compressed harder: the compressed bytes differ for the
    // compressor's settings alone.
    let big: Vec<u8> = (0..4000u32)
        .flat_map(|i| format!("line {} of a long page\n", i % 97).into_bytes())
        .collect();
    let src = dir.0.join("gz-src").join("big");
    std::fs::write(&src, &big).expect("write");
    let fast = Command::new("gzip")
        .args(["-n", "-1", "-c"])
        .arg(&src)
        .output();
    let best = Command::new("gzip")
        .args(["-n", "-9", "-c"])
        .arg(&src)
        .output();
    let (fast, best) = (fast.expect("gzip").stdout, best.expect("gzip").stdout);
    let ia = iso_of(&dir.0, "a3", &[("big.gz", &fast, t)]);
    let ib = iso_of(&dir.0, "b3", &[("big.gz", &best, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let fields: Vec<String> = differences(&r)
        .iter()
        .map(|d| format!("{} {}", d["kind"], d["field"]))
        .collect();
    assert!(fields.iter().all(|f| !f.contains("content")), "{fields:?}");
    assert!(
        fields.contains(&"\"attribute\" \"gzip.xfl\"".to_owned()),
        "{fields:?}"
    );
}

/// `source` compiled by python3 with the source's mtime `time`.
fn pyc(dir: &Path, source: &[u8], time: &str) -> Vec<u8> {
    let src = dir.join("py-src").join("m.py");
    std::fs::create_dir_all(src.parent().expect("parent")).expect("mkdir");
    std::fs::write(&src, source).expect("write");
    run_tool(Command::new("touch").args(["-d", time]).arg(&src));
    let out = dir.join("py-src").join("m.pyc");
    run_tool(
        Command::new("python3")
            .args(["-c", "import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)"])
            .arg(&src)
            .arg(&out),
    );
    std::fs::read(&out).expect("read")
}

#[test]
fn pyc_compiled_again_from_the_same_source_is_its_source_mtime() {
    if !on_path(&["python3", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-pyc");
    let source = b"def f():\n    return 42\n";
    let a = pyc(&dir.0, source, "@1700000000");
    let b = pyc(&dir.0, source, "@1700003600");
    assert_ne!(a, b);
    let t = "@1700000000";
    let ia = iso_of(&dir.0, "a", &[("lib/m.pyc", &a, t)]);
    let ib = iso_of(&dir.0, "b", &[("lib/m.pyc", &b, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    assert_eq!(ds.len(), 1, "{r:#}");
    assert_eq!(ds[0]["field"], "pyc.source_mtime");
    assert_eq!(ds[0]["a"], "2023-11-14T22:13:20Z");
    assert_eq!(ds[0]["b"], "2023-11-14T23:13:20Z");
    assert_eq!(r["byte_accounting"][0]["unattributed_bytes"], 0, "{r:#}");

    // Another source: its size in the header, and the code itself.
    let b = pyc(&dir.0, b"def f():\n    return 43 + 1\n", t);
    let ib = iso_of(&dir.0, "b2", &[("lib/m.pyc", &b, t)]);
    let (_, r) = json_report(&ia, &ib);
    let kinds: Vec<String> = differences(&r)
        .iter()
        .map(|d| {
            format!(
                "{}:{}",
                d["kind"].as_str().unwrap_or(""),
                d["field"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        kinds.contains(&"attribute:pyc.source_size".to_owned()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"content:".to_owned()), "{kinds:?}");
}

/// A unified kernel image: `/bin/true` made a PE by objcopy, with a kernel, an
/// initrd (a cpio of `/etc/x` holding `x`), a command line and os-release added
/// as sections, as ukify and objcopy make them.
fn uki(dir: &Path, name: &str, x: &str, cmdline: &str) -> Vec<u8> {
    let d = dir.join(name);
    std::fs::create_dir_all(d.join("tree/etc")).expect("mkdir");
    std::fs::write(d.join("tree/etc/x"), x).expect("write");
    run_tool(
        Command::new("touch")
            .args(["-d", "@1700000000"])
            .arg(d.join("tree/etc/x")),
    );
    let cpio = Command::new("sh")
        .arg("-c")
        .arg("cd tree && find . | sort | cpio -o -H newc --reproducible > ../initrd.cpio")
        .current_dir(&d)
        .status()
        .expect("cpio");
    assert!(cpio.success());
    std::fs::write(d.join("cmdline"), cmdline).expect("write");
    std::fs::write(d.join("linux"), vec![0x90u8; 3000]).expect("write");
    std::fs::write(d.join("osrel"), "ID=nixos\n").expect("write");
    run_tool(
        Command::new("objcopy")
            .args(["-O", "pei-x86-64", "/bin/true"])
            .arg(d.join("stub.efi")),
    );
    let mut cmd = Command::new("objcopy");
    for (section, file, vma) in [
        (".osrel", "osrel", "0x20000"),
        (".cmdline", "cmdline", "0x30000"),
        (".linux", "linux", "0x2000000"),
        (".initrd", "initrd.cpio", "0x3000000"),
    ] {
        cmd.arg("--add-section")
            .arg(format!("{section}={}", d.join(file).display()))
            .arg("--change-section-vma")
            .arg(format!("{section}={vma}"));
    }
    run_tool(cmd.arg(d.join("stub.efi")).arg(d.join("uki.efi")));
    let mut bytes = std::fs::read(d.join("uki.efi")).expect("read");
    // One TimeDateStamp for both sides: objcopy stamps the current time.
    let coff = coff_header(&bytes);
    bytes[coff + 4..coff + 8].copy_from_slice(&1_700_000_000u32.to_le_bytes());
    bytes
}

#[test]
fn unified_kernel_images_are_compared_section_by_section() {
    if !on_path(&["objcopy", "cpio", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-uki");
    let t = "@1700000000";
    let a = uki(&dir.0, "a", "one\n", "root=/dev/sda1\n");
    let b = uki(&dir.0, "b", "two\n", "root=/dev/sda2\n");
    let ia = iso_of(&dir.0, "a", &[("EFI/Linux/nixos.efi", &a, t)]);
    let ib = iso_of(&dir.0, "b", &[("EFI/Linux/nixos.efi", &b, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let content: Vec<String> = differences(&r)
        .iter()
        .filter(|d| d["kind"] == "content")
        .map(|d| d["location"].to_string())
        .collect();
    assert_eq!(
        content,
        [
            r#"["/EFI/Linux/nixos.efi","/.cmdline"]"#,
            r#"["/EFI/Linux/nixos.efi","/.initrd","/etc/x"]"#
        ],
        "{r:#}"
    );
    let text =
        String::from_utf8_lossy(&isodiff(&[ia.as_os_str(), ib.as_os_str()]).stdout).into_owned();
    assert!(
        text.contains("    -root=/dev/sda1\n    +root=/dev/sda2\n"),
        "{text}"
    );
    assert!(
        text.contains("/EFI/Linux/nixos.efi:/.initrd:/etc/x  content:"),
        "{text}"
    );
    assert!(
        !text.contains("unclaimed") && !text.contains("  bytes "),
        "{text}"
    );
}

#[test]
fn bytes_of_a_uki_outside_its_sections_are_compared_too() {
    if !on_path(&["objcopy", "cpio", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-uki-around");
    let t = "@1700000000";
    let a = uki(&dir.0, "a", "one\n", "root=/dev/sda1\n");
    // The same image, but for a byte of the DOS stub and a byte of the
    // padding after the command line (raw data past the section's virtual
    // size, which systemd-stub does not read): both in no section entry.
    let mut b = a.clone();
    let stub = find(&b, b"This program");
    b[stub] = b't';
    let cmdline = find(&b, b"root=/dev/sda1\n");
    b[cmdline + 20] = 0x55;
    let ia = iso_of(&dir.0, "a", &[("EFI/Linux/nixos.efi", &a, t)]);
    let ib = iso_of(&dir.0, "b", &[("EFI/Linux/nixos.efi", &b, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    assert_eq!(ds.len(), 1, "{r:#}");
    let d = &ds[0];
    assert_eq!(d["kind"], "content", "{r:#}");
    assert_eq!(d["location"], serde_json::json!(["/EFI/Linux/nixos.efi"]));
    assert_eq!(d["differing_bytes"], 2);
    assert_eq!(d["regions"], 2);
    assert_eq!(d["first_offset"], stub);
    assert_eq!(d["pe"]["section"], "(headers)", "{d:#}");
    assert_eq!(d["hexdump"]["regions"].as_array().map(Vec::len), Some(2));
}

/// A Debian package made with tar, xz and ar (deterministic mode): `usr/bin/x`
/// holding `x` in its data.tar.xz.
fn deb(dir: &Path, name: &str, x: &str) -> Vec<u8> {
    let d = dir.join(name);
    std::fs::create_dir_all(d.join("data/usr/bin")).expect("mkdir");
    std::fs::write(d.join("data/usr/bin/x"), x).expect("write");
    std::fs::write(d.join("debian-binary"), "2.0\n").expect("write");
    std::fs::write(d.join("control"), "Package: x\n").expect("write");
    let script = "tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner \
                  -C data -cf - . | xz -c > data.tar.xz && \
                  tar --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -cf - control \
                  | xz -c > control.tar.xz && \
                  ar rcD pkg.deb debian-binary control.tar.xz data.tar.xz";
    let ok = Command::new("sh")
        .args(["-c", script])
        .current_dir(&d)
        .status()
        .expect("sh");
    assert!(ok.success());
    std::fs::read(d.join("pkg.deb")).expect("read")
}

#[test]
fn a_deb_is_opened_member_by_member() {
    if !on_path(&["tar", "xz", "ar", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("inside-deb");
    let t = "@1700000000";
    let a = deb(&dir.0, "a", "version one\n");
    let b = deb(&dir.0, "b", "version two\n");
    let ia = iso_of(&dir.0, "a", &[("pool/x.deb", &a, t)]);
    let ib = iso_of(&dir.0, "b", &[("pool/x.deb", &b, t)]);
    let (code, r) = json_report(&ia, &ib);
    assert_eq!(code, Some(1), "{r:#}");
    let ds = differences(&r);
    let content: Vec<&serde_json::Value> = ds.iter().filter(|d| d["kind"] == "content").collect();
    assert_eq!(content.len(), 1, "{r:#}");
    // The member, decompressed, is a tar archive: the difference is at the
    // file inside it.
    assert_eq!(
        content[0]["location"],
        serde_json::json!(["/pool/x.deb", "/data.tar.xz", "/usr/bin/x"]),
        "{r:#}"
    );
    // The package's own bytes are accounted: the member's data explained by
    // its content, its header's size field by its size.
    let deb = r["byte_accounting"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|x| x["location"] == serde_json::json!(["/pool/x.deb"]))
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(deb["unattributed_bytes"], 0, "{r:#}");
    assert_eq!(deb["explained_bytes"], deb["differing_bytes"], "{r:#}");

    // Only a member's mtime in its ar header: that entry's mtime, nothing else.
    let mut b = a.clone();
    let at = b
        .windows(12)
        .position(|w| w == b"data.tar.xz/")
        .expect("member header");
    b[at + 16..at + 26].copy_from_slice(b"1700000001");
    let ib = iso_of(&dir.0, "b2", &[("pool/x.deb", &b, t)]);
    let (_, r) = json_report(&ia, &ib);
    let ds = differences(&r);
    assert_eq!(ds.len(), 1, "{r:#}");
    assert_eq!(ds[0]["kind"], "mtime");
    assert_eq!(
        ds[0]["location"],
        serde_json::json!(["/pool/x.deb", "/data.tar.xz"])
    );
}
