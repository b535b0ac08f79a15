//! Inside a differing file (issue 18): the bytes of the differing regions of a
//! binary, in every report format.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use common::{fixture, isodiff, TempDir};

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
