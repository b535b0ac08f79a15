//! The HTML report: one self-contained page (inline CSS and a little inline
//! script, nothing fetched) with a summary at the top, the differences in a tree of
//! locations that folds, both values of each difference, unified diffs with their
//! added and removed lines marked, and a filter box.
//!
//! Every string that comes from an image (names, link targets, values, details)
//! and from the command line (paths, filter patterns) goes through
//! [`crate::escape::escape`] (control and bidi characters made visible) and then
//! escaped (`& < > " '` as entities), so it can only ever be text. The page
//! also carries a Content-Security-Policy that allows no network access and only
//! the one script whose hash it names, so even a mistake in escaping could not run
//! anything. The script builds no markup: it reads `textContent` and toggles
//! `hidden` and `open`, and sets `data-isodiff-ready` on `<html>` once it has run
//! (tests read that from the rendered page). A filter can come in the link:
//! `report.html#filter=kind:mtime`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use sha2::{Digest, Sha256};

use super::change::{shown_pair, DetailLine, LineOp, Shown};
use super::{text, Difference, Kind, Report, Which};
use crate::escape::escape;

/// Above this many differences only the outermost levels of the tree start open.
const OPEN_ALL_UP_TO: usize = 300;

/// How many recurring changes the summary lists.
const REPEATED_SHOWN: usize = 10;

/// `s` with `& < > " '` replaced by entities: safe in text and in quoted attributes.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Bytes from an image as HTML text.
fn h(bytes: &[u8]) -> String {
    html_escape(&escape(bytes))
}

/// A location as HTML text (`image` for the outermost image).
fn h_location(location: &[Vec<u8>]) -> String {
    html_escape(&text::location(&location.to_vec()))
}

/// A value as HTML text.
fn h_value(v: &Shown<'_>) -> String {
    html_escape(&text::value(v))
}

const STYLE: &str = r#"
:root{--fg:#1f2328;--bg:#fff;--muted:#59636e;--line:#d1d9e0;--panel:#f6f8fa;
--add:#1a7f37;--add-bg:#dafbe1;--del:#cf222e;--del-bg:#ffebe9;--hunk:#0550ae;--hunk-bg:#ddf4ff;--note-bg:#fff8c5}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--panel:#151b23;
--add:#3fb950;--add-bg:#12261e;--del:#f85149;--del-bg:#25171c;--hunk:#79c0ff;--hunk-bg:#121d2f;--note-bg:#272115}}
*{box-sizing:border-box}
body{margin:0;padding:1rem 1.5rem 3rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
h1{font-size:1.4rem;margin:.2rem 0 .5rem}h2{font-size:1.15rem;margin:1.4rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
.sides{margin:.2rem 0}.sides .a{color:var(--del)}.sides .b{color:var(--add)}
.verdict{font-size:1.1rem;font-weight:600;margin:.5rem 0}
.cards{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
table.counts{border-collapse:collapse;background:var(--panel);border:1px solid var(--line);border-radius:6px}
table.counts caption{text-align:left;font-weight:600;padding:.2rem 0}
table.counts th,table.counts td{padding:.2rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
table.counts td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{background:var(--note-bg);border:1px solid var(--line);border-radius:6px;padding:.4rem .7rem;margin:.5rem 0}
.hint{color:var(--muted)}
.toolbar{position:sticky;top:0;background:var(--bg);padding:.5rem 0;display:flex;gap:.5rem;align-items:center;z-index:1;border-bottom:1px solid var(--line)}
#filter{flex:1;max-width:36rem;padding:.3rem .5rem;font:inherit;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button{font:inherit;padding:.25rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--fg);cursor:pointer}
#shown{color:var(--muted)}
details.node{margin:.15rem 0 .15rem .9rem;border-left:1px solid var(--line);padding-left:.5rem}
#tree>details.node{margin-left:0}
details.node>summary{cursor:pointer;padding:.1rem 0}
details.node>summary .label{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
.count{display:inline-block;min-width:1.6rem;text-align:center;border-radius:1rem;background:var(--panel);border:1px solid var(--line);font-size:11px;padding:0 .4rem;margin-left:.3rem}
.badge{font-size:11px;border-radius:4px;padding:0 .3rem;margin-left:.3rem;background:var(--hunk-bg);color:var(--hunk)}
.diff{margin:.3rem 0 .5rem .4rem;padding:.35rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--panel)}
.diff .loc{overflow-wrap:anywhere;color:var(--muted)}
.diff .what{font-weight:600;margin-left:.5rem}
.k-added .what{color:var(--add)}.k-removed .what{color:var(--del)}
table.values{border-collapse:collapse;margin-top:.25rem}
table.values th{font-weight:600;padding:0 .5rem 0 0;vertical-align:top;width:1.2rem}
table.values td{overflow-wrap:anywhere}
table.values tr.va td code{color:var(--del)}table.values tr.vb td code{color:var(--add)}
.summary-line{margin:.25rem 0}
.cause{margin-left:.5rem;font-size:12px;color:#6a4c00;background:#fff4d6;border-radius:3px;padding:0 .3rem}
pre.udiff{margin:.3rem 0 0;padding:.3rem 0;overflow-x:auto;background:var(--bg);border:1px solid var(--line);border-radius:4px}
pre.udiff .l{display:block;padding:0 .5rem;white-space:pre}
pre.udiff .add{background:var(--add-bg);color:var(--add)}
pre.udiff .del{background:var(--del-bg);color:var(--del)}
pre.udiff .hunk{background:var(--hunk-bg);color:var(--hunk)}
pre.udiff .meta{color:var(--muted)}
pre.udiff .cut{background:var(--note-bg);font-style:italic}
pre.udiff mark{background:var(--mark-bg,#ffd54f);color:inherit;font-weight:bold}
.problem{color:var(--del)}
footer{margin-top:2rem;color:var(--muted);font-size:12px}
[hidden]{display:none!important}
"#;

/// The page's one script. It builds no markup from data: it reads `textContent`,
/// toggles `hidden` and `open`, and writes only numbers into `#shown`.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var tree = document.getElementById("tree");
  var box = document.getElementById("filter");
  var shown = document.getElementById("shown");
  if (!tree || !box || !shown) { return; }
  var diffs = Array.prototype.slice.call(tree.querySelectorAll(".diff"));
  var nodes = Array.prototype.slice.call(tree.querySelectorAll("details.node"));
  var texts = diffs.map(function (d) { return d.textContent.toLowerCase(); });
  var stamp = 0;
  function apply() {
    stamp += 1;
    var q = box.value.trim().toLowerCase();
    var kind = null, cause = null;
    if (q.indexOf("kind:") === 0) { kind = q.slice(5).trim(); q = ""; }
    else if (q.indexOf("cause:") === 0) { cause = q.slice(6).trim(); q = ""; }
    var n = 0;
    diffs.forEach(function (d, i) {
      var ok = (kind === null || d.getAttribute("data-kind") === kind) &&
               (cause === null || d.getAttribute("data-cause") === cause) &&
               (q === "" || texts[i].indexOf(q) !== -1);
      d.hidden = !ok;
      if (!ok) { return; }
      n += 1;
      for (var p = d.parentElement; p && p !== tree; p = p.parentElement) {
        if (p.tagName !== "DETAILS" || !p.classList.contains("node")) { continue; }
        if (p.isodiffStamp !== stamp) { p.isodiffStamp = stamp; p.isodiffShown = 0; }
        p.isodiffShown += 1;
      }
    });
    var narrowed = kind !== null || cause !== null || q !== "";
    nodes.forEach(function (node) {
      var any = node.isodiffStamp === stamp;
      node.hidden = !any;
      if (narrowed && any) { node.open = true; }
      var count = node.querySelector(":scope > summary > .count");
      if (count) {
        var total = count.getAttribute("data-total");
        count.textContent = narrowed && any ? node.isodiffShown + " of " + total : total;
      }
    });
    shown.textContent = narrowed ? n + " of " + diffs.length + " shown" : diffs.length + " shown";
  }
  box.addEventListener("input", apply);
  Array.prototype.forEach.call(document.querySelectorAll("a.kind"), function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      box.value = "kind:" + a.getAttribute("data-kind");
      apply();
      box.scrollIntoView();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("a.cause"), function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      box.value = "cause:" + a.getAttribute("data-cause");
      apply();
      box.scrollIntoView();
    });
  });
  function all(open) {
    nodes.forEach(function (node) { node.open = open; });
    Array.prototype.forEach.call(tree.querySelectorAll("details.detail"), function (d) { d.open = open; });
  }
  document.getElementById("expand").addEventListener("click", function () { all(true); });
  document.getElementById("collapse").addEventListener("click", function () { all(false); });
  // A link can carry a filter: report.html#filter=kind:mtime
  var hash = window.location.hash;
  if (hash.indexOf("#filter=") === 0) {
    try { box.value = decodeURIComponent(hash.slice(8)); } catch (e) { box.value = hash.slice(8); }
  }
  apply();
  document.documentElement.setAttribute("data-isodiff-ready", "1");
})();
"##;

/// Standard base64 of `bytes` (for the script's hash in the CSP).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The Content-Security-Policy: nothing from the network, inline style, and only
/// the script with this hash.
fn csp() -> String {
    let hash = base64(&Sha256::digest(SCRIPT.as_bytes()));
    format!("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; img-src data:; base-uri 'none'; form-action 'none'")
}

/// One node of the location tree: a path segment, a file that is an image, or the
/// outermost image (the root). Nodes live in an arena, children after parents, so
/// counting and rendering need no recursion however deep a hostile tree is.
#[derive(Default)]
struct Node {
    label: Vec<u8>,
    image: bool,
    children: BTreeMap<Vec<u8>, usize>,
    diffs: Vec<usize>,
    count: usize,
    parent: usize,
}

fn build_tree(report: &Report) -> Vec<Node> {
    let mut nodes = vec![Node {
        image: true,
        ..Node::default()
    }];
    for (i, d) in report.differences.iter().enumerate() {
        let mut at = 0usize;
        let last = d.location.len().saturating_sub(1);
        for (e, element) in d.location.iter().enumerate() {
            for segment in element.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
                at = match nodes[at].children.get(segment) {
                    Some(&child) => child,
                    None => {
                        let child = nodes.len();
                        nodes.push(Node {
                            label: segment.to_vec(),
                            parent: at,
                            ..Node::default()
                        });
                        nodes[at].children.insert(segment.to_vec(), child);
                        child
                    }
                };
            }
            if e < last || d.kind().is_image_level() {
                nodes[at].image = true;
            }
        }
        nodes[at].diffs.push(i);
    }
    // Children come after their parent in the arena: one backward pass sums counts.
    for i in (0..nodes.len()).rev() {
        nodes[i].count += nodes[i].diffs.len();
        if i > 0 {
            let (parent, count) = (nodes[i].parent, nodes[i].count);
            nodes[parent].count += count;
        }
    }
    nodes
}

/// Writes `report` as one HTML page.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut s = String::new();
    page(report, &mut s);
    out.write_all(s.as_bytes())
}

fn page(report: &Report, s: &mut String) {
    let (pa, pb) = (
        h(report.a.shown().as_bytes()),
        h(report.b.shown().as_bytes()),
    );
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\" data-isodiff-report=\"1\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"isodiff {}\">\n<title>isodiff: {pa} vs {pb}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        csp(),
        env!("CARGO_PKG_VERSION"),
    );
    let _ = write!(
        s,
        "<header>\n<h1>isodiff report</h1>\n<p class=\"sides mono\"><span class=\"a\">--- {pa}</span> ({} bytes)<br><span class=\"b\">+++ {pb}</span> ({} bytes)</p>\n",
        report.a.size, report.b.size
    );
    let images = report.count_by_image().len();
    let verdict = report
        .verdict()
        .describe(&format!(" in {images} file system(s)"));
    let verdict = match verdict.get(..1) {
        // A sentence: `Identical`, `3 difference(s) ...`.
        Some(first) => format!("{}{}", first.to_uppercase(), &verdict[1..]),
        None => verdict,
    };
    let _ = writeln!(
        s,
        "<p class=\"verdict\" id=\"verdict\">{verdict}</p>\n</header>"
    );
    summary(report, s);
    problems(report, s);
    differences(report, s);
    let _ = write!(
        s,
        "<footer>Made by isodiff {}. Exit code: 0 identical, 1 different, 2 trouble.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
}

/// The causes found, first: a table with the count, what differs, examples
/// and the usual fix of each.
fn causes(report: &Report, s: &mut String) {
    if report.causes.is_empty() {
        return;
    }
    s.push_str("<table class=\"counts\" id=\"causes\"><caption>Causes</caption>\n<tr><th>cause</th><th>count</th><th>what</th><th>e.g.</th><th>usual fix</th></tr>\n");
    for c in &report.causes {
        let what = c.what();
        let examples: Vec<String> = c
            .examples
            .iter()
            .map(|l| {
                format!(
                    "<code class=\"loc\">{}</code>",
                    h(super::text::location(l).as_bytes())
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "<tr id=\"cause-{}\"><td title=\"{}\"><a class=\"cause\" href=\"#differences\" data-cause=\"{}\"><b>{}</b></a></td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.class.id,
            html_escape(c.class.why),
            c.class.id,
            html_escape(c.class.title),
            c.differences,
            h(what.join("; ").as_bytes()),
            examples.join(", "),
            html_escape(c.class.fix)
        );
    }
    s.push_str("</table>\n");
    if report.no_known_cause > 0 {
        let _ = writeln!(
            s,
            "<p class=\"note\" id=\"no-known-cause\">No known cause: {} difference(s).</p>",
            report.no_known_cause
        );
    }
}

fn summary(report: &Report, s: &mut String) {
    s.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    causes(report, s);
    if let Some(f) = &report.filtered {
        let _ = writeln!(
            s,
            "<p class=\"note\" id=\"filtered\">{}</p>",
            h(f.describe().as_bytes())
        );
    }
    if let Some(c) = &report.cut {
        let _ = writeln!(
            s,
            "<p class=\"note\" id=\"cut\">{}</p>",
            html_escape(&c.describe())
        );
    }
    for r in &report.byte_accounting {
        let _ = writeln!(
            s,
            "<p class=\"note bytes\"><code class=\"loc\">{}</code> {}</p>",
            h(super::text::location(&r.location).as_bytes()),
            h(super::text::accounting_line(r).as_bytes())
        );
    }
    if report.differences.is_empty() {
        s.push_str("</section>\n");
        return;
    }
    s.push_str("<div class=\"cards\">\n<table class=\"counts\" id=\"by-kind\"><caption>By kind</caption>\n<tr><th>kind</th><th>count</th></tr>\n");
    for (kind, n) in report.count_by_kind() {
        let k = kind.name();
        let _ = writeln!(
            s,
            "<tr><td><a class=\"kind\" href=\"#differences\" data-kind=\"{k}\">{k}</a></td><td class=\"n\">{n}</td></tr>"
        );
    }
    s.push_str("</table>\n<table class=\"counts\" id=\"by-image\"><caption>By file system</caption>\n<tr><th>file system</th><th>count</th></tr>\n");
    for (image, n) in report.count_by_image() {
        let name = if image.is_empty() {
            "(outer image)".to_owned()
        } else {
            h_location(image)
        };
        let _ = writeln!(
            s,
            "<tr><td class=\"mono\">{name}</td><td class=\"n\">{n}</td></tr>"
        );
    }
    s.push_str("</table>\n");
    let repeated = report.repeated(2);
    if !repeated.is_empty() {
        s.push_str("<table class=\"counts\" id=\"repeated\"><caption>Changes seen more than once</caption>\n<tr><th>what</th><th>a</th><th>b</th><th>count</th></tr>\n");
        for r in repeated.iter().take(REPEATED_SHOWN) {
            let (a, b) = shown_pair(&r.a, &r.b);
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td></tr>",
                h(r.what().as_bytes()),
                h_value(&a),
                h_value(&b),
                r.count
            );
        }
        if repeated.len() > REPEATED_SHOWN {
            let _ = writeln!(
                s,
                "<tr><td colspan=\"4\" class=\"hint\">and {} more</td></tr>",
                repeated.len() - REPEATED_SHOWN
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</div>\n");
    if report.filtered.is_none() {
        let semantic = super::Filter::new().semantic();
        let n = report
            .differences
            .iter()
            .filter(|d| semantic.hides(d))
            .count();
        if n > 0 {
            let _ = writeln!(
                s,
                "<p class=\"hint\" id=\"hint-semantic\">{n} of these are times, ownership or packing details: <code>--semantic</code> hides them, <code>--ignore FIELD</code> and <code>--exclude GLOB</code> hide what you name.</p>"
            );
        }
    }
    s.push_str("</section>\n");
}

fn problems(report: &Report, s: &mut String) {
    if !report.warnings.is_empty() {
        s.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
        for w in &report.warnings {
            let side = match w.side {
                Which::A => "a",
                Which::B => "b",
            };
            let _ = writeln!(
                s,
                "<li class=\"warning\"><code>{}</code> warning in {side}: {}</li>",
                h_location(&w.location),
                h(w.message.as_bytes())
            );
        }
        s.push_str("</ul>\n</section>\n");
    }
    if report.problems.is_empty() {
        return;
    }
    s.push_str("<section id=\"problems\">\n<h2>Problems</h2>\n<ul>\n");
    for p in &report.problems {
        let side = match p.side {
            Which::A => "a",
            Which::B => "b",
        };
        let _ = writeln!(
            s,
            "<li class=\"problem\"><code>{}</code> error in {side}: {}</li>",
            h_location(&p.location),
            h(p.message.as_bytes())
        );
    }
    s.push_str("</ul>\n</section>\n");
}

fn differences(report: &Report, s: &mut String) {
    if report.differences.is_empty() {
        return;
    }
    s.push_str("<section id=\"differences\">\n<h2>Differences</h2>\n<div class=\"toolbar\"><input id=\"filter\" type=\"search\" placeholder=\"Filter: any text, kind:mtime or cause:build-clock\" autocomplete=\"off\" aria-label=\"Filter differences\"><button id=\"expand\" type=\"button\">Expand all</button><button id=\"collapse\" type=\"button\">Collapse all</button><span id=\"shown\"></span></div>\n<div id=\"tree\">\n");
    let nodes = build_tree(report);
    let open_all = report.differences.len() <= OPEN_ALL_UP_TO;
    // Depth-first without recursion: a stack of nodes to open and closings to write.
    enum Step {
        Open(usize, usize),
        Close,
    }
    let mut stack = vec![Step::Open(0, 0)];
    while let Some(step) = stack.pop() {
        let (mut at, depth) = match step {
            Step::Close => {
                s.push_str("</details>\n");
                continue;
            }
            Step::Open(at, depth) => (at, depth),
        };
        // A directory holding nothing but one child is shown with it (`a/b/c`).
        let mut label = if at == 0 {
            "(outer image)".to_owned()
        } else {
            h(&nodes[at].label)
        };
        while at != 0
            && !nodes[at].image
            && nodes[at].diffs.is_empty()
            && nodes[at].children.len() == 1
        {
            let Some(&child) = nodes[at].children.values().next() else {
                break;
            };
            at = child;
            label.push('/');
            label.push_str(&h(&nodes[at].label));
        }
        let node = &nodes[at];
        let open = open_all || depth == 0 || node.image;
        let _ = writeln!(
            s,
            "<details class=\"node{}\"{}><summary><span class=\"label\">{label}</span>{}<span class=\"count\" title=\"differences here and below\" data-total=\"{count}\">{count}</span></summary>",
            if node.image { " image" } else { "" },
            if open { " open" } else { "" },
            if node.image && at != 0 {
                "<span class=\"badge\">image</span>"
            } else {
                ""
            },
            count = node.count
        );
        for &i in &node.diffs {
            difference(&report.differences[i], open_all, s);
        }
        stack.push(Step::Close);
        for &child in node.children.values().rev() {
            stack.push(Step::Open(child, depth + 1));
        }
    }
    s.push_str("</div>\n</section>\n");
}

fn difference(d: &Difference, open: bool, s: &mut String) {
    let kind = d.kind();
    let k = kind.name();
    let _ = writeln!(
        s,
        "<div class=\"diff k-{k}\" data-kind=\"{k}\"{}><div class=\"head\"><code class=\"loc\">{}</code><span class=\"what\">{}</span>{}</div>",
        d.cause
            .map(|c| format!(" data-cause=\"{}\"", c.id))
            .unwrap_or_default(),
        h_location(&d.location),
        h(d.what().as_bytes()),
        d.cause
            .map(|c| format!(" <span class=\"cause\" title=\"{}\">{}</span>", html_escape(c.why), html_escape(c.title)))
            .unwrap_or_default()
    );
    let (a, b) = d.values();
    let (a, b) = shown_pair(&a, &b);
    match kind {
        Kind::Added | Kind::Removed => {
            let (v, side) = if kind == Kind::Added {
                (&b, "only in b")
            } else {
                (&a, "only in a")
            };
            let entries = match d.entries() {
                Some(n) if n > 1 => format!(", {n} entries"),
                _ => String::new(),
            };
            let _ = writeln!(
                s,
                "<p class=\"summary-line\">{side}: {}{entries}</p>",
                h_value(v)
            );
        }
        _ => {
            if let Some(summary) = d.summary() {
                let _ = writeln!(s, "<p class=\"summary-line\">{}</p>", h(summary.as_bytes()));
            }
            let _ = writeln!(
                s,
                "<table class=\"values\"><tr class=\"va\"><th>a</th><td><code>{}</code></td></tr><tr class=\"vb\"><th>b</th><td><code>{}</code></td></tr></table>",
                h_value(&a),
                h_value(&b)
            );
        }
    }
    let lines = d.detail_lines();
    if !lines.is_empty() {
        let _ = write!(
            s,
            "<details class=\"detail\"{}><summary>detail</summary><pre class=\"udiff\">",
            if open { " open" } else { "" }
        );
        for line in lines {
            let class = match line {
                DetailLine::DiffCut(_)
                | DetailLine::LeftOut
                | DetailLine::HexCut
                | DetailLine::HexMore(_)
                | DetailLine::CodeCut
                | DetailLine::CodeMore(_) => "cut",
                DetailLine::Digest(..) => "meta",
                DetailLine::Hunk(_) | DetailLine::HexHeader(_) | DetailLine::CodeHeader(_) => {
                    "hunk"
                }
                DetailLine::Line(l) => match l.op {
                    LineOp::Added => "add",
                    LineOp::Removed => "del",
                    LineOp::Context | LineOp::NoNewline => "ctx",
                },
                DetailLine::HexRow(r) => match r.side {
                    Some(Which::A) => "del",
                    Some(Which::B) => "add",
                    None => "ctx",
                },
                DetailLine::CodeRow(r) => match r.side {
                    Some(Which::A) => "del",
                    Some(Which::B) => "add",
                    None => "ctx",
                },
            };
            let body = match line {
                // The bytes that differ from the other side's are marked, in
                // the hex and in the characters.
                DetailLine::HexRow(r) => {
                    let mut body = String::new();
                    r.write_with(&mut body, &|out, text, differs| {
                        // Hex digits, letters, `.` and spaces need no escaping
                        // (the others: `\\`, `<`, `&`...): no string per byte.
                        let plain = text
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b' ');
                        let escaped;
                        let text = if plain {
                            text
                        } else {
                            escaped = h(text.as_bytes());
                            escaped.as_str()
                        };
                        if differs {
                            out.push_str("<mark>");
                            out.push_str(text);
                            out.push_str("</mark>");
                        } else {
                            out.push_str(text);
                        }
                    });
                    body
                }
                // An instruction of one side only (it differs from the other
                // side's) is marked whole.
                DetailLine::CodeRow(r) if r.side.is_some() => {
                    format!("<mark>{}</mark>", h(line.to_string().as_bytes()))
                }
                _ => h(line.to_string().as_bytes()),
            };
            let _ = write!(s, "<span class=\"l {class}\">{body}</span>");
        }
        s.push_str("</pre></details>\n");
    }
    s.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::change::{Hunk, Line, LineOp, TextDiff};
    use crate::report::{EntryField, Problem, Side, Val};

    #[test]
    fn hexdump_marks_the_differing_bytes_escaped() {
        let mut c = crate::report::change::tests::content();
        c.text_diff = None;
        c.hexdump = Some(crate::report::Hexdump {
            regions: vec![crate::report::HexRegion {
                offset: 0,
                a: b"<a>&x".to_vec(),
                b: b"<b>&x".to_vec(),
                cut: false,
            }],
            more_regions: 0,
        });
        let side = |p: &str| Side::new(p, 0);
        let r = Report::new(
            side("a"),
            side("b"),
            vec![Difference::content(vec![b"/f".to_vec()], c)],
            Vec::new(),
        );
        let mut out = Vec::new();
        write(&r, &mut out).unwrap_or_default();
        let html = String::from_utf8_lossy(&out);
        assert!(
            html.contains("<span class=\"l del\">-00000000: 3c<mark>61</mark> 3e26 78 "),
            "{html}"
        );
        assert!(
            html.contains("  &lt;<mark>a</mark>&gt;&amp;x</span>"),
            "{html}"
        );
        assert!(
            html.contains("+00000000: 3c<mark>62</mark> 3e26 78"),
            "{html}"
        );
        assert!(!html.contains("<a>"), "escaped");
    }

    #[test]
    fn base64_matches_known_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    fn hostile() -> Report {
        let evil = b"/<script>alert(1)</script>\"'><img src=x onerror=alert(2)>".to_vec();
        let mut c = crate::report::change::tests::content();
        c.text_diff = Some(TextDiff {
            hunks: vec![Hunk {
                old_start: 1,
                old_lines: 1,
                new_start: 1,
                new_lines: 1,
                lines: vec![
                    Line {
                        op: LineOp::Removed,
                        text: "</pre><script>x()</script>".into(),
                    },
                    Line {
                        op: LineOp::Added,
                        text: "ok".into(),
                    },
                ],
            }],
            cut_at_lines: None,
        });
        let content = Difference::content(vec![evil.clone()], c);
        let side = |p: &str| Side::new(p, 0);
        Report::new(
            side("a<script>.iso"),
            side("b\".iso"),
            vec![
                content,
                Difference::entry(
                    vec![evil.clone()],
                    EntryField::Symlink,
                    Val::Path(b"<a>".to_vec()),
                    Val::Path(b"'".to_vec()),
                ),
                Difference::image_fact(
                    vec![],
                    "pvd.<volume_id>",
                    Val::Text("<".into()),
                    Val::Text("<b>a</b>".into()),
                ),
            ],
            vec![Problem {
                location: vec![evil],
                side: Which::A,
                message: "<script>bad</script>".into(),
            }],
        )
    }

    #[test]
    fn every_string_is_escaped() {
        let mut v = Vec::new();
        write(&hostile(), &mut v).expect("write");
        let page = String::from_utf8(v).expect("utf8");
        // Exactly one script element, ours; no markup from the data.
        assert_eq!(page.matches("<script").count(), 1, "{page}");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>a</b>") && !page.contains("<i>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img"));
        assert!(page.contains("pvd.&lt;volume_id&gt;"));
        assert!(page.contains("<span class=\"l del\">-&lt;/pre&gt;&lt;script&gt;"));
        // Nothing to fetch.
        for external in [
            "<link",
            "<img",
            "<iframe",
            "<object",
            "<embed",
            "<script src",
            "url(",
            "@import",
            "http://",
            "https://",
        ] {
            assert!(!page.contains(external), "{external} in page");
        }
    }

    #[test]
    fn csp_names_the_script_hash() {
        let mut v = Vec::new();
        write(&hostile(), &mut v).expect("write");
        let page = String::from_utf8(v).expect("utf8");
        let start = page.find("<script>").expect("script") + "<script>".len();
        let end = page.find("</script>").expect("end");
        let hash = base64(&Sha256::digest(&page.as_bytes()[start..end]));
        assert!(page.contains(&format!("'sha256-{hash}'")));
    }

    #[test]
    fn tree_counts_and_folds_single_child_chains() {
        let loc = |l: &[&str]| l.iter().map(|p| p.as_bytes().to_vec()).collect();
        let d = |l: &[&str], field| {
            Difference::entry(loc(l), field, Val::Unsigned(1), Val::Unsigned(2))
        };
        let side = |p: &str| Side::new(p, 0);
        let r = Report::new(
            side("a"),
            side("b"),
            vec![
                Difference::image_fact(
                    loc(&["/img.sq"]),
                    "superblock.mkfs_time",
                    Val::Unsigned(1),
                    Val::Unsigned(2),
                ),
                d(&["/img.sq", "/x/y/z"], EntryField::Mode),
                d(&["/img.sq", "/x/y/w"], EntryField::Uid),
                d(&["/top"], EntryField::Mtime),
            ],
            Vec::new(),
        );
        let nodes = build_tree(&r);
        assert_eq!(nodes[0].count, 4);
        let img = nodes[0].children[&b"img.sq".to_vec()];
        assert!(nodes[img].image);
        assert_eq!((nodes[img].count, nodes[img].diffs.len()), (3, 1));
        let mut v = Vec::new();
        write(&r, &mut v).expect("write");
        let page = String::from_utf8(v).expect("utf8");
        assert!(page.contains("<span class=\"label\">x/y</span>"), "{page}");
        assert_eq!(page.matches("<details class=\"node").count(), 6);
        assert_eq!(
            page.matches("<details class=\"node").count(),
            page.matches("</details>").count() - page.matches("class=\"detail\"").count()
        );
    }
}
