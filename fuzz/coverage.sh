#!/usr/bin/env bash
# Line coverage of a reader's sources by one fuzz target's corpus (local, not CI).
#
#   fuzz/coverage.sh TARGET SOURCE_DIR... [-- CORPUS_DIR...]
#   fuzz/coverage.sh cpio src/formats/cpio -- fuzz/target/campaign/corpus/cpio fuzz/corpus/cpio
#
# Runs `cargo +nightly fuzz coverage TARGET CORPUS...` (an instrumented build
# that runs every input once; needs `rustup component add --toolchain nightly
# llvm-tools-preview`), then `llvm-cov report` restricted to the files under
# SOURCE_DIRs, and prints its TOTAL line (regions, functions, lines, each with
# how many missed and the percentage covered). Without CORPUS_DIRs it uses the
# campaign's corpus (fuzz/target/campaign/corpus/TARGET) and the seeds.
set -euo pipefail
target=${1:?usage: fuzz/coverage.sh TARGET SOURCE_DIR... [-- CORPUS_DIR...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
sources=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do sources+=("$root/$1"); shift; done
[ "$#" -gt 0 ] && shift
# Corpus directories as the caller names them (relative to where it runs);
# one that does not exist is an error, not skipped.
corpora=()
for c in "$@"; do
    corpora+=("$(cd "$c" && pwd)") || { echo "coverage.sh: no directory $c" >&2; exit 2; }
done
cd "$root/fuzz"
if [ "${#corpora[@]}" -eq 0 ]; then
    corpora=("target/campaign/corpus/$target" "corpus/$target")
fi
# cargo-fuzz 0.13 runs the inputs of its first corpus directory only (its log
# says "Processing N input files" for the first): the directories are copied
# into one.
inputs="$root/fuzz/target/coverage-inputs/$target"
rm -rf "$inputs"
mkdir -p "$inputs"
for c in "${corpora[@]}"; do
    [ -d "$c" ] && find "$c" -maxdepth 1 -type f -exec cp -t "$inputs" {} +
done
# Raw profiles of an earlier run would be merged in (%m pools them): start clean.
rm -rf "coverage/$target"
cargo +nightly fuzz coverage "$target" "$inputs" >"target/coverage-$target.log" 2>&1
sysroot=$(rustc +nightly --print sysroot)
llvm_cov=$(find "$sysroot" -name llvm-cov -type f | head -n 1)
bin=target/x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release/$target
"$llvm_cov" report "$bin" -instr-profile="coverage/$target/coverage.profdata" \
    "${sources[@]}" | tail -n 1 | sed "s/^TOTAL/$target/"
