//! Rock Ridge (RRIP 1.10 and 1.12): POSIX attributes, names, symlinks, times and
//! directory relocation and zisofs compression (`ZF`), decoded from SUSP entries.
//! Entries we do not interpret (AL, AA, SF and unknown ones) are kept raw so they
//! can still be compared.

use std::borrow::Cow;

use super::attrs;
use super::raw::Both32;
use super::raw::{LongDate, LongStamp, RecordDate, RecordStamp};
use super::susp::SuspEntry;
use crate::model::span::{Explain, Key};
use crate::model::structure::{field_at, structure, Array, Encoding, Raw, U8};
use crate::model::{Fact, Value};

structure! {
    /// An `SP` entry (SUSP 5.3), in the root's `.` record: SUSP is used.
    pub(crate) struct SpEntry[7] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        /// 0xBE 0xEF.
        check: 4, 2, Array<2>, "check bytes", Explain::Nothing;
        skip: 6, 1, U8, "skip length", Explain::Nothing;
    }
}

structure! {
    /// A `PX` entry (RRIP 4.1.1): POSIX attributes. RRIP 1.09 ends it before
    /// the serial number.
    pub(crate) struct PxEntry[44] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        mode: 4, 8, Both32, "mode", Explain::Entry(&[Key::MODE, Key::TYPE]);
        nlink: 12, 8, Both32, "link count", Explain::Entry(&[Key::NLINK, Key::Children]);
        uid: 20, 8, Both32, "uid", Explain::Entry(&[Key::UID]);
        gid: 28, 8, Both32, "gid", Explain::Entry(&[Key::GID]);
        ino: 36, 8, Both32, "serial number", Explain::Placement;
    }
}

/// How long a `PX` entry of RRIP 1.09 is: up to its serial number.
pub(crate) const PX_RRIP_109: usize = field_at(PxEntry::FIELDS, "serial number") as usize;

structure! {
    /// A `PN` entry (RRIP 4.1.2): a device's number, in two halves, one
    /// field for the accounting.
    pub(crate) struct PnEntry[20] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        high: 4, 8, Both32, "device number", Explain::Entry(&[Key::RDEV, Key::Attribute(attrs::RR_PN)]);
        low: 12, 8, Both32, "device number", Explain::Entry(&[Key::RDEV, Key::Attribute(attrs::RR_PN)]);
    }
}

structure! {
    /// A `CL` or `PL` entry (RRIP 4.1.5): the block of a relocated directory,
    /// or of its parent.
    pub(crate) struct LinkEntry[12] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        location: 4, 8, Both32, "location", Explain::Placement;
    }
}

structure! {
    /// An `NM` entry (RRIP 4.1.4) before its name, which runs to the entry's
    /// end.
    pub(crate) struct NmEntry[5] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        /// Continued in the next `NM` (bit 0), or `.` (bit 1) or `..` (bit 2).
        flags: 4, 1, U8, "flags", Explain::Nothing;
    }
}

/// `NM` flags: the name is the current directory's (`.`), the parent's
/// (`..`), or neither.
const NM_CURRENT: u8 = 0x02;
const NM_PARENT: u8 = 0x04;

structure! {
    /// An `SL` entry (RRIP 4.1.3) before its component records, which run to
    /// the entry's end.
    pub(crate) struct SlEntry[5] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        /// Continued in the next `SL` (bit 0).
        flags: 4, 1, U8, "flags", Explain::Entry(&[Key::SYMLINK]);
    }
}

structure! {
    /// A component record of an `SL` entry, before its `len` bytes of text.
    pub(crate) struct SlComponent[2] {
        /// Continued (bit 0), `.` (bit 1), `..` (bit 2), the root (bit 3).
        flags: 0, 1, U8, "component flags", Explain::Entry(&[Key::SYMLINK]);
        len: 1, 1, U8, "component length", Explain::Entry(&[Key::SYMLINK]);
    }
}

/// `SL` component flags.
mod component {
    pub const CONTINUE: u8 = 0x01;
    pub const CURRENT: u8 = 0x02;
    pub const PARENT: u8 = 0x04;
    pub const ROOT: u8 = 0x08;
}

structure! {
    /// A `TF` entry (RRIP 4.1.6) before its stamps, one per flag bit set, in
    /// the order of the bits.
    pub(crate) struct TfEntry[5] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        /// Which stamps follow (bits 0 to 6), and their form (bit 7: long).
        flags: 4, 1, U8, "flags", Explain::Nothing;
    }
}

/// `TF` flag of stamps in the 17-byte form.
const TF_LONG_FORM: u8 = 0x80;

impl TfEntry<'_> {
    /// Bytes of each stamp: the 17-byte form, or the 7-byte one.
    pub(crate) fn stamp_len(&self) -> usize {
        if self.flags() & TF_LONG_FORM != 0 {
            LongStamp::LEN
        } else {
            RecordStamp::LEN
        }
    }

    /// The stamps present, in flag-bit order.
    pub(crate) fn stamps(&self) -> impl Iterator<Item = &'static attrs::TfStamp> {
        let flags = self.flags();
        attrs::TF
            .iter()
            .enumerate()
            .filter(move |(bit, _)| flags & (1 << bit) != 0)
            .map(|(_, s)| s)
    }
}

structure! {
    /// An `RR` entry (RRIP 1.09 4.1.7): which Rock Ridge entries the record
    /// holds.
    pub(crate) struct RrEntry[5] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        flags: 4, 1, U8, "flags", Explain::Entry(&[Key::Attribute(attrs::RR_FLAGS)]);
    }
}

structure! {
    /// An `ER` entry (SUSP 5.5) before its three texts: identifier,
    /// descriptor and source, of the lengths it gives, one after another.
    /// The version's attribute is named under the ER's number among the
    /// record's (`susp.er1.version`), which the byte layout adds.
    pub(crate) struct ErEntry[8] {
        /// [`super::susp::SuspHeader`].
        header: 0, 4, Raw, "header", Explain::Derived;
        /// Identifier, descriptor and source lengths.
        lengths: 4, 3, Array<3>, "text lengths", Explain::Derived;
        version: 7, 1, U8, "extension version", Explain::EntryAttribute(Cow::Borrowed("version"));
    }
}

impl ErEntry<'_> {
    /// The identifier, descriptor and source, from `d`, the whole entry
    /// (empty where it ends before them).
    pub(crate) fn texts<'d>(&self, d: &'d [u8]) -> [&'d [u8]; 3] {
        let mut at = Self::LEN;
        self.lengths().map(|len| {
            let len = usize::from(len);
            let text = d.get(at..at + len).unwrap_or_default();
            at += len;
            text
        })
    }
}

/// POSIX file attributes (`PX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Px {
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    /// File serial number, only in the 44-byte RRIP 1.12 form.
    pub ino: Option<u32>,
}

/// What the Rock Ridge entries of one directory record say.
#[derive(Debug, Clone, Default)]
pub(crate) struct RockRidge {
    pub px: Option<Px>,
    /// Device number words (`PN`) as stored: high, low.
    pub pn: Option<(u32, u32)>,
    /// Alternate name (`NM`), continuations joined.
    pub name: Option<Vec<u8>>,
    /// Symbolic link target (`SL`), components joined.
    pub target: Option<Vec<u8>>,
    /// TF stamps that are present, by name.
    pub stamps: Vec<(&'static str, Value)>,
    /// Child link (`CL`): this placeholder stands for the directory at this block.
    pub child_link: Option<u32>,
    /// Parent link (`PL`).
    pub parent_link: Option<u32>,
    /// Relocated directory (`RE`): hidden at this place, shown where its `CL` is.
    pub relocated: bool,
    /// `SP` skip length (only in the root's `.` record).
    pub sp_skip: Option<u8>,
    /// zisofs compression of the file's data (`ZF`).
    pub zf: Option<super::zisofs::Zf>,
    /// Everything else, as facts (ER texts, RR flags, raw unknown entries).
    pub other: Vec<Fact>,
    /// Entries that could not be decoded.
    pub problems: Vec<String>,
    /// Oddities read leniently (see [`super::oddity`]): kind and offset.
    pub oddities: Vec<(&'static str, u64)>,
}

impl RockRidge {
    /// The TF stamp with this name.
    pub(crate) fn stamp(&self, name: &str) -> Option<&Value> {
        self.stamps.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// Decodes the Rock Ridge meaning of `entries`.
pub(crate) fn decode(entries: &[SuspEntry<'_>]) -> RockRidge {
    let mut rr = RockRidge::default();
    let mut name: Option<Vec<u8>> = None;
    let mut link = SymlinkBuilder::default();
    let mut er_count = 0;
    for e in entries {
        let d = e.data;
        let need = |rr: &mut RockRidge, n: usize| {
            let ok = d.len() >= n;
            if !ok {
                rr.problems.push(format!(
                    "{} entry at byte {} has {} bytes, needs {n}",
                    String::from_utf8_lossy(&e.sig),
                    e.offset,
                    d.len()
                ));
            }
            ok
        };
        match &e.sig {
            b"SP" if need(&mut rr, SpEntry::LEN) => {
                let sp = SpEntry::new(d);
                if let Some(sp) = sp.filter(|sp| sp.check() == [0xbe, 0xef]) {
                    rr.sp_skip = Some(sp.skip());
                } else {
                    rr.problems.push(format!(
                        "SP entry at byte {} lacks its BE EF check bytes",
                        e.offset
                    ));
                }
            }
            b"PX" if need(&mut rr, PX_RRIP_109) => {
                // Read through a copy as long as RRIP 1.12's entry: 1.09's
                // has no serial number, which is then not read.
                let mut b = [0; PxEntry::LEN];
                let n = d.len().min(PxEntry::LEN);
                b[..n].copy_from_slice(&d[..n]);
                let px = PxEntry::from_array(&b);
                rr.px = Some(Px {
                    mode: px.mode().0,
                    nlink: px.nlink().0,
                    uid: px.uid().0,
                    gid: px.gid().0,
                    ino: (n == PxEntry::LEN).then(|| px.ino().0),
                });
            }
            b"PN" if need(&mut rr, PnEntry::LEN) => {
                rr.pn = PnEntry::new(d).map(|p| (p.high().0, p.low().0));
            }
            b"NM" if need(&mut rr, NmEntry::LEN) => {
                let Some(nm) = NmEntry::new(d) else { continue };
                let part: &[u8] = match nm.flags() & (NM_CURRENT | NM_PARENT) {
                    NM_CURRENT => b".",
                    NM_PARENT => b"..",
                    _ => d.get(NmEntry::LEN..).unwrap_or_default(),
                };
                name.get_or_insert_with(Vec::new).extend_from_slice(part);
            }
            b"SL" if need(&mut rr, SlEntry::LEN) => link.add(
                d.get(SlEntry::LEN..).unwrap_or_default(),
                e.offset,
                &mut rr.problems,
            ),
            b"TF" if need(&mut rr, TfEntry::LEN) => {
                let Some(tf) = TfEntry::new(d) else { continue };
                let width = tf.stamp_len();
                let mut at = TfEntry::LEN;
                for stamp in tf.stamps() {
                    // Stamps come in flag order, so a short entry lacks the
                    // last ones: those that fit are read (NetBSD makefs writes
                    // every TF one byte short), and the oddity is said.
                    let Some(raw) = d.get(at..at + width) else {
                        rr.oddities.push((super::oddity::SHORT_TF, e.offset));
                        break;
                    };
                    let v = if width == LongStamp::LEN {
                        LongDate::read(raw, stamp.name)
                    } else {
                        RecordDate::read(raw, stamp.name)
                    };
                    rr.stamps.push((stamp.name, v));
                    at += width;
                }
            }
            b"CL" | b"PL" if need(&mut rr, LinkEntry::LEN) => {
                let location = LinkEntry::new(d).map(|l| l.location().0);
                match &e.sig {
                    b"CL" => rr.child_link = location,
                    _ => rr.parent_link = location,
                }
            }
            b"RE" => rr.relocated = true,
            // zisofs2 files are marked by `ZF` of version 2, or by `Z2`
            // (which kernels that know only version 1 ignore).
            b"ZF" | b"Z2" if need(&mut rr, super::zisofs::ZfEntry::LEN) => {
                rr.zf = super::zisofs::Zf::parse(&e.sig, d)
            }
            b"RR" if need(&mut rr, RrEntry::LEN) => {
                if let Some(flags) = RrEntry::new(d).map(|r| r.flags()) {
                    rr.other
                        .push(Fact::new(attrs::RR_FLAGS, Value::Int(u64::from(flags))));
                }
            }
            b"ER" if need(&mut rr, ErEntry::LEN) => {
                let Some(entry) = ErEntry::new(d) else {
                    continue;
                };
                er_count += 1;
                let text = |t: &[u8]| Value::Text(String::from_utf8_lossy(t).into_owned());
                let [id, descriptor, source] = entry.texts(d);
                let er = |what| attrs::er(er_count, what);
                rr.other.push(Fact::new(er("id"), text(id)));
                rr.other.push(Fact::new(er("descriptor"), text(descriptor)));
                rr.other.push(Fact::new(er("source"), text(source)));
                rr.other.push(Fact::new(
                    er("version"),
                    Value::Int(u64::from(entry.version())),
                ));
            }
            // Continuation and padding are structure, not content.
            b"CE" | b"PD" | b"ES" => {}
            sig => rr
                .other
                .push(Fact::new(attrs::other_susp(sig), Value::Bytes(d.to_vec()))),
        }
    }
    rr.name = name;
    rr.target = link.finish();
    rr
}

/// Joins `SL` components the way the Linux kernel and libarchive do: a slash after
/// each component that is neither the root nor continued in the next one.
#[derive(Debug, Default)]
struct SymlinkBuilder {
    target: Option<Vec<u8>>,
    /// Whether a separator is owed before the next component.
    pending_slash: bool,
}

impl SymlinkBuilder {
    fn add(&mut self, mut comps: &[u8], offset: u64, problems: &mut Vec<String>) {
        let target = self.target.get_or_insert_with(Vec::new);
        while let Some(comp) = SlComponent::new(comps) {
            let (flags, len) = (comp.flags(), usize::from(comp.len()));
            let Some(text) = comps.get(SlComponent::LEN..SlComponent::LEN + len) else {
                problems.push(format!(
                    "SL entry at byte {offset}: component overruns the entry"
                ));
                return;
            };
            if self.pending_slash {
                target.push(b'/');
            }
            let root = flags & component::ROOT != 0;
            match flags & (component::CURRENT | component::PARENT | component::ROOT) {
                component::CURRENT => target.extend_from_slice(b"."),
                component::PARENT => target.extend_from_slice(b".."),
                component::ROOT => target.push(b'/'),
                _ => target.extend_from_slice(text),
            }
            self.pending_slash = !root && flags & component::CONTINUE == 0;
            comps = comps.get(SlComponent::LEN + len..).unwrap_or_default();
        }
    }

    fn finish(self) -> Option<Vec<u8>> {
        self.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entries_are_declared_byte_by_byte() {
        use crate::model::structure::check_table;
        for (fields, len) in [
            (SpEntry::FIELDS, SpEntry::LEN),
            (PxEntry::FIELDS, PxEntry::LEN),
            (PnEntry::FIELDS, PnEntry::LEN),
            (LinkEntry::FIELDS, LinkEntry::LEN),
            (NmEntry::FIELDS, NmEntry::LEN),
            (SlEntry::FIELDS, SlEntry::LEN),
            (SlComponent::FIELDS, SlComponent::LEN),
            (TfEntry::FIELDS, TfEntry::LEN),
            (RrEntry::FIELDS, RrEntry::LEN),
            (ErEntry::FIELDS, ErEntry::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    fn entries(raw: &[(&[u8; 2], Vec<u8>)]) -> Vec<(Vec<u8>, [u8; 2])> {
        raw.iter()
            .map(|(sig, body)| {
                let mut e = vec![sig[0], sig[1], (body.len() + 4) as u8, 1];
                e.extend_from_slice(body);
                (e, **sig)
            })
            .collect()
    }

    fn decode_raw(raw: &[(&[u8; 2], Vec<u8>)]) -> RockRidge {
        let owned = entries(raw);
        let list: Vec<SuspEntry<'_>> = owned
            .iter()
            .map(|(data, sig)| SuspEntry {
                sig: *sig,
                version: 1,
                data,
                offset: 0,
            })
            .collect();
        decode(&list)
    }

    fn both(v: u32) -> Vec<u8> {
        let mut b = v.to_le_bytes().to_vec();
        b.extend_from_slice(&v.to_be_bytes());
        b
    }

    #[test]
    fn px_both_forms() {
        let mut body: Vec<u8> = [0o104755, 1, 1000, 100]
            .iter()
            .flat_map(|&v| both(v))
            .collect();
        let rr = decode_raw(&[(b"PX", body.clone())]);
        assert_eq!(
            rr.px,
            Some(Px {
                mode: 0o104755,
                nlink: 1,
                uid: 1000,
                gid: 100,
                ino: None
            })
        );
        body.extend(both(77));
        let rr = decode_raw(&[(b"PX", body)]);
        assert_eq!(rr.px.and_then(|p| p.ino), Some(77));
    }

    #[test]
    fn nm_continues() {
        let rr = decode_raw(&[
            (b"NM", b"\x01long-".to_vec()),
            (b"NM", b"\x00name".to_vec()),
        ]);
        assert_eq!(rr.name.as_deref(), Some(&b"long-name"[..]));
    }

    #[test]
    fn sl_components() {
        // /usr/../lib/libfoo.so.1 split over two SL entries, the last name continued.
        let first = b"\x01\x08\x00\x00\x03usr\x04\x00\x00\x03lib\x01\x07libfoo.".to_vec();
        let second = b"\x00\x00\x04so.1".to_vec();
        let rr = decode_raw(&[(b"SL", first), (b"SL", second)]);
        assert_eq!(rr.target.as_deref(), Some(&b"/usr/../lib/libfoo.so.1"[..]));
        let rel = b"\x00\x02\x00\x00\x03bin".to_vec();
        let rr = decode_raw(&[(b"SL", rel)]);
        assert_eq!(rr.target.as_deref(), Some(&b"./bin"[..]));
    }

    #[test]
    fn tf_in_flag_bit_order() {
        // modify and access, short form: bit 1 comes first.
        let mut body = vec![0x06];
        body.extend_from_slice(&[80, 1, 1, 0, 0, 0, 0]);
        body.extend_from_slice(&[70, 1, 1, 0, 0, 1, 0]);
        let rr = decode_raw(&[(b"TF", body)]);
        let t = |n| match rr.stamp(n) {
            Some(Value::Time(t)) => t.rfc3339(),
            other => format!("{other:?}"),
        };
        assert_eq!(t("modify"), "1980-01-01T00:00:00Z");
        assert_eq!(t("access"), "1970-01-01T00:00:01Z");
        assert_eq!(rr.stamp("creation"), None);
    }

    #[test]
    fn truncated_entries_are_problems_not_panics() {
        let rr = decode_raw(&[(b"PX", vec![1, 2, 3]), (b"TF", vec![0x83, 1, 2])]);
        assert!(rr.px.is_none());
        assert_eq!(rr.problems.len(), 1);
        // A short TF is read as far as it goes, and said as an oddity.
        assert_eq!(rr.oddities.len(), 1);
        assert!(rr.stamps.is_empty());
    }

    #[test]
    fn makefs_short_tf_keeps_the_stamps_that_fit() {
        // NetBSD makefs: modify, access and attributes flagged, 20 of 21 bytes.
        let mut body = vec![0x0e];
        body.extend_from_slice(&[80, 1, 1, 0, 0, 0, 0]);
        body.extend_from_slice(&[70, 1, 1, 0, 0, 1, 0]);
        body.extend_from_slice(&[70, 1, 1, 0, 0, 2]);
        let rr = decode_raw(&[(b"TF", body)]);
        assert!(rr.problems.is_empty());
        assert_eq!(rr.oddities.len(), 1);
        assert_eq!(
            rr.stamps.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["modify", "access"]
        );
    }

    #[test]
    fn unknown_entries_are_kept() {
        let rr = decode_raw(&[(b"AL", b"pz\x02\x0f\x00".to_vec())]);
        assert_eq!(rr.other.len(), 1);
        assert_eq!(rr.other[0].name, "susp.AL");
    }

    #[test]
    fn zf_is_decoded() {
        let mut body = b"pz\x04\x0f".to_vec();
        body.extend(both(728_894));
        let rr = decode_raw(&[(b"ZF", body)]);
        assert!(rr.other.is_empty());
        let zf = rr.zf.unwrap();
        assert_eq!((zf.size, zf.log2_block, zf.header_words), (728_894, 15, 4));
        assert!(zf.decodable());
    }
}
