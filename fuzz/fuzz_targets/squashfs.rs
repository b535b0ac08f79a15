//! The squashfs reader on its own: open the input as squashfs whatever its magic says,
//! list every entry and read every file, under small limits.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    if let Ok(fs) = isodiff::internals::SquashFs::open(data, &harness::limits()) {
        harness::exercise(&fs);
    }
});
