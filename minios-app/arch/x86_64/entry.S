/* SPDX-License-Identifier: MIT */
/*
 * Exception entry.  Every exception here is fatal: the stub hands the
 * vector and the frame to do_fatal_trap(), which prints it, reports
 * FAILURE and crashes the domain.  Without these a fault would end the
 * domain silently, with no result line for the runner.
 */

/*
 * Xen delivers a 64-bit PV exception on the current stack (we never leave
 * kernel mode), with %rcx and %r11 pushed above the hardware-style frame:
 *   rcx, r11, [error code], rip, cs, rflags, rsp, ss
 * The PVH build takes exceptions from the CPU at CPL0, without the two
 * extra words: do_fatal_trap() gets a frame pointer 16 bytes lower so it
 * finds error code and rip at the same indices in both builds.
 */
.macro EXC vec, has_err
    .globl exc_\vec
exc_\vec:
#ifdef CONFIG_PVH
    lea     -16(%rsp), %rsi     /* the frame, for do_fatal_trap() */
#else
    mov     %rsp, %rsi          /* the frame, for do_fatal_trap() */
#endif
    mov     $\vec, %edi
    mov     $\has_err, %edx
    and     $-16, %rsp          /* the ABI's call alignment; we never return */
    call    do_fatal_trap
1:  ud2                         /* unreachable: do_fatal_trap is noreturn */
    jmp     1b
.endm

    .text
EXC 0,  0   /* divide error */
EXC 3,  0   /* breakpoint */
EXC 4,  0   /* overflow */
EXC 5,  0   /* bound range */
EXC 6,  0   /* invalid opcode */
EXC 7,  0   /* device not available: we never touch the FPU */
EXC 10, 1   /* invalid TSS */
EXC 11, 1   /* segment not present */
EXC 12, 1   /* stack fault */
EXC 13, 1   /* general protection */
EXC 14, 1   /* page fault */
EXC 16, 0   /* x87 error */
EXC 17, 1   /* alignment check */
EXC 19, 0   /* SIMD error */
