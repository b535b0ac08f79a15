#!/usr/bin/env bash
# Regenerates the small ISO 9660 fixtures in this folder from the real tools.
# Needs: xorriso, genisoimage (apt-get install xorriso genisoimage), run as root
# (device nodes and owners). The images are committed; tests only read them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TZ=UTC SOURCE_DATE_EPOCH=1717286400   # 2024-06-02T00:00:00Z

tree=$work/tree
mkdir -p "$tree"
cd "$tree"
printf 'hello\n' > plain.txt
printf '#!/bin/sh\necho setuid\n' > setuid.sh && chmod 4755 setuid.sh
mkdir -p sticky && chmod 1777 sticky
mkdir -p owned && printf 'owned by 1000:100\n' > owned/file && chown -R 1000:100 owned && chmod 0640 owned/file
# Deeper than 8 levels: genisoimage relocates it (rr_moved), xorriso does not.
mkdir -p deep/l2/l3/l4/l5/l6/l7/l8/l9/l10
printf 'deep\n' > deep/l2/l3/l4/l5/l6/l7/l8/l9/l10/bottom.txt
# A name over 200 bytes: its NM entry needs a continuation area (CE).
long=$(printf 'long-name-%.0s' $(seq 1 21))
printf 'long\n' > "$long"
# Symlinks, one with a long multi-component target.
ln -s plain.txt rel-link
ln -s "/usr/lib/$(printf 'component%.0s' $(seq 1 20))/../$(printf 'x%.0s' $(seq 1 150))/lib.so.1" long-link
ln -s / root-link
mkfifo fifo
mknod null c 1 3
mknod sda1 b 8 1
printf 'future\n' > after-2038.txt
printf 'sixteen bytes!!\n' > 'Mixed Case Ünïcode.txt'
head -c 70000 /dev/zero | tr '\0' 'z' > big.txt
find . -exec touch -h -d '2024-06-02 00:00:00' {} +
touch -d '2040-01-01 12:00:00' after-2038.txt
touch -d '1980-01-01 00:00:00' owned/file

cd "$here"
xorriso -as mkisofs -quiet -R -J -V XORRISO_RR -o "$here/rr-xorriso.iso" "$tree"
# genisoimage 1.1.11 writes a broken SL continuation for targets this long (xorriso
# and isoinfo read the target cut short, pycdlib refuses the image): leave it out.
genisoimage -quiet -R -J -m long-link -V GENISO_RR -o "$here/rr-genisoimage.iso" "$tree" 2>/dev/null
# Joliet without Rock Ridge, and a plain level 1 image (8.3 names, no extensions).
plain=$work/plain
mkdir -p "$plain/DIR/SUB"
printf 'readme\n' > "$plain/README.TXT"
printf 'noext\n' > "$plain/NOEXT"
printf 'sub\n' > "$plain/DIR/SUB/FILE.DAT"
printf 'joliet\n' > "$plain/DIR/a longer Joliet name.txt"
find "$plain" -exec touch -h -d '2024-06-02 00:00:00' {} +
genisoimage -quiet -J -V JOLIET_ONLY -o "$here/joliet-only.iso" "$plain" 2>/dev/null
rm "$plain/DIR/a longer Joliet name.txt"
touch -d "2024-06-02 00:00:00" "$plain/DIR"
genisoimage -quiet -iso-level 1 -V LEVEL1 -o "$here/level1.iso" "$plain" 2>/dev/null
# El Torito: a no-emulation boot image (a stand-in; its bytes are not executed).
boot=$work/boot
mkdir -p "$boot/boot"
head -c 4096 /dev/zero | tr '\0' '\220' > "$boot/boot/loader.bin"
printf 'menu\n' > "$boot/boot/menu.cfg"
find "$boot" -exec touch -h -d '2024-06-02 00:00:00' {} +
xorriso -as mkisofs -quiet -R -V ELTORITO -b boot/loader.bin -no-emul-boot -boot-load-size 4 \
    -boot-info-table -o "$here/eltorito.iso" "$boot"
ls -l "$here"/*.iso
