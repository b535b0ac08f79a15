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
//! `joliet.name`, so a disagreement between namespaces can be reported.

mod descriptor;
mod raw;
mod rockridge;
mod susp;
mod walk;

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::model::{
    Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId, Value,
};

/// An opened ISO 9660 image.
#[derive(Debug)]
pub struct IsoFs<'a> {
    image: Bytes<'a>,
    facts: Vec<Fact>,
    tree: walk::Tree,
}

impl<'a> IsoFs<'a> {
    /// Parses the descriptor set and walks the directory hierarchy of `data`.
    ///
    /// Fails only when the image as a whole is unreadable (no descriptor set, a root
    /// outside the image, a truncated volume); damaged entries are reported by
    /// [`Filesystem::children`] of their directory.
    pub fn open(data: &'a [u8], limits: &Limits) -> Result<IsoFs<'a>> {
        let image = Bytes::new(data);
        let d = descriptor::read(image)?;
        if d.volume_bytes > image.len() {
            return Err(Error::OutOfBounds {
                structure: "volume (its volume space size)",
                offset: 0,
                end: d.volume_bytes,
                len: image.len(),
            });
        }
        let mut facts = d.facts;
        let rr_skip = walk::rock_ridge_skip(image, &d.primary, limits);
        facts.push(Fact::new("rock_ridge", Value::Bool(rr_skip.is_some())));
        facts.push(Fact::new("joliet", Value::Bool(d.joliet.is_some())));
        let tree = match (rr_skip, &d.joliet) {
            (Some(skip), joliet) => {
                let mut tree = walk::Tree::read(
                    image,
                    &d.primary,
                    walk::Namespace::RockRidge { skip },
                    limits,
                )?;
                if let Some(j) = joliet {
                    if let Ok(other) = walk::Tree::read(image, j, walk::Namespace::Joliet, limits) {
                        tree.adopt_names(&other, "joliet.name");
                    }
                }
                tree
            }
            (None, Some(j)) => {
                let mut tree = walk::Tree::read(image, j, walk::Namespace::Joliet, limits)?;
                if let Ok(other) =
                    walk::Tree::read(image, &d.primary, walk::Namespace::Plain, limits)
                {
                    tree.adopt_names(&other, "iso.name");
                }
                tree
            }
            (None, None) => walk::Tree::read(image, &d.primary, walk::Namespace::Plain, limits)?,
        };
        facts.push(Fact::new(
            "name_source",
            Value::Text(tree.namespace.name().to_owned()),
        ));
        facts.push(Fact::layout("image_size", Value::Int(image.len())));
        Ok(IsoFs { image, facts, tree })
    }

    fn node(&self, id: NodeId) -> Result<&walk::Node> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.tree.nodes.get(i))
            .ok_or_else(|| Error::malformed("node handle", id.0, "no such node in this image"))
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
        let node = self.node(dir)?;
        if node.entry.meta.kind != EntryKind::Dir {
            return Err(Error::malformed("node handle", dir.0, "not a directory"));
        }
        let entries: Vec<Entry> = node
            .children
            .iter()
            .filter_map(|&c| self.tree.nodes.get(c as usize))
            .map(|n| n.entry.clone())
            .collect();
        Ok(Listing {
            entries,
            errors: node.errors.clone(),
        })
    }

    fn content(&self, file: NodeId) -> Result<Content<'_>> {
        let node = self.node(file)?;
        let slices = node
            .extents
            .iter()
            .filter(|e| e.len > 0)
            .map(|e| self.image.get(e.start, e.len, "file extent"))
            .collect::<Result<Vec<_>>>()?;
        Ok(Content::Slices(slices))
    }
}
