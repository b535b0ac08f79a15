//! ISO 9660 (ECMA-119) with Rock Ridge, Joliet and relocated directories.
//!
//! The reader walks the whole directory hierarchy once when the image is opened and
//! keeps a compact tree of entries; file data stays in the map and is handed out as
//! slices. An ISO walk is cheap next to comparing content (a few directory sectors per
//! thousand files), and walking eagerly makes loop detection, `CL`/`RE` relocation and
//! the pairing of Joliet and primary names simple and exact.
//!
//! Which tree is the effective one: the primary tree when it carries Rock Ridge (the
//! names come from `NM`), else the Joliet tree, else the plain primary tree. The names
//! an entry has in the other namespace are kept as the attributes `iso.name` and
//! `joliet.name`, so a disagreement between namespaces can be reported; a hybrid
//! image's HFS+ tree is one more (`hfsplus.name`, see [`hfsplus`]).

mod attrs;
mod descriptor;
mod eltorito;
mod hfsplus;
mod oddity;
mod raw;
mod recorded;
mod rockridge;
mod spans;
mod susp;
mod sysarea;
mod walk;
mod zisofs;

use std::sync::Arc;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::formats::tree;
use crate::limits::Limits;
use crate::model::span::EntryPath;
use crate::model::{Content, Fact, Filesystem, Format, Listing, Meta, NodeId, Special, Value};

use descriptor::SECTOR;

/// How much of a file's head [`sniff`] needs to see.
pub const SNIFF_HEAD: usize = descriptor::FIRST_STANDARD_ID_AT + descriptor::STANDARD_ID.len();

/// Whether `data` (at least [`SNIFF_HEAD`] bytes of it) carries ISO 9660's
/// standard identifier where the first volume descriptor starts.
pub fn sniff(data: &[u8]) -> bool {
    data.get(descriptor::FIRST_STANDARD_ID_AT..SNIFF_HEAD) == Some(descriptor::STANDARD_ID)
}

/// An opened ISO 9660 image.
#[derive(Debug)]
pub struct IsoFs<'a> {
    image: Bytes<'a>,
    /// The same bytes, for byte accounting.
    raw: &'a [u8],
    /// The budgets it was opened with (zisofs content is decoded within them).
    limits: Limits,
    /// The volume descriptors read, for the byte layout.
    descriptors: Vec<descriptor::Seen>,
    /// The El Torito boot catalog read, for the byte layout.
    catalog: eltorito::Catalog,
    facts: Vec<Fact>,
    tree: walk::Tree,
    /// The tree of the other namespace (Joliet beside Rock Ridge, the plain
    /// primary tree beside Joliet), read once at opening for the names it
    /// gives and kept for the byte accounting of its records; its label
    /// starts the names of those records.
    other: Option<(walk::Tree, &'static str)>,
    /// The system area with its parsed fields blanked out.
    system_area: Arc<[u8]>,
    /// Boot images that no file of the tree holds: name, where, bytes.
    hidden_boot_images: Vec<(String, u64, &'a [u8])>,
    /// Oddities read leniently, one sentence each (see [`oddity`]).
    warnings: Vec<String>,
}

impl<'a> IsoFs<'a> {
    /// Parses the descriptor set and walks the directory hierarchy of `data`.
    ///
    /// Fails only when there is no primary volume descriptor to read. A truncated
    /// or damaged image opens with what can be read: a volume shorter than its
    /// descriptor says, a descriptor set cut short and a root directory outside
    /// the image are errors of the root directory, a file whose extent reaches
    /// past the end is an error of that file's content, and damaged entries are
    /// reported by [`Filesystem::children`] of their directory. A comparison then
    /// still reports everything readable, with the damage listed.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<IsoFs<'a>> {
        let image = Bytes::new(data);
        let d = descriptor::read(image)?;
        let mut root_errors = d.problems;
        if d.volume_bytes > image.len() {
            root_errors.push(Error::OutOfBounds {
                structure: "volume (its volume space size)",
                offset: 0,
                end: d.volume_bytes,
                len: image.len(),
            });
        }
        let mut facts = d.facts;
        let rr_skip = walk::rock_ridge_skip(image, &d.primary, limits);
        facts.push(Fact::new("rock_ridge", Value::Bool(rr_skip.is_some())));
        // The other namespace's tree: its read errors are the effective
        // tree's to report, not its own.
        let (tree, other) = match (rr_skip, &d.joliet) {
            (Some(skip), joliet) => {
                let mut tree = walk::Tree::read(
                    image,
                    &d.primary,
                    walk::Namespace::RockRidge { skip },
                    limits,
                )?;
                let other = joliet
                    .as_ref()
                    .and_then(|j| walk::Tree::read(image, j, walk::Namespace::Joliet, limits).ok());
                if let Some(other) = &other {
                    tree.adopt_names(other, attrs::JOLIET_NAME);
                }
                (tree, other.map(|t| (t, "Joliet ")))
            }
            (None, Some(j)) => {
                let mut tree = walk::Tree::read(image, j, walk::Namespace::Joliet, limits)?;
                let other =
                    walk::Tree::read(image, &d.primary, walk::Namespace::Plain, limits).ok();
                if let Some(other) = &other {
                    tree.adopt_names(other, attrs::ISO_NAME);
                }
                (tree, other.map(|t| (t, "ISO 9660 ")))
            }
            (None, None) => (
                walk::Tree::read(image, &d.primary, walk::Namespace::Plain, limits)?,
                None,
            ),
        };
        // The byte layout reads the other tree's names, kinds and what its
        // walk recorded only: its attributes and errors are dropped.
        let other = other.map(|(mut t, label)| {
            for n in &mut t.nodes {
                n.entry.attrs = Vec::new();
                n.errors = Vec::new();
            }
            (t, label)
        });
        let mut tree = tree;
        let mut oddities = d.oddities;
        oddities.merge(&tree.oddities);
        // The image's own damage first, then what the walk met in the root.
        root_errors.append(&mut tree.nodes[0].errors);
        tree.nodes[0].errors = root_errors;
        facts.push(Fact::new(
            "name_source",
            Value::Text(tree.namespace.name().to_owned()),
        ));
        facts.push(Fact::layout("image_size", Value::Int(image.len())));
        let area = image.get(0, sysarea::SIZE as u64, "system area")?;
        let covered = sysarea::read(area, &mut facts);
        hfsplus::facts(data, &mut facts);
        adopt_hfsplus(&mut tree, data);
        let system_area = Arc::from(sysarea::unexplained(area, &covered));
        let mut fs = IsoFs {
            image,
            raw: data,
            limits: limits.clone(),
            descriptors: d.seen,
            catalog: eltorito::Catalog::default(),
            facts,
            tree,
            other,
            system_area,
            hidden_boot_images: Vec::new(),
            warnings: oddities.messages(),
        };
        if let Some(catalog) = d.el_torito_catalog {
            fs.read_el_torito(catalog);
        }
        Ok(fs)
    }

    /// Reads the boot catalog, marks the files that are boot images (and their boot
    /// info tables) and keeps the boot images no file holds. A damaged catalog is a
    /// problem of the root directory; the rest of the image still reads.
    fn read_el_torito(&mut self, catalog: u32) {
        let read = eltorito::read(self.image, catalog, &mut self.facts, &mut self.catalog);
        let entries = match read {
            Ok(e) => e,
            Err(e) => {
                self.tree.nodes[0].errors.push(e);
                return;
            }
        };
        let mut by_start = std::collections::HashMap::new();
        for (i, n) in self.tree.nodes.iter().enumerate() {
            if let Some(first) = n.extents.first() {
                by_start.entry(first.start).or_insert(i);
            }
        }
        for entry in entries {
            let start = u64::from(entry.load_rba) * SECTOR;
            let label = format!("{} ({})", entry.number, entry.platform_name());
            match by_start.get(&start).copied() {
                Some(i) => {
                    let node = &mut self.tree.nodes[i];
                    let len = node.extents.first().map_or(0, |e| e.len);
                    let table = self
                        .image
                        .get(start, len, "boot image")
                        .ok()
                        .and_then(|bytes| eltorito::boot_info_table(bytes, entry.load_rba));
                    let attrs = &mut node.entry.attrs;
                    attrs.push(Fact::new("eltorito.boot_entry", Value::Text(label)));
                    if let Some([pvd, lba, length, checksum]) = table {
                        attrs.push(Fact::layout(
                            "boot_info_table.pvd_lba",
                            Value::Int(u64::from(pvd)),
                        ));
                        attrs.push(Fact::layout(
                            "boot_info_table.file_lba",
                            Value::Int(u64::from(lba)),
                        ));
                        attrs.push(Fact::new(
                            attrs::BOOT_INFO_FILE_LENGTH,
                            Value::Int(u64::from(length)),
                        ));
                        attrs.push(Fact::new(
                            attrs::BOOT_INFO_CHECKSUM,
                            Value::Text(format!("{checksum:08x}")),
                        ));
                    }
                }
                None => {
                    let len = match entry.media & 0x0f {
                        1 => 1_228_800,
                        2 => 1_474_560,
                        3 => 2_949_120,
                        _ => u64::from(entry.sector_count) * 512,
                    };
                    let len = len.min(self.image.len().saturating_sub(start));
                    match self.image.get(start, len, "El Torito boot image") {
                        Ok(bytes) => self.hidden_boot_images.push((
                            format!("el-torito:{label}"),
                            start,
                            bytes,
                        )),
                        Err(e) => self.tree.nodes[0].errors.push(e),
                    }
                }
            }
        }
    }

    fn node(&self, id: NodeId) -> Result<&walk::Node> {
        tree::node(&self.tree.nodes, id)
    }
}

impl Filesystem for IsoFs<'_> {
    fn format(&self) -> Format {
        Format::Iso9660
    }

    fn facts(&self) -> &[Fact] {
        &self.facts
    }

    fn root(&self) -> NodeId {
        NodeId(0)
    }

    fn root_meta(&self) -> &Meta {
        &self.tree.nodes[0].entry.meta
    }

    fn children(&self, dir: NodeId) -> Result<Listing> {
        tree::listing(&self.tree.nodes, dir)
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = self.node(file)?;
        let slices = node
            .extents
            .iter()
            .filter(|e| e.len > 0)
            .map(|e| self.image.get(e.start, e.len, "file extent"))
            .collect::<Result<Vec<_>>>()?;
        match node.zisofs.filter(zisofs::Zf::decodable) {
            Some(zf) => {
                // A zisofs file is mostly one extent (version 1 is below 4
                // GiB, zisofs2 may be larger); more are joined so the pointers
                // still count from the file's start.
                let stored: std::borrow::Cow<'_, [u8]> = match slices.as_slice() {
                    [one] => std::borrow::Cow::Borrowed(*one),
                    many => std::borrow::Cow::Owned(many.concat()),
                };
                let start = node.extents.first().map_or(0, |e| e.start);
                let bytes = zisofs::decode(&zf, &stored, start, &self.limits)?;
                Ok(Content::Owned(bytes.into()))
            }
            None => Ok(Content::Slices(slices)),
        }
    }

    fn specials(&self) -> Vec<Special<'_>> {
        let mut out = vec![Special {
            name: "system-area".to_owned(),
            content: Content::Owned(self.system_area.clone()),
        }];
        for (name, _, bytes) in &self.hidden_boot_images {
            out.push(Special {
                name: name.clone(),
                content: Content::Slices(vec![bytes]),
            });
        }
        out
    }

    fn raw_bytes(&self) -> Option<&[u8]> {
        Some(self.raw)
    }

    fn byte_layout(&self) -> Result<crate::model::span::Layout> {
        Ok(self.layout())
    }

    fn placements(&self) -> Vec<crate::model::span::Placement> {
        self.placements_of()
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// What an HFS+ catalog date of a file follows: xorriso takes the five
/// dates from the file's own times (the access date from its atime, seen in
/// grub-mkrescue images), so any of them.
const HFSPLUS_DATE_FOLLOWS: crate::model::Follows = crate::model::Follows::Fields {
    fields: &[
        crate::model::EntryField::Mtime,
        crate::model::EntryField::Atime,
        crate::model::EntryField::Ctime,
    ],
    xattrs: false,
};

/// The ISO entries of `tree` as the HFS+ pairing sees them (see
/// [`hfsplus::entries`]), with `paths`, one per node.
fn hfsplus_view<'p>(tree: &walk::Tree, paths: &'p [EntryPath]) -> Vec<hfsplus::IsoEntry<'p>> {
    tree.nodes
        .iter()
        .zip(paths)
        .map(|(n, p)| hfsplus::IsoEntry {
            path: p,
            dir: n.entry.meta.kind == crate::model::EntryKind::Dir,
            data_start: n.extents.first().filter(|e| e.len > 0).map(|e| e.start),
        })
        .collect()
}

/// Gives each entry the name and dates of the HFS+ catalog record that
/// stands for it (a folder record the directory at its path, a file record
/// the file at its path or else the one whose data it shares) as
/// attributes, as Joliet names are given: a hybrid image's HFS+ tree is
/// another namespace over the same tree, and an entry it lacks has its name
/// unset. The dates follow the entry's times, so a difference there is a
/// consequence, and a date differing alone is reported at its entry.
fn adopt_hfsplus(tree: &mut walk::Tree, data: &[u8]) {
    if hfsplus::volume_range(data).is_none() {
        return;
    }
    let paths = tree::entry_paths(&tree.nodes);
    let Some(found) = hfsplus::entries(data, &hfsplus_view(tree, &paths)) else {
        return;
    };
    // The root's record is the volume's: its name is the volume id, and
    // the root has no attributes.
    for (node, hfs) in tree.nodes.iter_mut().zip(found).skip(1) {
        let attrs = &mut node.entry.attrs;
        let Some(r) = hfs else {
            attrs.push(Fact::new(attrs::HFSPLUS_NAME, Value::Unset));
            continue;
        };
        attrs.push(Fact::new(attrs::HFSPLUS_NAME, Value::Text(r.name)));
        for (attr, date) in attrs::HFSPLUS_DATES.into_iter().zip(r.dates) {
            attrs.push(Fact::time(attr, hfsplus::record_date(date)).follows(HFSPLUS_DATE_FOLLOWS));
        }
    }
}

tree::arena_node!(walk::Node);
