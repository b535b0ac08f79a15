//! Helpers shared by the integration tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fixture in `testdata/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// Runs the `isodiff` binary.
pub fn isodiff(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isodiff"))
        .args(args)
        .output()
        .expect("the isodiff binary runs")
}

/// `isodiff ls --json IMAGE`, keyed by the location joined with `:`; panics on a
/// non-zero exit.
pub fn ls_json(image: &Path) -> BTreeMap<String, serde_json::Value> {
    let out = isodiff(&["ls".as_ref(), "--json".as_ref(), image.as_os_str()]);
    assert!(
        out.status.success(),
        "isodiff ls {} failed: {}",
        image.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_lines(&out.stdout)
}

/// JSON lines keyed by their location.
pub fn parse_lines(bytes: &[u8]) -> BTreeMap<String, serde_json::Value> {
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(bytes).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        let key = v["location"]
            .as_array()
            .expect("location is an array")
            .iter()
            .map(|p| p.as_str().expect("location parts are strings").to_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert!(
            map.insert(key.clone(), v).is_none(),
            "location {key} listed twice"
        );
    }
    map
}

/// True when `tool` runs. When it does not, a test that needs it is skipped with a
/// note, unless `ISODIFF_REQUIRE_TOOLS` is set (CI sets it, so a missing tool fails
/// there instead of passing silently).
pub fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("ISODIFF_REQUIRE_TOOLS").is_none(),
            "{tool} is required (ISODIFF_REQUIRE_TOOLS is set) but does not run"
        );
        eprintln!("note: {tool} is not available; skipping the part of the test that needs it");
    }
    ok
}

/// True when every one of `tools` is an executable on PATH; skips (or, with
/// `ISODIFF_REQUIRE_TOOLS`, fails) like [`have`] otherwise.
pub fn on_path(tools: &[&str]) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("ISODIFF_REQUIRE_TOOLS").is_none(),
        "{missing:?} required (ISODIFF_REQUIRE_TOOLS is set) but not on PATH"
    );
    eprintln!("note: {missing:?} not on PATH; skipping the part of the test that needs them");
    false
}

/// A fresh empty directory under the system's temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "isodiff-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `isodiff --json - A B`: the exit code and the report; panics when the output
/// is not JSON.
pub fn json_report(a: &Path, b: &Path) -> (Option<i32>, serde_json::Value) {
    let out = isodiff(&[
        "--json".as_ref(),
        "-".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

/// (location joined with `:`, kind, field) of every difference of a JSON report.
pub fn found(report: &serde_json::Value) -> std::collections::BTreeSet<(String, String, String)> {
    report["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            let loc: Vec<&str> = d["location"]
                .as_array()
                .expect("location")
                .iter()
                .map(|p| p.as_str().expect("location parts are strings"))
                .collect();
            (
                loc.join(":"),
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["field"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The first position of `needle` in `hay`; panics (failing the test) when absent.
pub fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{:?} not found", String::from_utf8_lossy(needle)))
}

/// The differences of a JSON report.
pub fn differences(r: &serde_json::Value) -> Vec<serde_json::Value> {
    r["differences"].as_array().cloned().unwrap_or_default()
}

/// The differences of one kind (`bytes`, `layout`, `mtime`, ...).
pub fn of_kind(r: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    differences(r)
        .into_iter()
        .filter(|d| d["kind"] == kind)
        .collect()
}

/// The byte accounting record of the image pair at `location` (`&[]`: the
/// outermost images); panics when there is none.
pub fn record(r: &serde_json::Value, location: &[&str]) -> serde_json::Value {
    r["byte_accounting"]
        .as_array()
        .and_then(|records| {
            records
                .iter()
                .find(|rec| rec["location"] == serde_json::json!(location))
        })
        .cloned()
        .unwrap_or_else(|| panic!("no byte accounting at {location:?}: {r:#}"))
}

/// A JSON number as u64 (`u64::MAX` when it is not one, so comparisons fail).
pub fn n(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or(u64::MAX)
}

/// The tools a grub-mkrescue image needs.
pub const GRUB_TOOLS: [&str; 3] = ["grub-mkrescue", "xorriso", "mformat"];

/// Images of the one-file tree `boot/grub/grub.cfg` made by grub-mkrescue in
/// `dir`, one per name, each run at least 2 s after the one before (it stamps
/// the current time, so two runs differ). The caller checks [`GRUB_TOOLS`].
pub fn grub_mkrescue_images(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("boot/grub")).expect("tree");
    std::fs::write(tree.join("boot/grub/grub.cfg"), "set timeout=1\n").expect("cfg");
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(2100));
        }
        let image = dir.join(name);
        let ok = std::process::Command::new("grub-mkrescue")
            .arg("-o")
            .arg(&image)
            .arg(&tree)
            .output()
            .expect("runs");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        out.push(image);
    }
    out
}

/// One newc member of a cpio archive (an archive is members, then `TRAILER!!!`).
pub fn member(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut h = format!(
        "070701{:08x}{mode:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        1,
        0,
        0,
        1,
        0,
        data.len(),
        0,
        0,
        0,
        0,
        name.len() + 1,
        0
    )
    .into_bytes();
    h.extend(name.as_bytes());
    h.push(0);
    while h.len() % 4 != 0 {
        h.push(0);
    }
    h.extend(data);
    while h.len() % 4 != 0 {
        h.push(0);
    }
    h
}
