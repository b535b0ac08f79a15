//! The mtree reader on its own: read the input as a manifest, list every
//! entry and every nested image's section (as `isodiff ls` walks them), read
//! every file's content (a digest), and write the manifest again.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let Ok(fs) = isodiff::internals::MtreeFs::open(data, &harness::limits()) else {
        return;
    };
    harness::exercise(&fs);
    isodiff::listing::walk_nested(&fs, &[], &harness::nesting(), &mut |_| {}, &mut |_| {});
    let _ = isodiff::manifest::write(&fs, &harness::nesting(), &mut std::io::sink(), &mut |_| {});
});
