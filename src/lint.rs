//! `isodiff lint IMAGE`: one image, no partner. Finds what would make two builds
//! of it differ before anyone rebuilds it: store paths that Nix did not
//! canonicalise, file times from the build clock, ids made up at random.
//!
//! A lint is a [`Report`] like a comparison's, so every renderer writes it: side
//! `a` is the image, side `b` the profile, and each finding is a difference from
//! the value found to the value the profile expects, with its cause (see
//! [`crate::report::CauseClass`]). Exit codes follow: 0 clean, 1 findings, 2 trouble.

use crate::listing::{self, ListError, Listed, Nesting};
use crate::model::{EntryKind, Filesystem, Role, Value};
use crate::report::cause::{self, CauseClass};
use crate::report::{Difference, EntryField, Problem, Report, Side, Val, Which};
use crate::time::Timestamp;

/// What a lint checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Every entry of a Nix store in the image (a path component
    /// `<32-character hash>-name`) in Nix's canonical form: mtime 1, modes 0444
    /// (0555 when executable, and for directories), owner and group root, no
    /// setuid, setgid or sticky bit, no write bit.
    Nix,
    /// Times later than the source date epoch or than the image's own creation
    /// date, identifiers made up at random (version 4 GUIDs), and, when asked,
    /// owners other than root.
    #[default]
    General,
}

impl Profile {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Nix => "nix",
            Profile::General => "general",
        }
    }
}

/// How to lint.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// The checks.
    pub profile: Profile,
    /// The source date epoch of the build (seconds): no time may be later.
    pub source_date_epoch: Option<i64>,
    /// Expect every entry owned by root (a squashfs made with `-all-root`).
    pub expect_root: bool,
    /// How deep and how much images inside the image are opened.
    pub nesting: Nesting,
}

/// Lints `fs`, read from `path` (`size` bytes), with `options`.
pub fn lint(fs: &dyn Filesystem, path: &str, size: u64, options: &LintOptions) -> Report {
    let mut findings = Vec::new();
    let mut problems = Vec::new();
    let created = creation_date(fs);
    let latest = match (options.source_date_epoch, created) {
        (Some(epoch), _) => Some(Timestamp::from_unix(epoch)),
        (None, created) => created,
    };
    if options.profile == Profile::General {
        identifiers(fs, &mut findings);
    }
    listing::walk_nested(
        fs,
        &[],
        &options.nesting,
        &mut |l: Listed| match options.profile {
            Profile::Nix => nix_entry(&l, &mut findings),
            Profile::General => general_entry(&l, latest.as_ref(), options, &mut findings),
        },
        &mut |p: ListError| {
            problems.push(Problem {
                location: p.location,
                side: Which::A,
                message: p.error.to_string(),
            })
        },
    );
    findings.sort_by(|x: &Difference, y: &Difference| {
        (&x.location, x.kind()).cmp(&(&y.location, y.kind()))
    });
    let sides = (
        Side::new(path, size),
        Side::new(format!("(lint profile {})", options.profile.name()), 0),
    );
    let mut report = Report::new(sides.0, sides.1, findings, problems);
    // The image's own oddities, read leniently (nested images' are not
    // gathered by the listing walk).
    report.warnings = fs
        .warnings()
        .into_iter()
        .map(|message| Problem {
            location: Vec::new(),
            side: Which::A,
            message,
        })
        .collect();
    cause::tally(&mut report);
    report
}

/// A finding: `field` of the entry at `location` is `found`, the profile
/// expects `expected`, for `cause`.
fn finding(
    l: &Listed,
    field: EntryField,
    found: Val,
    expected: Val,
    cause: Option<&'static CauseClass>,
) -> Difference {
    let mut d = Difference::entry(l.location.clone(), field, found, expected);
    d.cause = cause;
    d
}

/// Nix's canonical form, for entries inside a store path.
fn nix_entry(l: &Listed, out: &mut Vec<Difference>) {
    if !cause::in_nix_store(&l.location) {
        return;
    }
    let nix = cause::class("nix-not-canonical");
    let m = &l.meta;
    if let Some(mode) = m.mode {
        let expected = match m.kind {
            EntryKind::Symlink => mode,
            EntryKind::Dir => 0o555,
            _ if mode & 0o111 != 0 => 0o555,
            _ => 0o444,
        };
        if mode & 0o7777 != expected {
            out.push(finding(
                l,
                EntryField::Mode,
                Val::Mode(mode),
                Val::Mode(expected),
                nix,
            ));
        }
    }
    if let Some(t) = &m.mtime {
        if t.secs != 1 || t.nanos != 0 {
            let one = Val::Time(Timestamp::from_unix(1));
            out.push(finding(l, EntryField::Mtime, Val::Time(*t), one, nix));
        }
    }
    not_root(l, nix, out);
}

/// An owner or group other than root, for `cause`.
fn not_root(l: &Listed, cause: Option<&'static CauseClass>, out: &mut Vec<Difference>) {
    for (field, id) in [(EntryField::Uid, l.meta.uid), (EntryField::Gid, l.meta.gid)] {
        if let Some(id) = id.filter(|&id| id != 0) {
            let (found, root) = (Val::Unsigned(id.into()), Val::Unsigned(0));
            out.push(finding(l, field, found, root, cause));
        }
    }
}

/// Times after the latest allowed, and owners other than root when expected.
fn general_entry(
    l: &Listed,
    latest: Option<&Timestamp>,
    options: &LintOptions,
    out: &mut Vec<Difference>,
) {
    let clock = cause::class("build-clock");
    let m = &l.meta;
    if let Some(latest) = latest {
        for (field, t) in [(EntryField::Mtime, &m.mtime), (EntryField::Ctime, &m.ctime)] {
            if let Some(t) = t.as_ref().filter(|t| t.secs > latest.secs) {
                out.push(finding(l, field, Val::Time(*t), Val::Time(*latest), clock));
            }
        }
    }
    if options.expect_root {
        not_root(l, None, out);
    }
}

/// The latest creation date the image states (ISO volume creation date,
/// squashfs `mkfs_time`): its files cannot be younger.
fn creation_date(fs: &dyn Filesystem) -> Option<Timestamp> {
    fs.facts()
        .iter()
        .filter(|f| f.name.ends_with("creation_date") || f.name.ends_with("mkfs_time"))
        .filter_map(|f| match &f.value {
            Value::Time(t) => Some(*t),
            _ => None,
        })
        .max_by_key(|t| t.secs)
}

/// Identifiers that are version 4 (random) GUIDs.
fn identifiers(fs: &dyn Filesystem, out: &mut Vec<Difference>) {
    let random = cause::class("random-id");
    for f in fs.facts().iter().filter(|f| f.role == Role::Identifier) {
        let Value::Text(text) = &f.value else {
            continue;
        };
        if is_random_guid(text) {
            let mut d = Difference::image_fact(
                Vec::new(),
                f.name.clone(),
                Val::Text(text.clone()),
                Val::Text("a fixed id".into()),
            )
            .with_role(Role::Identifier);
            d.cause = random;
            out.push(d);
        }
    }
}

/// `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`: a GUID of version 4, made of
/// random bits. A name-based version 5 GUID (NixOS's) is not, and neither is
/// the one xorriso derives from its volume date (`-volume_date uuid`): it marks
/// it version 4 but its bytes are the date's ASCII digits.
fn is_random_guid(text: &str) -> bool {
    let b = text.as_bytes();
    let shaped = b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && matches!(b[19].to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b');
    if !shaped {
        return false;
    }
    let hex: Vec<u8> = b.iter().copied().filter(|&c| c != b'-').collect();
    let bytes: Vec<u8> = hex
        .chunks(2)
        .filter_map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect();
    let digits = bytes.iter().filter(|c| c.is_ascii_digit()).count();
    bytes.len() == 16 && digits < 12
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_4_guids_are_random_others_not() {
        assert!(is_random_guid("B3498A53-8985-4333-9D6C-14456D63ABA6"));
        assert!(!is_random_guid("B3498A53-8985-5333-9D6C-14456D63ABA6"));
        assert!(!is_random_guid("B3498A53-8985-4333-7D6C-14456D63ABA6"));
        assert!(!is_random_guid("4E5B-8AAD"));
        // xorriso's, from the volume date 2024-06-02 00:00:00.
        assert!(!is_random_guid("34323032-3630-4230-B030-303030303030"));
    }
}
