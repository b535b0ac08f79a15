//! tar archives (ustar, GNU and pax), most often met as a Debian package's
//! `data.tar.xz` (`/pool/x.deb:/data.tar.xz:/usr/bin/x`) or a source tarball,
//! read as the tree of their members.
//!
//! # Layout
//!
//! 512-byte blocks: each member is a header block (name 100, mode 8, uid 8,
//! gid 8, size 12, mtime 12, checksum 8, type 1, link name 100, magic 8, uname
//! 32, gname 32, devmajor 8, devminor 8, then ustar's 155-byte name prefix)
//! followed by its data padded to a whole block; two zero blocks end the
//! archive, and writers pad it further to a record (10 KiB for GNU tar).
//! Numbers are octal text, or base-256 (first byte's high bit set) for GNU's
//! large values. Extension members come before the member they describe: GNU
//! `L` (long name) and `K` (long link name), pax `x` (records `LEN key=value\n`
//! for the next member) and `g` (for all that follow).
//!
//! # From member paths to a tree
//!
//! tar stores paths, not directories, in any order and possibly more than
//! once. Paths lose a leading `/` or `./` and empty or `.` components; a path
//! with `..` is refused. A parent no member names is an implied directory with
//! the attribute `tar.implied`. A path that comes again replaces the earlier
//! member, as GNU tar extracts it. A hard link takes the metadata and content
//! of the member it names as that member stands at that point of the archive;
//! every member of a link group gets the group's link count.
//!
//! # What is compared
//!
//! Type, mode, uid, gid, mtime (with pax's fraction of a second when there is
//! one), atime and ctime from pax, size, symlink target, device numbers,
//! `SCHILY.xattr.*` records as extended attributes, and content (a slice of
//! the archive, never copied). User and group names are the attributes
//! `tar.uname` and `tar.gname`; other pax records `tar.pax.KEY`.
//!
//! # Untrusted input
//!
//! Every header's checksum is verified and every number must be octal or
//! base-256; a size must fit the archive. tar cannot be resynchronized after
//! a bad header, so one ends the reading there: what came before is listed and
//! the error is reported on the root directory; an archive whose first header
//! is bad does not open. A GNU sparse member is refused as an error of its
//! directory (its data is not the file's bytes). Entries are bounded by
//! [`Limits::max_entries`], depth by [`Limits::max_depth`], names, link names
//! and pax headers by [`MAX_EXTENSION`].

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::error::{Error, Result};
use crate::formats::tree::{
    self as arena, arena_node, components, occupy, slot, GrowingNode, Misplaced, Occupied,
};
use crate::limits::Limits;
use crate::model::span::{Attr, EntryPath, Explain, Key, Keys, Layout, Owner, Span};
use crate::model::structure::{fields_at, structure, Raw, U8};
use crate::model::{
    Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId, Value,
};
use crate::time::{Precision, Timestamp};

/// The size of a tar block.
const BLOCK: usize = 512;

/// A header's name fields: a change of them is a rename (an entry removed and
/// another added).
const NAME: Keys = &[Key::Added, Key::Removed];
/// Explained by the owner's name (an attribute of the entry).
const UNAME: Keys = &[Key::Attribute(Attr::new("tar.uname"))];
/// Explained by the group's name (an attribute of the entry).
const GNAME: Keys = &[Key::Attribute(Attr::new("tar.gname"))];

structure! {
    /// A header block: ustar's fields (GNU's and v7's use the same places for
    /// what they share), numbers as octal text or GNU's base-256.
    pub(crate) struct Header[512] {
        name: 0, 100, Raw, "name", Explain::Entry(NAME);
        mode: 100, 8, Raw, "mode", Explain::Entry(&[Key::MODE]);
        uid: 108, 8, Raw, "uid", Explain::Entry(&[Key::UID]);
        gid: 116, 8, Raw, "gid", Explain::Entry(&[Key::GID]);
        size: 124, 12, Raw, "size", Explain::Entry(&[Key::SIZE, Key::Content, Key::Nested]);
        mtime: 136, 12, Raw, "mtime", Explain::Entry(&[Key::MTIME]);
        checksum: 148, 8, Raw, "checksum", Explain::Derived;
        typeflag: 156, 1, U8, "type", Explain::Entry(&[Key::TYPE]);
        linkname: 157, 100, Raw, "linkname", Explain::Entry(&[Key::SYMLINK, Key::Content]);
        /// `ustar\0` and version `00` (POSIX), `ustar  \0` (GNU), zeros (v7).
        magic: 257, 8, Raw, "magic", Explain::Nothing;
        uname: 265, 32, Raw, "uname", Explain::Entry(UNAME);
        gname: 297, 32, Raw, "gname", Explain::Entry(GNAME);
        devmajor: 329, 8, Raw, "devmajor", Explain::Entry(&[Key::RDEV]);
        devminor: 337, 8, Raw, "devminor", Explain::Entry(&[Key::RDEV]);
        /// POSIX ustar's name prefix; GNU keeps other fields here.
        prefix: 345, 155, Raw, "prefix", Explain::Entry(NAME);
        padding: 500, 12, Raw, "padding", Explain::Nothing;
    }
}

/// The most bytes a GNU long name or a pax extended header may hold: names
/// are at most a few KiB (`PATH_MAX`), and an xattr record more rarely than a
/// megabyte; anything larger is damage or an attack on memory.
pub const MAX_EXTENSION: u64 = 1 << 20;

/// True when `data` starts with a tar header: the `ustar` magic at byte 257
/// and a valid checksum, or an old (v7) header whose checksum is valid and
/// whose numbers are octal. The checksum is required of both: a magic alone
/// could be any file's bytes.
pub fn sniff(data: &[u8]) -> bool {
    let Some(h) = Header::new(data) else {
        return false;
    };
    if !checksum_ok(h) || h.name().first() == Some(&0) {
        return false;
    }
    if h.magic().starts_with(b"ustar") {
        return true;
    }
    // v7: no magic, so more of the header must make sense.
    h.magic().iter().all(|&b| b == 0)
        && [h.mode(), h.uid(), h.gid(), h.size(), h.mtime()]
            .into_iter()
            .all(|f| octal(f).is_some())
}

/// Whether a header block's checksum field matches its bytes, summed as
/// unsigned bytes (POSIX) or as signed ones (some old writers), the field
/// itself counted as spaces.
///
/// The field must hold digits: an empty one reads as 0, which the signed sum
/// of a block of random bytes with zeros in the right places matches often
/// enough (one ELF file in 300,000 of a synthetic store was taken for a tar
/// archive and reported damaged), while no writer leaves it empty.
fn checksum_ok(h: Header<'_>) -> bool {
    let field = h.checksum();
    if !field.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let Some(stored) = octal(field) else {
        return false;
    };
    let sums = |b: &[u8]| {
        b.iter().fold((0u64, 0i64), |(u, s), &b| {
            (u + u64::from(b), s + i64::from(b as i8))
        })
    };
    // The field itself counts as spaces.
    let ((all_u, all_s), (field_u, field_s)) = (sums(h.bytes()), sums(field));
    let spaces = field.len() as u64 * u64::from(b' ');
    let unsigned = all_u - field_u + spaces;
    let signed = all_s - field_s + spaces as i64;
    stored == unsigned || i64::try_from(stored).is_ok_and(|s| s == signed)
}

/// An octal field: optional leading spaces, digits, then NULs or spaces.
/// An empty field is 0.
fn octal(field: &[u8]) -> Option<u64> {
    let text = field.split(|&b| b == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(text).ok()?.trim_matches(' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// A numeric field: octal, or GNU's base-256 (big-endian, first byte 0x80,
/// or 0xff for a negative number, which no field here may be).
fn number(field: &[u8]) -> Option<u64> {
    match field.first() {
        Some(0x80) => field[1..]
            .iter()
            .try_fold(0u64, |n, &b| n.checked_mul(256).map(|n| n | u64::from(b))),
        Some(0xff) => None,
        _ => octal(field),
    }
}

/// The bytes of a NUL-terminated text field.
fn text(field: &[u8]) -> &[u8] {
    field.split(|&b| b == 0).next().unwrap_or_default()
}

/// A pax time: decimal seconds, optionally negative, with a fraction of up to
/// nine digits (more are cut).
fn pax_time(value: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(value).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut secs: i64 = whole.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let mut nanos: u32 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    if neg {
        secs = -secs;
        if nanos > 0 {
            secs -= 1;
            nanos = 1_000_000_000 - nanos;
        }
    }
    let mut t = Timestamp::from_unix(secs);
    if !frac.is_empty() {
        t.nanos = nanos;
        t.precision = Precision::Nanoseconds;
    }
    Some(t)
}

/// The records of a pax extended header: `LEN key=value\n`, LEN counting the
/// whole record. A malformed record ends the header with an error.
fn pax_records(mut data: &[u8]) -> std::result::Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    // A header is padded with NULs to its block.
    while !data.is_empty() && data[0] != 0 {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("a record without a length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("a record length that is not a number")?;
        let record = data
            .get(space + 1..len)
            .filter(|r| r.last() == Some(&b'\n'))
            .ok_or("a record length past its header or without its newline")?;
        let record = &record[..record.len() - 1];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("a record without `=`")?;
        let key = String::from_utf8_lossy(&record[..eq]).into_owned();
        out.push((key, record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

/// One member as read, before the tree is built.
struct Member {
    /// Its path as stored (long name and pax `path` applied).
    name: Vec<u8>,
    /// The type flag.
    flag: u8,
    meta: Meta,
    attrs: Vec<Fact>,
    /// Link name: a symlink's target or the member a hard link names.
    link: Vec<u8>,
    /// Where its header block is.
    header: usize,
    /// Where the extension members describing it start (`header` when none).
    first: usize,
    data: Range<usize>,
    /// Why it is not unpacked (sparse, unknown type).
    refused: Option<String>,
}

/// The pax records in force for the next member.
#[derive(Default, Clone)]
struct Pax {
    records: Vec<(String, Vec<u8>)>,
}

impl Pax {
    fn get(&self, key: &str) -> Option<&[u8]> {
        self.records
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// Everything read from the archive's blocks.
struct Parsed {
    members: Vec<Member>,
    /// Where the end-of-archive zero blocks start, if any.
    end: Option<usize>,
    error: Option<Error>,
}

fn parse(data: &[u8], limits: &Limits) -> Parsed {
    let mut p = Parsed {
        members: Vec::new(),
        end: None,
        error: None,
    };
    if let Err(e) = read_members(data, limits, &mut p) {
        p.error = Some(e);
    }
    p
}

fn read_members(data: &[u8], limits: &Limits, p: &mut Parsed) -> Result<()> {
    let mut at = 0usize;
    let mut global = Pax::default();
    let mut local = Pax::default();
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut first = 0usize;
    while at < data.len() {
        let bad = |why: &str| Error::malformed("tar header", at as u64, why);
        let h = data
            .get(at..)
            .and_then(Header::new)
            .ok_or_else(|| bad("cut short"))?;
        if h.bytes().iter().all(|&b| b == 0) {
            p.end = Some(at);
            return Ok(());
        }
        if !checksum_ok(h) {
            return Err(bad("its checksum does not match its bytes"));
        }
        let mut size = number(h.size()).ok_or_else(|| bad("size is not a number"))?;
        let flag = h.typeflag();
        // pax's size replaces the header's for the member it describes (the
        // header's field cannot hold 8 GiB or more).
        if !matches!(flag, b'L' | b'K' | b'x' | b'g') {
            if let Some(v) = local.get("size").or_else(|| global.get("size")) {
                size = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| bad("pax size is not a number"))?;
            }
        }
        let start = at + BLOCK;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= data.len())
            .ok_or_else(|| bad("its data runs past the end of the archive"))?;
        let next = end.div_ceil(BLOCK) * BLOCK;
        let body = &data[start..end];
        let extension = |what: &'static str| -> Result<&[u8]> {
            crate::limits::check(what, size, MAX_EXTENSION)?;
            Ok(body)
        };
        match flag {
            b'L' => {
                long_name = Some(text(extension("GNU long name")?).to_vec());
            }
            b'K' => {
                long_link = Some(text(extension("GNU long link name")?).to_vec());
            }
            b'x' | b'g' => {
                let records = pax_records(extension("pax header")?).map_err(|e| bad(&e))?;
                if flag == b'x' {
                    local.records.extend(records);
                } else {
                    global.records.extend(records);
                }
            }
            _ => {
                if p.members.len() as u64 >= limits.max_entries {
                    return Err(Error::LimitExceeded {
                        limit: "entries",
                        value: p.members.len() as u64 + 1,
                        max: limits.max_entries,
                    });
                }
                let mut pax = global.clone();
                pax.records.append(&mut local.records);
                let m = member(h, flag, &pax, long_name.take(), long_link.take(), at, first)
                    .map_err(|e| bad(&e))?;
                let m = Member {
                    data: start..end,
                    ..m
                };
                p.members.push(m);
                first = next;
            }
        }
        at = next;
    }
    Ok(())
}

/// The member a header describes, with the extensions before it applied.
fn member(
    h: Header<'_>,
    flag: u8,
    pax: &Pax,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    header: usize,
    first: usize,
) -> std::result::Result<Member, String> {
    let ustar = h.magic().starts_with(b"ustar\0");
    let name = pax
        .get("path")
        .map(<[u8]>::to_vec)
        .or(long_name)
        .unwrap_or_else(|| {
            let name = text(h.name());
            let prefix = text(h.prefix());
            // Only POSIX ustar has the prefix; GNU keeps other fields there.
            if ustar && !prefix.is_empty() {
                [prefix, b"/", name].concat()
            } else {
                name.to_vec()
            }
        });
    let link = pax
        .get("linkpath")
        .map(<[u8]>::to_vec)
        .or(long_link)
        .unwrap_or_else(|| text(h.linkname()).to_vec());
    let field = |b: &[u8], what: &str| number(b).ok_or_else(|| format!("{what} is not a number"));
    let pax_num = |key: &str| -> std::result::Result<Option<u64>, String> {
        pax.get(key)
            .map(|v| {
                std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<u64>().ok())
                    .ok_or_else(|| format!("pax {key} is not a number"))
            })
            .transpose()
    };
    let mut refused = None;
    let kind = match flag {
        b'0' | 0 | b'7' | b'1' => EntryKind::File,
        b'2' => EntryKind::Symlink,
        b'3' => EntryKind::CharDevice,
        b'4' => EntryKind::BlockDevice,
        b'5' | b'D' => EntryKind::Dir,
        b'6' => EntryKind::Fifo,
        b'S' => {
            refused = Some("a GNU sparse file, which this reader does not unpack".to_string());
            EntryKind::File
        }
        other => {
            refused = Some(format!("type {:?} is not a file type", other as char));
            EntryKind::File
        }
    };
    if pax
        .records
        .iter()
        .any(|(k, _)| k.starts_with("GNU.sparse."))
    {
        refused = Some("a pax sparse file, which this reader does not unpack".to_string());
    }
    let mut meta = Meta::new(kind);
    meta.mode = Some((field(h.mode(), "mode")? & 0o7777) as u32);
    let uid = pax_num("uid")?.unwrap_or(field(h.uid(), "uid")?);
    let gid = pax_num("gid")?.unwrap_or(field(h.gid(), "gid")?);
    meta.uid = u32::try_from(uid).ok();
    meta.gid = u32::try_from(gid).ok();
    meta.mtime = match pax.get("mtime") {
        Some(v) => Some(pax_time(v).ok_or("pax mtime is not a time")?),
        None => i64::try_from(field(h.mtime(), "mtime")?)
            .ok()
            .map(Timestamp::from_unix),
    };
    meta.atime = pax.get("atime").and_then(pax_time);
    meta.ctime = pax.get("ctime").and_then(pax_time);
    if matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice) {
        let major = u32::try_from(field(h.devmajor(), "devmajor")?).map_err(|_| "devmajor")?;
        let minor = u32::try_from(field(h.devminor(), "devminor")?).map_err(|_| "devminor")?;
        meta.rdev = Some((major, minor));
    }
    if kind == EntryKind::Symlink {
        meta.target = Some(link.clone());
    }
    let mut xattrs = Vec::new();
    let mut attrs = Vec::new();
    let mut uname = text(h.uname()).to_vec();
    let mut gname = text(h.gname()).to_vec();
    for (k, v) in &pax.records {
        if let Some(x) = k.strip_prefix("SCHILY.xattr.") {
            xattrs.push((x.as_bytes().to_vec(), v.clone()));
            continue;
        }
        match k.as_str() {
            "uname" => uname = v.clone(),
            "gname" => gname = v.clone(),
            // Read into the entry's fields above.
            "path" | "linkpath" | "size" | "mtime" | "atime" | "ctime" | "uid" | "gid" => {}
            // Where the writer's file system kept the file: changes between
            // machines whatever the archive holds.
            "SCHILY.dev" | "SCHILY.ino" | "SCHILY.nlink" => attrs.push(Fact::layout(
                format!("tar.pax.{k}"),
                Value::Text(String::from_utf8_lossy(v).into_owned()),
            )),
            _ => attrs.push(Fact::new(
                format!("tar.pax.{k}"),
                Value::Text(String::from_utf8_lossy(v).into_owned()),
            )),
        }
    }
    // Later records of one key replace earlier ones.
    xattrs.sort();
    xattrs.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = later.1.clone();
            true
        } else {
            false
        }
    });
    meta.xattrs = xattrs;
    for (k, v) in [("tar.uname", uname), ("tar.gname", gname)] {
        if !v.is_empty() {
            attrs.push(Fact::new(
                k,
                Value::Text(String::from_utf8_lossy(&v).into_owned()),
            ));
        }
    }
    attrs.sort_by(|a, b| a.name.cmp(&b.name));
    attrs.dedup_by(|later, earlier| later.name == earlier.name);
    Ok(Member {
        name,
        flag,
        meta,
        attrs,
        link,
        header,
        first,
        data: 0..0,
        refused,
    })
}

/// One entry of the tree.
struct Node {
    entry: Entry,
    /// Children (indices into the tree), sorted by name.
    children: Vec<u32>,
    errors: Vec<Error>,
    parent: u32,
    /// A regular file's data in the archive.
    data: Option<Range<usize>>,
}

arena_node!(Node);
arena::parent_node!(Node);

struct Building {
    entry: Entry,
    children: BTreeMap<Vec<u8>, u32>,
    errors: Vec<Error>,
    parent: u32,
    data: Option<Range<usize>>,
    /// The link group it belongs to (the node a hard link named).
    group: Option<u32>,
}

impl GrowingNode for Building {
    fn kind(&self) -> EntryKind {
        self.entry.meta.kind
    }
    fn children_mut(&mut self) -> &mut BTreeMap<Vec<u8>, u32> {
        &mut self.children
    }
}

fn implied_dir(id: u32, parent: u32, name: Vec<u8>) -> Building {
    Building {
        entry: Entry {
            name,
            node: NodeId(u64::from(id)),
            meta: Meta::new(EntryKind::Dir),
            attrs: vec![Fact::new("tar.implied", Value::Bool(true))],
        },
        children: BTreeMap::new(),
        errors: Vec::new(),
        parent,
        data: None,
        group: None,
    }
}

/// Says which member an error is about.
fn about(m: &Member, reason: impl std::fmt::Display) -> Error {
    Error::malformed(
        "tar member",
        m.header as u64,
        format!("{:?}: {reason}", String::from_utf8_lossy(&m.name)),
    )
}

/// The node at `parts` below the root, if there is one.
fn find(nodes: &[Building], parts: &[&[u8]]) -> Option<u32> {
    let mut at = 0u32;
    for part in parts {
        at = *nodes.get(at as usize)?.children.get(*part)?;
    }
    Some(at)
}

fn build(p: &Parsed, limits: &Limits) -> Vec<Node> {
    let mut nodes: Vec<Building> = vec![implied_dir(0, 0, Vec::new())];
    nodes[0].entry.attrs.clear();
    let mut root_errors: Vec<Error> = Vec::new();
    for m in &p.members {
        let slot = match slot(&mut nodes, &m.name, limits.max_depth, implied_dir) {
            Ok(slot) => slot,
            Err(Misplaced::TooDeep(e)) => {
                root_errors.push(e);
                continue;
            }
            Err(why) => {
                let e = about(m, why.reason());
                match why.at() {
                    Some(dir) => nodes[dir as usize].errors.push(e),
                    None => root_errors.push(e),
                }
                continue;
            }
        };
        let parent = slot.parent;
        if let Some(why) = &m.refused {
            nodes[parent as usize].errors.push(about(m, why));
            continue;
        }
        let mut meta = m.meta.clone();
        let mut attrs = m.attrs.clone();
        let mut data = None;
        let mut group = None;
        if m.flag == b'1' {
            // A hard link: the linked member's metadata and content as they
            // stand now, under this member's name.
            let target = components(&m.link).and_then(|t| find(&nodes, &t));
            let Some(t) = target.filter(|&t| t != 0) else {
                let e = about(
                    m,
                    format!(
                        "a hard link to {:?}, which the archive does not hold before it",
                        String::from_utf8_lossy(&m.link)
                    ),
                );
                nodes[parent as usize].errors.push(e);
                continue;
            };
            let t = &nodes[t as usize];
            if t.entry.meta.kind == EntryKind::Dir {
                nodes[parent as usize]
                    .errors
                    .push(about(m, "a hard link to a directory"));
                continue;
            }
            meta = t.entry.meta.clone();
            attrs = t.entry.attrs.clone();
            data = t.data.clone();
            group = Some(t.group.unwrap_or(t.entry.node.0 as u32));
        } else if meta.kind == EntryKind::File {
            meta.size = m.data.len() as u64;
            data = Some(m.data.clone());
        }
        if meta.kind != EntryKind::Dir {
            meta.nlink = Some(1);
        }
        let id = match occupy(&mut nodes, slot, meta.kind, implied_dir) {
            Ok((id, dropped)) => {
                if let Some(lost) = dropped {
                    nodes[parent as usize].errors.push(about(
                        m,
                        format!("replaces a directory with {lost} entries, which are dropped"),
                    ));
                }
                id
            }
            Err(Occupied::RootNotDir) => {
                root_errors.push(about(m, "names the root but is not a directory"));
                continue;
            }
        };
        let node = &mut nodes[id as usize];
        node.entry.meta = meta;
        node.entry.attrs = attrs;
        node.data = data;
        node.group = group;
        if let Some(g) = group {
            if let Some(head) = nodes.get_mut(g as usize) {
                head.group = Some(g);
            }
        }
    }
    // Link counts: the members of each group that are still what the link
    // made them (a later member may have replaced one).
    let mut groups: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(g) = n.group {
            groups.entry(g).or_default().push(i as u32);
        }
    }
    for members in groups.values() {
        let n = u32::try_from(members.len()).unwrap_or(u32::MAX);
        for &i in members {
            nodes[i as usize].entry.meta.nlink = Some(n);
        }
    }
    if let Some(e) = &p.error {
        root_errors.push(e.clone());
    }
    nodes[0].errors.splice(0..0, root_errors);
    nodes
        .into_iter()
        .map(|b| Node {
            entry: b.entry,
            children: b.children.into_values().collect(),
            errors: b.errors,
            parent: b.parent,
            data: b.data,
        })
        .collect()
}

/// An opened tar archive.
pub struct TarFs<'a> {
    data: &'a [u8],
    nodes: Vec<Node>,
    facts: Vec<Fact>,
}

impl<'a> TarFs<'a> {
    /// Reads every member of the archive in `data`.
    ///
    /// Fails when the first header is unreadable; damage after it is an error
    /// of the root directory, the members before it listed.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<TarFs<'a>> {
        let mut parsed = parse(data, limits);
        if parsed.members.is_empty() && parsed.end.is_none() {
            if let Some(e) = parsed.error.take() {
                return Err(e);
            }
        }
        let mut facts = vec![Fact::new(
            "members",
            Value::Int(parsed.members.len() as u64),
        )];
        if let Some(end) = parsed.end {
            facts.push(Fact::layout(
                "end_padding_bytes",
                Value::Int((data.len() - end) as u64),
            ));
        }
        let nodes = build(&parsed, limits);
        Ok(TarFs { data, nodes, facts })
    }

    /// The span of every structure: each member's extension members, header
    /// (field by field), data and padding, and the end blocks.
    fn layout(&self) -> Layout {
        let mut l = Layout::new();
        let parsed = parse(self.data, &Limits::default().max_entries(u64::MAX));
        let span = |start: usize, len: usize, owner: Owner| Span {
            start: start as u64,
            len: len as u64,
            owner,
        };
        const EXT: Keys = &[
            Key::Added,
            Key::Removed,
            Key::SYMLINK,
            Key::SIZE,
            Key::MTIME,
            Key::ATIME,
            Key::CTIME,
            Key::UID,
            Key::GID,
            Key::Xattr,
            Key::Content,
        ];
        for m in &parsed.members {
            let mut path = b"/".to_vec();
            path.extend(components(&m.name).unwrap_or_default().join(&b"/"[..]));
            let shown = String::from_utf8_lossy(&path).into_owned();
            let path = EntryPath::from(path);
            let e = Explain::Entry;
            if m.first < m.header {
                let owner = Owner::new(
                    "tar extension members",
                    format!("tar long name or pax header of {shown}"),
                    e(EXT),
                );
                l.push(span(m.first, m.header - m.first, owner.of(&path)));
            }
            let header = Owner::new(
                "tar header",
                format!("tar header of {shown}"),
                Explain::Nothing,
            )
            .of(&path)
            .with_fields(fields_at(Header::FIELDS, 0));
            l.push(span(m.header, BLOCK, header));
            if !m.data.is_empty() {
                let data = Owner::new(
                    "tar member data",
                    format!("data of {shown}"),
                    e(&[Key::Content, Key::SIZE, Key::Nested]),
                );
                l.push(span(m.data.start, m.data.len(), data.of(&path)));
            }
            let padded = (m.data.end.div_ceil(BLOCK) * BLOCK).min(self.data.len());
            if padded > m.data.end {
                let pad = Owner::new(
                    "tar padding",
                    format!("padding after {shown}"),
                    Explain::Nothing,
                );
                l.push(span(m.data.end, padded - m.data.end, pad));
            }
        }
        if let Some(end) = parsed.end {
            let owner = Owner::new(
                "tar end",
                "tar end blocks and record padding",
                Explain::Nothing,
            );
            l.push(span(end, self.data.len() - end, owner));
        }
        l
    }
}

impl Filesystem for TarFs<'_> {
    fn format(&self) -> Format {
        Format::Tar
    }

    fn facts(&self) -> &[Fact] {
        &self.facts
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.nodes[0].entry.meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        arena::listing(&self.nodes, dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = arena::node(&self.nodes, file)?;
        let range = node
            .data
            .clone()
            .ok_or_else(|| Error::malformed("node handle", file.0, "not a regular file"))?;
        let bytes = self
            .data
            .get(range.clone())
            .ok_or_else(|| Error::malformed("tar member", range.start as u64, "past the end"))?;
        Ok(Content::Slices(vec![bytes]))
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.data)
    }

    fn byte_layout(&self) -> Result<Layout> {
        Ok(self.layout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ustar header block for `name` of type `flag` and `size` bytes, its
    /// checksum set.
    fn header(name: &str, flag: u8, size: u64, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[136..147].copy_from_slice(b"14524770400");
        h[156] = flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        seal(&mut h);
        h
    }

    fn seal(h: &mut [u8]) {
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    }

    fn member(a: &mut Vec<u8>, name: &str, flag: u8, data: &[u8], link: &str) {
        a.extend(header(name, flag, data.len() as u64, link));
        a.extend_from_slice(data);
        a.resize(a.len().div_ceil(BLOCK) * BLOCK, 0);
    }

    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in records {
            let body = format!(" {k}={v}\n");
            // The length counts its own digits.
            let mut len = body.len() + 1;
            while format!("{len}").len() + body.len() != len {
                len += 1;
            }
            out.extend(format!("{len}{body}").into_bytes());
        }
        out
    }

    fn archive() -> Vec<u8> {
        let mut a = Vec::new();
        member(&mut a, "./a/f", b'0', b"first", "");
        let p = pax(&[
            ("path", "a/g"),
            ("mtime", "1700000000.25"),
            ("uid", "70000"),
            ("uname", "someone"),
            ("SCHILY.xattr.user.k", "v"),
        ]);
        member(&mut a, "PaxHeaders/g", b'x', &p, "");
        member(&mut a, "short-g", b'0', b"gg", "");
        member(&mut a, "a/l", b'2', b"", "g");
        member(&mut a, "a/h", b'1', b"", "a/g");
        // Again, later: replaces the first.
        member(&mut a, "a/f", b'0', b"second", "");
        a.extend(vec![0u8; 2 * BLOCK]);
        a
    }

    fn entries(fs: &TarFs<'_>, dir: NodeId) -> Vec<Entry> {
        fs.children(dir).map(|l| l.entries).unwrap_or_default()
    }

    fn content(fs: &TarFs<'_>, e: &Entry) -> Vec<u8> {
        fs.content(e.node)
            .ok()
            .and_then(|c| c.contiguous(100).ok().map(|b| b.to_vec()))
            .unwrap_or_default()
    }

    #[test]
    fn reads_pax_records_links_and_later_members() {
        let data = archive();
        assert!(sniff(&data));
        let Ok(fs) = TarFs::open(&data, &Limits::default()) else {
            panic!("not opened")
        };
        let top = entries(&fs, fs.root());
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].meta.kind, EntryKind::Dir);
        assert!(top[0].attrs.iter().any(|a| a.name == "tar.implied"));
        let a = entries(&fs, top[0].node);
        let names: Vec<&[u8]> = a.iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"f"[..], b"g", b"h", b"l"]);
        assert_eq!(content(&fs, &a[0]), b"second");
        let g = &a[1];
        assert_eq!(content(&fs, g), b"gg");
        assert_eq!(g.meta.uid, Some(70000));
        let t = g.meta.mtime.unwrap_or(Timestamp::from_unix(0));
        assert_eq!((t.secs, t.nanos), (1_700_000_000, 250_000_000));
        assert_eq!(g.meta.xattrs, [(b"user.k".to_vec(), b"v".to_vec())]);
        assert!(g
            .attrs
            .iter()
            .any(|f| f.name == "tar.uname" && f.value == Value::Text("someone".into())));
        assert_eq!(g.meta.nlink, Some(2));
        let h = &a[2];
        assert_eq!((h.meta.nlink, h.meta.uid), (Some(2), Some(70000)));
        assert_eq!(content(&fs, h), b"gg");
        assert_eq!(a[3].meta.target.as_deref(), Some(&b"g"[..]));
        assert_eq!(a[0].meta.nlink, Some(1));
        assert!(fs
            .children(fs.root())
            .map(|l| l.errors.is_empty())
            .unwrap_or(false));
        let mut layout = fs.layout();
        layout.finish();
        assert!(layout
            .spans()
            .iter()
            .any(|s| s.owner.display().contains("pax")));
    }

    /// A file's first block whose numeric fields are all zero bytes and whose
    /// bytes sum to 0 as signed bytes (the checksum field counted as spaces):
    /// an empty checksum field reads as 0, so it matched. Met in an ELF-like
    /// file of random bytes with a run of zeros (benches/make-tree.py).
    #[test]
    fn a_block_of_no_checksum_digits_is_no_tar_header() {
        let mut h = vec![0u8; BLOCK];
        h[..4].copy_from_slice(b"\x7fELF");
        // The magic and the checksum field's spaces sum to 127 + 69 + 76 +
        // 70 + 8 * 32 = 598; four bytes of -128 and one of -86 bring it to 0.
        h[4..8].fill(0x80);
        h[8] = (-86i8) as u8;
        let signed = |h: &[u8]| -> i64 {
            let byte = |(i, &b): (usize, &u8)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    i64::from(b as i8)
                }
            };
            h.iter().enumerate().map(byte).sum()
        };
        assert_eq!(signed(&h), 0);
        assert!(!sniff(&h));
        // The same block with digits in its checksum field is a header again.
        h[148..155].copy_from_slice(b"0000000");
        assert!(Header::new(&h).is_some_and(checksum_ok));
    }

    #[test]
    fn the_field_table_covers_the_header() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(Header::FIELDS, Header::LEN as u64), Ok(()));
    }

    #[test]
    fn pax_times_keep_their_fraction_and_sign() {
        let t = pax_time(b"-1.5").unwrap_or(Timestamp::from_unix(0));
        assert_eq!((t.secs, t.nanos), (-2, 500_000_000));
        let t = pax_time(b"12").unwrap_or(Timestamp::from_unix(0));
        assert_eq!((t.secs, t.nanos, t.precision), (12, 0, Precision::Seconds));
        assert!(pax_time(b"1e5").is_none());
        assert!(pax_time(b".5").is_none());
    }

    /// The errors of the root of `data` opened; `None` when it does not open.
    fn root_errors(data: &[u8]) -> Option<Vec<String>> {
        let fs = TarFs::open(data, &Limits::default()).ok()?;
        let listing = fs.children(fs.root()).ok()?;
        Some(listing.errors.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn damage_is_an_error_never_a_panic() {
        let data = archive();
        // Cut anywhere: opens with an error, or does not open.
        for len in 0..data.len() {
            let _ = root_errors(&data[..len]);
        }
        // A bad checksum in the first header: refused; in a later one: the
        // members before it are listed.
        let mut bad = data.clone();
        bad[0] = b'b';
        assert!(TarFs::open(&bad, &Limits::default()).is_err());
        assert!(!sniff(&bad));
        // The second member's header (the pax header of `a/g`).
        let mut bad = data.clone();
        bad[2 * BLOCK + 1] = b'z';
        let errors = root_errors(&bad).unwrap_or_default();
        assert!(errors.iter().any(|e| e.contains("checksum")), "{errors:?}");
        // A huge size, octal and base-256.
        for field in [
            &b"77777777777\0"[..],
            &[
                0x80, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ] {
            let mut bad = data.clone();
            bad[124..136].copy_from_slice(field);
            seal(&mut bad[..BLOCK]);
            let e = TarFs::open(&bad, &Limits::default())
                .err()
                .map(|e| e.to_string());
            assert!(e.is_some_and(|e| e.contains("past the end")));
        }
        // A pax record whose length lies.
        let mut a = Vec::new();
        member(&mut a, "x", b'0', b"", "");
        member(&mut a, "p", b'x', b"99 path=y\n", "");
        member(&mut a, "y", b'0', b"", "");
        let errors = root_errors(&a).unwrap_or_default();
        assert!(
            errors.iter().any(|e| e.contains("record length")),
            "{errors:?}"
        );
        // Sparse and `..` members are refused, the rest listed.
        let mut a = Vec::new();
        member(&mut a, "s", b'S', b"", "");
        member(&mut a, "../up", b'0', b"", "");
        member(&mut a, "ok", b'0', b"", "");
        let Ok(fs) = TarFs::open(&a, &Limits::default()) else {
            panic!("not opened")
        };
        let l = fs.children(fs.root()).unwrap_or_default();
        assert_eq!(l.entries.len(), 1);
        assert_eq!(l.errors.len(), 2, "{:?}", l.errors);
        // The entry limit.
        let e = TarFs::open(&archive(), &Limits::default().max_entries(2))
            .ok()
            .and_then(|fs| fs.children(fs.root()).ok())
            .map(|l| {
                l.errors
                    .iter()
                    .any(|e| matches!(e, Error::LimitExceeded { .. }))
            });
        assert_eq!(e, Some(true));
    }

    #[test]
    fn sniffs_only_checksum_valid_headers() {
        let h = header("f", b'0', 0, "");
        assert!(sniff(&h));
        let mut v7 = h.clone();
        v7[257..265].fill(0);
        seal(&mut v7);
        assert!(sniff(&v7));
        let mut text = b"just some text ".repeat(40);
        text[257..262].copy_from_slice(b"ustar");
        assert!(!sniff(&text));
        assert!(!sniff(&[0u8; BLOCK]));
        assert!(!sniff(&h[..BLOCK - 1]));
    }
}
