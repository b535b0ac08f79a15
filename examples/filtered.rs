//! Compare two images with a filter: hide times and owners (what `--semantic`
//! hides) and everything under one directory, then see what the filter hid.
//!
//! ```sh
//! cargo run --example filtered -- testdata/nixos-like-a.iso testdata/nixos-like-b.iso
//! ```
//!
//! With no arguments it compares the bundled pair.

use std::path::PathBuf;
use std::process::ExitCode;

use isodiff::report::{text, Filter};
use isodiff::{diff_files, Options};

fn main() -> ExitCode {
    let (a, b) = two_paths();
    let report = match diff_files(&a, &b, &Options::default()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cannot compare: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{} difference(s) before filtering",
        report.differences.len()
    );

    // The same rules as `isodiff --semantic --ignore mode --exclude '**/share'`.
    // A pattern that cannot be used is an error here, not a silent no-op.
    let filter = match Filter::new()
        .semantic()
        .ignore("mode")
        .and_then(|f| f.exclude("**/share"))
    {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    // The filter runs on the finished report and counts what each rule hid.
    let report = filter.apply(report);

    for d in &report.differences {
        // One line as the text report writes it.
        println!("{}", text::line(d));
    }
    // Nothing is hidden silently: each rule's count is kept.
    if let Some(filtered) = &report.filtered {
        println!("{}", filtered.describe());
        for rule in filtered.rules.iter().filter(|r| r.differences > 0) {
            println!("  {} hid {}", rule.label(), rule.differences);
        }
    }
    if report.identical {
        println!("identical after filtering");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The two paths given, or the pair bundled with the sources.
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
