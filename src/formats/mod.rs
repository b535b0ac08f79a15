//! Format readers: each turns the bytes of one kind of image into the entry model.

pub mod ar;
pub(crate) mod compress;
pub mod cpio;
#[cfg(unix)]
pub mod dir;
pub mod fat;
pub mod input;
pub mod iso9660;
pub mod mtree;
pub mod open;
pub mod pe;
pub mod sniff;
pub mod squashfs;
pub mod tar;
pub(crate) mod tree;
