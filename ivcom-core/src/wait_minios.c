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

/* The TSC and Xen system time, mixed (splitmix64's finaliser) with a
 * counter: offers of one boot never repeat, and a re-created domain
 * starts from another TSC. */
uint32_t ivcom_os_pid(void)
{
    return 0;           /* one program, no processes: nothing to sweep */
}

int ivcom_os_pid_alive(uint32_t pid)
{
    (void)pid;
    return 1;
}

uint64_t ivcom_os_nonce(void)
{
    static uint64_t count;
    uint32_t lo, hi;
    uint64_t z;

    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    z = ((uint64_t)hi << 32 | lo) ^ monotonic_clock() << 17 ^ ++count * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
