#!/usr/bin/env bash
# Times isodiff on a pair of ISOs compressed whole with zstd (`a.iso.zst`,
# `b.iso.zst`) against the same pair uncompressed, and with one side of each
# (zstd against xz), and prints a Markdown table: hyperfine's mean, standard
# deviation and CPU times, the peak RSS of one run under GNU time, and the
# peaks of its anonymous and file-backed parts.
#
# usage: [RUNS=5] [ZSTD_LEVEL=3] benches/compressed-pair.sh [WORKDIR]
#        (default WORKDIR: /tmp/isodiff-bench)
#
# The pair: WORKDIR/a.iso and WORKDIR/b.iso when they exist (any pair),
# else the NixOS-like pair that `BUILD_ONLY=1 benches/compare-tools.sh WORKDIR`
# builds (SOURCES is passed on to it). The compressed copies are made next to
# them once (zstd -T0; xz -T0 -1 for b.iso.xz) and kept for later runs.
#
# Needs: hyperfine, GNU time (apt-get install hyperfine time), zstd, xz, and
# what compare-tools.sh needs to build a pair.
set -euo pipefail
work=${1:-/tmp/isodiff-bench}
runs=${RUNS:-5}
level=${ZSTD_LEVEL:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"

if [ ! -f "$work/a.iso" ] || [ ! -f "$work/b.iso" ]; then
  BUILD_ONLY=1 "$here/benches/compare-tools.sh" "$work"
fi
cd "$work"
for side in a b; do
  [ -f "$side.iso.zst" ] || zstd -q -T0 "-$level" "$side.iso" -o "$side.iso.zst"
done
[ -f b.iso.xz ] || { xz -T0 -1 -k -c b.iso > b.iso.xz.part && mv b.iso.xz.part b.iso.xz; }

(cd "$here" && cargo build --release --quiet)
isodiff=$here/target/release/isodiff

pairs=("a.iso b.iso" "a.iso.zst b.iso.zst" "a.iso.zst b.iso.xz")
commands=()
for p in "${pairs[@]}"; do
  commands+=("$isodiff $p")
done
# isodiff exits 1 on differences: hyperfine is told not to count that as failure.
hyperfine -N -i --warmup 1 --runs "$runs" --export-json hyperfine.json --output=null \
  "${commands[@]}" >&2

size() { stat -c %s "$1" | awk '{ printf "%.0f MB", $1 / 1e6 }'; }
# Peak RSS (GNU time), and the peaks of its anonymous and file-backed parts
# (/proc/PID/status sampled every 20 ms: decompression buffers are anonymous,
# the maps of the input files file-backed).
rss_split() {
  python3 - "$@" <<'EOF'
import subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak = {"RssAnon": 0, "RssFile": 0}
while p.poll() is None:
    try:
        for line in open("/proc/%d/status" % p.pid):
            key = line.split(":")[0]
            if key in peak:
                peak[key] = max(peak[key], int(line.split()[1]))
    except OSError:
        pass
    time.sleep(0.02)
print("%d MB | %d MB" % (peak["RssAnon"] // 1024, peak["RssFile"] // 1024))
EOF
}
echo "| command | mean ± σ | user + sys | peak RSS | RssAnon | RssFile |"
echo "| --- | --- | --- | --- | --- | --- |"
echo "| (a.iso $(size a.iso), a.iso.zst $(size a.iso.zst), b.iso.xz $(size b.iso.xz)) | | | | | |"
i=0
for p in "${pairs[@]}"; do
  # shellcheck disable=SC2086
  /usr/bin/time -f '%M' -o rss.out "$isodiff" $p >/dev/null 2>&1 || true
  rss=$(tail -n 1 rss.out)
  # shellcheck disable=SC2086
  split=$(rss_split "$isodiff" $p)
  python3 - "$i" "$p" "$rss" "$split" <<'EOF'
import json, sys
r = json.load(open("hyperfine.json"))["results"][int(sys.argv[1])]
print("| isodiff %s | %.2f s ± %.2f | %.2f + %.2f s | %d MB | %s |" % (
    sys.argv[2], r["mean"], r["stddev"] or 0, r["user"], r["system"],
    int(sys.argv[3]) // 1024, sys.argv[4]))
EOF
  i=$((i + 1))
done
