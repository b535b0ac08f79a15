#!/bin/sh
# Builds a Debian live-style pair the way a distribution builds its image twice:
# each side runs debootstrap (minbase), packs the tree with mksquashfs and wraps it
# with grub-mkrescue (hybrid ISO: MBR, GPT, EFI FAT image). Nothing is clamped, so
# the pair shows what an unreproducible build leaks: the build clock in file times,
# random GPT GUIDs and FAT serial, image dates, package manager logs, ldconfig's
# aux-cache. Needs root, network (a Debian mirror), debootstrap, squashfs-tools,
# grub-common, grub-efi-amd64-bin or grub-pc-bin, xorriso, mtools.
#
# usage: make-live-pair.sh OUT [SUITE] [MIRROR]
# writes OUT/a.iso and OUT/b.iso (about 150 MB each); takes a few minutes.
set -eu
out=$1
suite=${2:-bookworm}
mirror=${3:-http://deb.debian.org/debian}
mkdir -p "$out"
for side in a b; do
    work="$out/work-$side"
    rm -rf "$work"
    mkdir -p "$work/iso/live"
    debootstrap --variant=minbase "$suite" "$work/root" "$mirror" >"$out/debootstrap-$side.log"
    mksquashfs "$work/root" "$work/iso/live/filesystem.squashfs" -comp xz -noappend -no-progress \
        -e proc sys dev run
    mkdir -p "$work/iso/boot/grub"
    printf 'menuentry live {\n  linux /live/vmlinuz boot=live\n}\n' >"$work/iso/boot/grub/grub.cfg"
    grub-mkrescue -o "$out/$side.iso" "$work/iso" 2>"$out/grub-$side.log"
    rm -rf "$work"
done
ls -l "$out/a.iso" "$out/b.iso"
