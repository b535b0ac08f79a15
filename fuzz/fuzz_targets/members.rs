//! Two files compared inside an image, as the diff engine compares the content of
//! a differing file: the readers of what is inside (PE headers, sections and
//! debug directory; compressed members and their header fields) and the hexdump
//! of differing regions. The first four bytes (little-endian) say where to split
//! the rest into file a and file b; each is the one file `/f` of a tiny file
//! system, so no image reader stands in front of them.

#![no_main]

use isodiff::model::{Content, Entry, EntryKind, Fact, Filesystem, Format, Listing, Meta, NodeId};
use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

/// A directory holding one file.
struct OneFile<'a> {
    root: Meta,
    bytes: &'a [u8],
}

impl Filesystem for OneFile<'_> {
    fn format(&self) -> Format {
        Format::Cpio
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
    fn children(&self, dir: NodeId) -> isodiff::Result<Listing> {
        let mut listing = Listing::default();
        if dir == NodeId(0) {
            let mut meta = Meta::new(EntryKind::File);
            meta.size = self.bytes.len() as u64;
            listing.entries.push(Entry {
                name: b"f".to_vec(),
                node: NodeId(1),
                meta,
                attrs: Vec::new(),
            });
        }
        Ok(listing)
    }
    fn content(&self, _file: NodeId) -> isodiff::Result<Content<'_>> {
        Ok(Content::Slices(vec![self.bytes]))
    }
}

fuzz_target!(|data: &[u8]| {
    let (Some(head), Some(rest)) = (data.get(..4), data.get(4..)) else { return };
    let split = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let (a, b) = rest.split_at(split % (rest.len() + 1));
    let mut options = isodiff::Options::default().limits(harness::limits()).threads(1);
    options.max_nesting = 2;
    options.max_buffer_bytes = 16 << 20;
    options.text_diff_timeout = std::time::Duration::from_millis(200);
    let fa = OneFile { root: Meta::new(EntryKind::Dir), bytes: a };
    let fb = OneFile { root: Meta::new(EntryKind::Dir), bytes: b };
    if let Ok(report) = isodiff::diff_filesystems(&fa, &fb, &options) {
        let mut sink = std::io::sink();
        let _ = isodiff::report::text::write(&report, &mut sink);
        let _ = isodiff::report::json::write(&report, &mut sink);
        let _ = isodiff::report::html::write(&report, &mut sink);
        let _ = isodiff::report::diffoscope::write(&report, &mut sink);
    }
});
