//! The ISO 9660 reader on its own: open the input as ISO 9660 whatever its magic
//! says, list every entry and read every file, under small limits.
//!
//! Structure-aware: a third of the mutations set one field of a structure the
//! reader declares (`harness::mutate_iso_field`); the rest, and any input the
//! reader cannot lay out, get libFuzzer's own.

#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = isodiff::internals::IsoFs::open(data, &harness::limits()) {
        harness::exercise(&fs);
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    if seed.is_multiple_of(3) {
        if let Some(size) = harness::mutate_iso_field(data, size, seed / 3) {
            return size;
        }
    }
    fuzzer_mutate(data, size, max_size)
});
