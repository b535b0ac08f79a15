//! Python bytecode (`.pyc`): the header in front of the marshalled code says
//! which Python wrote it and which source it was compiled from (the source's
//! mtime and size, or a hash of it, PEP 552). A `.pyc` compiled again from the
//! same source at another time differs only in the source mtime it records;
//! the header's fields are compared as attributes and left out of the content
//! comparison, so that such a pair is that one field.
//!
//! Layouts (all little-endian), by the magic number's version range:
//! - 3.7 and later (magic 3390 on): magic, `\r\n`, flags (u32); flags bit 0 clear:
//!   source mtime (u32), source size (u32); set: a 64-bit SipHash of the source
//!   (bit 1: whether to check it). 16 bytes.
//! - 3.3 to 3.6 (3210 to 3389): magic, `\r\n`, source mtime, source size. 12 bytes.
//! - before (2.x, 3.0 to 3.2; 20121 for 2.7): magic, `\r\n`, source mtime. 8 bytes.

use std::ops::Range;

use crate::model::{Fact, Value};
use crate::time::Timestamp;

/// The header of a `.pyc`: its fields (named `pyc.*`), and the bytes they take.
pub(crate) fn read(head: &[u8]) -> Option<(Vec<Fact>, Range<u64>)> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    let magic = u16::from_le_bytes(head.get(0..2)?.try_into().ok()?);
    if head.get(2..4)? != b"\r\n" {
        return None;
    }
    // The magic numbers CPython has used: 2.x from 20121 down to 50000s are
    // older; 3.x from 3000 on. Anything else is not bytecode.
    if !(3000..4000).contains(&magic) && !(20000..=62211).contains(&magic) {
        return None;
    }
    let mut facts = vec![Fact::new("pyc.magic", Value::Int(u64::from(magic)))];
    let time = |t: u32| Value::Time(Timestamp::from_unix(i64::from(t)));
    let len = if (3390..4000).contains(&magic) {
        let flags = u32_at(4)?;
        facts.push(Fact::new("pyc.flags", Value::Int(u64::from(flags))));
        if flags & 1 == 0 {
            facts.push(Fact::time("pyc.source_mtime", time(u32_at(8)?)));
            facts.push(Fact::new(
                "pyc.source_size",
                Value::Int(u64::from(u32_at(12)?)),
            ));
        } else {
            facts.push(Fact::new(
                "pyc.source_hash",
                Value::Bytes(head.get(8..16)?.to_vec()),
            ));
        }
        16
    } else if (3210..3390).contains(&magic) {
        facts.push(Fact::time("pyc.source_mtime", time(u32_at(4)?)));
        facts.push(Fact::new(
            "pyc.source_size",
            Value::Int(u64::from(u32_at(8)?)),
        ));
        12
    } else {
        facts.push(Fact::time("pyc.source_mtime", time(u32_at(4)?)));
        8
    };
    Some((facts, 0..len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'f>(facts: &'f [Fact], name: &str) -> Option<&'f Value> {
        facts.iter().find(|f| f.name == name).map(|f| &f.value)
    }

    #[test]
    fn reads_the_three_header_layouts() {
        // Python 3.12 (magic 3531), timestamp-based.
        let mut h = 3531u16.to_le_bytes().to_vec();
        h.extend_from_slice(b"\r\n");
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        h.extend_from_slice(&1234u32.to_le_bytes());
        h.extend_from_slice(b"\xe3code");
        let Some((facts, len)) = read(&h) else {
            panic!("not read")
        };
        assert_eq!(len, 0..16);
        assert_eq!(
            value(&facts, "pyc.source_mtime"),
            Some(&Value::Time(Timestamp::from_unix(1_700_000_000)))
        );
        assert_eq!(value(&facts, "pyc.source_size"), Some(&Value::Int(1234)));
        // Hash-based (flags bit 0).
        h[4] = 3;
        let facts = read(&h).map(|x| x.0).unwrap_or_default();
        assert_eq!(value(&facts, "pyc.flags"), Some(&Value::Int(3)));
        assert!(value(&facts, "pyc.source_hash").is_some());
        assert!(value(&facts, "pyc.source_mtime").is_none());
        // Python 3.6 (3379): 12 bytes; 2.7 (62211): 8 bytes.
        let mut old = 3379u16.to_le_bytes().to_vec();
        old.extend_from_slice(b"\r\n\x01\0\0\0\x02\0\0\0");
        assert_eq!(read(&old).map(|x| x.1), Some(0..12));
        let mut py2 = 62211u16.to_le_bytes().to_vec();
        py2.extend_from_slice(b"\r\n\x01\0\0\0");
        assert_eq!(read(&py2).map(|x| x.1), Some(0..8));
    }

    #[test]
    fn other_bytes_are_not_bytecode() {
        assert!(read(b"").is_none());
        assert!(read(b"MZ\r\n").is_none());
        assert!(read(b"\x4b\x0d\r\n").is_none(), "cut short");
        assert!(read(b"\x01\x00\r\n\0\0\0\0\0\0\0\0\0\0\0\0").is_none());
        let h = [0x4bu8, 0x0d, b'\r', b'\n', 0, 0];
        for len in 0..h.len() {
            let _ = read(&h[..len]);
        }
    }
}
