//! Compare two images and walk the differences.
//!
//! ```sh
//! cargo run --example diff_two -- testdata/nixos-like-a.iso testdata/nixos-like-b.iso
//! ```
//!
//! With no arguments it compares the bundled pair. Exits like `isodiff`: 0 identical,
//! 1 different, 2 trouble.

use std::path::PathBuf;
use std::process::ExitCode;

use isodiff::report::text;
use isodiff::report::{Change, Which};
use isodiff::{diff_files, Options};

fn main() -> ExitCode {
    let (a, b) = two_paths();
    // Everything found, in one plain structure; problems further down (a damaged
    // directory, a budget hit) are in `report.problems`, the rest still compared.
    let report = match diff_files(&a, &b, &Options::default()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("cannot compare: {e}");
            return ExitCode::from(2);
        }
    };

    for d in &report.differences {
        // A location is outermost first: ["/nix-store.squashfs", "/etc/passwd"]
        // is /etc/passwd inside the squashfs stored as /nix-store.squashfs.
        let at = text::location(&d.location);
        // Each change is typed: match on what it is, read its values as such.
        match &d.change {
            Change::OneSided { side, entries, .. } => {
                // `entries` counts the subtree, the entry itself included.
                let only = if *side == Which::A { "a" } else { "b" };
                println!("{at}: only in {only} ({} in all)", entries.unwrap_or(1));
            }
            Change::Content(c) => {
                // The summary names the ELF section of the first differing
                // byte; `c.elf` holds it typed.
                println!("{at}: content: {}", c.summary());
            }
            // Everything else has a value on each side; `what()` names the
            // kind, and the field of facts and attributes.
            _ => {
                let (a, b) = text::values(d);
                println!("{at}: {} {a} -> {b}", d.what());
            }
        }
    }

    println!("\nby kind:");
    for (kind, count) in report.count_by_kind() {
        println!("  {:<10} {count}", kind.name());
    }
    // `Difference::image()` is the file system a difference is in.
    println!("by file system:");
    for (image, count) in report.count_by_image() {
        println!("  {:<20} {count}", text::location(&image.to_vec()));
    }
    // Same-size image pairs whose bytes were compared: where the bytes went.
    for acc in &report.byte_accounting {
        println!(
            "{}: {} differing bytes ({} explained, {} placement, {} reported, \
             {} unclaimed); {} handed down to nested images",
            text::location(&acc.location),
            acc.differing_bytes,
            acc.explained_bytes,
            acc.placement_bytes,
            acc.reported_bytes,
            acc.unattributed_bytes,
            acc.nested_bytes
        );
    }
    for p in &report.problems {
        let at = text::location(&p.location);
        eprintln!("problem in {:?} at {at}: {}", p.side, p.message);
    }

    ExitCode::from(report.exit_code())
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
