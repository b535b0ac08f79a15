//! The layers of the crate, checked over its `crate::` paths: a module uses
//! only modules of its own layer or of the layers before it, and nothing but
//! the report itself reaches a renderer. Test modules (`#[cfg(test)]` and
//! after) and comments are left out: a test may build whatever it checks.
//!
//! ```text
//! 0 bytes, error, time, limits, escape, map   leaves
//! 1 model (entries, facts, spans)             the vocabulary every reader speaks
//! 2 formats (readers, formats::open)          one place opens every image
//! 3 report (typed findings, filters, renderers)
//! 4 accounting                                consumes the findings of one image pair
//! 5 diff                                      walks two images, calls the accounting
//! 6 listing, lint, manifest                   `ls`, `lint`, `manifest`
//! ```

use std::path::{Path, PathBuf};

/// The layer of a top-level module of the crate.
fn layer(module: &str) -> Option<u8> {
    Some(match module {
        "bytes" | "error" | "time" | "limits" | "escape" | "map" => 0,
        "model" => 1,
        "formats" => 2,
        "report" => 3,
        "accounting" => 4,
        "diff" => 5,
        "listing" | "lint" | "manifest" => 6,
        _ => return None,
    })
}

/// Renderers: the edge where a typed finding becomes text.
const RENDERERS: [&str; 5] = ["text", "json", "html", "markdown", "diffoscope"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::a::b` paths a line of code names, without `crate::`.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        out.push(rest[..end].trim_end_matches(':').to_owned());
    }
    out
}

#[test]
fn no_module_uses_a_module_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut upward = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
        let top = parts.next().unwrap_or_default();
        let top = top.trim_end_matches(".rs").to_owned();
        // The crate root re-exports everything; the binary links the crate.
        let Some(own) = layer(&top) else {
            continue;
        };
        let code = std::fs::read_to_string(file).expect("source is readable");
        let code = code.split("#[cfg(test)]").next().unwrap_or_default();
        for line in code.lines() {
            let line = line.trim_start();
            if line.starts_with("//") {
                continue;
            }
            for path in crate_paths(line) {
                checked += 1;
                let first = path.split("::").next().unwrap_or_default();
                let Some(used) = layer(first) else {
                    // The crate root's own items (`crate::Result`...).
                    continue;
                };
                let renderer = first == "report"
                    && top != "report"
                    && path
                        .split("::")
                        .nth(1)
                        .is_some_and(|m| RENDERERS.contains(&m));
                if used > own || renderer {
                    upward.push(format!("{}: crate::{path}", rel.display()));
                }
            }
        }
    }
    assert!(
        checked > 100,
        "only {checked} paths found: is the scan broken?"
    );
    assert!(
        upward.is_empty(),
        "uses of a layer above:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_finds_paths_and_layers() {
    assert_eq!(
        crate_paths("use crate::model::span::{Layout, Span}; let x = crate::diff::Options;"),
        ["model::span::", "diff::Options"].map(|s| s.trim_end_matches(':').to_owned())
    );
    assert!(layer("diff") > layer("accounting") && layer("model") < layer("formats"));
    assert_eq!(layer("bin"), None);
}
