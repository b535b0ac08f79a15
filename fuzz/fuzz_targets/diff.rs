//! The whole diff of two inputs: the first four bytes (little-endian) say where to
//! split the rest into images a and b (so that a mutation of one side keeps the
//! other), then
//! `diff_bytes` under small limits, and every report renderer.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let (Some(head), Some(rest)) = (data.get(..4), data.get(4..)) else { return };
    let split = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let at = split % (rest.len() + 1);
    let (a, b) = rest.split_at(at);
    let options = isodiff::Options::default()
        .limits(harness::limits())
        .calling_thread(true)
        .max_nesting(2)
        .max_buffer_bytes(16 << 20)
        .text_diff_timeout(std::time::Duration::from_millis(200));
    if let Ok(report) = isodiff::diff_bytes(a, b, &options) {
        let mut sink = std::io::sink();
        let _ = isodiff::report::text::write(&report, &mut sink);
        let _ = isodiff::report::json::write(&report, &mut sink);
    }
});
