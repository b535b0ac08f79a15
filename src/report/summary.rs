//! Summaries of many entries that differ the same way: two grub-mkrescue runs of one
//! tree give 600 entries whose mtime, atime and ctime are all 2 s later. Said once,
//! with the count and a few examples, the real differences stand out. The JSON
//! report keeps every difference; only human renderers use this.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::change::{read_pair, shown_pair, Val};
use super::{Difference, Kind, Location};

/// How many entries must share a change before they are summarized.
pub(crate) const MIN_GROUP: usize = 5;
/// How many entries must share a cause (see [`super::cause`]) before they are
/// summarized.
pub(crate) const MIN_CAUSED_GROUP: usize = 2;
/// How many example entries a summary line names.
pub(crate) const EXAMPLES: usize = 3;

/// Entries of one file system that changed the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The file system they are in (`[]`: the outermost image).
    pub container: Location,
    /// The fields that changed, e.g. `mtime, atime, ctime`.
    pub fields: Vec<String>,
    /// The change: `+2 s`, or `0644 -> 0444`.
    pub change: GroupChange,
    /// The entries' paths in the container, sorted.
    pub paths: Vec<Vec<u8>>,
    /// Index of its first difference in the report, where a renderer shows it.
    pub first: usize,
}

/// How the entries of a [`Group`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupChange {
    /// Their times moved by this many nanoseconds (negative: back), as the
    /// times read at their stored precision.
    Shift(i128),
    /// Their field went from one value to another (the values as they read:
    /// see [`super::Report::repeated`]).
    Values(Val, Val),
    /// Their times moved for one cause (the build clock), by different amounts:
    /// the least and the greatest shift in nanoseconds. Differences with the
    /// same cause fold into one line whatever their deltas.
    Caused {
        /// The cause's title.
        cause: &'static str,
        /// The least and greatest shift (filled when the group is made).
        shift: Option<(i128, i128)>,
    },
}

impl fmt::Display for GroupChange {
    /// `+2 s`, `-1.5 s`, or `0644 -> 0444` (values not escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupChange::Shift(total) => {
                let sign = if *total < 0 { "-" } else { "+" };
                let abs = total.unsigned_abs();
                let (secs, nanos) = (abs / 1_000_000_000, abs % 1_000_000_000);
                if nanos == 0 {
                    write!(f, "{sign}{secs} s")
                } else {
                    let frac = format!("{nanos:09}");
                    write!(f, "{sign}{secs}.{} s", frac.trim_end_matches('0'))
                }
            }
            GroupChange::Values(a, b) => {
                let (a, b) = shown_pair(a, b);
                write!(f, "{a} -> {b}")
            }
            GroupChange::Caused { shift, .. } => match shift {
                Some((lo, hi)) if lo == hi => GroupChange::Shift(*lo).fmt(f),
                Some((lo, hi)) => write!(
                    f,
                    "{} to {}",
                    GroupChange::Shift(*lo),
                    GroupChange::Shift(*hi)
                ),
                None => Ok(()),
            },
        }
    }
}

/// Differences of one container, field and change: (entry path, index).
type Members = Vec<(Vec<u8>, usize)>;

/// Groups that share the container, change and entries: (fields, indices).
type Merged = HashMap<(Location, GroupChange, Vec<Vec<u8>>), (Vec<String>, Vec<usize>)>;

/// Splits `differences` into groups of at least [`MIN_GROUP`] entries that changed
/// the same way, and the indices of the differences left to show one by one.
pub(crate) fn summarize(differences: &[Difference]) -> (Vec<Group>, Vec<usize>) {
    // (container, field, change) -> (entry path, index of the difference)
    let mut by_change: BTreeMap<(Location, String), HashMap<GroupChange, Members>> =
        BTreeMap::new();
    for (i, d) in differences.iter().enumerate() {
        let Some((container, path)) = d
            .location
            .split_last()
            .map(|(p, c)| (c.to_vec(), p.clone()))
        else {
            continue;
        };
        let Some((field, change)) = groupable(d) else {
            continue;
        };
        by_change
            .entry((container, field))
            .or_default()
            .entry(change)
            .or_default()
            .push((path, i));
    }
    // Fields that changed the same way on exactly the same entries share one line.
    let mut merged: Merged = HashMap::new();
    let changes = by_change.into_iter().flat_map(|((container, field), by)| {
        by.into_iter()
            .map(move |(change, members)| (container.clone(), field.clone(), change, members))
    });
    for (container, field, change, members) in changes {
        let least = match change {
            GroupChange::Caused { .. } => MIN_CAUSED_GROUP,
            _ => MIN_GROUP,
        };
        if members.len() < least {
            continue;
        }
        let mut paths: Vec<Vec<u8>> = members.iter().map(|(p, _)| p.clone()).collect();
        paths.sort();
        let slot = merged.entry((container, change, paths)).or_default();
        slot.0.push(field);
        slot.1.extend(members.iter().map(|(_, i)| *i));
    }
    let mut grouped = vec![false; differences.len()];
    let mut groups = Vec::new();
    for ((container, change, paths), (mut fields, indices)) in merged {
        fields.sort_by_key(|f| field_order(f));
        for &i in &indices {
            grouped[i] = true;
        }
        let change = match change {
            GroupChange::Caused { cause, .. } => GroupChange::Caused {
                cause,
                shift: shift_range(indices.iter().map(|&i| &differences[i])),
            },
            change => change,
        };
        groups.push(Group {
            container,
            fields,
            change,
            paths,
            first: indices.iter().copied().min().unwrap_or(0),
        });
    }
    groups.sort_by_key(|g| g.first);
    let rest = (0..differences.len()).filter(|&i| !grouped[i]).collect();
    (groups, rest)
}

fn field_order(f: &str) -> (usize, String) {
    let pos = ["mode", "uid", "gid", "mtime", "atime", "ctime", "nlink"]
        .iter()
        .position(|k| *k == f)
        .unwrap_or(usize::MAX);
    (pos, f.to_owned())
}

/// The field and the change of a difference that can be grouped: metadata whose
/// change can be said without the entry (a time shift, the same old and new value).
fn groupable(d: &Difference) -> Option<(String, GroupChange)> {
    let kind = d.kind();
    let field = match kind {
        Kind::Mode
        | Kind::Uid
        | Kind::Gid
        | Kind::Nlink
        | Kind::Mtime
        | Kind::Atime
        | Kind::Ctime => kind.name().to_owned(),
        Kind::Attribute | Kind::Xattr => format!("{} {}", kind.name(), d.field()?),
        _ => return None,
    };
    if let Some(cause) = d.cause.filter(|c| c.rule == super::cause::Rule::ClockShift) {
        let change = GroupChange::Caused {
            cause: cause.title,
            shift: None,
        };
        return Some((field, change));
    }
    let (a, b) = d.values();
    let change = match (a.as_ref(), b.as_ref()) {
        // Two times that read differently: by how much (two that differ only
        // in their zone are shown with it).
        (Val::Time(ta), Val::Time(tb)) if !ta.prints_as(tb) => {
            GroupChange::Shift(shift(ta.shown_instant(), tb.shown_instant()))
        }
        (a, b) => {
            let (a, b) = read_pair(a, b);
            GroupChange::Values(a, b)
        }
    };
    Some((field, change))
}

/// The least and greatest shift of the times of `differences`.
fn shift_range<'d>(differences: impl Iterator<Item = &'d Difference>) -> Option<(i128, i128)> {
    differences
        .filter_map(|d| {
            let (a, b) = d.values();
            match (a.as_ref(), b.as_ref()) {
                (Val::Time(ta), Val::Time(tb)) => {
                    Some(shift(ta.shown_instant(), tb.shown_instant()))
                }
                _ => None,
            }
        })
        .fold(None, |range, s| match range {
            Some((lo, hi)) => Some((s.min(lo), s.max(hi))),
            None => Some((s, s)),
        })
}

/// The signed distance from `a` to `b` (seconds, nanoseconds), in nanoseconds.
pub(crate) fn shift((sa, na): (i64, u32), (sb, nb): (i64, u32)) -> i128 {
    (i128::from(sb) * 1_000_000_000 + i128::from(nb))
        - (i128::from(sa) * 1_000_000_000 + i128::from(na))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::EntryField;
    use crate::time::{Precision, Timestamp};

    fn d(path: &str, field: EntryField, a: Val, b: Val) -> Difference {
        Difference::entry(vec![path.as_bytes().to_vec()], field, a, b)
    }

    fn at(secs: i64, nanos: u32, precision: Precision) -> Val {
        Val::Time(Timestamp {
            secs,
            nanos,
            offset_minutes: Some(0),
            precision,
        })
    }

    const T: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

    #[test]
    fn same_shift_on_many_entries_is_one_group() {
        let mut diffs = Vec::new();
        for i in 0..6 {
            let p = format!("/f{i}");
            for field in [EntryField::Mtime, EntryField::Atime, EntryField::Ctime] {
                let s = Precision::Seconds;
                diffs.push(d(&p, field, at(T, 0, s), at(T + 2, 0, s)));
            }
        }
        diffs.push(d(
            "/other",
            EntryField::Mtime,
            Val::time(Some(Timestamp::from_unix(T))),
            Val::time(Some(Timestamp::from_unix(T + 5))),
        ));
        diffs.push(d(
            "/f0",
            EntryField::Size,
            Val::Unsigned(1),
            Val::Unsigned(2),
        ));
        let (groups, rest) = summarize(&diffs);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].fields, ["mtime", "atime", "ctime"]);
        assert_eq!(groups[0].change, GroupChange::Shift(2_000_000_000));
        assert_eq!(groups[0].change.to_string(), "+2 s");
        assert_eq!(groups[0].paths.len(), 6);
        assert_eq!(rest, [18, 19]);
    }

    #[test]
    fn shifts_come_from_the_times_as_they_read() {
        // Hundredths are read at their precision; a FAT time of 2 s precision
        // and an ISO time of the same second read alike; a date alone is its
        // midnight.
        let (h, s, two, days) = (
            Precision::Hundredths,
            Precision::Seconds,
            Precision::TwoSeconds,
            Precision::Days,
        );
        let cases = [
            (at(T, 0, h), at(T, 250_000_000, h), "+0.25 s"),
            (at(T, 0, s), at(T - 10, 0, s), "-10 s"),
            (at(T, 0, two), at(T + 4, 0, s), "+4 s"),
            (at(T + 3600, 0, days), at(T + 86_400, 0, days), "+86400 s"),
            // Digits the precision does not store are not part of the shift.
            (at(T, 123, s), at(T + 1, 999, s), "+1 s"),
        ];
        for (a, b, want) in cases {
            let diffs: Vec<Difference> = (0..MIN_GROUP)
                .map(|i| d(&format!("/f{i}"), EntryField::Mtime, a.clone(), b.clone()))
                .collect();
            let (groups, _) = summarize(&diffs);
            assert_eq!(groups.len(), 1, "{want}");
            assert_eq!(groups[0].change.to_string(), want);
        }
        // Times that differ only in their zone are said with it, not as +0 s.
        let mut z = Timestamp::from_unix(T);
        z.offset_minutes = Some(60);
        let diffs: Vec<Difference> = (0..MIN_GROUP)
            .map(|i| {
                let a = Val::Time(Timestamp::from_unix(T));
                d(&format!("/f{i}"), EntryField::Mtime, a, Val::Time(z))
            })
            .collect();
        let (groups, _) = summarize(&diffs);
        assert_eq!(
            groups[0].change.to_string(),
            "2024-01-01T00:00:00Z -> 2024-01-01T00:00:00Z (zone +60 min)"
        );
    }

    #[test]
    fn few_entries_stay_single() {
        let diffs: Vec<_> = (0..4)
            .map(|i| {
                d(
                    &format!("/f{i}"),
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o444),
                )
            })
            .collect();
        let (groups, rest) = summarize(&diffs);
        assert!(groups.is_empty());
        assert_eq!(rest.len(), 4);
    }

    #[test]
    fn values_are_said_once_and_escaped_by_the_renderer() {
        let diffs: Vec<_> = (0..MIN_GROUP)
            .map(|i| {
                Difference::xattr(
                    vec![format!("/f{i}").into_bytes()],
                    b"user.x".to_vec(),
                    Some(b"a\\b".to_vec()),
                    None,
                )
            })
            .collect();
        let (groups, _) = summarize(&diffs);
        assert_eq!(groups[0].fields, ["xattr user.x"]);
        assert_eq!(groups[0].change.to_string(), "a\\b -> (none)");
        assert!(crate::report::text::group_line(&groups[0]).contains(" a\\\\b -> (none) "));
    }
}
