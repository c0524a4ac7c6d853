/* SPDX-License-Identifier: MIT */
/*
 * OS glue for libivcom inside the tiny guest: the clock is Xen system
 * time (pvclock from shared_info), the platform is always "minios", and
 * yielding hands the physical CPU back to Xen's scheduler (the peer
 * domain may be waiting for it).
 */
#include <stdint.h>
#include <kernel/sched.h>
#include <kernel/time.h>

#include "internal.h"

uint64_t ivcom_now_ns(void)
{
    return monotonic_clock();
}

const char *ivcom_default_platform(void)
{
    return "minios";
}

void ivcom_os_yield(void)
{
    sched_yield();
}
