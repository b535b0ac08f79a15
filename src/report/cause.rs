//! Causes: why two builds differ, named for the person who has to fix the build.
//!
//! A report of two unreproducible builds holds hundreds of symptoms of a handful of
//! causes: the build clock leaked into file times, a producer made up GUIDs, a Nix
//! store path was not canonicalised. [`CLASSES`] is the table of the causes
//! reproducible-builds people met (`../shared/CAUSES.md` lists them with their
//! sources): each with an id, a one-line explanation, the usual fix, and the
//! [`Rule`] that recognizes its differences. [`assign`] gives every difference the
//! first class whose rule matches it, in table order, and [`tally`] counts them for
//! the top of every report. A difference no rule matches keeps `cause: None`, and
//! the reports say how many have no known cause.
//!
//! To teach isodiff a new cause, add a row to [`CLASSES`]; a new kind of evidence
//! is a new [`Rule`] variant with its test in [`Rule::matches`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::ser::{SerializeMap, Serializer};

use super::change::{Change, LineOp, Val};
use super::filter::Glob;
use super::{Difference, EntryField, Kind, Location, LocationText, Report};
use crate::model::Role;
use crate::time::Timestamp;

/// One class of causes: a row of the table of known causes.
#[derive(Debug, PartialEq, Eq)]
pub struct CauseClass {
    /// Stable id, used in the JSON report and by `lint` (`build-clock`).
    pub id: &'static str,
    /// What it is, in a few words (`build clock in file times`).
    pub title: &'static str,
    /// Why such differences appear, in one line.
    pub why: &'static str,
    /// The usual fix.
    pub fix: &'static str,
    /// How its differences are recognized.
    pub rule: Rule,
}

/// What a difference must look like to have a cause.
#[derive(Debug, PartialEq, Eq)]
pub enum Rule {
    /// Any difference of an entry whose location matches one of these location
    /// globs (the syntax of `--exclude`): files known to differ between builds.
    Files(&'static [&'static str]),
    /// An image-level or attribute fact whose name matches one of these globs.
    Facts(&'static [&'static str]),
    /// A fact whose reader declared this role (see [`crate::model::Role`]).
    Role(Role),
    /// An image-level fact that is a time (volume dates, `mkfs_time`).
    ImageTime,
    /// An entry of a Nix store (a path component `<32-char hash>-name`) whose
    /// mode, owner or mtime is canonical on one side and not on the other.
    NixStore,
    /// A time that is 1980-01-01T00:00:00 on one side, the least time of DOS
    /// (FAT, ZIP).
    DosEpoch,
    /// A hard link count of 1 on one side and more on the other.
    HardLink,
    /// Text content whose changed lines differ only in their digits, at least
    /// one of them a date or a time of day.
    EmbeddedDate,
    /// Times of several entries shifted by about the same amount, in the same
    /// direction (see `CLOCK_TOLERANCE_NS`).
    ClockShift,
    /// Where structures are: a placement fact or a `layout` difference.
    Placement,
}

/// The largest shift of an image date that is shown as a clock's shift: a
/// date set on one side only (1970 against a build date) is none.
const MAX_IMAGE_DATE_SHIFT_NS: i128 = 30 * 86_400 * 1_000_000_000;

impl Rule {
    /// Whether a time difference of `shift_ns` with this cause is a shift of
    /// a clock, shown as part of the cause's range.
    fn is_clock_shift(&self, shift_ns: i128) -> bool {
        match self {
            Rule::ClockShift => true,
            Rule::ImageTime => shift_ns.abs() <= MAX_IMAGE_DATE_SHIFT_NS,
            _ => false,
        }
    }
}

/// The causes isodiff knows, in the order their rules are tried.
pub static CLASSES: &[CauseClass] = &[
    CauseClass {
        id: "known-nondeterministic-file",
        title: "file known to differ between any two builds",
        why: "written at build or boot time with ids, seeds, caches or logs of that run",
        fix: "remove it from the image, or create it at first boot",
        rule: Rule::Files(&[
            "etc/machine-id",
            "var/lib/dbus/machine-id",
            "var/cache/ldconfig/aux-cache",
            "var/log/dpkg.log",
            "var/log/alternatives.log",
            "var/log/bootstrap.log",
            "var/log/pacman.log",
            "var/log/apt/*",
            "var/lib/systemd/random-seed",
            "var/lib/urandom/random-seed",
            "var/cache/fontconfig/*",
            "var/cache/debconf/*-old",
            "var/lib/dpkg/*-old",
            ".disk/archive_trace",
        ]),
    },
    CauseClass {
        id: "nix-not-canonical",
        title: "Nix store metadata not canonical",
        why: "a store path kept the metadata it was written with (Nix's canonical form: \
              mtime 1, modes 0444/0555, owner root); 1980 is the DOS/ZIP least date",
        fix: "find the derivation that writes it and canonicalise its output",
        rule: Rule::NixStore,
    },
    CauseClass {
        id: "dos-epoch",
        title: "DOS epoch 1980-01-01",
        why: "the file went through FAT or ZIP, or a time was clamped to the least DOS date",
        fix: "clamp times to the same epoch on both sides (SOURCE_DATE_EPOCH >= 1980 for FAT)",
        rule: Rule::DosEpoch,
    },
    CauseClass {
        id: "random-id",
        title: "random ids",
        why: "the producer made up an identifier for this run, at random or from the clock (GPT GUIDs, MBR disk id, \
              FAT volume serial, filesystem UUID)",
        fix: "give the producer a fixed id (xorriso -volume_date uuid, gpt_disk_guid=, \
              isohybrid --id, mkfs.vfat -i, mformat -N)",
        rule: Rule::Role(Role::Identifier),
    },
    CauseClass {
        id: "image-dates",
        title: "image creation dates",
        why: "the image records when it was made (ISO volume dates, squashfs mkfs_time, \
              FAT label times)",
        fix: "set SOURCE_DATE_EPOCH; xorriso -volume_date c/m/uuid, mksquashfs -mkfs-time",
        rule: Rule::ImageTime,
    },
    CauseClass {
        id: "producer-version",
        title: "producer version strings",
        why: "the image names the tool and version that made it",
        fix: "pin the tool, or set the id explicitly",
        rule: Rule::Facts(&[
            "*.application_id",
            "*.data_preparer_id",
            "*.system_id",
            "boot.oem_name",
            "pe.linker_version",
        ]),
    },
    CauseClass {
        id: "embedded-timestamp",
        title: "timestamps inside files",
        why: "a file stores the time it was made (gzip MTIME, PE TimeDateStamp, .pyc source \
              mtime)",
        fix: "gzip -n, objcopy --preserve-dates, SOURCE_DATE_EPOCH for the tool",
        rule: Rule::Facts(&[
            "gzip.mtime",
            "pe.time_date_stamp",
            "pe.debug.*.time_date_stamp",
            "pyc.source_mtime",
        ]),
    },
    CauseClass {
        id: "embedded-date",
        title: "build dates in text",
        why: "a file embeds the date or time of its build (version banners, generated headers)",
        fix: "make the generator honour SOURCE_DATE_EPOCH",
        rule: Rule::EmbeddedDate,
    },
    CauseClass {
        id: "hard-link",
        title: "hard link vs copy",
        why: "files are hard links on one side and copies on the other (nix-store --optimise, \
              the producer's hard link detection)",
        fix: "mksquashfs -no-hardlinks, or the same store optimisation on both sides",
        rule: Rule::HardLink,
    },
    CauseClass {
        id: "build-clock",
        title: "build clock in file times",
        why: "file times were taken from the clock of the build, shifted by about the same \
              amount on every entry",
        fix: "set SOURCE_DATE_EPOCH and clamp file times (mksquashfs -all-time, xorriso \
              -volume_date all_file_dates, mcopy -m, cpio --reproducible)",
        rule: Rule::ClockShift,
    },
    CauseClass {
        id: "packing",
        title: "compressor or packing only",
        why: "the same files stored with other producer settings (compressor, block size, \
              table sizes)",
        fix: "pin the producer and its options",
        rule: Rule::Role(Role::Packing),
    },
    CauseClass {
        id: "order",
        title: "order or placement only",
        why: "the same structures stored in another order or at other addresses",
        fix: "sort the input (xorriso --sort-weight, mksquashfs -sort, sorted copy)",
        rule: Rule::Placement,
    },
];

/// Times whose shifts differ by at most this much, or by a twentieth of the
/// shift when that is more, are one shift of the build clock: two builds two
/// minutes apart shift files by +119 s to +127 s as the build goes on.
pub(crate) const CLOCK_TOLERANCE_NS: i128 = 2_000_000_000;

/// The class with this id.
pub(crate) fn class(id: &str) -> Option<&'static CauseClass> {
    CLASSES.iter().find(|c| c.id == id)
}

impl Rule {
    /// True when `d` shows this cause on its own (clock shifts are judged over
    /// all differences, in [`assign`]).
    fn matches(&self, d: &Difference, globs: &HashMap<&'static str, Glob>) -> bool {
        let glob = |p: &&'static str| globs.get(*p);
        match self {
            Rule::Files(patterns) => {
                !d.kind().is_image_level()
                    && patterns
                        .iter()
                        .filter_map(glob)
                        .any(|g| g.matches_location(&d.location))
            }
            Rule::Facts(patterns) => match &d.change {
                Change::Image { name, .. } | Change::Attribute { name, .. } => patterns
                    .iter()
                    .filter_map(glob)
                    .any(|g| g.matches(name.as_bytes())),
                _ => false,
            },
            Rule::Role(role) => {
                matches!(d.change, Change::Image { .. } | Change::Attribute { .. })
                    && d.role == *role
            }
            Rule::ImageTime => matches!(d.change, Change::Image { .. }) && d.role == Role::Time,
            Rule::NixStore => nix_not_canonical(d),
            Rule::DosEpoch => {
                let (a, b) = times(d);
                a.is_some_and(is_dos_epoch) != b.is_some_and(is_dos_epoch)
            }
            Rule::HardLink => match &d.change {
                Change::Entry {
                    field: EntryField::Nlink,
                    a: Val::Unsigned(x),
                    b: Val::Unsigned(y),
                } => (*x == 1) != (*y == 1) && (*x).min(*y) >= 1,
                _ => false,
            },
            Rule::EmbeddedDate => embedded_date(d),
            Rule::ClockShift => false,
            Rule::Placement => d.role == Role::Placement || d.kind() == Kind::Layout,
        }
    }
}

/// Both sides' times, when the difference is between two times.
fn times(d: &Difference) -> (Option<&Timestamp>, Option<&Timestamp>) {
    fn time(v: &Val) -> Option<&Timestamp> {
        match v {
            Val::Time(t) => Some(t),
            _ => None,
        }
    }
    match &d.change {
        Change::Entry { a, b, .. }
        | Change::Attribute { a, b, .. }
        | Change::Image { a, b, .. } => (time(a), time(b)),
        _ => (None, None),
    }
}

/// 1980-01-01T00:00:00, in UTC or in the zone the time was stored with.
fn is_dos_epoch(t: &Timestamp) -> bool {
    const DOS_EPOCH: i64 = 315_532_800;
    let local = t.secs + i64::from(t.offset_minutes.unwrap_or(0)) * 60;
    t.secs == DOS_EPOCH || local == DOS_EPOCH
}

/// True for a path component of a Nix store path: 32 characters of Nix's
/// base-32 alphabet, a dash, a name.
fn is_store_path_name(name: &[u8]) -> bool {
    const ALPHABET: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    name.len() > 33 && name[32] == b'-' && name[..32].iter().all(|c| ALPHABET.contains(c))
}

/// True when some element of `location` has a component that names a store path.
pub(crate) fn in_nix_store(location: &Location) -> bool {
    location
        .iter()
        .any(|element| element.split(|&c| c == b'/').any(is_store_path_name))
}

/// A mode, owner or mtime of a store entry that is canonical on one side only.
fn nix_not_canonical(d: &Difference) -> bool {
    let Change::Entry { field, a, b } = &d.change else {
        return false;
    };
    let canonical = |v: &Val| match (field, v) {
        (EntryField::Mode, Val::Mode(m)) => matches!(m & 0o7777, 0o444 | 0o555 | 0o777),
        (EntryField::Uid | EntryField::Gid, Val::Unsigned(id)) => *id == 0,
        // 0 is what some host file systems give the store (NixOS/nixpkgs#390696).
        (EntryField::Mtime, Val::Time(t)) => t.secs == 1 || t.secs == 0,
        _ => false,
    };
    matches!(
        field,
        EntryField::Mode | EntryField::Uid | EntryField::Gid | EntryField::Mtime
    ) && canonical(a) != canonical(b)
        && in_nix_store(&d.location)
}

/// Text whose changed lines differ only in digits, with a date or a time of
/// day among them (`Built on 2024-06-02 12:00` -> `Built on 2024-06-03 09:14`).
fn embedded_date(d: &Difference) -> bool {
    let Change::Content(c) = &d.change else {
        return false;
    };
    let Some(diff) = &c.text_diff else {
        return false;
    };
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let mut dated = false;
    for line in diff.hunks.iter().flat_map(|h| &h.lines) {
        let masked = || -> String {
            line.text
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        };
        match line.op {
            LineOp::Removed => {
                dated |= looks_dated(&line.text);
                removed.push(masked());
            }
            LineOp::Added => {
                dated |= looks_dated(&line.text);
                added.push(masked());
            }
            _ => {}
        }
    }
    removed.sort();
    added.sort();
    dated && !removed.is_empty() && removed == added
}

/// True when `s` holds a year (19xx, 20xx) or a time of day (`12:34`).
fn looks_dated(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    (0..b.len()).any(|i| {
        let year = (b[i..].starts_with(b"19") || b[i..].starts_with(b"20"))
            && digit(i + 2)
            && digit(i + 3)
            && !digit(i + 4)
            && (i == 0 || !digit(i - 1));
        let clock = digit(i) && digit(i + 1) && b.get(i + 2) == Some(&b':') && digit(i + 3);
        year || clock
    })
}

/// Compiled globs of every rule, by pattern.
fn compile() -> HashMap<&'static str, Glob> {
    let mut out = HashMap::new();
    for c in CLASSES {
        match &c.rule {
            Rule::Files(patterns) => {
                for p in *patterns {
                    if let Ok(g) = Glob::location(p) {
                        out.insert(*p, g);
                    }
                }
            }
            Rule::Facts(patterns) => {
                for p in *patterns {
                    if let Ok(g) = Glob::new(p) {
                        out.insert(*p, g);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The signed distance from `a` to `b` in nanoseconds, as the times read.
fn shift(a: &Timestamp, b: &Timestamp) -> i128 {
    super::summary::shift(a.shown_instant(), b.shown_instant())
}

/// Gives every difference of `report` its cause (differences that only follow
/// from others get none), then counts them ([`tally`]).
pub(crate) fn assign(report: &mut Report) {
    let globs = compile();
    let clock = class("build-clock");
    let mut shifts: Vec<(i128, usize)> = Vec::new();
    for (i, d) in report.differences.iter_mut().enumerate() {
        d.cause = None;
        if d.consequence {
            continue;
        }
        d.cause = CLASSES
            .iter()
            .find(|c| c.rule != Rule::ClockShift && c.rule.matches(d, &globs));
        if d.cause.is_none() {
            if let (Some(a), Some(b)) = times(d) {
                let s = shift(a, b);
                if s != 0 {
                    shifts.push((s, i));
                }
            }
        }
    }
    // Shifts in one direction, each within the tolerance of the next: one clock.
    shifts.sort_unstable();
    let mut start = 0;
    for end in 1..=shifts.len() {
        let split = end == shifts.len() || {
            let (prev, next) = (shifts[end - 1].0, shifts[end].0);
            let gap = CLOCK_TOLERANCE_NS.max(prev.abs().min(next.abs()) / 20);
            next - prev > gap || prev.signum() != next.signum()
        };
        if !split {
            continue;
        }
        let run = &shifts[start..end];
        let entries: BTreeSet<&Location> = run
            .iter()
            .map(|&(_, i)| &report.differences[i].location)
            .collect();
        if entries.len() >= 2 {
            for &(_, i) in run {
                report.differences[i].cause = clock;
            }
        }
        start = end;
    }
    tally(report);
}

/// How many differences of the report have each cause: [`Report::causes`], most
/// frequent first, and [`Report::no_known_cause`]. Run again after a filter.
pub(crate) fn tally(report: &mut Report) {
    let mut by_class: BTreeMap<&'static str, CauseCount> = BTreeMap::new();
    let mut examples: BTreeMap<&'static str, BTreeMap<Location, Vec<Location>>> = BTreeMap::new();
    let mut unknown = 0;
    for d in report.differences.iter().filter(|d| !d.consequence) {
        let Some(class) = d.cause else {
            unknown += 1;
            continue;
        };
        let count = by_class.entry(class.id).or_insert_with(|| CauseCount {
            class,
            differences: 0,
            images: BTreeSet::new(),
            fields: BTreeSet::new(),
            shift: None,
            examples: Vec::new(),
        });
        count.differences += 1;
        count.images.insert(d.image().to_vec());
        count.fields.insert(d.what());
        let clock_shift = match times(d) {
            (Some(a), Some(b)) => Some(shift(a, b)).filter(|&s| class.rule.is_clock_shift(s)),
            _ => None,
        };
        if let Some(s) = clock_shift {
            count.shift = Some(match count.shift {
                Some((lo, hi)) => (lo.min(s), hi.max(s)),
                None => (s, s),
            });
        }
        let per_image = examples.entry(class.id).or_default();
        let first = per_image.entry(d.image().to_vec()).or_default();
        if first.len() < EXAMPLES && !first.contains(&d.location) {
            first.push(d.location.clone());
        }
    }
    // Examples from every image the cause is seen in, before more from one.
    for (id, per_image) in examples {
        let Some(count) = by_class.get_mut(id) else {
            continue;
        };
        let mut lists: Vec<std::vec::IntoIter<Location>> =
            per_image.into_values().map(Vec::into_iter).collect();
        while count.examples.len() < EXAMPLES {
            let before = count.examples.len();
            for list in &mut lists {
                if count.examples.len() < EXAMPLES {
                    count.examples.extend(list.next());
                }
            }
            if count.examples.len() == before {
                break;
            }
        }
        count.examples.sort();
    }
    let mut causes: Vec<CauseCount> = by_class.into_values().collect();
    causes.sort_by_key(|c| std::cmp::Reverse(c.differences));
    report.causes = causes;
    report.no_known_cause = unknown;
}

/// How many example locations a cause keeps.
pub(crate) const EXAMPLES: usize = 5;

/// The differences of a report that share one cause.
#[derive(Debug, Clone, PartialEq)]
pub struct CauseCount {
    /// The cause.
    pub class: &'static CauseClass,
    /// How many differences it has.
    pub differences: u64,
    /// The file systems they are in (`[]`: the outermost image).
    pub images: BTreeSet<Location>,
    /// What differs (`mtime`, `gpt.disk_guid`, `content`), sorted.
    pub fields: BTreeSet<String>,
    /// The least and greatest shift of its times, in nanoseconds, for the
    /// causes that shift times (the build clock, image dates).
    pub shift: Option<(i128, i128)>,
    /// A few locations, from each of its images before more from one, sorted.
    pub examples: Vec<Location>,
}

impl CauseCount {
    /// The shift of its times in words: `+4 s`, `+119 s to +127 s`.
    pub(crate) fn shift_text(&self) -> Option<String> {
        let (lo, hi) = self.shift?;
        let word = |n| super::summary::GroupChange::Shift(n).to_string();
        Some(if lo == hi {
            word(lo)
        } else {
            format!("{} to {}", word(lo), word(hi))
        })
    }

    /// One line: `build clock in file times: 1989 differences in 2 images (mtime,
    /// atime, ctime; +4 s to +5 s)`.
    pub(crate) fn line(&self) -> String {
        let s = |n: u64| if n == 1 { "" } else { "s" };
        let images = self.images.len() as u64;
        format!(
            "{}: {} difference{} in {} image{} ({})",
            self.class.title,
            self.differences,
            s(self.differences),
            images,
            s(images),
            self.what().join("; ")
        )
    }

    /// What differs, as every report says it: the fields (the first five and
    /// a count when there are more than six), then the shift of its times.
    pub(crate) fn what(&self) -> Vec<String> {
        let fields: Vec<&str> = self.fields.iter().map(String::as_str).collect();
        let mut what = vec![if fields.len() > 6 {
            format!("{}, ... ({} fields)", fields[..5].join(", "), fields.len())
        } else {
            fields.join(", ")
        }];
        what.extend(self.shift_text());
        what
    }
}

impl serde::Serialize for CauseCount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", self.class.id)?;
        m.serialize_entry("title", self.class.title)?;
        m.serialize_entry("why", self.class.why)?;
        m.serialize_entry("fix", self.class.fix)?;
        m.serialize_entry("differences", &self.differences)?;
        let images: Vec<LocationText<'_>> = self.images.iter().map(|l| LocationText(l)).collect();
        m.serialize_entry("images", &images)?;
        m.serialize_entry("fields", &self.fields)?;
        if let Some((lo, hi)) = self.shift {
            #[derive(serde::Serialize)]
            struct Shift {
                min_ns: i128,
                max_ns: i128,
            }
            m.serialize_entry(
                "shift",
                &Shift {
                    min_ns: lo,
                    max_ns: hi,
                },
            )?;
        }
        let examples: Vec<LocationText<'_>> =
            self.examples.iter().map(|l| LocationText(l)).collect();
        m.serialize_entry("examples", &examples)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::change::{Hunk, Line, TextDiff};
    use crate::report::Side;

    const T: i64 = 1_733_000_000;
    const STORE: &str = "/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users";

    fn at(secs: i64) -> Val {
        Val::Time(Timestamp::from_unix(secs))
    }

    fn entry(path: &str, field: EntryField, a: Val, b: Val) -> Difference {
        Difference::entry(
            vec![b"/x.squashfs".to_vec(), path.as_bytes().to_vec()],
            field,
            a,
            b,
        )
    }

    fn causes(differences: Vec<Difference>) -> Report {
        let side = |p: &str| Side::new(p, 0);
        let mut r = Report::new(side("a"), side("b"), differences, Vec::new());
        assign(&mut r);
        r
    }

    fn ids(r: &Report) -> Vec<Option<&'static str>> {
        r.differences
            .iter()
            .map(|d| d.cause.map(|c| c.id))
            .collect()
    }

    #[test]
    fn shifts_of_one_build_clock_fold_whatever_their_deltas() {
        let mut ds: Vec<Difference> = (0..9)
            .map(|i| entry(&format!("/f{i}"), EntryField::Mtime, at(T), at(T + 119 + i)))
            .collect();
        // Far from the others, and alone: no cause.
        ds.push(entry("/lone", EntryField::Mtime, at(T), at(T + 86_400)));
        // Backwards is another clock; two of them make one.
        ds.push(entry("/back1", EntryField::Mtime, at(T), at(T - 600)));
        ds.push(entry("/back2", EntryField::Atime, at(T), at(T - 610)));
        let r = causes(ds);
        let got = ids(&r);
        assert!(
            got[..9].iter().all(|c| *c == Some("build-clock")),
            "{got:?}"
        );
        assert_eq!(got[9], None);
        assert_eq!(&got[10..], [Some("build-clock"); 2]);
        assert_eq!(r.no_known_cause, 1);
        assert_eq!(r.causes.len(), 1);
        assert_eq!(r.causes[0].differences, 11);
        assert_eq!(
            r.causes[0].shift_text().as_deref(),
            Some("-610 s to +127 s")
        );
    }

    #[test]
    fn nix_store_paths_not_canonical_and_not_elsewhere() {
        let r = causes(vec![
            entry(STORE, EntryField::Mode, Val::Mode(0o644), Val::Mode(0o444)),
            entry(STORE, EntryField::Mtime, at(315_532_800), at(1)),
            entry(
                STORE,
                EntryField::Uid,
                Val::Unsigned(1000),
                Val::Unsigned(0),
            ),
            // Both canonical, or neither: some other reason.
            entry(STORE, EntryField::Mode, Val::Mode(0o444), Val::Mode(0o555)),
            entry(STORE, EntryField::Mode, Val::Mode(0o644), Val::Mode(0o600)),
            // Not in a store: the 1980 time is the DOS epoch.
            entry(
                "/etc/x",
                EntryField::Mode,
                Val::Mode(0o644),
                Val::Mode(0o444),
            ),
            entry("/etc/x", EntryField::Mtime, at(315_532_800), at(1)),
        ]);
        let nix = Some("nix-not-canonical");
        assert_eq!(
            ids(&r),
            [nix, nix, nix, None, None, None, Some("dos-epoch")]
        );
    }

    #[test]
    fn facts_by_role_and_by_name() {
        let fact = |name: &'static str, role| {
            Difference::image_fact(vec![], name, Val::Text("x".into()), Val::Text("y".into()))
                .with_role(role)
        };
        let r = causes(vec![
            fact("gpt.disk_guid", Role::Identifier),
            fact("pvd.creation_date", Role::Time),
            fact("pvd.application_id", Role::Content),
            fact("pvd.volume_id", Role::Content),
            fact("superblock.compressor", Role::Packing),
            fact("root.extent", Role::Placement),
            Difference::attribute(vec![b"/f.gz".to_vec()], "gzip.mtime", at(T), at(T + 5))
                .with_role(Role::Time),
        ]);
        assert_eq!(
            ids(&r),
            [
                Some("random-id"),
                Some("image-dates"),
                Some("producer-version"),
                None,
                Some("packing"),
                Some("order"),
                Some("embedded-timestamp"),
            ]
        );
    }

    #[test]
    fn known_files_hard_links_and_dates_in_text() {
        let line = |op, text: &str| Line {
            op,
            text: text.into(),
        };
        let text_diff = |old: &str, new: &str| {
            let mut c = crate::report::change::tests::content();
            c.text_diff = Some(TextDiff {
                hunks: vec![Hunk {
                    old_start: 1,
                    old_lines: 1,
                    new_start: 1,
                    new_lines: 1,
                    lines: vec![line(LineOp::Removed, old), line(LineOp::Added, new)],
                }],
                cut_at_lines: None,
            });
            c
        };
        let at_path = |p: &str| vec![b"/live.squashfs".to_vec(), p.as_bytes().to_vec()];
        let r = causes(vec![
            Difference::content(at_path("/etc/machine-id"), text_diff("a", "b")),
            Difference::content(
                at_path("/usr/share/banner"),
                text_diff("built 2024-06-02 12:00", "built 2024-06-03 09:14"),
            ),
            Difference::content(at_path("/usr/share/count"), text_diff("n = 1", "n = 2")),
            Difference::entry(
                at_path("/bin/x"),
                EntryField::Nlink,
                Val::Unsigned(2),
                Val::Unsigned(1),
            ),
        ]);
        assert_eq!(
            ids(&r),
            [
                Some("known-nondeterministic-file"),
                Some("embedded-date"),
                None,
                Some("hard-link"),
            ]
        );
    }

    #[test]
    fn every_class_has_a_unique_id_and_its_patterns_compile() {
        let mut seen = BTreeSet::new();
        for c in CLASSES {
            assert!(seen.insert(c.id), "{} twice", c.id);
            assert!(!c.title.is_empty() && !c.why.is_empty() && !c.fix.is_empty());
            let patterns = match &c.rule {
                Rule::Files(p) | Rule::Facts(p) => *p,
                _ => &[],
            };
            for p in patterns {
                assert!(
                    Glob::location(p).is_ok() && Glob::new(p).is_ok(),
                    "{}: {p}",
                    c.id
                );
            }
        }
    }
}
