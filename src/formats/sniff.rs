//! Recognizing an image by its magic bytes.

use crate::model::Format;

/// How much of a file's head [`sniff`] needs to see an ISO 9660 image.
pub const ISO_HEAD: usize = super::iso9660::SNIFF_HEAD;

/// The format of an image, judged by its magic bytes alone.
///
/// `data` may be only the head of a file (the diff engine passes the first
/// 4 KiB, and [`ISO_HEAD`] bytes of a longer file): a compressed cpio archive is recognized by decompressing its first
/// bytes from what is there, and is not recognized when that is too little.
pub fn sniff(data: &[u8]) -> Option<Format> {
    if super::iso9660::sniff(data) {
        return Some(Format::Iso9660);
    }
    if super::squashfs::sniff(data) {
        return Some(Format::Squashfs);
    }
    // After ISO 9660: a hybrid ISO starts with an MBR, which also ends in 0x55aa
    // (though it has no valid BPB).
    if super::fat::sniff(data) {
        return Some(Format::Fat);
    }
    if super::cpio::sniff(data) {
        return Some(Format::Cpio);
    }
    if super::ar::sniff(data) {
        return Some(Format::Ar);
    }
    if super::tar::sniff(data) {
        return Some(Format::Tar);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ECMA-119: the first volume descriptor is sector 16, its standard
    /// identifier bytes 1 to 5 (written out here, not taken from the tables).
    const CD001_AT: usize = 16 * 2048 + 1;

    #[test]
    fn magic() {
        assert_eq!(ISO_HEAD, CD001_AT + 5);
        let mut iso = vec![0u8; 40_000];
        iso[CD001_AT..CD001_AT + 5].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Some(Format::Iso9660));
        assert_eq!(sniff(b"hsqs\0\0\0\0"), Some(Format::Squashfs));
        assert_eq!(sniff(b"hsq"), None);
        assert_eq!(sniff(&[]), None);
    }

    /// A FAT12 boot sector as mkfs.fat writes it for a 1.44 MB floppy.
    fn fat12() -> Vec<u8> {
        let mut b = vec![0u8; 512];
        b[..3].copy_from_slice(&[0xeb, 0x3c, 0x90]);
        b[3..11].copy_from_slice(b"mkfs.fat");
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 1;
        b[14] = 1;
        b[16] = 2;
        b[17..19].copy_from_slice(&224u16.to_le_bytes());
        b[19..21].copy_from_slice(&2880u16.to_le_bytes());
        b[21] = 0xf0;
        b[22..24].copy_from_slice(&9u16.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xaa;
        b
    }

    #[test]
    fn fat_boot_sectors() {
        let b = fat12();
        assert_eq!(sniff(&b), Some(Format::Fat));
        // An MBR: the signature without a BPB.
        let mut mbr = vec![0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xaa;
        assert_eq!(sniff(&mbr), None);
        // No signature, a bad sector size, a bad media byte.
        for (at, v) in [(510, 0u8), (12, 3), (21, 0x12), (13, 3)] {
            let mut bad = b.clone();
            bad[at] = v;
            assert_eq!(sniff(&bad), None, "byte {at} = {v:#x}");
        }
        // A hybrid ISO whose MBR would look like FAT is still ISO 9660.
        let mut iso = b.clone();
        iso.resize(40_000, 0);
        iso[CD001_AT..CD001_AT + 5].copy_from_slice(b"CD001");
        assert_eq!(sniff(&iso), Some(Format::Iso9660));
    }

    #[test]
    fn cpio_plain_and_compressed() {
        // The trailer alone: all fields 0 but the name size.
        let mut newc = b"070701".to_vec();
        newc.extend(b"0".repeat(88));
        newc.extend(b"0000000B00000000TRAILER!!!\0");
        assert_eq!(sniff(&newc), Some(Format::Cpio));
        let mut odc = b"070707".to_vec();
        odc.extend(b"0".repeat(53));
        odc.extend(b"00001300000000000TRAILER!!!\0");
        assert_eq!(sniff(&odc), Some(Format::Cpio));
        // The magic alone, or with garbage after it, is not enough.
        assert_eq!(sniff(b"070701"), None);
        let mut bad = newc.clone();
        bad[10] = b'x';
        assert_eq!(sniff(&bad), None);
        let mut bad = newc.clone();
        bad[101] = b'0';
        assert_eq!(sniff(&bad), None);

        let zstd = |d: &[u8]| zstd::bulk::compress(d, 3).unwrap_or_default();
        assert_eq!(sniff(&zstd(&newc)), Some(Format::Cpio));
        // A compressed file of another kind is not an image.
        assert_eq!(sniff(&zstd(b"plain text, compressed")), None);
        // Too short a head to see the first decompressed bytes: not recognized.
        assert_eq!(sniff(&zstd(&newc)[..6]), None);
    }
}
