/* SPDX-License-Identifier: MIT */
/* Shutdown, panic, yield. */
#ifndef KERNEL_SCHED_H
#define KERNEL_SCHED_H

#include <xen/sched.h>

/* Flush the console and ask Xen to end the domain with `reason`
 * (SHUTDOWN_poweroff, _reboot, _crash). */
void shutdown(unsigned int reason) __attribute__((noreturn));

/* Print "panic: ..." plus the FAILURE result line, then crash. */
void panic(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

void sched_yield(void);

#endif
