#!/usr/bin/env bash
# Makes a NixOS-like pair of installer images the way nixpkgs builds its ISO
# (nixos/lib/make-squashfs.nix, make-iso9660-image.sh): a small nix store in a
# squashfs (-all-root -no-hardlinks -keep-as-directory -b 1048576) inside a hybrid
# ISO with isolinux and an EFI image (xorriso -as mkisofs ... -isohybrid-mbr
# ... -e boot/efi.img -isohybrid-gpt-basdat).
#
# usage: make-nixos-pair.sh OUTDIR [COMPRESSOR [MODE]]
#   COMPRESSOR: xz (default) or zstd, gzip, lz4, lzo
#   MODE: planted (default): b.iso carries the planted differences listed below;
#         recompressed: b.iso holds the same files as a.iso, its squashfs made
#         with gzip and 128 KiB blocks instead.
#
# The planted differences (a -> b):
#   /nix-store.squashfs  superblock mkfs time 1970-01-01T00:00:01Z -> 2024-06-02T00:00:00Z
#   three store files (lingering-users, etc-netgroup, mdadm.conf): mtime
#     1980-01-01T00:00:00Z -> 1970-01-01T00:00:01Z and mode 0644 -> 0444
#   .../bin/hello (an ELF file): 20 bytes from offset 4096 changed
#   .../share/motd: one line changed
#   .../share/added: only in b;  .../share/removed: only in a
#   .../etc/current: symlink retargeted
# Needs: mksquashfs, xorriso, mkfs.vfat, mtools, isolinux, python3 (apt-get install
# squashfs-tools xorriso dosfstools mtools isolinux python3).
set -euo pipefail
out=$1
comp=${2:-xz}
mode=${3:-planted}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TZ=UTC

store_paths() {
  local root=$1
  local s=$root/nix/store
  mkdir -p "$s"
  local hello=$s/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1
  mkdir -p "$hello/bin" "$hello/share/doc"
  cp /bin/true "$hello/bin/hello"
  printf 'Welcome to NixOS!\nThis is line two.\nThe end.\n' > "$hello/share/motd"
  for i in $(seq 1 40); do printf 'doc %s\n' "$i" > "$hello/share/doc/page-$i.txt"; done
  printf 'removed later\n' > "$hello/share/removed"
  local etc=$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc
  mkdir -p "$etc/etc"
  ln -s /nix/store/6ivd9vb3f6yg3b4wh4mb4n2gwh3w55bq-systemd-255.4 "$etc/etc/current"
  printf '' > "$s/lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users"
  printf '# netgroup\n' > "$s/kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup"
  printf 'MAILADDR root\n' > "$s/pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf"
  # Incompressible, but the same bytes in every run: with random ones, the two
  # images' sizes (padded to 4 KiB) sometimes came out different.
  python3 -c 'import random, sys; r = random.Random(1); sys.stdout.buffer.write(r.randbytes(100000))' \
    > "$s/blob.bin"
  # Nix canonicalizes the store: mode 0444 (0555 for executables and
  # directories) and mtime 1 (1970-01-01T00:00:01Z).
  find "$s" -type d -exec chmod 0555 {} +
  find "$s" -type f -exec chmod 0444 {} +
  chmod 0555 "$hello/bin/hello"
  find "$root" -exec touch -h -d @1 {} +
}

plant() {
  local root=$1 side=$2
  local s=$root/nix/store
  local hello=$s/5p1y2ssd3hzvplzmxk4n9ss7jkvmx0l3-hello-2.12.1
  if [ "$side" = a ]; then
    for f in lmgw9ylzm3xyzddsvw4r6q4lhwrzxm55-lingering-users \
             kx1jyj9hzjlzlj3d9dq2s7s9sxvwk1h2-etc-netgroup \
             pwl5w1f8kcnz3d4cqkhp87d3yc9z7q1g-mdadm.conf; do
      chmod 0644 "$s/$f"
      touch -d '1980-01-01 00:00:00' "$s/$f"
    done
  else
    chmod u+w "$hello/bin/hello" "$hello/share/motd" "$hello/share" "$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc"
    printf 'abcdefghijklmnopqrst' | dd of="$hello/bin/hello" bs=1 seek=4096 conv=notrunc status=none
    printf 'Welcome to NixOS!\nThis is line 2.\nThe end.\n' > "$hello/share/motd"
    rm "$hello/share/removed"
    printf 'added\n' > "$hello/share/added" && chmod 0444 "$hello/share/added"
    rm "$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/current"
    ln -s /nix/store/p1b8c3a7m9kq2x0d4n6f5h7j8k9l0m1n-systemd-256.1 "$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc/current"
    chmod 0555 "$hello/bin/hello" "$hello/share" "$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc/etc"
    chmod 0444 "$hello/share/motd"
    find "$hello" "$s/0zxhq0pfb0c6d3yl9b9ra66d0zwc6yxa-etc" -exec touch -h -d @1 {} +
  fi
}

squashfs() {
  local root=$1 img=$2 comp=$3 mkfs_time=$4 block=${5:-1048576}
  (cd "$root/nix/store" && mksquashfs * "$img" -no-progress -no-hardlinks -keep-as-directory -all-root \
      -b "$block" -comp "$comp" -mkfs-time "$mkfs_time" -root-time 1 -noappend >/dev/null)
}

iso() {
  local squash=$1 img=$2
  local iso_root=$work/iso-$(basename "$img" .iso)
  mkdir -p "$iso_root/isolinux" "$iso_root/boot"
  cp /usr/lib/ISOLINUX/isolinux.bin "$iso_root/isolinux/"
  printf 'DEFAULT boot\nLABEL boot\n  KERNEL /boot/bzImage\n' > "$iso_root/isolinux/isolinux.cfg"
  printf 'not a kernel\n' > "$iso_root/boot/bzImage"
  # The EFI system partition image, as a FAT file system.
  # Fixed times (--invariant for the label entry, SOURCE_DATE_EPOCH for mtools,
  # a fixed mtime for mcopy -m), so the two sides' efi.img are the same bytes.
  mkfs.vfat --invariant -C -n EFIBOOT -i 12345678 "$iso_root/boot/efi.img" 256 >/dev/null
  printf 'MZ stand-in for BOOTX64.EFI\n' > "$work/BOOTX64.EFI"
  touch -d @1717286400 "$work/BOOTX64.EFI"
  SOURCE_DATE_EPOCH=1717286400 mmd -i "$iso_root/boot/efi.img" ::/EFI ::/EFI/BOOT
  SOURCE_DATE_EPOCH=1717286400 mcopy -m -i "$iso_root/boot/efi.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/
  cp "$squash" "$iso_root/nix-store.squashfs"
  find "$iso_root" -exec touch -h -d @1 {} +
  SOURCE_DATE_EPOCH=1717286400 xorriso -as mkisofs -quiet -iso-level 3 -volid NIXOS_ISO -appid nixos -publisher nixos \
    -full-iso9660-filenames -joliet -r \
    -eltorito-boot isolinux/isolinux.bin -eltorito-catalog isolinux/boot.cat -no-emul-boot \
    -boot-load-size 4 -boot-info-table \
    -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
    -eltorito-alt-boot -e boot/efi.img -no-emul-boot -isohybrid-gpt-basdat \
    -o "$img" "$iso_root"
}

for side in a b; do
  mkdir -p "$work/$side"
  store_paths "$work/$side"
done

case "$mode" in
  planted)
    plant "$work/a" a
    plant "$work/b" b
    squashfs "$work/a" "$work/a.squashfs" "$comp" 1
    squashfs "$work/b" "$work/b.squashfs" "$comp" 1717286400
    ;;
  recompressed)
    squashfs "$work/a" "$work/a.squashfs" "$comp" 1
    squashfs "$work/a" "$work/b.squashfs" gzip 1 131072
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
iso "$work/a.squashfs" "$out/a.iso"
iso "$work/b.squashfs" "$out/b.iso"
cp "$work/a.squashfs" "$out/a.squashfs"
cp "$work/b.squashfs" "$out/b.squashfs"
ls -l "$out"
