/* SPDX-License-Identifier: MIT */
/* Shared plumbing of the IVCOM service apps: see ivapp.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/cmdline.h>
#include <kernel/console.h>
#include <kernel/report.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#include "ivapp.h"

#define PEER_NODE   "data/ivcom-peer"

const char *ivapp_errname(int err)
{
    static char buf[16];

    switch ( err < 0 ? -err : err )
    {
    case EPERM:      return "EPERM";
    case ENOENT:     return "ENOENT";
    case ESRCH:      return "ESRCH";
    case EINTR:      return "EINTR";
    case EIO:        return "EIO";
    case EAGAIN:     return "EAGAIN";
    case ENOMEM:     return "ENOMEM";
    case EACCES:     return "EACCES";
    case EBUSY:      return "EBUSY";
    case ENODEV:     return "ENODEV";
    case EINVAL:     return "EINVAL";
    case ENOSPC:     return "ENOSPC";
    case EPIPE:      return "EPIPE";
    case ERANGE:     return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPROTO:     return "EPROTO";
    case EMSGSIZE:   return "EMSGSIZE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN:   return "ENOTCONN";
    case ETIMEDOUT:  return "ETIMEDOUT";
    }
    snprintf(buf, sizeof(buf), "E%d", err < 0 ? -err : err);
    return buf;
}

int ivapp_fail(const struct ivapp *a, const char *what, int err, const char *tail)
{
    report_failure("%s: %s: -%s (%s)%s", a->app, what, ivapp_errname(err),
                   ivcom_strerror(err), tail ? tail : "");
    return err < 0 ? err : -err;
}

uint64_t ivapp_per_s(uint64_t n, uint64_t ns)
{
    if ( ns == 0 )
        return 0;
    /* n * 1e9 / ns without overflow for any n below 2^64 / 1e3. */
    if ( n < UINT64_MAX / NSEC_PER_SEC )
        return n * NSEC_PER_SEC / ns;
    return n / ns * NSEC_PER_SEC;
}

static void sift_down(uint64_t *v, unsigned long i, unsigned long n)
{
    for ( ;; )
    {
        unsigned long c = 2 * i + 1;
        uint64_t t;

        if ( c >= n )
            return;
        if ( c + 1 < n && v[c + 1] > v[c] )
            c++;
        if ( v[i] >= v[c] )
            return;
        t = v[i], v[i] = v[c], v[c] = t;
        i = c;
    }
}

/* Heapsort: no recursion, no extra memory, O(n log n). */
void ivapp_sort_u64(uint64_t *v, unsigned long n)
{
    unsigned long i;

    for ( i = n / 2; i-- > 0; )
        sift_down(v, i, n);
    for ( i = n; i-- > 1; )
    {
        uint64_t t = v[0];

        v[0] = v[i], v[i] = t;
        sift_down(v, 0, i);
    }
}

/* peer= or, without it, data/ivcom-peer once dom0 wrote it. */
static int find_peer(struct ivapp *a, const char *args)
{
    uint64_t deadline = monotonic_clock() + (uint64_t)a->timeout_ms * NSEC_PER_MSEC;
    unsigned long v;
    char buf[16];
    int rc = cmdline_get_ulong(args, "peer", &v);

    if ( rc == 0 )
        goto check;
    if ( rc != -ENOENT )
        goto bad;
    rc = xenbus_watch(PEER_NODE, "ivapp-peer");
    if ( rc )
        return ivapp_fail(a, "watch " PEER_NODE, rc, NULL);
    for ( ;; )
    {
        rc = xenbus_read(XBT_NIL, PEER_NODE, buf, sizeof(buf));
        if ( rc >= 0 || rc != -ENOENT || monotonic_clock() >= deadline )
            break;
        /* A watch event is a hint: re-read at least every 100 ms. */
        xenbus_wait_watch(100 * NSEC_PER_MSEC, NULL, 0, NULL, 0);
    }
    xenbus_unwatch(PEER_NODE, "ivapp-peer");
    if ( rc < 0 )
        return ivapp_fail(a, "no peer= and no " PEER_NODE, rc == -ENOENT ? -ETIMEDOUT : rc,
                          NULL);
    if ( parse_ulong(buf, &v) )
    {
        report_failure("%s: bad " PEER_NODE " value \"%s\"", a->app, buf);
        return -EINVAL;
    }
check:
    if ( v >= 0x7ff0 || (int)v == a->self )
        goto bad;
    a->peer = (int)v;
    return 0;
bad:
    report_failure("%s: bad peer= (a domain id other than ours)", a->app);
    return -EINVAL;
}

/* key=number within [lo, hi], or the default when absent. */
static int num_arg(const struct ivapp *a, const char *args, const char *key,
                   unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v;
    int rc = cmdline_get_ulong(args, key, &v);

    if ( rc == -ENOENT )
        return 0;
    if ( rc || v < lo || v > hi )
    {
        report_failure("%s: bad %s= (a number in [%lu, %lu])", a->app, key, lo, hi);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

/* The words every IVCOM app takes (see ivapp.h). */
static const char *const common_words[] = {
    "role", "peer", "name", "size", "count", "mode", "order", "spin", "poll",
    "timeout", NULL,
};

#define MAX_WORDS 40

int ivapp_check_words(const char *app, const char *args, const char *const *words,
                      const char *const *more)
{
    const char *known[MAX_WORDS + 1];
    char bad[41], list[MAX_WORDS * 12];
    size_t n = 0, off = 0;
    int rc;

    for ( ; words && *words && n < MAX_WORDS; words++ )
        known[n++] = *words;
    for ( ; more && *more && n < MAX_WORDS; more++ )
        known[n++] = *more;
    known[n] = NULL;
    rc = cmdline_check(args, known, bad, sizeof(bad));
    if ( rc == 0 )
        return 0;
    if ( rc == -EEXIST )
    {
        report_failure("%s: word \"%s\" given twice", app, bad);
        return -EINVAL;
    }
    list[0] = '\0';
    for ( size_t i = 0; i < n && off < sizeof(list); i++ )
        off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? " " : "",
                                known[i]);
    report_failure("%s: unknown word \"%s\" (known: %s)", app, bad, list);
    return -EINVAL;
}

static int parse(struct ivapp *a, const char *args, const char *default_role,
                 const char *const *words)
{
    char role[16], mode[16];
    unsigned long order = 16, spin = 30, timeout = 60000;
    int rc;

    rc = ivapp_check_words(a->app, args, common_words, words);
    if ( rc )
        return rc;
    rc = cmdline_get(args, "role", role, sizeof(role));
    if ( rc == -ENOENT )
        strcpy(role, default_role);
    else if ( rc < 0 )
        goto bad_role;
    if ( strcmp(role, "server") == 0 )
        a->server = 1;
    else if ( strcmp(role, "client") != 0 )
        goto bad_role;

    rc = cmdline_get(args, "name", a->name, sizeof(a->name));
    if ( rc == -ENOENT )
        strcpy(a->name, "ivcom-test");
    else if ( rc <= 0 )
    {
        report_failure("%s: bad name= (1 to 63 characters)", a->app);
        return -EINVAL;
    }

    ivcom_params_init(&a->params);
    rc = cmdline_get(args, "mode", mode, sizeof(mode));
    if ( rc >= 0 && strcmp(mode, "stream") == 0 )
        a->params.mode = IVCOM_MODE_STREAM;
    else if ( rc >= 0 && strcmp(mode, "message") != 0 )
    {
        report_failure("%s: bad mode= (message or stream)", a->app);
        return -EINVAL;
    }
    else if ( rc < 0 && rc != -ENOENT )
    {
        report_failure("%s: bad mode= (message or stream)", a->app);
        return -EINVAL;
    }

    if ( (rc = num_arg(a, args, "size", 0, 1ul << 20, &a->size)) ||
         (rc = num_arg(a, args, "count", 1, 1ul << 40, &a->count)) ||
         (rc = num_arg(a, args, "order", IVCOM_RING_ORDER_MIN, 18, &order)) ||
         (rc = num_arg(a, args, "spin", 0, 10000000, &spin)) ||
         (rc = num_arg(a, args, "timeout", 1, 3600000, &timeout)) )
        return rc;
    a->params.tx_order = a->params.rx_order = (uint8_t)order;
    a->params.spin_us = (uint32_t)spin;
    a->params.poll_only = cmdline_has(args, "poll");
    a->timeout_ms = (int)timeout;
    return 0;

bad_role:
    report_failure("%s: bad role= (server or client)", a->app);
    return -EINVAL;
}

int ivapp_start(struct ivapp *a, const char *app, const char *args,
                const char *default_role, unsigned long default_count)
{
    return ivapp_start_words(a, app, args, default_role, default_count, NULL);
}

int ivapp_start_words(struct ivapp *a, const char *app, const char *args,
                      const char *default_role, unsigned long default_count,
                      const char *const *words)
{
    int rc;

    memset(a, 0, sizeof(*a));
    a->app = app;
    a->size = 64;
    a->count = default_count;
    a->self = xenbus_domid();
    rc = parse(a, args, default_role, words);
    if ( rc )
        return rc;
    rc = ivcom_platform_open("minios", &a->plat);
    if ( rc )
        return ivapp_fail(a, "platform minios", rc, " (needs XenStore: run as a domU)");
    printk("ivcom-guest: ready %s domid %d t=%llu\n", app, a->self,
           (unsigned long long)monotonic_clock());

    rc = find_peer(a, args);
    if ( rc )
        goto out_close;
    if ( a->server )
    {
        rc = ivcom_listen(a->plat, a->name, a->peer, &a->params, &a->ch);
        if ( rc )
        {
            ivapp_fail(a, "listen", rc, NULL);
            goto out_close;
        }
        printk("%s: offered %s to dom%d (%s, order %u)\n", app, a->name, a->peer,
               a->params.mode == IVCOM_MODE_STREAM ? "stream" : "message",
               a->params.tx_order);
        rc = ivcom_accept(a->ch, a->timeout_ms);
        if ( rc )
        {
            ivapp_fail(a, "accept", rc, NULL);
            ivcom_close(a->ch);
            goto out_close;
        }
    }
    else
    {
        rc = ivcom_connect(a->plat, a->name, a->peer, &a->params, &a->ch, a->timeout_ms);
        if ( rc )
        {
            ivapp_fail(a, "connect", rc, NULL);
            goto out_close;
        }
    }
    printk("%s: connected %s with dom%d (port %d, largest message %lu)\n", app,
           a->name, a->peer, ivcom_local_port(a->ch),
           (unsigned long)ivcom_max_msg(a->ch));
    return 0;

out_close:
    ivcom_platform_close(a->plat);
    a->plat = NULL;
    a->ch = NULL;
    return rc;
}

void ivapp_finish(struct ivapp *a)
{
    if ( a->ch )
        ivcom_close(a->ch);
    if ( a->plat )
        ivcom_platform_close(a->plat);
    a->ch = NULL;
    a->plat = NULL;
}

long ivapp_echo(struct ivapp *a, uint64_t *bytes)
{
    char tail[48];
    long n = 0;

    *bytes = 0;
    if ( a->params.mode != IVCOM_MODE_MESSAGE )
    {
        report_failure("%s: echo needs mode=message", a->app);
        return -EINVAL;
    }
    for ( ;; )
    {
        const void *in;
        void *out;
        size_t len;
        int rc = ivcom_msg_peek(a->ch, &in, &len, -1);

        if ( rc == -EPIPE )
            break;
        snprintf(tail, sizeof(tail), " after %ld messages", n);
        if ( rc )
            return ivapp_fail(a, "receive", rc, tail);
        rc = ivcom_msg_reserve(a->ch, len, &out, a->timeout_ms);
        if ( rc )
            return ivapp_fail(a, "reply", rc, tail);
        memcpy(out, in, len);
        rc = ivcom_msg_commit(a->ch);
        if ( !rc )
            rc = ivcom_msg_release(a->ch);
        if ( rc )
            return ivapp_fail(a, "reply", rc, tail);
        n++;
        *bytes += len;
    }
    return n;
}
