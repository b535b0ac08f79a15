//! The merge walk of two trees.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use rayon::prelude::*;

use super::content;
use super::disasm;
use super::elf;
use super::meta;
use super::pe;
use super::pyc;
use super::Options;
use crate::accounting;
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Follows, Meta, NodeId};
use crate::report::{
    ByteAccounting, Change, Difference, EntryField, Kind, Location, Problem, Report, Side, Subject,
    Val, Which,
};

/// Collects differences and problems from all worker threads.
pub(crate) struct Differ<'o> {
    options: &'o Options,
    differences: Mutex<Vec<Difference>>,
    problems: Mutex<Vec<Problem>>,
    /// Oddities of the images read leniently (see [`Filesystem::warnings`]).
    warnings: Mutex<Vec<Problem>>,
    /// Files compared as nested images.
    nested: Mutex<Vec<NestedPair>>,
    /// Files whose content differs only in fields reported as attributes (a PE
    /// file's TimeDateStamp): no content difference is reported, but their
    /// bytes differ.
    said_by_fields: Mutex<Vec<Location>>,
    /// One record per image pair whose bytes were accounted.
    accounting: Mutex<Vec<ByteAccounting>>,
    /// Large raw blocks the walk found to be the same bytes, per image pair
    /// (by its location: the same whatever memory the images lie in).
    same_blocks: Mutex<HashMap<Location, accounting::SameBytes>>,
    /// Drops the pages of the images' maps from the resident set.
    release: Option<Release<'o>>,
    /// Bytes of content read since the last release.
    read_since_release: std::sync::atomic::AtomicU64,
}

/// A pair of files compared as images of their own.
struct NestedPair {
    location: Location,
    /// The memory each side's image was opened over, as addresses: where it is
    /// a slice of its parent's bytes, the parent's accounting leaves these bytes
    /// to the nested image's own.
    addresses: [std::ops::Range<usize>; 2],
}

/// The memory `bytes` occupies. A nested image gathered into a buffer of its
/// own never lies inside its parent's bytes, so only slices of the parent are
/// found there.
fn addresses(bytes: &[u8]) -> std::ops::Range<usize> {
    let start = bytes.as_ptr() as usize;
    start..start + bytes.len()
}

/// Where an entry pair sits: the container chain and the path inside.
#[derive(Clone, Copy)]
struct At<'p> {
    prefix: &'p Location,
    path: &'p [u8],
    nesting: u32,
}

impl<'p> At<'p> {
    fn location(&self) -> Location {
        let mut l = self.prefix.clone();
        l.push(self.path.to_vec());
        l
    }

    /// The location, made when first asked for.
    fn here(self) -> Here<'p> {
        Here {
            at: self,
            location: std::cell::OnceCell::new(),
        }
    }
}

/// Where an entry pair sits, its [`Location`] made on first use: making one
/// allocates, and most entries have nothing to report.
struct Here<'p> {
    at: At<'p>,
    location: std::cell::OnceCell<Location>,
}

impl Here<'_> {
    fn get(&self) -> &Location {
        self.location.get_or_init(|| self.at.location())
    }
}

fn child_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

impl<'o> Differ<'o> {
    pub(crate) fn new(options: &'o Options) -> Differ<'o> {
        Differ {
            options,
            differences: Mutex::new(Vec::new()),
            problems: Mutex::new(Vec::new()),
            warnings: Mutex::new(Vec::new()),
            nested: Mutex::new(Vec::new()),
            said_by_fields: Mutex::new(Vec::new()),
            accounting: Mutex::new(Vec::new()),
            same_blocks: Mutex::new(HashMap::new()),
            release: None,
            read_since_release: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Sets what drops the maps' pages from the resident set (see
    /// [`crate::MappedFile::release`]): those under a part of an image, or
    /// with `None` all of them.
    pub(crate) fn with_release(
        mut self,
        release: impl Fn(Option<&[u8]>) + Sync + 'o,
    ) -> Differ<'o> {
        self.release = Some(Box::new(release));
        self
    }

    /// Counts content read; every [`RELEASE_EVERY`] bytes, the maps' pages leave the
    /// resident set. The walk is parallel and in no particular order, so there is
    /// no "done" region to release; pages still in use simply fault back in from
    /// the page cache. This bounds the resident memory of comparing two images
    /// whatever their size.
    ///
    /// A read maps more than it reads: the kernel maps the pages around a
    /// faulting one (64 KiB by default, `fault_around_bytes`), so comparing a
    /// 3 KiB fragment tail on each side can map 256 KiB. Counting only the bytes
    /// read let a 3.5 GB pair of 300,000 small files hold 2.5 GB of mapped pages
    /// between two releases; each read counts what it may map.
    fn count_read(&self, bytes: u64) {
        use std::sync::atomic::Ordering;
        if self.release.is_none() || bytes == 0 {
            return;
        }
        let bytes = bytes + MAPPED_AROUND_READ;
        let before = self.read_since_release.fetch_add(bytes, Ordering::Relaxed);
        if before < RELEASE_EVERY && before + bytes >= RELEASE_EVERY {
            self.release_pages();
        }
    }

    /// Drops the maps' pages now: at the end of a phase that read the images,
    /// before one that allocates (the accounting's decoded tables), so that the
    /// two do not add up at the peak.
    fn release_pages(&self) {
        if let Some(release) = &self.release {
            release(None);
            self.read_since_release
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Drops the pages under `part` (of either map) now: a phase that reads
    /// the images in order is done with it.
    fn release_part(&self, part: &[u8]) {
        if let Some(release) = &self.release {
            release(Some(part));
        }
    }

    /// The sorted report.
    pub(crate) fn into_report(self, a: Side, b: Side) -> Report {
        let mut differences = self
            .differences
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        differences.sort_by(|x, y| {
            (&x.location, x.kind())
                .cmp(&(&y.location, y.kind()))
                .then_with(|| x.field().cmp(&y.field()))
        });
        let mut problems = self
            .problems
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        problems.sort_by(|x, y| {
            (&x.location, x.side, &x.message).cmp(&(&y.location, y.side, &y.message))
        });
        let mut accounting = self
            .accounting
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        accounting.sort_by(|x, y| x.location.cmp(&y.location));
        let mut warnings = self
            .warnings
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        warnings.sort_by(|x, y| {
            (&x.location, x.side, &x.message).cmp(&(&y.location, y.side, &y.message))
        });
        let mut report = Report::new(a, b, differences, problems);
        report.warnings = warnings;
        report.byte_accounting = accounting;
        crate::report::cause::assign(&mut report);
        report
    }

    fn emit(&self, mut found: Vec<Difference>) {
        if found.is_empty() {
            return;
        }
        if let Some(sink) = &self.options.sink {
            found.iter().for_each(|d| (sink.0)(d));
        }
        let mut d = self.differences.lock().unwrap_or_else(|e| e.into_inner());
        d.append(&mut found);
    }

    fn problem(&self, location: Location, side: Which, message: String) {
        let mut p = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        p.push(Problem {
            location,
            side,
            message,
        });
    }

    /// Compares two whole file systems found at `prefix`.
    pub(crate) fn filesystems(
        &self,
        a: &dyn Filesystem,
        b: &dyn Filesystem,
        prefix: &Location,
        nesting: u32,
    ) {
        for (fs, side) in [(a, Which::A), (b, Which::B)] {
            let said = fs.warnings().into_iter().map(|message| Problem {
                location: prefix.clone(),
                side,
                message,
            });
            self.warnings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(said);
        }
        let mut found = Vec::new();
        // A directory stands for the files an image was made from: it has no
        // format, facts or special parts of its own to set against the image's.
        let tree = is_tree(a) || is_tree(b);
        if a.format() != b.format() && !tree {
            found.push(Difference::image_fact(
                prefix.clone(),
                "format",
                Val::Format(a.format()),
                Val::Format(b.format()),
            ));
        }
        let none: &[Fact] = &[];
        let (facts_a, facts_b) = if tree {
            (none, none)
        } else {
            (a.facts(), b.facts())
        };
        meta::facts(
            facts_a,
            facts_b,
            self.options.layout,
            |_| false,
            |name, va, vb, fact| {
                let d = Difference::image_fact(prefix.clone(), name, va, vb);
                found.push(match fact {
                    Some(fact) => d.declared_by(fact),
                    None => d,
                });
            },
        );
        // Only a fact that declares what it follows can be a consequence: most
        // image pairs (a nested archive) have none, and skip the scan below.
        let may_follow = found.iter().any(|d| d.follows.is_some());
        self.emit(found);
        if !tree {
            self.specials(a, b, prefix, nesting);
        }
        let at = At {
            prefix,
            path: b"/",
            nesting,
        };
        let (ra, rb) = (a.root_meta(), b.root_meta());
        let mut found = Vec::new();
        let (ca, cb) = comparable(ra, rb, (a, b));
        meta::entries(|| at.location(), &ca, &cb, &mut found);
        self.emit(found);
        self.dirs(a, b, a.root(), b.root(), &ca, &cb, at);
        // Everything about this pair (nested images included) is reported now:
        // what only follows from the rest is said so, and what is left of its
        // differing bytes is attributed against it.
        if may_follow {
            self.consequences(a, b, prefix);
        }
        let same = self
            .same_blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(prefix)
            .unwrap_or_default();
        self.account(a, b, prefix, same);
    }

    /// The attribute differences of two lists of an entry's facts, each with
    /// the role and what it follows that its fact declares; `skip` leaves out
    /// facts that merely encode a difference said otherwise. `location` is
    /// made only when something differs.
    fn attributes(
        &self,
        a: &[Fact],
        b: &[Fact],
        location: impl Fn() -> Location,
        skip: impl Fn(&Fact) -> bool,
        found: &mut Vec<Difference>,
    ) {
        meta::facts(a, b, self.options.layout, skip, |name, va, vb, fact| {
            let d = Difference::attribute(location(), name, va, vb);
            found.push(match fact {
                Some(fact) => d.declared_by(fact),
                None => d,
            });
        });
    }

    /// Marks the image facts of the pair at `prefix` that only follow from
    /// other differences, as their readers declared ([`Follows`]): the image
    /// size when the two sizes differ, the entry count when entries were added
    /// or removed, a checksum when another fact of its group differs.
    fn consequences(&self, a: &dyn Filesystem, b: &dyn Filesystem, prefix: &Location) {
        let sizes_differ = match (a.raw_bytes(), b.raw_bytes()) {
            (Some(x), Some(y)) => x.len() != y.len(),
            _ => false,
        };
        let mut all = self.differences.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries_differ = false;
        let mut groups: HashSet<String> = HashSet::new();
        for d in all.iter() {
            if d.kind().is_image_level() {
                if d.location == *prefix && d.follows != Some(Follows::Group) {
                    if let Some(name) = d.field() {
                        groups.insert(fact_group(&name).to_owned());
                    }
                }
            } else if d.location.len() == prefix.len() + 1
                && d.location.starts_with(prefix)
                && matches!(d.change, Change::OneSided { .. })
            {
                entries_differ = true;
            }
        }
        for d in all.iter_mut().filter(|d| d.location == *prefix) {
            d.consequence |= match d.follows {
                Some(Follows::ImageSize) => sizes_differ,
                Some(Follows::EntryCount) => entries_differ,
                Some(Follows::Group) => d
                    .field()
                    .is_some_and(|name| groups.contains(fact_group(&name))),
                _ => false,
            };
        }
    }

    /// Byte accounting of two images: for the same size, attributes every
    /// differing byte (see [`crate::accounting`]); for different sizes, compares
    /// where their main structures are.
    fn account(
        &self,
        a: &dyn Filesystem,
        b: &dyn Filesystem,
        prefix: &Location,
        same: accounting::SameBytes,
    ) {
        if a.format() != b.format() {
            return;
        }
        let (Some(ra), Some(rb)) = (a.raw_bytes(), b.raw_bytes()) else {
            return;
        };
        if ra.len() != rb.len() {
            let found = accounting::layout_differences(prefix, &a.placements(), &b.placements());
            self.emit(found);
            return;
        }
        if std::ptr::eq(ra, rb) {
            return;
        }
        let (nested, skip) = self.nested_in(prefix, ra, rb);
        let read = |bytes| self.count_read(bytes);
        let handed_down: u64 = skip.iter().map(|r| r.end - r.start).sum();
        let mut ctx = {
            let d = self.differences.lock().unwrap_or_else(|e| e.into_inner());
            accounting::Context::new(prefix, &d, &nested)
        };
        for l in self
            .said_by_fields
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|l| l.len() == prefix.len() + 1 && l.starts_with(prefix))
        {
            ctx.content_said_by_fields(l.last().cloned().unwrap_or_default());
        }
        // Blocks the walk proved equal where they lie in both images (all of a
        // rebuild's data but what changed) are not compared again here.
        let mut unread = skip.clone();
        unread.extend(same.in_place());
        let unread = merge_ranges(unread);
        ctx.same = same;
        let layout = |fs: &dyn Filesystem, side: Which| {
            let mut l = fs.byte_layout().unwrap_or_else(|e| {
                self.problem(
                    prefix.clone(),
                    side,
                    format!("byte accounting: structures not all known: {e}"),
                );
                accounting::Layout::new()
            });
            l.finish();
            l
        };
        let runs = || accounting::differing_runs_outside(ra, rb, &unread, &read);
        let layouts = || rayon::join(|| layout(a, Which::A), || layout(b, Which::B));
        // When something is known to differ, some bytes do: the layouts are
        // built while the bytes are compared. Else only if they are found to.
        let ((runs, tally), (la, lb)) = if handed_down > 0 || !ctx.is_empty() {
            rayon::join(runs, layouts)
        } else {
            let runs = runs();
            if runs.0.is_empty() {
                return;
            }
            (runs, layouts())
        };
        if runs.is_empty() && handed_down == 0 {
            return;
        }
        self.release_pages();
        let passed = |part: &[u8]| self.release_part(part);
        let mut out = accounting::attribute(
            (ra, rb),
            (&la, &lb),
            (&runs, &tally),
            &ctx,
            prefix,
            (&read, &passed),
        );
        out.record.nested_bytes = handed_down;
        self.emit(out.differences);
        self.accounting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(out.record);
    }

    /// The paths of the images nested directly in the pair at `prefix` (images
    /// `ra` and `rb`), and the offsets where both sides hold one of them: the
    /// nested images' own accounting reads those bytes, so the pair's does not
    /// (sorted, merged).
    fn nested_in(
        &self,
        prefix: &Location,
        ra: &[u8],
        rb: &[u8],
    ) -> (Vec<Vec<u8>>, Vec<std::ops::Range<u64>>) {
        let nested = self.nested.lock().unwrap_or_else(|e| e.into_inner());
        let mut paths = Vec::new();
        let mut skip = Vec::new();
        let offsets = |image: &[u8], r: &std::ops::Range<usize>| {
            let base = image.as_ptr() as usize;
            let start = r.start.checked_sub(base)?;
            let end = r.end.checked_sub(base).filter(|&e| e <= image.len())?;
            Some(start as u64..end as u64)
        };
        for n in nested.iter() {
            let l = &n.location;
            if l.len() != prefix.len() + 1 || !l.starts_with(prefix) {
                continue;
            }
            paths.extend(l.last().cloned());
            let (a, b) = (offsets(ra, &n.addresses[0]), offsets(rb, &n.addresses[1]));
            if let (Some(a), Some(b)) = (a, b) {
                let both = a.start.max(b.start)..a.end.min(b.end);
                if !both.is_empty() {
                    skip.push(both);
                }
            }
        }
        (paths, merge_ranges(skip))
    }

    /// Compares the children of two directories, then recurses in parallel.
    #[allow(clippy::too_many_arguments)]
    fn dirs(
        &self,
        fa: &dyn Filesystem,
        fb: &dyn Filesystem,
        na: NodeId,
        nb: NodeId,
        ma: &Meta,
        mb: &Meta,
        at: At<'_>,
    ) {
        let (la, lb) = (fa.children(na), fb.children(nb));
        let (la, lb) = match (la, lb) {
            (Ok(la), Ok(lb)) => (la, lb),
            (la, lb) => {
                for (side, r) in [(Which::A, la.err()), (Which::B, lb.err())] {
                    if let Some(e) = r {
                        self.problem(at.location(), side, e.to_string());
                    }
                }
                return;
            }
        };
        for (side, errors) in [(Which::A, &la.errors), (Which::B, &lb.errors)] {
            for e in errors {
                self.problem(at.location(), side, e.to_string());
            }
        }
        // A directory's link count follows from its subdirectories: compare it only
        // when those are the same in number, else it is noise.
        let subdirs = |es: &[Entry]| es.iter().filter(|e| e.meta.kind == EntryKind::Dir).count();
        if ma.nlink != mb.nlink && subdirs(&la.entries) == subdirs(&lb.entries) {
            self.emit(vec![Difference::entry(
                at.location(),
                EntryField::Nlink,
                Val::unsigned(ma.nlink),
                Val::unsigned(mb.nlink),
            )]);
        }
        let pairs = merge(la.entries, lb.entries);
        pairs.par_iter().for_each(|(ea, eb)| {
            let name = ea
                .as_ref()
                .or(eb.as_ref())
                .map(|e| e.name.as_slice())
                .unwrap_or_default();
            let path = child_path(at.path, name);
            let child = At { path: &path, ..at };
            match (ea, eb) {
                (Some(ea), Some(eb)) => self.entries(fa, fb, ea, eb, child),
                (Some(ea), None) => self.one_sided(fa, ea, child, Which::A),
                (None, Some(eb)) => self.one_sided(fb, eb, child, Which::B),
                (None, None) => {}
            }
        });
    }

    /// Reports an entry only `side` has.
    fn one_sided(&self, fs: &dyn Filesystem, e: &Entry, at: At<'_>, side: Which) {
        let count = 1 + if e.meta.kind == EntryKind::Dir {
            count_below(fs, e.node, self.options.limits.max_entries)
        } else {
            0
        };
        let subject = Subject::Entry(e.meta.kind);
        let d = Difference::one_sided(at.location(), side, subject, Some(count));
        self.emit(vec![d]);
    }

    fn entries(
        &self,
        fa: &dyn Filesystem,
        fb: &dyn Filesystem,
        ea: &Entry,
        eb: &Entry,
        at: At<'_>,
    ) {
        if let Some(p) = &self.options.progress {
            p.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let here = at.here();
        if ea.meta.kind != eb.meta.kind {
            self.emit(vec![Difference::entry(
                here.get().clone(),
                EntryField::Type,
                Val::Kind(ea.meta.kind),
                Val::Kind(eb.meta.kind),
            )]);
            return;
        }
        let mut found = Vec::new();
        let tree = is_tree(fa) || is_tree(fb);
        let (ca, cb) = comparable(&ea.meta, &eb.meta, (fa, fb));
        meta::entries(|| here.get().clone(), &ca, &cb, &mut found);
        // Fields that merely encode a difference reported above (a directory
        // record's date, the mtime) are left out, as their readers declare.
        // A directory's entries have no format-specific fields: the image's
        // are not compared against nothing.
        let encodes_a_difference = |f: &Fact| match f.follows {
            Some(Follows::Entry(field)) => field.differs(&ea.meta, &eb.meta),
            Some(Follows::Fields { fields, xattrs }) => {
                fields.iter().any(|f| f.differs(&ea.meta, &eb.meta))
                    || (xattrs && ea.meta.xattrs != eb.meta.xattrs)
            }
            _ => false,
        };
        let none: &[Fact] = &[];
        let (attrs_a, attrs_b) = if tree {
            (none, none)
        } else {
            (&ea.attrs[..], &eb.attrs[..])
        };
        self.attributes(
            attrs_a,
            attrs_b,
            || here.get().clone(),
            encodes_a_difference,
            &mut found,
        );
        match ea.meta.kind {
            EntryKind::Dir => {
                self.emit(found);
                self.dirs(fa, fb, ea.node, eb.node, &ca, &cb, at);
            }
            EntryKind::File => {
                let nested = self.files(fa, fb, ea, eb, &here, &mut found);
                if nested {
                    // The inside is reported; the container's own size is noise.
                    found.retain(|d| d.kind() != Kind::Size);
                }
                // Known only now that the content is compared.
                if nested || found.iter().any(|d| d.kind() == Kind::Content) {
                    found.retain(|d| d.follows != Some(Follows::Content));
                }
                self.emit(found);
            }
            _ => self.emit(found),
        }
    }

    /// Compares two files' content. Returns true when both were images and their
    /// inside was compared instead.
    #[allow(clippy::too_many_arguments)]
    fn files(
        &self,
        fa: &dyn Filesystem,
        fb: &dyn Filesystem,
        ea: &Entry,
        eb: &Entry,
        here: &Here<'_>,
        found: &mut Vec<Difference>,
    ) -> bool {
        let (ca, cb) = match (fa.content(ea.node), fb.content(eb.node)) {
            (Ok(ca), Ok(cb)) => (ca, cb),
            (ra, rb) => {
                for (side, r) in [(Which::A, ra.err()), (Which::B, rb.err())] {
                    if let Some(e) = r {
                        self.problem(here.get().clone(), side, content::unreadable(e));
                    }
                }
                return false;
            }
        };
        if matches!(ca, Content::Digest { .. }) || matches!(cb, Content::Digest { .. }) {
            // Digests that differ, of a file that a manifest describes as a
            // nested image: the inside is compared as far as the manifest
            // states it. The digests' difference stays: it is all a manifest
            // knows of what it does not state (the image's own fields).
            return self.digests(&ca, &cb, here, found)
                && self.described((fa, ea, &ca), (fb, eb, &cb), here);
        }
        // The boot info table (bytes 8 to 63 of a boot image) is patched in by the
        // ISO writer and holds block addresses; its fields are compared as
        // attributes, so the bytes are left out here.
        let has_table = |e: &Entry| e.attrs.iter().any(|a| a.name == "boot_info_table.checksum");
        let mask = if has_table(ea) && has_table(eb) {
            std::iter::once(8..64).collect()
        } else {
            Vec::new()
        };
        let nested = self.contents(&ca, &cb, here, mask, found);
        let bytes = raw_len(&ca) + raw_len(&cb);
        self.count_read(bytes);
        // An image compared inside counted its files already.
        if let (Some(p), false) = (&self.options.progress_bytes, nested) {
            p.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        }
        nested
    }

    /// Compares two contents of which one (or both) is only a digest (a
    /// manifest's): the digests say equal or not, and nothing more. Returns
    /// true when they differ.
    fn digests(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        here: &Here<'_>,
        found: &mut Vec<Difference>,
    ) -> bool {
        let digest = |c: &Content<'_>| match c {
            Content::Digest { sha256, .. } => Ok(*sha256),
            other => content::sha256(other),
        };
        let (da, db) = match (digest(ca), digest(cb)) {
            (Ok(a), Ok(b)) => (a, b),
            (ra, rb) => {
                for (side, r) in [(Which::A, ra.err()), (Which::B, rb.err())] {
                    if let Some(e) = r {
                        self.problem(here.get().clone(), side, content::unreadable(e));
                    }
                }
                return false;
            }
        };
        if da == db {
            return false;
        }
        let mut c = content::digest_change(ca.len(), cb.len());
        c.sha256_a = da;
        c.sha256_b = db;
        found.push(Difference::content(here.get().clone(), c));
        true
    }

    /// Compares the images two files hold when one side only describes its
    /// image (a manifest's section, [`Filesystem::described_image`]) and the
    /// other describes or holds one. Returns true when the insides were
    /// compared.
    fn described(
        &self,
        (fa, ea, ca): (&dyn Filesystem, &Entry, &Content<'_>),
        (fb, eb, cb): (&dyn Filesystem, &Entry, &Content<'_>),
        here: &Here<'_>,
    ) -> bool {
        let nesting = here.at.nesting;
        if nesting >= self.options.max_nesting {
            return false;
        }
        let (limits, max) = (&self.options.limits, self.options.max_buffer_bytes);
        let (da, db) = (fa.described_image(ea.node), fb.described_image(eb.node));
        if da.is_none() && db.is_none() {
            return false;
        }
        let location = here.get();
        match (inside(da, ca, limits, max), inside(db, cb, limits, max)) {
            (Some(Ok(a)), Some(Ok(b))) => {
                self.filesystems(a.as_ref(), b.as_ref(), location, nesting + 1);
                true
            }
            (ra, rb) => {
                for (side, r) in [(Which::A, ra), (Which::B, rb)] {
                    if let Some(Err(e)) = r {
                        self.problem(
                            location.clone(),
                            side,
                            format!("nested image not opened: {e}"),
                        );
                    }
                }
                false
            }
        }
    }

    /// Compares two contents: equal, nested images, or where they differ.
    /// Returns true when both were images and their inside was compared instead.
    fn contents(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        here: &Here<'_>,
        mut mask: Vec<std::ops::Range<u64>>,
        found: &mut Vec<Difference>,
    ) -> bool {
        let mut learned = Learned {
            differ: self,
            prefix: here.at.prefix,
            same: accounting::SameBytes::default(),
        };
        let equal = content::equal(ca, cb, &mask, &mut learned);
        let same = learned.same;
        if !same.is_empty() {
            let mut known = self.same_blocks.lock().unwrap_or_else(|e| e.into_inner());
            known
                .entry(here.at.prefix.clone())
                .or_default()
                .extend(same);
        }
        match equal {
            Ok(true) => return false,
            Ok(false) => {}
            Err(e) => {
                let location = here.get();
                self.problem(location.clone(), Which::A, content::unreadable(e));
                return false;
            }
        }
        let (location, nesting) = (here.get(), here.at.nesting);
        if nesting < self.options.max_nesting && self.nested(ca, cb, location, nesting) {
            return true;
        }
        if let Some(nested) = self.compressed(ca, cb, here, found) {
            return nested;
        }
        // Two PE files or two `.pyc` files: their header fields (and a PE's
        // sections) are compared as attributes, and the fields that say when
        // and which build are left out of the content (see `pe`, `pyc`):
        // content that differs only there is no content difference.
        let read = match self.pe(ca, cb, location, found) {
            Some((pe, m)) => Some((Some(pe), m)),
            None => self.pyc(ca, cb, location, found).map(|m| (None, m)),
        };
        // Two unified kernel images: their sections are compared as the
        // entries of an image (the initrd opened as one in turn), and the
        // bytes around them here.
        if let Some((Some(pe), read_mask)) = &read {
            if let Some(sections) = self.uki(ca, cb, location, here.at.nesting) {
                self.around_sections(ca, cb, pe, read_mask, sections, location, found);
                return true;
            }
        }
        let pe = match read {
            Some((pe, read_mask)) if mask.is_empty() => {
                mask = read_mask;
                match content::equal(ca, cb, &mask, &mut |_, _, _| {}) {
                    Ok(true) => {
                        self.said_by_fields
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(location.clone());
                        return false;
                    }
                    Ok(false) => pe,
                    Err(e) => {
                        self.problem(location.clone(), Which::A, content::unreadable(e));
                        return false;
                    }
                }
            }
            Some((pe, _)) => pe,
            None => None,
        };
        // The windows of the differing regions serve the hexdump and the
        // disassembly, each taking as many as it shows.
        let regions = (self.options.hexdump_regions).max(self.options.disassembly_regions);
        match content::compare(ca, cb, &mask, regions) {
            Ok((mut c, windows)) => {
                let elf = match c.first_offset {
                    Some(first) => self.elf_place(ca, cb, first, location, &mut c, found),
                    None => false,
                };
                let elf = elf || pe.is_some();
                // An executable's bytes, once, to name a PE's symbol and to
                // disassemble.
                let code = elf.then(|| {
                    const MAX_CODE: u64 = 256 << 20;
                    let read = |c| content::contiguous(c, MAX_CODE).ok();
                    read(ca).zip(read(cb))
                });
                let code = code.flatten();
                if let (Some(pe), Some(first)) = (&pe, c.first_offset) {
                    c.pe = pe.place(first);
                    if let (Some(place), Some((ba, _))) = (&mut c.pe, &code) {
                        place.symbol = disasm::symbol_at(ba, first);
                    }
                }
                let max = self.options.max_text_diff_bytes;
                // An ELF file is not text: no need to gather (decompress) it again.
                if !elf && ca.len() <= max && cb.len() <= max {
                    if let (Ok(ba), Ok(bb)) =
                        (content::contiguous(ca, max), content::contiguous(cb, max))
                    {
                        c.text_diff = content::text_diff(&ba, &bb, self.options);
                    }
                }
                // Text keeps its unified diff; binary content shows its bytes.
                let hex = self.options.hexdump_regions;
                if c.text_diff.is_none() && !windows.shown.is_empty() && hex > 0 {
                    let max = self.options.max_hexdump_bytes;
                    match content::hexdump(ca, cb, &windows, hex, max) {
                        Ok(h) => c.hexdump = Some(h),
                        Err(e) => self.problem(location.clone(), Which::A, content::unreadable(e)),
                    }
                }
                // An executable's code shows its instructions too.
                let max = self.options.disassembly_regions;
                if let (Some((ba, bb)), true) = (&code, max > 0) {
                    c.disassembly = disasm::disassemble(ba, bb, &windows.runs, max, windows.more);
                }
                found.push(Difference::content(location.clone(), c));
            }
            Err(e) => self.problem(location.clone(), Which::A, content::unreadable(e)),
        }
        false
    }

    /// For ELF files: finds the section and symbol of the first differing byte,
    /// and reports differing build ids as their own field. Returns whether both
    /// sides are ELF files.
    fn elf_place(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        first: u64,
        location: &Location,
        c: &mut crate::report::ContentChange,
        found: &mut Vec<Difference>,
    ) -> bool {
        const MAX_ELF: u64 = 256 << 20;
        let is_elf = |c: &Content<'_>| content::head(c, 4).is_ok_and(|h| h.as_ref() == b"\x7fELF");
        if !is_elf(ca) || !is_elf(cb) {
            return false;
        }
        let (Ok(ba), Ok(bb)) = (
            content::contiguous(ca, MAX_ELF),
            content::contiguous(cb, MAX_ELF),
        ) else {
            return true;
        };
        c.elf = elf::place(&ba, first);
        let (ia, ib) = (elf::build_id(&ba), elf::build_id(&bb));
        if ia != ib {
            let id = |id: Option<Vec<u8>>| id.map_or(Val::Absent, Val::Bytes);
            found.push(Difference::attribute(
                location.clone(),
                "elf.build_id",
                id(ia),
                id(ib),
            ));
        }
        true
    }

    /// For two files compressed alike (gzip, xz, zstd, bzip2, lz4; a gzip'd
    /// man page or changelog, a `.ko.xz`): compares the compressor's header
    /// fields as attributes (`gzip.mtime`, `gzip.os`, `gzip.name`, `gzip.xfl`)
    /// and the decompressed contents as contents, so that a header time and a
    /// changed text are told apart. Compressed images were tried before
    /// ([`Differ::nested`]). `None` when the files are not both compressed, or
    /// not both decompressed within the budget (then the compressed bytes are
    /// compared, and a problem says why); else whether the decompressed
    /// contents were images compared as such.
    fn compressed(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        here: &Here<'_>,
        found: &mut Vec<Difference>,
    ) -> Option<bool> {
        use crate::formats::compress::{self, Compression, Sink};
        use crate::model::Fact;
        let at = here.at;
        if at.nesting >= self.options.max_nesting {
            return None;
        }
        let kind = |c: &Content<'_>| Compression::detect(&content::head(c, 16).ok()?);
        let (x, y) = (kind(ca)?, kind(cb)?);
        // lzma-alone has no magic, only plausible first bytes: too weak a sign
        // for a file that is not an image.
        if x != y || x == Compression::Lzma {
            return None;
        }
        let max = (self.options.limits.max_decompressed_bytes).min(self.options.max_buffer_bytes);
        let location = here.get();
        let unpack = |c: &Content<'_>| -> crate::Result<(Vec<u8>, Vec<Fact>)> {
            let raw = content::contiguous(c, max)?;
            let mut sink = Sink::new(0, max);
            let stream = compress::decompress(x, &raw, 0, &mut sink)?;
            let mut facts: Vec<Fact> = stream
                .facts
                .into_iter()
                .map(|(name, v)| match v {
                    // A time the compressor stamped (gzip's MTIME) is a time.
                    crate::model::Value::Time(_) => Fact::time(name, v),
                    _ => Fact::new(name, v),
                })
                .collect();
            if x == Compression::Gzip {
                // XFL: what the compressor says of its level (2 best, 4 fastest).
                let xfl = raw.get(8).copied().unwrap_or(0);
                facts.push(Fact::new("gzip.xfl", crate::model::Value::Int(xfl.into())));
            }
            Ok((sink.out, facts))
        };
        let (ua, ub) = rayon::join(|| unpack(ca), || unpack(cb));
        let ((da, fa), (db, fb)) = match (ua, ub) {
            (Ok(a), Ok(b)) => (a, b),
            (ra, rb) => {
                for (side, r) in [(Which::A, ra.err()), (Which::B, rb.err())] {
                    if let Some(e) = r {
                        self.problem(
                            location.clone(),
                            side,
                            format!("{} content not decompressed: {e}", x.name()),
                        );
                    }
                }
                return None;
            }
        };
        let before = found.len();
        self.attributes(&fa, &fb, || location.clone(), |_| false, found);
        let header_differs = found.len() > before;
        let (sa, sb) = (
            Content::Slices(vec![&da[..]]),
            Content::Slices(vec![&db[..]]),
        );
        let inner = At {
            nesting: at.nesting + 1,
            ..at
        }
        .here();
        let before = found.len();
        let nested = self.contents(&sa, &sb, &inner, Vec::new(), found);
        let content_differs = found[before..]
            .iter()
            .any(|d| matches!(d.change, crate::report::Change::Content(_)));
        for d in &mut found[before..] {
            if let crate::report::Change::Content(c) = &mut d.change {
                c.decompressed = Some(x.name());
            }
        }
        if !nested && !content_differs {
            // The compressed bytes differ, the decompressed ones do not: the
            // header fields say why, or else the compressor's settings did.
            if !header_differs {
                if let (Ok(a), Ok(b)) = (content::sha256(ca), content::sha256(cb)) {
                    found.push(Difference::attribute(
                        location.clone(),
                        format!("{}.compressed", x.name()),
                        Val::Sha256(a),
                        Val::Sha256(b),
                    ));
                }
            }
            self.said_by_fields
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(location.clone());
        }
        Some(nested)
    }

    /// The bytes of two unified kernel images outside their sections (DOS
    /// stub, headers, section table, the padding of each section's raw data):
    /// the sections were compared as entries and the header fields read as
    /// attributes, and whatever else differs is a content difference of the
    /// file, with those bytes left out; so no differing byte of a UKI goes
    /// unsaid.
    #[allow(clippy::too_many_arguments)]
    fn around_sections(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        pe: &pe::PeInfo,
        read_mask: &[std::ops::Range<u64>],
        sections: Vec<std::ops::Range<u64>>,
        location: &Location,
        found: &mut Vec<Difference>,
    ) {
        let mut mask: Vec<std::ops::Range<u64>> =
            read_mask.iter().cloned().chain(sections).collect();
        mask.sort_by_key(|r| r.start);
        // Sorted and apart, as the comparison wants them.
        let mut apart: Vec<std::ops::Range<u64>> = Vec::with_capacity(mask.len());
        for r in mask {
            match apart.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => apart.push(r),
            }
        }
        let regions = self.options.hexdump_regions;
        match content::compare(ca, cb, &apart, regions) {
            Ok((c, _)) if c.first_offset.is_none() && c.len_a == c.len_b => {}
            Ok((mut c, windows)) => {
                c.pe = c.first_offset.and_then(|first| pe.place(first));
                if !windows.shown.is_empty() && regions > 0 {
                    let max = self.options.max_hexdump_bytes;
                    match content::hexdump(ca, cb, &windows, regions, max) {
                        Ok(h) => c.hexdump = Some(h),
                        Err(e) => self.problem(location.clone(), Which::A, content::unreadable(e)),
                    }
                }
                found.push(Difference::content(location.clone(), c));
            }
            Err(e) => self.problem(location.clone(), Which::A, content::unreadable(e)),
        }
    }

    /// When both contents are unified kernel images (PE files with a `.linux`
    /// section), compares their sections as the entries of an image, located
    /// as `file:/.initrd`. Returns the file ranges of both sides' sections
    /// when it did.
    fn uki(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        location: &Location,
        nesting: u32,
    ) -> Option<Vec<std::ops::Range<u64>>> {
        use crate::formats::pe::UkiFs;
        const MAX_UKI: u64 = 1 << 30;
        if nesting >= self.options.max_nesting {
            return None;
        }
        let max = MAX_UKI.min(self.options.max_buffer_bytes);
        let (Ok(ba), Ok(bb)) = (content::contiguous(ca, max), content::contiguous(cb, max)) else {
            return None;
        };
        if !UkiFs::is_uki(&ba) || !UkiFs::is_uki(&bb) {
            return None;
        }
        let (Ok(fa), Ok(fb)) = (UkiFs::open(&ba), UkiFs::open(&bb)) else {
            return None;
        };
        // Where a UKI is a slice of its parent's bytes, the parent's byte
        // accounting leaves them to it, as for any nested image.
        let at = |b: &std::borrow::Cow<'_, [u8]>| match b {
            std::borrow::Cow::Borrowed(b) => addresses(b),
            std::borrow::Cow::Owned(_) => 0..0,
        };
        self.nested
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(NestedPair {
                location: location.clone(),
                addresses: [at(&ba), at(&bb)],
            });
        self.filesystems(&fa, &fb, location, nesting + 1);
        Some(fa.section_ranges().chain(fb.section_ranges()).collect())
    }

    /// For two Python bytecode files: reports their differing header fields as
    /// attributes and returns the header's bytes, left out of the content
    /// comparison. `None` unless both are.
    fn pyc(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        location: &Location,
        found: &mut Vec<Difference>,
    ) -> Option<Vec<std::ops::Range<u64>>> {
        let (ha, hb) = (content::head(ca, 16).ok()?, content::head(cb, 16).ok()?);
        let ((fa, ma), (fb, mb)) = (pyc::read(&ha)?, pyc::read(&hb)?);
        self.attributes(&fa, &fb, || location.clone(), |_| false, found);
        Some(if ma == mb { vec![ma] } else { Vec::new() })
    }

    /// For two PE files: reports their differing header and section fields as
    /// attributes, and returns the first side's reading (to place a byte) and
    /// the fields both leave out of the content comparison. `None` when either
    /// side is not a PE file.
    fn pe(
        &self,
        ca: &Content<'_>,
        cb: &Content<'_>,
        location: &Location,
        found: &mut Vec<Difference>,
    ) -> Option<(pe::PeInfo, Vec<std::ops::Range<u64>>)> {
        const MAX_PE: u64 = 256 << 20;
        let is_mz = |c: &Content<'_>| content::head(c, 2).is_ok_and(|h| h.as_ref() == b"MZ");
        if !is_mz(ca) || !is_mz(cb) {
            return None;
        }
        let (ba, bb) = (
            content::contiguous(ca, MAX_PE).ok()?,
            content::contiguous(cb, MAX_PE).ok()?,
        );
        let (pa, pb) = (pe::read(&ba)?, pe::read(&bb)?);
        self.attributes(&pa.facts, &pb.facts, || location.clone(), |_| false, found);
        let mask = pe::common_mask(&pa.mask, &pb.mask);
        Some((pa, mask))
    }

    /// Compares the parts of two images that no directory lists (system area,
    /// hidden boot images), paired by name.
    fn specials(&self, a: &dyn Filesystem, b: &dyn Filesystem, prefix: &Location, nesting: u32) {
        let (sa, sb) = (a.specials(), b.specials());
        let mut found = Vec::new();
        for x in &sa {
            let here = At {
                prefix,
                path: x.name.as_bytes(),
                nesting,
            }
            .here();
            match sb.iter().find(|y| y.name == x.name) {
                Some(y) => {
                    self.contents(&x.content, &y.content, &here, Vec::new(), &mut found);
                }
                None => found.push(Difference::one_sided(
                    here.get().clone(),
                    Which::A,
                    Subject::BootImage,
                    None,
                )),
            }
        }
        for y in sb.iter().filter(|y| !sa.iter().any(|x| x.name == y.name)) {
            let mut location = prefix.clone();
            location.push(y.name.clone().into_bytes());
            found.push(Difference::one_sided(
                location,
                Which::B,
                Subject::BootImage,
                None,
            ));
        }
        self.emit(found);
    }

    /// When both contents are images of a known format, compares them as such.
    fn nested(
        &self,
        ca: &crate::model::Content<'_>,
        cb: &crate::model::Content<'_>,
        location: &Location,
        nesting: u32,
    ) -> bool {
        use crate::formats::open::{image_format, open_nested};
        if image_format(ca).is_none() || image_format(cb).is_none() {
            return false;
        }
        let (limits, max) = (&self.options.limits, self.options.max_buffer_bytes);
        // Opening reads a squashfs's whole inode and directory tables: both at once.
        let opened = rayon::join(
            || open_nested(ca, limits, max),
            || open_nested(cb, limits, max),
        );
        match opened {
            (Ok(na), Ok(nb)) => {
                let addresses = |source: Option<&[u8]>| source.map_or(0..0, addresses);
                self.nested
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(NestedPair {
                        location: location.clone(),
                        addresses: [addresses(na.source), addresses(nb.source)],
                    });
                self.filesystems(na.fs.as_ref(), nb.fs.as_ref(), location, nesting + 1);
                true
            }
            (ra, rb) => {
                for (side, r) in [(Which::A, ra.err()), (Which::B, rb.err())] {
                    if let Some(e) = r {
                        self.problem(
                            location.clone(),
                            side,
                            format!("nested image not opened: {e}"),
                        );
                    }
                }
                false
            }
        }
    }
}

/// The image a file holds: as its reader describes it (`described`, a
/// manifest's section), else opened from its bytes when they are an image;
/// `None` when it holds none that can be had.
fn inside<'c>(
    described: Option<Box<dyn Filesystem + 'c>>,
    content: &'c Content<'_>,
    limits: &crate::Limits,
    max_buffer: u64,
) -> Option<Result<Box<dyn Filesystem + 'c>, crate::Error>> {
    use crate::formats::open::{image_format, open_nested};
    if let Some(d) = described {
        return Some(Ok(d));
    }
    if matches!(content, Content::Digest { .. }) {
        return None;
    }
    image_format(content)?;
    Some(open_nested(content, limits, max_buffer).map(|n| n.fs))
}

/// The metadata of two entries to compare. Against a directory or a
/// manifest (`tree`), without the access and change times, which neither
/// gives (reading a file may change its atime, and no tool sets a ctime; see
/// `formats::dir`). Against a manifest, also without the fields its line does
/// not state (bsdtar writes `nlink` only above 1; no manifest has xattrs):
/// what both state is compared, nothing is compared against nothing.
fn comparable<'m>(
    a: &'m Meta,
    b: &'m Meta,
    fs: (&dyn Filesystem, &dyn Filesystem),
) -> (std::borrow::Cow<'m, Meta>, std::borrow::Cow<'m, Meta>) {
    use std::borrow::Cow;
    let manifest = |f: &dyn Filesystem| f.format() == crate::model::Format::Manifest;
    let (ma, mb) = (manifest(fs.0), manifest(fs.1));
    if !is_tree(fs.0) && !is_tree(fs.1) {
        return (Cow::Borrowed(a), Cow::Borrowed(b));
    }
    let (mut a, mut b) = (a.clone(), b.clone());
    for m in [&mut a, &mut b] {
        m.atime = None;
        m.ctime = None;
    }
    // What a manifest's side leaves unstated, the other side's is not
    // compared against.
    fn unstated(m: &Meta, o: &mut Meta) {
        if m.mode.is_none() {
            o.mode = None;
        }
        if m.uid.is_none() {
            o.uid = None;
        }
        if m.gid.is_none() {
            o.gid = None;
        }
        if m.mtime.is_none() {
            o.mtime = None;
        }
        if m.nlink.is_none() {
            o.nlink = None;
        }
        if m.rdev.is_none() {
            o.rdev = None;
        }
        o.xattrs.clear();
    }
    if ma {
        unstated(&a.clone(), &mut b);
    }
    if mb {
        unstated(&b.clone(), &mut a);
    }
    (Cow::Owned(a), Cow::Owned(b))
}

/// True for a directory of the machine or a manifest of a tree (see
/// [`crate::model::Format::Directory`]): neither has image facts or entry
/// attributes.
fn is_tree(fs: &dyn Filesystem) -> bool {
    use crate::model::Format;
    matches!(fs.format(), Format::Directory | Format::Manifest)
}

/// Bytes of the image a content occupies (compressed blocks as stored).
fn raw_len(c: &Content<'_>) -> u64 {
    match c {
        Content::Blocks(b) => b.blocks.iter().map(|x| x.raw.len() as u64).sum(),
        other => other.len(),
    }
}

/// The raw bytes a comparison of two contents finds the same, and those the
/// comparisons before it found (in the images at `prefix`).
struct Learned<'d, 'o> {
    differ: &'d Differ<'o>,
    prefix: &'d Location,
    same: accounting::SameBytes,
}

impl content::SameRaw for Learned<'_, '_> {
    fn add(&mut self, x: u64, y: u64, len: u64) {
        self.same.add(x, y, len);
        // Counted as they are compared, not only after: a large file's blocks
        // would otherwise all stay mapped until its end.
        self.differ.count_read(2 * len);
    }

    fn known(&self, x: u64, y: u64, len: u64) -> bool {
        // Shorter blocks are never recorded: no lock taken for them.
        if len < accounting::SameBytes::WORTH {
            return false;
        }
        self.same.has(x, y, len)
            || self
                .differ
                .same_blocks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(self.prefix)
                .is_some_and(|s| s.has(x, y, len))
    }
}

/// `ranges` sorted, those that overlap or touch made one.
fn merge_ranges(mut ranges: Vec<std::ops::Range<u64>>) -> Vec<std::ops::Range<u64>> {
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<std::ops::Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// What drops the maps' pages from the resident set: those under a part of an
/// image, or with `None` all of them.
type Release<'o> = Box<dyn Fn(Option<&[u8]>) + Sync + 'o>;

/// How much content is read between two releases of the maps' pages.
const RELEASE_EVERY: u64 = 32 << 20;

/// The most a read maps beyond its bytes: on each of the two images, the
/// kernel's fault-around window (64 KiB) before its start and after its end.
const MAPPED_AROUND_READ: u64 = 4 * (64 << 10);

/// Pairs two name-sorted lists of entries by name. Duplicate names (a damaged or
/// hostile image) pair up in order.
fn merge(a: Vec<Entry>, b: Vec<Entry>) -> Vec<(Option<Entry>, Option<Entry>)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut ia, mut ib) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (Some(x), Some(y)) => x.name.cmp(&y.name),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => return out,
        };
        out.push(match order {
            std::cmp::Ordering::Less => (ia.next(), None),
            std::cmp::Ordering::Greater => (None, ib.next()),
            std::cmp::Ordering::Equal => (ia.next(), ib.next()),
        });
    }
}

/// How many entries lie below a directory (bounded by `max`).
fn count_below(fs: &dyn Filesystem, dir: NodeId, max: u64) -> u64 {
    let mut count = 0u64;
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        let Ok(listing) = fs.children(d) else {
            continue;
        };
        for e in listing.entries {
            count += 1;
            if count >= max {
                return count;
            }
            if e.meta.kind == EntryKind::Dir {
                stack.push(e.node);
            }
        }
    }
    count
}

/// The group of a dotted fact name: `gpt` of `gpt.header_crc32`.
fn fact_group(name: &str) -> &str {
    name.rsplit_once('.').map_or(name, |(group, _)| group)
}
