/* SPDX-License-Identifier: MIT */
/*
 * ivcom-kv bench: a checked mix of GET/PUT/DEL on keys of its own, over
 * either transport (kv_client.h); every reply is checked against what
 * the client last wrote, and LIST at the end must show exactly its keys.
 */
#ifndef IVCOM_KV_BENCH_H
#define IVCOM_KV_BENCH_H

#include <math.h>
#include <sys/time.h>

#include "kv_client.h"

/* CLOCK_REALTIME in seconds: one clock for every domain of a Xen host
 * (each reads Xen's wallclock), unlike CLOCK_MONOTONIC. */
static double kv_wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --at-wall T: sleep until CLOCK_REALTIME reaches T (at once if it has). */
static void kv_sleep_until_wall(double t)
{
    struct timespec ts = { (time_t)t, (long)((t - floor(t)) * 1e9) };

    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* "IP:PORT" of this end of a socket. */
static const char *kv_tcp_local(int fd, char *out)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);

    if (getsockname(fd, (struct sockaddr *)&sa, &len))
        snprintf(out, 64, "pid%d", (int)getpid());
    else
        kv_tcp_name((struct sockaddr *)&sa, out, 64);
    return out;
}

/* What the client knows of each of its keys. */
enum { KEY_ABSENT = -1, KEY_UNKNOWN = -2 };

struct bench {
    struct kv_client *k;
    char prefix[128];
    size_t plen;
    long long nkeys;
    long long *ver;             /* per key: version stored, KEY_ABSENT, KEY_UNKNOWN */
    uint8_t *key, *val, *want;
    long long gets, puts, dels, lists, hits;
};

static size_t bench_key(struct bench *b, long long i)
{
    int n = snprintf((char *)b->key + b->plen, 24, "%08lld", i);

    return b->plen + (size_t)n;
}

/* The value of key i at version v: i and v, then a pattern of both. */
static void bench_value(uint8_t *out, size_t size, long long i, long long v)
{
    size_t j;

    for (j = 0; j < size; j++)
        out[j] = (uint8_t)(i * 31 + v * 7 + (long long)j);
    if (size >= 16) {
        memcpy(out, &i, 8);
        memcpy(out + 8, &v, 8);
    }
}

static int channel_gone(int err)
{
    return err == -EPIPE || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPROTO ||
           err == -ENOTCONN || err == -ESTALE;
}

/* After the service went away: connect again (within --timeout); what it
 * stored is unknown now (a restarted service starts empty). */
static void bench_reconnect(struct bench *b, int why)
{
    struct kv_client *k = b->k;
    uint64_t end = tool_now_ns() + (uint64_t)k->o->timeout_ms * 1000000u;
    long long i;
    int err = why;

    if (!k->o->reconnect || !channel_gone(why))
        tool_die(1, "request %u: %s", k->id, kv_strerror(k, why));
    kv_disconnect(k);
    while (tool_now_ns() < end) {
        err = kv_connect(k);
        if (err == 0)
            break;
        k->ch = NULL;
        tool_sleep_until(tool_now_ns() + 50000000u);
    }
    if (err)
        tool_die(1, "reconnect to %s: %s", k->where, kv_strerror(k, err));
    k->reconnects++;
    fprintf(stderr, "ivcom-kv: reconnected (%s)\n", kv_strerror(k, why));
    /* a request that got no reply may or may not have been carried out */
    for (i = 0; i < b->nkeys; i++)
        b->ver[i] = KEY_UNKNOWN;
}

/* One checked operation on key i: 0, or the channel's error (the
 * operation did not complete: repeat it after reconnecting). */
static int bench_op(struct bench *b, int op, long long i, long long *next_ver)
{
    struct kv_client *k = b->k;
    size_t klen = bench_key(b, i), size = k->o->size;
    long long v = b->ver[i];
    int err;

    switch (op) {
    case KV_OP_GET:
        err = kv_call(k, KV_OP_GET, b->key, klen, NULL, 0);
        if (err)
            return err;
        b->gets++;
        if (k->status == KV_ENOTFOUND) {
            if (v >= 0)
                tool_die(1, "GET %.*s: not found, but version %lld was stored",
                         (int)klen, b->key, v);
            b->ver[i] = KEY_ABSENT;
            return 0;
        }
        if (k->status != KV_OK)
            tool_die(1, "GET %.*s: %s", (int)klen, b->key, status_text(k->status));
        if (v == KEY_ABSENT)
            tool_die(1, "GET %.*s: found a value, but the key was deleted", (int)klen, b->key);
        if (v == KEY_UNKNOWN) {
            /* before the reconnect: whichever version it was, it is ours */
            if (k->plen != size)
                tool_die(1, "GET %.*s: %u bytes, want %zu", (int)klen, b->key, k->plen, size);
            b->hits++;
            if (size >= 16) {
                long long got_i, got_v;

                memcpy(&got_i, k->payload, 8);
                memcpy(&got_v, k->payload + 8, 8);
                if (got_i != i || got_v < 0)
                    tool_die(1, "GET %.*s: not a value of this key", (int)klen, b->key);
                b->ver[i] = got_v;
                bench_value(b->want, size, i, got_v);
                if (memcmp(b->want, k->payload, size))
                    tool_die(1, "GET %.*s: value corrupted", (int)klen, b->key);
            }
            return 0;
        }
        bench_value(b->want, size, i, v);
        if (k->plen != size || memcmp(b->want, k->payload, size))
            tool_die(1, "GET %.*s: the value is not version %lld", (int)klen, b->key, v);
        b->hits++;
        return 0;
    case KV_OP_PUT:
        bench_value(b->val, size, i, *next_ver);
        err = kv_call(k, KV_OP_PUT, b->key, klen, b->val, size);
        if (err)
            return err;
        b->puts++;
        if (k->status != KV_OK)
            tool_die(1, "PUT %.*s: %s", (int)klen, b->key, status_text(k->status));
        b->ver[i] = (*next_ver)++;
        return 0;
    default:
        err = kv_call(k, KV_OP_DEL, b->key, klen, NULL, 0);
        if (err)
            return err;
        b->dels++;
        if (k->status == KV_OK && v == KEY_ABSENT)
            tool_die(1, "DEL %.*s: deleted a key that was not there", (int)klen, b->key);
        if (k->status == KV_ENOTFOUND && v >= 0)
            tool_die(1, "DEL %.*s: not found, but version %lld was stored", (int)klen,
                     b->key, v);
        if (k->status != KV_OK && k->status != KV_ENOTFOUND)
            tool_die(1, "DEL %.*s: %s", (int)klen, b->key, status_text(k->status));
        b->ver[i] = KEY_ABSENT;
        return 0;
    }
}

/* Bytewise, shorter first on a common prefix: the store's order. */
static int key_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c < 0 || (c == 0 && alen < blen);
}

/* LIST our prefix page by page; the keys must be exactly those we know
 * are there (keys of unknown state may or may not be).  0 or the
 * channel's error. */
static int bench_list_check(struct bench *b)
{
    struct kv_client *k = b->k;
    uint8_t cursor[KV_KEY_MAX];
    size_t clen = 0;
    long long seen = 0, want = 0, i;
    int err;

    for (i = 0; i < b->nkeys; i++)
        want += b->ver[i] >= 0;
    for (;;) {
        size_t off = 0;

        err = kv_call(k, KV_OP_LIST, b->prefix, b->plen, cursor, clen);
        if (err)
            return err;
        b->lists++;
        if (k->status != KV_OK)
            tool_die(1, "LIST: %s", status_text(k->status));
        while (off < k->plen) {
            size_t kl = kv_get16(k->payload + off);
            char *end;
            long long idx;
            char num[16];

            off += KV_LIST_ENTRY_HDR;
            if (kl <= b->plen || kl - b->plen >= sizeof(num) || off + kl > k->plen ||
                memcmp(k->payload + off, b->prefix, b->plen))
                tool_die(1, "LIST: a key that is not ours");
            memcpy(num, k->payload + off + b->plen, kl - b->plen);
            num[kl - b->plen] = 0;
            idx = strtoll(num, &end, 10);
            if (*end || idx < 0 || idx >= b->nkeys || b->ver[idx] == KEY_ABSENT)
                tool_die(1, "LIST: key %.*s should not be there", (int)kl, k->payload + off);
            if (clen && !key_less(cursor, clen, k->payload + off, kl))
                tool_die(1, "LIST: keys out of order");
            seen += b->ver[idx] >= 0;
            memcpy(cursor, k->payload + off, kl);
            clen = kl;
            off += kl;
        }
        if (!(k->flags & KV_REPLY_MORE))
            break;
    }
    if (seen != want)
        tool_die(1, "LIST: %lld of our %lld keys", seen, want);
    return 0;
}

static int cmd_bench(struct kv_client *k)
{
    const struct kv_opts *o = k->o;
    struct bench b;
    struct tool_opts at;
    struct tool_deadline dl;
    uint64_t *lat, t_begin, t_end, rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    long long i, n, cap, next_ver = 1;
    double secs, wall_begin, wall_end;
    char local[64];
    int err;

    memset(&b, 0, sizeof(b));
    b.k = k;
    if (o->prefix)
        snprintf(b.prefix, sizeof(b.prefix), "%s", o->prefix);
    else if (k->fd >= 0)        /* this end's address: one per client */
        snprintf(b.prefix, sizeof(b.prefix), "bench/%s/", kv_tcp_local(k->fd, local));
    else
        snprintf(b.prefix, sizeof(b.prefix), "bench/%d/%d/",
                 ivcom_platform_domid(k->plat), (int)getpid());
    b.plen = strlen(b.prefix);
    if (b.plen + 8 > KV_KEY_MAX)
        tool_die(2, "--prefix too long");
    if (o->size + KV_REQ_HDR + b.plen + 16 > k->cap)
        tool_die(2, "--size %zu exceeds what one message carries", o->size);
    b.nkeys = o->keys;
    b.ver = malloc((size_t)b.nkeys * sizeof(*b.ver));
    b.key = malloc(KV_KEY_MAX + 32);
    b.val = malloc(o->size + 1);
    b.want = malloc(o->size + 1);
    cap = o->count < 65536 ? o->count : 65536;
    lat = malloc((size_t)cap * sizeof(*lat));
    if (!b.ver || !b.key || !b.val || !b.want || !lat)
        tool_die(1, "out of memory");
    memcpy(b.key, b.prefix, b.plen);
    for (i = 0; i < b.nkeys; i++)
        b.ver[i] = KEY_UNKNOWN;         /* a --prefix given may hold old keys */

    /* populate: every key at a first version (not measured) */
    for (i = 0; i < b.nkeys; i++)
        while ((err = bench_op(&b, KV_OP_PUT, i, &next_ver)))
            bench_reconnect(&b, err);
    memset(&at, 0, sizeof(at));
    at.at_ns = o->at_ns;
    at.at_stdin = o->at_stdin;
    tool_start(&at);
    if (o->at_wall > 0)
        kv_sleep_until_wall(o->at_wall);
    memset(&dl, 0, sizeof(dl));
    if (o->duration_s)
        dl.end_ns = tool_now_ns() + (uint64_t)o->duration_s * 1000000000u;
    b.gets = b.puts = b.dels = b.hits = 0;

    wall_begin = kv_wall_now();
    t_begin = tool_now_ns();
    for (i = 0; i < o->count; i++) {
        uint64_t t0, r;
        int op, pct;
        long long key;

        if (tool_deadline_passed(&dl))
            break;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        r = rng >> 33;
        key = (long long)(r % (uint64_t)b.nkeys);
        pct = (int)((r >> 20) % 100);
        op = pct < 70 ? KV_OP_GET : pct < 90 ? KV_OP_PUT : KV_OP_DEL;
        if (i == cap) {
            cap = cap * 2 < o->count ? cap * 2 : o->count;
            lat = realloc(lat, (size_t)cap * sizeof(*lat));
            if (!lat)
                tool_die(1, "out of memory");
        }
        t0 = tool_now_ns();
        while ((err = bench_op(&b, op, key, &next_ver))) {
            bench_reconnect(&b, err);
            t0 = tool_now_ns();
        }
        lat[i] = tool_now_ns() - t0;
    }
    t_end = tool_now_ns();
    wall_end = kv_wall_now();
    n = i;
    while ((err = bench_list_check(&b)))
        bench_reconnect(&b, err);

    qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
    secs = (double)(t_end - t_begin) / 1e9;
#define PCT(p) (n ? lat[(size_t)((n - 1) * (p) / 100)] : 0)
    if (o->json)
        printf("{\"tool\": \"ivcom-kv\", \"role\": \"bench\", \"transport\": \"%s\", "
               "\"platform\": \"%s\", \"domid\": %d, \"service\": \"%s\", \"server\": %d, "
               "\"count\": %lld, "
               "\"keys\": %lld, \"size\": %zu, \"seconds\": %.6f, \"ops_per_s\": %.1f, "
               "\"lat_ns\": {\"min\": %llu, \"p50\": %llu, \"p90\": %llu, \"p99\": %llu, "
               "\"max\": %llu}, \"gets\": %lld, \"hits\": %lld, \"puts\": %lld, "
               "\"dels\": %lld, \"lists\": %lld, \"reconnects\": %lld, "
               "\"begin_ns\": %llu, \"end_ns\": %llu, \"wall_begin\": %.6f, "
               "\"wall_end\": %.6f}\n",
               o->tcp ? "tcp" : "ivcom", o->tcp ? "tcp" : ivcom_platform_name(k->plat),
               o->tcp ? -1 : ivcom_platform_domid(k->plat), o->tcp ? o->tcp : o->name,
               o->tcp ? -1 : o->domain, n, b.nkeys, o->size, secs, n / (secs > 0 ? secs : 1e-9),
               (unsigned long long)PCT(0), (unsigned long long)PCT(50),
               (unsigned long long)PCT(90), (unsigned long long)PCT(99),
               (unsigned long long)PCT(100), b.gets, b.hits, b.puts, b.dels, b.lists,
               k->reconnects, (unsigned long long)t_begin, (unsigned long long)t_end,
               wall_begin, wall_end);
    else
        printf("%lld requests in %.3f s: %.0f ops/s, latency p50 %.2f us, p99 %.2f us "
               "(get %lld, put %lld, del %lld; every reply checked; reconnects %lld)\n",
               n, secs, n / (secs > 0 ? secs : 1e-9), PCT(50) / 1e3, PCT(99) / 1e3,
               b.gets, b.puts, b.dels, k->reconnects);
#undef PCT
    free(lat);
    free(b.ver);
    free(b.key);
    free(b.val);
    free(b.want);
    return 0;
}

#endif
