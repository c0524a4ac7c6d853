/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

uint64_t ivcom_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *ivcom_default_platform(void)
{
    const char *env = getenv("IVCOM_PLATFORM");

    if (env && *env)
        return env;
    if (access("/dev/xen/evtchn", R_OK | W_OK) == 0)
        return "xen-linux";
    return "sim";
}

void ivcom_os_yield(void)
{
    sched_yield();
}

uint32_t ivcom_os_pid(void)
{
    return (uint32_t)getpid();
}

int ivcom_os_pid_alive(uint32_t pid)
{
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

uint64_t ivcom_os_nonce(void)
{
    uint64_t v;

    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
        return v;
    /* No entropy yet (early boot): time and pid still tell offers apart. */
    return ivcom_now_ns() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() << 32;
}
