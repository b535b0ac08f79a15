//! The report formats and output choices of `isodiff A B` on the bundled NixOS-like
//! pair: several reports in one run, `-` for stdout, colour only when asked for or
//! on a terminal, Markdown, diffoscope's JSON read back by the real diffoscope,
//! size limits with their notes, and the generated completions and man page.

use crate::common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{fixture, isodiff, TempDir};

const HELLO: &str = "/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1";

fn pair() -> (PathBuf, PathBuf) {
    (fixture("nixos-like-a.iso"), fixture("nixos-like-b.iso"))
}

/// `isodiff ARGS... A B` on the bundled pair.
fn run(args: &[&OsStr]) -> Output {
    let (a, b) = pair();
    let mut all: Vec<&OsStr> = args.to_vec();
    all.push(a.as_os_str());
    all.push(b.as_os_str());
    isodiff(&all)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every planted difference, as (the end of its location, a value it shows).
fn planted() -> Vec<(String, &'static str)> {
    vec![
        ("/nix-store.squashfs".into(), "2024-06-02T00:00:00Z"),
        (
            "/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/current".into(),
            "/nix/store/p1b8c3a7m9kq2x0d4n6f5h7j8k9l0m1n-systemd-256.1",
        ),
        (
            format!("{HELLO}/bin/hello"),
            "20 bytes differ in 1 region from offset 4096",
        ),
        (format!("{HELLO}/share/added"), "added"),
        (format!("{HELLO}/share/removed"), "removed"),
        (format!("{HELLO}/share/motd"), "+This is line 2."),
        (
            "/kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup".into(),
            "0444",
        ),
        (
            "/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users".into(),
            "1970-01-01T00:00:01Z",
        ),
        (
            "/pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf".into(),
            "0644",
        ),
    ]
}

#[test]
fn several_reports_in_one_run() {
    let dir = TempDir::new("reports-all");
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
    assert!(out.stdout.is_empty(), "every report went to a file");

    // The text file is what stdout gets by default, byte for byte.
    let default = run(&[]);
    assert_eq!(default.status.code(), Some(1));
    assert_eq!(read(&f("r.txt")), stdout(&default));
    assert!(stdout(&default).ends_with("\n13 difference(s)\n"));

    // The JSON contract is unchanged: nothing filtered or cut, no new keys then.
    let json: serde_json::Value = serde_json::from_str(&read(&f("r.json"))).expect("JSON");
    assert_eq!(json["isodiff_report"], 1);
    assert_eq!(json["identical"], false);
    assert_eq!(json["differences"].as_array().map(Vec::len), Some(13));
    assert!(json.get("filtered").is_none() && json.get("cut").is_none());
    let same = run(&["--json".as_ref(), "-".as_ref()]);
    assert_eq!(read(&f("r.json")), stdout(&same));

    let html = read(&f("r.html"));
    let md = read(&f("r.md"));
    let dj = read(&f("d.json"));
    for (location, value) in planted() {
        assert!(html.contains(&location), "{location} not in HTML");
        assert!(md.contains(&location), "{location} not in Markdown");
        assert!(dj.contains(&location), "{location} not in diffoscope JSON");
        assert!(html.contains(value), "{value} not in HTML");
        assert!(md.contains(value), "{value} not in Markdown");
    }
}

#[test]
fn one_report_on_stdout_at_most() {
    let out = run(&[
        "--json".as_ref(),
        "-".as_ref(),
        "--html".as_ref(),
        "-".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only one report can go to stdout, not --json and --html"),
        "{err}"
    );

    let md = run(&["--markdown".as_ref(), "-".as_ref()]);
    assert_eq!(md.status.code(), Some(1));
    let text = stdout(&md);
    assert!(text.starts_with("## isodiff: `"), "{text}");
    assert!(text.contains("| mode | 3 |"), "{text}");
    assert!(text.contains(
        "| `/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users` | mode *(Nix store metadata not canonical)* | `0644` | `0444` |"
    ));
    assert!(text.contains("```diff\n"), "{text}");

    let html = run(&["--html".as_ref(), "-".as_ref()]);
    assert!(stdout(&html).starts_with("<!DOCTYPE html>"));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let piped = run(&[]);
    assert!(!piped.stdout.contains(&0x1b), "no colour into a pipe");
    let always = run(&["--color".as_ref(), "always".as_ref()]);
    let colored = stdout(&always);
    assert!(
        colored.contains("\x1b[32m+This is line 2.\x1b[0m"),
        "{colored:?}"
    );
    // `--colour` is the same option.
    let british = run(&["--colour".as_ref(), "always".as_ref()]);
    assert_eq!(british.stdout, always.stdout);
    let never = run(&["--color".as_ref(), "never".as_ref()]);
    assert_eq!(never.stdout, piped.stdout);

    // On a terminal (script(1) gives it one), auto colours unless NO_COLOR is set.
    if !common::on_path(&["script"]) {
        return;
    }
    let (a, b) = pair();
    let on_tty = |no_color: Option<&str>| {
        let cmd = format!(
            "{} {} {}",
            env!("CARGO_BIN_EXE_isodiff"),
            a.display(),
            b.display()
        );
        let mut c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"]);
        c.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let out = c.output().expect("script runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(on_tty(None).contains("\x1b[1m/nix-store.squashfs\x1b[0m"));
    assert!(!on_tty(Some("1")).contains('\x1b'));
    assert!(
        on_tty(Some("")).contains('\x1b'),
        "an empty NO_COLOR is unset"
    );
}

#[test]
fn max_diff_lines_cuts_with_a_note() {
    let out = run(&["--max-diff-lines".as_ref(), "2".as_ref()]);
    let text = stdout(&out);
    assert!(
        text.contains("    @@ -1,3 +1,3 @@\n     Welcome to NixOS!\n    [diff cut at 2 lines]\n"),
        "{text}"
    );
    let out = run(&["--max-diff-lines".as_ref(), "0".as_ref()]);
    assert!(stdout(&out).contains("     The end.\n"), "0 is no limit");
}

#[test]
fn max_report_size_cuts_with_a_note_everywhere() {
    let dir = TempDir::new("reports-cut");
    let f = |name: &str| dir.0.join(name);
    let out = run(&[
        "--max-report-size".as_ref(),
        "900".as_ref(),
        "--text".as_ref(),
        f("r.txt").as_os_str(),
        "--json".as_ref(),
        f("r.json").as_os_str(),
        "--html".as_ref(),
        f("r.html").as_os_str(),
        "--markdown".as_ref(),
        f("r.md").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a cut report still differs");
    let json: serde_json::Value = serde_json::from_str(&read(&f("r.json"))).expect("JSON");
    let cut = &json["cut"];
    assert_eq!(cut["max_report_size"], 900);
    let left_out = cut["differences"].as_u64().expect("count");
    let shown = json["differences"].as_array().map_or(0, Vec::len) as u64;
    assert!(left_out > 0, "{json:#}");
    assert_eq!(shown + left_out, 13);
    let by_kind: u64 = cut["by_kind"]
        .as_object()
        .expect("by_kind")
        .values()
        .filter_map(|v| v.as_u64())
        .sum();
    assert_eq!(by_kind, left_out);
    assert_eq!(json["identical"], false);

    let text = read(&f("r.txt"));
    assert!(
        text.contains("report cut at --max-report-size 900: "),
        "{text}"
    );
    assert!(text.contains(&format!("{left_out} more difference(s) not shown")));
    assert!(text.ends_with("13 difference(s)\n"), "{text}");
    assert!(text.len() < 900 + 300, "{} bytes", text.len());
    assert!(read(&f("r.html")).contains("id=\"cut\">report cut at --max-report-size 900"));
    assert!(read(&f("r.md")).contains("> report cut at --max-report-size 900"));

    // Room for the lines (and a note for each detail) but not the details.
    let full = stdout(&run(&[]));
    let lines: usize = full
        .lines()
        .filter(|l| l.starts_with('/'))
        .map(|l| l.len() + 1)
        .sum();
    // The causes block that opens the report is always kept, and counts.
    let causes: usize = full
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with('/'))
        .map(|l| l.len() + 1)
        .sum();
    let room = (lines + causes + 120).to_string();
    let out = run(&["--max-report-size".as_ref(), room.as_ref()]);
    let text = stdout(&out);
    assert!(
        text.contains("    [detail left out: --max-report-size reached]"),
        "{text}"
    );
    assert!(text.contains("detail(s) left out"), "{text}");
    let suffixed = run(&["--max-report-size".as_ref(), "1K".as_ref()]);
    assert!(stdout(&suffixed).contains("report cut at --max-report-size 1024"));
    let bad = run(&["--max-report-size".as_ref(), "lots".as_ref()]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Runs the real diffoscope on our diffoscope JSON.
fn diffoscope(args: &[&OsStr]) -> Output {
    Command::new("diffoscope")
        .args(args)
        .output()
        .expect("diffoscope runs")
}

#[test]
fn real_diffoscope_renders_our_json() {
    if !common::have("diffoscope", &["--version"]) {
        return;
    }
    let dir = TempDir::new("reports-diffoscope");
    let (json, html) = (dir.0.join("d.json"), dir.0.join("d.html"));
    // A cut diff puts a note among the comments, which diffoscope must take too.
    let out = run(&[
        "--diffoscope-json".as_ref(),
        json.as_os_str(),
        "--max-diff-lines".as_ref(),
        "3".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let loaded = diffoscope(&[
        "--load-existing-diff".as_ref(),
        json.as_os_str(),
        "--html".as_ref(),
        html.as_os_str(),
        "--text".as_ref(),
        "-".as_ref(),
    ]);
    // diffoscope exits 1 for "differences found", as we do.
    assert_eq!(
        loaded.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let page = read(&html);
    let text = stdout(&loaded);
    for (location, what) in planted() {
        assert!(
            text.contains(&location),
            "{location} not in diffoscope's text"
        );
        // Entries on one side only are lines of a file list, which diffoscope's
        // HTML marks up inside the line (the part that differs); the others are
        // nodes named by their location.
        if what != "added" && what != "removed" {
            assert!(
                page.contains(&location),
                "{location} not in diffoscope's HTML"
            );
        }
    }
    assert!(page.contains("file list") && page.contains("image facts"));
    for line in [
        "-superblock.mkfs_time: 1970-01-01T00:00:01Z",
        "+superblock.mkfs_time: 2024-06-02T00:00:00Z",
        "-mode: 0644",
        "+mode: 0444",
        "+mtime: 1970-01-01T00:00:01Z",
        "-This is line two.",
        "+/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1/share/added (file)",
        "-/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1/share/removed (file)",
        "[diff cut at 3 lines]",
        "20 bytes differ in 1 region from offset 4096",
    ] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    // diffoscope writes its own JSON back the same way it read ours.
    let again = diffoscope(&[
        "--load-existing-diff".as_ref(),
        json.as_os_str(),
        "--json".as_ref(),
        "-".as_ref(),
    ]);
    let theirs: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    let ours: serde_json::Value = serde_json::from_str(&read(&json)).expect("JSON");
    assert_eq!(theirs, ours);

    // Identical images: a tree with no details, which diffoscope also takes.
    let (a, _) = pair();
    let out = isodiff(&[
        "--diffoscope-json".as_ref(),
        json.as_os_str(),
        a.as_os_str(),
        a.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let loaded = diffoscope(&[
        "--load-existing-diff".as_ref(),
        json.as_os_str(),
        "--html".as_ref(),
        html.as_os_str(),
    ]);
    assert!(
        matches!(loaded.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
}

#[test]
fn identical_images_in_every_format() {
    let dir = TempDir::new("reports-same");
    let (a, _) = pair();
    let f = |name: &str| dir.0.join(name);
    let out = isodiff(&[
        "--html".as_ref(),
        f("r.html").as_os_str(),
        "--markdown".as_ref(),
        f("r.md").as_os_str(),
        "--diffoscope-json".as_ref(),
        f("d.json").as_os_str(),
        "--text".as_ref(),
        "-".as_ref(),
        a.as_os_str(),
        a.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).ends_with("\nidentical\n"));
    assert!(read(&f("r.html")).contains("id=\"verdict\">Identical</p>"));
    assert!(read(&f("r.md")).contains("**Identical**"));
    let d: serde_json::Value = serde_json::from_str(&read(&f("d.json"))).expect("JSON");
    assert_eq!(d["diffoscope-json-version"], 1);
    assert!(d.get("details").is_none());
}

#[test]
fn completions_and_man_page_come_from_the_cli() {
    for (shell, marker) in [
        ("bash", "_isodiff()"),
        ("zsh", "#compdef isodiff"),
        ("fish", "complete -c isodiff"),
    ] {
        let out = isodiff(&["completions".as_ref(), shell.as_ref()]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("diffoscope-json"), "{shell}");
        assert!(script.contains("max-report-size"), "{shell}");
    }
    let out = isodiff(&["manpage".as_ref()]);
    assert_eq!(out.status.code(), Some(0));
    let man = stdout(&out);
    assert!(
        man.starts_with(".ie \\n(.g .ds Aq") || man.contains(".TH isodiff"),
        "{man}"
    );
    for option in [
        "html",
        "markdown",
        "diffoscope\\-json",
        "exclude",
        "semantic",
        "color",
    ] {
        assert!(
            man.contains(&format!("\\-\\-{option}")),
            "--{option} not in man page"
        );
    }
    // The helpers stay out of the everyday help.
    let help = isodiff(&["--help".as_ref()]);
    let help = stdout(&help);
    assert!(
        !help.contains("completions") && !help.contains("manpage"),
        "{help}"
    );
    assert!(help.contains("--diffoscope-json <FILE>"), "{help}");
}
