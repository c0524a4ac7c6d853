/* SPDX-License-Identifier: MIT */
/*
 * pingpong: round-trip latency over one IVCOM channel, measured with the
 * guest's clock (Xen system time).  Speaks ivcom-pingpong's protocol: one
 * message of size= bytes in flight, its first 8 bytes the sequence number
 * (warm-up rounds negative), echoed back unchanged.
 *
 *   [role=client] peer=N [count=1000] [size=64] [name=ivcom-test] ...
 *   role=server peer=N                 echo (as `ivcom-pingpong server`)
 *
 * SUCCESS line (client), key=value:
 *   pingpong: peer=domP size=S count=N samples=M clock_backsteps=K
 *   rtt_min_ns=.. rtt_p10_ns=.. rtt_median_ns=.. rtt_p90_ns=.. rtt_max_ns=..
 *   rtt_mean_ns=.. total_ns=.. notifies_sent=.. wakeups=.. spins=.. blocks=..
 * Xen system time is extrapolated from per-pCPU stamps: when the vCPU
 * moves between pCPUs mid round trip the clock can step back.  Such
 * rounds (clock_backsteps) are not samples; the rest are.  Where the TSC
 * is emulated (the TCG lab) the clock is coarse and single rounds may
 * read as a few ns: rtt_mean_ns is total_ns (first to last measured
 * round, one clock span) over count, which granularity does not skew.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/app.h>
#include <kernel/report.h>
#include <kernel/time.h>

#include "common/ivapp.h"

static int client(struct ivapp *a)
{
    unsigned long n = a->count, warm = n / 10 < 1000 ? n / 10 : 1000;
    size_t cap = a->size > 8 ? a->size : 8;
    struct ivcom_stats st;
    uint64_t *rtt, t_first = 0, total;
    unsigned long m = 0, back = 0;
    unsigned char *buf;
    char tail[48];
    int rc = 0;

    if ( a->size > ivcom_max_msg(a->ch) )
    {
        report_failure("pingpong: size=%lu exceeds the largest message %lu", a->size,
                       (unsigned long)ivcom_max_msg(a->ch));
        return -EMSGSIZE;
    }
    rtt = malloc(n * sizeof(*rtt));
    buf = calloc(1, cap);
    if ( !rtt || !buf )
    {
        report_failure("pingpong: out of memory for %lu samples", n);
        rc = -ENOMEM;
        goto out;
    }
    for ( long long i = -(long long)warm; i < (long long)n; i++ )
    {
        uint64_t t0 = monotonic_clock();
        ssize_t r;

        if ( i == 0 )
            t_first = t0;
        memcpy(buf, &i, a->size < 8 ? a->size : 8);
        snprintf(tail, sizeof(tail), " at round %lld", i);
        r = ivcom_send(a->ch, buf, a->size, a->timeout_ms);
        if ( r < 0 )
        {
            rc = ivapp_fail(a, "send", (int)r, tail);
            goto out;
        }
        r = ivcom_recv(a->ch, buf, cap, a->timeout_ms);
        if ( r < 0 )
        {
            rc = ivapp_fail(a, "receive", (int)r, tail);
            goto out;
        }
        if ( (size_t)r != a->size || (a->size >= 8 && memcmp(buf, &i, 8) != 0) )
        {
            report_failure("pingpong: echo %lld came back wrong (%ld bytes)", i, (long)r);
            rc = -EPROTO;
            goto out;
        }
        if ( i >= 0 )
        {
            uint64_t t1 = monotonic_clock();

            if ( t1 <= t0 )
                back++;
            else
                rtt[m++] = t1 - t0;
        }
    }
    if ( m == 0 )
    {
        report_failure("pingpong: the clock stepped back in all %lu rounds", n);
        rc = -ERANGE;
        goto out;
    }
    total = monotonic_clock() - t_first;
    ivcom_get_stats(a->ch, &st);
    ivapp_sort_u64(rtt, m);
    report_success("pingpong: peer=dom%d size=%lu count=%lu samples=%lu clock_backsteps=%lu "
                   "rtt_min_ns=%llu rtt_p10_ns=%llu rtt_median_ns=%llu rtt_p90_ns=%llu "
                   "rtt_max_ns=%llu rtt_mean_ns=%llu total_ns=%llu "
                   "notifies_sent=%llu wakeups=%llu spins=%llu blocks=%llu",
                   a->peer, a->size, n, m, back, (unsigned long long)rtt[0],
                   (unsigned long long)rtt[(m - 1) / 10],
                   (unsigned long long)rtt[(m - 1) / 2],
                   (unsigned long long)rtt[(m - 1) * 9 / 10],
                   (unsigned long long)rtt[m - 1], (unsigned long long)(total / n),
                   (unsigned long long)total,
                   (unsigned long long)st.notifies_sent, (unsigned long long)st.wakeups,
                   (unsigned long long)st.spins, (unsigned long long)st.blocks);
out:
    free(buf);
    free(rtt);
    return rc;
}

int app_main(const char *args)
{
    struct ivapp a;
    int rc = ivapp_start(&a, "pingpong", args, "client", 1000);

    if ( rc )
        return rc;
    if ( a.params.mode != IVCOM_MODE_MESSAGE )
    {
        report_failure("pingpong: needs mode=message");
        rc = -EINVAL;
    }
    else if ( a.server )
    {
        uint64_t bytes;
        long n = ivapp_echo(&a, &bytes);

        if ( n >= 0 )
            report_success("pingpong: server echoed %ld messages (%llu bytes) with dom%d",
                           n, (unsigned long long)bytes, a.peer);
        rc = n < 0 ? (int)n : 0;
    }
    else
        rc = client(&a);
    ivapp_finish(&a);
    return rc;
}
