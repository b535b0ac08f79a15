# A tiny x86-64 program with two sized functions, for the disassembly tests
# (tests/disasm.rs patch one instruction of `helper`). Built by make-code.sh.
        .text
        .globl  _start
        .type   _start, @function
_start:
        push    %rbp
        mov     %rsp, %rbp
        mov     $1, %eax
        call    helper
        pop     %rbp
        mov     $60, %eax
        xor     %edi, %edi
        syscall
        .size   _start, . - _start

        .globl  helper
        .type   helper, @function
helper:
        lea     0x10(%rax), %rcx
        imul    $3, %rcx, %rdx
        add     %rdx, %rax
        shl     $2, %rax
        and     $0xff, %eax
        ret
        .size   helper, . - helper
