//! ar archives (`!<arch>`): Debian packages (`.deb`: `debian-binary`,
//! `control.tar.*`, `data.tar.*`) and static libraries, read as one directory
//! of members, so that a differing package is compared member by member
//! (`/pool/x.deb:/data.tar.xz`), each member's content then compared as any
//! file's (a compressed member by its decompressed content).
//!
//! Layout: the 8-byte magic, then for each member a 60-byte header (name 16,
//! mtime 12 decimal, uid 6, gid 6, mode 8 octal, size 10 decimal, `` `\n ``)
//! and its data, padded to an even offset. GNU names end with `/`; `/` is the
//! symbol table and `//` the table of long names, which `/N` names point into;
//! BSD's `#1/N` puts a name of N bytes in front of the data. Every number is
//! checked; a damaged header ends the listing with an error of the root, the
//! members before it still listed.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::span::{EntryPath, Explain, Key, Layout, Owner, Span};
use crate::model::structure::{fields_at, structure, Raw};
use crate::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};
use crate::time::Timestamp;

structure! {
    /// A member header: text fields padded with spaces (decimal, the mode
    /// octal), as `ar` and `dpkg-deb` write them.
    pub(crate) struct Header[60] {
        name: 0, 16, Raw, "name", Explain::Entry(&[Key::Added, Key::Removed, Key::Content]);
        mtime: 16, 12, Raw, "mtime", Explain::Entry(&[Key::MTIME]);
        uid: 28, 6, Raw, "uid", Explain::Entry(&[Key::UID]);
        gid: 34, 6, Raw, "gid", Explain::Entry(&[Key::GID]);
        mode: 40, 8, Raw, "mode", Explain::Entry(&[Key::MODE]);
        size: 48, 10, Raw, "size", Explain::Entry(&[Key::SIZE, Key::Content, Key::Nested]);
        /// `` `\n ``.
        end: 58, 2, Raw, "end", Explain::Nothing;
    }
}

/// The magic an ar archive starts with.
pub const MAGIC: &[u8] = b"!<arch>\n";

/// True when `data` starts like an ar archive.
pub fn sniff(data: &[u8]) -> bool {
    data.starts_with(MAGIC)
}

/// One member.
struct Member {
    entry: Entry,
    /// Where its 60-byte header starts.
    header: usize,
    data: Range<usize>,
}

/// An ar archive as a directory of its members.
pub struct ArFs<'a> {
    data: &'a [u8],
    root: Meta,
    /// Sorted by name.
    members: Vec<Member>,
    /// What ended the listing early.
    error: Option<Error>,
}

/// A decimal or octal field of a header: ASCII digits, space padded.
fn number(field: &[u8], radix: u32) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?.trim_end_matches(' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, radix).ok()
}

impl<'a> ArFs<'a> {
    /// Reads the members of the archive in `data`.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<ArFs<'a>> {
        if !sniff(data) {
            return Err(Error::malformed("ar header", 0, "no !<arch> magic"));
        }
        let mut fs = ArFs {
            data,
            root: Meta::new(EntryKind::Dir),
            members: Vec::new(),
            error: None,
        };
        if let Err(e) = fs.read(limits) {
            fs.error = Some(e);
        }
        fs.members.sort_by(|x, y| x.entry.name.cmp(&y.entry.name));
        for (i, m) in fs.members.iter_mut().enumerate() {
            m.entry.node = NodeId(i as u64 + 1);
        }
        Ok(fs)
    }

    fn read(&mut self, limits: &Limits) -> Result<()> {
        let data = self.data;
        let mut at = MAGIC.len();
        let mut long_names: &[u8] = &[];
        while at < data.len() {
            let bad = |why: &str| Error::malformed("ar member header", at as u64, why);
            let h = data
                .get(at..)
                .and_then(Header::new)
                .ok_or_else(|| bad("cut short"))?;
            if h.end() != b"`\n" {
                return Err(bad("no `\\n at its end"));
            }
            let size = number(h.size(), 10).ok_or_else(|| bad("size is not a number"))?;
            let start = at + Header::LEN;
            let end = usize::try_from(size)
                .ok()
                .and_then(|s| start.checked_add(s))
                .filter(|&e| e <= data.len())
                .ok_or_else(|| bad("its data runs past the end"))?;
            let raw = h.name();
            let raw_name = std::str::from_utf8(raw).unwrap_or("").trim_end_matches(' ');
            let mut body = start..end;
            let name: Vec<u8> = if raw_name == "/" || raw_name == "/SYM64/" {
                b"/".to_vec()
            } else if raw_name == "//" {
                long_names = &data[start..end];
                b"//".to_vec()
            } else if let Some(n) = raw_name.strip_prefix("#1/") {
                let n = n.parse::<usize>().map_err(|_| bad("BSD name length"))?;
                let name_end = start
                    .checked_add(n)
                    .filter(|&e| e <= end)
                    .ok_or_else(|| bad("BSD name"))?;
                body = name_end..end;
                let name = &data[start..name_end];
                name.split(|&b| b == 0).next().unwrap_or_default().to_vec()
            } else if let Some(n) = raw_name.strip_prefix('/') {
                let off = n.parse::<usize>().map_err(|_| bad("long name offset"))?;
                let rest = long_names
                    .get(off..)
                    .ok_or_else(|| bad("long name past its table"))?;
                let name = rest.split(|&b| b == b'\n').next().unwrap_or_default();
                name.strip_suffix(b"/").unwrap_or(name).to_vec()
            } else {
                let n = raw
                    .iter()
                    .rposition(|&b| b != b' ')
                    .map_or(&raw[..0], |i| &raw[..=i]);
                n.strip_suffix(b"/").unwrap_or(n).to_vec()
            };
            if self.members.len() as u64 >= limits.max_entries {
                return Err(Error::LimitExceeded {
                    limit: "entries",
                    value: self.members.len() as u64 + 1,
                    max: limits.max_entries,
                });
            }
            let mut meta = Meta::new(EntryKind::File);
            meta.size = body.len() as u64;
            meta.mtime = number(h.mtime(), 10)
                .and_then(|t| i64::try_from(t).ok())
                .map(Timestamp::from_unix);
            meta.uid = number(h.uid(), 10).and_then(|n| u32::try_from(n).ok());
            meta.gid = number(h.gid(), 10).and_then(|n| u32::try_from(n).ok());
            meta.mode = number(h.mode(), 8).map(|m| (m & 0o7777) as u32);
            self.members.push(Member {
                entry: Entry {
                    name,
                    node: NodeId(0),
                    meta,
                    attrs: Vec::new(),
                },
                header: at,
                data: body,
            });
            at = end + (end & 1);
        }
        Ok(())
    }
}

impl ArFs<'_> {
    /// The span of every structure: the magic, each member's header (field by
    /// field), its name (BSD), its data and its padding byte.
    fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let span = |start: usize, len: usize, owner: Owner| Span {
            start: start as u64,
            len: len as u64,
            owner,
        };
        l.push(span(
            0,
            MAGIC.len(),
            Owner::new("ar magic", "ar magic", Explain::Nothing),
        ));
        for m in &self.members {
            let mut path = b"/".to_vec();
            path.extend_from_slice(&m.entry.name);
            let shown = String::from_utf8_lossy(&path).into_owned();
            let path = EntryPath::from(path);
            let e = |keys| Explain::Entry(keys);
            let header = Owner::new(
                "ar member header",
                format!("ar header of {shown}"),
                Explain::Nothing,
            )
            .of(&path)
            .with_fields(fields_at(Header::FIELDS, 0));
            l.push(span(m.header, Header::LEN, header));
            // A BSD name sits between the header and the data.
            let name_len = m.data.start - (m.header + Header::LEN);
            if name_len > 0 {
                let owner = Owner::new(
                    "ar member name",
                    format!("ar name of {shown}"),
                    e(&[Key::Added, Key::Removed]),
                );
                l.push(span(m.header + Header::LEN, name_len, owner.of(&path)));
            }
            let data = Owner::new(
                "ar member data",
                format!("data of {shown}"),
                e(&[Key::Content, Key::SIZE, Key::Nested]),
            );
            l.push(span(m.data.start, m.data.len(), data.of(&path)));
            if m.data.end & 1 == 1 && m.data.end < self.data.len() {
                let pad = Owner::new(
                    "ar padding",
                    format!("padding after {shown}"),
                    Explain::Nothing,
                );
                l.push(span(m.data.end, 1, pad));
            }
        }
        l
    }
}

impl Filesystem for ArFs<'_> {
    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.data)
    }

    fn byte_layout(&self) -> Result<Layout> {
        Ok(self.layout())
    }

    fn format(&self) -> Format {
        Format::Ar
    }

    fn facts(&self) -> &[Fact] {
        &[]
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.root
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        let mut listing = Listing::default();
        if dir == NodeId(0) {
            listing.entries = self.members.iter().map(|m| m.entry.clone()).collect();
            listing.errors.extend(
                self.error
                    .iter()
                    .map(|e| Error::malformed("ar archive", 0, e.to_string())),
            );
        }
        Ok(listing)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let m = usize::try_from(file.0)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.members.get(i))
            .ok_or_else(|| Error::malformed("ar member", 0, "no such member"))?;
        let bytes = self
            .data
            .get(m.data.clone())
            .ok_or_else(|| Error::malformed("ar member", m.data.start as u64, "past the end"))?;
        Ok(Content::Slices(vec![bytes]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_table_covers_the_header() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(Header::FIELDS, Header::LEN as u64), Ok(()));
    }

    fn header(name: &str, size: usize) -> Vec<u8> {
        format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            1700000000, 0, 0, "100644"
        )
        .into_bytes()
    }

    /// A `.deb` as dpkg-deb writes it, plus a GNU long name.
    fn deb() -> Vec<u8> {
        let mut a = MAGIC.to_vec();
        let long = b"a-rather-long-member-name.txt/\n";
        for (name, data) in [
            ("debian-binary", &b"2.0\n"[..]),
            ("control.tar.xz", &b"ctl"[..]),
            ("//", &long[..]),
            ("/0", &b"long!"[..]),
            ("data.tar.xz/", &b"data"[..]),
        ] {
            a.extend(header(name, data.len()));
            a.extend_from_slice(data);
            if data.len() % 2 == 1 {
                a.push(b'\n');
            }
        }
        a
    }

    #[test]
    fn lists_the_members_of_a_deb() {
        let data = deb();
        let Ok(fs) = ArFs::open(&data, &Limits::default()) else {
            panic!("not opened")
        };
        let listing = fs.children(fs.root()).unwrap_or_default();
        let names: Vec<String> = listing
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "//",
                "a-rather-long-member-name.txt",
                "control.tar.xz",
                "data.tar.xz",
                "debian-binary"
            ]
        );
        assert!(listing.errors.is_empty());
        let e = &listing.entries[3];
        assert_eq!(e.meta.mode, Some(0o644));
        assert_eq!(e.meta.mtime, Some(Timestamp::from_unix(1_700_000_000)));
        let c = fs
            .content(e.node)
            .ok()
            .and_then(|c| c.contiguous(100).ok().map(|b| b.to_vec()));
        assert_eq!(c.as_deref(), Some(&b"data"[..]));
    }

    #[test]
    fn damage_ends_the_listing_with_an_error() {
        let data = deb();
        for len in 0..data.len() {
            let Ok(fs) = ArFs::open(&data[..len], &Limits::default()) else {
                assert!(len < MAGIC.len());
                continue;
            };
            let _ = fs.children(fs.root());
        }
        let mut bad = deb();
        bad[8 + 48] = b'x'; // the first size
        let fs = ArFs::open(&bad, &Limits::default());
        let errors = fs.map(|f| f.children(NodeId(0)).map(|l| l.errors.len()).unwrap_or(0));
        assert_eq!(errors.ok(), Some(1));
        assert!(!sniff(b"!<arch"));
    }
}
