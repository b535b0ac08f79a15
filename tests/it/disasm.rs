//! The disassembly of differing code (issue 18): on a NixOS-like pair whose
//! ELF file differs in `.text`, the report shows the bytes and the
//! instructions before and after, in text, JSON, HTML and diffoscope's JSON;
//! an aarch64 ELF and a PE file show theirs; each instruction is checked
//! against `objdump -d` of the same file (same address, same bytes, same
//! mnemonic).
//!
//! The executables are `testdata/code/*.elf`, a few hundred bytes each, made by
//! `testdata/code/make-code.sh` from the sources beside it.

use crate::common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, have, isodiff, on_path, TempDir};

const HELLO: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1/bin/hello";

/// `add %rdx,%rax` (48 01 d0) at 0x400098, file offset 0x98, made
/// `sub %rdx,%rax` (48 29 d0).
fn x86_pair() -> (Vec<u8>, Vec<u8>) {
    let a = std::fs::read(fixture("code/hello-x86_64.elf")).expect("fixture");
    let mut b = a.clone();
    assert_eq!(a[0x98..0x9b], [0x48, 0x01, 0xd0], "the fixture changed");
    b[0x99] = 0x29;
    (a, b)
}

fn run_tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("write");
}

/// A NixOS-like image: the store, with `hello` in a store path, in a squashfs
/// made as nixpkgs makes it, in an ISO.
fn nixos_like(dir: &Path, name: &str, hello: &[u8]) -> PathBuf {
    let store = dir.join(format!("{name}-store"));
    write(&store.join(HELLO.trim_start_matches('/')), hello);
    write(
        &store.join("0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/motd"),
        b"Welcome to NixOS!\n",
    );
    let root = dir.join(format!("{name}-root"));
    std::fs::create_dir_all(&root).expect("mkdir");
    run_tool(
        Command::new("mksquashfs")
            .arg(&store)
            .arg(root.join("nix-store.squashfs"))
            .args(["-quiet", "-no-progress", "-noappend", "-all-root"])
            .args(["-no-hardlinks", "-b", "1048576", "-comp", "xz"])
            .args(["-mkfs-time", "1", "-all-time", "1"]),
    );
    let iso = dir.join(format!("{name}.iso"));
    run_tool(
        Command::new("xorriso")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["-as", "mkisofs", "-quiet", "-R", "-V", "NIXOS_ISO", "-o"])
            .arg(&iso)
            .arg(&root),
    );
    iso
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

/// `objdump -d` of `file`: each instruction's bytes and mnemonic, by address.
fn objdump(tool: &str, file: &Path) -> BTreeMap<u64, (Vec<u8>, String)> {
    let out = Command::new(tool)
        .arg("-d")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} failed");
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `  400098:\t48 01 d0             \tadd    %rdx,%rax`
        let mut cols = line.split('\t');
        let (Some(addr), Some(bytes), Some(text)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr.trim().trim_end_matches(':'), 16) else {
            continue;
        };
        // aarch64 objdump writes a word as one 8-digit number, big end first.
        let bytes: Vec<u8> = match bytes.trim() {
            w if w.len() == 8 && !w.contains(' ') => {
                let w = u32::from_str_radix(w, 16).expect("a word");
                w.to_le_bytes().to_vec()
            }
            b => unhex(&b.replace(' ', "")),
        };
        let mnemonic = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        map.insert(addr, (bytes, mnemonic));
    }
    map
}

/// Checks each instruction of one side of a JSON report's disassembly
/// against objdump's: the same bytes and mnemonic at its address.
fn same_as_objdump(insns: &serde_json::Value, objdump: &BTreeMap<u64, (Vec<u8>, String)>) {
    let insns = insns.as_array().expect("instructions");
    assert!(!insns.is_empty());
    for i in insns {
        let address = i["address"].as_u64().expect("address");
        let text = i["text"].as_str().expect("text");
        let bytes = unhex(i["bytes"].as_str().expect("bytes"));
        let mnemonic = text.split_whitespace().next().unwrap_or_default();
        let Some((want_bytes, want)) = objdump.get(&address) else {
            panic!("objdump has no instruction at {address:#x}: {insns:?}");
        };
        assert_eq!(&bytes, want_bytes, "at {address:#x}");
        assert_eq!(mnemonic, want, "at {address:#x}: {text}");
    }
}

fn content_at<'j>(json: &'j serde_json::Value, last: &str) -> &'j serde_json::Value {
    json["differences"]
        .as_array()
        .and_then(|ds| {
            ds.iter().find(|d| {
                d["kind"] == "content"
                    && d["location"]
                        .as_array()
                        .and_then(|l| l.last())
                        .is_some_and(|l| l == last)
            })
        })
        .unwrap_or_else(|| panic!("no content difference of {last}: {json:#}"))
}

/// The lines of the report that a changed `add` in `helper` must show, after
/// the four spaces of a detail line.
const X86_LINES: [&str; 7] = [
    "@@ -1,6 +1,6 @@ section .text+0x21, symbol helper+0x9",
    "   400090:  48 8d 48 10           lea    0x10(%rax),%rcx",
    "   400094:  48 6b d1 03           imul   $0x3,%rcx,%rdx",
    "-  400098:  48 01 d0              add    %rdx,%rax",
    "+  400098:  48 29 d0              sub    %rdx,%rax",
    "   40009b:  48 c1 e0 02           shl    $0x2,%rax",
    "   40009f:  25 ff 00 00 00        and    $0xff,%eax",
];

#[test]
fn a_changed_instruction_in_a_nixos_like_pair_is_shown_in_every_format() {
    if !on_path(&["mksquashfs", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("disasm-nixos");
    let (ea, eb) = x86_pair();
    let (a, b) = (nixos_like(&dir.0, "a", &ea), nixos_like(&dir.0, "b", &eb));
    let f = |name: &str| dir.0.join(name);
    let out = isodiff(&[
        "--text".as_ref(),
        f("r.txt").as_os_str(),
        "--json".as_ref(),
        f("r.json").as_os_str(),
        "--html".as_ref(),
        f("r.html").as_os_str(),
        "--diffoscope-json".as_ref(),
        f("d.json").as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Text: the summary names the symbol; the bytes, then the instructions.
    let text = read(&f("r.txt"));
    let line = format!(
        "/nix-store.squashfs:{HELLO}  content: 1 byte differs in 1 region from offset 153 \
         (section .text+0x21, symbol helper+0x9)"
    );
    assert!(text.contains(&line), "{text}");
    assert!(
        text.contains("    -00000090: 488d 4810 486b d103 4801 d048 c1e0 0225"),
        "{text}"
    );
    assert!(
        text.contains("    +00000090: 488d 4810 486b d103 4829 d048 c1e0 0225"),
        "{text}"
    );
    let at = text
        .find("    @@ -1,6 +1,6 @@ section .text")
        .expect("code header");
    let lines: Vec<&str> = text[at..].lines().take(X86_LINES.len()).collect();
    let want: Vec<String> = X86_LINES.iter().map(|l| format!("    {l}")).collect();
    assert_eq!(lines, want, "{text}");

    // JSON: an added `disassembly` key, beside the hexdump; each instruction
    // as objdump decodes it.
    let json: serde_json::Value = serde_json::from_str(&read(&f("r.json"))).expect("JSON");
    let c = content_at(&json, HELLO);
    assert!(c["hexdump"]["regions"][0]["offset"].is_u64());
    let d = &c["disassembly"];
    assert_eq!(d["arch"], "x86-64", "{c:#}");
    let region = &d["regions"][0];
    assert_eq!(region["offset"], 0x99);
    assert_eq!(region["length"], 1);
    assert_eq!(region["place"]["section"], ".text");
    assert_eq!(region["place"]["symbol"]["name"], "helper");
    let texts = |side: &str| -> Vec<String> {
        region[side]
            .as_array()
            .expect("instructions")
            .iter()
            .map(|i| i["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(texts("a").contains(&"add    %rdx,%rax".to_owned()));
    assert!(texts("b").contains(&"sub    %rdx,%rax".to_owned()));
    assert_eq!(region["a"][2]["address"], 0x400098);
    assert_eq!(region["a"][2]["bytes"], "4801d0");
    if have("objdump", &["--version"]) {
        let (fa, fb) = (f("a.elf"), f("b.elf"));
        write(&fa, &ea);
        write(&fb, &eb);
        same_as_objdump(&region["a"], &objdump("objdump", &fa));
        same_as_objdump(&region["b"], &objdump("objdump", &fb));
    }

    // HTML: the differing instructions are marked, one side each.
    let html = read(&f("r.html"));
    assert!(
        html.contains(
            "<span class=\"l del\"><mark>-  400098:  48 01 d0              add    %rdx,%rax</mark></span>"
        ),
        "{html}"
    );
    assert!(html.contains(
        "<span class=\"l add\"><mark>+  400098:  48 29 d0              sub    %rdx,%rax</mark></span>"
    ));
    assert!(html.contains("<span class=\"l ctx\">   40009b:  48 c1 e0 02"));

    // diffoscope: the bytes are the node's unified diff, the instructions a
    // child node of their own, as diffoscope shows objdump's output.
    let dj: serde_json::Value = serde_json::from_str(&read(&f("d.json"))).expect("JSON");
    let mut stack = vec![&dj];
    let mut code = None;
    while let Some(n) = stack.pop() {
        if n["source1"] == "disassembly (x86-64)" {
            code = n["unified_diff"].as_str();
        }
        stack.extend(n["details"].as_array().into_iter().flatten());
    }
    let code = code.unwrap_or_else(|| panic!("no disassembly node: {dj:#}"));
    for l in &X86_LINES {
        assert!(code.contains(&format!("{l}\n")), "{code}");
    }
}

/// Two directories, each holding `name` with these bytes.
fn dirs(dir: &Path, name: &str, a: &[u8], b: &[u8]) -> (PathBuf, PathBuf) {
    let (da, db) = (dir.join("a"), dir.join("b"));
    write(&da.join(name), a);
    write(&db.join(name), b);
    (da, db)
}

fn json_of(a: &Path, b: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<&OsStr> = extra.iter().map(OsStr::new).collect();
    args.extend([
        "--json".as_ref(),
        "-".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let out = isodiff(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn a_changed_aarch64_instruction_is_shown_as_aarch64() {
    let dir = TempDir::new("disasm-aarch64");
    let a = std::fs::read(fixture("code/hello-aarch64.elf")).expect("fixture");
    // `mov x2, #3` (d2800062) at 0x40008c, made `mov x2, #5` (d28000a2).
    assert_eq!(
        a[0x8c..0x90],
        [0x62, 0x00, 0x80, 0xd2],
        "the fixture changed"
    );
    let mut b = a.clone();
    b[0x8c] = 0xa2;
    let (da, db) = dirs(&dir.0, "hello", &a, &b);
    let json = json_of(&da, &db, &[]);
    let c = content_at(&json, "/hello");
    let d = &c["disassembly"];
    assert_eq!(d["arch"], "aarch64", "{c:#}");
    let region = &d["regions"][0];
    let texts = |side: &str| -> Vec<&str> {
        region[side]
            .as_array()
            .expect("instructions")
            .iter()
            .filter_map(|i| i["text"].as_str())
            .collect()
    };
    // Three words before and after the changed one, across the function's
    // start: aarch64 needs no boundary but the word's.
    let want = [
        "mov x8, #0x5d",
        "svc #0x0",
        "add x1, x0, #0x10",
        "mov x2, #0x3",
        "mul x2, x1, x2",
        "add x0, x0, x2",
        "lsl x0, x0, #0x2",
    ];
    assert_eq!(texts("a"), want, "{c:#}");
    assert_eq!(texts("b")[3], "mov x2, #0x5");
    assert_eq!(region["place"]["symbol"]["name"], "helper");
    let lines = c["detail"].as_str().unwrap_or_default();
    assert!(
        lines.contains("\n-  40008c:  62 00 80 d2           mov x2, #0x3\n"),
        "{lines}"
    );
    assert!(
        lines.contains("\n+  40008c:  a2 00 80 d2           mov x2, #0x5\n"),
        "{lines}"
    );
    if have("aarch64-linux-gnu-objdump", &["--version"]) {
        let fa = dir.0.join("a/hello");
        let fb = dir.0.join("b/hello");
        same_as_objdump(&region["a"], &objdump("aarch64-linux-gnu-objdump", &fa));
        same_as_objdump(&region["b"], &objdump("aarch64-linux-gnu-objdump", &fb));
    }
    // --disassembly-regions 0: none.
    let json = json_of(&da, &db, &["--disassembly-regions", "0"]);
    assert!(content_at(&json, "/hello").get("disassembly").is_none());
}

#[test]
fn a_changed_code_byte_of_a_pe_file_is_named_by_symbol_and_disassembled() {
    if !on_path(&["objcopy"]) {
        return;
    }
    let dir = TempDir::new("disasm-pe");
    let (ea, eb) = x86_pair();
    let (elf_a, elf_b) = (dir.0.join("a.elf"), dir.0.join("b.elf"));
    write(&elf_a, &ea);
    write(&elf_b, &eb);
    // objcopy stamps the time: the TimeDateStamp is compared apart, and left
    // out of the content comparison.
    let (da, db) = (dir.0.join("a"), dir.0.join("b"));
    for (elf, d) in [(&elf_a, &da), (&elf_b, &db)] {
        std::fs::create_dir_all(d).expect("mkdir");
        run_tool(
            Command::new("objcopy")
                .args(["-O", "pei-x86-64"])
                .arg(elf)
                .arg(d.join("BOOTX64.EFI")),
        );
    }
    let json = json_of(&da, &db, &[]);
    let c = content_at(&json, "/BOOTX64.EFI");
    // objcopy keeps the ELF's symbols as COFF symbols: the byte is named by one.
    assert_eq!(c["pe"]["section"], ".text", "{c:#}");
    assert_eq!(c["pe"]["symbol"]["name"], "helper", "{c:#}");
    assert_eq!(c["pe"]["symbol"]["offset"], 9);
    let summary = c["summary"].as_str().unwrap_or_default();
    assert!(
        summary.ends_with("(section .text+0x21, symbol helper+0x9)"),
        "{summary}"
    );
    let region = &c["disassembly"]["regions"][0];
    assert_eq!(c["disassembly"]["arch"], "x86-64");
    let has = |side: &str, text: &str| {
        region[side]
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["text"] == text && i["address"] == 0x400098)
    };
    assert!(has("a", "add    %rdx,%rax"), "{c:#}");
    assert!(has("b", "sub    %rdx,%rax"), "{c:#}");
    if have("objdump", &["--version"]) {
        same_as_objdump(&region["a"], &objdump("objdump", &da.join("BOOTX64.EFI")));
        same_as_objdump(&region["b"], &objdump("objdump", &db.join("BOOTX64.EFI")));
    }
}
