//! Checked reads from untrusted bytes.
//!
//! Every read names the structure it is for, so that an out-of-bounds read becomes an
//! [`Error::OutOfBounds`] that says what was being read and where, never a panic.

use crate::error::{Error, Result};

/// A view of an image's bytes that reports failed reads against the whole image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Bytes<'a> {
        Bytes { data }
    }

    pub(crate) fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// All the bytes.
    pub(crate) fn as_slice(&self) -> &'a [u8] {
        self.data
    }

    /// `len` bytes at `offset`, or an error naming `structure`.
    pub(crate) fn get(&self, offset: u64, len: u64, structure: &'static str) -> Result<&'a [u8]> {
        let end = offset.checked_add(len);
        let slice = end.and_then(|end| {
            let start = usize::try_from(offset).ok()?;
            let end = usize::try_from(end).ok()?;
            self.data.get(start..end)
        });
        slice.ok_or(Error::OutOfBounds {
            structure,
            offset,
            end: end.unwrap_or(u64::MAX),
            len: self.len(),
        })
    }
}

impl<'a> Bytes<'a> {
    /// The `N` bytes at `offset`, or an error naming `structure`.
    pub(crate) fn array<const N: usize>(
        &self,
        offset: u64,
        structure: &'static str,
    ) -> Result<&'a [u8; N]> {
        let b = self.get(offset, N as u64, structure)?;
        b.try_into().map_err(|_| Error::OutOfBounds {
            structure,
            offset,
            end: offset.saturating_add(N as u64),
            len: self.len(),
        })
    }
}

/// Big-endian u16 at `at` of `b`; 0 past the end.
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

/// Little-endian u32 at `at` of `b`; 0 past the end.
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[w, x, y, z]) => u32::from_le_bytes([w, x, y, z]),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked() {
        let data = [1u8, 2, 3, 4];
        let b = Bytes::new(&data);
        assert_eq!(b.get(1, 2, "x").ok(), Some(&data[1..3]));
        assert!(matches!(
            b.get(3, 2, "x"),
            Err(Error::OutOfBounds { end: 5, len: 4, .. })
        ));
        assert!(matches!(
            b.get(u64::MAX, 2, "x"),
            Err(Error::OutOfBounds { .. })
        ));
        assert_eq!(le32(&data, 0), 0x0403_0201);
        assert_eq!(le32(&data, 1), 0);
    }
}
