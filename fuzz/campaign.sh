#!/usr/bin/env bash
# The long local campaign (not CI): runs each named fuzz target, one after the
# other, in one process (no -jobs: with it libFuzzer forks workers that log to
# fuzz-N.log), niced, for RUNS executions or SECONDS seconds, whichever comes
# first, and prints libFuzzer's final stats per target.
#
#   fuzz/campaign.sh RUNS SECONDS [TARGET...]     # default: every target
#   fuzz/campaign.sh 1000000 1800 cpio fat
#
# It runs copies of the sanitized binaries that `cargo +nightly fuzz build -a`
# left in fuzz/target/ (copied to fuzz/target/campaign/bin/ first), so that
# editing the sources during a long campaign does not rebuild under it.
# Build them first. New inputs go to fuzz/target/campaign/corpus/<target>/ (the
# committed seeds stay as they are); logs to fuzz/target/campaign/logs/; crashes,
# timeouts and out-of-memory inputs to fuzz/target/campaign/artifacts/<target>/.
set -uo pipefail
runs=${1:?usage: fuzz/campaign.sh RUNS SECONDS [TARGET...]}
seconds=${2:?usage: fuzz/campaign.sh RUNS SECONDS [TARGET...]}
shift 2
cd "$(dirname "$0")"
built=target/x86_64-unknown-linux-gnu/release
camp=target/campaign
mkdir -p "$camp/bin" "$camp/logs"
if [ "$#" -eq 0 ]; then set -- $(cargo +nightly fuzz list); fi
for t in "$@"; do cp "$built/$t" "$camp/bin/$t"; done
for t in "$@"; do
    mkdir -p "$camp/corpus/$t" "$camp/artifacts/$t/"
    dirs=("$camp/corpus/$t")
    for d in "corpus/$t" "regressions/$t"; do [ -d "$d" ] && dirs+=("$d"); done
    echo "campaign: $t started $(date -u +%H:%M:%S)"
    nice -n 10 "$camp/bin/$t" "${dirs[@]}" -runs="$runs" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -dict=iso9660.dict \
        -print_final_stats=1 -artifact_prefix="$camp/artifacts/$t/" \
        >"$camp/logs/$t.log" 2>&1
    status=$?
    echo "campaign: $t ended $(date -u +%H:%M:%S) exit $status"
    grep -E '^#[0-9]+.*(DONE|pulse|NEW)' "$camp/logs/$t.log" | tail -n 1
    grep -E '^stat::' "$camp/logs/$t.log"
done
