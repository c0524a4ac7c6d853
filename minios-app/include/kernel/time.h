/* SPDX-License-Identifier: MIT */
/* Xen system time (ns since the host booted), from shared_info. */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <stdint.h>

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC  1000000000ull

uint64_t monotonic_clock(void);
/* Busy-wait-free sleep: blocks in Xen (SCHEDOP_poll with no ports). */
void sleep_ns(uint64_t ns);

/* Pure conversion used by monotonic_clock(), exposed for tests:
 * ns = system_time + ((tsc - tsc_timestamp) scaled by shift, mul). */
uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift);

#endif
