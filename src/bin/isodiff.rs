//! The `isodiff` command: a thin layer over the library.

#![forbid(unsafe_code)]

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use isodiff::escape;
use isodiff::input::{descend, Input, Loaded};
use isodiff::listing::{self, ListError, Listed};
use isodiff::report::{self, filter::Filter, text::Style, Report};
use isodiff::{EntryKind, Filesystem};

/// See Cargo.toml: the allocator, for the many small paths and items.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Compare two ISO 9660 images and every file system nested in them.
///
/// Each side is an image file, a directory (the tree an image was made from:
/// same fields, content compared byte for byte), or a place inside an image,
/// IMAGE:/PATH, naming a nested image or a directory of it
/// (`isodiff nixos.iso:/nix-store.squashfs ./store`, `isodiff a.iso:/boot
/// b.iso:/boot`; deeper: `a.iso:/boot/efi.img:/EFI`). An argument that names an
/// existing file or directory is always that, even with a `:` in its name; only
/// one that names nothing is split at a `:/` after an existing file.
///
/// Reports go to the files named by --text, --json, --html, --markdown and
/// --diffoscope-json (several at once; `-` is stdout); with none of them, text goes
/// to stdout.
///
/// Exit codes: 0 identical (after filters), 1 different, 2 trouble.
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
    /// The first image, directory, or IMAGE:/PATH.
    a: Option<PathBuf>,
    /// The second image, directory, or IMAGE:/PATH.
    b: Option<PathBuf>,
    #[command(flatten)]
    reports: ReportArgs,
    /// Cut the report to about this many bytes of text report (suffixes K, M, G:
    /// binary multiples): details first, then the last differences, with a note
    /// saying what was left out. 0: no limit.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "0", help_heading = "Reports")]
    max_report_size: u64,
    /// Most lines of one unified diff; a cut diff ends with a note. 0: no limit.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 400,
        help_heading = "Reports"
    )]
    max_diff_lines: usize,
    /// Most differing regions of a binary file shown as a hexdump (both sides,
    /// with 16 bytes of context). 0: no hexdump.
    #[arg(
        long,
        value_name = "N",
        default_value_t = isodiff::Options::DEFAULT_HEXDUMP_REGIONS,
        help_heading = "Reports"
    )]
    hexdump_regions: usize,
    /// Most bytes of one hexdump region (suffixes K, M, G); a longer region is cut
    /// with a note.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "256", help_heading = "Reports")]
    max_hexdump_bytes: u64,
    /// Most differing regions of an ELF or PE file's code (x86-64, x86,
    /// aarch64) shown disassembled: the instructions over each, with 3 before
    /// and after, both sides, as `objdump -d` prints them. 0: none.
    #[arg(
        long,
        value_name = "N",
        default_value_t = isodiff::Options::DEFAULT_DISASSEMBLY_REGIONS,
        help_heading = "Reports"
    )]
    disassembly_regions: usize,
    /// Hide differences at locations matching GLOB, and below them (repeatable).
    /// Locations read `/nix-store.squashfs:/etc/passwd`; `*` and `?` stop at `/`,
    /// `**` does not; a GLOB not starting with `/` matches at any depth.
    #[arg(long, value_name = "GLOB", help_heading = "Filters")]
    exclude: Vec<String>,
    /// Hide differences of these kinds or fields (comma-separated, repeatable):
    /// mtime, atime, ctime, uid, gid, mode, nlink, xattr, size, ...; image facts
    /// and attributes by name or glob (pvd.creation_date, superblock.*, rr.tf.*).
    #[arg(
        long,
        value_name = "FIELD,...",
        value_delimiter = ',',
        help_heading = "Filters"
    )]
    ignore: Vec<String>,
    /// Hide times, ownership, and image facts that only say how the bytes were laid
    /// out or packed (dates, compressor, block size).
    #[arg(long, help_heading = "Filters")]
    semantic: bool,
    /// Also compare placement details (extent addresses, table offsets, inode numbers).
    #[arg(long)]
    layout: bool,
    /// Print nothing; only the exit code says the result (as `cmp -s`, `diff -q`).
    /// Reports named with --text, --json, ... are still written to their files
    /// (not to stdout); trouble is still said on stderr.
    #[arg(short, long)]
    quiet: bool,
    /// No progress bar (there is one only when stderr is a terminal, and never
    /// with --quiet).
    #[arg(long)]
    no_progress: bool,
    /// Deepest directory nesting read in one image.
    #[arg(long, value_name = "N", default_value_t = isodiff::Limits::default().max_depth, help_heading = "Limits")]
    max_depth: u32,
    /// Most entries read from one image.
    #[arg(long, value_name = "N", default_value_t = isodiff::Limits::default().max_entries, help_heading = "Limits")]
    max_entries: u64,
    /// Most Rock Ridge continuation areas (CE) followed for one directory record.
    #[arg(long, value_name = "N", default_value_t = isodiff::Limits::default().max_continuations, help_heading = "Limits")]
    max_continuations: u32,
    /// Most bytes decompressed for one compressed image (a `.iso.xz`, an
    /// initrd), suffixes K, M, G.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "4G", help_heading = "Limits")]
    max_decompressed: u64,
    /// How deep images inside images are opened.
    #[arg(long, value_name = "N", default_value_t = isodiff::Options::DEFAULT_MAX_NESTING, help_heading = "Limits")]
    max_nesting: u32,
    /// Largest file shown as a unified text diff, suffixes K, M, G.
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "1M", help_heading = "Limits")]
    max_text_diff: u64,
    /// Time allowed for one text diff, in milliseconds; past it the diff is approximate.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 2000,
        help_heading = "Limits"
    )]
    text_diff_ms: u64,
}

impl Cli {
    /// The limits and options the flags ask for.
    fn options(&self) -> isodiff::Options {
        let limits = isodiff::Limits::default()
            .max_depth(self.max_depth)
            .max_entries(self.max_entries)
            .max_continuations(self.max_continuations)
            .max_decompressed_bytes(self.max_decompressed);
        isodiff::Options::default()
            .layout(self.layout)
            .limits(limits)
            .max_nesting(self.max_nesting)
            .hexdump_regions(self.hexdump_regions)
            .max_hexdump_bytes(usize::try_from(self.max_hexdump_bytes).unwrap_or(usize::MAX))
            .disassembly_regions(self.disassembly_regions)
            .max_text_diff_bytes(self.max_text_diff)
            .text_diff_timeout(std::time::Duration::from_millis(self.text_diff_ms))
    }
}

/// When to colour the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Which reports to write, and where.
#[derive(Debug, Args)]
struct ReportArgs {
    /// Write the text report to FILE (`-` for stdout; the default when no other
    /// report is asked for).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    text: Option<PathBuf>,
    /// Write the JSON report to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report to FILE (`-` for stdout).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    html: Option<PathBuf>,
    /// Write a Markdown report to FILE, for issue trackers (`-` for stdout).
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    markdown: Option<PathBuf>,
    /// Write the report in diffoscope's JSON format to FILE (`-` for stdout);
    /// `diffoscope --load-existing-diff FILE` reads it.
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    diffoscope_json: Option<PathBuf>,
    /// Colour the text report: auto colours stdout when it is a terminal and
    /// NO_COLOR is not set.
    #[arg(
        long,
        alias = "colour",
        value_enum,
        value_name = "WHEN",
        default_value_t = Color::Auto,
        help_heading = "Reports"
    )]
    color: Color,
}

/// The checks of `isodiff lint`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LintProfile {
    /// Nix store paths in canonical form.
    Nix,
    /// Build times and random ids.
    General,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every entry of an image, one per line.
    Ls {
        /// One JSON object per line instead of the readable listing.
        #[arg(long)]
        json: bool,
        /// Most bytes decompressed for one compressed image (a `.iso.xz`, an
        /// initrd), suffixes K, M, G.
        #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "4G")]
        max_decompressed: u64,
        /// How deep images inside images are listed; 0 lists the image alone
        /// and reads no file, at the speed of its metadata (every file is
        /// otherwise looked into, which for a squashfs means decoding every
        /// fragment block).
        #[arg(long, value_name = "N", default_value_t = isodiff::Options::DEFAULT_MAX_NESTING)]
        max_nesting: u32,
        /// The image to list: a file, a directory, or IMAGE:/PATH (a nested
        /// image or a directory of an image).
        image: PathBuf,
    },
    /// Write an mtree manifest of an image on stdout: type, mode, uid, gid,
    /// time (to the nanosecond), size, link, nlink and sha256digest of every
    /// entry, each nested image a section of its own (`./x.squashfs:/path`).
    /// `bsdtar -tvf` reads it.
    Manifest {
        /// Most bytes decompressed for one compressed image, suffixes K, M, G.
        #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "4G")]
        max_decompressed: u64,
        /// The image: a file, a directory, or IMAGE:/PATH.
        image: PathBuf,
    },
    /// Check one image for what makes builds differ (exit 0 clean, 1 findings,
    /// 2 trouble); the report flags choose the reports.
    Lint {
        /// What to check: `nix` (every store path in Nix's canonical form:
        /// mtime 1, modes 0444/0555, owner root) or `general` (times after the
        /// source date epoch or the image's creation date, random GUIDs).
        #[arg(long, value_enum, default_value_t = LintProfile::General)]
        profile: LintProfile,
        /// No time may be later than this (seconds since 1970; default:
        /// $SOURCE_DATE_EPOCH, else the image's own creation date). The
        /// `general` profile.
        #[arg(long, value_name = "SECONDS")]
        source_date_epoch: Option<i64>,
        /// Expect every entry owned by root (a squashfs made with `-all-root`).
        /// The `general` profile.
        #[arg(long)]
        expect_root: bool,
        /// The image to check.
        image: PathBuf,
        #[command(flatten)]
        reports: ReportArgs,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    #[command(hide = true)]
    Manpage,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Ls {
            json,
            max_decompressed,
            max_nesting,
            image,
        }) => ls(image, *json, *max_decompressed, *max_nesting),
        Some(Command::Lint {
            profile,
            source_date_epoch,
            expect_root,
            image,
            reports,
        }) => {
            let options = isodiff::lint::LintOptions {
                profile: match profile {
                    LintProfile::Nix => isodiff::lint::Profile::Nix,
                    LintProfile::General => isodiff::lint::Profile::General,
                },
                source_date_epoch: source_date_epoch.or_else(|| {
                    std::env::var("SOURCE_DATE_EPOCH")
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                }),
                expect_root: *expect_root,
                nesting: listing::Nesting::default(),
            };
            lint(reports, image, &options)
        }
        Some(Command::Manifest {
            max_decompressed,
            image,
        }) => opened(
            image,
            *max_decompressed,
            DEFAULT_NESTING,
            |fs, nesting, _| manifest(fs, image, nesting),
        ),
        Some(Command::Completions { shell }) => {
            let mut out = io::stdout().lock();
            clap_complete::generate(*shell, &mut Cli::command(), "isodiff", &mut out);
            ExitCode::SUCCESS
        }
        Some(Command::Manpage) => {
            match clap_mangen::Man::new(Cli::command()).render(&mut io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("isodiff: {e}");
                    ExitCode::from(2)
                }
            }
        }
        None => compare(&cli),
    }
}

/// `1000`, `64K`, `10M`, `1G` (binary multiples).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'k' | b'K') => (&s[..s.len() - 1], 10),
        Some(b'm' | b'M') => (&s[..s.len() - 1], 20),
        Some(b'g' | b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (a number, optionally followed by K, M or G)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

type Renderer = fn(&Report, &mut dyn Write, Style) -> io::Result<()>;

/// The reports asked for, each with its path and renderer; text on stdout when
/// none is. Fails when two would go to stdout, where they would be interleaved.
fn outputs(cli: &ReportArgs, quiet: bool) -> Result<Vec<(&Path, &'static str, Renderer)>, String> {
    let asked: [(&Option<PathBuf>, &'static str, Renderer); 5] = [
        (&cli.text, "--text", report::text::write_styled),
        (&cli.json, "--json", |r, o, _| report::json::write(r, o)),
        (&cli.html, "--html", |r, o, _| report::html::write(r, o)),
        (&cli.markdown, "--markdown", |r, o, _| {
            report::markdown::write(r, o)
        }),
        (&cli.diffoscope_json, "--diffoscope-json", |r, o, _| {
            report::diffoscope::write(r, o)
        }),
    ];
    let mut out: Vec<(&Path, &'static str, Renderer)> = asked
        .iter()
        .filter_map(|(p, flag, render)| p.as_deref().map(|p| (p, *flag, *render)))
        .collect();
    if quiet {
        // Quiet means nothing on stdout: a report asked for there would be the
        // only output, and a silent drop of it would surprise more than a refusal.
        if let Some((_, flag, _)) = out.iter().find(|(p, _, _)| p.as_os_str() == "-") {
            return Err(format!("--quiet writes nothing to stdout, not {flag} -"));
        }
        return Ok(out);
    }
    if out.is_empty() {
        out.push((Path::new("-"), "--text", report::text::write_styled));
    }
    let to_stdout: Vec<&str> = out
        .iter()
        .filter(|(p, _, _)| p.as_os_str() == "-")
        .map(|(_, flag, _)| *flag)
        .collect();
    if to_stdout.len() > 1 {
        return Err(format!(
            "only one report can go to stdout, not {}",
            to_stdout.join(" and ")
        ));
    }
    Ok(out)
}

fn filter(cli: &Cli) -> Result<Filter, String> {
    let mut f = Filter::new();
    for g in &cli.exclude {
        f = f.exclude(g).map_err(|e| format!("--exclude: {e}"))?;
    }
    for g in cli
        .ignore
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
    {
        f = f.ignore(g).map_err(|e| format!("--ignore: {e}"))?;
    }
    if cli.semantic {
        f = f.semantic();
    }
    Ok(f)
}

/// Colour for a text report written to `path`.
fn color_for(cli: &ReportArgs, path: &Path) -> bool {
    match cli.color {
        Color::Always => true,
        Color::Never => false,
        // https://no-color.org: set and not empty means no colour.
        Color::Auto => {
            path.as_os_str() == "-"
                && io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn compare(cli: &Cli) -> ExitCode {
    let (Some(a), Some(b)) = (&cli.a, &cli.b) else {
        eprintln!("isodiff: two images to compare are needed (or `isodiff ls IMAGE`); see --help");
        return ExitCode::from(2);
    };
    // Check everything the user typed before the (possibly long) comparison.
    let (outputs, filter) = match (outputs(&cli.reports, cli.quiet), filter(cli)) {
        (Ok(o), Ok(f)) => (o, f),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("isodiff: {e}");
            return ExitCode::from(2);
        }
    };
    let options = cli.options().max_diff_lines(match cli.max_diff_lines {
        0 => usize::MAX,
        n => n,
    });
    let (options, progress) = if cli.quiet || cli.no_progress {
        (options, Progress::off())
    } else {
        Progress::start(options, a, b)
    };
    let result = isodiff::diff_files(a, b, &options);
    progress.finish();
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isodiff: {e}{}", hint(&e));
            return ExitCode::from(2);
        }
    };
    if !filter.is_empty() {
        report = filter.apply(report);
        if let Some(f) = &report.filtered {
            for r in f.rules.iter().filter(|r| {
                !cli.quiet
                    && r.differences + r.problems == 0
                    && r.rule != report::filter::Reason::Semantic
            }) {
                eprintln!(
                    "isodiff: note: {} hid nothing",
                    escape(r.label().as_bytes())
                );
            }
        }
    }
    if cli.max_report_size > 0 {
        report = report::limit::cap(report, cli.max_report_size);
    }
    finish(&cli.reports, &outputs, &report, [a, b])
}

/// Writes `report` to `outputs`, says its problems on stderr (each with the
/// file of its side, `sides`), and gives the exit code: 0 identical or
/// clean, 1 different, 2 trouble.
fn finish(
    reports: &ReportArgs,
    outputs: &[(&Path, &'static str, Renderer)],
    report: &Report,
    sides: [&Path; 2],
) -> ExitCode {
    for &(path, _, render) in outputs {
        let style = Style {
            color: color_for(reports, path),
        };
        if let Err(e) = write_report(path, report, render, style) {
            if e.kind() == io::ErrorKind::BrokenPipe {
                break;
            }
            eprintln!("isodiff: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    for p in &report.problems {
        let side = match p.side {
            isodiff::report::Which::A => sides[0],
            isodiff::report::Which::B => sides[1],
        };
        eprintln!(
            "isodiff: {}: {}: {}",
            side.display(),
            isodiff::report::text::location(&p.location),
            escape(p.message.as_bytes())
        );
    }
    ExitCode::from(report.exit_code())
}

/// `isodiff lint`: one image checked, reported like a comparison.
fn lint(cli: &ReportArgs, path: &Path, options: &isodiff::lint::LintOptions) -> ExitCode {
    let outputs = match outputs(cli, false) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("isodiff: {e}");
            return ExitCode::from(2);
        }
    };
    let max_decompressed = options.nesting.limits.max_decompressed_bytes;
    opened(path, max_decompressed, DEFAULT_NESTING, |fs, nesting, _| {
        let options = isodiff::lint::LintOptions {
            nesting: nesting.clone(),
            ..options.clone()
        };
        lint_opened(cli, fs, path, &options, &outputs)
    })
}

/// Writes the lint reports of `fs` (named `path`) and gives the exit code.
fn lint_opened(
    cli: &ReportArgs,
    fs: &dyn Filesystem,
    path: &Path,
    options: &isodiff::lint::LintOptions,
    outputs: &[(&Path, &'static str, Renderer)],
) -> ExitCode {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let report = isodiff::lint::lint(fs, &shown, size, options);
    finish(cli, outputs, &report, [path, path])
}

/// Writes one report to a file, or to stdout for `-`. Only the files the user
/// named are created.
fn write_report(path: &Path, report: &Report, render: Renderer, style: Style) -> io::Result<()> {
    if path.as_os_str() == "-" {
        let stdout = io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        render(report, &mut out, style)?;
        return out.flush();
    }
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    render(report, &mut out, style)?;
    out.flush()
}

/// What to do about an error that stopped the command, when a flag can help: a
/// budget hit names the flag that raises it.
fn hint(e: &isodiff::Error) -> String {
    let isodiff::Error::LimitExceeded { limit, .. } = e.cause() else {
        return String::new();
    };
    let flag = match *limit {
        "decompressed bytes of one image" => "--max-decompressed",
        "entries per image" => "--max-entries",
        "directory depth" => "--max-depth",
        _ => return String::new(),
    };
    format!("; raise it with {flag}")
}

fn ls(path: &std::path::Path, json: bool, max_decompressed: u64, max_nesting: u32) -> ExitCode {
    opened(
        path,
        max_decompressed,
        max_nesting,
        |fs, nesting, release| list(fs, path, json, nesting, release),
    )
}

/// How deep `manifest` and `lint` open images inside images.
const DEFAULT_NESTING: u32 = isodiff::Options::DEFAULT_MAX_NESTING;

/// Opens the input `path` names (a file, a directory, `IMAGE:/PATH`) and
/// calls `run` with it, its nesting budgets and a call that releases the
/// mapped pages read so far; says why when it cannot be opened (exit 2).
fn opened(
    path: &Path,
    max_decompressed: u64,
    max_nesting: u32,
    run: impl FnOnce(&dyn Filesystem, &listing::Nesting, &(dyn Fn() + Sync)) -> ExitCode,
) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("isodiff: {}: {e}", path.display());
        ExitCode::from(2)
    };
    // These errors name the file themselves.
    let loaded = match Input::locate(path).and_then(|i| Ok((i.load()?, i))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isodiff: {e}");
            return ExitCode::from(2);
        }
    };
    let (loaded, input) = loaded;
    let mut nesting = listing::Nesting::default();
    nesting.limits = nesting.limits.max_decompressed_bytes(max_decompressed);
    nesting.max_depth = max_nesting;
    let fs = match loaded.open(&nesting.limits) {
        Ok(fs) => fs,
        Err(e) => return fail(&format!("{e}{}", hint(&e))),
    };
    let release = || {
        if let Loaded::Image(map) = &loaded {
            map.release(map.bytes());
        }
    };
    let (limits, max) = (&nesting.limits, nesting.max_buffer_bytes);
    let listed = descend(fs.as_ref(), input.inside(), limits, max, |fs| {
        run(fs, &nesting, &release)
    });
    match listed {
        Ok(code) => code,
        Err(e) => {
            eprintln!("isodiff: {}: {e}{}", input.file().display(), hint(&e));
            ExitCode::from(2)
        }
    }
}

/// Writes the mtree manifest of `fs` (named `path`) and says its problems.
fn manifest(fs: &dyn Filesystem, path: &Path, nesting: &listing::Nesting) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut problems = 0u64;
    let written = isodiff::manifest::write(fs, nesting, &mut out, &mut |p: ListError| {
        problems += 1;
        eprintln!(
            "isodiff: {}: {}: {}",
            path.display(),
            location_text(&p.location),
            p.error
        );
    });
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("isodiff: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if problems > 0 {
        eprintln!(
            "isodiff: {}: {problems} problem(s) while writing the manifest",
            path.display()
        );
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// Writes the listing of `fs` (named `path`) and says its problems.
fn list(
    fs: &dyn Filesystem,
    path: &Path,
    json: bool,
    nesting: &listing::Nesting,
    release: &(dyn Fn() + Sync),
) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("isodiff: {}: {e}", path.display());
        ExitCode::from(2)
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut write_error = None;
    // What was read leniently is said, but is no trouble: the image reads in full.
    for w in fs.warnings() {
        eprintln!("isodiff: {}: warning: {w}", path.display());
    }
    let mut problems = 0u64;
    // Pages of files looked into leave the resident set as the listing goes.
    listing::walk_nested_releasing(
        fs,
        &[],
        nesting,
        release,
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

/// A progress bar on stderr, for long runs: bytes of the two images covered out
/// of their sizes together, with the rate, an estimate of the time left and the
/// count of entries compared. Only when stderr is a terminal, so pipes and CI logs
/// stay clean.
struct Progress {
    done: Option<(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<()>,
    )>,
}

impl Progress {
    /// No progress shown.
    fn off() -> Progress {
        Progress { done: None }
    }

    fn start(options: isodiff::Options, a: &Path, b: &Path) -> (isodiff::Options, Progress) {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        if !io::stderr().is_terminal() {
            return (options, Progress::off());
        }
        // A file that cannot be sized fails the comparison itself, with a
        // better message than a progress bar could give.
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let total = size(a).saturating_add(size(b));
        let entries = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let options = options
            .progress(entries.clone())
            .progress_bytes(bytes.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            // Quick comparisons finish before anything is drawn.
            std::thread::sleep(std::time::Duration::from_millis(500));
            if stop2.load(Ordering::Relaxed) {
                return;
            }
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
            );
            if let Ok(style) = style {
                bar.set_style(style);
            }
            while !stop2.load(Ordering::Relaxed) {
                // Files of a decompressed nested image count decompressed bytes
                // (see Options::progress_bytes): never past the end.
                bar.set_position(bytes.load(Ordering::Relaxed).min(total));
                bar.set_message(format!("{} entries", entries.load(Ordering::Relaxed)));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let progress = Progress {
            done: Some((stop, handle)),
        };
        (options, progress)
    }

    fn finish(self) {
        if let Some((stop, handle)) = self.done {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}
