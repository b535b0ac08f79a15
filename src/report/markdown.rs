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

/// How many characters a Markdown report holds by default: GitHub's limit for
/// an issue comment. What does not fit is left out, with a note saying so.
pub const MAX_CHARS: usize = 65_536;

/// Room kept for the closing note of a report that was shortened.
const NOTE_ROOM: usize = 400;

/// Writes `report` as Markdown, within [`MAX_CHARS`].
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    write_within(report, out, Some(MAX_CHARS))
}

/// Writes `report` as Markdown within `max_chars` characters (`None`: no limit).
/// The causes and counts always come first; table rows, then details, are left
/// out at the end when they do not fit, and a closing note says how many.
pub(crate) fn write_within(
    report: &Report,
    out: &mut dyn Write,
    max_chars: Option<usize>,
) -> std::io::Result<()> {
    let mut s = String::new();
    render(report, &mut s, max_chars.unwrap_or(usize::MAX));
    out.write_all(s.as_bytes())
}

/// Characters of `s` (what GitHub counts).
fn chars(s: &str) -> usize {
    s.chars().count()
}

fn render(report: &Report, s: &mut String, max_chars: usize) {
    let _ = writeln!(
        s,
        "## isodiff: {} → {}\n",
        code(&escape(report.a.shown().as_bytes()), false),
        code(&escape(report.b.shown().as_bytes()), false)
    );
    match report.verdict() {
        super::Verdict::Identical { after_filtering } => {
            let word = if after_filtering {
                "Identical after filtering"
            } else {
                "Identical"
            };
            let _ = writeln!(s, "**{word}**\n");
        }
        super::Verdict::Different {
            differences,
            following,
            problems,
        } => {
            let _ = write!(
                s,
                "**{differences} difference(s)** in {} file system(s)",
                report.count_by_image().len()
            );
            if following > 0 {
                let _ = write!(s, " (and {following} that follow from them)");
            }
            if problems > 0 {
                let _ = write!(s, ", **{problems} problem(s)**");
            }
            s.push_str("\n\n");
        }
    }
    causes(report, s);
    if !report.differences.is_empty() {
        s.push_str("| kind | count |\n| :-- | --: |\n");
        for (kind, n) in report.count_by_kind() {
            let _ = writeln!(s, "| {} | {n} |", kind.name());
        }
        s.push('\n');
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
    if !report.warnings.is_empty() {
        s.push_str("### Warnings\n\n");
        for w in &report.warnings {
            let side = match w.side {
                Which::A => "a",
                Which::B => "b",
            };
            let _ = writeln!(
                s,
                "- {} warning in {side}: {}",
                code(&text::location(&w.location), false),
                code(&escape(w.message.as_bytes()), false)
            );
        }
        s.push('\n');
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
    let mut budget = Budget {
        room: max_chars.saturating_sub(chars(s) + NOTE_ROOM),
        rows_left_out: 0,
        details_left_out: 0,
    };
    details(report, s, &mut budget);
    let mut left_out = Vec::new();
    if budget.rows_left_out > 0 {
        left_out.push(format!("{} row(s)", budget.rows_left_out));
    }
    if budget.details_left_out > 0 {
        left_out.push(format!("{} detail(s)", budget.details_left_out));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            s,
            "> {} left out to stay within {max_chars} characters; the JSON report holds \
             every difference.\n",
            left_out.join(" and ")
        );
    }
}

/// What is left of the room for rows and details, and what did not fit.
struct Budget {
    room: usize,
    rows_left_out: u64,
    details_left_out: u64,
}

impl Budget {
    /// Takes room for `text`; false when it does not fit.
    fn take(&mut self, text: &str) -> bool {
        let n = chars(text);
        if n > self.room {
            return false;
        }
        self.room -= n;
        true
    }
}

/// The causes found, as a table, and how many differences have none.
fn causes(report: &Report, s: &mut String) {
    if report.causes.is_empty() {
        return;
    }
    s.push_str("### Causes\n\n| cause | differences | what | e.g. | usual fix |\n");
    s.push_str("| :-- | --: | :-- | :-- | :-- |\n");
    for c in &report.causes {
        let what: Vec<String> = c.what().iter().map(|w| escape(w.as_bytes())).collect();
        let examples: Vec<String> = c
            .examples
            .iter()
            .take(3)
            .map(|l| code(&text::location(l), true))
            .collect();
        let _ = writeln!(
            s,
            "| **{}** | {} | {} | {} | {} |",
            plain(c.class.title),
            c.differences,
            plain(&what.join("; ")),
            examples.join(", "),
            plain(c.class.fix)
        );
    }
    s.push('\n');
    if report.no_known_cause > 0 {
        let _ = writeln!(
            s,
            "No known cause: {} difference(s).\n",
            report.no_known_cause
        );
    }
}

/// A table row: the file system it is in, its text, and the difference whose
/// detail follows the tables.
type Row<'r> = (&'r [Vec<u8>], String, Option<&'r Difference>);

/// Per file system: a table of the differences, grouped as the text report
/// groups them, then their details.
fn details(report: &Report, s: &mut String, budget: &mut Budget) {
    let (groups, rest) = super::summary::summarize(&report.differences);
    let byte_groups = text::byte_groups(&report.differences);
    // Rows in report order, by image: (image, row text, difference with detail).
    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut groups = groups.iter().peekable();
    fn group_row(g: &super::summary::Group) -> Row<'_> {
        let examples: Vec<String> = g
            .paths
            .iter()
            .take(super::summary::EXAMPLES)
            .map(|p| code(&escape(p), true))
            .collect();
        let more = if g.paths.len() > examples.len() {
            ", ..."
        } else {
            ""
        };
        let cause = match &g.change {
            super::summary::GroupChange::Caused { cause, .. } => format!(" ({})", plain(cause)),
            _ => String::new(),
        };
        let row = format!(
            "| {} entries: {}{more} | {} | {}{cause} | |",
            g.paths.len(),
            examples.join(", "),
            plain(&g.fields.join(", ")),
            code(&escape(g.change.to_string().as_bytes()), true),
        );
        (g.container.as_slice(), row, None)
    }
    for i in rest {
        while let Some(g) = groups.next_if(|g| g.first < i) {
            rows.push(group_row(g));
        }
        let d = &report.differences[i];
        if d.consequence {
            continue;
        }
        match byte_groups.get(&i) {
            Some(Some(members)) => {
                let structure = d.structure().unwrap_or_default();
                let row = format!(
                    "| (image) | bytes of {} structures of kind {} | | |",
                    members.len(),
                    code(&escape(structure.as_bytes()), true)
                );
                rows.push((d.image(), row, None));
                continue;
            }
            Some(None) => continue,
            None => {}
        }
        let mut row = String::new();
        self::row(d, &mut row);
        rows.push((d.image(), row, d.has_detail().then_some(d)));
    }
    rows.extend(groups.map(group_row));
    let consequences = text::consequence_lines(report);
    let mut by_image: BTreeMap<&[Vec<u8>], Vec<Row<'_>>> = BTreeMap::new();
    for row in rows {
        by_image.entry(row.0).or_default().push(row);
    }
    let mut shown_details: Vec<&Difference> = Vec::new();
    for (image, rows) in by_image {
        let name = if image.is_empty() {
            "the outer image".to_owned()
        } else {
            code(&text::location(&image.to_vec()), false)
        };
        let head =
            format!("### {name}\n\n| location | what | a | b |\n| :-- | :-- | :-- | :-- |\n");
        if !budget.take(&head) {
            budget.rows_left_out += rows.len() as u64;
            continue;
        }
        s.push_str(&head);
        for (_, row, d) in rows {
            let line = format!("{}\n", row.trim_end_matches('\n'));
            if budget.take(&line) {
                s.push_str(&line);
                shown_details.extend(d);
            } else {
                budget.rows_left_out += 1;
            }
        }
        s.push('\n');
    }
    for line in consequences {
        let line = format!("> {}\n\n", plain(&line));
        if budget.take(&line) {
            s.push_str(&line);
        }
    }
    for d in shown_details {
        let mut block = String::new();
        detail(d, &mut block);
        if budget.take(&block) {
            s.push_str(&block);
        } else {
            budget.details_left_out += 1;
        }
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
    let what = match d.cause {
        Some(c) => format!("{what} *({})*", plain(c.title)),
        None => what,
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
    fn long_reports_stay_within_the_limit_causes_first() {
        let side = |p: &str| Side::new(p, 0);
        // Many differences no group folds (each its own owner change).
        let ds: Vec<Difference> = (0..3000u32)
            .map(|i| {
                Difference::entry(
                    vec![
                        b"/x.squashfs".to_vec(),
                        format!("/dir/file-{i:05}").into_bytes(),
                    ],
                    EntryField::Uid,
                    Val::Unsigned(u64::from(i)),
                    Val::Unsigned(u64::from(i) + 1),
                )
            })
            .collect();
        let mut r = Report::new(side("a.iso"), side("b.iso"), ds, Vec::new());
        crate::report::cause::assign(&mut r);
        let mut v = Vec::new();
        write(&r, &mut v).expect("write");
        let md = String::from_utf8(v).expect("utf8");
        assert!(md.chars().count() <= MAX_CHARS, "{}", md.len());
        assert!(
            md.contains("row(s) left out to stay within 65536 characters"),
            "{md}"
        );
        assert!(md.find("| kind | count |") < md.find("### `/x.squashfs`"));
        let mut v = Vec::new();
        write_within(&r, &mut v, None).expect("write");
        assert!(v.len() > MAX_CHARS && !String::from_utf8_lossy(&v).contains("left out"));
    }

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
        let side = |p: &str| Side::new(p, 0);
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
