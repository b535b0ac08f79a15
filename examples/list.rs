//! List an image: its image-level facts, then every entry, nested images included.
//!
//! ```sh
//! cargo run --example list -- testdata/nixos-like-a.iso
//! ```
//!
//! With no argument it lists the first image of the bundled pair.

use std::path::PathBuf;
use std::process::ExitCode;

use isodiff::listing::{walk_nested, ListError, Listed, Nesting};
use isodiff::report::text;
use isodiff::{open, EntryKind, Limits, MappedFile};

fn main() -> ExitCode {
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/nixos-like-a.iso")
        });
    // The image is mapped read-only; nothing is extracted or copied.
    let map = match MappedFile::open(&path) {
        Ok(map) => map,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    // The format is recognized by its magic bytes.
    let fs = match open(map.bytes(), &Limits::default()) {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(2);
        }
    };

    println!("{}: {}", path.display(), fs.format());
    for fact in fs.facts().iter().filter(|f| !f.is_placement()) {
        println!("  {} = {}", fact.name, fact.value);
    }

    let mut files = 0u64;
    let mut bytes = 0u64;
    let mut problems = 0u64;
    walk_nested(
        fs.as_ref(),
        &[],
        &Nesting::default(),
        &mut |entry: Listed| {
            let m = &entry.meta;
            if m.kind == EntryKind::File {
                files += 1;
                bytes += m.size;
            }
            let mode = m
                .mode
                .map_or("----".to_owned(), |mode| format!("{mode:04o}"));
            let mtime = m.mtime.map_or("-".to_owned(), |t| t.rfc3339());
            println!(
                "{:<7} {mode} {:>9} {mtime} {}",
                m.kind.name(),
                m.size,
                text::location(&entry.location)
            );
        },
        // A damaged directory costs only itself: the walk goes on.
        &mut |p: ListError| {
            problems += 1;
            eprintln!("problem at {}: {}", text::location(&p.location), p.error);
        },
    );
    println!("{files} files, {bytes} bytes in them");
    if problems > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}
