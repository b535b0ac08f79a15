//! Recognizing an image by its magic bytes.

use crate::model::Format;

/// Where ISO 9660's first standard identifier sits: sector 16, byte 1.
const ISO_MAGIC_AT: usize = 16 * 2048 + 1;

/// The format of an image, judged by its magic bytes alone.
pub fn sniff(data: &[u8]) -> Option<Format> {
    if data.get(ISO_MAGIC_AT..ISO_MAGIC_AT + 5) == Some(b"CD001") {
        return Some(Format::Iso9660);
    }
    if data.get(..4) == Some(b"hsqs") {
        return Some(Format::Squashfs);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic() {
        let mut iso = vec![0u8; 40_000];
        iso[ISO_MAGIC_AT..ISO_MAGIC_AT + 5].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Some(Format::Iso9660));
        assert_eq!(sniff(b"hsqs\0\0\0\0"), Some(Format::Squashfs));
        assert_eq!(sniff(b"hsq"), None);
        assert_eq!(sniff(&[]), None);
    }
}
