/* SPDX-License-Identifier: MIT */
/*
 * source: sends count= messages (or writes) of size= bytes as fast as the
 * channel takes them; each carries its sequence number at both ends
 * (ivcom-stream's format, ivcom-core/tools/seqcheck.h), so any sink can
 * check order, loss and torn payloads.
 *
 *   [role=client] peer=N [count=10000] [size=64] [mode=message|stream] ...
 *   role=server peer=N ...             offer the channel, then send
 *
 * SUCCESS line: "source: peer=domP mode=M size=S count=N bytes=B ns=T
 * bytes_per_s=R notifies_sent=E notifies_suppressed=.. blocks=.."
 * (time from the first send to the last publish, the guest's clock).
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

static int send_all(struct ivapp *a, uint64_t *ns)
{
    const int msg = a->params.mode == IVCOM_MODE_MESSAGE;
    size_t len = a->size > 8 ? a->size : 8;
    unsigned char *buf;
    uint64_t t0;
    char tail[48];
    int rc = 0;

    if ( msg && a->size > ivcom_max_msg(a->ch) )
    {
        report_failure("source: size=%lu exceeds the largest message %lu", a->size,
                       (unsigned long)ivcom_max_msg(a->ch));
        return -EMSGSIZE;
    }
    if ( !msg && a->size == 0 )
    {
        report_failure("source: stream mode needs size= of at least 1");
        return -EINVAL;
    }
    buf = malloc(len);
    if ( !buf )
    {
        report_failure("source: out of memory");
        return -ENOMEM;
    }
    seq_fill(buf, len);
    t0 = monotonic_clock();
    for ( uint64_t i = 0; i < a->count; i++ )
    {
        seq_stamp(buf, a->size, i);
        if ( msg )
        {
            void *dst;

            rc = ivcom_msg_reserve(a->ch, a->size, &dst, a->timeout_ms);
            if ( !rc )
            {
                memcpy(dst, buf, a->size);
                rc = ivcom_msg_commit(a->ch);
            }
        }
        else
        {
            ssize_t r = ivcom_write_all(a->ch, buf, a->size, a->timeout_ms);

            rc = r < 0 ? (int)r : (size_t)r == a->size ? 0 : -ETIMEDOUT;
        }
        if ( rc )
        {
            snprintf(tail, sizeof(tail), " at message %llu", (unsigned long long)i);
            rc = ivapp_fail(a, "send", rc, tail);
            break;
        }
    }
    *ns = monotonic_clock() - t0;
    free(buf);
    return rc;
}

int app_main(const char *args)
{
    struct ivapp a;
    struct ivcom_stats st;
    uint64_t ns = 0, bytes;
    int rc = ivapp_start(&a, "source", args, "client", 10000);

    if ( rc )
        return rc;
    rc = send_all(&a, &ns);
    ivcom_get_stats(a.ch, &st);
    ivapp_finish(&a);
    if ( rc )
        return rc;
    bytes = st.tx_bytes;
    report_success("source: peer=dom%d mode=%s size=%lu count=%lu bytes=%llu ns=%llu "
                   "bytes_per_s=%llu notifies_sent=%llu notifies_suppressed=%llu "
                   "blocks=%llu",
                   a.peer, a.params.mode == IVCOM_MODE_STREAM ? "stream" : "message",
                   a.size, a.count, (unsigned long long)bytes, (unsigned long long)ns,
                   (unsigned long long)ivapp_per_s(bytes, ns),
                   (unsigned long long)st.notifies_sent,
                   (unsigned long long)st.notifies_suppressed,
                   (unsigned long long)st.blocks);
    return 0;
}
