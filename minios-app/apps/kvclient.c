/* SPDX-License-Identifier: MIT */
/*
 * kvclient: a kv service's client in the tiny guest (the kv framing of
 * apps/kv/kv_proto.h), every reply checked.
 *
 *   [role=client] peer=SERVER [name=kv] [count=1000] [size=64]
 *
 * count rounds over 16 keys of its own ("t<domid>-<k>"): PUT a value of
 * size bytes that names the round, GET it back and compare, and DEL the
 * key every fourth round (then a GET must say NOTFOUND).  One request in
 * flight.  SUCCESS line: "kvclient: peer=domS count=N requests=R puts=P
 * gets=G dels=D total_ns=T req_mean_ns=M"; a reply that is not the one
 * expected: "FAILURE kvclient: round N: <what> (op O status S len L)".
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <kernel/app.h>
#include <kernel/cmdline.h>
#include <kernel/report.h>
#include <kernel/time.h>

#include "common/ivapp.h"
#include "kv/kv_proto.h"

#define KEYS 16u

struct kvc {
    struct ivapp a;
    uint8_t *req, *rep;
    size_t cap;
    uint32_t id;
    uint64_t requests;
};

/* One request out, its reply in: the reply's length, or -errno after
 * the FAILURE line. */
static long call(struct kvc *k, uint8_t op, const char *key, const uint8_t *val,
                 uint32_t vlen, unsigned long round)
{
    size_t klen = strlen(key);
    char what[64];
    ssize_t n;

    kv_req_header(k->req, op, ++k->id, (uint16_t)klen, vlen);
    memcpy(k->req + KV_REQ_HDR, key, klen);
    if ( vlen )
        memcpy(k->req + KV_REQ_HDR + klen, val, vlen);
    n = ivcom_send(k->a.ch, k->req, KV_REQ_HDR + klen + vlen, k->a.timeout_ms);
    snprintf(what, sizeof(what), " in round %lu", round);
    if ( n < 0 )
        return ivapp_fail(&k->a, "send", (int)n, what);
    n = ivcom_recv(k->a.ch, k->rep, k->cap, k->a.timeout_ms);
    if ( n < 0 )
        return ivapp_fail(&k->a, "receive", (int)n, what);
    k->requests++;
    if ( n < KV_REPLY_HDR || k->rep[0] != op || kv_get32(k->rep + 4) != k->id ||
         kv_get32(k->rep + 8) != (uint32_t)n - KV_REPLY_HDR )
    {
        report_failure("kvclient: round %lu: reply does not match request %u (op %u "
                       "status %u len %ld)", round, k->id, n > 0 ? k->rep[0] : 0,
                       n > 1 ? k->rep[1] : 0, (long)n);
        return -EPROTO;
    }
    return (long)n;
}

static int expect(const struct kvc *k, unsigned long round, const char *what, uint8_t status,
                  long n)
{
    if ( k->rep[1] == status )
        return 0;
    report_failure("kvclient: round %lu: %s (op %u status %u len %ld)", round, what,
                   k->rep[0], k->rep[1], n);
    return -EPROTO;
}

static void fill(uint8_t *v, size_t len, unsigned long round, int self)
{
    for ( size_t i = 0; i < len; i++ )
        v[i] = (uint8_t)(round * 31 + i * 7 + (unsigned)self);
}

int app_main(const char *args)
{
    struct kvc k;
    uint8_t *val;
    char key[32];
    unsigned long r;
    uint64_t t0, ns, puts = 0, gets = 0, dels = 0;
    long n;
    int rc;

    static char words[1100];
    char name[4];

    /* The service's name is kv unless name= says otherwise. */
    if ( cmdline_get(args, "name", name, sizeof(name)) == -ENOENT )
    {
        snprintf(words, sizeof(words), "%s name=kv", args ? args : "");
        args = words;
    }
    memset(&k, 0, sizeof(k));
    rc = ivapp_start(&k.a, "kvclient", args, "client", 1000);
    if ( rc )
        return rc;
    k.cap = ivcom_max_msg(k.a.ch);
    if ( k.a.size + KV_REQ_HDR + sizeof(key) > k.cap )
    {
        ivapp_finish(&k.a);
        report_failure("kvclient: size= %lu does not fit a message of %lu bytes", k.a.size,
                       (unsigned long)k.cap);
        return -EINVAL;
    }
    k.req = malloc(k.cap);
    k.rep = malloc(k.cap);
    val = malloc(k.a.size + 1);
    if ( !k.req || !k.rep || !val )
    {
        rc = ivapp_fail(&k.a, "buffers", -ENOMEM, NULL);
        goto out;
    }
    t0 = monotonic_clock();
    for ( r = 0; r < k.a.count; r++ )
    {
        snprintf(key, sizeof(key), "t%d-%lu", k.a.self, r % KEYS);
        fill(val, k.a.size, r, k.a.self);
        rc = -EPROTO;
        if ( (n = call(&k, KV_OP_PUT, key, val, (uint32_t)k.a.size, r)) < 0 ||
             expect(&k, r, "PUT refused", KV_OK, n) )
            goto out_rc;
        puts++;
        if ( (n = call(&k, KV_OP_GET, key, NULL, 0, r)) < 0 ||
             expect(&k, r, "GET of a key just put", KV_OK, n) )
            goto out_rc;
        gets++;
        if ( (size_t)n != KV_REPLY_HDR + k.a.size ||
             memcmp(k.rep + KV_REPLY_HDR, val, k.a.size) != 0 )
        {
            report_failure("kvclient: round %lu: GET returned another value (len %ld)", r, n);
            goto out_rc;
        }
        if ( r % 4 != 3 )
            continue;
        if ( (n = call(&k, KV_OP_DEL, key, NULL, 0, r)) < 0 ||
             expect(&k, r, "DEL of a key just put", KV_OK, n) )
            goto out_rc;
        dels++;
        if ( (n = call(&k, KV_OP_GET, key, NULL, 0, r)) < 0 ||
             expect(&k, r, "GET of a deleted key", KV_ENOTFOUND, n) )
            goto out_rc;
        gets++;
    }
    ns = monotonic_clock() - t0;
    report_success("kvclient: peer=dom%d count=%lu requests=%llu puts=%llu gets=%llu "
                   "dels=%llu total_ns=%llu req_mean_ns=%llu", k.a.peer, k.a.count,
                   (unsigned long long)k.requests, (unsigned long long)puts,
                   (unsigned long long)gets, (unsigned long long)dels,
                   (unsigned long long)ns,
                   (unsigned long long)(k.requests ? ns / k.requests : 0));
    rc = 0;
    goto out;
out_rc:
    if ( n < 0 )
        rc = (int)n;
out:
    free(val);
    free(k.req);
    free(k.rep);
    ivapp_finish(&k.a);
    return rc;
}
