/* SPDX-License-Identifier: MIT */
/*
 * Console output.  A domU writes into its PV console ring (start_info's
 * console page + event channel; xenconsoled copies it to the log).  Dom0
 * has no ring and uses the console_io hypercall, which the release
 * hypervisor refuses from a domU.  Before console_init() output goes to
 * console_io (visible only with a debug hypervisor or as dom0).
 */
#ifndef KERNEL_CONSOLE_H
#define KERNEL_CONSOLE_H

#include <stdarg.h>
#include <stddef.h>

void console_init(void);
void console_write(const char *buf, size_t len);
/* Wait (bounded) until the console daemon consumed everything written. */
void console_flush(void);

int printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintk(const char *fmt, va_list ap);

#endif
