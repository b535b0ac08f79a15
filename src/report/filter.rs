//! Hiding differences the user does not care about: `--exclude GLOB` (locations),
//! `--ignore FIELD` (kinds and fields), `--semantic` (times, ownership and facts
//! that only say how the bytes were laid out or packed).
//!
//! A filter works on the finished [`Report`], not during the walk: the diff engine
//! stays one thing, and every hidden difference can be counted, per rule, in
//! [`Report::filtered`]. Nothing a filter hides is dropped silently; the renderers
//! all print those counts.
//!
//! # Location globs
//!
//! A location is matched in its text form, its elements joined by `:`
//! (`/nix-store.squashfs:/etc/passwd`; the outermost image itself is the empty
//! string). In a pattern, `*` matches any characters but `/`, `?` one character but
//! `/`, `[abc]`, `[a-z]` and `[!a-z]` one character of (or not of) a set, `**`
//! anything, `/` included, and `**/` nothing or anything that ends with `/`; `\`
//! makes the next character literal. A pattern that does not start with `/` floats:
//! it is matched at any depth, as if it began with `**/` (so `*.pyc` and
//! `usr/share/doc` work as they do in diffoscope's `--exclude`). A pattern matches a
//! location when it matches the location or any location above it, so excluding a
//! directory or a nested image excludes everything in it.
//!
//! # Fields
//!
//! `--ignore` patterns are globs of the same syntax matched against the kind of a
//! difference (`mtime`, `uid`, `mode`, `xattr`, `image`, `attribute`, ...) and,
//! for image-level facts and format-specific attributes, against their field name
//! (`pvd.creation_date`, `superblock.*`, `rr.tf.*`); an extended attribute is also
//! matched as `xattr.NAME` (`xattr.user.*`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{Difference, Kind, Location, Report};
use crate::model::Role;

/// What `--semantic` ignores: the roles readers declare for what carries no
/// meaning for someone who uses the files (the comparison diffoci's
/// `--semantic` makes for container images), and the kinds of raw-byte
/// findings. Times and owners of entries have their roles too.
pub const SEMANTIC_ROLES: &[Role] = &[Role::Time, Role::Ownership, Role::Packing, Role::Placement];

/// The kinds `--semantic` ignores besides [`SEMANTIC_ROLES`]: raw bytes and
/// where structures sit, which follow how the bytes were packed.
pub const SEMANTIC_KINDS: &[Kind] = &[Kind::Bytes, Kind::Layout];

/// A pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for GlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad pattern {:?}: {}", self.pattern, self.reason)
    }
}

impl std::error::Error for GlobError {}

/// One element of a compiled pattern. Characters are Unicode scalar values; a byte
/// that is not UTF-8 is `0x110000 + byte`, so any name can be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// This character.
    Char(u32),
    /// `?`: one character but `/`.
    One,
    /// `*`: any characters but `/`.
    Star,
    /// `**`: anything.
    Any,
    /// `**/`: nothing, or anything ending in `/`.
    AnyDir,
    /// `[...]`: one character (but `/`) in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(u32, u32)>,
    },
}

const SLASH: u32 = b'/' as u32;
const COLON: u32 = b':' as u32;

/// A compiled glob (the syntax is in the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    tokens: Vec<Token>,
    /// The longest run of literal characters in the pattern: any text it
    /// matches holds the run somewhere, so a text without it is refused
    /// before the states run (most patterns are mostly literal, and a report
    /// runs every cause pattern over every location).
    literal: Vec<u32>,
}

/// `bytes` as units: characters, with each invalid byte as `0x110000 + byte`.
fn units(bytes: &[u8], out: &mut Vec<u32>) {
    for chunk in bytes.utf8_chunks() {
        out.extend(chunk.valid().chars().map(u32::from));
        out.extend(chunk.invalid().iter().map(|&b| 0x11_0000 + u32::from(b)));
    }
}

impl Glob {
    /// Compiles `pattern`, matched as written (no floating, see
    /// [`Glob::location`] for that).
    pub(crate) fn new(pattern: &str) -> Result<Glob, GlobError> {
        let err = |reason| GlobError {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.is_empty() {
            return Err(err("empty"));
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\\' => {
                    let Some(&next) = chars.get(i) else {
                        return Err(err("ends with a lone `\\`"));
                    };
                    tokens.push(Token::Char(u32::from(next)));
                    i += 1;
                }
                '?' => tokens.push(Token::One),
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    // Runs of more stars mean the same as two.
                    while chars.get(i) == Some(&'*') {
                        i += 1;
                    }
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                        tokens.push(Token::AnyDir);
                    } else {
                        tokens.push(Token::Any);
                    }
                }
                '*' => tokens.push(Token::Star),
                '[' => {
                    let mut negated = false;
                    if matches!(chars.get(i), Some('!') | Some('^')) {
                        negated = true;
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let Some(&c) = chars.get(i) else {
                            return Err(err("`[` without `]`"));
                        };
                        i += 1;
                        // A `]` first in the set is a member, as in fnmatch.
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            let Some(&e) = chars.get(i) else {
                                return Err(err("`[` without `]`"));
                            };
                            i += 1;
                            e
                        } else {
                            c
                        };
                        let hi = if chars.get(i) == Some(&'-')
                            && chars.get(i + 1).is_some_and(|&n| n != ']')
                        {
                            let hi = chars[i + 1];
                            i += 2;
                            hi
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err(err("a range in `[...]` runs backwards"));
                        }
                        ranges.push((u32::from(lo), u32::from(hi)));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => tokens.push(Token::Char(u32::from(c))),
            }
        }
        let literal = longest_literal(&tokens);
        Ok(Glob {
            pattern: pattern.to_owned(),
            tokens,
            literal,
        })
    }

    /// Compiles a location pattern: a trailing `/` is dropped (`dir/` names the
    /// directory), and a pattern that does not start with `/` or `**` floats, as if
    /// it began with `**/`.
    pub(crate) fn location(pattern: &str) -> Result<Glob, GlobError> {
        let trimmed = if pattern.len() > 1 {
            pattern.trim_end_matches('/')
        } else {
            pattern
        };
        let mut glob = Glob::new(if trimmed.is_empty() { pattern } else { trimmed })?;
        let anchored = matches!(
            glob.tokens.first(),
            Some(Token::Char(SLASH)) | Some(Token::Any) | Some(Token::AnyDir)
        );
        if !anchored {
            glob.tokens.insert(0, Token::AnyDir);
        }
        glob.pattern = pattern.to_owned();
        Ok(glob)
    }

    /// The pattern as given.
    pub(crate) fn as_str(&self) -> &str {
        &self.pattern
    }

    /// True when the pattern matches all of `text`.
    pub(crate) fn matches(&self, text: &[u8]) -> bool {
        let mut u = Vec::with_capacity(text.len());
        units(text, &mut u);
        self.run(&u, &[])
    }

    /// True when the pattern matches `location` (in its `:`-joined text form) or a
    /// location above it: a directory it is in, or an image it is nested in.
    pub(crate) fn matches_location(&self, location: &Location) -> bool {
        let mut u = Vec::new();
        // Positions where a prefix is itself a location: the end of each element
        // and before each `/` inside one (but its first).
        let mut ends = Vec::new();
        for (i, element) in location.iter().enumerate() {
            if i > 0 {
                ends.push(u.len());
                u.push(COLON);
            }
            let start = u.len();
            units(element, &mut u);
            for (j, &c) in u.iter().enumerate().skip(start + 1) {
                if c == SLASH {
                    ends.push(j);
                }
            }
        }
        self.run(&u, &ends)
    }

    /// Runs the pattern as a set of states over `text`; accepts when the end is
    /// reached at the end of the text or at one of `ends` (which must be sorted).
    /// Linear in the text times the pattern: no backtracking, whatever the input.
    fn run(&self, text: &[u32], ends: &[usize]) -> bool {
        // Each `Char` reads one character equal to it, so consecutive ones read
        // a run of the text equal to them, wherever the match ends.
        if !self.literal.is_empty() && !text.windows(self.literal.len()).any(|w| w == self.literal)
        {
            return false;
        }
        let n = self.tokens.len();
        let mut now = vec![false; n + 1];
        let mut next = vec![false; n + 1];
        now[0] = true;
        self.close(&mut now, true);
        let mut ends = ends.iter().peekable();
        for (pos, &c) in text.iter().enumerate() {
            while ends.peek().is_some_and(|&&e| e < pos) {
                ends.next();
            }
            if ends.peek() == Some(&&pos) && now[n] {
                return true;
            }
            next.iter_mut().for_each(|s| *s = false);
            let mut any = false;
            for (state, token) in self.tokens.iter().enumerate() {
                if !now[state] {
                    continue;
                }
                let (stay, advance) = match token {
                    Token::Char(t) => (false, *t == c),
                    Token::One => (false, c != SLASH),
                    Token::Star => (c != SLASH, false),
                    Token::Any => (true, false),
                    Token::AnyDir => (true, c == SLASH),
                    Token::Class { negated, ranges } => {
                        let inside = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c));
                        (false, c != SLASH && inside != *negated)
                    }
                };
                if stay {
                    next[state] = true;
                    any = true;
                }
                if advance {
                    next[state + 1] = true;
                    any = true;
                }
            }
            if !any {
                return false;
            }
            self.close(&mut next, c == SLASH);
            std::mem::swap(&mut now, &mut next);
        }
        now[n]
    }

    /// Adds the states reachable without reading: past `*` and `**`, which may
    /// match nothing, and past `**/` where it may: at the start or after a `/` (so
    /// `**/motd` matches `motd` as a whole name, not `/etc/xmotd`).
    fn close(&self, states: &mut [bool], after_slash: bool) {
        for (i, token) in self.tokens.iter().enumerate() {
            let empty = match token {
                Token::Star | Token::Any => true,
                Token::AnyDir => after_slash,
                _ => false,
            };
            if states[i] && empty {
                states[i + 1] = true;
            }
        }
    }
}

/// The longest run of consecutive `Char` tokens (the first of equal ones).
fn longest_literal(tokens: &[Token]) -> Vec<u32> {
    let mut best: &[Token] = &[];
    for run in tokens.split(|t| !matches!(t, Token::Char(_))) {
        if run.len() > best.len() {
            best = run;
        }
    }
    best.iter()
        .filter_map(|t| match t {
            Token::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// Why a rule hides something: the option that asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// `--exclude GLOB`: a location.
    Exclude,
    /// `--ignore FIELD`: a kind or field.
    Ignore,
    /// `--semantic`: a role of [`SEMANTIC_ROLES`] or a kind of [`SEMANTIC_KINDS`].
    Semantic,
}

impl Reason {
    /// The option, as typed on the command line.
    pub(crate) fn option(self) -> &'static str {
        match self {
            Reason::Exclude => "--exclude",
            Reason::Ignore => "--ignore",
            Reason::Semantic => "--semantic",
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    reason: Reason,
    matcher: Matcher,
}

/// What a rule matches.
#[derive(Debug, Clone)]
enum Matcher {
    /// Kinds, fields or locations, by a pattern.
    Glob(Glob),
    /// Differences of a role.
    Role(Role),
    /// Differences of a kind.
    Kind(Kind),
}

impl Matcher {
    /// As typed, or as `--semantic` names it.
    fn as_str(&self) -> &str {
        match self {
            Matcher::Glob(g) => g.as_str(),
            Matcher::Role(r) => r.name(),
            Matcher::Kind(k) => k.name(),
        }
    }
}

/// A set of rules that hide differences. Build it with [`Filter::exclude`],
/// [`Filter::ignore`] and [`Filter::semantic`]; apply it with [`Filter::apply`].
/// A difference several rules match is counted for the first one added.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    rules: Vec<Rule>,
}

impl Filter {
    /// A filter that hides nothing.
    pub fn new() -> Filter {
        Filter::default()
    }

    /// True when no rule was added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Hides differences (and problems) at locations matching `pattern`, and below.
    pub fn exclude(mut self, pattern: &str) -> Result<Filter, GlobError> {
        self.rules.push(Rule {
            reason: Reason::Exclude,
            matcher: Matcher::Glob(Glob::location(pattern)?),
        });
        Ok(self)
    }

    /// Hides differences whose kind or field matches `pattern`.
    pub fn ignore(mut self, pattern: &str) -> Result<Filter, GlobError> {
        self.rules.push(Rule {
            reason: Reason::Ignore,
            matcher: Matcher::Glob(Glob::new(pattern)?),
        });
        Ok(self)
    }

    /// Hides the roles of [`SEMANTIC_ROLES`] (times, ownership, packing,
    /// placement) and the kinds of [`SEMANTIC_KINDS`].
    pub fn semantic(mut self) -> Filter {
        let roles = SEMANTIC_ROLES.iter().map(|&r| Matcher::Role(r));
        let kinds = SEMANTIC_KINDS.iter().map(|&k| Matcher::Kind(k));
        for matcher in roles.chain(kinds) {
            self.rules.push(Rule {
                reason: Reason::Semantic,
                matcher,
            });
        }
        self
    }

    /// True when a rule hides `d` (for hints: what a filter would hide).
    pub(crate) fn hides(&self, d: &Difference) -> bool {
        self.field_rule_for(d).is_some() || self.location_rule_for(&d.location).is_some()
    }

    /// The index of the first `--ignore` or `--semantic` rule that hides `d`.
    fn field_rule_for(&self, d: &Difference) -> Option<usize> {
        let xattr;
        let field = d.field();
        let keys: [Option<&str>; 2] = match (d.kind(), field.as_deref()) {
            (Kind::Xattr, Some(f)) => {
                xattr = format!("xattr.{f}");
                [Some("xattr"), Some(&xattr)]
            }
            (kind @ (Kind::Image | Kind::Attribute | Kind::Bytes | Kind::Layout), field) => {
                [Some(kind.name()), field]
            }
            (kind, _) => [Some(kind.name()), None],
        };
        self.rules.iter().position(|r| match &r.matcher {
            _ if r.reason == Reason::Exclude => false,
            Matcher::Glob(g) => keys.iter().flatten().any(|k| g.matches(k.as_bytes())),
            Matcher::Role(role) => d.role == *role,
            Matcher::Kind(kind) => d.kind() == *kind,
        })
    }

    /// The index of the first `--exclude` rule that matches `location`.
    fn location_rule_for(&self, location: &Location) -> Option<usize> {
        self.rules.iter().position(|r| match &r.matcher {
            Matcher::Glob(g) => r.reason == Reason::Exclude && g.matches_location(location),
            _ => false,
        })
    }

    /// The report without what the rules hide, counted in [`Report::filtered`]
    /// (added to what an earlier filter counted). `identical` then says whether any
    /// difference is left.
    pub fn apply(&self, mut report: Report) -> Report {
        let mut counts = vec![(0u64, 0u64); self.rules.len()];
        let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
        // Differences come sorted by location, so neighbours often share one: the
        // location rules are tried once per location, not once per difference.
        let mut last: Option<(Location, Option<usize>)> = None;
        report.differences.retain(|d| {
            let excluded = match &last {
                Some((location, hit)) if *location == d.location => *hit,
                _ => {
                    let hit = self.location_rule_for(&d.location);
                    last = Some((d.location.clone(), hit));
                    hit
                }
            };
            // The first rule added wins, whichever sort it is.
            let hit = match (excluded, self.field_rule_for(d)) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            };
            match hit {
                Some(i) => {
                    counts[i].0 += 1;
                    *by_kind.entry(d.kind().name().to_owned()).or_insert(0) += 1;
                    false
                }
                None => true,
            }
        });
        // The accounting of an excluded image goes with it (not counted: it is no
        // difference).
        report
            .byte_accounting
            .retain(|r| self.location_rule_for(&r.location).is_none());
        // Only locations hide problems: a field pattern says nothing about them.
        report
            .problems
            .retain(|p| match self.location_rule_for(&p.location) {
                Some(i) => {
                    counts[i].1 += 1;
                    false
                }
                None => true,
            });
        let filtered = report.filtered.get_or_insert_with(Filtered::default);
        for (rule, (differences, problems)) in self.rules.iter().zip(counts) {
            filtered.differences += differences;
            filtered.problems += problems;
            filtered.rules.push(RuleCount {
                rule: rule.reason,
                pattern: rule.matcher.as_str().to_owned(),
                differences,
                problems,
            });
        }
        for (kind, n) in by_kind {
            *filtered.by_kind.entry(kind).or_insert(0) += n;
        }
        report.identical = report.differences.is_empty();
        super::cause::tally(&mut report);
        report
    }
}

/// What filters hid, for the summary of every renderer (the `filtered` object of
/// the JSON report).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Filtered {
    /// Differences hidden.
    pub differences: u64,
    /// Problems hidden (only `--exclude` hides problems).
    pub problems: u64,
    /// Each rule in the order applied, with what it hid.
    pub rules: Vec<RuleCount>,
    /// Hidden differences by kind.
    pub by_kind: BTreeMap<String, u64>,
}

/// One rule of a filter and what it hid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleCount {
    /// The option that made the rule.
    pub rule: Reason,
    /// Its pattern.
    pub pattern: String,
    /// Differences it hid.
    pub differences: u64,
    /// Problems it hid.
    pub problems: u64,
}

impl RuleCount {
    /// The rule as typed: `--ignore mtime`, `--semantic (superblock.compressor)`.
    pub fn label(&self) -> String {
        match self.rule {
            Reason::Semantic => format!("--semantic ({})", self.pattern),
            r => format!("{} {}", r.option(), self.pattern),
        }
    }
}

impl Filtered {
    /// One line for a summary: `6 difference(s) hidden by filters: --ignore mtime
    /// 3, --ignore mode 3`, naming rules that hid nothing too (a mistyped field
    /// shows there). Untrusted text: patterns come from the command line, so the
    /// caller escapes the line for its format.
    pub fn describe(&self) -> String {
        let mut s = format!("{} difference(s) hidden by filters", self.differences);
        if self.problems > 0 {
            s.push_str(&format!(", and {} problem(s)", self.problems));
        }
        let hit: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.differences + r.problems > 0)
            .map(|r| {
                let mut part = format!("{} {}", r.label(), r.differences);
                if r.problems > 0 {
                    part.push_str(&format!(" (+{} problem(s))", r.problems));
                }
                part
            })
            .collect();
        if !hit.is_empty() {
            s.push_str(": ");
            s.push_str(&hit.join(", "));
        }
        // `--semantic` is one option: its patterns that hid nothing are no mistake.
        let idle: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.differences + r.problems == 0 && r.rule != Reason::Semantic)
            .map(RuleCount::label)
            .collect();
        if !idle.is_empty() {
            s.push_str(&format!("; hid nothing: {}", idle.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{EntryField, Problem, Side, Val};

    fn loc(parts: &[&str]) -> Location {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn glob_basics() {
        let g = |p| Glob::new(p).expect("pattern compiles");
        assert!(g("mtime").matches(b"mtime"));
        assert!(!g("mtime").matches(b"mtimes"));
        assert!(g("pvd.*").matches(b"pvd.creation_date"));
        assert!(g("*_date").matches(b"svd.effective_date"));
        assert!(!g("*").matches(b"a/b"));
        assert!(g("**").matches(b"a/b"));
        assert!(g("a?c").matches(b"abc") && !g("a?c").matches(b"a/c"));
        assert!(g("[abc]x").matches(b"bx") && !g("[abc]x").matches(b"dx"));
        assert!(g("[!a-c]x").matches(b"dx") && !g("[!a-c]x").matches(b"bx"));
        assert!(g("[]]").matches(b"]"));
        assert!(g(r"\*").matches(b"*") && !g(r"\*").matches(b"x"));
        assert!(g("h?llo").matches("héllo".as_bytes()), "? is one character");
        assert!(g("a*").matches(b"a\xff\xfe"), "names need not be UTF-8");
        assert!(g("a/**/b").matches(b"a/b") && g("a/**/b").matches(b"a/x/y/b"));
        assert!(g("**/b").matches(b"b") && g("**/b").matches(b"x/b"));
        assert!(!g("**/b").matches(b"xb") && !g("a/**/b").matches(b"a/xb"));
        for bad in ["", "[abc", "x\\", "[z-a]"] {
            assert!(Glob::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn glob_is_linear_on_hostile_patterns() {
        // Classic exponential case for backtracking matchers.
        let g = Glob::new(&"*a".repeat(30)).expect("compiles");
        let text = "a".repeat(29) + "b";
        let t = std::time::Instant::now();
        assert!(!g.matches(text.as_bytes()));
        assert!(t.elapsed().as_secs() < 1);
    }

    /// The literal run refuses a text only where the states refuse it too:
    /// every pattern and location here answers the same with it and without.
    #[test]
    fn the_literal_prefilter_changes_no_answer() {
        let patterns = [
            "etc/machine-id",
            "var/log/apt/*",
            "var/cache/debconf/*-old",
            ".disk/archive_trace",
            "/nix-store.squashfs:/*-hello/",
            "**/motd",
            "a[bc]d*ef",
            r"x\*y",
            "h?llo/world",
            "*",
        ];
        let locations = [
            loc(&["/etc/machine-id"]),
            loc(&["/etc/machine-idx"]),
            loc(&["/x/etc/machine-id/y"]),
            loc(&["/var/log/apt/history.log"]),
            loc(&["/var/log/apt"]),
            loc(&["/var/cache/debconf/config.dat-old"]),
            loc(&["/var/cache/debconf-old"]),
            loc(&["/nix-store.squashfs", "/abc-hello/share/motd"]),
            loc(&["/abdzzef", "/acdef"]),
            loc(&["/x*y", "/xy"]),
            loc(&["/héllo/world", "/h/llo/world"]),
            loc(&["/.disk/archive_trace"]),
            Vec::new(),
        ];
        let mut refused = 0;
        for p in patterns {
            let with = Glob::location(p).expect("compiles");
            let mut without = with.clone();
            without.literal.clear();
            for l in &locations {
                let got = with.matches_location(l);
                assert_eq!(got, without.matches_location(l), "{p} on {l:?}");
                refused += usize::from(!got);
            }
        }
        assert!(refused > 0);
        // The prefilter is there to be used: the whole name of a literal pattern.
        let literal = Glob::location("etc/machine-id").expect("ok").literal;
        assert_eq!(literal.len(), "etc/machine-id".len());
    }

    #[test]
    fn location_globs_match_ancestors_and_float() {
        let l = loc(&["/nix-store.squashfs", "/abc-hello/share/motd"]);
        let m = |p: &str| Glob::location(p).expect("compiles").matches_location(&l);
        assert!(m("/nix-store.squashfs"), "a nested image covers its inside");
        assert!(
            m("/nix-store.squashfs:/abc-hello"),
            "a directory covers its inside"
        );
        assert!(
            m("/nix-store.squashfs:/*-hello/"),
            "trailing slash is the directory"
        );
        assert!(m("/nix-store.squashfs:/abc-hello/share/motd"));
        assert!(m("motd") && m("share") && m("*-hello") && m("share/motd"));
        assert!(m("*.squashfs") && m("**/motd") && m("**"));
        assert!(!m("/nix-store"), "a prefix of a name is not an ancestor");
        assert!(!m("/abc-hello"), "anchored at the outermost image");
        assert!(!m("hello") && !m("/nix-store.squashfs:/abc-hello/share/m"));
        // `:` inside a name is no boundary.
        let odd = loc(&["/a:b"]);
        assert!(!Glob::location("/a").expect("ok").matches_location(&odd));
        assert!(Glob::location("/a:b").expect("ok").matches_location(&odd));
        // The outermost image itself is the empty text.
        assert!(!Glob::location("/x")
            .expect("ok")
            .matches_location(&Vec::new()));
    }

    fn report() -> Report {
        let d = |l: &[&str], field, a, b| Difference::entry(loc(l), field, a, b);
        let text = |s: &str| Val::Text(s.into());
        Report::new(
            Side::new("a", 1),
            Side::new("b", 1),
            vec![
                Difference::image_fact(loc(&[]), "pvd.creation_date", text("x"), text("y"))
                    .with_role(Role::Time),
                Difference::image_fact(
                    loc(&["/s"]),
                    "superblock.mkfs_time",
                    Val::Unsigned(1),
                    Val::Unsigned(2),
                )
                .with_role(Role::Time),
                d(
                    &["/s", "/a"],
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o444),
                ),
                d(&["/s", "/a"], EntryField::Mtime, text("t1"), text("t2")),
                Difference::xattr(
                    loc(&["/s", "/a"]),
                    b"user.x".to_vec(),
                    None,
                    Some(b"v".to_vec()),
                ),
                d(
                    &["/s", "/d/e"],
                    EntryField::Uid,
                    Val::Unsigned(0),
                    Val::Unsigned(1),
                ),
                Difference::attribute(
                    loc(&["/t"]),
                    "rr.tf.creation",
                    Val::Unsigned(1),
                    Val::Unsigned(2),
                )
                .with_role(Role::Time),
                // Named like a time, declared content: `--semantic` follows
                // the declaration, not the name.
                Difference::attribute(loc(&["/t"]), "odd_time", text("1"), text("2")),
            ],
            vec![Problem {
                location: loc(&["/s", "/d"]),
                side: crate::report::Which::B,
                message: "damaged".into(),
            }],
        )
    }

    #[test]
    fn apply_counts_every_hidden_difference_per_rule() {
        let f = Filter::new()
            .exclude("/s:/d")
            .and_then(|f| f.ignore("mtime"))
            .and_then(|f| f.ignore("xattr.user.*"))
            .and_then(|f| f.ignore("nothing"))
            .expect("valid");
        let r = f.apply(report());
        let kinds: Vec<Kind> = r.differences.iter().map(|d| d.kind()).collect();
        assert_eq!(
            kinds,
            [
                Kind::Image,
                Kind::Image,
                Kind::Mode,
                Kind::Attribute,
                Kind::Attribute
            ]
        );
        assert!(r.problems.is_empty());
        let filtered = r.filtered.expect("filtered recorded");
        assert_eq!((filtered.differences, filtered.problems), (3, 1));
        let per_rule: Vec<(u64, u64)> = filtered
            .rules
            .iter()
            .map(|r| (r.differences, r.problems))
            .collect();
        assert_eq!(per_rule, [(1, 1), (1, 0), (1, 0), (0, 0)]);
        assert_eq!(
            filtered.by_kind,
            BTreeMap::from([("mtime".into(), 1), ("uid".into(), 1), ("xattr".into(), 1)])
        );
        let line = filtered.describe();
        assert!(line.starts_with("3 difference(s) hidden by filters, and 1 problem(s): "));
        assert!(line.contains("--exclude /s:/d 1 (+1 problem(s))"), "{line}");
        assert!(line.ends_with("; hid nothing: --ignore nothing"), "{line}");
        assert!(!r.identical);
    }

    #[test]
    fn semantic_hides_times_ownership_and_packing_only() {
        let r = Filter::new().semantic().apply(report());
        let left: Vec<(Kind, Option<String>)> = r
            .differences
            .iter()
            .map(|d| (d.kind(), d.field().map(|f| f.into_owned())))
            .collect();
        assert_eq!(
            left,
            [
                (Kind::Mode, None),
                (Kind::Xattr, Some("user.x".into())),
                (Kind::Attribute, Some("odd_time".into()))
            ]
        );
        assert_eq!(r.problems.len(), 1, "semantic rules hide no problem");
        let filtered = r.filtered.expect("filtered");
        assert_eq!(filtered.differences, 5);
        assert!(!filtered.describe().contains("hid nothing"));
    }

    #[test]
    fn nothing_left_is_identical_and_kind_names_match() {
        let f = Filter::new()
            .ignore("image")
            .and_then(|f| f.ignore("attribute"))
            .and_then(|f| f.ignore("size"))
            .expect("valid");
        let r = f.apply(report());
        assert_eq!(r.differences.len(), 4);
        let all = Filter::new().exclude("**").expect("valid").apply(report());
        assert!(all.identical && all.differences.is_empty() && all.problems.is_empty());
    }
}
