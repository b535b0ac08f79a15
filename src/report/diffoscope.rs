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
//! The causes block of the text report, problems, filters and cuts are comments
//! of the root. Strings are escaped with
//! [`crate::escape::escape`] (control characters made visible) as in the text
//! report; diffoscope escapes them again for HTML itself.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::{text, DetailLine, Difference, Kind, Report, Which};
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
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    for d in diffs {
        let what = escape(d.what().as_bytes());
        let (a, b) = text::values(d);
        removed.push(format!("{what}: {a}"));
        added.push(format!("{what}: {b}"));
    }
    let diff = hunk(&removed, &added)?;
    Some(Node {
        unified_diff: Some(diff),
        ..Node::named(name)
    })
}

/// A content difference's detail as the unified diff and the lines around it
/// (digests, notes of a cut diff), which diffoscope shows as comments; and the
/// disassembly of its code as a child node of its own, as diffoscope shows an
/// ELF file's `objdump --disassemble` output apart from its bytes.
fn split_detail(d: &Difference) -> (Option<String>, Vec<String>, Option<Node>) {
    let mut diff = String::new();
    let mut comments = Vec::new();
    let mut code = Node::named(&disassembly_name(d));
    let mut code_diff = String::new();
    for line in d.detail_lines() {
        let text = escape(line.to_string().as_bytes());
        let (diff, comments) = match line {
            DetailLine::CodeHeader(_)
            | DetailLine::CodeRow(_)
            | DetailLine::CodeCut
            | DetailLine::CodeMore(_) => (&mut code_diff, &mut code.comments),
            _ => (&mut diff, &mut comments),
        };
        if line.is_diff() {
            diff.push_str(&text);
            diff.push('\n');
        } else {
            comments.push(text);
        }
    }
    code.unified_diff = (!code_diff.is_empty()).then_some(code_diff);
    let code = (!code.is_empty()).then_some(code);
    ((!diff.is_empty()).then_some(diff), comments, code)
}

/// The name of a disassembly's node: `disassembly (x86-64)`.
fn disassembly_name(d: &Difference) -> String {
    match &d.change {
        super::Change::Content(c) => match &c.disassembly {
            Some(x) => format!("disassembly ({})", x.arch.name()),
            None => "disassembly".to_owned(),
        },
        _ => "disassembly".to_owned(),
    }
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
            .filter(|d| d.kind().is_image_level())
            .collect();
        node.details.extend(fields("image facts", &facts));
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        for (path, child) in &self.children {
            for d in &child.here {
                let entries = match d.entries() {
                    Some(n) if n > 1 => format!(", {n} entries"),
                    _ => String::new(),
                };
                let kind = d.kind();
                if !matches!(kind, Kind::Added | Kind::Removed) {
                    continue;
                }
                let (a, b) = text::values(d);
                match kind {
                    Kind::Removed => removed.push(format!("{} ({a}{entries})", escape(path))),
                    _ => added.push(format!("{} ({b}{entries})", escape(path))),
                }
            }
        }
        if let Some(diff) = hunk(&removed, &added) {
            node.details.push(Node {
                unified_diff: Some(diff),
                ..Node::named("file list")
            });
        }
        for d in self.here.iter().filter(|d| d.kind() == Kind::Content) {
            if let Some(summary) = d.summary() {
                node.comments.push(escape(summary.as_bytes()));
            }
            if d.has_detail() {
                let (diff, comments, code) = split_detail(d);
                node.unified_diff = diff;
                node.comments.extend(comments);
                node.details.extend(code);
            }
        }
        let meta: Vec<&Difference> = self
            .here
            .iter()
            .copied()
            .filter(|d| {
                let kind = d.kind();
                !kind.is_image_level()
                    && !matches!(kind, Kind::Content | Kind::Added | Kind::Removed)
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
pub(crate) fn tree(report: &Report) -> Node {
    let mut trie = Trie::default();
    for d in &report.differences {
        trie.insert(d);
    }
    let mut root = trie.node("");
    root.source1 = escape(report.a.shown().as_bytes());
    root.source2 = escape(report.b.shown().as_bytes());
    // The causes come first, as diffoscope shows comments at the top.
    let mut comments: Vec<String> = text::cause_lines(report)
        .iter()
        .map(|l| l.text().trim_start().to_owned())
        .collect();
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
    for w in &report.warnings {
        let side = match w.side {
            Which::A => "a",
            Which::B => "b",
        };
        comments.push(format!(
            "warning in {side} at {}: {}",
            text::location(&w.location),
            escape(w.message.as_bytes())
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
    use crate::model::EntryKind;
    use crate::report::{EntryField, Side, Subject, Val};
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
        let mut c = crate::report::change::tests::content();
        c.sha256_a = [1; 32];
        c.sha256_b = [2; 32];
        let content = Difference::content(loc(&["/s.sq", "/motd"]), c);
        let added = Difference::one_sided(
            loc(&["/s.sq", "/new"]),
            Which::B,
            Subject::Entry(EntryKind::Dir),
            Some(3),
        );
        let side = |p: &str| Side::new(p, 0);
        let r = Report::new(
            side("a.iso"),
            side("b.iso"),
            vec![
                Difference::image_fact(
                    loc(&["/s.sq"]),
                    "superblock.mkfs_time",
                    Val::Unsigned(1),
                    Val::Unsigned(2),
                ),
                added,
                content,
                Difference::entry(
                    loc(&["/s.sq", "/motd"]),
                    EntryField::Mode,
                    Val::Mode(0o644),
                    Val::Mode(0o444),
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
        assert_eq!(
            motd["unified_diff"],
            // Escaped as the text report escapes it.
            "@@ -1,2 +1,2 @@\n one\n-two\n+2\n\\\\ No newline at end of file\n"
        );
        assert_eq!(
            motd["comments"],
            json!([
                "3 bytes differ in 2 regions from offset 4; 4 more bytes in b after offset 14",
                format!("sha256 a {}", "01".repeat(32)),
                format!("sha256 b {}", "02".repeat(32)),
                "[diff cut at 5 lines]"
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
