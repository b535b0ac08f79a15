//! The producers the round trip packs with, and what each keeps of a tree.
//!
//! A producer's limitation is written here, beside the producer, with why; the
//! comparison in `main.rs` knows nothing of formats.

use std::path::Path;
use std::process::Command;

use super::gen::Caps;

/// How a producer stores modification times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Times {
    /// Whole seconds, the fraction dropped.
    Seconds,
    /// FAT: even seconds, rounded down, local time (the tests run with TZ=UTC).
    TwoSeconds,
}

/// What a producer keeps of the tree it packs.
#[derive(Clone, Copy, Debug)]
pub struct Keeps {
    /// Permission bits kept (0: the format stores no mode).
    pub mode: bool,
    /// Owners: `Some(true)` kept, `Some(false)` all root (`-all-root`), `None`
    /// not stored.
    pub owners: Option<bool>,
    pub times: Times,
    /// mtime of directories (FAT producers give a directory the time of copying).
    pub dir_times: bool,
    /// The root directory's own metadata (FAT has no root entry).
    pub root_meta: bool,
    /// Link counts of files.
    pub nlink: bool,
    /// Link counts of directories (2 + subdirectories).
    pub dir_nlink: bool,
    pub xattrs: bool,
    /// The xattr namespaces kept (name prefixes), when `xattrs`.
    pub xattr_prefixes: &'static [&'static str],
    /// A symlink target as the producer stores it.
    pub target: fn(&[u8]) -> Vec<u8>,
}

/// One way of packing a directory into an image.
pub struct Producer {
    pub name: &'static str,
    /// Tools that must run (each probed with `--version`-like arguments).
    pub tools: &'static [&'static str],
    pub caps: Caps,
    pub keeps: Keeps,
    /// Packs `src` into `img`.
    pub pack: fn(src: &Path, img: &Path),
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(script: &str, src: &Path, img: &Path) {
    run(Command::new("sh")
        .arg("-ec")
        .arg(script)
        .arg("sh")
        .arg(src)
        .arg(img)
        .env("TZ", "UTC")
        .env("LC_ALL", "C"));
}

const SQUASHFS: Keeps = Keeps {
    mode: true,
    owners: Some(true),
    times: Times::Seconds,
    dir_times: true,
    root_meta: true,
    nlink: true,
    dir_nlink: true,
    xattrs: true,
    xattr_prefixes: &["user.", "trusted.", "security."],
    target: <[u8]>::to_vec,
};

/// GNU cpio cleans a symlink target as it cleans a member name: it drops leading
/// `./` (and the slashes after it), so `././a` is stored as `a` and `././` as an
/// empty target.
fn cpio_target(t: &[u8]) -> Vec<u8> {
    let mut t = t;
    while let Some(rest) = t.strip_prefix(b"./") {
        t = rest;
        while let Some(rest) = t.strip_prefix(b"/") {
            t = rest;
        }
    }
    t.to_vec()
}

fn mksquashfs(src: &Path, img: &Path, args: &[&str]) {
    run(Command::new("mksquashfs")
        .arg(src)
        .arg(img)
        .args(["-noappend", "-quiet", "-no-progress", "-processors", "1"])
        .args(args));
}

/// Every producer these tests know, installed or not.
pub fn all() -> Vec<Producer> {
    let unix = Caps::unix();
    vec![
        Producer {
            name: "mksquashfs-gzip",
            tools: &["mksquashfs"],
            caps: unix,
            keeps: SQUASHFS,
            pack: |s, i| mksquashfs(s, i, &["-comp", "gzip"]),
        },
        Producer {
            name: "mksquashfs-xz-no-fragments",
            tools: &["mksquashfs"],
            caps: unix,
            keeps: SQUASHFS,
            pack: |s, i| mksquashfs(s, i, &["-comp", "xz", "-no-fragments"]),
        },
        Producer {
            name: "mksquashfs-zstd-4k",
            tools: &["mksquashfs"],
            caps: unix,
            keeps: SQUASHFS,
            pack: |s, i| mksquashfs(s, i, &["-comp", "zstd", "-b", "4096"]),
        },
        Producer {
            name: "mksquashfs-lz4-no-xattrs",
            tools: &["mksquashfs"],
            caps: unix,
            keeps: Keeps {
                xattrs: false,
                ..SQUASHFS
            },
            pack: |s, i| mksquashfs(s, i, &["-comp", "lz4", "-no-xattrs"]),
        },
        Producer {
            name: "mksquashfs-lzo-all-root",
            tools: &["mksquashfs"],
            caps: unix,
            keeps: Keeps {
                owners: Some(false),
                ..SQUASHFS
            },
            pack: |s, i| mksquashfs(s, i, &["-comp", "lzo", "-all-root"]),
        },
        Producer {
            name: "gensquashfs",
            tools: &["gensquashfs"],
            caps: unix,
            keeps: Keeps {
                // --pack-dir gives the root the defaults (0755, 0/0, time 0), not
                // the directory's own metadata.
                root_meta: false,
                // It does not detect hard links (each name is an inode of its
                // own, link count 1) and counts every entry of a directory in
                // its link count, not only the subdirectories.
                nlink: false,
                dir_nlink: false,
                // --keep-xattr dropped trusted.* names and an empty-valued
                // user.* one in the trees seen; not compared until that is
                // pinned down (mksquashfs keeps them all).
                xattrs: false,
                ..SQUASHFS
            },
            pack: |s, i| {
                run(Command::new("gensquashfs")
                    .arg("--pack-dir")
                    .arg(s)
                    .args(["--keep-time", "--keep-xattr", "--quiet", "--force"])
                    .arg(i));
            },
        },
        Producer {
            name: "xorriso-rr-joliet",
            tools: &["xorriso"],
            caps: Caps {
                // The generator's longest symlink targets and names are fine; what
                // Rock Ridge cannot hold is xattrs (xorriso's AAIP is not read).
                xattrs: false,
                ..unix
            },
            keeps: Keeps {
                xattrs: false,
                // `-map SRC /` grafts the contents of SRC: the root directory is
                // xorriso's own (mode 0755, link count 1), not SRC's.
                root_meta: false,
                // libisofs writes a link count of 1 for every directory.
                dir_nlink: false,
                ..SQUASHFS
            },
            pack: |s, i| {
                run(Command::new("xorriso")
                    .args(["-report_about", "FAILURE", "-abort_on", "FAILURE"])
                    .args(["-joliet", "on", "-hardlinks", "on"])
                    .arg("-outdev")
                    .arg(i)
                    .arg("-map")
                    .arg(s)
                    .arg("/")
                    .env("LC_ALL", "C"));
            },
        },
        Producer {
            name: "genisoimage-rr",
            tools: &["genisoimage"],
            caps: Caps {
                // genisoimage 1.1.11 spins for ever on some symlink targets of
                // 2000 bytes and more (a Rock Ridge SL spread over continuation
                // areas); seen with a 2228-byte one here.
                max_target: 1024,
                xattrs: false,
                ..unix
            },
            keeps: Keeps {
                xattrs: false,
                ..SQUASHFS
            },
            pack: |s, i| {
                run(Command::new("genisoimage")
                    .args(["-quiet", "-R", "-o"])
                    .arg(i)
                    .arg(s)
                    .env("LC_ALL", "C"));
            },
        },
        Producer {
            name: "mkfs.vfat-mcopy",
            tools: &["mkfs.vfat", "mcopy"],
            caps: Caps {
                invalid_utf8: false,
                case_sensitive: false,
                fat_names: true,
                symlinks: false,
                specials: false,
                hardlinks: false,
                xattrs: false,
                // FAT dates start in 1980 (local time; TZ=UTC here).
                min_time: 315_532_800,
                max_depth: 6,
                ..unix
            },
            keeps: Keeps {
                mode: false,
                owners: None,
                times: Times::TwoSeconds,
                // mcopy gives the directories it makes the time of copying.
                dir_times: false,
                root_meta: false,
                nlink: false,
                dir_nlink: false,
                xattrs: false,
                xattr_prefixes: &[],
                target: <[u8]>::to_vec,
            },
            pack: |s, i| {
                sh(
                    r#"mkfs.vfat -F 32 -C "$2" 65536 >/dev/null
                    LC_ALL=C.UTF-8 find "$1" -mindepth 1 -maxdepth 1 -exec env LC_ALL=C.UTF-8 mcopy -s -m -i "$2" {} ::/ \;"#,
                    s,
                    i,
                );
            },
        },
        Producer {
            name: "cpio-newc",
            tools: &["cpio"],
            caps: unix,
            keeps: Keeps {
                xattrs: false,
                target: cpio_target,
                ..SQUASHFS
            },
            pack: |s, i| {
                sh(
                    r#"cd "$1" && find . | cpio -o -H newc --quiet > "$2""#,
                    s,
                    i,
                )
            },
        },
    ]
}
