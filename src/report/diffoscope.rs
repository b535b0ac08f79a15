//! diffoscope's JSON format (`diffoscope-json-version: 1`), so that diffoscope
//! itself can render an isodiff report (`diffoscope --load-existing-diff FILE
//! --html out.html`) and tools that archive or read diffoscope's JSON take it.
//!
//! diffoscope's tree is a node per compared thing: `source1`, `source2`, an
//! optional `unified_diff` of its own text, `comments`, and `details` (child nodes).
//! Our locations map onto it the way diffoscope nests archive members:
//!
//! - the root is the two images (`source1`/`source2`: their paths);
//! - under a file system, one node per entry that differs, named by its path
//!   inside that file system, flat (as diffoscope lists the members of an
//!   archive); an entry that is itself an image holds the nodes of its own entries;
//! - a node's `unified_diff` is its content's text diff, and its content summary
//!   and digests are its `comments`;
//! - differing fields of an entry are a `metadata` child, and image-level facts an
//!   `image facts` child, each a unified diff of `field: value` lines, one removed
//!   and one added line per field (diffoscope's presenters set them side by side);
//! - entries on one side only are lines of a `file list` child of their file
//!   system, as diffoscope shows a directory's members.
//!
//! Problems, filters and cuts are comments of the root. Strings are escaped with
//! [`crate::escape::escape`] (control characters made visible) as in the text
//! report; diffoscope escapes them again for HTML itself.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{text, Difference, Kind, Report, Which};
use crate::escape::escape;

/// One node of diffoscope's tree (the field names are diffoscope's).
#[derive(Debug, Default, Serialize)]
pub struct Node {
    /// The name of the thing on the first side.
    pub source1: String,
    /// The name on the second side.
    pub source2: String,
    /// Remarks shown above the diff.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// A unified diff of the thing's own text, or null.
    pub unified_diff: Option<String>,
    /// Child nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Node>,
}

impl Node {
    fn named(name: &str) -> Node {
        Node {
            source1: name.to_owned(),
            source2: name.to_owned(),
            ..Node::default()
        }
    }

    fn is_empty(&self) -> bool {
        self.comments.is_empty() && self.unified_diff.is_none() && self.details.is_empty()
    }
}

/// A unified diff of one hunk: all of `removed`, then all of `added`.
fn hunk(removed: &[String], added: &[String]) -> Option<String> {
    if removed.is_empty() && added.is_empty() {
        return None;
    }
    let start = |n: usize| if n == 0 { 0 } else { 1 };
    let mut s = format!(
        "@@ -{},{} +{},{} @@\n",
        start(removed.len()),
        removed.len(),
        start(added.len()),
        added.len()
    );
    for l in removed {
        s.push('-');
        s.push_str(l);
        s.push('\n');
    }
    for l in added {
        s.push('+');
        s.push_str(l);
        s.push('\n');
    }
    Some(s)
}

/// A node whose diff has one `what: value` line per side for each difference.
fn fields(name: &str, diffs: &[&Difference]) -> Option<Node> {
    let what = |d: &Difference| escape(d.what().as_bytes());
    let removed: Vec<String> = diffs
        .iter()
        .map(|d| format!("{}: {}", what(d), text::value(&d.a)))
        .collect();
    let added: Vec<String> = diffs
        .iter()
        .map(|d| format!("{}: {}", what(d), text::value(&d.b)))
        .collect();
    let diff = hunk(&removed, &added)?;
    Some(Node {
        unified_diff: Some(diff),
        ..Node::named(name)
    })
}

/// Splits a content detail into the unified diff and the lines around it
/// (digests, notes of a cut diff), which diffoscope shows as comments.
fn split_detail(detail: &str) -> (Option<String>, Vec<String>) {
    let mut diff = String::new();
    let mut comments = Vec::new();
    let mut in_diff = false;
    for line in detail.lines() {
        in_diff |= line.starts_with("@@");
        let is_diff_line = in_diff
            && matches!(
                line.as_bytes().first(),
                Some(b' ' | b'+' | b'-' | b'@' | b'\\') | None
            );
        if is_diff_line {
            diff.push_str(&escape(line.as_bytes()));
            diff.push('\n');
        } else {
            comments.push(escape(line.as_bytes()));
        }
    }
    ((!diff.is_empty()).then_some(diff), comments)
}

/// The trie of locations: each node holds the differences located exactly there.
#[derive(Default)]
struct Trie<'r> {
    children: BTreeMap<&'r [u8], Trie<'r>>,
    here: Vec<&'r Difference>,
}

impl<'r> Trie<'r> {
    fn insert(&mut self, d: &'r Difference) {
        let mut at = self;
        for element in &d.location {
            at = at.children.entry(element.as_slice()).or_default();
        }
        at.here.push(d);
    }

    /// The diffoscope node for this location. Recursion follows location elements
    /// (one per nesting level of images, a handful), not directory depth.
    fn node(&self, name: &str) -> Node {
        let mut node = Node::named(name);
        let facts: Vec<&Difference> = self
            .here
            .iter()
            .copied()
            .filter(|d| d.kind.is_image_level())
            .collect();
        node.details.extend(fields("image facts", &facts));
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for (path, child) in &self.children {
            for d in &child.here {
                let entries = match d.entries {
                    Some(n) if n > 1 => format!(", {n} entries"),
                    _ => String::new(),
                };
                match d.kind {
                    Kind::Removed => {
                        removed.push(format!("{} ({}{entries})", escape(path), text::value(&d.a)))
                    }
                    Kind::Added => {
                        added.push(format!("{} ({}{entries})", escape(path), text::value(&d.b)))
                    }
                    _ => {}
                }
            }
        }
        if let Some(diff) = hunk(&removed, &added) {
            node.details.push(Node {
                unified_diff: Some(diff),
                ..Node::named("file list")
            });
        }
        for d in self.here.iter().filter(|d| d.kind == Kind::Content) {
            if let Some(summary) = &d.summary {
                node.comments.push(escape(summary.as_bytes()));
            }
            if let Some(detail) = &d.detail {
                let (diff, comments) = split_detail(detail);
                node.unified_diff = diff;
                node.comments.extend(comments);
            }
        }
        let meta: Vec<&Difference> = self
            .here
            .iter()
            .copied()
            .filter(|d| {
                !d.kind.is_image_level()
                    && !matches!(d.kind, Kind::Content | Kind::Added | Kind::Removed)
            })
            .collect();
        node.details.extend(fields("metadata", &meta));
        for (path, child) in &self.children {
            let n = child.node(&escape(path));
            if !n.is_empty() {
                node.details.push(n);
            }
        }
        node
    }
}

/// The diffoscope tree of `report`.
pub fn tree(report: &Report) -> Node {
    let mut trie = Trie::default();
    for d in &report.differences {
        trie.insert(d);
    }
    let mut root = trie.node("");
    root.source1 = escape(report.a.path.as_bytes());
    root.source2 = escape(report.b.path.as_bytes());
    let mut comments = Vec::new();
    for p in &report.problems {
        let side = match p.side {
            Which::A => "a",
            Which::B => "b",
        };
        comments.push(format!(
            "error in {side} at {}: {}",
            text::location(&p.location),
            escape(p.message.as_bytes())
        ));
    }
    if let Some(f) = &report.filtered {
        comments.push(escape(f.describe().as_bytes()));
    }
    if let Some(c) = &report.cut {
        comments.push(c.describe());
    }
    comments.append(&mut root.comments);
    root.comments = comments;
    root
}

/// Writes `report` as diffoscope's JSON.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Root {
        #[serde(rename = "diffoscope-json-version")]
        version: u32,
        #[serde(flatten)]
        node: Node,
    }
    serde_json::to_writer(
        &mut *out,
        &Root {
            version: 1,
            node: tree(report),
        },
    )?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Side;
    use serde_json::json;

    #[test]
    fn hunks_count_their_lines() {
        assert_eq!(hunk(&[], &[]), None);
        assert_eq!(
            hunk(&["a".into()], &["b".into(), "c".into()]).as_deref(),
            Some("@@ -1,1 +1,2 @@\n-a\n+b\n+c\n")
        );
        assert_eq!(
            hunk(&[], &["b".into()]).as_deref(),
            Some("@@ -0,0 +1,1 @@\n+b\n")
        );
    }

    #[test]
    fn nested_locations_become_nested_details() {
        let loc = |parts: &[&str]| parts.iter().map(|p| p.as_bytes().to_vec()).collect();
        let mut content = Difference::new(
            loc(&["/s.sq", "/motd"]),
            Kind::Content,
            json!("sha256:1"),
            json!("sha256:2"),
        );
        content.summary = Some("2 bytes differ".into());
        content.detail = Some(
            "sha256 a 1\nsha256 b 2\n@@ -1,2 +1,2 @@\n x\n-a\n+b\n[diff cut at 3 lines]\n".into(),
        );
        let mut added = Difference::new(
            loc(&["/s.sq", "/new"]),
            Kind::Added,
            json!(null),
            json!("dir"),
        );
        added.entries = Some(3);
        let side = |p: &str| Side {
            path: p.into(),
            size: 0,
        };
        let r = Report::new(
            side("a.iso"),
            side("b.iso"),
            vec![
                Difference::new(loc(&["/s.sq"]), Kind::Image, json!(1), json!(2))
                    .with_field("superblock.mkfs_time"),
                added,
                content,
                Difference::new(
                    loc(&["/s.sq", "/motd"]),
                    Kind::Mode,
                    json!("0644"),
                    json!("0444"),
                ),
            ],
            Vec::new(),
        );
        let mut v = Vec::new();
        write(&r, &mut v).expect("write");
        let j: serde_json::Value = serde_json::from_slice(&v).expect("json");
        assert_eq!(j["diffoscope-json-version"], 1);
        assert_eq!(
            (&j["source1"], &j["source2"]),
            (&json!("a.iso"), &json!("b.iso"))
        );
        assert_eq!(j["unified_diff"], json!(null));
        let sq = &j["details"][0];
        assert_eq!(sq["source1"], "/s.sq");
        assert_eq!(sq["details"][0]["source1"], "image facts");
        assert_eq!(
            sq["details"][0]["unified_diff"],
            "@@ -1,1 +1,1 @@\n-superblock.mkfs_time: 1\n+superblock.mkfs_time: 2\n"
        );
        assert_eq!(sq["details"][1]["source1"], "file list");
        assert_eq!(
            sq["details"][1]["unified_diff"],
            "@@ -0,0 +1,1 @@\n+/new (dir, 3 entries)\n"
        );
        let motd = &sq["details"][2];
        assert_eq!(motd["source1"], "/motd");
        assert_eq!(motd["unified_diff"], "@@ -1,2 +1,2 @@\n x\n-a\n+b\n");
        assert_eq!(
            motd["comments"],
            json!([
                "2 bytes differ",
                "sha256 a 1",
                "sha256 b 2",
                "[diff cut at 3 lines]"
            ])
        );
        assert_eq!(motd["details"][0]["source1"], "metadata");
        assert_eq!(
            motd["details"][0]["unified_diff"],
            "@@ -1,1 +1,1 @@\n-mode: 0644\n+mode: 0444\n"
        );
        assert_eq!(
            sq["details"].as_array().map(Vec::len),
            Some(3),
            "no node for /new"
        );
    }
}
