//! `isodiff manifest IMAGE`: an mtree manifest (mtree(5), the format
//! `bsdtar -cf - --format=mtree` writes and `bsdtar -tvf` reads) of every
//! entry of an image and of every image nested in it, so that a rebuilder can
//! publish a kilobyte of text instead of a gigabyte image.
//!
//! # What each line states
//!
//! `type`, `mode` (octal), `uid`, `gid`, `time` (seconds, a period and nine
//! digits of nanoseconds, as mtree(5) asks: the full precision the image
//! stores), `size` (files), `link` (symlink targets), `nlink`, `device`
//! (`native,MAJOR,MINOR`, devices) and `sha256digest` (files). A field the
//! image does not store (no Rock Ridge: no mode or owner) is left out, not
//! invented.
//!
//! # Nested images
//!
//! Each nested image is a section of its own after its parent's entries: a
//! comment line naming its location (`# /nix-store.squashfs`), then its
//! entries under the path `./nix-store.squashfs:` (its root) and
//! `./nix-store.squashfs:/etc/passwd`, the location as the reports write it.
//!
//! Why this form: mtree(5) has no notion of a file holding a tree, and a
//! manifest must stay one that `bsdtar -tvf` (libarchive) reads whole. Of the
//! forms it allows, a comment alone is lost to every reader but this one, and
//! a `/set` cannot carry a path; a path prefix keeps each nested entry a plain
//! mtree line that libarchive lists (as a directory `nix-store.squashfs:`
//! beside the file, under which the image's tree is), that `grep` and `sort`
//! keep together with its image, and that says where it is in the notation
//! of the reports. The comment is for the human reader. Reading it back
//! (the mtree reader), a component `name:` is a section when the
//! file `name` was listed before it in the same directory, which this writer
//! ensures; a name of the image that ends in `:` is written with that `:`
//! escaped (`\072`, which libarchive decodes), so it is never taken for a
//! section.
//!
//! # Where it differs from bsdtar's
//!
//! bsdtar writes the time's nanoseconds without leading zeros (0.05 s as
//! `.50000000`, which reads back as 0.5 s); this writer pads them to nine
//! digits. bsdtar gives a hard link after the first the size 0 (a tar
//! convention); this writer gives every link its size. bsdtar writes `nlink`
//! only when above 1; this writer whenever the image stores it. bsdtar
//! leaves a `:` in a name as it is; this writer escapes one that ends a name
//! (see above).

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::listing::{self, ListError, Listed, Nesting};
use crate::model::{EntryKind, Filesystem, Meta};

/// Writes the mtree manifest of `fs` and the images nested in it to `out`.
/// Problems met (damaged entries, unreadable contents) are passed to
/// `problem` and leave their entries out, or their digest; the rest is written.
pub fn write(
    fs: &dyn Filesystem,
    nesting: &Nesting,
    out: &mut dyn Write,
    problem: &mut dyn FnMut(ListError),
) -> io::Result<()> {
    out.write_all(b"#mtree\n")?;
    section(fs, &[], nesting, 0, out, problem)
}

fn section(
    fs: &dyn Filesystem,
    prefix: &[Vec<u8>],
    nesting: &Nesting,
    depth: u32,
    out: &mut dyn Write,
    problem: &mut dyn FnMut(ListError),
) -> io::Result<()> {
    let mut result = Ok(());
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut unread = Vec::new();
    listing::walk(
        fs,
        prefix,
        &mut |l: Listed| {
            if result.is_err() {
                return;
            }
            let digest = match l.meta.kind {
                EntryKind::File => match digest(fs, &l) {
                    Ok(d) => Some(d),
                    Err(error) => {
                        unread.push(ListError {
                            location: l.location.clone(),
                            error,
                        });
                        None
                    }
                },
                _ => None,
            };
            result = line(&l, digest, out);
            if l.meta.kind == EntryKind::File && l.meta.size > 0 {
                files.push(l);
            }
        },
        &mut |p| problems.push(p),
    );
    for p in problems.into_iter().chain(unread) {
        problem(p);
    }
    result?;
    if depth >= nesting.max_depth {
        return Ok(());
    }
    for l in files {
        // A manifest read back: its sections are written again as they were.
        if let Some(described) = fs.described_image(l.node) {
            header(&l.location, out)?;
            section(
                described.as_ref(),
                &l.location,
                nesting,
                depth + 1,
                out,
                problem,
            )?;
            continue;
        }
        let Ok(content) = fs.content(l.node) else {
            continue;
        };
        if crate::formats::open::image_format(&content).is_none() {
            continue;
        }
        let opened =
            crate::formats::open::open_nested(&content, &nesting.limits, nesting.max_buffer_bytes);
        match opened {
            Ok(inner) => {
                header(&l.location, out)?;
                section(
                    inner.fs.as_ref(),
                    &l.location,
                    nesting,
                    depth + 1,
                    out,
                    problem,
                )?;
            }
            Err(error) => problem(ListError {
                location: l.location,
                error,
            }),
        };
    }
    Ok(())
}

/// The comment that heads a nested image's section: its location.
fn header(location: &[Vec<u8>], out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "\n# {}", location_text(location))
}

fn digest(fs: &dyn Filesystem, l: &Listed) -> Result<[u8; 32], Error> {
    let content = fs.content(l.node)?;
    // A manifest's file: its digest is all there is, and all that is needed.
    if let crate::model::Content::Digest { sha256, .. } = content {
        return Ok(sha256);
    }
    let mut h = Sha256::new();
    for chunk in content.chunks() {
        h.update(&chunk?);
    }
    Ok(h.finalize().into())
}

/// The location as the reports write it, `:`-joined, escaped for a comment.
fn location_text(location: &[Vec<u8>]) -> String {
    let parts: Vec<String> = location.iter().map(|p| encode(p)).collect();
    parts.join(":")
}

/// The mtree path of a location: `.` for the outermost root, `./a/b` below
/// it, `./x.squashfs:` and `./x.squashfs:/a` in a nested image; each name
/// encoded ([`encode_name`]), the separators as they are.
fn path(location: &[Vec<u8>]) -> String {
    let mut p = String::from(".");
    for (i, part) in location.iter().enumerate() {
        if i > 0 {
            p.push(':');
        }
        // A root adds nothing: `.` outermost, `./x.squashfs:` nested.
        for name in part.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
            p.push('/');
            p.push_str(&encode_name(name));
        }
    }
    p
}

/// mtree's encoding of bytes: bytes outside printable ASCII, space, `#`,
/// `=` and `\` as a backslash and three octal digits (what libarchive's
/// writer escapes, and its reader decodes).
fn encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        push_byte(&mut s, b, false);
    }
    s
}

/// [`encode`] of one name, with a `:` that ends it escaped too: unescaped,
/// `name:` followed by `/` would read back as the section of a nested image
/// (see the module docs).
fn encode_name(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    for (i, &b) in name.iter().enumerate() {
        push_byte(&mut s, b, b == b':' && i + 1 == name.len());
    }
    s
}

fn push_byte(s: &mut String, b: u8, escape: bool) {
    if !escape && b.is_ascii_graphic() && !matches!(b, b'#' | b'=' | b'\\') {
        s.push(char::from(b));
    } else {
        s.push_str(&format!("\\{b:03o}"));
    }
}

fn type_name(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "dir",
        EntryKind::Symlink => "link",
        EntryKind::CharDevice => "char",
        EntryKind::BlockDevice => "block",
        EntryKind::Fifo => "fifo",
        EntryKind::Socket => "socket",
    }
}

/// The keywords of one entry, in the order bsdtar writes them.
fn keywords(m: &Meta, digest: Option<[u8; 32]>) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if let Some(n) = m.nlink {
        let _ = write!(s, " nlink={n}");
    }
    if let Some(t) = m.mtime {
        let _ = write!(s, " time={}.{:09}", t.secs, t.nanos);
    }
    if let Some(mode) = m.mode {
        let _ = write!(s, " mode={mode:o}");
    }
    if let Some(gid) = m.gid {
        let _ = write!(s, " gid={gid}");
    }
    if let Some(uid) = m.uid {
        let _ = write!(s, " uid={uid}");
    }
    let _ = write!(s, " type={}", type_name(m.kind));
    if let Some((major, minor)) = m.rdev {
        let _ = write!(s, " device=native,{major},{minor}");
    }
    if m.kind == EntryKind::File {
        let _ = write!(s, " size={}", m.size);
    }
    if let Some(target) = &m.target {
        let _ = write!(s, " link={}", encode(target));
    }
    if let Some(d) = digest {
        let _ = write!(s, " sha256digest={}", crate::model::hex(&d));
    }
    s
}

fn line(l: &Listed, digest: Option<[u8; 32]>, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}{}", path(&l.location), keywords(&l.meta, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(parts: &[&str]) -> Vec<Vec<u8>> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn paths_name_nested_images_as_the_reports_do() {
        assert_eq!(path(&loc(&["/"])), ".");
        assert_eq!(path(&loc(&["/a/b"])), "./a/b");
        assert_eq!(path(&loc(&["/x.sq", "/"])), "./x.sq:");
        assert_eq!(path(&loc(&["/x.sq", "/etc/p"])), "./x.sq:/etc/p");
        // A name's own `:` at its end is escaped: it is no section.
        assert_eq!(path(&loc(&["/d:/a:b:"])), "./d\\072/a:b\\072");
    }

    #[test]
    fn names_are_escaped_as_mtree_reads_them() {
        assert_eq!(encode(b"a b#c=d\\e\xff"), "a\\040b\\043c\\075d\\134e\\377");
        assert_eq!(encode_name(b"a b:"), "a\\040b\\072");
    }

    #[test]
    fn a_line_states_every_stored_field_at_full_precision() {
        let mut m = Meta::new(EntryKind::File);
        m.mode = Some(0o4755);
        m.uid = Some(1);
        m.gid = Some(2);
        m.nlink = Some(1);
        m.size = 3;
        m.mtime = Some(crate::time::Timestamp {
            secs: 1_700_000_000,
            nanos: 50_000_000,
            offset_minutes: None,
            precision: crate::time::Precision::Hundredths,
        });
        assert_eq!(
            keywords(&m, Some([0xab; 32])),
            format!(
                " nlink=1 time=1700000000.050000000 mode=4755 gid=2 uid=1 type=file size=3 \
                 sha256digest={}",
                "ab".repeat(32)
            )
        );
        let mut link = Meta::new(EntryKind::Symlink);
        link.target = Some(b"to here".to_vec());
        assert_eq!(keywords(&link, None), " type=link link=to\\040here");
    }
}
