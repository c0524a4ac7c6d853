/* SPDX-License-Identifier: MIT */
/* Xen ELF notes from assembly (head.S, head_pvh.S): XEN_ELFNOTE_* come
 * from <xen/elfnote.h>. */
#ifndef ARCH_ELFNOTE_H
#define ARCH_ELFNOTE_H

#include <xen/elfnote.h>

/* One Xen ELF note: name "Xen", 4-byte aligned as the ELF spec wants. */
#define ELFNOTE(type, desc_type, desc)                    \
    .pushsection .note.Xen, "a", @note;                   \
    .p2align 2;                                           \
    .long 2f - 1f; .long 4f - 3f; .long type;             \
1:  .asciz "Xen"; 2: .p2align 2;                          \
3:  desc_type desc; 4: .p2align 2;                        \
    .popsection

/* Both builds: the loader checks these. */
#define ELFNOTES_IVCOM_GUEST                                  \
    ELFNOTE(XEN_ELFNOTE_GUEST_OS,       .asciz, "ivcom-guest"); \
    ELFNOTE(XEN_ELFNOTE_GUEST_VERSION,  .asciz, "1");           \
    ELFNOTE(XEN_ELFNOTE_XEN_VERSION,    .asciz, "xen-3.0")

#endif
