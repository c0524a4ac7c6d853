/* SPDX-License-Identifier: MIT */
/* Xen system time from vcpu 0's vcpu_time_info. */
#include <arch/cpu.h>
#include <stddef.h>
#include <xen/sched.h>
#include <arch/hypercall.h>
#include <kernel/hypervisor.h>
#include <kernel/time.h>

uint64_t monotonic_clock(void)
{
    const volatile struct vcpu_time_info *t = &shared_info->vcpu_info[0].time;
    uint32_t version;
    uint64_t sys, ts, now;
    uint32_t mul;
    int8_t shift;

    do {
        version = t->version;
        /* R1: version before the fields; pairs with Xen's update, which
         * makes version odd, writes the fields, then makes it even. */
        rmb();
        sys = t->system_time;
        ts = t->tsc_timestamp;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        now = rdtsc();
        /* R2: the fields before re-reading version. */
        rmb();
    } while ( (version & 1) || version != t->version );

    /* A TSC behind the stamp (another pCPU) counts as no time passed. */
    return sys + ((int64_t)(now - ts) > 0 ? pvclock_scale(now - ts, mul, shift)
                                          : 0);
}

void sleep_ns(uint64_t ns)
{
    uint64_t deadline = monotonic_clock() + ns;

    while ( monotonic_clock() < deadline )
    {
        /* No ports: only the timeout wakes us.  SCHEDOP_block would
         * re-enable upcalls, which this kernel keeps masked. */
        struct sched_poll poll = { .nr_ports = 0, .timeout = deadline };

        set_xen_guest_handle(poll.ports, NULL);
        if ( hypercall_sched_op(SCHEDOP_poll, &poll) < 0 )
            break;
    }
}
