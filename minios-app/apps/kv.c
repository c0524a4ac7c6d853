/* SPDX-License-Identifier: MIT */
/*
 * kv: the kv service domain (apps/kv: the same engine and request handler
 * as `ivcom-kv serve` on Linux), on the service kit (common/ivsvc.h):
 * every allowed client domain at once, each on its own channel.
 *
 *   name=kv [allow=D1,D2] [max=16] [clients=N] [budget=BYTES] [order=14]
 *   role=server peer=N name=kv [budget=BYTES] ...   one client domain
 *
 * Any Linux domain's `ivcom-kv -d <this domid> -n kv get|put|...` (or
 * ivcom.kv.KVClient) is a client.  The store takes at most budget= bytes;
 * by default what the domain's memory leaves once max= clients are
 * provided for.  A request that breaks the kv protocol gets an error
 * reply; a client that breaks the channel's protocol is ended and the
 * others are served on.  With clients=N the domain ends after N clients
 * left: "SUCCESS kv: service kv: clients=N failed=F ... keys=K used=U
 * budget=B errors=E" (one peer: "SUCCESS kv: served N messages (B bytes)
 * with domP keys=...").
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/report.h>

#include "common/ivsvc.h"
#include "kv/kv_serve.h"

#define KV_MAX_BUDGET   (1ul << 30)

static const char *const kv_words[] = { "budget", NULL };

static struct kv_store store;
static uint8_t *rep;            /* one reply, built before it is sent */
static size_t rep_cap;

static int kv_start(struct ivsvc *s, const char *args)
{
    size_t spare = ivsvc_spare_bytes(s);
    unsigned long budget;
    int rc = cmdline_get_ulong(args, "budget", &budget);

    if ( rc == -ENOENT )
    {
        budget = spare < KV_MAX_BUDGET ? spare : KV_MAX_BUDGET;
        if ( budget < KV_STORE_MIN_BUDGET )
        {
            report_failure("kv: no memory left for a store (%lu bytes beyond max=%u "
                           "clients): lower max= or raise memory", (unsigned long)spare,
                           s->tab.max);
            return -ENOMEM;
        }
    }
    else if ( rc || budget < KV_STORE_MIN_BUDGET || budget > KV_MAX_BUDGET )
    {
        report_failure("kv: bad budget= (bytes in [%u, %lu])", KV_STORE_MIN_BUDGET,
                       KV_MAX_BUDGET);
        return -EINVAL;
    }
    if ( kv_store_init(&store, budget, UINT32_MAX) )
    {
        report_failure("kv: store: -ENOMEM (budget %lu)", budget);
        return -ENOMEM;
    }
    return 0;
}

/* Every channel of a service has the same rings: one reply buffer fits. */
static int kv_client(struct ivsvc *s, struct ivsvc_client *c)
{
    size_t need = ivcom_max_msg(c->ch);
    uint8_t *r;

    (void)s;
    if ( need <= rep_cap )
        return 0;
    r = realloc(rep, need);
    if ( !r )
        return -ENOMEM;
    rep = r;
    rep_cap = need;
    return 0;
}

static int kv_message(struct ivsvc *s, struct ivsvc_client *c, const void *msg, size_t len)
{
    size_t cap = ivcom_max_msg(c->ch);

    (void)s;
    return ivsvc_reply(c, rep, kv_serve(&store, msg, len, rep, cap < rep_cap ? cap : rep_cap));
}

static void kv_report(struct ivsvc *s, char *buf, size_t len)
{
    (void)s;
    snprintf(buf, len, " keys=%lu used=%lu budget=%lu errors=%llu", (unsigned long)store.n,
             (unsigned long)store.used, (unsigned long)store.budget,
             (unsigned long long)store.c.errors);
}

static void kv_stop(struct ivsvc *s)
{
    (void)s;
    kv_store_fini(&store);
    free(rep);
    rep = NULL;
    rep_cap = 0;
}

static const struct ivsvc_ops kv_ops = {
    .app = "kv",
    .words = kv_words,
    .on_start = kv_start,
    .on_client = kv_client,
    .on_message = kv_message,
    .on_report = kv_report,
    .on_stop = kv_stop,
};

int app_main(const char *args)
{
    return ivsvc_run(&kv_ops, args);
}
