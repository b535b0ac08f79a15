//! Comparing the metadata of two entries, and the facts of two images, field by field.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Fact, Meta};
use crate::report::change::shown_same;
use crate::report::{Difference, EntryField, Location, Val};

/// The dotted prefixes of a fact name, shortest first: `gpt`, `gpt.partition2`
/// of `gpt.partition2.type_guid` (the name itself left out).
fn prefixes(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices('.').map(move |(i, _)| &name[..i])
}

/// The parts only one side has: for each fact name of `x` that `y` lacks, the
/// shortest dotted prefix `y` has no fact under, when it is a whole group or
/// more than one fact of `x` lies under it (a GPT, an El Torito entry, a
/// Joliet descriptor: said once, not field by field).
fn one_sided_parts<'f>(x: &'f [Fact], y: &[Fact]) -> std::collections::BTreeSet<&'f str> {
    use std::collections::{HashMap, HashSet};
    let names: HashSet<&str> = y.iter().map(|f| f.name.as_ref()).collect();
    let parts: HashSet<&str> = y.iter().flat_map(|f| prefixes(&f.name)).collect();
    let mut under: HashMap<&'f str, usize> = HashMap::new();
    for f in x.iter().filter(|f| !names.contains(f.name.as_ref())) {
        if let Some(p) = prefixes(&f.name).find(|p| !parts.contains(p) && !names.contains(p)) {
            *under.entry(p).or_default() += 1;
        }
    }
    // A whole group (`zstd`, `gpt`) is said once even for one fact; a part
    // deeper down when it holds several.
    under
        .into_iter()
        .filter(|&(p, n)| n > 1 || !p.contains('.'))
        .map(|(p, _)| p)
        .collect()
}

/// True when `name` is `part` or lies under it.
fn is_under(name: &str, part: &str) -> bool {
    name.strip_prefix(part)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// Differences between two lists of named facts, in the order of `a` then the
/// names only `b` has. Placement facts are skipped unless `layout`; facts for
/// which `skip` says so are skipped too (they follow from a difference
/// reported otherwise). A part that only one side has (a Joliet descriptor, a
/// GPT, an El Torito entry) is one difference ([`Val::Present`] against
/// [`Val::Absent`]), not one per field. Values shown the same (an unset and an
/// absent one) are no difference. `emit` is given the fact that declares what
/// a difference means, `None` for a part one side has.
pub(crate) fn facts<'f>(
    a: &'f [Fact],
    b: &'f [Fact],
    layout: bool,
    skip: impl Fn(&Fact) -> bool,
    mut emit: impl FnMut(Cow<'static, str>, Val, Val, Option<&'f Fact>),
) {
    // Most entry pairs list the same facts in the same order, their values the
    // same but for layout facts: said at once, without building the maps below
    // for every entry of the image.
    let same_names = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.name == y.name);
    if same_names
        && a.iter().zip(b).all(|(x, y)| {
            x.value == y.value || (!layout && x.is_placement() && y.is_placement()) || skip(x)
        })
    {
        return;
    }
    let (only_a, only_b) = if same_names {
        Default::default()
    } else {
        (one_sided_parts(a, b), one_sided_parts(b, a))
    };
    // A part one side has means what all its facts mean, when they agree
    // (compressor options: packing).
    let meaning = |list: &'f [Fact], p: &str| -> Option<&'f Fact> {
        let mut under = list.iter().filter(|f| is_under(&f.name, p));
        let first = under.next()?;
        under
            .all(|f| f.role == first.role && f.follows == first.follows)
            .then_some(first)
    };
    for p in &only_a {
        let name = Cow::Owned((*p).to_owned());
        emit(name, Val::Present, Val::Absent, meaning(a, p));
    }
    for p in &only_b {
        let name = Cow::Owned((*p).to_owned());
        emit(name, Val::Absent, Val::Present, meaning(b, p));
    }
    let wanted = |f: &&Fact| {
        (layout || !f.is_placement())
            && !skip(f)
            && !only_a.iter().chain(&only_b).any(|p| is_under(&f.name, p))
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
            Some(fb) => (Val::from(&fa.value), Val::from(&fb.value)),
            None => (Val::from(&fa.value), Val::Absent),
        };
        // An unset value and an absent one both read as null: no difference to show.
        if !shown_same(&va, &vb) {
            emit(fa.name.clone(), va, vb, Some(fa));
        }
    }
    for fb in b.iter().filter(wanted) {
        if seen.insert(fb.name.as_ref()) && fb.value != crate::model::Value::Unset {
            emit(fb.name.clone(), Val::Absent, Val::from(&fb.value), Some(fb));
        }
    }
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
    let mut push = |field: EntryField, va: Val, vb: Val| {
        out.push(Difference::entry(location(), field, va, vb))
    };
    if a.mode != b.mode {
        let m = |m: Option<u32>| m.map_or(Val::Absent, Val::Mode);
        push(EntryField::Mode, m(a.mode), m(b.mode));
    }
    if a.uid != b.uid {
        push(EntryField::Uid, Val::unsigned(a.uid), Val::unsigned(b.uid));
    }
    if a.gid != b.gid {
        push(EntryField::Gid, Val::unsigned(a.gid), Val::unsigned(b.gid));
    }
    for (field, ta, tb) in [
        (EntryField::Mtime, a.mtime, b.mtime),
        (EntryField::Atime, a.atime, b.atime),
        (EntryField::Ctime, a.ctime, b.ctime),
    ] {
        // Equal at the stored precision but for the zone: shown with the zones.
        // A directory's time is compared at what the image side can store.
        let same = match (ta, tb) {
            (Some(x), Some(y)) => x.same_as(&y),
            (x, y) => x == y,
        };
        if !same {
            push(field, Val::time(ta), Val::time(tb));
        }
    }
    if a.rdev != b.rdev {
        let r = |r: Option<(u32, u32)>| {
            r.map_or(Val::Absent, |(major, minor)| Val::Device { major, minor })
        };
        push(EntryField::Rdev, r(a.rdev), r(b.rdev));
    }
    if a.target != b.target {
        let t = |t: &Option<Vec<u8>>| t.clone().map_or(Val::Absent, Val::Path);
        push(EntryField::Symlink, t(&a.target), t(&b.target));
    }
    if a.kind == crate::model::EntryKind::File && a.size != b.size {
        push(
            EntryField::Size,
            Val::Unsigned(a.size),
            Val::Unsigned(b.size),
        );
    }
    if a.kind != crate::model::EntryKind::Dir && a.nlink != b.nlink {
        push(
            EntryField::Nlink,
            Val::unsigned(a.nlink),
            Val::unsigned(b.nlink),
        );
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
    let ma: HashMap<&[u8], &Vec<u8>> = a.iter().map(|(k, v)| (k.as_slice(), v)).collect();
    let mb: HashMap<&[u8], &Vec<u8>> = b.iter().map(|(k, v)| (k.as_slice(), v)).collect();
    let mut names: Vec<&[u8]> = ma.keys().chain(mb.keys()).copied().collect();
    names.sort();
    names.dedup();
    for name in names {
        let (va, vb) = (ma.get(name).copied(), mb.get(name).copied());
        if va != vb {
            out.push(Difference::xattr(
                location.clone(),
                name.to_vec(),
                va.cloned(),
                vb.cloned(),
            ));
        }
    }
}
