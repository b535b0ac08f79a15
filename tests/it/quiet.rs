//! `isodiff -q`: the exit code alone says the result, as `cmp -s` and `diff -q`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn isodiff(args: &[&std::ffi::OsStr]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_isodiff"))
        .args(args)
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run isodiff: {e}"),
    }
}

fn quiet(a: &Path, b: &Path) -> Output {
    isodiff(&["-q".as_ref(), a.as_os_str(), b.as_os_str()])
}

#[test]
fn different_pair_exits_1_silently() {
    let out = quiet(&data("nixos-like-a.iso"), &data("nixos-like-b.iso"));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(out.stderr.is_empty(), "stderr: {:?}", out.stderr);
    // The same pair without -q does print: the silence above is the flag's.
    let loud = isodiff(&[
        data("nixos-like-a.iso").as_os_str(),
        data("nixos-like-b.iso").as_os_str(),
    ]);
    assert_eq!(loud.status.code(), Some(1));
    assert!(!loud.stdout.is_empty());
}

#[test]
fn image_against_itself_exits_0_silently() {
    let a = data("nixos-like-a.iso");
    let out = isodiff(&["--quiet".as_ref(), a.as_os_str(), a.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.is_empty());
}

#[test]
fn missing_file_exits_2_with_the_error_on_stderr() {
    let missing = data("no-such-image.iso");
    let out = quiet(&data("nixos-like-a.iso"), &missing);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-image.iso"), "stderr: {err}");
}

#[test]
fn report_files_asked_for_are_still_written() {
    let dir = std::env::temp_dir().join(format!("isodiff-quiet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok();
    let json = dir.join("report.json");
    let out = isodiff(&[
        "-q".as_ref(),
        "--json".as_ref(),
        json.as_os_str(),
        data("nixos-like-a.iso").as_os_str(),
        data("nixos-like-b.iso").as_os_str(),
    ]);
    let written = std::fs::read_to_string(&json).unwrap_or_default();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(written.contains("\"identical\": false") || written.contains("\"identical\":false"));
}

#[test]
fn a_report_to_stdout_is_refused() {
    let out = isodiff(&[
        "-q".as_ref(),
        "--json".as_ref(),
        "-".as_ref(),
        data("nixos-like-a.iso").as_os_str(),
        data("nixos-like-b.iso").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--quiet"));
}
