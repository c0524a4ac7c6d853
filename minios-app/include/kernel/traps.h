/* SPDX-License-Identifier: MIT */
/* Exceptions: all fatal, all reported (see arch/x86_64/entry.S). */
#ifndef KERNEL_TRAPS_H
#define KERNEL_TRAPS_H

int traps_init(void);
const char *trap_name(unsigned int vec);
void do_fatal_trap(unsigned int vec, const unsigned long *frame, int has_err)
    __attribute__((noreturn));

#endif
