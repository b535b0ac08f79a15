#!/usr/bin/env bash
# Builds a pair of squashfs images (and the NixOS-like ISOs holding them) of the
# same size where b adds one file, removes two and changes a few, early in the
# order mksquashfs packs files: every fragment block after the change is
# repacked, the inodes after it renumbered and the headers of large directory
# listings regrouped. The byte accounting must explain all of that by the
# planted differences (issue 14).
#
# usage: benches/make-churn-pair.sh OUTDIR COMPRESSOR SOURCE...
#   COMPRESSOR: xz, zstd, gzip, lz4, lzo
#   SOURCE: directories packed beside the planted one (their files must not
#           change while the script runs)
#   SEED (environment, default 1): seeds the planted pages' words and lengths,
#           so that pairs of other shapes can be made from the same sources
#
# The planted differences (a -> b), in /0-planted (first in mksquashfs' order):
#   /0-planted/doc/page-0003, page-0004: only in a
#   /0-planted/doc/zz-added: only in b (its length is chosen so that both
#     images come out of one size, padded to 4 KiB)
#   /0-planted/doc/page-0100: one line more in b
#   /0-planted/doc/page-0200: mode 0644 -> 0600
#   superblock inode_count: one entry fewer in b
# Needs: mksquashfs, xorriso, mkfs.vfat, mtools, isolinux, python3.
set -euo pipefail
seed=${SEED:-1}
out=$1 comp=$2
shift 2
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TZ=UTC

planted() {
  local dir=$1/0-planted
  mkdir -p "$dir/doc"
  python3 - "$dir/doc" "$seed" <<'EOF'
import random, sys
r = random.Random(int(sys.argv[2]))
words = [bytes(r.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(r.randint(2, 9))) for _ in range(2000)]
for i in range(400):
    n = r.randint(200, 4000)
    text = b' '.join(r.choice(words) for _ in range(n // 6))[:n] + b'\n'
    open('%s/page-%04d' % (sys.argv[1], i), 'wb').write(text)
EOF
  chmod 0644 "$dir"/doc/*
}

mkdir -p "$work/a" "$work/b"
planted "$work/a"
planted "$work/b"
d=$work/b/0-planted/doc
rm "$d/page-0003" "$d/page-0004"
printf 'one more line\n' >> "$d/page-0100"
chmod 0600 "$d/page-0200"

mksquashfs "$work/a/0-planted" "$@" "$out/a.squashfs.part" -no-progress -quiet -no-hardlinks \
  -keep-as-directory -all-root -b 1048576 -comp "$comp" -mkfs-time 1 -all-time 1 -noappend >/dev/null
target=$(stat -c %s "$out/a.squashfs.part")
size=0
# The added file grows in steps of incompressible bytes until b is as large as a.
for len in $(seq 0 256 65536); do
  python3 -c "import random, sys; sys.stdout.buffer.write(random.Random(2).randbytes($len))" > "$d/zz-added"
  chmod 0644 "$d/zz-added"
  mksquashfs "$work/b/0-planted" "$@" "$out/b.squashfs.part" -no-progress -quiet -no-hardlinks \
    -keep-as-directory -all-root -b 1048576 -comp "$comp" -mkfs-time 1 -all-time 1 -noappend >/dev/null
  size=$(stat -c %s "$out/b.squashfs.part")
  [ "$size" -ge "$target" ] && break
done
if [ "$size" != "$target" ]; then
  echo "could not make images of one size ($size, $target)" >&2
  exit 1
fi
mv "$out/a.squashfs.part" "$out/a.squashfs"
mv "$out/b.squashfs.part" "$out/b.squashfs"

iso() {
  local squash=$1 img=$2
  local root=$work/iso-root
  rm -rf "$root" && mkdir -p "$root/isolinux" "$root/boot"
  cp /usr/lib/ISOLINUX/isolinux.bin "$root/isolinux/"
  printf 'DEFAULT boot\n' > "$root/isolinux/isolinux.cfg"
  mkfs.vfat --invariant -C -n EFIBOOT -i 12345678 "$root/boot/efi.img" 256 >/dev/null
  cp "$squash" "$root/nix-store.squashfs"
  find "$root" -exec touch -h -d @1 {} +
  SOURCE_DATE_EPOCH=1717286400 xorriso -as mkisofs -quiet -iso-level 3 -volid NIXOS_ISO -joliet -r \
    -eltorito-boot isolinux/isolinux.bin -eltorito-catalog isolinux/boot.cat -no-emul-boot \
    -boot-load-size 4 -boot-info-table -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
    -eltorito-alt-boot -e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat -o "$img.part" "$root" 2>/dev/null
  mv "$img.part" "$img"
}
iso "$out/a.squashfs" "$out/a.iso"
iso "$out/b.squashfs" "$out/b.iso"
ls -l "$out"
