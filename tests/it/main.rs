//! The integration tests, one crate (one link of the library and its
//! dependencies instead of one per file): a module per subject, the former
//! `tests/NAME.rs`, run alone with `cargo test --test it NAME::`.
//! `common` and `hostile` are helpers the modules share; `harness` is what the
//! fuzz targets do with one input, which the replay, damage and round-trip
//! tests do too.

mod common;
#[path = "../../fuzz/harness.rs"]
mod harness;
mod hostile;

mod accounting;
mod accounting_churn;
mod accounting_fat_cpio;
mod accounting_squashfs_tables;
mod boot;
mod consequences;
mod cpio;
mod diff_iso;
mod diff_nixos;
mod disasm;
mod explain_keys;
mod fat;
mod filters;
mod hfsplus;
mod html;
mod inputs;
mod inside;
mod iso_ls;
mod iso_parity;
mod layers;
mod lint;
mod ls_release;
mod manifest;
mod mutation;
mod producers;
mod quiet;
mod replay;
mod reports;
mod roundtrip;
mod snapshots;
mod squashfs;
mod tar;
mod trees;
mod zisofs;
