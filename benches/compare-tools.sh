#!/usr/bin/env bash
# Builds a large NixOS-like pair from this machine's own files and times isodiff,
# sqfsdiff, diffoscope and `cat` on it in one run, side by side.
#
# usage: [RUNS=3] [SOURCES="dir ..."] [COMP=xz] [BLOCK=1048576] [RECOMPRESSED=1]
#        [DIFFOSCOPE=1] [BUILD_ONLY=1] benches/compare-tools.sh [WORKDIR]
#        (default WORKDIR: /tmp/isodiff-bench; SOURCES: see below)
#
# The 3 GB pair (as issue 17 measures it): a synthetic store from make-tree.py,
# zstd level 3 (COMP="zstd -Xcompression-level 3"), no recompressed pair:
#   python3 benches/make-tree.py /tmp/big/tree
#   SOURCES=/tmp/big/tree COMP="zstd -Xcompression-level 3" RECOMPRESSED=0 \
#     DIFFOSCOPE=0 benches/compare-tools.sh /tmp/big
#
# The pair: an xz squashfs with 1 MiB blocks (as nixpkgs makes its store image) of
# /usr/share, /usr/lib/x86_64-linux-gnu, /usr/bin and /usr/include (about 65,000
# entries, 1.7 GB), inside a hybrid ISO with isolinux and an EFI image. b differs
# from a by a handful of planted differences (two mtimes and modes, an ELF byte
# range, a text line, an added and a removed file, a symlink target, the mkfs time).
# A second pair, "recompressed", holds the same files with gzip and 128 KiB blocks
# on one side: every block differs.
#
# Needs: mksquashfs, sqfsdiff (squashfs-tools-ng), xorriso, mkfs.vfat, mtools,
# isolinux, diffoscope, GNU time (apt-get install time). Prints a Markdown table:
# median of RUNS runs (diffoscope: one run, with a timeout) and peak RSS.
set -euo pipefail
work=${1:-/tmp/isodiff-bench}
runs=${RUNS:-3}
diffoscope_timeout=${DIFFOSCOPE_TIMEOUT:-900}
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
cd "$work"
export TZ=UTC

# SOURCES (space-separated directories) builds the pair from other files, to
# check the figures on a pair the code was not tuned on.
if [ -n "${SOURCES:-}" ]; then
  read -r -a sources <<< "$SOURCES"
else
  sources=(/usr/share /usr/lib/x86_64-linux-gnu /usr/bin /usr/include)
fi

overlay() {
  local dir=$1 side=$2
  rm -rf "$dir" && mkdir -p "$dir/etc" "$dir/bin" "$dir/share"
  printf '' > "$dir/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users"
  printf '# netgroup\n' > "$dir/kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup"
  cp /bin/true "$dir/bin/hello"
  printf 'Welcome to NixOS!\nThis is line two.\nThe end.\n' > "$dir/share/motd"
  ln -s /nix/store/6ivd9vb3f6yg3b4wh4mb4n2gwh3w55bq-systemd-255.4 "$dir/etc/current"
  chmod 0444 "$dir"/*-* "$dir/share/motd"
  if [ "$side" = a ]; then
    printf 'removed later\n' > "$dir/share/removed"
    chmod 0644 "$dir"/*-*
    touch -d '1980-01-01 00:00:00' "$dir"/*-*
  else
    printf 'abcdefghijklmnopqrst' | dd of="$dir/bin/hello" bs=1 seek=4096 conv=notrunc status=none
    printf 'Welcome to NixOS!\nThis is line 2.\nThe end.\n' > "$dir/share/motd"
    printf 'added\n' > "$dir/share/added"
    rm "$dir/etc/current" && ln -s /nix/store/p1b8c3a7m9kq2x0d4n6f5h7j8k9l0m1n-systemd-256.1 "$dir/etc/current"
    touch -h -d @1 "$dir"/*-*
  fi
  find "$dir" -path "$dir/*-*" -prune -o -exec touch -h -d @1 {} +
}

squash() {
  local out=$1 comp=$2 block=$3 mkfs_time=$4 extra=$5
  [ -f "$out" ] && return
  # Built under another name first: an interrupted run leaves no image that a
  # later run would take as done.
  # $comp is the compressor and its options, split on spaces on purpose.
  # shellcheck disable=SC2086
  mksquashfs "${sources[@]}" "$extra" "$out.part" -no-progress -quiet -no-hardlinks -keep-as-directory \
    -all-root -b "$block" -comp $comp -mkfs-time "$mkfs_time" -root-time 1 -noappend >/dev/null 2>&1
  mv "$out.part" "$out"
}

iso() {
  local squash=$1 out=$2
  [ -f "$out" ] && return
  local root=$work/iso-root
  rm -rf "$root" && mkdir -p "$root/isolinux" "$root/boot"
  cp /usr/lib/ISOLINUX/isolinux.bin "$root/isolinux/"
  printf 'DEFAULT boot\n' > "$root/isolinux/isolinux.cfg"
  mkfs.vfat --invariant -C -n EFIBOOT -i 12345678 "$root/boot/efi.img" 256 >/dev/null
  ln "$squash" "$root/nix-store.squashfs" 2>/dev/null || cp "$squash" "$root/nix-store.squashfs"
  find "$root" -exec touch -h -d @1 {} +
  SOURCE_DATE_EPOCH=1717286400 xorriso -as mkisofs -quiet -iso-level 3 -volid NIXOS_ISO -joliet -r \
    -eltorito-boot isolinux/isolinux.bin -eltorito-catalog isolinux/boot.cat -no-emul-boot \
    -boot-load-size 4 -boot-info-table -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
    -eltorito-alt-boot -e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat -o "$out.part" "$root" 2>/dev/null
  mv "$out.part" "$out"
}

echo "building the pairs in $work (skipped where they exist)..." >&2
# The same directory name on both sides (mksquashfs keeps it as the top entry),
# so that the planted differences are compared file by file.
overlay "$work/overlay-a/planted" a
overlay "$work/overlay-b/planted" b
comp=${COMP:-xz}
block=${BLOCK:-1048576}
recompressed=${RECOMPRESSED:-1}
squash a.squashfs "$comp" "$block" 1 "$work/overlay-a/planted"
squash b.squashfs "$comp" "$block" 1717286400 "$work/overlay-b/planted"
iso a.squashfs a.iso
iso b.squashfs b.iso
if [ "$recompressed" = 1 ]; then
  squash r.squashfs gzip 131072 1 "$work/overlay-a/planted"
  iso r.squashfs r.iso
fi

[ -n "${BUILD_ONLY:-}" ] && exit 0

(cd "$here" && cargo build --release --quiet)
isodiff=$here/target/release/isodiff

# Runs a command RUNS times (or once for slow tools); prints "median_seconds peak_rss_mb".
measure() {
  local n=$1; shift
  local times=() rss=0
  for _ in $(seq 1 "$n"); do
    /usr/bin/time -f '%e %M' -o "$work/time.out" "$@" >/dev/null 2>&1 || true
    read -r t m < <(tail -n 1 "$work/time.out")
    times+=("$t")
    [ "$m" -gt "$rss" ] && rss=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$median $((rss / 1024))"
}

row() {
  local label=$1; shift
  read -r t m < <(measure "$@")
  printf '| %s | %s s | %s MB |\n' "$label" "$t" "$m"
}

# A cold page cache would measure the disk; warm it, as the targets say.
cat a.iso b.iso a.squashfs b.squashfs > /dev/null

echo "| command | median time | peak RSS |"
echo "| --- | --- | --- |"
printf '| (pair: %s entries, %s MB uncompressed, ISOs %s and %s MB) | | |\n' \
  "$(unsquashfs -lls a.squashfs 2>/dev/null | wc -l)" \
  "$(unsquashfs -lls a.squashfs 2>/dev/null | awk '$1 ~ /^-/ { s += $3 } END { printf "%d", s / 1048576 }')" \
  "$(( $(stat -c %s a.iso) / 1048576 ))" "$(( $(stat -c %s b.iso) / 1048576 ))"
row "cat a.iso b.iso > /dev/null" "$runs" sh -c "cat a.iso b.iso > /dev/null"
row "isodiff a.iso b.iso (planted)" "$runs" "$isodiff" a.iso b.iso
row "isodiff a.squashfs b.squashfs (planted)" "$runs" "$isodiff" a.squashfs b.squashfs
if [ "$recompressed" = 1 ]; then
  row "isodiff a.iso r.iso (recompressed)" "$runs" "$isodiff" a.iso r.iso
fi
if command -v sqfsdiff >/dev/null; then
  row "sqfsdiff -a a.squashfs -b b.squashfs (planted)" 1 sqfsdiff -a a.squashfs -b b.squashfs
  if [ "$recompressed" = 1 ]; then
    row "sqfsdiff -a a.squashfs -b r.squashfs (recompressed)" 1 sqfsdiff -a a.squashfs -b r.squashfs
  fi
fi
# DIFFOSCOPE=0 skips it: on a 3.3 GB pair it unpacks both images into $TMPDIR
# (18 GB before the disk of the machine measured on was full, at 23 GB RSS).
if [ "${DIFFOSCOPE:-1}" = 1 ] && command -v diffoscope >/dev/null; then
  row "diffoscope a.iso b.iso (timeout ${diffoscope_timeout} s)" 1 timeout "$diffoscope_timeout" diffoscope a.iso b.iso
fi
