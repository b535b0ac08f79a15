#!/usr/bin/env python3
"""Writes a synthetic tree shaped like a NixOS installer's /nix/store, the same on
every machine for a given seed and size, for benchmarks that need a bigger pair than
the machine's own files give (benches/compare-tools.sh takes it as SOURCES).

usage: make-tree.py OUT [MEGABYTES] [SEED]
       (defaults: 6800 MB of file bytes, seed 1; about 46 entries per MB)

The tree: store paths `<32 chars>-<name>-<version>`, each a package with bin/,
lib/, share/ (doc, man pages, locale), include/ and the odd symlink, as nixpkgs
lays them out. File sizes are log-normal (median about 3 KB, as in a real store)
plus a few large files (a kernel, firmware, a browser's libxul: 20 to 64 MB).
Content, by file: text from a vocabulary (compresses about 4x with zstd),
machine-code-like bytes (runs drawn from a few thousand weighted "instructions",
random constants, zero padding: about 2x), already compressed data (.gz, .png:
random, 1x). The default 6800 MB packs into a squashfs of about 3.3 GB with zstd
level 3 and 1 MiB blocks, with about 335,000 entries, as a NixOS installer's
store (the pair issue 17 measures: 3.2 GB, 326,000 entries). Every time is 1 and
every mode 0444, 0555 or 0755 (directories), as in the store. Writing takes about
a minute; the files are written once, so write them where compare-tools.sh's
squashfs images go, or on a tmpfs.
"""

import os
import random
import sys

WORDS = (
    "the of and to in is for on that with as by this be are from or it an at not "
    "which can if will file system package build nix store path version library "
    "function return value error type struct const static void int char unsigned "
    "include define ifdef endif license copyright free software foundation gnu "
    "general public warranty merchantability fitness particular purpose see more "
    "details should have received copy along program write boston usa option "
    "default config install prefix share lib bin doc man locale translation message "
    "string buffer size length offset count index table entry block data read "
    "write open close seek stat mode owner group time link target directory"
).split()


def text_pool(rng, size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14)))
        out.append(line)
        n += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def code_pool(rng, size):
    """Machine-code-like bytes: a few thousand short "instructions" of 2 to 8
    bytes, some far more frequent than others, as opcodes and registers are."""
    units = [rng.randbytes(rng.randint(2, 8)) for _ in range(4096)]
    weights = [1.0 / (i + 1) for i in range(len(units))]
    return b"".join(rng.choices(units, weights=weights, k=size // 5))


def lognormal_size(rng):
    return max(0, min(int(rng.lognormvariate(8.9, 1.7)), 8 << 20))


class Writer:
    def __init__(self, rng, pool, code):
        self.rng = rng
        self.pool = pool
        self.code = code
        self.files = 0
        self.bytes = 0
        self.entries = 0

    def content(self, kind, size):
        rng = self.rng
        if kind == "text":
            out = bytearray()
            while len(out) < size:
                start = rng.randrange(0, len(self.pool) - 4096)
                take = min(size - len(out), rng.randint(512, 4096))
                out += self.pool[start:start + take]
                # A number here and there, as in real text, so files differ.
                out += b"%d " % rng.getrandbits(20)
            return bytes(out[:size])
        if kind == "code":
            # Runs of instructions, addresses and constants (random), and zeros
            # (padding, tables): compresses about as an ELF file does.
            out = bytearray(b"\x7fELF")
            while len(out) < size:
                start = rng.randrange(0, len(self.code) - 4096)
                out += self.code[start:start + rng.randint(256, 4096)]
                out += rng.randbytes(rng.randint(8, 96))
                if rng.random() < 0.1:
                    out += bytes(rng.randint(16, 512))
            return bytes(out[:size])
        return rng.randbytes(size)

    def file(self, path, kind, size, mode):
        with open(path, "wb") as f:
            f.write(self.content(kind, size))
        os.chmod(path, mode)
        self.files += 1
        self.bytes += size
        self.entries += 1

    def mkdir(self, path):
        os.mkdir(path)
        self.entries += 1


def store_name(rng, i):
    alphabet = "0123456789abcdfghijklmnpqrsvwxyz"  # nix's base32
    digest = "".join(rng.choice(alphabet) for _ in range(32))
    name = "-".join(rng.choice(WORDS) for _ in range(rng.randint(1, 2)))
    return f"{digest}-{name}-{i % 17}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"


def package(w, root, rng, budget):
    """One store path with files until about `budget` bytes are written."""
    w.mkdir(root)
    dirs = []
    for sub in ("bin", "lib", "share/doc", "share/man/man1", "share/locale/de/LC_MESSAGES", "include"):
        if rng.random() < 0.6:
            parts = sub.split("/")
            for depth in range(1, len(parts) + 1):
                d = os.path.join(root, *parts[:depth])
                if not os.path.isdir(d):
                    w.mkdir(d)
            dirs.append(sub)
    if not dirs:
        w.mkdir(os.path.join(root, "lib"))
        dirs.append("lib")
    written = 0
    n = 0
    while written < budget:
        sub = rng.choice(dirs)
        size = lognormal_size(rng)
        if sub == "bin":
            kind, mode, name = "code", 0o555, f"{rng.choice(WORDS)}-{n}"
        elif sub == "lib":
            kind = rng.choice(("code", "text"))
            mode = 0o555 if kind == "code" else 0o444
            name = f"lib{rng.choice(WORDS)}{n}.so" if kind == "code" else f"{rng.choice(WORDS)}{n}.la"
        elif sub.startswith("share/man"):
            kind, mode, name = "compressed", 0o444, f"{rng.choice(WORDS)}{n}.1.gz"
        elif sub.startswith("share/locale"):
            kind, mode, name = "code", 0o444, f"{rng.choice(WORDS)}{n}.mo"
        else:
            kind = rng.choice(("text", "text", "text", "compressed"))
            mode = 0o444
            name = f"{rng.choice(WORDS)}{n}" + (".txt" if kind == "text" else ".png")
        w.file(os.path.join(root, sub, name), kind, size, mode)
        written += size
        n += 1
    if rng.random() < 0.3 and "lib" in dirs:
        os.symlink(f"lib{rng.choice(WORDS)}.so.{rng.randint(1, 9)}", os.path.join(root, "lib", f"link{n}.so"))
        w.entries += 1
    return written


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    total = int(sys.argv[2] if len(sys.argv) > 2 else 6800) << 20
    seed = int(sys.argv[3] if len(sys.argv) > 3 else 1)
    rng = random.Random(seed)
    w = Writer(rng, text_pool(rng, 1 << 20), code_pool(rng, 4 << 20))
    os.makedirs(out)
    # One large file per 230 MB (20 in the default tree) holds a fifth of the bytes.
    large = total // (230 << 20)
    i = 0
    for _ in range(large):
        root = os.path.join(out, store_name(rng, i))
        w.mkdir(root)
        w.mkdir(os.path.join(root, "lib"))
        kind = ("code", "text")[i % 2]
        w.file(os.path.join(root, "lib", f"lib{rng.choice(WORDS)}.so"), kind, rng.randint(20 << 20, 64 << 20), 0o555)
        i += 1
    while w.bytes < total:
        budget = min(int(rng.lognormvariate(11.0, 1.6)), 40 << 20)
        package(w, os.path.join(out, store_name(rng, i)), rng, budget)
        i += 1
    # Times last: every entry at 1, as the store has them.
    for dirpath, dirnames, filenames in os.walk(out):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (1, 1), follow_symlinks=False)
    os.utime(out, (1, 1))
    print(f"{out}: {w.entries} entries, {w.files} files, {w.bytes >> 20} MB, {i} store paths", file=sys.stderr)


if __name__ == "__main__":
    main()
