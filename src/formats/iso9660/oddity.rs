//! Oddities: what a producer writes against ECMA-119 or RRIP that libarchive
//! and xorriso read anyway, and so does this reader. Each is counted by kind
//! and said once per image as a warning ([`crate::Filesystem::warnings`]):
//! never accepted silently, never a problem (the image reads in full, so a
//! comparison of two such images is not trouble).
//!
//! Seen so far, all from NetBSD's makefs (`makefs -t cd9660`, Debian's
//! `makefs` 20190105):
//! - the root directory record in the primary descriptor has length 68 (the
//!   field is 34 bytes);
//! - with `-o rockridge`, every `TF` entry is one byte short of its last
//!   stamp (length 25 for three 7-byte stamps: 4 + 1 + 21 is 26);
//! - relocated directories carry `PL` but no `RE`, so a reader that trusts
//!   `RE` lists them twice.

use std::collections::BTreeMap;

/// A TF entry shorter than its flags say.
pub(crate) const SHORT_TF: &str =
    "Rock Ridge TF entries shorter than their flags say (NetBSD makefs writes them \
     one byte short); the stamps that fit were read, as libarchive reads them";
/// A root record whose length byte is not 34.
pub(crate) const LONG_ROOT_RECORD: &str =
    "the root directory record of a volume descriptor has a length byte other than 34 \
     (NetBSD makefs writes 68); its 34 bytes were read, as libarchive and xorriso read them";
/// A relocated directory without `RE`.
pub(crate) const RELOCATED_WITHOUT_RE: &str =
    "relocated directories have a PL entry but no RE (as NetBSD makefs writes them); \
     each is shown only where its CL entry places it";

/// Oddities met while reading one image: by kind, how many and the first offset.
#[derive(Debug, Default, Clone)]
pub(crate) struct Oddities {
    seen: BTreeMap<&'static str, (u64, u64)>,
}

impl Oddities {
    /// Counts one oddity of kind `what` at image offset `offset`.
    pub(crate) fn note(&mut self, what: &'static str, offset: u64) {
        let e = self.seen.entry(what).or_insert((0, offset));
        e.0 += 1;
        e.1 = e.1.min(offset);
    }

    /// Adds the oddities counted in `other`.
    pub(crate) fn merge(&mut self, other: &Oddities) {
        for (&what, &(count, first)) in &other.seen {
            let e = self.seen.entry(what).or_insert((0, first));
            e.0 += count;
            e.1 = e.1.min(first);
        }
    }

    /// One sentence per kind, with its count and first offset.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.seen
            .iter()
            .map(|(what, (count, first))| {
                let times = if *count == 1 {
                    format!("once, at byte {first}")
                } else {
                    format!("{count} times, first at byte {first}")
                };
                format!("{what} ({times})")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_by_kind_with_the_first_offset() {
        let mut o = Oddities::default();
        assert!(o.messages().is_empty());
        o.note(SHORT_TF, 500);
        o.note(SHORT_TF, 300);
        let mut other = Oddities::default();
        other.note(LONG_ROOT_RECORD, 32924);
        o.merge(&other);
        let m = o.messages();
        assert_eq!(m.len(), 2);
        assert!(
            m[0].starts_with("Rock Ridge TF") && m[0].ends_with("(2 times, first at byte 300)")
        );
        assert!(m[1].ends_with("(once, at byte 32924)"));
    }
}
