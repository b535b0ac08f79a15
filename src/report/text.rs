//! The text report: one line per difference with both values, grouped by location
//! as they are sorted, details indented beneath. Every string from an image is
//! escaped (see [`crate::escape`]).

use std::io::Write;

use super::{Difference, Kind, Location, Report, Which};
use crate::escape::escape;

/// Writes `report` as text.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "--- {}", escape(report.a.path.as_bytes()))?;
    writeln!(out, "+++ {}", escape(report.b.path.as_bytes()))?;
    for d in &report.differences {
        writeln!(out, "{}", line(d))?;
        if let Some(detail) = &d.detail {
            for l in detail.lines() {
                writeln!(out, "    {}", escape(l.as_bytes()))?;
            }
        }
    }
    for p in &report.problems {
        let side = match p.side {
            Which::A => "a",
            Which::B => "b",
        };
        writeln!(
            out,
            "{}  error in {side}: {}",
            location(&p.location),
            escape(p.message.as_bytes())
        )?;
    }
    if report.identical && report.problems.is_empty() {
        writeln!(out, "identical")?;
    } else {
        writeln!(
            out,
            "{} difference(s){}",
            report.differences.len(),
            if report.problems.is_empty() {
                String::new()
            } else {
                format!(", {} problem(s)", report.problems.len())
            }
        )?;
    }
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
pub fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "(none)".to_owned(),
        serde_json::Value::String(s) if s.is_empty() => "\"\"".to_owned(),
        serde_json::Value::String(s) => escape(s.as_bytes()),
        other => escape(other.to_string().as_bytes()),
    }
}

/// The one line of a difference.
pub fn line(d: &Difference) -> String {
    let loc = location(&d.location);
    let what = match (&d.field, d.kind) {
        (Some(f), Kind::Image) => escape(f.as_bytes()),
        (Some(f), kind) => format!("{} {}", kind.name(), escape(f.as_bytes())),
        (None, kind) => kind.name().to_owned(),
    };
    match d.kind {
        Kind::Added | Kind::Removed => {
            let v = if d.kind == Kind::Added { &d.b } else { &d.a };
            let count = match d.entries {
                Some(n) if n > 1 => format!(", {n} entries"),
                _ => String::new(),
            };
            format!("{loc}  {what} ({}{count})", value(v))
        }
        Kind::Content => match &d.summary {
            Some(summary) => format!("{loc}  {what}: {}", escape(summary.as_bytes())),
            None => format!("{loc}  {what} differs"),
        },
        _ => format!("{loc}  {what} {} -> {}", value(&d.a), value(&d.b)),
    }
}
