//! Two files compared inside an image, as the diff engine compares the content of
//! a differing file: the readers of what is inside (PE headers, sections and
//! debug directory; compressed members and their header fields), the hexdump
//! of differing regions and the disassembly of differing code (x86-64 and
//! aarch64 ELF and PE). The first four bytes (little-endian) say where to split
//! the rest into file a and file b; each is the one file `/f` of a tiny file
//! system, so no image reader stands in front of them (`harness::members`,
//! which `tests/it/replay.rs` replays the seeds through).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::members(data);
});
