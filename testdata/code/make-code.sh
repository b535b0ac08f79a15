#!/usr/bin/env bash
# Builds the tiny executables of the disassembly tests (tests/it/disasm.rs) from
# their sources beside this script: hello-x86_64.elf and hello-aarch64.elf,
# each a few hundred bytes (no separate code segment, no build id), symbols kept.
# Needs: binutils and binutils-aarch64-linux-gnu (apt-get install binutils
# binutils-aarch64-linux-gnu). The outputs are committed; run this only to
# change them.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
as --64 -o "$work/x86_64.o" hello-x86_64.S
ld -m elf_x86_64 -z noseparate-code --build-id=none -n -o hello-x86_64.elf "$work/x86_64.o"
aarch64-linux-gnu-as -o "$work/aarch64.o" hello-aarch64.S
aarch64-linux-gnu-ld -z noseparate-code --build-id=none -n -o hello-aarch64.elf "$work/aarch64.o"
ls -l hello-x86_64.elf hello-aarch64.elf
