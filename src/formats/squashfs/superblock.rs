//! The superblock and the compressor options: every field becomes an image-level fact.

use super::compress::Compressor;
use super::metadata::{Reader, Table};

use crate::bytes::Bytes;
use crate::error::{Error, Result};
use crate::model::span::Explain;
use crate::model::structure::{field_at, structure, Le16, Le32, Le64, Raw};
use crate::model::{Fact, Follows, Value};
use crate::time::Timestamp;

structure! {
    /// The squashfs 4.0 superblock at byte 0, little-endian. Table starts and
    /// the root inode's reference move whenever anything before them grows.
    pub(crate) struct RawSuperblock[96] {
        magic: 0, 4, Raw, "magic", Explain::Nothing;
        inode_count: 4, 4, Le32, "inode count", Explain::fact_named("superblock.inode_count");
        mkfs_time: 8, 4, Le32, "mkfs time", Explain::fact_named("superblock.mkfs_time");
        block_size: 12, 4, Le32, "block size", Explain::fact_named("superblock.block_size");
        fragment_count: 16, 4, Le32, "fragment count", Explain::fact_named("superblock.fragment_count");
        compressor: 20, 2, Le16, "compressor", Explain::fact_named("superblock.compressor");
        block_log: 22, 2, Le16, "block log", Explain::fact_named("superblock.block_size");
        flags: 24, 2, Le16, "flags", Explain::fact_named("superblock.flags");
        id_count: 26, 2, Le16, "id count", Explain::fact_named("superblock.id_count");
        version_major: 28, 2, Le16, "version major", Explain::fact_named("superblock.version");
        version_minor: 30, 2, Le16, "version minor", Explain::fact_named("superblock.version");
        root_inode: 32, 8, Le64, "root inode reference", Explain::Placement;
        bytes_used: 40, 8, Le64, "bytes used", Explain::Placement;
        id_table: 48, 8, Le64, "id table start", Explain::Placement;
        xattr_id_table: 56, 8, Le64, "xattr id table start", Explain::Placement;
        inode_table: 64, 8, Le64, "inode table start", Explain::Placement;
        directory_table: 72, 8, Le64, "directory table start", Explain::Placement;
        fragment_table: 80, 8, Le64, "fragment table start", Explain::Placement;
        export_table: 88, 8, Le64, "export table start", Explain::Placement;
    }
}

/// The superblock's magic, little-endian squashfs 4.0.
pub(crate) const MAGIC: &[u8] = b"hsqs";

/// Whether `data` starts with the squashfs magic.
pub(crate) fn has_magic(data: &[u8]) -> bool {
    let at = field_at(RawSuperblock::FIELDS, "magic") as usize;
    data.get(at..at + MAGIC.len()) == Some(MAGIC)
}

/// Where the superblock's field of this name starts, for the offset an error
/// names: read from the table (a name it lacks fails the build).
macro_rules! at {
    ($name:literal) => {
        const { field_at(RawSuperblock::FIELDS, $name) }
    };
}

/// Size of the superblock at byte 0.
pub(crate) const SUPERBLOCK_SIZE: u64 = RawSuperblock::LEN as u64;
/// The value of a table position that is not there.
pub(crate) const ABSENT: u64 = u64::MAX;
/// `inode_number`/`frag_index`/`xattr_idx` value for "none".
pub(crate) const NONE32: u32 = u32::MAX;

/// Superblock flags, by bit.
const FLAGS: [(u16, &str); 12] = [
    (0x0001, "uncompressed_inodes"),
    (0x0002, "uncompressed_data"),
    (0x0004, "check"),
    (0x0008, "uncompressed_fragments"),
    (0x0010, "no_fragments"),
    (0x0020, "always_fragments"),
    (0x0040, "duplicates"),
    (0x0080, "exportable"),
    (0x0100, "uncompressed_xattrs"),
    (0x0200, "no_xattrs"),
    (0x0400, "compressor_options"),
    (0x0800, "uncompressed_ids"),
];
const FLAG_COMPRESSOR_OPTIONS: u16 = 0x0400;

/// The fields of a squashfs 4.0 superblock.
#[derive(Debug, Clone)]
pub(crate) struct Superblock {
    pub inode_count: u32,
    pub mkfs_time: u32,
    pub block_size: u32,
    pub fragment_count: u32,
    pub compressor: Compressor,
    pub block_log: u16,
    pub flags: u16,
    pub id_count: u16,
    pub root_inode: u64,
    pub bytes_used: u64,
    pub id_table: u64,
    pub xattr_id_table: u64,
    pub inode_table: u64,
    pub directory_table: u64,
    pub fragment_table: u64,
    pub export_table: u64,
}

/// Reads and checks the superblock at byte 0 of `image`.
pub(crate) fn read(image: Bytes<'_>) -> Result<Superblock> {
    let s = image.get(0, SUPERBLOCK_SIZE, "superblock")?;
    let Some(raw) = RawSuperblock::new(s) else {
        return Err(Error::malformed(
            "superblock",
            0,
            format!("shorter than {SUPERBLOCK_SIZE} bytes"),
        ));
    };
    if raw.magic() != MAGIC {
        return Err(Error::malformed(
            "superblock",
            0,
            "no squashfs magic (hsqs, little-endian)",
        ));
    }
    let (major, minor) = (raw.version_major(), raw.version_minor());
    if (major, minor) != (4, 0) {
        return Err(Error::malformed(
            "superblock",
            at!("version major"),
            format!("version {major}.{minor}; only squashfs 4.0 is supported"),
        ));
    }
    let compressor_id = raw.compressor();
    let compressor = Compressor::from_id(compressor_id).ok_or_else(|| {
        Error::malformed(
            "superblock",
            at!("compressor"),
            format!("unknown compressor id {compressor_id}"),
        )
    })?;
    let sb = Superblock {
        inode_count: raw.inode_count(),
        mkfs_time: raw.mkfs_time(),
        block_size: raw.block_size(),
        fragment_count: raw.fragment_count(),
        compressor,
        block_log: raw.block_log(),
        flags: raw.flags(),
        id_count: raw.id_count(),
        root_inode: raw.root_inode(),
        bytes_used: raw.bytes_used(),
        id_table: raw.id_table(),
        xattr_id_table: raw.xattr_id_table(),
        inode_table: raw.inode_table(),
        directory_table: raw.directory_table(),
        fragment_table: raw.fragment_table(),
        export_table: raw.export_table(),
    };
    // The kernel's limits: 4 KiB to 1 MiB, a power of two, and block_log agreeing.
    if !(4096..=1 << 20).contains(&sb.block_size) || !sb.block_size.is_power_of_two() {
        return Err(Error::malformed(
            "superblock",
            at!("block size"),
            format!(
                "block size {} is not a power of two from 4096 to 1048576",
                sb.block_size
            ),
        ));
    }
    if u32::from(sb.block_log) != sb.block_size.trailing_zeros() {
        return Err(Error::malformed(
            "superblock",
            at!("block log"),
            format!(
                "block_log {} does not match block size {}",
                sb.block_log, sb.block_size
            ),
        ));
    }
    // A `bytes_used` past the end of the image is a truncated image, which
    // [`super::SquashFs::open`] still reads as far as it goes; one inside the
    // superblock is no file system at all.
    if sb.bytes_used < SUPERBLOCK_SIZE {
        return Err(Error::malformed(
            "superblock",
            at!("bytes used"),
            format!(
                "bytes_used {} is less than the superblock's {SUPERBLOCK_SIZE} bytes",
                sb.bytes_used
            ),
        ));
    }
    let check = |name: &'static str, at: u64, pos: u64, optional: bool| {
        if optional && pos == ABSENT {
            return Ok(());
        }
        if pos < SUPERBLOCK_SIZE || pos >= sb.bytes_used {
            return Err(Error::malformed(
                "superblock",
                at,
                format!(
                    "{name} at byte {pos} lies outside the file system ({SUPERBLOCK_SIZE}..{})",
                    sb.bytes_used
                ),
            ));
        }
        Ok(())
    };
    check(
        "inode table",
        at!("inode table start"),
        sb.inode_table,
        false,
    )?;
    check(
        "directory table",
        at!("directory table start"),
        sb.directory_table,
        false,
    )?;
    check("id table", at!("id table start"), sb.id_table, false)?;
    check(
        "xattr id table",
        at!("xattr id table start"),
        sb.xattr_id_table,
        true,
    )?;
    check(
        "export table",
        at!("export table start"),
        sb.export_table,
        true,
    )?;
    // With no fragments the fragment table may sit right at the end of the image.
    if sb.fragment_count > 0 {
        check(
            "fragment table",
            at!("fragment table start"),
            sb.fragment_table,
            false,
        )?;
    }
    if sb.inode_table >= sb.directory_table {
        return Err(Error::malformed(
            "superblock",
            at!("inode table start"),
            format!(
                "inode table (byte {}) does not come before the directory table (byte {})",
                sb.inode_table, sb.directory_table
            ),
        ));
    }
    Ok(sb)
}

impl Superblock {
    pub(crate) fn has_compressor_options(&self) -> bool {
        self.flags & FLAG_COMPRESSOR_OPTIONS != 0
    }

    /// The superblock's fields as facts.
    pub(crate) fn facts(&self) -> Vec<Fact> {
        let table = |pos: u64| {
            if pos == ABSENT {
                Value::Unset
            } else {
                Value::Int(pos)
            }
        };
        vec![
            Fact::new("superblock.version", Value::Text("4.0".into())),
            Fact::packing(
                "superblock.compressor",
                Value::Text(self.compressor.name().into()),
            ),
            Fact::packing(
                "superblock.block_size",
                Value::Int(u64::from(self.block_size)),
            ),
            Fact::packing("superblock.flags", Value::Text(flag_names(self.flags))),
            Fact::time(
                "superblock.mkfs_time",
                Value::Time(Timestamp::from_unix(i64::from(self.mkfs_time))),
            ),
            Fact::packing(
                "superblock.inode_count",
                Value::Int(u64::from(self.inode_count)),
            )
            .follows(Follows::EntryCount),
            Fact::new("superblock.id_count", Value::Int(u64::from(self.id_count))),
            Fact::packing(
                "superblock.fragment_count",
                Value::Int(u64::from(self.fragment_count)),
            ),
            Fact::new(
                "superblock.export_table",
                Value::Bool(self.export_table != ABSENT),
            ),
            Fact::new(
                "superblock.xattr_table",
                Value::Bool(self.xattr_id_table != ABSENT),
            ),
            Fact::layout("superblock.bytes_used", Value::Int(self.bytes_used)),
            Fact::layout("superblock.root_inode", Value::Int(self.root_inode)),
            Fact::layout("superblock.inode_table_start", table(self.inode_table)),
            Fact::layout(
                "superblock.directory_table_start",
                table(self.directory_table),
            ),
            Fact::layout(
                "superblock.fragment_table_start",
                table(self.fragment_table),
            ),
            Fact::layout("superblock.export_table_start", table(self.export_table)),
            Fact::layout("superblock.id_table_start", table(self.id_table)),
            Fact::layout(
                "superblock.xattr_id_table_start",
                table(self.xattr_id_table),
            ),
        ]
    }
}

/// `a|b|0x1000`: the names of the set flags, unknown bits in hex, or `none`.
fn flag_names(flags: u16) -> String {
    let mut parts: Vec<String> = FLAGS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| (*name).to_owned())
        .collect();
    let known = FLAGS.iter().fold(0, |acc, (bit, _)| acc | bit);
    if flags & !known != 0 {
        parts.push(format!("{:#06x}", flags & !known));
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join("|")
    }
}

/// A compressor option, as the fact of its name.
const fn option(name: &'static str) -> Explain {
    Explain::fact_named(name)
}

// The compressor options of each compressor, as the kernel reads them. They
// are a metadata block (which may be compressed), so the byte layout cannot
// place their fields: it owns the block whole, explained by any of them.

structure! {
    /// gzip's options.
    pub(crate) struct GzipOptions[8] {
        level: 0, 4, Le32, "compression level", option("compression_options.compression_level");
        window_size: 4, 2, Le16, "window size", option("compression_options.window_size");
        strategies: 6, 2, Le16, "strategies", option("compression_options.strategies");
    }
}

structure! {
    /// xz's options.
    pub(crate) struct XzOptions[8] {
        dictionary_size: 0, 4, Le32, "dictionary size", option("compression_options.dictionary_size");
        filters: 4, 4, Le32, "filters", option("compression_options.filters");
    }
}

structure! {
    /// lz4's options.
    pub(crate) struct Lz4Options[8] {
        version: 0, 4, Le32, "version", option("compression_options.version");
        flags: 4, 4, Le32, "flags", option("compression_options.flags");
    }
}

structure! {
    /// zstd's options.
    pub(crate) struct ZstdOptions[4] {
        level: 0, 4, Le32, "compression level", option("compression_options.compression_level");
    }
}

structure! {
    /// lzo's options.
    pub(crate) struct LzoOptions[8] {
        algorithm: 0, 4, Le32, "algorithm", option("compression_options.algorithm");
        level: 4, 4, Le32, "compression level", option("compression_options.compression_level");
    }
}

/// The compressor options block that follows the superblock when the
/// `compressor_options` flag is set, as facts.
pub(crate) fn compressor_options(sb: &Superblock, reader: &Reader<'_>) -> Result<Vec<Fact>> {
    if !sb.has_compressor_options() {
        return Ok(Vec::new());
    }
    let table = Table {
        start: SUPERBLOCK_SIZE,
        end: sb.bytes_used,
        name: "compressor options",
    };
    let block = reader.block(&table, SUPERBLOCK_SIZE)?;
    let d = &block.data;
    // Compressor options say how the bytes were packed.
    let int = |name: &'static str, v: u32| Fact::packing(name, Value::Int(u64::from(v)));
    let short = |n: usize| {
        Error::malformed(
            "compressor options",
            SUPERBLOCK_SIZE,
            format!(
                "{} options need {n} bytes, the block has {}",
                sb.compressor.name(),
                d.len()
            ),
        )
    };
    Ok(match sb.compressor {
        super::Compressor::Gzip => {
            let o = GzipOptions::new(d).ok_or_else(|| short(GzipOptions::LEN))?;
            vec![
                int("compression_options.compression_level", o.level()),
                int("compression_options.window_size", o.window_size().into()),
                int("compression_options.strategies", o.strategies().into()),
            ]
        }
        super::Compressor::Xz => {
            let o = XzOptions::new(d).ok_or_else(|| short(XzOptions::LEN))?;
            vec![
                int("compression_options.dictionary_size", o.dictionary_size()),
                int("compression_options.filters", o.filters()),
            ]
        }
        super::Compressor::Lz4 => {
            let o = Lz4Options::new(d).ok_or_else(|| short(Lz4Options::LEN))?;
            vec![
                int("compression_options.version", o.version()),
                int("compression_options.flags", o.flags()),
            ]
        }
        super::Compressor::Zstd => {
            let o = ZstdOptions::new(d).ok_or_else(|| short(ZstdOptions::LEN))?;
            vec![int("compression_options.compression_level", o.level())]
        }
        super::Compressor::Lzo => {
            let o = LzoOptions::new(d).ok_or_else(|| short(LzoOptions::LEN))?;
            vec![
                int("compression_options.algorithm", o.algorithm()),
                int("compression_options.compression_level", o.level()),
            ]
        }
        // lzma has no options; keep whatever is there so a difference still shows.
        super::Compressor::Lzma => vec![Fact::packing(
            "compression_options.raw",
            Value::Bytes(d.clone()),
        )],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn the_field_table_covers_the_superblock() {
        use crate::model::structure::check_table;
        assert_eq!(check_table(RawSuperblock::FIELDS, SUPERBLOCK_SIZE), Ok(()));
        for (fields, len) in [
            (GzipOptions::FIELDS, GzipOptions::LEN),
            (XzOptions::FIELDS, XzOptions::LEN),
            (Lz4Options::FIELDS, Lz4Options::LEN),
            (ZstdOptions::FIELDS, ZstdOptions::LEN),
            (LzoOptions::FIELDS, LzoOptions::LEN),
        ] {
            assert_eq!(check_table(fields, len as u64), Ok(()));
        }
    }

    /// A valid superblock for a gzip image of `len` bytes with the given tables.
    pub(crate) fn superblock(len: u64, inode: u64, dir: u64, id: u64, root: u64) -> Vec<u8> {
        let mut s = vec![0u8; 96];
        s[..4].copy_from_slice(b"hsqs");
        s[4..8].copy_from_slice(&1u32.to_le_bytes());
        s[8..12].copy_from_slice(&1_700_000_000u32.to_le_bytes());
        s[12..16].copy_from_slice(&4096u32.to_le_bytes());
        s[20..22].copy_from_slice(&1u16.to_le_bytes());
        s[22..24].copy_from_slice(&12u16.to_le_bytes());
        s[24..26].copy_from_slice(&0x0210u16.to_le_bytes());
        s[26..28].copy_from_slice(&1u16.to_le_bytes());
        s[28..30].copy_from_slice(&4u16.to_le_bytes());
        for (at, v) in [
            (32, root),
            (40, len),
            (48, id),
            (56, ABSENT),
            (64, inode),
            (72, dir),
            (80, ABSENT),
            (88, ABSENT),
        ] {
            s[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        s
    }

    #[test]
    fn fields_and_checks() {
        let mut img = superblock(200, 100, 150, 180, 0);
        img.resize(200, 0);
        let sb = read(Bytes::new(&img)).unwrap();
        assert_eq!(sb.block_size, 4096);
        assert_eq!(flag_names(sb.flags), "no_fragments|no_xattrs");
        assert_eq!(flag_names(0x9000), "0x9000");
        assert_eq!(flag_names(0), "none");
        let facts = sb.facts();
        let mkfs = facts
            .iter()
            .find(|f| f.name == "superblock.mkfs_time")
            .map(|f| f.value.to_string());
        assert_eq!(mkfs.as_deref(), Some("2023-11-14T22:13:20Z"));

        let mut bad = img.clone();
        bad[12..16].copy_from_slice(&5000u32.to_le_bytes());
        assert!(matches!(
            read(Bytes::new(&bad)),
            Err(Error::Malformed { offset: 12, .. })
        ));
        let mut bad = img.clone();
        bad[22] = 13;
        assert!(matches!(
            read(Bytes::new(&bad)),
            Err(Error::Malformed { offset: 22, .. })
        ));
        let mut bad = img.clone();
        bad[28] = 3;
        assert!(matches!(
            read(Bytes::new(&bad)),
            Err(Error::Malformed { offset: 28, .. })
        ));
        // Past the end of the image: truncated, left to the opener to say.
        let mut long = img.clone();
        long[40..48].copy_from_slice(&(img.len() as u64 + 1).to_le_bytes());
        assert!(read(Bytes::new(&long)).is_ok());
        let mut bad = img.clone();
        bad[40..48].copy_from_slice(&50u64.to_le_bytes());
        assert!(matches!(
            read(Bytes::new(&bad)),
            Err(Error::Malformed { offset: 40, .. })
        ));
        let mut bad = img.clone();
        bad[72..80].copy_from_slice(&90u64.to_le_bytes());
        assert!(matches!(
            read(Bytes::new(&bad)),
            Err(Error::Malformed { offset: 72, .. })
        ));
        assert!(read(Bytes::new(&img[..95])).is_err());
    }
}
