//! The squashfs reader on its own: open the input as squashfs whatever its magic says,
//! list every entry and read every file, under small limits.
//!
//! Structure-aware: a third of the mutations set one field the reader's byte
//! layout declares (`harness::mutate_squashfs_field`: the superblock, metadata
//! block headers, table indexes, and the inodes, directories and table entries
//! of metadata blocks stored uncompressed); the rest, and any input the reader
//! cannot lay out, get libFuzzer's own.

#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = isodiff::internals::SquashFs::open(data, &harness::limits()) {
        harness::exercise(&fs);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if seed.is_multiple_of(3) {
        if let Some(size) = harness::mutate_squashfs_field(data, size, seed / 3) {
            return size;
        }
    }
    fuzzer_mutate(data, size, max_size)
});
