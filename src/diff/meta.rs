//! Comparing the metadata of two entries, and the facts of two images, field by field.

use std::collections::HashMap;

use serde_json::{json, Value as Json};

use crate::model::{Fact, Meta};
use crate::report::{Difference, Kind, Location};
use crate::time::Timestamp;

/// A fact's value as JSON (times as RFC 3339, bytes as hex, unset as null).
pub(crate) fn fact_json(v: &crate::model::Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

/// The group of a dotted fact name: `joliet` of `joliet.volume_id`.
fn group(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Differences between two lists of named facts, in the order of `a` then the
/// names only `b` has. Layout facts are skipped unless `layout`; names in `skip`
/// are skipped too (they follow from a difference reported otherwise). A group
/// that only one side has at all (a Joliet descriptor, a GPT) is one difference
/// (`present` against null), not one per field.
pub(crate) fn facts<'f>(
    a: &'f [Fact],
    b: &'f [Fact],
    layout: bool,
    skip: &[&str],
    mut emit: impl FnMut(&str, Json, Json),
) {
    // Most entry pairs list the same facts in the same order, their values the
    // same but for layout facts: said at once, without building the maps below
    // for every entry of the image.
    let same_names = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.name == y.name);
    if same_names
        && a.iter().zip(b).all(|(x, y)| {
            x.value == y.value
                || (!layout && x.layout && y.layout)
                || skip.contains(&x.name.as_ref())
        })
    {
        return;
    }
    let groups = |list: &'f [Fact]| -> std::collections::HashSet<&'f str> {
        list.iter().map(|f| group(&f.name)).collect()
    };
    let (ga, gb) = (groups(a), groups(b));
    let mut one_sided: Vec<&str> = ga.symmetric_difference(&gb).copied().collect();
    one_sided.sort_unstable();
    for g in &one_sided {
        let present = json!("present");
        if ga.contains(g) {
            emit(g, present, Json::Null);
        } else {
            emit(g, Json::Null, present);
        }
    }
    let wanted = |f: &&Fact| {
        (layout || !f.layout)
            && !skip.contains(&f.name.as_ref())
            && !one_sided.iter().any(|g| *g == group(&f.name))
    };
    let by_name: HashMap<&str, &Fact> = b
        .iter()
        .filter(wanted)
        .map(|f| (f.name.as_ref(), f))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for fa in a.iter().filter(wanted) {
        if !seen.insert(fa.name.as_ref()) {
            continue;
        }
        let (va, vb) = match by_name.get(fa.name.as_ref()) {
            Some(fb) if fb.value == fa.value => continue,
            Some(fb) => (fact_json(&fa.value), fact_json(&fb.value)),
            None => (fact_json(&fa.value), Json::Null),
        };
        // An unset value and an absent one both read as null: no difference to show.
        if va != vb {
            emit(&fa.name, va, vb);
        }
    }
    for fb in b.iter().filter(wanted) {
        if seen.insert(fb.name.as_ref()) && !fact_json(&fb.value).is_null() {
            emit(&fb.name, Json::Null, fact_json(&fb.value));
        }
    }
}

fn time_pair(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<(Json, Json)> {
    if a == b {
        return None;
    }
    let (sa, sb) = (a.map(|t| t.rfc3339()), b.map(|t| t.rfc3339()));
    if sa == sb {
        // Equal at the stored precision but for the zone byte: show the zones.
        return Some((
            json!(a.map(|t| t.to_string())),
            json!(b.map(|t| t.to_string())),
        ));
    }
    Some((json!(sa), json!(sb)))
}

/// Differences between the metadata of two entries of the same type. Sizes of
/// non-files and the link count of directories are left to the caller, which
/// knows whether they follow from other differences.
///
/// `location` is called only when something differs: making it allocates.
pub(crate) fn entries(
    location: impl Fn() -> Location,
    a: &Meta,
    b: &Meta,
    out: &mut Vec<Difference>,
) {
    let mut push =
        |kind: Kind, va: Json, vb: Json| out.push(Difference::new(location(), kind, va, vb));
    if a.mode != b.mode {
        let m = |m: Option<u32>| json!(m.map(|m| format!("{m:04o}")));
        push(Kind::Mode, m(a.mode), m(b.mode));
    }
    if a.uid != b.uid {
        push(Kind::Uid, json!(a.uid), json!(b.uid));
    }
    if a.gid != b.gid {
        push(Kind::Gid, json!(a.gid), json!(b.gid));
    }
    for (kind, ta, tb) in [
        (Kind::Mtime, a.mtime, b.mtime),
        (Kind::Atime, a.atime, b.atime),
        (Kind::Ctime, a.ctime, b.ctime),
    ] {
        if let Some((va, vb)) = time_pair(ta, tb) {
            push(kind, va, vb);
        }
    }
    if a.rdev != b.rdev {
        let r = |r: Option<(u32, u32)>| json!(r.map(|(ma, mi)| [ma, mi]));
        push(Kind::Rdev, r(a.rdev), r(b.rdev));
    }
    if a.target != b.target {
        let t = |t: &Option<Vec<u8>>| {
            json!(t.as_ref().map(|t| String::from_utf8_lossy(t).into_owned()))
        };
        push(Kind::Symlink, t(&a.target), t(&b.target));
    }
    if a.kind == crate::model::EntryKind::File && a.size != b.size {
        push(Kind::Size, json!(a.size), json!(b.size));
    }
    if a.kind != crate::model::EntryKind::Dir && a.nlink != b.nlink {
        push(Kind::Nlink, json!(a.nlink), json!(b.nlink));
    }
    if a.xattrs != b.xattrs {
        xattrs(&location(), &a.xattrs, &b.xattrs, out);
    }
}

fn xattrs(
    location: &Location,
    a: &[(Vec<u8>, Vec<u8>)],
    b: &[(Vec<u8>, Vec<u8>)],
    out: &mut Vec<Difference>,
) {
    if a == b {
        return;
    }
    let show = |v: Option<&Vec<u8>>| match v {
        None => Json::Null,
        Some(v) => match std::str::from_utf8(v) {
            Ok(s) if !s.contains('\0') => json!(s),
            _ => json!(format!("0x{}", crate::model::hex(v))),
        },
    };
    let ma: HashMap<&[u8], &Vec<u8>> = a.iter().map(|(k, v)| (k.as_slice(), v)).collect();
    let mb: HashMap<&[u8], &Vec<u8>> = b.iter().map(|(k, v)| (k.as_slice(), v)).collect();
    let mut names: Vec<&[u8]> = ma.keys().chain(mb.keys()).copied().collect();
    names.sort();
    names.dedup();
    for name in names {
        let (va, vb) = (ma.get(name).copied(), mb.get(name).copied());
        if va != vb {
            out.push(
                Difference::new(location.clone(), Kind::Xattr, show(va), show(vb))
                    .with_field(String::from_utf8_lossy(name)),
            );
        }
    }
}
