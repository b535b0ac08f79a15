//! Extended attributes: the xattr id table (one entry per distinct set: a reference
//! into the key/value table, a count and a size) and the key/value table itself.
//!
//! Keys carry a prefix type (0 `user.`, 1 `trusted.`, 2 `security.`) and the name
//! without it; bit 0x100 of the type marks a value stored "out of line": the value
//! in place is then a u64 reference to where the real value is, so that equal large
//! values are stored once.

use super::entries::{XattrIdEntry, XattrIdHeader, XattrKey, XattrValue, XattrValueRef};
use super::metadata::{Lookup, Reader, Table};
use super::superblock::{ABSENT, SUPERBLOCK_SIZE};
use crate::error::{Error, Result};

/// Largest value Linux allows (`XATTR_SIZE_MAX`).
const MAX_VALUE: u32 = 65536;
/// Most attributes one inode may carry; real ones have a handful.
const MAX_COUNT: u32 = 65536;
/// Most bytes of names and values one inode's attributes may add up to.
const MAX_SET_BYTES: usize = 1 << 20;

/// The xattr tables of an image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Xattrs {
    ids: Lookup,
    kv: Table,
}

/// One inode's attributes, (name, value), sorted by name.
pub(crate) type XattrSet = Vec<(Vec<u8>, Vec<u8>)>;

impl Xattrs {
    /// The tables at `id_table` (the superblock's `xattr_id_table_start`), if any.
    pub(crate) fn open(
        reader: &Reader<'_>,
        id_table: u64,
        bytes_used: u64,
    ) -> Result<Option<Xattrs>> {
        if id_table == ABSENT {
            return Ok(None);
        }
        let h = reader.image.array(id_table, "xattr id table header")?;
        let h = XattrIdHeader::from_array(h);
        let (kv_start, count) = (h.kv_start(), u64::from(h.count()));
        let ids = Lookup {
            index: id_table + XattrIdHeader::LEN as u64,
            count,
            entry_size: XattrIdEntry::LEN,
            floor: SUPERBLOCK_SIZE,
            name: "xattr id table",
        };
        // The index must be in the image; its blocks are checked when read.
        reader
            .image
            .get(ids.index, ids.index_len(), "xattr id table index")?;
        // Key/value blocks come first, then the id blocks, then the header.
        let kv_end = if count > 0 {
            ids.block_pos(reader.image, 0)?
        } else {
            id_table
        };
        if kv_start < SUPERBLOCK_SIZE || kv_start > kv_end || kv_end > bytes_used {
            return Err(Error::malformed(
                "xattr id table header",
                id_table,
                format!("key/value table at byte {kv_start} does not end before the id blocks at {kv_end}"),
            ));
        }
        let ids = Lookup {
            floor: kv_end,
            ..ids
        };
        let kv = Table {
            start: kv_start,
            end: kv_end,
            name: "xattr key/value table",
        };
        Ok(Some(Xattrs { ids, kv }))
    }

    /// Number of distinct attribute sets.
    pub(crate) fn count(&self) -> u64 {
        self.ids.count
    }

    /// The attribute set with index `index`.
    pub(crate) fn get(&self, reader: &Reader<'_>, index: u32) -> Result<XattrSet> {
        let e = self.ids.entry(reader, u64::from(index))?;
        let e = XattrIdEntry::from_prefix(&e);
        let (xref, count) = (e.xref(), e.count());
        if count > MAX_COUNT {
            return Err(Error::malformed(
                "xattr id table",
                self.ids.index,
                format!("entry {index} has {count} attributes (at most {MAX_COUNT})"),
            ));
        }
        let mut c = reader.cursor(self.kv, xref >> 16, (xref & 0xffff) as usize)?;
        let mut set = Vec::new();
        let mut total = 0usize;
        for _ in 0..count {
            let at = c.position();
            let key = c.array()?;
            let key = XattrKey::from_array(&key);
            let prefix = key.prefix().map_err(|other| {
                Error::malformed(
                    "xattr key",
                    at.0,
                    format!("byte {} of this block: unknown prefix type {other}", at.1),
                )
            })?;
            let mut name = prefix.as_bytes().to_vec();
            c.read_into(usize::from(key.name_size()), &mut name)?;
            let value_len = XattrValue::from_array(&c.array()?).size();
            let value = if key.out_of_line() {
                if value_len != XattrValueRef::LEN as u32 {
                    return Err(Error::malformed(
                        "xattr value",
                        at.0,
                        format!(
                            "out-of-line value reference of {value_len} bytes (must be {})",
                            XattrValueRef::LEN
                        ),
                    ));
                }
                let vref = XattrValueRef::from_array(&c.array()?).reference();
                let mut v = reader.cursor(self.kv, vref >> 16, (vref & 0xffff) as usize)?;
                let value_len = XattrValue::from_array(&v.array()?).size();
                read_value(&mut v, value_len, at.0)?
            } else {
                read_value(&mut c, value_len, at.0)?
            };
            total += name.len() + value.len();
            if total > MAX_SET_BYTES {
                return Err(Error::malformed(
                    "xattr key",
                    at.0,
                    format!("attributes of set {index} add up to more than {MAX_SET_BYTES} bytes"),
                ));
            }
            set.push((name, value));
        }
        set.sort();
        Ok(set)
    }
}

fn read_value(c: &mut super::metadata::Cursor<'_, '_>, len: u32, at: u64) -> Result<Vec<u8>> {
    if len > MAX_VALUE {
        return Err(Error::malformed(
            "xattr value",
            at,
            format!("value of {len} bytes (at most {MAX_VALUE})"),
        ));
    }
    let mut v = Vec::with_capacity(len as usize);
    c.read_into(len as usize, &mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::super::metadata::tests::plain_block;
    use super::super::Compressor;
    use super::*;
    use crate::bytes::Bytes;

    fn key(kind: u16, name: &[u8]) -> Vec<u8> {
        let mut k = kind.to_le_bytes().to_vec();
        k.extend((name.len() as u16).to_le_bytes());
        k.extend(name);
        k
    }

    fn value(v: &[u8]) -> Vec<u8> {
        let mut out = (v.len() as u32).to_le_bytes().to_vec();
        out.extend(v);
        out
    }

    /// An image with one key/value block at 96, one id block, the header and index.
    fn image(kv: &[u8], ids: &[(u64, u32)]) -> (Vec<u8>, u64) {
        let mut img = vec![0u8; 96];
        img.extend(plain_block(kv));
        let id_block = img.len() as u64;
        let mut id_data = Vec::new();
        for (r, count) in ids {
            id_data.extend(r.to_le_bytes());
            id_data.extend(count.to_le_bytes());
            id_data.extend(0u32.to_le_bytes());
        }
        img.extend(plain_block(&id_data));
        let header = img.len() as u64;
        img.extend(96u64.to_le_bytes());
        img.extend((ids.len() as u32).to_le_bytes());
        img.extend(0u32.to_le_bytes());
        img.extend(id_block.to_le_bytes());
        (img, header)
    }

    #[test]
    fn sets_with_prefixes_and_out_of_line_values() {
        let mut kv = key(0, b"foo");
        let bar_at = kv.len() as u64;
        kv.extend(value(b"bar"));
        kv.extend(key(2, b"selinux"));
        kv.extend(value(b"ctx"));
        // Set 1: a trusted key whose value is a reference to "bar" of set 0.
        let set1 = kv.len() as u64;
        kv.extend(key(1 | 0x100, b"t"));
        kv.extend(value(&bar_at.to_le_bytes()));
        let (img, header) = image(&kv, &[(0, 2), (set1, 1)]);
        let reader = Reader::new(Bytes::new(&img), Compressor::Gzip);
        let x = Xattrs::open(&reader, header, img.len() as u64)
            .unwrap()
            .unwrap();
        assert_eq!(x.count(), 2);
        let s0 = x.get(&reader, 0).unwrap();
        assert_eq!(
            s0,
            vec![
                (b"security.selinux".to_vec(), b"ctx".to_vec()),
                (b"user.foo".to_vec(), b"bar".to_vec())
            ]
        );
        let s1 = x.get(&reader, 1).unwrap();
        assert_eq!(s1, vec![(b"trusted.t".to_vec(), b"bar".to_vec())]);
        assert!(x.get(&reader, 2).is_err());
    }

    #[test]
    fn damaged_sets() {
        let mut kv = key(7, b"foo");
        kv.extend(value(b"bar"));
        let (img, header) = image(&kv, &[(0, 1), (0, 2), (0, MAX_COUNT + 1)]);
        let reader = Reader::new(Bytes::new(&img), Compressor::Gzip);
        let x = Xattrs::open(&reader, header, img.len() as u64)
            .unwrap()
            .unwrap();
        assert!(x
            .get(&reader, 0)
            .unwrap_err()
            .to_string()
            .contains("unknown prefix type 7"));
        assert!(x.get(&reader, 1).is_err());
        assert!(x.get(&reader, 2).is_err());
        assert!(Xattrs::open(&reader, ABSENT, 0).unwrap().is_none());
        assert!(Xattrs::open(&reader, img.len() as u64 - 4, img.len() as u64).is_err());
    }
}
