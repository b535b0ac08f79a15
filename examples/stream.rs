//! Stream findings to a sink while two images are compared: each difference is
//! printed (as one JSON line) the moment it is found, long before the report of
//! a large pair is ready; the report's summary follows at the end.
//!
//! ```sh
//! cargo run --example stream -- testdata/nixos-like-a.iso testdata/nixos-like-b.iso
//! ```
//!
//! With no arguments it compares the bundled pair. Exits like `isodiff`: 0 identical,
//! 1 different, 2 trouble.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use isodiff::report::text;
use isodiff::{diff_files, Options};

fn main() -> ExitCode {
    let (a, b) = two_paths();
    // The sink is called from the comparison's worker threads: the output is
    // locked so that lines do not interleave.
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let sink = out.clone();
    let options = Options::default().on_difference(move |d| {
        let line = serde_json::json!({
            "location": text::location(&d.location),
            "kind": d.kind(),
            "field": d.field(),
            "summary": d.summary(),
        });
        let mut out = sink.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(out, "{line}");
    });
    let report = match diff_files(&a, &b, &options) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cannot compare: {e}");
            return ExitCode::from(2);
        }
    };
    // The report knows what the stream could not: which differences follow
    // from others, and the causes.
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(
        out,
        "{} differences, {} problems",
        report.differences.len(),
        report.problems.len()
    );
    ExitCode::from(report.exit_code())
}

/// The two images named on the command line, or the bundled pair.
fn two_paths() -> (PathBuf, PathBuf) {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    match (args.next(), args.next()) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata");
            (data.join("nixos-like-a.iso"), data.join("nixos-like-b.iso"))
        }
    }
}
