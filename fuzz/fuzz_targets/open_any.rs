//! `isodiff::open`, which sniffs the format: whatever reader it picks (ISO 9660
//! now, squashfs and others as they arrive) must list and read any input without a
//! panic, a hang or unbounded memory.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::open_and_exercise(data);
});
