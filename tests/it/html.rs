//! The HTML report in a real browser: headless Chromium loads the report of the
//! bundled NixOS-like pair, runs its script without an error, shows every planted
//! difference, filters from a link, and takes a screenshot. A pair with crafted
//! names and link targets shows them as text: no element or script of theirs gets
//! into the page, and the page's Content-Security-Policy would stop a script that
//! did.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, isodiff, TempDir};

/// What Chromium printed: the page (for `--dump-dom`) and its log.
struct Loaded {
    dom: String,
    log: String,
}

/// Runs headless Chromium on `url` with `extra` flags and a fresh profile, as the
/// machine notes say works here; killed if it takes more than a minute.
fn chromium(profile: &Path, url: &str, extra: &[&str]) -> Loaded {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    // Drain both pipes on threads so a full pipe cannot stall the browser.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium took more than a minute on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    Loaded {
        dom: out.join().unwrap_or_default(),
        log: err.join().unwrap_or_default(),
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Console errors in Chromium's log (an uncaught exception, a refused script).
fn script_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("Refused to")
                || l.contains("violates the following Content Security Policy")
        })
        .collect()
}

fn html_report(dir: &Path, a: &Path, b: &Path) -> PathBuf {
    let page = dir.join("report.html");
    let out = isodiff(&[
        "--html".as_ref(),
        page.as_os_str(),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

#[test]
fn bundled_pair_renders_with_every_planted_difference() {
    if !common::on_path(&["chromium"]) {
        return;
    }
    let dir = TempDir::new("html-bundled");
    let page = html_report(
        &dir.0,
        &fixture("nixos-like-a.iso"),
        &fixture("nixos-like-b.iso"),
    );
    let loaded = chromium(&dir.0.join("profile"), &file_url(&page), &["--dump-dom"]);
    let dom = &loaded.dom;
    assert!(
        dom.contains("data-isodiff-ready=\"1\""),
        "the page's script did not finish:\n{}",
        loaded.log
    );
    assert!(script_errors(&loaded.log).is_empty(), "{}", loaded.log);
    assert!(dom.contains("<span id=\"shown\">13 shown</span>"), "{dom}");
    assert_eq!(dom.matches("<div class=\"diff ").count(), 13);
    // Every planted difference, with both values where it has two.
    let hello = "/nix-store.squashfs:/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1";
    for (location, what, values) in [
        (
            "/nix-store.squashfs".to_owned(),
            "superblock.mkfs_time",
            &["1970-01-01T00:00:01Z", "2024-06-02T00:00:00Z"][..],
        ),
        (
            "/nix-store.squashfs:/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/current".to_owned(),
            "symlink",
            &[
                "/nix/store/6ivd9vb3f6yg3b4wh4mb4n2gwh3w55bq-systemd-255.4",
                "/nix/store/p1b8c3a7m9kq2x0d4n6f5h7j8k9l0m1n-systemd-256.1",
            ][..],
        ),
        (
            format!("{hello}/bin/hello"),
            "content",
            &["20 bytes differ in 1 region from offset 4096"][..],
        ),
        (
            format!("{hello}/share/added"),
            "added",
            &["only in b: file"][..],
        ),
        (
            format!("{hello}/share/removed"),
            "removed",
            &["only in a: file"][..],
        ),
        (format!("{hello}/share/motd"), "size", &["45", "43"][..]),
        (
            format!("{hello}/share/motd"),
            "content",
            &[
                "<span class=\"l del\">-This is line two.</span>",
                "<span class=\"l add\">+This is line 2.</span>",
            ][..],
        ),
    ] {
        let card =
            format!("<code class=\"loc\">{location}</code><span class=\"what\">{what}</span>");
        let at = dom
            .find(&card)
            .unwrap_or_else(|| panic!("no {what} at {location} in the page"));
        let rest = &dom[at..];
        let end = rest[1..]
            .find("<div class=\"diff ")
            .map_or(rest.len(), |e| e + 1);
        for v in values {
            assert!(
                rest[..end].contains(v),
                "{v} not shown for {what} at {location}"
            );
        }
    }
    for name in [
        "kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup",
        "lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users",
        "pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf",
    ] {
        for what in ["mode", "mtime"] {
            let card = format!(
                "<code class=\"loc\">/nix-store.squashfs:/{name}</code><span class=\"what\">{what}</span>"
            );
            assert!(dom.contains(&card), "no {what} of {name} in the page");
        }
    }
    assert!(dom.contains("<code>0644</code>") && dom.contains("<code>0444</code>"));
    assert!(dom.contains("<code>1980-01-01T00:00:00Z</code>"));

    // A screenshot, for a person to look at (kept when ISODIFF_KEEP_SCREENSHOT
    // names a path).
    let shot = dir.0.join("report.png");
    let loaded = chromium(
        &dir.0.join("profile-shot"),
        &file_url(&page),
        &[
            "--window-size=1280,1600",
            "--hide-scrollbars",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}): {}", loaded.log));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("ISODIFF_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).expect("copy screenshot");
    }
}

#[test]
fn filter_box_narrows_the_page_from_a_link() {
    if !common::on_path(&["chromium"]) {
        return;
    }
    let dir = TempDir::new("html-filter");
    let page = html_report(
        &dir.0,
        &fixture("nixos-like-a.iso"),
        &fixture("nixos-like-b.iso"),
    );
    for (filter, shown) in [
        ("lingering", 2),
        ("kind:mtime", 3),
        ("LINE%202", 1),
        ("no-such-thing", 0),
    ] {
        let url = format!("{}#filter={filter}", file_url(&page));
        let loaded = chromium(
            &dir.0.join(format!("profile-{shown}")),
            &url,
            &["--dump-dom"],
        );
        assert!(script_errors(&loaded.log).is_empty(), "{}", loaded.log);
        let dom = &loaded.dom;
        assert!(
            dom.contains(&format!("<span id=\"shown\">{shown} of 13 shown</span>")),
            "{filter}: {}",
            dom.split("id=\"shown\"")
                .nth(1)
                .unwrap_or_default()
                .get(..60)
                .unwrap_or_default()
        );
        let visible = dom
            .split("<div class=\"diff ")
            .skip(1)
            .filter(|rest| !rest[..rest.find('>').unwrap_or(rest.len())].contains("hidden"))
            .count();
        assert_eq!(visible, shown, "{filter}");
        if filter == "lingering" {
            // The tree's counts follow the filter.
            assert!(dom.contains("data-total=\"13\">2 of 13</span>"), "{dom}");
        }
    }
}

/// Makes `a.iso` and `b.iso` with xorriso (Rock Ridge keeps any name and link
/// target): the crafted names are in both, and `b` changes their modes and the
/// crafted link's target.
fn crafted_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let script = r#"
set -e
d="$1"
for side in a b; do
  mkdir -p "$d/$side"
  printf 'x\n' > "$d/$side/<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','1')\">"
  printf 'y\n' > "$d/$side/<script>document.documentElement.setAttribute('data-pwned','2')"
  printf 'z\n' > "$d/$side/q'\"><b id=injected>bold"
done
ln -s 'plain-target' "$d/a/link"
ln -s "</script><script>document.documentElement.setAttribute('data-pwned','3')</script><i id=injected2>" "$d/b/link"
find "$d/b" -type f -exec chmod 0600 {} +
find "$d/a" "$d/b" -exec touch -h -d '2024-06-02 00:00:00' {} +
for side in a b; do
  SOURCE_DATE_EPOCH=1717286400 xorriso -as mkisofs -quiet -R -o "$d/$side.iso" "$d/$side"
done
"#;
    let out = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(dir)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (dir.join("a.iso"), dir.join("b.iso"))
}

#[test]
fn crafted_names_stay_text_in_the_browser() {
    if !common::on_path(&["chromium", "xorriso"]) {
        return;
    }
    let dir = TempDir::new("html-crafted");
    let (a, b) = crafted_pair(&dir.0);
    let page = html_report(&dir.0, &a, &b);
    let loaded = chromium(&dir.0.join("profile"), &file_url(&page), &["--dump-dom"]);
    let dom = &loaded.dom;
    assert!(dom.contains("data-isodiff-ready=\"1\""), "{}", loaded.log);
    assert!(script_errors(&loaded.log).is_empty(), "{}", loaded.log);
    assert!(
        !dom.contains("data-pwned=\""),
        "a crafted name ran or became markup"
    );
    assert!(
        !dom.contains("id=\"injected"),
        "a crafted name became an element"
    );
    assert!(!dom.contains("<img") && !dom.contains("<b ") && !dom.contains("<i "));
    assert_eq!(
        dom.matches("<script").count(),
        1,
        "only the page's own script"
    );
    // The names are there, as text.
    assert!(
        dom.contains("/&lt;img src=x onerror=\"document.documentElement"),
        "{dom}"
    );
    assert!(dom.contains("/&lt;script&gt;document.documentElement.setAttribute('data-pwned','2')"));
    assert!(dom.contains("/q'\"&gt;&lt;b id=injected&gt;bold"));
    assert!(dom.contains("&lt;/script&gt;&lt;script&gt;document.documentElement"));
    // Three crafted files changed mode, and the link its target.
    assert_eq!(dom.matches("<span class=\"what\">mode</span>").count(), 3);
    assert_eq!(
        dom.matches("<span class=\"what\">symlink</span>").count(),
        1
    );
}

#[test]
fn the_policy_stops_a_script_that_was_not_ours() {
    if !common::on_path(&["chromium"]) {
        return;
    }
    // As if escaping had failed somewhere: a script element spliced into the page.
    let dir = TempDir::new("html-csp");
    let page = html_report(
        &dir.0,
        &fixture("nixos-like-a.iso"),
        &fixture("nixos-like-b.iso"),
    );
    let html = std::fs::read_to_string(&page).expect("page");
    let spliced = html.replacen(
        "<h1>",
        "<script>document.documentElement.setAttribute('data-pwned','1')</script><h1>",
        1,
    );
    assert_ne!(spliced, html);
    std::fs::write(&page, spliced).expect("write");
    let loaded = chromium(&dir.0.join("profile"), &file_url(&page), &["--dump-dom"]);
    assert!(
        !loaded.dom.contains("data-pwned=\"1\""),
        "the spliced script ran"
    );
    assert!(
        loaded
            .log
            .contains("Executing inline script violates the following Content Security Policy"),
        "{}",
        loaded.log
    );
    assert_eq!(script_errors(&loaded.log).len(), 1, "{}", loaded.log);
    // The page's own script still ran.
    assert!(loaded.dom.contains("data-isodiff-ready=\"1\""));
}
