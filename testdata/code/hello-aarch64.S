// A tiny aarch64 program with two sized functions, for the disassembly tests
// (tests/disasm.rs patch one instruction of `helper`). Built by make-code.sh.
        .text
        .globl  _start
        .type   _start, %function
_start:
        mov     x0, #1
        bl      helper
        mov     x8, #93
        svc     #0
        .size   _start, . - _start

        .globl  helper
        .type   helper, %function
helper:
        add     x1, x0, #16
        mov     x2, #3
        mul     x2, x1, x2
        add     x0, x0, x2
        lsl     x0, x0, #2
        ret
        .size   helper, . - helper
