//! Summaries of many entries that differ the same way: two grub-mkrescue runs of one
//! tree give 600 entries whose mtime, atime and ctime are all 2 s later. Said once,
//! with the count and a few examples, the real differences stand out. The JSON
//! report keeps every difference; only human renderers use this.

use std::collections::BTreeMap;

use super::{Difference, Kind, Location};
use crate::time::parse_rfc3339;

/// How many entries must share a change before they are summarized.
pub const MIN_GROUP: usize = 5;
/// How many example entries a summary line names.
pub const EXAMPLES: usize = 3;

/// Entries of one file system that changed the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The file system they are in (`[]`: the outermost image).
    pub container: Location,
    /// The fields that changed, e.g. `mtime, atime, ctime`.
    pub fields: Vec<String>,
    /// The change: `+2 s`, or `0644 -> 0444`.
    pub change: String,
    /// The entries' paths in the container, sorted.
    pub paths: Vec<Vec<u8>>,
    /// Index of its first difference in the report, where a renderer shows it.
    pub first: usize,
}

/// Differences of one container, field and change: (entry path, index).
type Members = Vec<(Vec<u8>, usize)>;

/// Groups that share the container, change and entries: (fields, indices).
type Merged = BTreeMap<(Location, String, Vec<Vec<u8>>), (Vec<String>, Vec<usize>)>;

/// Splits `differences` into groups of at least [`MIN_GROUP`] entries that changed
/// the same way, and the indices of the differences left to show one by one.
pub fn summarize(differences: &[Difference]) -> (Vec<Group>, Vec<usize>) {
    // (container, field, change) -> (entry path, index of the difference)
    let mut by_change: BTreeMap<(Location, String, String), Members> = BTreeMap::new();
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
            .entry((container, field, change))
            .or_default()
            .push((path, i));
    }
    // Fields that changed the same way on exactly the same entries share one line.
    let mut merged: Merged = BTreeMap::new();
    for ((container, field, change), members) in by_change {
        if members.len() < MIN_GROUP {
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
fn groupable(d: &Difference) -> Option<(String, String)> {
    let field = match d.kind {
        Kind::Mode
        | Kind::Uid
        | Kind::Gid
        | Kind::Nlink
        | Kind::Mtime
        | Kind::Atime
        | Kind::Ctime => d.kind.name().to_owned(),
        Kind::Attribute | Kind::Xattr => format!("{} {}", d.kind.name(), d.field.as_deref()?),
        _ => return None,
    };
    let times = (
        d.a.as_str().and_then(parse_rfc3339),
        d.b.as_str().and_then(parse_rfc3339),
    );
    let change = match times {
        (Some((sa, na)), Some((sb, nb))) => shift(sa, na, sb, nb),
        _ => format!(
            "{} -> {}",
            super::text::value(&d.a),
            super::text::value(&d.b)
        ),
    };
    Some((field, change))
}

/// `+2 s`, `-1 h 0 min 0 s` style: the signed distance from a to b.
fn shift(sa: i64, na: u32, sb: i64, nb: u32) -> String {
    let total = (i128::from(sb) * 1_000_000_000 + i128::from(nb))
        - (i128::from(sa) * 1_000_000_000 + i128::from(na));
    let sign = if total < 0 { "-" } else { "+" };
    let abs = total.unsigned_abs();
    let (secs, nanos) = (abs / 1_000_000_000, abs % 1_000_000_000);
    if nanos == 0 {
        format!("{sign}{secs} s")
    } else {
        let frac = format!("{nanos:09}");
        format!("{sign}{secs}.{} s", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(path: &str, kind: Kind, a: &str, b: &str) -> Difference {
        Difference::new(vec![path.as_bytes().to_vec()], kind, json!(a), json!(b))
    }

    #[test]
    fn same_shift_on_many_entries_is_one_group() {
        let mut diffs = Vec::new();
        for i in 0..6 {
            let p = format!("/f{i}");
            for kind in [Kind::Mtime, Kind::Atime, Kind::Ctime] {
                diffs.push(d(&p, kind, "2024-01-01T00:00:00Z", "2024-01-01T00:00:02Z"));
            }
        }
        diffs.push(d(
            "/other",
            Kind::Mtime,
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:05Z",
        ));
        diffs.push(d("/f0", Kind::Content, "x", "y"));
        let (groups, rest) = summarize(&diffs);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].fields, ["mtime", "atime", "ctime"]);
        assert_eq!(groups[0].change, "+2 s");
        assert_eq!(groups[0].paths.len(), 6);
        assert_eq!(rest, [18, 19]);
    }

    #[test]
    fn few_entries_stay_single() {
        let diffs: Vec<_> = (0..4)
            .map(|i| d(&format!("/f{i}"), Kind::Mode, "0644", "0444"))
            .collect();
        let (groups, rest) = summarize(&diffs);
        assert!(groups.is_empty());
        assert_eq!(rest.len(), 4);
    }

    #[test]
    fn shifts() {
        assert_eq!(shift(0, 0, 2, 0), "+2 s");
        assert_eq!(shift(10, 0, 0, 0), "-10 s");
        assert_eq!(shift(0, 0, 0, 250_000_000), "+0.25 s");
    }
}
