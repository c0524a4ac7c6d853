/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the tiny PV guest.  Xen's domain builder enters here in
 * 64-bit long mode, at CPL3, with paging on (the bootstrap page tables map
 * the image, start_info, the p2m list and some padding 1:1 from VIRT_BASE),
 * %rsi = virtual address of start_info and %rsp = a bootstrap stack.
 */
#include <arch/elfnote.h>

/* The loader checks these: only "generic" images for "xen-3.0" load. */
ELFNOTES_IVCOM_GUEST
ELFNOTE(XEN_ELFNOTE_LOADER,         .asciz, "generic")
/* Linked at 0 so the bootstrap region (which starts at VIRT_BASE) holds
 * no wasted pages and pseudo-physical == virtual. */
ELFNOTE(XEN_ELFNOTE_VIRT_BASE,      .quad, 0)
ELFNOTE(XEN_ELFNOTE_PADDR_OFFSET,   .quad, 0)
ELFNOTE(XEN_ELFNOTE_ENTRY,          .quad, _start)
/* Xen writes the hypercall stubs into this page while building us. */
ELFNOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad, hypercall_page)

    .section .text.head, "ax", @progbits
    .code64
    .globl _start
_start:
    /* The SysV ABI lets C assume DF=0; Xen does not promise it. */
    cld
    /* Our own stack in .bss: the bootstrap stack lies in pages the
     * allocator hands out once the kernel is up. */
    lea     boot_stack_top(%rip), %rsp
    /* kmain(start_info): the only argument, in the first ABI register. */
    mov     %rsi, %rdi
    call    kmain
    /* kmain never returns; if it does, say so instead of running off. */
    lea     kmain_returned(%rip), %rdi
    call    panic
1:  ud2             /* panic is noreturn; a fault here ends the domain */
    jmp     1b

    .section .rodata.head, "a", @progbits
kmain_returned:
    .asciz  "kmain returned"

    /* Poisoned with 'ret' (0xc3): a stub Xen never filled returns at once
     * without trapping, and kmain checks the first byte to detect that. */
    .section .text.page_aligned, "ax", @progbits
    .p2align 12
    .globl hypercall_page
hypercall_page:
    .fill   4096, 1, 0xc3

    .section .bss.stack, "aw", @nobits
    .p2align 12
boot_stack:
    .skip   16384
    .globl boot_stack_top
boot_stack_top:
