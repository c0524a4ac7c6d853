/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the PVH build (an HVM container, no PV MMU).  Xen's
 * builder loads the image at its physical addresses and enters at the
 * XEN_ELFNOTE_PHYS32_ENTRY address:
 *   32-bit protected mode, paging off, flat 4 GiB %cs/%ds/%es/%ss,
 *   interrupts off, %ebx = physical address of struct hvm_start_info,
 *   no stack.
 * We build identity page tables, switch to long mode and call
 * pvh_start(start_info) in 64-bit C at CPL0.
 *
 * Identity map (virtual == guest-physical, as in the PV build):
 *   0 .. 2 MiB     4 KiB pages, page 0 left out (NULL faults)
 *   2 MiB .. 1 GiB 2 MiB pages (RAM, then the grant/shared_info window)
 *   1 GiB .. 3 GiB not mapped (a wild pointer faults)
 *   3 GiB .. 4 GiB 2 MiB pages (Xen's special pages: console, XenStore)
 */
#include <arch/elfnote.h>
#include <arch/segment.h>

ELFNOTES_IVCOM_GUEST
/* The PHYS32_ENTRY note alone makes the loader treat us as PVH. */
ELFNOTE(XEN_ELFNOTE_PHYS32_ENTRY,   .long,  _start)

#define PT_P        0x001
#define PT_RW       0x002
#define PT_PS       0x080
#define PT_TABLE    (PT_P | PT_RW)
#define PT_LARGE    (PT_P | PT_RW | PT_PS)

#define MSR_EFER    0xc0000080
#define EFER_LME    0x100
#define CR0_PE      0x00000001
#define CR0_WP      0x00010000
#define CR0_PG      0x80000000
#define CR4_PAE     0x20

    .section .text.head, "ax", @progbits
    .code32
    .globl _start
_start:
    cld
    /* Our own GDT: a 64-bit code segment and a flat data segment. */
    lgdt    gdt_desc
    mov     $PVH_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss

    /* The tables live in .bss, which the loader zeroed. */
    movl    $(pt_l3 + PT_TABLE), pt_l4
    movl    $(pt_l2_low + PT_TABLE), pt_l3
    movl    $(pt_l2_high + PT_TABLE), pt_l3 + 3 * 8
    movl    $(pt_l1_low + PT_TABLE), pt_l2_low

    /* l1: pages 1..511 of the first 2 MiB (entry 0 stays empty). */
    mov     $1, %ecx
1:  mov     %ecx, %eax
    shl     $12, %eax
    or      $PT_TABLE, %eax
    mov     %eax, pt_l1_low(, %ecx, 8)
    inc     %ecx
    cmp     $512, %ecx
    jb      1b

    /* l2 low: 2 MiB pages 1..511 (2 MiB .. 1 GiB). */
    mov     $1, %ecx
1:  mov     %ecx, %eax
    shl     $21, %eax
    or      $PT_LARGE, %eax
    mov     %eax, pt_l2_low(, %ecx, 8)
    inc     %ecx
    cmp     $512, %ecx
    jb      1b

    /* l2 high: 3 GiB .. 4 GiB in 2 MiB pages. */
    xor     %ecx, %ecx
1:  mov     %ecx, %eax
    shl     $21, %eax
    or      $(0xc0000000 | PT_LARGE), %eax
    mov     %eax, pt_l2_high(, %ecx, 8)
    inc     %ecx
    cmp     $512, %ecx
    jb      1b

    /* PAE, the tables, EFER.LME, then paging: long mode (compat). */
    mov     %cr4, %eax
    or      $CR4_PAE, %eax
    mov     %eax, %cr4
    mov     $pt_l4, %eax
    mov     %eax, %cr3
    mov     $MSR_EFER, %ecx
    rdmsr
    or      $EFER_LME, %eax
    wrmsr
    mov     %cr0, %eax
    or      $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov     %eax, %cr0

    ljmp    $PVH_CS, $start64

    .code64
start64:
    mov     $PVH_DS, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    xor     %eax, %eax
    mov     %eax, %fs
    mov     %eax, %gs
    mov     $boot_stack_top, %esp
    /* pvh_start(hvm_start_info): the physical address is the virtual. */
    mov     %ebx, %edi
    call    pvh_start
    lea     pvh_returned(%rip), %rdi
    call    panic
1:  ud2
    jmp     1b

    .section .rodata.head, "a", @progbits
pvh_returned:
    .asciz  "pvh_start returned"

    .p2align 3
gdt:
    .quad   0                       /* null */
    .quad   0x00af9a000000ffff      /* PVH_CS: 64-bit code, DPL0 */
    .quad   0x00cf92000000ffff      /* PVH_DS: flat data */
gdt_end:
    .globl gdt_desc
gdt_desc:
    .word   gdt_end - gdt - 1
    .quad   gdt                     /* 32-bit lgdt reads the low half */

    /* Poisoned with 'ret' like the PV build's; Xen fills it once we
     * write its address to the MSR that CPUID names (pvh_start). */
    .section .text.page_aligned, "ax", @progbits
    .p2align 12
    .globl hypercall_page
hypercall_page:
    .fill   4096, 1, 0xc3

    .section .bss.page_aligned, "aw", @nobits
    .p2align 12
    .globl pt_l4
pt_l4:      .skip 4096
pt_l3:      .skip 4096
pt_l2_low:  .skip 4096
pt_l2_high: .skip 4096
pt_l1_low:  .skip 4096

    .section .bss.stack, "aw", @nobits
    .p2align 12
boot_stack:
    .skip   16384
    .globl boot_stack_top
boot_stack_top:
