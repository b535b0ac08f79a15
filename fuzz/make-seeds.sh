#!/usr/bin/env bash
# Regenerates the seed corpora fuzz/corpus/<target>/ from the committed fixtures
# (testdata/*.iso, without their end padding) and from small images made here with
# xorriso and genisoimage (-no-pad, a tiny tree: a few files, symlinks, a fifo, a
# device, a directory 9 deep, a name that needs a CE area; all under 100 KB), one
# hand-made multi-extent image and, for open_any, small squashfs, FAT and cpio
# images.
# Needs: xorriso, genisoimage, python3; optionally mksquashfs, setfattr,
# mkfs.vfat + mtools, cpio. Run as root (mknod).
# The seeds are committed; the fuzz targets and tests/it/replay.rs only read them.
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
testdata=$fuzz/../testdata
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TZ=UTC SOURCE_DATE_EPOCH=1717286400 # 2024-06-02T00:00:00Z
seeds=$work/seeds
mkdir -p "$seeds"

tree=$work/tree
mkdir -p "$tree/d/e/f/g/h/i/j/k/l"
(
    cd "$tree"
    printf 'hi\n' >a.txt
    printf 'x' >b && chmod 4755 b
    printf 'deep\n' >d/e/f/g/h/i/j/k/l/z
    ln -s a.txt link
    ln -s /usr/lib/../lib/x.so abs-link
    printf 'n\n' >"$(printf 'long-name-%.0s' $(seq 1 21))"
    mkfifo fifo
    mknod null c 1 3
)
# A shallower tree, so that the Rock Ridge + Joliet image from genisoimage stays small.
flat=$work/flat
mkdir -p "$flat/d/e"
cp -a "$tree"/a.txt "$tree"/b "$tree"/link "$tree"/abs-link "$tree"/fifo "$tree"/null "$flat"/
printf 'z\n' >"$flat/d/e/z"
boot=$work/boot
mkdir -p "$boot/boot"
head -c 2048 /dev/zero | tr '\0' '\220' >"$boot/boot/l.bin"
for t in "$tree" "$flat" "$boot"; do
    find "$t" -exec touch -h -d '2024-06-02 00:00:00' {} +
done

x() { xorriso -as mkisofs -quiet -no-pad "$@" 2>/dev/null; }
g() { genisoimage -quiet -no-pad "$@" 2>/dev/null; }
x -R -J -V TINY_X -o "$seeds/xorriso-rr-joliet.iso" "$tree"
x -R -V TINY_XR -o "$seeds/xorriso-rr.iso" "$tree"
x -R -b boot/l.bin -no-emul-boot -boot-load-size 4 -boot-info-table \
    -o "$seeds/xorriso-eltorito.iso" "$boot"
g -R -J -V TINY_G -o "$seeds/genisoimage-rr-joliet.iso" "$flat"
g -r -o "$seeds/genisoimage-rr-relocated.iso" "$tree"
g -iso-level 1 -o "$seeds/genisoimage-level1.iso" "$tree"
g -J -o "$seeds/genisoimage-joliet.iso" "$tree"
g -R -b boot/l.bin -no-emul-boot -boot-load-size 4 -o "$seeds/genisoimage-eltorito.iso" "$boot"
# NetBSD makefs, when installed: every TF one byte short, deep directories
# relocated without RE (read leniently, with warnings). Its end padding goes
# with the fixtures' below.
if command -v makefs >/dev/null; then
    makefs -t cd9660 -o rockridge -T "$SOURCE_DATE_EPOCH" "$work/makefs.iso" "$tree" >/dev/null
fi
# zisofs2 (xorriso's -zisofs version_2=on, marked by Z2): header, 64-bit block
# pointers, zlib blocks and an all-zero block.
mkdir -p "$work/z2"
{ head -c 40000 /dev/zero | tr '\0' 'z'; head -c 140000 /dev/zero; } >"$work/z2/z.txt"
touch -d '2024-06-02 00:00:00' "$work/z2/z.txt" "$work/z2"
xorriso -no_rc -outdev "$work/zisofs2.iso" -zisofs version_2=on:susp_z2=on \
    -map "$work/z2" / -set_filter_r --zisofs / -- -padding 0 -commit >/dev/null 2>&1

# Multi-extent: no writer splits a file this small, so split one by hand. The file
# M.BIN (5000 bytes) of a level-3 image becomes two records, 4096 + 904 bytes.
mkdir -p "$work/multi"
head -c 5000 /dev/zero | tr '\0' 'm' >"$work/multi/m.bin"
touch -d '2024-06-02 00:00:00' "$work/multi/m.bin" "$work/multi"
x -iso-level 3 -V MULTI -o "$seeds/multi-extent.iso" "$work/multi"
python3 - "$seeds/multi-extent.iso" <<'EOF'
import struct, sys
path = sys.argv[1]
d = bytearray(open(path, "rb").read())
pvd = 16 * 2048
root = struct.unpack_from("<I", d, pvd + 156 + 2)[0] * 2048
pos = root
while d[pos]:
    length, name_len = d[pos], d[pos + 32]
    if d[pos + 33 : pos + 33 + name_len].startswith(b"M.BIN"):
        break
    pos += length
else:
    sys.exit("M.BIN not found")
rec = bytearray(d[pos : pos + length])
extent, size = struct.unpack_from("<I", rec, 2)[0], struct.unpack_from("<I", rec, 10)[0]
assert size == 5000, size
first, second = bytearray(rec), bytearray(rec)
for r, ext, n in ((first, extent, 4096), (second, extent + 2, size - 4096)):
    struct.pack_into("<I", r, 2, ext)
    struct.pack_into(">I", r, 6, ext)
    struct.pack_into("<I", r, 10, n)
    struct.pack_into(">I", r, 14, n)
first[25] |= 0x80
rest = bytes(d[pos + length : root + 2048]).rstrip(b"\0")
block = bytes(d[root:pos]) + bytes(first) + bytes(second) + rest
assert len(block) <= 2048
d[root : root + 2048] = block.ljust(2048, b"\0")
open(path, "wb").write(d)
EOF

# The fixtures without the zero sectors at their end (xorriso pads 300 KiB): the
# fuzzer's time per input grows with the input's size (libFuzzer copies and hashes
# every input, and never makes one larger than its largest seed), and the padding
# holds nothing to parse.
# The volume space size of each primary and supplementary descriptor shrinks with
# it, so the seed stays a sound image.
strip_padding() {
    python3 -c '
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
n = -(-len(d.rstrip(b"\0")) // 2048) * 2048
del d[n:]
for s in range(16, n // 2048):
    kind = d[s * 2048]
    if kind == 255:
        break
    if kind in (1, 2) and d[s * 2048 + 1 : s * 2048 + 6] == b"CD001":
        struct.pack_into("<I", d, s * 2048 + 80, n // 2048)
        struct.pack_into(">I", d, s * 2048 + 84, n // 2048)
open(sys.argv[2], "wb").write(d)' "$1" "$2"
}
strip_padding "$work/zisofs2.iso" "$seeds/xorriso-zisofs2.iso"
if [ -f "$work/makefs.iso" ]; then
    strip_padding "$work/makefs.iso" "$seeds/makefs-rr-relocated.iso"
fi
for target in iso9660 open_any; do
    dir=$fuzz/corpus/$target
    mkdir -p "$dir"
    for f in "$testdata"/*.iso; do
        # The nixos-like pair is 1 MiB of nested squashfs that the iso9660 target
        # reads only as file content; open_any opens it, so it stays there.
        case $target/$(basename "$f") in iso9660/nixos-like-*) continue ;; esac
        strip_padding "$f" "$dir/testdata-$(basename "$f")"
    done
    cp "$seeds"/*.iso "$dir"/
done

# open_any sniffs: squashfs images for its squashfs reader, one per compressor, with
# 4 KiB blocks so that small files still have several blocks and fragments; plus
# xattrs, hard links, a sparse file, devices and an ISO holding a squashfs.
if command -v mksquashfs >/dev/null; then
    sq=$work/sq
    mkdir -p "$sq/dir/sub"
    (
        cd "$sq"
        head -c 9000 /dev/zero | tr '\0' 'q' >blocks.txt
        printf 'tail\n' >dir/small
        ln dir/small dir/hardlink
        ln -s ../blocks.txt dir/sub/link
        truncate -s 20000 sparse
        printf 'end' >>sparse
        mkfifo fifo
        mknod null c 1 3
        setfattr -n user.comment -v hello blocks.txt 2>/dev/null || true
        setfattr -n security.selinux -v 'system_u:object_r:etc_t:s0' dir 2>/dev/null || true
    )
    find "$sq" -exec touch -h -d '2024-06-02 00:00:00' {} +
    for comp in gzip xz lzo lz4 zstd; do
        mksquashfs "$sq" "$fuzz/corpus/open_any/$comp-4k.squashfs" -quiet -noappend \
            -all-root -comp "$comp" -b 4096 >/dev/null
    done
    mksquashfs "$sq" "$fuzz/corpus/open_any/uncompressed.squashfs" -quiet -noappend \
        -noI -noD -noF -noX -no-fragments >/dev/null
    mksquashfs "$flat" "$fuzz/corpus/open_any/tiny.squashfs" -quiet -noappend -all-root >/dev/null
    # Whole images in a compressed stream, which open() unwraps. A 4 KiB
    # dictionary (the image is 4 KiB): with -9's 64 MiB, liblzma allocates and
    # frees 64 MiB per decoder, which under AddressSanitizer cost 25 ms a run
    # of this 444-byte seed and of every mutant keeping its header.
    xz --lzma2=preset=9,dict=4KiB -c "$fuzz/corpus/open_any/tiny.squashfs" \
        >"$fuzz/corpus/open_any/tiny.squashfs.xz"
    if command -v bzip2 >/dev/null; then
        bzip2 -9 -c "$fuzz/corpus/open_any/tiny.squashfs" >"$fuzz/corpus/open_any/tiny.squashfs.bz2"
    fi
    nest=$work/nest
    mkdir -p "$nest"
    cp "$fuzz/corpus/open_any/gzip-4k.squashfs" "$nest/root.squashfs"
    touch -d '2024-06-02 00:00:00' "$nest/root.squashfs" "$nest"
    x -R -V NESTED -o "$fuzz/corpus/open_any/iso-with-squashfs.iso" "$nest"
    # The squashfs target reads them too (it had no seeds of its own).
    mkdir -p "$fuzz/corpus/squashfs"
    cp "$fuzz"/corpus/open_any/*.squashfs "$fuzz/corpus/squashfs/"
    # Metadata stored uncompressed, whose inodes, listings and table entries
    # the squashfs target's structure-aware mutator can set in place
    # (harness::squashfs_fields; in compressed metadata it reaches only the
    # superblock, block headers and table indexes): the tree above with
    # fragments and 4 KiB blocks, and the largest generated image of each
    # mksquashfs variant (see write_fuzz_seeds) unpacked and packed again.
    mksquashfs "$sq" "$fuzz/corpus/squashfs/uncompressed-4k.squashfs" -quiet -noappend \
        -noI -noD -noF -noX -b 4096 -mkfs-time 0 >/dev/null
    for variant in gzip lz4-no-xattrs lzo-all-root xz-no-fragments zstd-4k; do
        # shellcheck disable=SC2012 # generated names: no spaces
        from=$(ls -S "$fuzz"/corpus/squashfs/gen-mksquashfs-"$variant"-* 2>/dev/null | head -n 1)
        [ -n "$from" ] && command -v unsquashfs >/dev/null || continue
        rm -rf "$work/unpacked"
        unsquashfs -q -d "$work/unpacked" "$from" >/dev/null
        case $variant in
            *no-xattrs) opts=-no-xattrs ;;
            *no-fragments) opts=-no-fragments ;;
            *all-root) opts=-all-root ;;
            *4k) opts="-b 4096" ;;
            *) opts= ;;
        esac
        # shellcheck disable=SC2086 # $opts is one or two words
        mksquashfs "$work/unpacked" "$fuzz/corpus/squashfs/uncompressed-$(basename "$from")" \
            -quiet -noappend -comp "${variant%%-*}" $opts -noI -noD -noF -noX -mkfs-time 0 >/dev/null
    done
fi
# Formats open() is about to sniff (efi.img's FAT, an initrd's cpio), so open_any
# has seeds for them the day they arrive.
if command -v mkfs.vfat >/dev/null && command -v mcopy >/dev/null; then
    fat=$work/efi.img
    mkfs.vfat -C -n EFIBOOT -i 12345678 "$fat" 128 >/dev/null
    mmd -i "$fat" ::/EFI ::/EFI/BOOT
    printf 'MZ stand-in\n' >"$work/BOOTX64.EFI"
    printf 'a long VFAT name\n' >"$work/A Long Vfat Name.txt"
    touch -d '2024-06-02 00:00:00' "$work/BOOTX64.EFI" "$work/A Long Vfat Name.txt"
    mcopy -m -i "$fat" "$work/BOOTX64.EFI" ::/EFI/BOOT/
    mcopy -m -i "$fat" "$work/A Long Vfat Name.txt" ::/
    cp "$fat" "$fuzz/corpus/open_any/efi.img"
fi
if command -v cpio >/dev/null; then
    (cd "$flat" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$work/main.cpio"
    cp "$work/main.cpio" "$fuzz/corpus/open_any/initrd.cpio"
    gzip -9n <"$work/main.cpio" >"$fuzz/corpus/open_any/initrd.cpio.gz"
    # Early microcode style: an uncompressed cpio, then a compressed one.
    cat "$work/main.cpio" "$fuzz/corpus/open_any/initrd.cpio.gz" >"$fuzz/corpus/open_any/initrd-early.cpio"
fi
# tar, as a package's data.tar holds it: pax and GNU headers, one opened as is
# (open_any) and a pair differing in one file (members, which opens nested tars
# as the diff does): the first four bytes say where b starts.
if command -v tar >/dev/null; then
    for f in posix gnu; do
        tar --format=$f -b 1 --sort=name --mtime=@1700000000 --owner=0 --group=0 \
            --numeric-owner -C "$flat" -cf "$fuzz/corpus/open_any/$f.tar" .
    done
    printf 'changed\n' >"$work/changed"
    tar --format=posix -b 1 --mtime=@1700000000 -C "$work" -cf "$work/b.tar" changed
    a=$fuzz/corpus/open_any/posix.tar
    python3 -c 'import sys,struct; a=open(sys.argv[1],"rb").read(); b=open(sys.argv[2],"rb").read(); sys.stdout.buffer.write(struct.pack("<I",len(a))+a+b)' \
        "$a" "$work/b.tar" >"$fuzz/corpus/members/tar-pair"
fi
# Two executables differing in one instruction (members, which disassembles
# the differing code): the tiny x86-64 and aarch64 programs of testdata/code,
# `add` made `sub` and `mov x2, #3` made `#5`.
python3 - "$fuzz/../testdata/code" "$fuzz/corpus/members" <<'PY'
import struct, sys
code, out = sys.argv[1], sys.argv[2]
for name, elf, at, byte in [("elf-x86-64-code", "hello-x86_64.elf", 0x99, 0x29),
                            ("elf-aarch64-code", "hello-aarch64.elf", 0x8c, 0xa2)]:
    a = open(f"{code}/{elf}", "rb").read()
    b = bytearray(a)
    b[at] = byte
    open(f"{out}/{name}", "wb").write(struct.pack("<I", len(a)) + a + bytes(b))
PY
ls -l "$fuzz"/corpus/*/
