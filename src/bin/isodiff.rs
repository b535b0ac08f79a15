//! The `isodiff` command: a thin layer over the library.

#![forbid(unsafe_code)]

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use isodiff::escape::escape;
use isodiff::listing::{self, ListError, Listed};
use isodiff::{EntryKind, Limits, MappedFile};

/// Compare two ISO 9660 images and every file system nested in them.
///
/// Exit codes: 0 identical, 1 different, 2 trouble.
#[derive(Debug, Parser)]
#[command(
    name = "isodiff",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The first image.
    a: Option<PathBuf>,
    /// The second image.
    b: Option<PathBuf>,
    /// Write the JSON report to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the text report to FILE (`-` for stdout; the default when no other
    /// report is asked for).
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
    /// Also compare placement details (extent addresses, table offsets, inode numbers).
    #[arg(long)]
    layout: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every entry of an image, one per line.
    Ls {
        /// One JSON object per line instead of the readable listing.
        #[arg(long)]
        json: bool,
        /// The image to list.
        image: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Ls { json, image }) => ls(image, *json),
        None => compare(&cli),
    }
}

fn compare(cli: &Cli) -> ExitCode {
    let (Some(a), Some(b)) = (&cli.a, &cli.b) else {
        eprintln!("isodiff: two images to compare are needed (or `isodiff ls IMAGE`); see --help");
        return ExitCode::from(2);
    };
    let options = isodiff::Options::default().layout(cli.layout);
    let report = match isodiff::diff_files(a, b, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isodiff: {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = PathBuf::from("-");
    let mut outputs: Vec<(&PathBuf, Renderer)> = Vec::new();
    if let Some(p) = &cli.json {
        outputs.push((p, isodiff::report::json::write));
    }
    match &cli.text {
        Some(p) => outputs.push((p, isodiff::report::text::write)),
        None if cli.json.is_none() => outputs.push((&stdout, isodiff::report::text::write)),
        None => {}
    }
    for (path, render) in outputs {
        if let Err(e) = write_report(path, &report, render) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            eprintln!("isodiff: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    for p in &report.problems {
        let side = if p.side == isodiff::report::Which::A {
            a
        } else {
            b
        };
        eprintln!(
            "isodiff: {}: {}: {}",
            side.display(),
            isodiff::report::text::location(&p.location),
            p.message
        );
    }
    if !report.problems.is_empty() {
        ExitCode::from(2)
    } else if report.identical {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

type Renderer = fn(&isodiff::Report, &mut dyn Write) -> io::Result<()>;

/// Writes one report to a file, or to stdout for `-`. Only the files the user
/// named are created.
fn write_report(
    path: &std::path::Path,
    report: &isodiff::Report,
    render: Renderer,
) -> io::Result<()> {
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        render(report, &mut out)?;
        return out.flush();
    }
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    render(report, &mut out)?;
    out.flush()
}

fn ls(path: &std::path::Path, json: bool) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("isodiff: {}: {e}", path.display());
        ExitCode::from(2)
    };
    let map = match MappedFile::open(path) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let fs = match isodiff::open(map.bytes(), &Limits::default()) {
        Ok(fs) => fs,
        Err(e) => return fail(&e),
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error = None;
    let mut problems = 0u64;
    listing::walk_nested(
        fs.as_ref(),
        &[],
        &listing::Nesting::default(),
        &mut |l: Listed| {
            if write_error.is_some() {
                return;
            }
            let line = if json { json_line(&l) } else { text_line(&l) };
            if let Err(e) = writeln!(out, "{line}") {
                write_error = Some(e);
            }
        },
        &mut |p: ListError| {
            problems += 1;
            eprintln!(
                "isodiff: {}: {}: {}",
                path.display(),
                location_text(&p.location),
                p.error
            );
        },
    );
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return ExitCode::SUCCESS;
        }
        return fail(&e);
    }
    if problems > 0 {
        eprintln!(
            "isodiff: {}: {problems} problem(s) while listing",
            path.display()
        );
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

fn location_text(location: &[Vec<u8>]) -> String {
    location
        .iter()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join(":")
}

fn mode_string(kind: EntryKind, mode: Option<u32>) -> String {
    let Some(mode) = mode else {
        return format!("{}?????????", kind.ls_letter());
    };
    let mut s = String::with_capacity(10);
    s.push(kind.ls_letter());
    let special = [(0o4000, 's', 'S'), (0o2000, 's', 'S'), (0o1000, 't', 'T')];
    for (i, who) in [0o700, 0o070, 0o007].iter().enumerate() {
        let bits = mode & who;
        let shift = 6 - 3 * i;
        s.push(if bits >> shift & 4 != 0 { 'r' } else { '-' });
        s.push(if bits >> shift & 2 != 0 { 'w' } else { '-' });
        let x = bits >> shift & 1 != 0;
        let (flag, set, unset) = special[i];
        s.push(match (mode & flag != 0, x) {
            (true, true) => set,
            (true, false) => unset,
            (false, true) => 'x',
            (false, false) => '-',
        });
    }
    s
}

/// `unsquashfs -lln` style: mode, uid/gid, size (or major,minor), time, location.
fn text_line(l: &Listed) -> String {
    let m = &l.meta;
    let id = |v: Option<u32>| v.map_or("-".to_owned(), |v| v.to_string());
    let size = match m.rdev {
        Some((major, minor)) => format!("{major},{minor}"),
        None => m.size.to_string(),
    };
    let time = m.mtime.map_or("-".to_owned(), |t| t.rfc3339());
    let mut line = format!(
        "{} {}/{} {:>10} {} {}",
        mode_string(m.kind, m.mode),
        id(m.uid),
        id(m.gid),
        size,
        time,
        location_text(&l.location)
    );
    if let Some(target) = &m.target {
        line.push_str(" -> ");
        line.push_str(&escape(target));
    }
    line
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    location: Vec<String>,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nlink: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rdev: Option<[u32; 2]>,
}

fn json_line(l: &Listed) -> String {
    let m = &l.meta;
    let line = JsonLine {
        location: l
            .location
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect(),
        kind: m.kind.name(),
        mode: m.mode.map(|mode| format!("{mode:04o}")),
        uid: m.uid,
        gid: m.gid,
        size: (m.kind == EntryKind::File).then_some(m.size),
        mtime: m.mtime.map(|t| t.rfc3339()),
        target: m
            .target
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned()),
        nlink: m.nlink,
        rdev: m.rdev.map(|(a, b)| [a, b]),
    };
    serde_json::to_string(&line).unwrap_or_default()
}
