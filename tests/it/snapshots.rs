//! Whole reports of the bundled pair, compared with the snapshots in
//! `testdata/snapshots/`: any change to what a user reads shows as a diff of
//! those files in review. After a deliberate change, regenerate them with
//! `ISODIFF_UPDATE_SNAPSHOTS=1 cargo test --test it snapshots::` and read the diff.
//!
//! Also: one worker thread and many give byte-identical reports.

use std::path::Path;

use isodiff::report::{self, Report};
use isodiff::{diff_files, Options};

/// The bundled pair, named as a user in the crate root names it (the report
/// holds the paths as given).
const A: &str = "testdata/nixos-like-a.iso";
const B: &str = "testdata/nixos-like-b.iso";

fn report(a: &str, b: &str, threads: usize) -> Report {
    diff_files(
        Path::new(a),
        Path::new(b),
        &Options::default().threads(threads),
    )
    .unwrap_or_else(|e| panic!("{a} {b}: {e}"))
}

/// The report in every format, by file name.
fn rendered(r: &Report) -> Vec<(&'static str, String)> {
    type Render = fn(&Report, &mut dyn std::io::Write) -> std::io::Result<()>;
    let formats: [(&str, Render); 5] = [
        ("txt", report::text::write),
        ("json", report::json::write),
        ("md", report::markdown::write),
        ("html", report::html::write),
        ("diffoscope.json", report::diffoscope::write),
    ];
    formats
        .iter()
        .map(|(ext, render)| {
            let mut v = Vec::new();
            render(r, &mut v).expect("renders");
            (*ext, String::from_utf8(v).expect("utf8"))
        })
        .collect()
}

/// Compares `got` with the snapshot `name`, or writes it when asked to.
fn snapshot(name: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/snapshots")
        .join(name);
    if std::env::var_os("ISODIFF_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; make it with ISODIFF_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(w, g)| w != g)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from its snapshot from line {}:\n  want: {:?}\n  got:  {:?}\n\
             (if deliberate: ISODIFF_UPDATE_SNAPSHOTS=1 cargo test --test it snapshots::)",
            first + 1,
            want.lines().nth(first),
            got.lines().nth(first)
        );
    }
}

#[test]
fn reports_of_the_bundled_pair_match_their_snapshots() {
    let r = report(A, B, 0);
    for (ext, text) in rendered(&r) {
        snapshot(&format!("nixos-pair.{ext}"), &text);
    }
}

#[test]
fn lint_of_the_bundled_pair_matches_its_snapshot() {
    let map = isodiff::MappedFile::open(Path::new(A)).expect("map");
    let options = isodiff::lint::LintOptions {
        profile: isodiff::lint::Profile::Nix,
        ..Default::default()
    };
    let fs = isodiff::open(map.bytes(), &options.nesting.limits).expect("open");
    let r = isodiff::lint::lint(fs.as_ref(), A, map.bytes().len() as u64, &options);
    let mut v = Vec::new();
    report::text::write(&r, &mut v).expect("renders");
    snapshot("nixos-a.lint-nix.txt", &String::from_utf8(v).expect("utf8"));
}

#[test]
fn one_thread_and_many_give_the_same_report() {
    // The bundled pair, and the other bundled images paired by what differs
    // most between them (two producers' Rock Ridge; Joliet against plain
    // level 1), with placement details too: the most records to order.
    let rr = ("testdata/rr-genisoimage.iso", "testdata/rr-xorriso.iso");
    let joliet = ("testdata/level1.iso", "testdata/joliet-only.iso");
    for (a, b) in [(A, B), (B, A), (A, A), rr, joliet] {
        for layout in [false, true] {
            let options = |threads| Options::default().threads(threads).layout(layout);
            let run = |threads| {
                diff_files(Path::new(a), Path::new(b), &options(threads))
                    .unwrap_or_else(|e| panic!("{a} {b}: {e}"))
            };
            let one = rendered(&run(1));
            let calling = diff_files(Path::new(a), Path::new(b), &options(8).calling_thread(true))
                .unwrap_or_else(|e| panic!("{a} {b}: {e}"));
            for ((ext, x), (_, y)) in one.iter().zip(&rendered(&calling)) {
                assert!(
                    x == y,
                    "{a} {b} (layout {layout}): {ext} with 1 thread and on the calling thread differ"
                );
            }
            for threads in [2, 8] {
                let many = rendered(&run(threads));
                for ((ext, x), (_, y)) in one.iter().zip(&many) {
                    assert!(
                        x == y,
                        "{a} {b} (layout {layout}): {ext} with 1 and {threads} threads differ"
                    );
                }
            }
        }
    }
}

/// `calling_thread`: every difference is found on the thread that asked, a
/// second comparison on it too (the pool it became is kept), and a thread
/// that works for a pool already still gets its report.
#[test]
fn the_calling_thread_compares_alone() {
    use std::sync::{Arc, Mutex};
    use std::thread::ThreadId;
    let seen: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
    let record = Arc::clone(&seen);
    let options = Options::default()
        .calling_thread(true)
        .on_difference(move |_| {
            record
                .lock()
                .expect("not poisoned")
                .push(std::thread::current().id())
        });
    let here = std::thread::current().id();
    let first = rendered(&diff_files(Path::new(A), Path::new(B), &options).expect("compares"));
    let again = rendered(&diff_files(Path::new(A), Path::new(B), &options).expect("compares"));
    assert_eq!(first, again);
    let seen = seen.lock().expect("not poisoned");
    assert!(!seen.is_empty(), "the bundled pair differs");
    assert!(
        seen.iter().all(|t| *t == here),
        "{} of {} differences found on other threads",
        seen.iter().filter(|t| **t != here).count(),
        seen.len()
    );
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .expect("a pool");
    let inside = pool.install(|| {
        diff_files(
            Path::new(A),
            Path::new(B),
            &Options::default().calling_thread(true),
        )
        .expect("compares")
    });
    assert_eq!(first, rendered(&inside));
}

#[test]
fn the_readme_shows_the_report_as_it_is() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README");
    let marker = "The whole text report of the bundled pair";
    let start = readme
        .find(marker)
        .expect("the README shows the whole report");
    let shown: String = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("    ") || l.is_empty())
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let mut v = Vec::new();
    report::text::write(&report(A, B, 0), &mut v).expect("renders");
    assert_eq!(
        shown.trim_end(),
        String::from_utf8(v).expect("utf8").trim_end()
    );
}
