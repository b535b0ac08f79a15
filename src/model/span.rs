//! The span model: which structure owns which bytes of an image.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

/// An entry's path in its file system, as the diff names it. Shared: a layout
/// hands one entry's path to each of its structures and items.
pub type EntryPath = Arc<[u8]>;

pub use super::key::{Attr, Key};

/// The differences a span names as what can explain it ([`Key`]).
pub type Keys = &'static [Key];

/// What a change of some bytes can follow from. The accounting looks for the
/// differences named here among those the diff reported for the same pair of
/// images; found, the bytes are explained by them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Explain {
    /// A difference of one of these keys at an entry the structure belongs to.
    Entry(Keys),
    /// A difference of the entry attribute of this name, made at run time
    /// (`susp.er2.descriptor`).
    EntryAttribute(Cow<'static, str>),
    /// A difference of the extended attribute of this name at an entry the
    /// structure belongs to.
    EntryXattr(Cow<'static, [u8]>),
    /// [`Explain::Entry`], or else placement: an index that any insertion
    /// renumbers (an xattr index).
    EntryOrPlacement(Keys),
    /// A difference of one of these keys at any entry of the image (the id table
    /// holds the uids and gids of all entries).
    AnyEntry(Keys),
    /// An image-level fact of this name, or any fact under it (`pvd.volume_id`,
    /// `mbr.partition2` for `mbr.partition2.type`, ...).
    Fact(Cow<'static, str>),
    /// Bytes that encode nothing but the contents of the structure's entries,
    /// packed one after another (a squashfs fragment block holding the tails
    /// of its files, the reader having checked that the tails fill it from its
    /// start without a gap): a difference of one of these keys at an entry
    /// explains it; else, when the two images hold other entries, or the same
    /// in another order, the block was repacked (placement); with the same
    /// entries in the same order, it is a change of its own.
    Packed(Keys),
    /// A part compared like a file under this name (`system-area`).
    Special(Cow<'static, str>),
    /// Where something is (a block address, a table offset, an inode number):
    /// changes whenever things move.
    Placement,
    /// Follows from other fields of the structure (a length byte, a checksum).
    Derived,
    /// Compressed bytes whose meaning is in decoded table number `n` of the
    /// [`Layout`]: explained by what differs there.
    Decoded(usize),
    /// Nothing: a change here is a finding of its own (reserved bytes, texts no
    /// reader keeps, padding inside a structure).
    Nothing,
}

impl Explain {
    /// [`Explain::Fact`] of a fact named in a constant (a field table).
    pub const fn fact_named(name: &'static str) -> Explain {
        Explain::Fact(Cow::Borrowed(name))
    }
}

/// [`Explain::Fact`] of the fact `name`: the readers' shorthand.
pub(crate) fn fact(name: impl Into<Cow<'static, str>>) -> Explain {
    Explain::Fact(name.into())
}

/// [`Field::new`] with a fixed name: the readers' shorthand for field tables.
pub(crate) fn f(at: u64, len: u64, name: &'static str, explain: Explain) -> Field {
    Field::new(at, len, name, explain)
}

/// A named part of a structure, relative to the structure's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// First byte, from the start of the structure.
    pub at: u64,
    /// Length in bytes.
    pub len: u64,
    /// Name, e.g. `modify stamp` or `extent location`.
    pub name: Cow<'static, str>,
    /// What a change of it can follow from.
    pub explain: Explain,
}

impl Field {
    /// A field of `len` bytes at `at`.
    pub fn new(at: u64, len: u64, name: impl Into<Cow<'static, str>>, explain: Explain) -> Field {
        Field {
            at,
            len,
            name: name.into(),
            explain,
        }
    }
}

/// The structure that owns a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The kind of structure, to group many of one kind: `directory record`,
    /// `data block`.
    pub class: &'static str,
    /// Names the structure, the same way for the same structure of another image
    /// of the format: `directory record of /plain.txt`, `data block 3 of /x`. Used
    /// to find the structure in the other image.
    pub name: String,
    /// The entries (paths in this file system) it belongs to; empty for
    /// image-level structures.
    pub entries: Vec<EntryPath>,
    /// What a change of the bytes no field covers can follow from.
    pub explain: Explain,
    /// Its named parts, when it has any worth telling apart.
    pub fields: Vec<Field>,
    /// Said after the name in reports, not used to find the structure in the
    /// other image (`tails of 12 files` for a fragment block).
    pub note: Option<String>,
}

impl Owner {
    /// An owner of `class` named `name` whose bytes are explained by `explain`.
    pub fn new(class: &'static str, name: impl Into<String>, explain: Explain) -> Owner {
        Owner {
            class,
            name: name.into(),
            entries: Vec::new(),
            explain,
            fields: Vec::new(),
            note: None,
        }
    }

    /// The name, with the note if there is one.
    pub fn display(&self) -> String {
        match &self.note {
            Some(note) => format!("{} ({note})", self.name),
            None => self.name.clone(),
        }
    }

    /// The same, belonging to the entry at `path`.
    pub fn of(mut self, path: &EntryPath) -> Owner {
        self.entries.push(Arc::clone(path));
        self
    }

    /// The same with `fields`.
    pub fn with_fields(mut self, fields: Vec<Field>) -> Owner {
        self.fields = fields;
        self
    }
}

/// The bytes `start..start + len` of an image and the structure that owns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// The structure.
    pub owner: Owner,
}

impl Span {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// A part of an image that holds structures (a directory extent, a table), used
/// to name the unclaimed bytes inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// E.g. `directory extent of /etc`.
    pub name: String,
}

/// A table stored compressed (squashfs metadata blocks), decoded: the bytes a
/// reader sees and the items in them. Compressed bytes cannot be attributed to
/// what they encode; their decoded items are compared by name instead.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// E.g. `inode table` or `cpio segment 2`; the same table of the other
    /// image has the same name.
    pub name: Cow<'static, str>,
    /// The decoded bytes of the whole table.
    pub stream: Vec<u8>,
    /// Each stored block: where it starts in the image, and the range of the
    /// stream it decodes to. Sorted by position.
    pub blocks: Vec<(u64, Range<u64>)>,
    /// The items of the stream, sorted by position in it.
    pub items: Vec<Item>,
    /// The named parts of an item, made when it differs.
    pub fields: fn(&Item, &[u8]) -> Vec<Field>,
    /// For tables whose items encode placement in their shape, not only in
    /// fields (a directory listing grouped under headers by where its inodes
    /// are): true when two differing items say the same but for placement.
    pub same_but_placement: Option<SameButPlacement>,
}

/// Tells whether two differing items of a table say the same but for
/// placement ([`Decoded::same_but_placement`]).
pub type SameButPlacement = fn(&[u8], &[u8]) -> bool;

/// One item of a decoded table (an inode, a directory listing, a table entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// E.g. `inode`, `listing`, `entry`.
    pub class: &'static str,
    /// The entries it belongs to (its name is made from the first, unless it
    /// has a label). A boxed slice, not a vector: tables hold as many items as
    /// entries, most with one entry, and a vector grown by a push holds four.
    pub entries: Box<[EntryPath]>,
    /// What tells it apart when its first entry does not: an index (`7` for
    /// entry 7 of no file) or a value (`1000` for id 1000 of the id table, used
    /// by many entries). When set, the item is named by it, not by its entries.
    pub label: Option<Box<str>>,
    /// Where it is in the decoded stream.
    pub range: Range<u64>,
    /// What a change of bytes no field covers can follow from: one of a few
    /// constants per table, so lent, not held by every item.
    pub explain: &'static Explain,
    /// Format-specific shape (the inode type), for [`Decoded::fields`].
    pub tag: u32,
}

impl Item {
    /// `inode table: inode of /x`, `fragment table: entry 7`, `id table: id 1000`.
    pub fn name(&self, table: &str) -> String {
        match (&self.label, self.entries.first()) {
            (Some(label), _) => format!("{table}: {} {label}", self.class),
            (None, Some(path)) => format!(
                "{table}: {} of {}",
                self.class,
                String::from_utf8_lossy(path)
            ),
            (None, None) => format!("{table}: {}", self.class),
        }
    }
}

/// Where things are, for comparing two images of different sizes: one record per
/// structure worth following (a file's extent, a table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// E.g. `file extent`, `directory extent`, `inode table`.
    pub class: &'static str,
    /// Names it the same in both images: the path, or the table.
    pub name: String,
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// The spans of every structure of one image, sorted and not overlapping, and
/// the decoded tables they refer to.
///
/// Built by a format reader when two images are compared byte by byte, never
/// when they are opened: building it reads every structure again.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    spans: Vec<Span>,
    coarse: Vec<Span>,
    regions: Vec<Region>,
    /// Decoded tables, referred to by [`Explain::Decoded`].
    pub tables: Vec<Decoded>,
    finished: bool,
}

impl Layout {
    /// An empty layout.
    pub fn new() -> Layout {
        Layout::default()
    }

    /// Adds a structure. Where structures overlap (a damaged image, or a table
    /// inside a file's extent) the one pushed with [`Layout::push`] keeps the
    /// bytes against one pushed with [`Layout::push_coarse`], and among those
    /// pushed the same way the one that starts first keeps them.
    pub fn push(&mut self, span: Span) {
        if span.len > 0 {
            self.spans.push(span);
            self.finished = false;
        }
    }

    /// Adds a large structure (a file's extent, a data block) that finer ones
    /// may lie inside: the finer ones keep their bytes, and what is left is
    /// named `... (part 2)` and so on.
    pub fn push_coarse(&mut self, span: Span) {
        if span.len > 0 {
            self.coarse.push(span);
            self.finished = false;
        }
    }

    /// Adds a region that holds structures, to name the unclaimed bytes in it.
    pub fn region(&mut self, start: u64, len: u64, name: impl Into<String>) {
        if len > 0 {
            self.regions.push(Region {
                start,
                len,
                name: name.into(),
            });
        }
    }

    /// Adds a decoded table; returns its number for [`Explain::Decoded`].
    pub fn table(&mut self, table: Decoded) -> usize {
        self.tables.push(table);
        self.tables.len() - 1
    }

    /// Sorts the spans and settles overlaps. Called by every reader of the
    /// layout; cheap when nothing was added since.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        let fine = clip(std::mem::take(&mut self.spans));
        let coarse = clip(std::mem::take(&mut self.coarse));
        let mut out = Vec::with_capacity(fine.len() + coarse.len());
        for c in coarse {
            // The fine spans inside this coarse one cut it into parts.
            let first = fine.partition_point(|f| f.end() <= c.start);
            let mut at = c.start;
            let mut part = 1;
            for f in fine[first..].iter().take_while(|f| f.start < c.end()) {
                if f.start > at {
                    out.push(part_of(&c, at, f.start, part));
                    part += 1;
                }
                at = at.max(f.end());
            }
            if at < c.end() {
                out.push(part_of(&c, at, c.end(), part));
            }
        }
        out.extend(fine);
        out.sort_by_key(|s| s.start);
        self.spans = out;
        self.regions
            .sort_by_key(|r| (r.start, std::cmp::Reverse(r.len)));
        self.finished = true;
    }

    /// The spans, sorted by position.
    pub fn spans(&mut self) -> &[Span] {
        self.finish();
        &self.spans
    }

    /// The spans of a finished layout (empty before [`Layout::finish`]).
    pub(crate) fn finished_spans(&self) -> &[Span] {
        if self.finished {
            &self.spans
        } else {
            &[]
        }
    }

    /// The index of the span holding `offset`, or `Err` with the index of the
    /// first span after it (a gap).
    pub(crate) fn at(&self, offset: u64) -> Result<usize, usize> {
        let spans = self.finished_spans();
        let i = spans.partition_point(|s| s.start <= offset);
        match i.checked_sub(1) {
            Some(p) if offset < spans[p].end() => Ok(p),
            _ => Err(i),
        }
    }

    /// The innermost region holding `offset` (see [`Layout::region`]): its
    /// end and its name; the layout is finished first.
    pub(crate) fn region_around(&mut self, offset: u64) -> Option<(u64, String)> {
        self.finish();
        self.region_at(offset)
            .map(|r| (r.start.saturating_add(r.len), r.name.clone()))
    }

    /// Names the unclaimed bytes at `offset`, a gap before span `next`.
    pub(crate) fn gap_name(&self, offset: u64, next: usize) -> String {
        let spans = self.finished_spans();
        let prev = next.checked_sub(1).and_then(|p| spans.get(p));
        let mut name = "unclaimed bytes".to_owned();
        if let Some(r) = self.region_at(offset) {
            name.push_str(&format!(" in {}", r.name));
        }
        match (prev, spans.get(next)) {
            (Some(p), Some(n)) => {
                name.push_str(&format!(" after {}, before {}", p.owner.name, n.owner.name));
            }
            (Some(p), None) => {
                name.push_str(&format!(
                    " after {}, the last structure (padding at the end of the image)",
                    p.owner.name
                ));
            }
            (None, Some(n)) => name.push_str(&format!(" before {}", n.owner.name)),
            (None, None) => name.push_str(" (no structure known in this image)"),
        }
        name
    }

    fn region_at(&self, offset: u64) -> Option<&Region> {
        let i = self.regions.partition_point(|r| r.start <= offset);
        // Regions barely nest; look back a few for the innermost one that holds it.
        self.regions[..i]
            .iter()
            .rev()
            .take(8)
            .filter(|r| offset < r.start.saturating_add(r.len))
            .min_by_key(|r| r.len)
    }
}

/// Sorted spans with overlaps cut away: a span that starts inside an earlier one
/// loses its first bytes, or all of them.
fn clip(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.len)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    let mut end = 0u64;
    for mut s in spans {
        if s.start < end {
            let cut = end - s.start;
            if cut >= s.len {
                continue;
            }
            s.start = end;
            s.len -= cut;
        }
        end = s.end();
        out.push(s);
    }
    out
}

fn part_of(c: &Span, start: u64, end: u64, part: u32) -> Span {
    let mut owner = c.owner.clone();
    if part > 1 {
        owner.name = format!("{} (part {part})", owner.name);
    }
    // Fields keep their place in the structure as a whole.
    let shift = start - c.start;
    owner.fields = owner
        .fields
        .iter()
        .filter(|f| f.at + f.len > shift && f.at < end - c.start)
        .map(|f| {
            let at = f.at.max(shift);
            let e = (f.at + f.len).min(end - c.start);
            Field {
                at: at - shift,
                len: e - at,
                ..f.clone()
            }
        })
        .collect();
    Span {
        start,
        len: end - start,
        owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, len: u64, name: &str) -> Span {
        Span {
            start,
            len,
            owner: Owner::new("x", name, Explain::Nothing),
        }
    }

    #[test]
    fn fine_spans_cut_coarse_ones_and_gaps_are_named() {
        let mut l = Layout::new();
        l.push_coarse(span(100, 100, "extent of /a"));
        l.push(span(120, 10, "table"));
        l.push(span(0, 10, "header"));
        l.push(span(5, 10, "overlapping"));
        l.region(0, 300, "image");
        l.finish();
        let names: Vec<(u64, u64, &str)> = l
            .finished_spans()
            .iter()
            .map(|s| (s.start, s.len, s.owner.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (0, 10, "header"),
                (10, 5, "overlapping"),
                (100, 20, "extent of /a"),
                (120, 10, "table"),
                (130, 70, "extent of /a (part 2)")
            ]
        );
        assert_eq!(l.at(125), Ok(3));
        assert_eq!(l.at(50), Err(2));
        assert_eq!(
            l.gap_name(50, 2),
            "unclaimed bytes in image after overlapping, before extent of /a"
        );
        assert_eq!(l.at(250), Err(5));
        assert_eq!(
            l.gap_name(250, 5),
            "unclaimed bytes in image after extent of /a (part 2), the last structure \
             (padding at the end of the image)"
        );
    }
}
