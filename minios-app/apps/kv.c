/* SPDX-License-Identifier: MIT */
/*
 * kv: the kv service (apps/kv: the same engine and request handler as
 * `ivcom-kv serve` on Linux) over ONE channel: one client domain, served
 * until it closes.  Serving many clients at once waits for the minios
 * platform's multi-channel event loop and services.
 *
 *   [role=server] peer=N name=kv [budget=BYTES (1 MiB)] [order=16] ...
 *
 * Any Linux domain's `ivcom-kv -d <this domid> -n kv get|put|...` (or
 * ivcom.kv.KVClient) is a client: connect finds a one-peer offer by name.
 * SUCCESS line: "kv: served N requests (E errors) with domP: K keys,
 * U of B bytes".  A peer that breaks the channel's protocol gives
 * "FAILURE kv: receive: -EPROTO (...)"; a request that breaks the kv
 * protocol only gets an error reply.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/report.h>

#include "common/ivapp.h"
#include "kv/kv_serve.h"

#define KV_DEFAULT_BUDGET (1ul << 20)

int app_main(const char *args)
{
    struct kv_store s;
    struct ivapp a;
    unsigned long budget = KV_DEFAULT_BUDGET;
    uint8_t *rep;
    size_t cap;
    long n = 0;
    int rc = cmdline_get_ulong(args, "budget", &budget);

    if ( (rc && rc != -ENOENT) || budget < KV_STORE_MIN_BUDGET || budget > (1ul << 30) )
    {
        report_failure("kv: bad budget= (bytes in [%u, %lu])", KV_STORE_MIN_BUDGET,
                       1ul << 30);
        return -EINVAL;
    }
    rc = ivapp_start(&a, "kv", args, "server", 0);
    if ( rc )
        return rc;
    if ( a.params.mode != IVCOM_MODE_MESSAGE )
    {
        ivapp_finish(&a);
        report_failure("kv: needs mode=message");
        return -EINVAL;
    }
    cap = ivcom_max_msg(a.ch);
    rep = malloc(cap);
    if ( !rep || kv_store_init(&s, budget, UINT32_MAX) )
    {
        free(rep);
        rc = ivapp_fail(&a, "store", -ENOMEM, NULL);
        ivapp_finish(&a);
        return rc;
    }
    for ( ;; )
    {
        const void *in;
        void *out;
        size_t len, rlen;

        rc = ivcom_msg_peek(a.ch, &in, &len, -1);
        if ( rc == -EPIPE )
            break;
        if ( rc )
        {
            rc = ivapp_fail(&a, "receive", rc, NULL);
            goto out;
        }
        rlen = kv_serve(&s, in, len, rep, cap);
        rc = ivcom_msg_reserve(a.ch, rlen, &out, a.timeout_ms);
        if ( !rc )
        {
            memcpy(out, rep, rlen);
            rc = ivcom_msg_commit(a.ch);
        }
        if ( !rc )
            rc = ivcom_msg_release(a.ch);
        if ( rc )
        {
            rc = ivapp_fail(&a, "reply", rc, NULL);
            goto out;
        }
        n++;
    }
    report_success("kv: served %ld requests (%llu errors) with dom%d: %lu keys, "
                   "%lu of %lu bytes", n, (unsigned long long)s.c.errors, a.peer,
                   (unsigned long)s.n, (unsigned long)s.used, (unsigned long)s.budget);
    rc = 0;
out:
    kv_store_fini(&s);
    free(rep);
    ivapp_finish(&a);
    return rc;
}
