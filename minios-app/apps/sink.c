/* SPDX-License-Identifier: MIT */
/*
 * sink: receives until the peer closes, checking the sequence number at
 * both ends of every message (message mode) or of every size= bytes
 * (stream mode) -- ivcom-stream's format, ivcom-core/tools/seqcheck.h.
 * One that fails is "FAILURE sink: message N out of sequence: head_seq=..
 * tail_seq=.. len=.. ring_off=.. ..." (seq_describe: what both ends say,
 * where the payload lay in the ring, the ring's indexes).
 *
 *   [role=server] peer=N [size=64] [mode=message|stream] [count=N] ...
 *   role=client peer=SERVER ...
 *
 * With count= the sink expects exactly that many; a peer that goes away
 * earlier is "FAILURE sink: receive: -EPIPE (...) after K messages".
 * SUCCESS line: "sink: peer=domP mode=M msgs=N bytes=B ns=T bytes_per_s=R
 * notifies_sent=.. wakeups=.. blocks=.." (first to last receive).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/app.h>
#include <kernel/report.h>
#include <kernel/time.h>

#include "common/ivapp.h"
#include "seqcheck.h"

/* One message, or one write's worth of stream bytes: its length, 0 at a
 * clean end, or -errno. */
static long receive_one(struct ivapp *a, unsigned char *buf, size_t cap)
{
    size_t have = 0;

    if ( a->params.mode == IVCOM_MODE_MESSAGE )
    {
        ssize_t n = ivcom_recv(a->ch, buf, cap, -1);

        return n == -EPIPE ? 0 : (long)n;
    }
    while ( have < a->size )
    {
        ssize_t n = ivcom_read(a->ch, buf + have, a->size - have, -1);

        if ( n == -EPIPE && have == 0 )
            return 0;
        if ( n == -EPIPE )
            return -EPROTO;         /* the peer left in the middle of a write */
        if ( n < 0 )
            return (long)n;
        have += (size_t)n;
    }
    return (long)have;
}

int app_main(const char *args)
{
    struct ivapp a;
    struct ivcom_stats st;
    unsigned char *buf;
    uint64_t seq = 0, bytes = 0, t0 = 0, t1;
    size_t cap;
    char tail[64];
    int rc = ivapp_start(&a, "sink", args, "server", 0);

    if ( rc )
        return rc;
    if ( a.params.mode == IVCOM_MODE_STREAM && a.size == 0 )
    {
        report_failure("sink: stream mode needs size= of at least 1");
        ivapp_finish(&a);
        return -EINVAL;
    }
    cap = a.params.mode == IVCOM_MODE_MESSAGE ? ivcom_max_msg(a.ch) : a.size;
    buf = malloc(cap > 8 ? cap : 8);
    if ( !buf )
    {
        report_failure("sink: out of memory");
        ivapp_finish(&a);
        return -ENOMEM;
    }
    for ( ;; )
    {
        long n = receive_one(&a, buf, cap);

        if ( n == 0 )
            break;
        if ( n < 0 )
        {
            snprintf(tail, sizeof(tail), " after %llu messages, %llu bytes",
                     (unsigned long long)seq, (unsigned long long)bytes);
            rc = ivapp_fail(&a, "receive", (int)n, tail);
            goto out;
        }
        if ( !seq_ok(buf, (size_t)n, seq) )
        {
            static char line[256];
            struct ivcom_ring_debug d;
            int msg = a.params.mode == IVCOM_MODE_MESSAGE;
            int derr = ivcom_debug_ring(a.ch, 1, &d);

            seq_describe(line, sizeof(line), msg ? "message" : "write", seq, buf,
                         (size_t)n, msg, &d, derr);
            report_failure("sink: %s", line);
            rc = -EPROTO;
            goto out;
        }
        if ( !t0 )
            t0 = monotonic_clock();
        seq++;
        bytes += (uint64_t)n;
    }
    t1 = monotonic_clock();
    if ( a.count && seq != a.count )
    {
        snprintf(tail, sizeof(tail), " after %llu of %lu messages, %llu bytes",
                 (unsigned long long)seq, a.count, (unsigned long long)bytes);
        rc = ivapp_fail(&a, "receive", -EPIPE, tail);
        goto out;
    }
    ivcom_get_stats(a.ch, &st);
    report_success("sink: peer=dom%d mode=%s msgs=%llu bytes=%llu ns=%llu bytes_per_s=%llu "
                   "notifies_sent=%llu wakeups=%llu blocks=%llu",
                   a.peer, a.params.mode == IVCOM_MODE_STREAM ? "stream" : "message",
                   (unsigned long long)seq, (unsigned long long)bytes,
                   (unsigned long long)(t0 ? t1 - t0 : 0),
                   (unsigned long long)ivapp_per_s(bytes, t0 ? t1 - t0 : 0),
                   (unsigned long long)st.notifies_sent, (unsigned long long)st.wakeups,
                   (unsigned long long)st.blocks);
out:
    free(buf);
    ivapp_finish(&a);
    return rc;
}
