//! The Markdown report, for pasting into an issue tracker (GitHub-flavoured
//! Markdown: tables, `<details>`, fenced `diff` blocks).
//!
//! Strings from an image go into code spans, never into plain text: in a code span
//! no markup, HTML, link, @-mention or #-reference is recognised. The span's fence
//! is longer than any run of backticks inside it, `|` is escaped in table cells
//! (tables split cells before they see code spans), and control characters were
//! already made visible by [`crate::escape::escape`]. Unified diffs go into fenced
//! blocks whose fence is longer than any run of backticks in them; the one HTML
//! element that carries text, `<summary>`, gets HTML escaping.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use super::html::html_escape;
use super::{text, Difference, Kind, Report, Which};
use crate::escape::escape;

/// The longest run of `c` in `s`.
fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut run) = (0, 0);
    for x in s.chars() {
        run = if x == c { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

/// `s` (already escaped text) as a code span; `in_table` escapes `|`.
fn code(s: &str, in_table: bool) -> String {
    if s.is_empty() {
        return String::new();
    }
    let s = if in_table {
        s.replace('|', "\\|")
    } else {
        s.to_owned()
    };
    let fence = "`".repeat(longest_run(&s, '`') + 1);
    // CommonMark strips one space from each end when both are there: pad so that
    // what is stripped is ours, and so a backtick at an end is not part of the fence.
    let pad = if s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && s.trim() != "")
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// Our own text (counts, option names, patterns typed by the user) as plain
/// Markdown: punctuation that could start markup is backslash-escaped.
fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in escape(s.as_bytes()).chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '&'
                | '|'
                | '~'
                | '$'
                | '#'
                | '!'
                | '@'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Writes `report` as Markdown.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut s = String::new();
    render(report, &mut s);
    out.write_all(s.as_bytes())
}

fn render(report: &Report, s: &mut String) {
    let _ = writeln!(
        s,
        "## isodiff: {} → {}\n",
        code(&escape(report.a.path.as_bytes()), false),
        code(&escape(report.b.path.as_bytes()), false)
    );
    let total = report.differences.len() as u64 + report.cut.as_ref().map_or(0, |c| c.differences);
    if report.identical && report.problems.is_empty() {
        let hidden = report.filtered.as_ref().is_some_and(|f| f.differences > 0);
        let _ = writeln!(
            s,
            "**{}**\n",
            if hidden {
                "Identical after filtering"
            } else {
                "Identical"
            }
        );
    } else {
        let following = report.consequences();
        let _ = write!(
            s,
            "**{} difference(s)** in {} file system(s)",
            total - following,
            report.count_by_image().len()
        );
        if following > 0 {
            let _ = write!(s, " (and {following} that follow from them)");
        }
        if !report.problems.is_empty() {
            let _ = write!(s, ", **{} problem(s)**", report.problems.len());
        }
        s.push_str("\n\n");
    }
    if let Some(f) = &report.filtered {
        let _ = writeln!(s, "> {}\n", plain(&f.describe()));
    }
    if let Some(c) = &report.cut {
        let _ = writeln!(s, "> {}\n", plain(&c.describe()));
    }
    for r in &report.byte_accounting {
        let _ = writeln!(
            s,
            "> {} {}\n",
            code(&text::location(&r.location), false),
            plain(&text::accounting_line(r))
        );
    }
    if !report.differences.is_empty() {
        s.push_str("| kind | count |\n| :-- | --: |\n");
        for (kind, n) in report.count_by_kind() {
            let _ = writeln!(s, "| {} | {n} |", kind.name());
        }
        s.push('\n');
    }
    let mut by_image: BTreeMap<&[Vec<u8>], Vec<&Difference>> = BTreeMap::new();
    for d in &report.differences {
        by_image.entry(d.image()).or_default().push(d);
    }
    for (image, diffs) in by_image {
        let name = if image.is_empty() {
            "the outer image".to_owned()
        } else {
            code(&text::location(&image.to_vec()), false)
        };
        let _ = writeln!(s, "### {name} ({})\n", diffs.len());
        s.push_str("| location | what | a | b |\n| :-- | :-- | :-- | :-- |\n");
        for d in &diffs {
            row(d, s);
        }
        s.push('\n');
        for d in diffs.iter().filter(|d| d.has_detail()) {
            detail(d, s);
        }
    }
    if !report.problems.is_empty() {
        s.push_str("### Problems\n\n");
        for p in &report.problems {
            let side = match p.side {
                Which::A => "a",
                Which::B => "b",
            };
            let _ = writeln!(
                s,
                "- {} error in {side}: {}",
                code(&text::location(&p.location), false),
                code(&escape(p.message.as_bytes()), false)
            );
        }
        s.push('\n');
    }
}

/// Where a difference is inside its file system: its path, or `(image)` for a
/// fact of the file system itself.
fn inner(d: &Difference) -> String {
    match (d.kind(), d.location.last()) {
        (k, _) if k.is_image_level() => "(image)".to_owned(),
        (_, None) => "(image)".to_owned(),
        (_, Some(path)) => code(&escape(path), true),
    }
}

fn what(d: &Difference) -> String {
    match (&d.field(), d.kind()) {
        (Some(f), Kind::Image) => code(&escape(f.as_bytes()), true),
        (Some(f), kind) => format!("{} {}", kind.name(), code(&escape(f.as_bytes()), true)),
        (None, kind) => kind.name().to_owned(),
    }
}

fn row(d: &Difference, s: &mut String) {
    let (va, vb) = text::values(d);
    let (va, vb) = (code(&va, true), code(&vb, true));
    let kind = d.kind();
    let (what, a, b) = match kind {
        Kind::Added | Kind::Removed => {
            let entries = match d.entries() {
                Some(n) if n > 1 => format!(", {n} entries"),
                _ => String::new(),
            };
            let v = if kind == Kind::Added { vb } else { va };
            let shown = format!("{v}{}", plain(&entries));
            if kind == Kind::Added {
                (what(d), String::new(), shown)
            } else {
                (what(d), shown, String::new())
            }
        }
        Kind::Content => {
            let w = match d.summary() {
                Some(summary) => format!("content: {}", plain(&summary)),
                None => "content".to_owned(),
            };
            (w, va, vb)
        }
        _ => (what(d), va, vb),
    };
    let _ = writeln!(s, "| {} | {what} | {a} | {b} |", inner(d));
}

fn detail(d: &Difference, s: &mut String) {
    let lines: Vec<String> = d
        .detail_lines()
        .iter()
        .map(|l| escape(l.to_string().as_bytes()))
        .collect();
    if lines.is_empty() {
        return;
    }
    let body = lines.join("\n");
    let fence = "`".repeat((longest_run(&body, '`') + 1).max(3));
    let _ = write!(
        s,
        "<details><summary>{}: {}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n\n",
        html_escape(&text::location(&d.location)),
        html_escape(&escape(d.what().as_bytes()))
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::change::{Hunk, Line, LineOp, TextDiff};
    use crate::report::{EntryField, Side, Val};

    #[test]
    fn code_spans_hold_anything() {
        assert_eq!(code("plain", false), "`plain`");
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x`", false), "`` `x` ``");
        assert_eq!(code("a|b", true), "`a\\|b`");
        assert_eq!(code("a|b", false), "`a|b`");
        assert_eq!(code(" x ", false), "`  x  `");
        assert_eq!(
            plain("*a* [b](c) <d> @e #1"),
            "\\*a\\* \\[b\\](c) \\<d\\> \\@e \\#1"
        );
    }

    #[test]
    fn hostile_names_stay_inside_code() {
        let evil = b"/x|y`<img src=x onerror=alert(1)>@someone\n```".to_vec();
        let mut c = crate::report::change::tests::content();
        let line = |op, text: &str| Line {
            op,
            text: text.into(),
        };
        c.text_diff = Some(TextDiff {
            hunks: vec![Hunk {
                old_start: 1,
                old_lines: 1,
                new_start: 1,
                new_lines: 1,
                lines: vec![
                    line(LineOp::Removed, "```"),
                    line(LineOp::Added, "</details>"),
                ],
            }],
            cut_at_lines: None,
        });
        let d = Difference::content(vec![evil.clone()], c);
        let side = |p: &str| Side {
            path: p.into(),
            size: 0,
        };
        let r = Report::new(
            side("a.iso"),
            side("b.iso"),
            vec![
                d,
                Difference::entry(
                    vec![evil],
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o444),
                ),
            ],
            Vec::new(),
        );
        let mut v = Vec::new();
        write(&r, &mut v).expect("write");
        let md = String::from_utf8(v).expect("utf8");
        assert!(
            md.contains(
                "| ```` /x\\|y`<img src=x onerror=alert(1)>@someone\\n``` ```` | mode | `0644` | `0444` |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "<summary>/x|y`&lt;img src=x onerror=alert(1)&gt;@someone\\n```: content</summary>"
            ),
            "{md}"
        );
        assert!(
            md.contains(&format!(
                "````diff\nsha256 a {}\nsha256 b {}\n@@ -1 +1 @@\n-```\n+</details>\n````\n",
                "aa".repeat(32),
                "bb".repeat(32)
            )),
            "{md}"
        );
        // Every table row has its four cells.
        for line in md.lines().filter(|l| l.starts_with("| `")) {
            let cells = line.replace("\\|", "").matches('|').count();
            assert_eq!(cells, 5, "{line}");
        }
    }
}
