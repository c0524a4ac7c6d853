/* SPDX-License-Identifier: MIT */
/* Shutdown and panic. */
#include <stdarg.h>
#include <stdio.h>
#include <arch/cpu.h>
#include <arch/hypercall.h>
#include <kernel/console.h>
#include <kernel/report.h>
#include <kernel/sched.h>

void shutdown(unsigned int reason)
{
    struct sched_shutdown sd = { .reason = reason };

    console_flush();
    hypercall_sched_op(SCHEDOP_shutdown, &sd);
    halt_forever();
}

void panic(const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printk("panic: %s\n", msg);
    report_failure("panic: %s", msg);
    shutdown(SHUTDOWN_crash);
}

void sched_yield(void)
{
    hypercall_sched_op(SCHEDOP_yield, NULL);
}
