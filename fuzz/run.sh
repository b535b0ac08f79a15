#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each, one after the other, starting
# from the committed seeds (fuzz/corpus/<target>/), the inputs that crashed it
# once (fuzz/regressions/<target>/) and the dictionary.
#
#   fuzz/run.sh 300
#
# Needs the nightly toolchain (`cargo +nightly`); installs cargo-fuzz when it is
# missing. Without nightly it says so and exits 0 (fuzzing is skipped, not failed).
# Exits non-zero when a target finds a crash, a timeout (-timeout, seconds per
# input) or an out-of-memory input (-rss_limit_mb); the input is saved under
# fuzz/artifacts/<target>/ and the log under fuzz/target/run-logs/.
#
# New inputs the fuzzer finds go to a scratch corpus in fuzz/target/, not into the
# committed seeds. To keep interesting ones: cargo +nightly fuzz cmin, then copy.
set -uo pipefail
seconds=${1:?usage: fuzz/run.sh SECONDS}
case $seconds in '' | *[!0-9]*) echo "fuzz/run.sh: SECONDS must be a number" >&2; exit 2 ;; esac
cd "$(dirname "$0")"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: no nightly toolchain (cargo +nightly); skipping fuzzing"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz"
    if ! cargo install --locked cargo-fuzz; then
        echo "fuzz/run.sh: cannot install cargo-fuzz; skipping fuzzing"
        exit 0
    fi
fi

# -a: debug assertions, so arithmetic overflow panics too.
if ! cargo +nightly fuzz build -a; then
    echo "fuzz/run.sh: the fuzz targets do not build" >&2
    exit 1
fi

targets=$(cargo +nightly fuzz list)
if [ -z "$targets" ]; then
    echo "fuzz/run.sh: cargo fuzz list names no target" >&2
    exit 1
fi
logs=target/run-logs
mkdir -p "$logs"
failed=()
for target in $targets; do
    scratch=target/run-corpus/$target
    mkdir -p "$scratch" "corpus/$target"
    # The first corpus directory is where new inputs go; the seeds stay as they are.
    # Past crashes run first thing, so a fix that regresses fails at once.
    dirs=("$scratch" "corpus/$target")
    if [ -d "regressions/$target" ]; then dirs+=("regressions/$target"); fi
    echo "fuzz/run.sh: $target for ${seconds}s"
    cargo +nightly fuzz run -a "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -dict=iso9660.dict -print_final_stats=1 >"$logs/$target.log" 2>&1
    status=$?
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$logs/$target.log" |
        sed "s/^/fuzz\/run.sh: $target: /"
    if [ "$status" -ne 0 ]; then
        echo "fuzz/run.sh: $target FAILED (exit $status); the end of its log:" >&2
        tail -n 60 "$logs/$target.log" >&2
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "fuzz/run.sh: failing targets: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/run.sh: no crash found"
