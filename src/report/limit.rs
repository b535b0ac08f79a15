//! Keeping a report within a size (`--max-report-size`), with a visible note of
//! what was left out.
//!
//! The cut is made on the report, before any renderer runs, so every format shows
//! the same differences and the same note. Its measure is the text report: each
//! difference costs its line and its detail lines there. The other formats wrap
//! the same content in their own markup, so their files are larger by a bounded
//! factor; the limit bounds what the report holds, not a file's exact byte count.
//!
//! The causes block that opens the report is always kept (it is what a reader
//! needs first), and its size counts against the limit. Then lines are kept
//! while they fit, the rarest first: differences with no known cause before
//! those a cause explains, and among them those whose kind, field and cause
//! are shared by the fewest others, so one odd mode change is kept before the
//! thousandth shifted mtime. What is kept stays in location order; what does not
//! fit is counted by kind. Then details (unified diffs, digests) are kept, in
//! order, while they fit; each one that does not is replaced by a one-line note.
//! `identical` keeps its value: a difference left out still differs.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Report;

/// What [`cap`] left out (the `cut` object of the JSON report).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cut {
    /// The limit, in bytes of the text report.
    pub max_report_size: u64,
    /// Differences whose detail was replaced by [`DETAIL_CUT`].
    pub details: u64,
    /// Differences left out at the end of the report.
    pub differences: u64,
    /// Those differences by kind.
    pub by_kind: BTreeMap<String, u64>,
}

/// The detail of a difference whose detail did not fit.
pub use super::change::DETAIL_CUT;

impl Cut {
    /// One line for a summary.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!("report cut at --max-report-size {}", self.max_report_size);
        if self.details > 0 {
            s.push_str(&format!(": {} detail(s) left out", self.details));
        }
        if self.differences > 0 {
            let kinds: Vec<String> = self
                .by_kind
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            s.push_str(if self.details > 0 { ", " } else { ": " });
            s.push_str(&format!(
                "{} more difference(s) not shown ({})",
                self.differences,
                kinds.join(", ")
            ));
        }
        s
    }
}

/// The indices of the report's differences, the ones to keep first first: no
/// known cause before a cause, then fewest alike (same cause, kind and field),
/// then location order.
fn rarest_first(report: &Report) -> Vec<usize> {
    type Key = (Option<&'static str>, super::Kind, Option<String>);
    let key = |d: &super::Difference| -> Key {
        (
            d.cause.map(|c| c.id),
            d.kind(),
            d.field().map(std::borrow::Cow::into_owned),
        )
    };
    let mut alike: std::collections::HashMap<Key, u64> = std::collections::HashMap::new();
    let keys: Vec<_> = report.differences.iter().map(key).collect();
    for k in &keys {
        *alike.entry(k.clone()).or_insert(0) += 1;
    }
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| (keys[i].0.is_some(), alike[&keys[i]], i));
    order
}

/// What one difference costs in the text report: its line, and its detail lines
/// indented by four.
fn costs(report: &Report) -> Vec<(u64, u64)> {
    report
        .differences
        .iter()
        .map(|d| {
            let line = super::text::line(d).len() as u64 + 1;
            let detail = d
                .detail_lines()
                .iter()
                .map(|l| 5 + l.to_string().len() as u64)
                .sum::<u64>();
            (line, detail)
        })
        .collect()
}

/// The report, cut to about `max_bytes` of text report (see the module docs).
/// A report that fits is returned as it is, with no [`Report::cut`].
pub fn cap(mut report: Report, max_bytes: u64) -> Report {
    let costs = costs(&report);
    let lines: u64 = costs.iter().map(|c| c.0).sum();
    let details: u64 = costs.iter().map(|c| c.1).sum();
    let header: u64 = super::text::cause_lines(&report)
        .iter()
        .map(|l| l.text().len() as u64 + 1)
        .sum();
    if header.saturating_add(lines).saturating_add(details) <= max_bytes {
        return report;
    }
    let mut cut = Cut {
        max_report_size: max_bytes,
        ..Cut::default()
    };
    let note = DETAIL_CUT.len() as u64 + 5;
    // Keep whole lines first: they are the findings; details explain them.
    let mut used = header.min(max_bytes);
    let mut keep = vec![false; costs.len()];
    for i in rarest_first(&report) {
        let line = costs[i].0;
        if used + line > max_bytes {
            break;
        }
        used += line;
        keep[i] = true;
    }
    let mut kept = Vec::with_capacity(report.differences.len());
    for (d, keep) in report.differences.drain(..).zip(&keep) {
        if *keep {
            kept.push(d);
        } else {
            cut.differences += 1;
            *cut.by_kind.entry(d.kind().name().to_owned()).or_insert(0) += 1;
        }
    }
    report.differences = kept;
    let costs: Vec<(u64, u64)> = costs
        .into_iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(c, _)| c)
        .collect();
    // Then details. Each one cut leaves a one-line note where it was, so room for
    // those notes is set aside first; a detail kept takes its note's room plus what
    // it needs beyond. When even the notes do not fit, cut details go without one
    // (the summary still counts them).
    let with_detail = report.differences.iter().filter(|d| d.has_detail()).count() as u64;
    let notes = with_detail * note;
    let with_notes = used + notes <= max_bytes;
    let mut room = if with_notes {
        max_bytes - used - notes
    } else {
        max_bytes - used
    };
    for (d, (_, detail)) in report.differences.iter_mut().zip(&costs) {
        if !d.has_detail() {
            continue;
        }
        let extra = if with_notes {
            detail.saturating_sub(note)
        } else {
            *detail
        };
        if extra <= room {
            room -= extra;
            continue;
        }
        cut.details += 1;
        d.leave_out_detail(with_notes);
    }
    report.cut = Some(cut);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::change::{Hunk, Line, LineOp, TextDiff};
    use crate::report::{Difference, EntryField, Side, Val};

    fn report(n: usize) -> Report {
        let mut ds = Vec::new();
        let line = |op, text: &str| Line {
            op,
            text: text.into(),
        };
        let hunk = Hunk {
            old_start: 1,
            old_lines: 1,
            new_start: 1,
            new_lines: 1,
            lines: vec![line(LineOp::Removed, "x"), line(LineOp::Added, "y")],
        };
        for i in 0..n {
            let mut c = crate::report::change::tests::content();
            c.text_diff = Some(TextDiff {
                hunks: vec![hunk.clone(); 10],
                cut_at_lines: None,
            });
            ds.push(Difference::content(
                vec![format!("/f{i:03}").into_bytes()],
                c,
            ));
            ds.push(Difference::entry(
                vec![format!("/f{i:03}").into_bytes()],
                EntryField::Mode,
                Val::Mode(0o644),
                Val::Mode(0o600),
            ));
        }
        let side = |p: &str| Side::new(p, 0);
        Report::new(side("a"), side("b"), ds, Vec::new())
    }

    #[test]
    fn small_reports_are_untouched() {
        let r = cap(report(3), 1 << 20);
        assert!(r.cut.is_none());
        assert_eq!(r.differences.len(), 6);
    }

    #[test]
    fn details_go_first_then_differences_with_counts() {
        let full = report(20);
        let lines: u64 = costs(&full).iter().map(|c| c.0).sum();
        // Room for every line, a note for each detail, and a few details.
        let notes = 20 * (DETAIL_CUT.len() as u64 + 5);
        let r = cap(full.clone(), lines + notes + 600);
        let cut = r.cut.clone().expect("cut");
        assert_eq!((cut.differences, r.differences.len()), (0, 40));
        assert!(cut.details > 10 && cut.details < 20, "{cut:?}");
        assert!(r
            .differences
            .iter()
            .any(|d| d.detail().as_deref() == Some(DETAIL_CUT)));
        assert!(cut.describe().contains("detail(s) left out"));
        // Room for half the lines: the rest are counted by kind.
        let r = cap(full, lines / 2);
        let cut = r.cut.clone().expect("cut");
        assert_eq!(cut.differences as usize + r.differences.len(), 40);
        assert_eq!(
            cut.by_kind.values().sum::<u64>(),
            cut.differences,
            "{cut:?}"
        );
        assert!(!r.identical);
        let text = {
            let mut v = Vec::new();
            crate::report::text::write(&r, &mut v).expect("write");
            String::from_utf8(v).expect("utf8")
        };
        assert!(text.len() as u64 <= lines / 2 + 400, "{}", text.len());
        assert!(text.contains("more difference(s) not shown"), "{text}");
    }
}
