//! Attribution: each differing byte to the structure that holds it, and each
//! structure to the difference that explains it, or to a `bytes` finding.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;

use super::{Run, Tally};
use crate::model::span::{
    Decoded, EntryPath, Explain, Field, Item, Key, Keys, Layout, Placement, Span,
};
use crate::model::EntryField;
use crate::report::change::{Block, Change, Excerpt, LayoutGroup, Place, Reported};
use crate::report::{ByteAccounting, BytesChange, Difference, LayoutChange, Location, Which};

/// Most `bytes` differences one image pair gives; past it, one more says how
/// many were left out.
const MAX_FINDINGS: usize = 2000;
/// Most bytes shown as values of a `bytes` difference.
const SHOWN_BYTES: usize = 16;

/// The differences the diff reported for one pair of images, as the keys
/// [`Explain`] names.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// What was said per entry path (and per special name).
    entries: HashMap<Vec<u8>, Said>,
    /// Image-level fields that differ.
    facts: HashSet<String>,
    /// What was said at any entry.
    any: Said,
    /// Entries added, removed or changed in type: everything under them is
    /// explained. Usually a handful, scanned for each structure.
    gone: Vec<Vec<u8>>,
    /// Bytes the diff already found to be the same.
    pub same: SameBytes,
}

/// The kinds of differences reported at one entry. A handful per entry:
/// scanned, not hashed.
#[derive(Debug, Default)]
struct Said {
    keys: Vec<Key>,
    /// Names of the attributes that differ.
    attributes: Vec<String>,
    /// Names of the extended attributes that differ.
    xattrs: Vec<Vec<u8>>,
}

impl Said {
    fn key(&mut self, key: Key) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    fn attribute(&mut self, name: &str) {
        if !self.attributes.iter().any(|a| a == name) {
            self.attributes.push(name.to_owned());
        }
    }

    fn xattr(&mut self, name: &[u8]) {
        if !self.xattrs.iter().any(|x| x == name) {
            self.xattrs.push(name.to_vec());
        }
    }

    fn has(&self, key: &Key) -> bool {
        match key {
            Key::Attribute(a) => self.has_attribute(a.as_str()),
            _ => self.keys.contains(key),
        }
    }

    fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|a| a == name)
    }

    fn has_xattr(&self, name: &[u8]) -> bool {
        self.xattrs.iter().any(|x| x == name)
    }
}

/// Pairs of byte ranges of image a and image b of one image pair found to
/// hold the same bytes (squashfs data and fragment blocks whose raw bytes the
/// walk compared), known by where they start in their images and their
/// length: a structure that moved along with them need not be read again to
/// know it did not change. Offsets, not addresses: what is recorded does not
/// depend on where the images lie in memory, and holds for that pair only.
#[derive(Debug, Default, Clone)]
pub(crate) struct SameBytes(HashSet<(u64, u64, u64)>);

impl SameBytes {
    /// Shorter blocks are quicker to compare again than to remember.
    pub(crate) const WORTH: u64 = 64 << 10;

    /// Records that the `len` bytes at `x` of image a and at `y` of image b
    /// are the same.
    pub fn add(&mut self, x: u64, y: u64, len: u64) {
        if len >= Self::WORTH {
            self.0.insert((x, y, len));
        }
    }

    /// The ranges recorded at the same offset in both images.
    pub fn in_place(&self) -> impl Iterator<Item = std::ops::Range<u64>> + '_ {
        self.0
            .iter()
            .filter(|(x, y, _)| x == y)
            .map(|&(x, _, len)| x..x.saturating_add(len))
    }

    /// True when nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Records what `other` holds too.
    pub fn extend(&mut self, other: SameBytes) {
        self.0.extend(other.0);
    }

    /// True when the `len` bytes at `x` of image a and at `y` of image b were
    /// recorded.
    pub(crate) fn has(&self, x: u64, y: u64, len: u64) -> bool {
        len >= Self::WORTH && self.0.contains(&(x, y, len))
    }
}

impl Context {
    /// The context of the image at `prefix`, from all `differences` reported so
    /// far (only those of this image are used) and the entries whose content was
    /// compared as nested images.
    pub(crate) fn new(
        prefix: &Location,
        differences: &[Difference],
        nested: &[Vec<u8>],
    ) -> Context {
        let mut c = Context::default();
        for d in differences
            .iter()
            .filter(|d| d.image() == prefix.as_slice())
        {
            if let Change::Image { name, .. } = &d.change {
                c.facts.insert(name.clone().into_owned());
                continue;
            }
            let Some(path) = d.location.last() else {
                continue;
            };
            // Every change an entry can have is matched here, so that a new
            // one is given its key before it compiles.
            let key = match &d.change {
                Change::Entry { field, .. } => Key::Field(*field),
                Change::Content(_) => Key::Content,
                Change::OneSided { side: Which::A, .. } => Key::Removed,
                Change::OneSided { side: Which::B, .. } => Key::Added,
                Change::Xattr { name, .. } => {
                    c.said(path).xattr(name);
                    c.any.xattr(name);
                    Key::Xattr
                }
                Change::Attribute { name, .. } => {
                    c.said(path).attribute(name);
                    c.any.attribute(name);
                    continue;
                }
                Change::Image { .. } | Change::Bytes(_) | Change::Layout(_) => continue,
            };
            if matches!(
                key,
                Key::Added | Key::Removed | Key::Field(EntryField::Type)
            ) {
                if let Some(parent) = parent(path) {
                    c.said(parent).key(Key::Children);
                }
                c.gone.push(path.clone());
            }
            c.said(path).key(key);
            c.any.key(key);
        }
        for path in nested {
            c.said(path).key(Key::Nested);
        }
        c
    }

    /// Records that the content of the entry at `path` differs only in fields
    /// reported as its attributes (a PE file's TimeDateStamp): its data bytes
    /// are explained as a content difference's are.
    pub(crate) fn content_said_by_fields(&mut self, path: Vec<u8>) {
        self.any.key(Key::Content);
        self.said(&path).key(Key::Content);
    }

    /// True when no difference of the image is known.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.facts.is_empty()
    }

    fn said(&mut self, path: &[u8]) -> &mut Said {
        self.entries.entry(path.to_vec()).or_default()
    }

    fn has(&self, path: &[u8], key: &Key) -> bool {
        self.entries.get(path).is_some_and(|s| s.has(key))
    }

    /// True when one of the entries, or a directory above it, was added,
    /// removed or changed type: all its structures are explained by that.
    fn gone(&self, entries: &[EntryPath]) -> bool {
        // Checked for every structure: a scan of the few gone paths costs less
        // than hashing each entry's ancestors, up to some dozens of them.
        if self.gone.len() <= 32 {
            return entries
                .iter()
                .any(|e| self.gone.iter().any(|g| is_under(e, g)));
        }
        entries.iter().any(|e| {
            let mut p: &[u8] = e;
            loop {
                if [Key::Added, Key::Removed, Key::Field(EntryField::Type)]
                    .iter()
                    .any(|k| self.has(p, k))
                {
                    return true;
                }
                match parent(p) {
                    Some(up) => p = up,
                    None => return false,
                }
            }
        })
    }

    fn verdict(&self, explain: &Explain, entries: &[EntryPath]) -> Verdict {
        let entry_has = |keys: &[Key]| entries.iter().any(|e| keys.iter().any(|k| self.has(e, k)));
        let entry_said = |f: &dyn Fn(&Said) -> bool| {
            entries
                .iter()
                .any(|e| self.entries.get(&e[..]).is_some_and(f))
        };
        let yes = |b: bool| {
            if b {
                Verdict::Explained
            } else {
                Verdict::Unexplained
            }
        };
        match explain {
            Explain::Entry(keys) => yes(entry_has(keys)),
            // Judged with both sides' entries in view by `packed`; alone (a
            // block one image has) its entries are stored elsewhere there.
            Explain::Packed(keys) => {
                if entry_has(keys) {
                    Verdict::Explained
                } else {
                    Verdict::Placement
                }
            }
            Explain::EntryAttribute(name) => yes(entry_said(&|s| s.has_attribute(name))),
            Explain::EntryXattr(name) => yes(entry_said(&|s| s.has_xattr(name))),
            Explain::EntryOrPlacement(keys) => {
                if entry_has(keys) {
                    Verdict::Explained
                } else {
                    Verdict::Placement
                }
            }
            Explain::AnyEntry(keys) => yes(keys.iter().any(|k| self.any.has(k))),
            Explain::Fact(name) => yes(self.facts.iter().any(|f| {
                f == name
                    || f.strip_prefix(name.as_ref())
                        .is_some_and(|r| r.starts_with('.'))
            })),
            Explain::Special(name) => yes(self.entries.contains_key(name.as_bytes())),
            Explain::Placement | Explain::Derived => Verdict::Placement,
            Explain::Decoded(_) | Explain::Nothing => Verdict::Unexplained,
        }
    }
}

/// True when `path` is `dir` or below it.
fn is_under(path: &[u8], dir: &[u8]) -> bool {
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || rest[0] == b'/' || dir.ends_with(b"/"),
        None => false,
    }
}

/// The directory above a path, `None` for `/` and for names that are no paths.
fn parent(path: &[u8]) -> Option<&[u8]> {
    if path == b"/" || !path.starts_with(b"/") {
        return None;
    }
    let cut = path.iter().rposition(|&c| c == b'/')?;
    Some(if cut == 0 { b"/" } else { &path[..cut] })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Explained,
    Placement,
    Unexplained,
}

/// What became of a structure's differing bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    /// Placement: addresses, or moved along with what comes before it.
    Placement,
    /// Encodes a difference reported elsewhere.
    Explained,
    /// Moved on its own (another order): reported.
    Moved { from: u64, to: u64 },
    /// Changed, with nothing to explain it: reported.
    Changed { what: String },
    /// Compressed bytes whose decoded items are reported.
    ViaItems,
}

impl Status {
    fn rank(&self) -> u8 {
        match self {
            Status::Placement => 1,
            Status::Explained => 2,
            Status::Moved { .. } => 3,
            Status::Changed { .. } | Status::ViaItems => 4,
        }
    }
}

/// What became of an item of a decoded table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemStatus {
    Same,
    Placement,
    Explained,
    /// Said as a difference of its own: why is in [`TableAnalysis::what`].
    Changed,
}

/// What became of each item of a decoded table. Kept for both images'
/// tables until the end of the accounting, and the tables hold as many items
/// as entries: five bytes an item, the few reasons apart.
struct TableAnalysis {
    status: Vec<ItemStatus>,
    /// Why each item of status [`ItemStatus::Changed`] changed, by index.
    what: HashMap<usize, String>,
    /// Counterpart in the other image's table of the same name, or
    /// [`NO_COUNTERPART`].
    other: Vec<u32>,
}

/// [`TableAnalysis::other`] of an item with no counterpart.
const NO_COUNTERPART: u32 = u32::MAX;

impl TableAnalysis {
    /// The counterpart of item `n` in the other image's table.
    fn other(&self, n: usize) -> Option<usize> {
        match self.other.get(n) {
            Some(&m) if m != NO_COUNTERPART => Some(m as usize),
            _ => None,
        }
    }
}

struct Side<'x> {
    bytes: &'x [u8],
    layout: &'x Layout,
    letter: &'static str,
    names: HashMap<&'x str, usize>,
    status: Vec<Option<Status>>,
    tables: Vec<Option<TableAnalysis>>,
}

impl<'x> Side<'x> {
    fn new(bytes: &'x [u8], layout: &'x Layout, letter: &'static str) -> Side<'x> {
        let spans = layout.finished_spans();
        let mut names = HashMap::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            names.entry(s.owner.name.as_str()).or_insert(i);
        }
        Side {
            bytes,
            layout,
            letter,
            names,
            status: vec![None; spans.len()],
            tables: layout.tables.iter().map(|_| None).collect(),
        }
    }

    fn spans(&self) -> &'x [Span] {
        self.layout.finished_spans()
    }

    fn slice(&self, s: &Span) -> &'x [u8] {
        let start = usize::try_from(s.start).unwrap_or(usize::MAX);
        let end = usize::try_from(s.end()).unwrap_or(usize::MAX);
        self.bytes
            .get(start..end.min(self.bytes.len()))
            .unwrap_or_default()
    }

    fn table_named(&self, name: &str) -> Option<usize> {
        self.layout.tables.iter().position(|t| t.name == name)
    }
}

/// A structure (or gap) whose bytes are reported.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum At {
    Span(usize, usize),
    Gap(usize),
}

#[derive(Debug)]
struct Finding {
    first: u64,
    end: u64,
    bytes: u64,
    other: Option<String>,
}

/// The outcome of attributing one image pair's differing bytes.
pub(crate) struct Attribution {
    pub differences: Vec<Difference>,
    pub record: ByteAccounting,
}

/// Attributes the differing `runs` of two same-size images `a` and `b` (and
/// the `tally` made with them) to the structures of their layouts, explained
/// by `ctx` where it can. `read` is told how many bytes of the images were
/// compared, as [`super::differing_runs_outside`] does.
pub(crate) fn attribute(
    (a, b): (&[u8], &[u8]),
    (la, lb): (&Layout, &Layout),
    (runs, tally): (&[Run], &Tally),
    ctx: &Context,
    location: &Location,
    (read, passed): (&(dyn Fn(u64) + Sync), Passed<'_>),
) -> Attribution {
    let mut sides = [Side::new(a, la, "a"), Side::new(b, lb, "b")];
    let segments = segments(&sides, (runs, tally), (a, b), passed);
    settle(&mut sides, &segments, ctx, read);
    let mut record = ByteAccounting {
        location: location.clone(),
        differing_bytes: 0,
        ranges: runs.len() as u64,
        unattributed_bytes: 0,
        explained_bytes: 0,
        placement_bytes: 0,
        reported_bytes: 0,
        nested_bytes: 0,
    };
    let mut findings: BTreeMap<At, Finding> = BTreeMap::new();
    // Placement bytes by structure: reported after all when nothing else in the
    // image differs (an address changed with nothing moved).
    let mut placed: BTreeMap<At, Finding> = BTreeMap::new();
    for &Segment {
        start: o,
        end,
        owners,
        differing: n,
    } in segments.iter().filter(|s| s.differing > 0)
    {
        record.differing_bytes += n;
        let statuses: Vec<Option<&Status>> = (0..2)
            .map(|k| owners[k].and_then(|i| sides[k].status[i].as_ref()))
            .collect();
        let best = (0..2)
            .filter_map(|k| statuses[k].map(|s| (s.rank(), k)))
            .max_by_key(|&(rank, k)| (rank, std::cmp::Reverse(k)));
        let key = match best {
            None => {
                record.unattributed_bytes += n;
                let next = sides[0].layout.at(o).err().unwrap_or(0);
                Some(At::Gap(next))
            }
            Some((_, k)) => match statuses[k] {
                Some(Status::Placement) => {
                    record.placement_bytes += n;
                    if let Some(i) = owners[k] {
                        let f = placed.entry(At::Span(k, i)).or_insert(Finding {
                            first: o,
                            end: o,
                            bytes: 0,
                            other: None,
                        });
                        f.bytes += n;
                        f.end = end;
                    }
                    None
                }
                Some(Status::Explained) => {
                    record.explained_bytes += n;
                    None
                }
                Some(Status::ViaItems) => {
                    record.reported_bytes += n;
                    None
                }
                _ => {
                    record.reported_bytes += n;
                    owners[k].map(|i| At::Span(k, i))
                }
            },
        };
        if let Some(key) = key {
            let other = match &key {
                At::Span(k, _) => {
                    let other = &sides[1 - k];
                    match (owners[1 - k], other.layout.at(o)) {
                        (Some(i), _) => Some(other.spans()[i].owner.display()),
                        (None, Err(next)) => Some(other.layout.gap_name(o, next)),
                        (None, Ok(_)) => None,
                    }
                }
                At::Gap(_) => None,
            };
            let f = findings.entry(key).or_insert(Finding {
                first: o,
                end: o,
                bytes: 0,
                other,
            });
            f.bytes += n;
            f.end = end;
        }
    }

    // Addresses that changed although nothing else in the image did are no
    // placement: they are reported.
    let alone = findings.is_empty() && ctx.is_empty();
    if alone && !placed.is_empty() {
        record.reported_bytes += record.placement_bytes;
        record.placement_bytes = 0;
        findings.append(&mut placed);
    }
    let mut differences = Vec::new();
    // A structure that moved is found on both sides: said once, from a.
    let from_a: HashSet<&str> = findings
        .keys()
        .filter_map(|k| match k {
            At::Span(0, i) => Some(sides[0].spans()[*i].owner.name.as_str()),
            _ => None,
        })
        .collect();
    for (key, f) in &findings {
        if let At::Span(1, i) = key {
            if from_a.contains(sides[1].spans()[*i].owner.name.as_str()) {
                continue;
            }
        }
        let shown = || [excerpt(a, f.first, f.end), excerpt(b, f.first, f.end)];
        let (offset, length, differing_bytes) = (f.first, f.end - f.first, f.bytes);
        let change = match key {
            At::Gap(next) => BytesChange::Unclaimed {
                name: sides[0].layout.gap_name(f.first, *next),
                offset,
                length,
                differing_bytes,
                shown: shown(),
            },
            At::Span(k, i) => {
                let span = &sides[*k].spans()[*i];
                let how = match sides[*k].status[*i].clone() {
                    Some(Status::Moved { from, to }) => {
                        let (offset_a, offset_b) = if *k == 0 { (from, to) } else { (to, from) };
                        Reported::Moved { offset_a, offset_b }
                    }
                    Some(Status::Placement) if alone => Reported::PlacementAlone { shown: shown() },
                    Some(Status::Changed { what }) => {
                        let other = f
                            .other
                            .as_ref()
                            .filter(|o| **o != span.owner.display())
                            .map(|o| (side(1 - k), o.clone()));
                        Reported::Changed {
                            what,
                            shown: shown(),
                            other,
                        }
                    }
                    _ => continue,
                };
                BytesChange::Structure {
                    class: span.owner.class.into(),
                    name: span.owner.display(),
                    offset,
                    length,
                    differing_bytes,
                    how,
                }
            }
        };
        differences.push(Difference::bytes(location.clone(), change));
    }
    differences.extend(item_differences(&sides, location));
    if differences.len() > MAX_FINDINGS {
        let more = differences.len() - MAX_FINDINGS;
        differences.truncate(MAX_FINDINGS);
        let left_out = BytesChange::LeftOut {
            structures: more as u64,
            max: MAX_FINDINGS as u64,
        };
        differences.push(Difference::bytes(location.clone(), left_out));
    }
    Attribution {
        differences,
        record,
    }
}

/// Up to [`SHOWN_BYTES`] bytes of `bytes` from `start` (not past `end`).
fn excerpt(bytes: &[u8], start: u64, end: u64) -> Excerpt {
    let s = start as usize;
    let e = (end as usize).min(s + SHOWN_BYTES).min(bytes.len());
    Excerpt {
        bytes: bytes.get(s..e).unwrap_or_default().to_vec(),
        more: (end as usize) > e,
    }
}

/// Image a (0) or b (1).
fn side(k: usize) -> Which {
    if k == 0 {
        Which::A
    } else {
        Which::B
    }
}

/// A stretch of a differing run that lies in one structure (or gap) of each
/// image, and how many of its bytes differ.
struct Segment {
    start: u64,
    end: u64,
    /// The span of each image holding it, `None` in a gap.
    owners: [Option<usize>; 2],
    differing: u64,
}

/// What the accounting calls with a part of an image it is done reading.
pub(crate) type Passed<'p> = &'p (dyn Fn(&[u8]) + Sync);

/// The runs cut where a structure of either image starts or ends, their
/// differing bytes counted from the tally (and the blocks their ends cut),
/// calling `passed` with the parts of the images read, once done with them.
fn segments(
    sides: &[Side<'_>; 2],
    (runs, tally): (&[Run], &Tally),
    (a, b): (&[u8], &[u8]),
    passed: Passed<'_>,
) -> Vec<Segment> {
    let mut out = Vec::new();
    for run in runs {
        let mut o = run.start;
        while o < run.end {
            let mut owners = [None, None];
            let mut end = run.end;
            for (k, side) in sides.iter().enumerate() {
                match side.layout.at(o) {
                    Ok(i) => {
                        owners[k] = Some(i);
                        end = end.min(side.spans()[i].end());
                    }
                    Err(next) => {
                        if let Some(n) = side.spans().get(next) {
                            end = end.min(n.start);
                        }
                    }
                }
            }
            out.push(Segment {
                start: o,
                end,
                owners,
                differing: 0,
            });
            o = end;
        }
    }
    // In order, a stretch of the images at a time, each released after it:
    // reading a few bytes maps the whole page-cache folio around them (up to
    // 2 MiB on Linux 6.18 with ext4, not the 64 KiB fault-around window), so
    // the ends of 600,000 segments, counted by the bytes read, mapped 500 MB
    // between two releases of the whole maps.
    const STRETCH: u64 = 8 << 20;
    let mut rest = &mut out[..];
    while let Some(from) = rest.first().map(|s| s.start) {
        let n = rest.iter().take_while(|s| s.start < from + STRETCH).count();
        let (stretch, next) = std::mem::take(&mut rest).split_at_mut(n);
        stretch.par_iter_mut().for_each(|s| {
            s.differing = tally.count(a, b, s.start as usize, s.end as usize).0;
        });
        let to = stretch.last().map_or(from, |s| s.end);
        for image in [a, b] {
            let clamp = |o: u64| usize::try_from(o).unwrap_or(usize::MAX).min(image.len());
            passed(&image[clamp(from)..clamp(to)]);
        }
        rest = next;
    }
    out
}

/// The status of every structure holding differing bytes: the decoded tables
/// they refer to analysed first, then each structure judged, on all cores.
fn settle(
    sides: &mut [Side<'_>; 2],
    segments: &[Segment],
    ctx: &Context,
    read: &(dyn Fn(u64) + Sync),
) {
    let mut wanted: Vec<(usize, usize)> = segments
        .iter()
        .filter(|s| s.differing > 0)
        .flat_map(|s| (0..2).filter_map(move |k| s.owners[k].map(|i| (k, i))))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    for &(k, i) in &wanted {
        if let Explain::Decoded(t) = sides[k].spans()[i].owner.explain {
            analyse_tables(sides, k, t, ctx);
        }
    }
    let judged: Vec<Status> = wanted
        .par_iter()
        .map(|&(k, i)| compute_status(sides, k, i, ctx, read))
        .collect();
    for ((k, i), s) in wanted.into_iter().zip(judged) {
        sides[k].status[i] = Some(s);
    }
}

/// The status of span `i` of side `k`; the tables it refers to are analysed.
/// `read` is told how many bytes of the images were compared.
fn compute_status(
    sides: &[Side<'_>; 2],
    k: usize,
    i: usize,
    ctx: &Context,
    read: &(dyn Fn(u64) + Sync),
) -> Status {
    let (x, y) = (&sides[k], &sides[1 - k]);
    let span = &x.spans()[i];
    let owner = &span.owner;
    if ctx.gone(&owner.entries) {
        return Status::Explained;
    }
    if let Explain::Decoded(t) = owner.explain {
        return table_block_status(sides, k, t, span.start, ctx);
    }
    let Some(&j) = y.names.get(owner.name.as_str()) else {
        return one_sided(ctx, owner, x.letter);
    };
    let other = &y.spans()[j];
    // A structure shared by several entries (a fragment block) changes when
    // one joins it or leaves it, which only the other side's owner names.
    if ctx.gone(&other.owner.entries) {
        return Status::Explained;
    }
    let (bx, by) = (x.slice(span), y.slice(other));
    let (at_a, at_b) = if k == 0 {
        (span.start, other.start)
    } else {
        (other.start, span.start)
    };
    let known = bx.len() == by.len() && ctx.same.has(at_a, at_b, bx.len() as u64);
    if !known {
        read((bx.len() + by.len()) as u64);
    }
    if known || bx == by {
        if span.start == other.start {
            return Status::Placement;
        }
        return moved(sides, k, i, j, ctx);
    }
    if let Explain::Packed(keys) = &owner.explain {
        return packed(ctx, keys, &owner.entries, &other.owner.entries);
    }
    let entries = both(&owner.entries, &other.owner.entries);
    if bx.len() != by.len() {
        let mut verdicts = vec![ctx.verdict(&owner.explain, &entries)];
        verdicts.extend(
            owner
                .fields
                .iter()
                .map(|f| ctx.verdict(&f.explain, &entries)),
        );
        return if verdicts.contains(&Verdict::Explained) {
            Status::Explained
        } else if verdicts.iter().all(|v| *v == Verdict::Placement) {
            Status::Placement
        } else {
            Status::Changed {
                what: format!(
                    "{} bytes in {}, {} in {}",
                    bx.len(),
                    x.letter,
                    by.len(),
                    y.letter
                ),
            }
        };
    }
    compare_fields(ctx, &owner.fields, &owner.explain, &entries, bx, by)
}

/// A structure of packed entries ([`Explain::Packed`]) whose bytes differ:
/// explained by a difference of one of its entries in either image; repacked
/// (placement) when the images hold other entries in it, or the same in
/// another order; else changed, unless the compressor changed.
fn packed(ctx: &Context, keys: Keys, x: &[EntryPath], y: &[EntryPath]) -> Status {
    let entries = both(x, y);
    if ctx.verdict(&Explain::Entry(keys), &entries) == Verdict::Explained {
        return Status::Explained;
    }
    if x != y {
        return Status::Placement;
    }
    if stored_differently(ctx) {
        return Status::Explained;
    }
    Status::Changed {
        what: "the same entries in the same order, stored differently".to_owned(),
    }
}

/// True when the image's compressor or its options differ: the same decoded
/// bytes are then stored differently.
fn stored_differently(ctx: &Context) -> bool {
    ["superblock.compressor", "compression_options"]
        .iter()
        .any(|f| ctx.verdict(&Explain::Fact(Cow::Borrowed(f)), &[]) == Verdict::Explained)
}

/// The entries of a structure in either image, each once.
fn both<'e>(x: &'e [EntryPath], y: &'e [EntryPath]) -> std::borrow::Cow<'e, [EntryPath]> {
    if x == y || y.is_empty() {
        return x.into();
    }
    // A fragment block holds the tails of hundreds of files: no scan of one
    // list for each entry of the other.
    let mine: HashSet<&[u8]> = x.iter().map(|e| &e[..]).collect();
    let mut all = x.to_vec();
    all.extend(y.iter().filter(|e| !mine.contains(&e[..])).cloned());
    all.into()
}

/// A structure only one image has.
fn one_sided(ctx: &Context, owner: &crate::model::span::Owner, letter: &str) -> Status {
    let mut verdicts = vec![ctx.verdict(&owner.explain, &owner.entries)];
    verdicts.extend(
        owner
            .fields
            .iter()
            .map(|f| ctx.verdict(&f.explain, &owner.entries)),
    );
    if verdicts.contains(&Verdict::Explained) {
        Status::Explained
    } else if verdicts.iter().all(|v| *v == Verdict::Placement) {
        Status::Placement
    } else {
        Status::Changed {
            what: format!("only in {letter}"),
        }
    }
}

/// Compares two equal-length structures field by field.
fn compare_fields(
    ctx: &Context,
    fields: &[Field],
    explain: &Explain,
    entries: &[EntryPath],
    bx: &[u8],
    by: &[u8],
) -> Status {
    let mut changed: Vec<String> = Vec::new();
    let (mut explained, mut placement) = (false, false);
    // Most structures are small (an inode, a table entry): no allocation.
    let (mut small, mut large) = ([false; 64], Vec::new());
    let covered: &mut [bool] = if bx.len() <= small.len() {
        &mut small[..bx.len()]
    } else {
        large.resize(bx.len(), false);
        &mut large
    };
    let mut judge = |v: Verdict, name: &str, changed: &mut Vec<String>| match v {
        Verdict::Explained => explained = true,
        Verdict::Placement => placement = true,
        Verdict::Unexplained => {
            if !changed.iter().any(|c| c == name) {
                changed.push(name.to_owned());
            }
        }
    };
    for f in fields {
        let (s, e) = (f.at as usize, (f.at + f.len) as usize);
        let (Some(fx), Some(fy)) = (bx.get(s..e.min(bx.len())), by.get(s..e.min(by.len()))) else {
            continue;
        };
        for c in covered.get_mut(s..e.min(bx.len())).unwrap_or_default() {
            *c = true;
        }
        if fx != fy {
            judge(ctx.verdict(&f.explain, entries), &f.name, &mut changed);
        }
    }
    let rest_differs = bx
        .iter()
        .zip(by)
        .zip(covered.iter())
        .any(|((p, q), c)| !c && p != q);
    if rest_differs {
        let name = if fields.is_empty() {
            ""
        } else {
            "bytes outside its fields"
        };
        judge(ctx.verdict(explain, entries), name, &mut changed);
    }
    if !changed.is_empty() {
        Status::Changed {
            what: changed.join(", "),
        }
    } else if explained {
        Status::Explained
    } else {
        let _ = placement;
        Status::Placement
    }
}

/// A structure with the same bytes at another place: moved along with what
/// comes before it (placement), or on its own (reported).
///
/// A packed block (a squashfs fragment block) is written when it fills, so
/// where it lands among the data blocks follows from every tail packed before
/// it: when entries were added or removed or their data changed, its move,
/// and the move of what it was written in front of, are placement. With no
/// such difference, a move is another order of its own and still reported (a
/// `-sort` file).
fn moved(sides: &[Side<'_>; 2], k: usize, i: usize, j: usize, ctx: &Context) -> Status {
    let (x, y) = (&sides[k], &sides[1 - k]);
    let (from, to) = (x.spans()[i].start, y.spans()[j].start);
    let repacked = data_repacked(ctx);
    if repacked && matches!(x.spans()[i].owner.explain, Explain::Packed(_)) {
        return Status::Placement;
    }
    let shift = i128::from(to) - i128::from(from);
    if follows(x, y, (i, j), shift, repacked) || follows(y, x, (j, i), -shift, repacked) {
        Status::Placement
    } else {
        Status::Moved { from, to }
    }
}

/// True when some entry of the image was added or removed, or its data
/// changed: the producer packed the data area anew.
fn data_repacked(ctx: &Context) -> bool {
    [Key::Added, Key::Removed, Key::Content, Key::SIZE]
        .iter()
        .any(|key| ctx.any.has(key))
}

/// True when the structure before span `i` of `x` (span `j` of `y`) explains
/// its shift: it is only in `x`, changed size, or moved by the same amount;
/// or, when the data area was `repacked`, it is a packed block that `y` holds
/// after span `j`, written in front of it here (the shift is its length).
fn follows(
    x: &Side<'_>,
    y: &Side<'_>,
    (i, j): (usize, usize),
    shift: i128,
    repacked: bool,
) -> bool {
    let Some(p) = i.checked_sub(1) else {
        return false;
    };
    let prev = &x.spans()[p];
    match y.names.get(prev.owner.name.as_str()) {
        None => true,
        Some(&q) => {
            let other = &y.spans()[q];
            let jumped = repacked
                && matches!(prev.owner.explain, Explain::Packed(_))
                && other.start >= y.spans()[j].start
                && shift.unsigned_abs() == u128::from(prev.len);
            jumped
                || other.len != prev.len
                || i128::from(other.start) - i128::from(prev.start) == shift
        }
    }
}

/// The status of the compressed block at `start` of decoded table `t` of side
/// `k`, from what differs among the items it holds.
fn table_block_status(
    sides: &[Side<'_>; 2],
    k: usize,
    t: usize,
    start: u64,
    ctx: &Context,
) -> Status {
    let x = &sides[k];
    let table = &x.layout.tables[t];
    let Some(analysis) = x.tables[t].as_ref() else {
        return Status::Changed {
            what: String::new(),
        };
    };
    let Some((_, range)) = table.blocks.iter().find(|(s, _)| *s == start) else {
        return Status::Changed {
            what: "not a block of its table".to_owned(),
        };
    };
    let first = table
        .items
        .partition_point(|it| it.range.end <= range.start);
    let mut status = None::<Status>;
    for (n, it) in table.items[first..].iter().enumerate() {
        if it.range.start >= range.end {
            break;
        }
        let s = match &analysis.status[first + n] {
            ItemStatus::Same => continue,
            ItemStatus::Placement => Status::Placement,
            ItemStatus::Explained => Status::Explained,
            ItemStatus::Changed => Status::ViaItems,
        };
        if status.as_ref().is_none_or(|old| s.rank() > old.rank()) {
            status = Some(s);
        }
    }
    if let Some(s) = status {
        return s;
    }
    // Nothing decoded here differs. Moved along with its table, or the same
    // items stored differently; or the other image's block that starts at the
    // same place in the stream decodes to more or other bytes (an id appended
    // to the id table), whose items are judged on that side.
    let y = &sides[1 - k];
    let decoded = table
        .stream
        .get(range.start as usize..range.end as usize)
        .unwrap_or_default();
    let counterpart = y.table_named(&table.name).and_then(|u| {
        let other = &y.layout.tables[u];
        other
            .blocks
            .iter()
            .find(|(_, r)| r.start == range.start)
            .map(|(s, r)| {
                let same = other.stream.get(r.start as usize..r.end as usize) == Some(decoded);
                (*s, same)
            })
    });
    match counterpart {
        Some((_, false)) => Status::Placement,
        Some((other_start, true)) if other_start != start => Status::Placement,
        _ if stored_differently(ctx) => Status::Explained,
        _ => Status::Changed {
            what: "stored differently, the same decoded bytes".to_owned(),
        },
    }
}

/// Compares decoded table `t` of side `k` with its namesake in the other image,
/// item by item, once; both sides' analyses are made together.
fn analyse_tables(sides: &mut [Side<'_>; 2], k: usize, t: usize, ctx: &Context) {
    if sides[k].tables[t].is_some() {
        return;
    }
    let u = sides[1 - k].table_named(&sides[k].layout.tables[t].name);
    let (x, y) = (&sides[k], &sides[1 - k]);
    let (tx, ty) = rayon::join(
        || Named::new(&x.layout.tables[t]),
        || u.map(|u| Named::new(&y.layout.tables[u])),
    );
    let (ax, ay) = rayon::join(
        || analyse(ctx, &tx, ty.as_ref(), x.letter),
        || ty.as_ref().map(|ty| analyse(ctx, ty, Some(&tx), y.letter)),
    );
    sides[k].tables[t] = Some(ax);
    if let (Some(u), Some(ay)) = (u, ay) {
        sides[1 - k].tables[u] = Some(ay);
    }
}

/// What an item's name ([`Item::name`]) is made of, the table's name aside:
/// items of two tables of the same name pair by it. Made for every item of
/// both tables, so made without allocating the names.
type ItemKey<'t> = (&'static str, Option<&'t str>, Option<&'t [u8]>);

fn item_key(it: &Item) -> ItemKey<'_> {
    match (&it.label, it.entries.first()) {
        (Some(label), _) => (it.class, Some(label), None),
        (None, path) => (it.class, None, path.map(|p| &p[..])),
    }
}

/// A decoded table with its items by name, made once for both directions of
/// the comparison.
///
/// The index is an open-addressing table of item positions (linear probing,
/// twice as many slots as items): 8 bytes an item where a hash map of the keys
/// took 60 to 120, for tables of as many items as entries, two at a time. Of
/// items with the same key the last is kept, as a map filled in order would.
struct Named<'t> {
    table: &'t Decoded,
    slots: Vec<u32>,
    hasher: foldhash::fast::RandomState,
    /// No two items have the same key: an item found by its key is then the
    /// one the index holds.
    unique: bool,
}

/// A slot of [`Named`] holding no item.
const EMPTY_SLOT: u32 = u32::MAX;

/// Items by a key, for tables of as many items as entries: hashed with a
/// faster function than the standard one, still seeded per process, so that
/// names made to collide cannot make the lookups slow.
type ItemMap<K> = HashMap<K, usize, foldhash::fast::RandomState>;

impl<'t> Named<'t> {
    fn new(table: &'t Decoded) -> Named<'t> {
        let hasher = foldhash::fast::RandomState::default();
        // Tables are bounded by the entry limits, far below u32::MAX items.
        let count = table.items.len().min(EMPTY_SLOT as usize);
        let mut named = Named {
            table,
            slots: vec![EMPTY_SLOT; (count * 2).next_power_of_two().max(2)],
            hasher,
            unique: true,
        };
        for (i, it) in table.items.iter().enumerate().take(count) {
            let slot = named.slot(&item_key(it));
            named.unique &= named.slots[slot] == EMPTY_SLOT;
            named.slots[slot] = i as u32;
        }
        named
    }

    /// The slot of the item whose key is `key`, or the empty slot where it
    /// would go. The table is never more than half full, so there is one.
    fn slot(&self, key: &ItemKey<'_>) -> usize {
        use std::hash::BuildHasher;
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(key) as usize & mask;
        loop {
            match self.slots[at] {
                EMPTY_SLOT => return at,
                i if self
                    .table
                    .items
                    .get(i as usize)
                    .is_some_and(|it| item_key(it) == *key) =>
                {
                    return at
                }
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// The item whose key is `key`.
    fn find(&self, key: &ItemKey<'_>) -> Option<usize> {
        match self.slots[self.slot(key)] {
            EMPTY_SLOT => None,
            i => Some(i as usize),
        }
    }

    /// The item whose key is `key`, item `guess` tried first: two images'
    /// tables list their items mostly in the same order, so the item after
    /// the last counterpart is usually the one, found without hashing the
    /// key or probing the index at random (two cache misses a lookup, a
    /// sixth of the time of a 3.2 GB pair of 335,000 entries).
    fn find_from(&self, guess: usize, key: &ItemKey<'_>) -> Option<usize> {
        let next = self.table.items.get(guess).filter(|_| self.unique);
        if next.is_some_and(|it| item_key(it) == *key) {
            return Some(guess);
        }
        self.find(key)
    }
}

fn analyse(ctx: &Context, nx: &Named<'_>, ny: Option<&Named<'_>>, letter: &str) -> TableAnalysis {
    let (tx, ty) = (nx.table, ny.map(|n| n.table));
    let by_entry = std::cell::OnceCell::new();
    let mut status = Vec::with_capacity(tx.items.len());
    let mut other = Vec::with_capacity(tx.items.len());
    let mut what = HashMap::new();
    let mut guess = 0;
    for (n, it) in tx.items.iter().enumerate() {
        let by_name = ny.and_then(|ny| ny.find_from(guess, &item_key(it)));
        if let Some(m) = by_name {
            guess = m + 1;
        }
        let counterpart = by_name.or_else(|| {
            // Named after its first entry, an item shared by several (a
            // fragment entry) is renamed when an entry joins before it: the
            // other image's item of no counterpart holding one of its entries.
            let by_entry =
                by_entry.get_or_init(|| ny.map(|ny| unpaired_by_entry(ny, nx)).unwrap_or_default());
            it.entries
                .iter()
                .find_map(|e| by_entry.get(&e[..]).copied())
        });
        other.push(
            counterpart
                .and_then(|m| u32::try_from(m).ok())
                .unwrap_or(NO_COUNTERPART),
        );
        let their_entries = match (ty, counterpart) {
            (Some(ty), Some(m)) => &ty.items[m].entries[..],
            _ => &[],
        };
        if ctx.gone(&it.entries) || ctx.gone(their_entries) {
            status.push(ItemStatus::Explained);
            continue;
        }
        let entries = || both(&it.entries, their_entries);
        let bx = slice(&tx.stream, &it.range);
        let s = match (ty, counterpart) {
            (Some(ty), Some(m)) => {
                let jt = &ty.items[m];
                let by = slice(&ty.stream, &jt.range);
                if bx == by {
                    if it.range.start == jt.range.start {
                        ItemStatus::Same
                    } else {
                        ItemStatus::Placement
                    }
                } else if tx.same_but_placement.is_some_and(|same| same(bx, by)) {
                    ItemStatus::Placement
                } else {
                    let fields = (tx.fields)(it, bx);
                    let s = if bx.len() == by.len() {
                        compare_fields(ctx, &fields, it.explain, &entries(), bx, by)
                    } else {
                        let fy = (ty.fields)(jt, by);
                        sized(ctx, it, &entries(), (&fields, &fy), (bx, by), letter)
                    };
                    item_status(s, n, &mut what)
                }
            }
            _ => {
                // Judged by its fields, as a structure only one image has: an
                // inode a split hard link gained is explained by the link
                // counts its fields hold.
                let mut owner = crate::model::span::Owner::new(it.class, "", it.explain.clone())
                    .with_fields((tx.fields)(it, bx));
                owner.entries = it.entries.to_vec();
                item_status(one_sided(ctx, &owner, letter), n, &mut what)
            }
        };
        status.push(s);
    }
    TableAnalysis {
        status,
        what,
        other,
    }
}

/// The item status of item `n` judged `s`, keeping why it changed in `what`.
fn item_status(s: Status, n: usize, what: &mut HashMap<usize, String>) -> ItemStatus {
    match s {
        Status::Explained => ItemStatus::Explained,
        Status::Changed { what: why } => {
            what.insert(n, why);
            ItemStatus::Changed
        }
        _ => ItemStatus::Placement,
    }
}

/// The items of `ny` whose names `nx` has no item of, by each entry they hold.
fn unpaired_by_entry<'t>(ny: &Named<'t>, nx: &Named<'_>) -> ItemMap<&'t [u8]> {
    let mut out = ItemMap::default();
    for (m, jt) in ny.table.items.iter().enumerate() {
        if jt.entries.is_empty() || nx.find(&item_key(jt)).is_some() {
            continue;
        }
        for e in &jt.entries {
            out.entry(&e[..]).or_insert(m);
        }
    }
    out
}

/// Two items of different lengths (an inode stored in another shape): the
/// fields both have are compared by value (a 32-bit size and a 64-bit one of
/// the same number are the same); a field that differs is judged as usual, and
/// one that only one shape has follows from the change of shape when the item's
/// `type` field differs and is explained.
fn sized(
    ctx: &Context,
    it: &crate::model::span::Item,
    entries: &[EntryPath],
    (fx, fy): (&[Field], &[Field]),
    (bx, by): (&[u8], &[u8]),
    letter: &str,
) -> Status {
    let mut changed = Vec::new();
    let mut explained = false;
    let mut reshaped = false;
    let mut alone = Vec::new();
    for f in fx {
        let differs = match fy.iter().find(|g| g.name == f.name) {
            Some(g) => match (field_bytes(bx, f), field_bytes(by, g)) {
                (Some(x), Some(y)) if x.len() != y.len() => number(x) != number(y),
                (x, y) => x != y,
            },
            None => {
                alone.push(f);
                continue;
            }
        };
        if differs {
            match ctx.verdict(&f.explain, entries) {
                Verdict::Explained => {
                    explained = true;
                    reshaped |= f.name == "type";
                }
                Verdict::Placement => {}
                Verdict::Unexplained => changed.push(f.name.to_string()),
            }
        }
    }
    for f in alone {
        match ctx.verdict(&f.explain, entries) {
            Verdict::Explained => explained = true,
            Verdict::Unexplained if !reshaped => changed.push(f.name.to_string()),
            _ => {}
        }
    }
    if ctx.verdict(it.explain, entries) == Verdict::Explained {
        explained = true;
    }
    if !changed.is_empty() {
        Status::Changed {
            what: format!("{} (size differs in {letter})", changed.join(", ")),
        }
    } else if explained {
        Status::Explained
    } else {
        Status::Placement
    }
}

fn field_bytes<'b>(b: &'b [u8], f: &Field) -> Option<&'b [u8]> {
    b.get(f.at as usize..f.at.saturating_add(f.len) as usize)
}

/// A little-endian field of up to eight bytes as a number (`None` when longer).
fn number(b: &[u8]) -> Option<u64> {
    (b.len() <= 8).then(|| b.iter().rev().fold(0u64, |n, &x| n << 8 | u64::from(x)))
}

fn slice<'s>(stream: &'s [u8], r: &std::ops::Range<u64>) -> &'s [u8] {
    stream
        .get(r.start as usize..(r.end as usize).min(stream.len()))
        .unwrap_or_default()
}

/// The `bytes` differences of changed items of the decoded tables analysed.
fn item_differences(sides: &[Side<'_>; 2], location: &Location) -> Vec<Difference> {
    let mut out = Vec::new();
    for (k, side) in sides.iter().enumerate() {
        for (t, analysis) in side.tables.iter().enumerate() {
            let Some(analysis) = analysis else {
                continue;
            };
            let table = &side.layout.tables[t];
            for (n, s) in analysis.status.iter().enumerate() {
                if *s != ItemStatus::Changed {
                    continue;
                }
                let what = analysis.what.get(&n).cloned().unwrap_or_default();
                // A changed item both images have is said once, from a, when
                // a says it: each side judges the fields it has, so b alone
                // may find a change (a field only b's item has).
                if k == 1 && changed_in_a(sides, &table.name, analysis.other(n)) {
                    continue;
                }
                let it = &table.items[n];
                let block = table
                    .blocks
                    .iter()
                    .find(|(_, r)| r.start <= it.range.start && it.range.start < r.end)
                    .map(|(s, r)| Block {
                        side: self::side(k),
                        offset: *s,
                        length: r.end - r.start,
                    });
                let item = BytesChange::Item {
                    table: table.name.clone(),
                    class: it.class.into(),
                    name: it.name(&table.name),
                    what,
                    block,
                };
                out.push(Difference::bytes(location.clone(), item));
            }
        }
    }
    out
}

/// True when item `m` of a's table named `table` was found changed.
fn changed_in_a(sides: &[Side<'_>; 2], table: &str, m: Option<usize>) -> bool {
    let a = &sides[0];
    let status = m.and_then(|m| {
        let t = a.table_named(table)?;
        a.tables.get(t)?.as_ref()?.status.get(m)
    });
    status == Some(&ItemStatus::Changed)
}

/// Differences between the placements of two images of different sizes: per
/// kind of structure, what moved, changed size or is on one side only.
pub(crate) fn layout_differences(
    location: &Location,
    pa: &[Placement],
    pb: &[Placement],
) -> Vec<Difference> {
    const EXAMPLES: usize = 3;
    let mut classes: Vec<&'static str> = Vec::new();
    for p in pa.iter().chain(pb) {
        if !classes.contains(&p.class) {
            classes.push(p.class);
        }
    }
    let place = |p: &Placement| Place {
        start: p.start,
        len: p.len,
    };
    let mut out = Vec::new();
    for class in classes {
        let of = |ps: &[Placement]| -> BTreeMap<String, Placement> {
            ps.iter()
                .filter(|p| p.class == class)
                .map(|p| (p.name.clone(), p.clone()))
                .collect()
        };
        let (ma, mb) = (of(pa), of(pb));
        if ma.len() == 1 && mb.len() == 1 {
            let (x, y) = (ma.values().next(), mb.values().next());
            if let (Some(x), Some(y)) = (x, y) {
                if (x.start, x.len) != (y.start, y.len) {
                    let placed = LayoutChange::Placed {
                        name: x.name.clone(),
                        a: place(x),
                        b: place(y),
                    };
                    out.push(Difference::layout(location.clone(), placed));
                }
            }
            continue;
        }
        let (mut moved, mut resized, mut only_a, mut only_b) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (name, x) in &ma {
            match mb.get(name) {
                None => only_a.push(name.clone()),
                Some(y) if y.len != x.len => resized.push((name.clone(), x.len, y.len)),
                Some(y) if y.start != x.start => moved.push((name.clone(), x.start, y.start)),
                Some(_) => {}
            }
        }
        only_b.extend(mb.keys().filter(|n| !ma.contains_key(*n)).cloned());
        if moved.is_empty() && resized.is_empty() && only_a.is_empty() && only_b.is_empty() {
            continue;
        }
        // A few structures (the tables of a squashfs) are all named.
        let shown = if ma.len().max(mb.len()) <= 8 {
            usize::MAX
        } else {
            EXAMPLES
        };
        let mut groups = Vec::new();
        let total = |l: usize| l as u64;
        if !moved.is_empty() {
            let total = total(moved.len());
            moved.truncate(shown);
            groups.push(LayoutGroup::Moved {
                total,
                examples: moved,
            });
        }
        if !resized.is_empty() {
            let total = total(resized.len());
            resized.truncate(shown);
            groups.push(LayoutGroup::Resized {
                total,
                examples: resized,
            });
        }
        for (side, mut list) in [(Which::A, only_a), (Which::B, only_b)] {
            if !list.is_empty() {
                let total = total(list.len());
                list.truncate(shown);
                groups.push(LayoutGroup::OnlyIn {
                    side,
                    total,
                    examples: list,
                });
            }
        }
        let change = LayoutChange::Class {
            class: class.into(),
            count_a: ma.len() as u64,
            count_b: mb.len() as u64,
            groups,
        };
        out.push(Difference::layout(location.clone(), change));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::Owner;
    use crate::report::{Subject, Val};

    fn span(start: u64, len: u64, name: &str, explain: Explain) -> Span {
        Span {
            start,
            len,
            owner: Owner::new("thing", name, explain).of(&EntryPath::from(&b"/f"[..])),
        }
    }

    fn runs(a: &[u8], b: &[u8]) -> (Vec<Run>, Tally) {
        super::super::differing_runs_outside(a, b, &[], &|_| {})
    }

    /// [`attribute`] of two whole images at the top.
    fn attributed(
        (a, b): (&[u8], &[u8]),
        (la, lb): (&Layout, &Layout),
        ctx: &Context,
    ) -> Attribution {
        let (r, tally) = runs(a, b);
        attribute(
            (a, b),
            (la, lb),
            (&r, &tally),
            ctx,
            &Vec::new(),
            (&|_| {}, &|_| {}),
        )
    }

    #[test]
    fn same_bytes_are_known_by_their_offsets() {
        let n = SameBytes::WORTH;
        let mut same = SameBytes::default();
        same.add(0, n, n);
        same.add(n, 0, n - 1);
        assert!(same.has(0, n, n));
        assert!(!same.has(n, 0, n), "the pair is ordered: a's offset first");
        assert!(!same.has(0, n, n + 1), "another length is another block");
        assert!(!same.has(n, 0, n - 1), "short blocks are not kept");
    }

    #[test]
    fn blocks_the_walk_found_the_same_are_not_read_again() {
        // a: [x][y]; b: [y][x], each 64 KiB: both moved, the same bytes.
        let n = SameBytes::WORTH as usize;
        let (x, y) = (vec![1u8; n], vec![2u8; n]);
        let a = [x.clone(), y.clone()].concat();
        let b = [y, x].concat();
        let mut la = Layout::new();
        let mut lb = Layout::new();
        let len = n as u64;
        for (l, xs, ys) in [(&mut la, 0, len), (&mut lb, len, 0)] {
            l.push(span(xs, len, "x", Explain::Nothing));
            l.push(span(ys, len, "y", Explain::Nothing));
            l.finish();
        }
        let r = runs(&a, &b);
        let read = std::sync::atomic::AtomicU64::new(0);
        let passed = std::sync::Mutex::new(Vec::new());
        let attribute = |ctx: &Context| {
            read.store(0, std::sync::atomic::Ordering::Relaxed);
            let out = attribute(
                (&a, &b),
                (&la, &lb),
                (&r.0, &r.1),
                ctx,
                &Vec::new(),
                (
                    &|bytes| {
                        read.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
                    },
                    &|part: &[u8]| {
                        let (image, base) = if a.as_ptr_range().contains(&part.as_ptr()) {
                            ("a", a.as_ptr())
                        } else {
                            ("b", b.as_ptr())
                        };
                        let at = part.as_ptr() as usize - base as usize;
                        passed.lock().unwrap().push((image, at..at + part.len()));
                    },
                ),
            );
            (out, read.load(std::sync::atomic::Ordering::Relaxed))
        };
        let mut ctx = Context::default();
        let (out, compared) = attribute(&ctx);
        assert_eq!(
            out.differences.len(),
            2,
            "both moved: {:?}",
            out.differences
        );
        assert_eq!(compared, 4 * 2 * len, "both structures read on both sides");
        assert_eq!(
            passed.lock().unwrap().clone(),
            [("a", 0..2 * n), ("b", 0..2 * n)],
            "the differing stretch is given back on both sides once counted"
        );
        ctx.same.add(0, len, len);
        ctx.same.add(len, 0, len);
        let (known, compared) = attribute(&ctx);
        assert_eq!(known.differences, out.differences);
        assert_eq!(compared, 0, "no byte read again");
    }

    #[test]
    fn explained_moved_and_unclaimed_bytes() {
        // a: [hdr 0..4][x 4..8][y 8..12] pad; b: [hdr][y][x] pad with a changed pad byte.
        let a = b"HDR!xxxxyyyy\0\0\0\0".to_vec();
        let mut b = b"HDR?yyyyxxxx\0\0\0\0".to_vec();
        b[14] = 1;
        let mut la = Layout::new();
        let mut lb = Layout::new();
        for (l, xs, ys) in [(&mut la, 4, 8), (&mut lb, 8, 4)] {
            l.push(
                span(
                    0,
                    4,
                    "header",
                    Explain::Entry(&[Key::Field(EntryField::Mtime)]),
                )
                .clone(),
            );
            l.push(span(xs, 4, "x", Explain::Nothing));
            l.push(span(ys, 4, "y", Explain::Nothing));
            l.finish();
        }
        let diff = Difference::entry(
            vec![b"/f".to_vec()],
            EntryField::Mtime,
            Val::Unsigned(1),
            Val::Unsigned(2),
        );
        let ctx = Context::new(&Vec::new(), &[diff], &[]);
        let out = attributed((&a, &b), (&la, &lb), &ctx);
        let rec = &out.record;
        assert_eq!(rec.differing_bytes, 1 + 8 + 1);
        assert_eq!(rec.explained_bytes, 1);
        assert_eq!(rec.unattributed_bytes, 1);
        assert_eq!(rec.reported_bytes, 8);
        let fields: Vec<String> = out
            .differences
            .iter()
            .filter_map(|d| d.field().map(|f| f.into_owned()))
            .collect();
        assert!(fields.iter().any(|f| f == "x"), "{fields:?}");
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("unclaimed bytes after y")),
            "{fields:?}"
        );
    }

    /// A block of packed entries ([`Explain::Packed`]) with the given entries.
    fn packed_block(files: &[&str]) -> Span {
        let mut owner = Owner::new("block", "block 0", Explain::Packed(&[Key::Content]));
        owner.entries = files
            .iter()
            .map(|f| EntryPath::from(f.as_bytes()))
            .collect();
        Span {
            start: 0,
            len: 8,
            owner,
        }
    }

    /// Reported bytes of a pair of images holding one packed block each.
    fn packed_pair(a: &[&str], b: &[&str], differences: &[Difference]) -> u64 {
        let (la, lb) = (&mut Layout::new(), &mut Layout::new());
        la.push(packed_block(a));
        lb.push(packed_block(b));
        la.finish();
        lb.finish();
        let ctx = Context::new(&Vec::new(), differences, &[]);
        let out = attributed((b"abcdefgh", b"abcdXXgh"), (la, lb), &ctx);
        assert_eq!(out.record.differing_bytes, 2);
        assert_eq!(out.record.unattributed_bytes, 0);
        out.record.reported_bytes
    }

    #[test]
    fn a_packed_block_is_repacked_explained_or_changed() {
        // Placement is reported when nothing else in the image differs: here
        // something does.
        let elsewhere = || {
            Difference::entry(
                vec![b"/z".to_vec()],
                EntryField::Mtime,
                Val::Unsigned(1),
                Val::Unsigned(2),
            )
        };
        // Other entries in it: repacked, placement.
        assert_eq!(packed_pair(&["/f", "/g"], &["/g", "/h"], &[elsewhere()]), 0);
        // The same entries in another order: repacked too.
        assert_eq!(packed_pair(&["/f", "/g"], &["/g", "/f"], &[elsewhere()]), 0);
        // The same entries, one of whose content differs: explained.
        let content = Difference::content(
            vec![b"/g".to_vec()],
            crate::report::change::tests::content(),
        );
        assert_eq!(packed_pair(&["/f", "/g"], &["/f", "/g"], &[content]), 0);
        // The same entries in the same order, none differing: the bytes
        // changed on their own.
        assert_eq!(packed_pair(&["/f", "/g"], &["/f", "/g"], &[elsewhere()]), 2);
    }

    #[test]
    fn a_size_change_explains_the_moves_after_it() {
        // b's first structure grew by 2 bytes: the next one only moved.
        let a = b"AAAAzzzz\0\0\0\0".to_vec();
        let b = b"AAAAAAzzzz\0\0".to_vec();
        let mut la = Layout::new();
        la.push(span(0, 4, "grown", Explain::Entry(&[Key::Content])));
        la.push(span(4, 4, "next", Explain::Nothing));
        let mut lb = Layout::new();
        lb.push(span(0, 6, "grown", Explain::Entry(&[Key::Content])));
        lb.push(span(6, 4, "next", Explain::Nothing));
        la.finish();
        lb.finish();
        let diff = Difference::content(
            vec![b"/f".to_vec()],
            crate::report::change::tests::content(),
        );
        let ctx = Context::new(&Vec::new(), &[diff], &[]);
        let out = attributed((&a, &b), (&la, &lb), &ctx);
        assert!(out.record.all_explained(), "{:?}", out.record);
        assert!(out.differences.is_empty(), "{:?}", out.differences);
        assert!(out.record.placement_bytes > 0);
    }

    #[test]
    fn a_packed_block_written_earlier_is_placement_only_beside_an_added_entry() {
        // b wrote the fragment block in front of the data block: the same
        // bytes in another order, plus a third block only b has (the added
        // file's, explained by its difference) or, without one, nothing.
        let a = b"DDDDFFFF\0\0\0\0".to_vec();
        let b = b"FFFFDDDDNNNN".to_vec();
        let frag = |start| {
            let mut owner = Owner::new("fragment block", "frag", Explain::Packed(&[Key::Content]));
            owner.entries = vec![EntryPath::from(&b"/g"[..])];
            Span {
                start,
                len: 4,
                owner,
            }
        };
        let data = |start| span(start, 4, "data", Explain::Entry(&[Key::Content]));
        let mut la = Layout::new();
        la.push(data(0));
        la.push(frag(4));
        let mut lb = Layout::new();
        lb.push(frag(0));
        lb.push(data(4));
        lb.push(Span {
            start: 8,
            len: 4,
            owner: Owner::new("data block", "new", Explain::Nothing)
                .of(&EntryPath::from(&b"/new"[..])),
        });
        la.finish();
        lb.finish();
        let added = Difference::one_sided(
            vec![b"/new".to_vec()],
            Which::B,
            Subject::Entry(crate::model::EntryKind::File),
            Some(1),
        );
        let ctx = Context::new(&Vec::new(), &[added], &[]);
        let out = attributed((&a, &b), (&la, &lb), &ctx);
        assert!(out.differences.is_empty(), "{:?}", out.differences);
        // With no entry added, removed or changed, the same order change is
        // one of its own: reported.
        let none = Context::new(&Vec::new(), &[], &[]);
        let out = attributed((&a, &b), (&la, &lb), &none);
        let said = format!("{:?}", out.differences);
        assert!(
            said.contains("name: \"frag\"") || said.contains("name: \"data\""),
            "{said}"
        );
    }

    #[test]
    fn the_guessed_item_is_the_one_the_index_holds() {
        let table = |paths: &[&str]| Decoded {
            name: "t".into(),
            stream: vec![0; paths.len()],
            blocks: vec![(0, 0..paths.len() as u64)],
            items: paths
                .iter()
                .enumerate()
                .map(|(i, p)| crate::model::span::Item {
                    class: "item",
                    entries: Box::new([EntryPath::from(p.as_bytes())]),
                    label: None,
                    range: i as u64..i as u64 + 1,
                    explain: &Explain::Nothing,
                    tag: 0,
                })
                .collect(),
            fields: |_, _| Vec::new(),
            same_but_placement: None,
        };
        let key = |p: &'static str| ("item", None, Some(p.as_bytes()));
        let unique = table(&["/a", "/b", "/c"]);
        let named = Named::new(&unique);
        assert_eq!(named.find_from(1, &key("/b")), Some(1), "the guess");
        assert_eq!(named.find_from(0, &key("/c")), Some(2), "a wrong guess");
        assert_eq!(
            named.find_from(9, &key("/a")),
            Some(0),
            "a guess past the end"
        );
        assert_eq!(named.find_from(1, &key("/x")), None);
        // Of items with the same key the index keeps the last: a guess of an
        // earlier one is not taken.
        let twice = table(&["/a", "/b", "/a"]);
        let named = Named::new(&twice);
        assert_eq!(named.find_from(0, &key("/a")), Some(2));
    }

    #[test]
    fn an_item_only_b_finds_changed_is_still_said() {
        // One compressed block per image whose decoded item is 4 bytes in a and
        // 6 in b: the 4 both have are equal, b's last 2 are a field only b's
        // item has, explained by nothing. a finds nothing changed, b does.
        fn fields(_: &crate::model::span::Item, b: &[u8]) -> Vec<Field> {
            let mut v = vec![Field::new(0, 4, "x", Explain::Placement)];
            if b.len() > 4 {
                v.push(Field::new(4, b.len() as u64 - 4, "y", Explain::Nothing));
            }
            v
        }
        let layout = |stream: Vec<u8>| {
            let mut l = Layout::new();
            let len = stream.len() as u64;
            let t = l.table(Decoded {
                name: "t".into(),
                stream,
                blocks: vec![(0, 0..len)],
                items: vec![crate::model::span::Item {
                    class: "item",
                    entries: Box::new([EntryPath::from(&b"/f"[..])]),
                    label: None,
                    range: 0..len,
                    explain: &Explain::Nothing,
                    tag: 0,
                }],
                fields,
                same_but_placement: None,
            });
            l.push(Span {
                start: 0,
                len: 8,
                owner: Owner::new("metadata block", "t: metadata block 0", Explain::Decoded(t)),
            });
            l.finish();
            l
        };
        let (la, lb) = (layout(vec![1, 2, 3, 4]), layout(vec![1, 2, 3, 4, 5, 6]));
        let (a, b) = (vec![0u8; 8], vec![1u8; 8]);
        let ctx = Context::default();
        let out = attributed((&a, &b), (&la, &lb), &ctx);
        assert_eq!(out.record.reported_bytes, 8, "{:?}", out.record);
        let fields: Vec<String> = out
            .differences
            .iter()
            .filter_map(|d| d.field().map(|f| f.into_owned()))
            .collect();
        assert_eq!(fields, ["t: item of /f (y (size differs in b))"]);
    }

    #[test]
    fn attributes_and_xattrs_explain_by_name() {
        let f = || vec![b"/f".to_vec()];
        let differences = [
            Difference::attribute(f(), "rr.pn", Val::Unsigned(1), Val::Unsigned(2)),
            Difference::xattr(f(), b"user.x".to_vec(), None, Some(b"1".to_vec())),
        ];
        let ctx = Context::new(&Vec::new(), &differences, &[]);
        let at_f = [EntryPath::from(&b"/f"[..])];
        let at_g = [EntryPath::from(&b"/g"[..])];
        let verdict = |e: Explain, entries: &[EntryPath]| ctx.verdict(&e, entries);
        const PN: Key = Key::Attribute(crate::model::key::Attr::new("rr.pn"));
        const OTHER: Key = Key::Attribute(crate::model::key::Attr::new("rr.rr_flags"));
        assert_eq!(verdict(Explain::Entry(&[PN]), &at_f), Verdict::Explained);
        assert_eq!(verdict(Explain::Entry(&[PN]), &at_g), Verdict::Unexplained);
        assert_eq!(
            verdict(Explain::Entry(&[OTHER]), &at_f),
            Verdict::Unexplained
        );
        let named = Explain::EntryAttribute("rr.pn".into());
        assert_eq!(verdict(named, &at_f), Verdict::Explained);
        let x = |name: &'static [u8]| Explain::EntryXattr(name.into());
        assert_eq!(verdict(x(b"user.x"), &at_f), Verdict::Explained);
        assert_eq!(verdict(x(b"user.y"), &at_f), Verdict::Unexplained);
        assert_eq!(
            verdict(Explain::Entry(&[Key::Xattr]), &at_f),
            Verdict::Explained
        );
        assert_eq!(
            verdict(Explain::AnyEntry(&[Key::Xattr]), &at_g),
            Verdict::Explained
        );
        assert_eq!(verdict(Explain::AnyEntry(&[PN]), &at_g), Verdict::Explained);
        assert_eq!(
            verdict(Explain::Entry(&[Key::MTIME]), &at_f),
            Verdict::Unexplained
        );
    }

    #[test]
    fn parents_and_gone_entries() {
        assert_eq!(parent(b"/a/b"), Some(&b"/a"[..]));
        assert_eq!(parent(b"/a"), Some(&b"/"[..]));
        assert_eq!(parent(b"/"), None);
        assert_eq!(parent(b"system-area"), None);
        let d = Difference::one_sided(
            vec![b"/d".to_vec()],
            Which::A,
            Subject::Entry(crate::model::EntryKind::Dir),
            Some(1),
        );
        let ctx = Context::new(&Vec::new(), &[d], &[]);
        assert!(ctx.gone(&[EntryPath::from(&b"/d/e/f"[..])]));
        assert!(!ctx.gone(&[EntryPath::from(&b"/e"[..])]));
        assert!(ctx.has(b"/", &Key::Children));
    }
}
