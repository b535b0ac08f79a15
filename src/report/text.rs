//! The text report: one line per difference with both values, grouped by location
//! as they are sorted, details indented beneath. Every string from an image is
//! escaped (see [`crate::escape`]).
//!
//! The format is stable (scripts and tests read its lines): new information comes
//! as new lines before the closing count, only when it exists (what filters hid,
//! what a size limit cut). Colour, when asked for, wraps parts of the same lines in
//! SGR sequences and changes nothing else; since names are escaped before they are
//! coloured, a name cannot carry escape sequences of its own.

use std::io::Write;

use super::change::{shown_pair, DetailLine, LineOp, Shown};
use super::{Difference, Kind, Location, Report, Which};
use crate::escape::escape;

/// How to write the text report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Colour with ANSI SGR sequences (for a terminal).
    pub color: bool,
}

/// SGR sequences used when colouring.
mod sgr {
    pub(crate) const RESET: &str = "\x1b[0m";
    pub(crate) const BOLD: &str = "\x1b[1m";
    pub(crate) const RED: &str = "\x1b[31m";
    pub(crate) const GREEN: &str = "\x1b[32m";
    pub(crate) const YELLOW: &str = "\x1b[33m";
    pub(crate) const CYAN: &str = "\x1b[36m";
    pub(crate) const DIM: &str = "\x1b[2m";
}

/// `text` in `code` when colouring, as it is otherwise.
fn paint(style: Style, code: &str, text: &str) -> String {
    if style.color && !text.is_empty() {
        format!("{code}{text}{}", sgr::RESET)
    } else {
        text.to_owned()
    }
}

/// Writes `report` as text, without colour.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    write_styled(report, out, Style::default())
}

/// Writes `report` as text in `style`.
pub fn write_styled(report: &Report, out: &mut dyn Write, style: Style) -> std::io::Result<()> {
    writeln!(
        out,
        "{}",
        paint(
            style,
            sgr::BOLD,
            &format!("--- {}", escape(report.a.shown().as_bytes()))
        )
    )?;
    writeln!(
        out,
        "{}",
        paint(
            style,
            sgr::BOLD,
            &format!("+++ {}", escape(report.b.shown().as_bytes()))
        )
    )?;
    for line in cause_lines(report) {
        writeln!(out, "{}", paint_cause_line(style, &line))?;
    }
    // Many entries changed the same way are said once (the JSON keeps them all),
    // and so are many structures of one kind whose bytes differ.
    let (groups, rest) = super::summary::summarize(&report.differences);
    let mut groups = groups.iter().peekable();
    let byte_groups = byte_groups(&report.differences);
    for i in rest {
        while let Some(g) = groups.next_if(|g| g.first < i) {
            writeln!(out, "{}", group_line(g))?;
        }
        let d = &report.differences[i];
        if d.consequence {
            continue;
        }
        match byte_groups.get(&i) {
            Some(Some(members)) => {
                writeln!(
                    out,
                    "{}",
                    byte_group_line(&report.differences, members, style)
                )?;
                continue;
            }
            Some(None) => continue,
            None => {}
        }
        writeln!(out, "{}", styled_line(d, style))?;
        for l in d.detail_lines() {
            let code = match l {
                DetailLine::Hunk(_) | DetailLine::HexHeader(_) => sgr::CYAN,
                DetailLine::Line(x) if x.op == LineOp::Added => sgr::GREEN,
                DetailLine::Line(x) if x.op == LineOp::Removed => sgr::RED,
                DetailLine::HexRow(r) if r.side == Some(Which::B) => sgr::GREEN,
                DetailLine::HexRow(r) if r.side == Some(Which::A) => sgr::RED,
                DetailLine::CodeHeader(_) => sgr::CYAN,
                DetailLine::CodeRow(r) if r.side == Some(Which::B) => sgr::GREEN,
                DetailLine::CodeRow(r) if r.side == Some(Which::A) => sgr::RED,
                DetailLine::DiffCut(_)
                | DetailLine::LeftOut
                | DetailLine::HexCut
                | DetailLine::HexMore(_)
                | DetailLine::CodeCut
                | DetailLine::CodeMore(_) => sgr::YELLOW,
                _ => "",
            };
            let l = escape(l.to_string().as_bytes());
            writeln!(out, "    {}", paint(style, code, &l))?;
        }
    }
    for g in groups {
        writeln!(out, "{}", group_line(g))?;
    }
    for line in consequence_lines(report) {
        writeln!(out, "{}", paint(style, sgr::DIM, &line))?;
    }
    if report.cut.is_some() && report.byte_accounting.len() > 1 {
        // Under a size limit, one line for all image pairs.
        let pairs = report.byte_accounting.len();
        let open = report
            .byte_accounting
            .iter()
            .filter(|r| !r.all_explained())
            .count();
        let verdict = if open == 0 {
            "every differing byte explained".to_owned()
        } else {
            format!("{open} with bytes not explained")
        };
        writeln!(out, "byte accounting: {pairs} image pairs, {verdict}")?;
    } else {
        for r in &report.byte_accounting {
            writeln!(
                out,
                "{}  {}",
                paint(style, sgr::BOLD, &location(&r.location)),
                accounting_line(r)
            )?;
        }
    }
    for p in &report.problems {
        let side = match p.side {
            Which::A => "a",
            Which::B => "b",
        };
        let text = format!("error in {side}: {}", escape(p.message.as_bytes()));
        writeln!(
            out,
            "{}  {}",
            paint(style, sgr::BOLD, &location(&p.location)),
            paint(style, sgr::RED, &text)
        )?;
    }
    for w in &report.warnings {
        let side = match w.side {
            Which::A => "a",
            Which::B => "b",
        };
        let text = format!("warning in {side}: {}", escape(w.message.as_bytes()));
        writeln!(
            out,
            "{}  {}",
            paint(style, sgr::BOLD, &location(&w.location)),
            paint(style, sgr::YELLOW, &text)
        )?;
    }
    if let Some(f) = &report.filtered {
        writeln!(
            out,
            "{}",
            paint(style, sgr::DIM, &escape(f.describe().as_bytes()))
        )?;
    }
    if let Some(c) = &report.cut {
        writeln!(out, "{}", paint(style, sgr::YELLOW, &c.describe()))?;
    }
    writeln!(
        out,
        "{}",
        paint(style, sgr::BOLD, &report.verdict().describe(""))
    )?;
    Ok(())
}

/// A location as text: its parts joined by `:`; the outermost image is `image`.
pub fn location(location: &Location) -> String {
    if location.is_empty() {
        return "image".to_owned();
    }
    location
        .iter()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join(":")
}

/// A value as text: strings escaped and unquoted, null as `(none)`.
pub(crate) fn value(v: &Shown<'_>) -> String {
    escape(v.to_string().as_bytes())
}

/// One line per image for the differences that only follow from others
/// ([`Difference::consequence`]): `/x.squashfs  follows from the differences
/// above: superblock.inode_count 41783 -> 41782`.
pub(crate) fn consequence_lines(report: &Report) -> Vec<String> {
    let mut by_image: std::collections::BTreeMap<&[Vec<u8>], Vec<String>> = Default::default();
    for d in report.differences.iter().filter(|d| d.consequence) {
        let (a, b) = values(d);
        by_image
            .entry(d.image())
            .or_default()
            .push(format!("{} {a} -> {b}", escape(d.what().as_bytes())));
    }
    by_image
        .into_iter()
        .map(|(image, what)| {
            format!(
                "{}  follows from the differences above: {}",
                location(&image.to_vec()),
                what.join("; ")
            )
        })
        .collect()
}

/// Both values of a difference as text (`null` for a missing one).
pub fn values(d: &Difference) -> (String, String) {
    let (a, b) = d.values();
    let (a, b) = shown_pair(&a, &b);
    (value(&a), value(&b))
}

/// The one line of a group of entries that changed the same way.
pub(crate) fn group_line(g: &super::summary::Group) -> String {
    let examples: Vec<String> = g
        .paths
        .iter()
        .take(super::summary::EXAMPLES)
        .map(|p| escape(p))
        .collect();
    let more = if g.paths.len() > examples.len() {
        ", ..."
    } else {
        ""
    };
    let cause = match &g.change {
        super::summary::GroupChange::Caused { cause, .. } => format!("{cause}; "),
        _ => String::new(),
    };
    format!(
        "{}  {} {} on {} entries ({cause}e.g. {}{more})",
        location(&g.container),
        g.fields.join(", "),
        escape(g.change.to_string().as_bytes()),
        g.paths.len(),
        examples.join(", ")
    )
}

/// A line of the causes block: its heading, indented details, or the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CauseLine {
    /// `causes:`
    Heading(String),
    /// One cause: its count and what differs.
    Cause(String),
    /// Examples, the explanation or the fix of the cause above.
    Detail(String),
    /// Counts (differences with no known cause, by kind).
    Count(String),
}

/// The block that opens the text report: the causes found, each with its
/// count, examples and fix; how many differences have no known cause; the
/// counts by kind. Empty when there is no difference.
pub(crate) fn cause_lines(report: &Report) -> Vec<CauseLine> {
    let mut out = Vec::new();
    if report.differences.is_empty() {
        return out;
    }
    if !report.causes.is_empty() {
        out.push(CauseLine::Heading("causes:".to_owned()));
    }
    for c in &report.causes {
        out.push(CauseLine::Cause(format!(
            "  {}",
            escape(c.line().as_bytes())
        )));
        let examples: Vec<String> = c.examples.iter().map(location).collect();
        let more = if c.differences > c.examples.len() as u64 {
            ", ..."
        } else {
            ""
        };
        out.push(CauseLine::Detail(format!(
            "      e.g. {}{more}",
            examples.join(", ")
        )));
        out.push(CauseLine::Detail(format!("      why: {}", c.class.why)));
        out.push(CauseLine::Detail(format!("      fix: {}", c.class.fix)));
    }
    if report.no_known_cause > 0 {
        let n = report.no_known_cause;
        let s = if n == 1 { "" } else { "s" };
        let line = if report.causes.is_empty() {
            format!("no known cause for the {n} difference{s} below")
        } else {
            format!("no known cause: {n} difference{s}")
        };
        out.push(CauseLine::Count(line));
    }
    let kinds: Vec<String> = report
        .count_by_kind()
        .into_iter()
        .map(|(k, n)| format!("{n} {}", k.name()))
        .collect();
    out.push(CauseLine::Count(format!("by kind: {}", kinds.join(", "))));
    out
}

impl CauseLine {
    /// The line's text.
    pub(crate) fn text(&self) -> &str {
        match self {
            CauseLine::Heading(s)
            | CauseLine::Cause(s)
            | CauseLine::Detail(s)
            | CauseLine::Count(s) => s,
        }
    }
}

fn paint_cause_line(style: Style, line: &CauseLine) -> String {
    match line {
        CauseLine::Heading(s) | CauseLine::Cause(s) => paint(style, sgr::BOLD, s),
        CauseLine::Detail(s) | CauseLine::Count(s) => paint(style, sgr::DIM, s),
    }
}

/// How many `bytes` differences of one kind of structure in one image are shown
/// one by one; more are said in one line.
pub(crate) const BYTES_SHOWN: usize = 6;

/// `bytes` differences said together: for the index of the first of a group, the
/// indices of its members; for the others of the group, `None`.
pub(crate) fn byte_groups(
    differences: &[Difference],
) -> std::collections::HashMap<usize, Option<Vec<usize>>> {
    type ByStructure<'d> =
        std::collections::BTreeMap<(&'d Location, std::borrow::Cow<'d, str>), Vec<usize>>;
    let mut by_structure: ByStructure<'_> = std::collections::BTreeMap::new();
    for (i, d) in differences.iter().enumerate() {
        if d.kind() == Kind::Bytes {
            let structure = d.structure().unwrap_or_default();
            by_structure
                .entry((&d.location, structure))
                .or_default()
                .push(i);
        }
    }
    let mut out = std::collections::HashMap::new();
    for members in by_structure.into_values() {
        if members.len() > BYTES_SHOWN {
            for &i in &members[1..] {
                out.insert(i, None);
            }
            out.insert(members[0], Some(members));
        }
    }
    out
}

/// One line for many structures of one kind whose bytes differ.
fn byte_group_line(differences: &[Difference], members: &[usize], style: Style) -> String {
    let first = &differences[members[0]];
    let examples: Vec<String> = members
        .iter()
        .take(super::summary::EXAMPLES)
        .filter_map(|&i| differences[i].field())
        .map(|f| escape(f.as_bytes()))
        .collect();
    format!(
        "{}  {} of {} structures of kind {} differ (e.g. {}, ...)",
        paint(style, sgr::BOLD, &location(&first.location)),
        paint(style, sgr::YELLOW, "bytes"),
        members.len(),
        escape(first.structure().as_deref().unwrap_or("?").as_bytes()),
        examples.join(", ")
    )
}

/// The line that says whether every differing byte of an image pair is explained.
pub(crate) fn accounting_line(r: &super::ByteAccounting) -> String {
    let s = |n: u64| if n == 1 { "" } else { "s" };
    let nested = match r.nested_bytes {
        0 => String::new(),
        n => format!(
            " outside nested images ({n} byte{} handed down to them)",
            s(n)
        ),
    };
    if r.differing_bytes == 0 {
        return format!("byte accounting: no differing byte{nested}");
    }
    let head = format!(
        "byte accounting: {} differing byte{} in {} range{}{nested}",
        r.differing_bytes,
        s(r.differing_bytes),
        r.ranges,
        s(r.ranges)
    );
    let mut parts = Vec::new();
    for (n, what) in [
        (r.explained_bytes, "by the differences above"),
        (r.placement_bytes, "by placement"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if r.all_explained() {
        format!("{head}, every one explained ({})", parts.join(", "))
    } else {
        for (n, what) in [
            (r.reported_bytes, "in structures reported as bytes"),
            (r.unattributed_bytes, "unclaimed"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        format!("{head}, not all explained ({})", parts.join(", "))
    }
}

/// The one line of a difference.
pub fn line(d: &Difference) -> String {
    styled_line(d, Style::default())
}

/// The line of a difference: location, what differs, values; in colour the
/// location is bold, what differs yellow, and one-sided entries green or red.
fn styled_line(d: &Difference, style: Style) -> String {
    let loc = paint(style, sgr::BOLD, &location(&d.location));
    let what = escape(d.what().as_bytes());
    let kind = d.kind();
    match kind {
        Kind::Added | Kind::Removed => {
            let (a, b) = values(d);
            let v = if kind == Kind::Added { b } else { a };
            let count = match d.entries() {
                Some(n) if n > 1 => format!(", {n} entries"),
                _ => String::new(),
            };
            let code = if kind == Kind::Added {
                sgr::GREEN
            } else {
                sgr::RED
            };
            format!("{loc}  {} ({v}{count})", paint(style, code, &what))
        }
        Kind::Content | Kind::Bytes | Kind::Layout => {
            let what = paint(style, sgr::YELLOW, &what);
            // Short raw values of changed bytes are shown; offsets of moved
            // structures are in the summary already.
            let values = match d.values() {
                (a, b) if kind == Kind::Bytes => match (a.shown(), b.shown()) {
                    (a @ Shown::Text(_), b @ Shown::Text(_)) => {
                        format!(" ({} -> {})", value(&a), value(&b))
                    }
                    _ => String::new(),
                },
                _ => String::new(),
            };
            match d.summary() {
                Some(summary) => {
                    format!("{loc}  {what}: {}{values}", escape(summary.as_bytes()))
                }
                None if kind == Kind::Layout => {
                    let (a, b) = self::values(d);
                    format!("{loc}  {what} {a} -> {b}")
                }
                None => format!("{loc}  {what} differs{values}"),
            }
        }
        _ => {
            let (a, b) = values(d);
            format!("{loc}  {} {a} -> {b}", paint(style, sgr::YELLOW, &what))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::change::{Hunk, Line, LineOp, TextDiff};
    use crate::report::{EntryField, Side, Val};

    fn report() -> Report {
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
                lines: vec![line(LineOp::Removed, "a"), line(LineOp::Added, "b")],
            }],
            cut_at_lines: Some(3),
        });
        let content = Difference::content(vec![b"/f".to_vec()], c);
        let side = |p: &str| Side::new(p, 0);
        Report::new(
            side("a.iso"),
            side("b.iso"),
            vec![
                content,
                Difference::entry(
                    vec![b"/\x1b]0;evil\x07".to_vec()],
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o444),
                ),
            ],
            Vec::new(),
        )
    }

    fn render(style: Style) -> String {
        let mut v = Vec::new();
        write_styled(&report(), &mut v, style).expect("write");
        String::from_utf8(v).expect("utf8")
    }

    /// Strips SGR sequences (ESC `[` ... `m`).
    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("\x1b[") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after.find('m').map_or(after.len(), |e| e + 1);
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn colour_changes_nothing_but_sgr() {
        let plain = render(Style::default());
        let color = render(Style { color: true });
        assert!(!plain.contains('\x1b'));
        assert!(color.contains("\x1b[32m+b\x1b[0m"), "{color:?}");
        assert!(color.contains("\x1b[31m-a\x1b[0m"), "{color:?}");
        assert!(color.contains("\x1b[36m@@ -1 +1 @@\x1b[0m"), "{color:?}");
        assert!(
            color.contains("\x1b[33m[diff cut at 3 lines]\x1b[0m"),
            "{color:?}"
        );
        assert!(plain.contains("\n    sha256 a aaaa"), "{plain}");
        assert_eq!(strip(&color), plain);
        // The name's own escape sequence is shown, not sent.
        assert!(plain.contains("/\\u{1b}]0;evil\\u{7}  mode 0644 -> 0444"));
        assert!(plain.ends_with("2 difference(s)\n"));
    }
}
