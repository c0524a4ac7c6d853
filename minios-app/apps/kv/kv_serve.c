/* SPDX-License-Identifier: MIT */
/* The kv request handler (see kv_serve.h and kv_proto.h). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kv_serve.h"

size_t kv_value_limit(const struct kv_store *s, size_t cap)
{
    size_t room = cap > KV_REPLY_HDR ? cap - KV_REPLY_HDR : 0;

    return s->value_max < room ? s->value_max : room;
}

static size_t reply(uint8_t *rep, uint8_t op, uint8_t status, uint16_t flags, uint32_t id,
                    uint32_t plen)
{
    rep[0] = op;
    rep[1] = status;
    kv_put16(rep + 2, flags);
    kv_put32(rep + 4, id);
    kv_put32(rep + 8, plen);
    return KV_REPLY_HDR + (size_t)plen;
}

static size_t fail(struct kv_store *s, uint8_t *rep, uint8_t op, uint8_t status, uint32_t id)
{
    s->c.errors++;
    if ( status == KV_EBADFRAME || status == KV_EBADOP )
        s->c.bad_frames++;
    return reply(rep, op, status, 0, id, 0);
}

struct list_out {
    uint8_t *p;                 /* next entry */
    size_t room;
    uint32_t len;               /* payload so far */
};

static int list_one(void *arg, const uint8_t *key, size_t klen)
{
    struct list_out *o = arg;
    size_t need = KV_LIST_ENTRY_HDR + klen;

    if ( need > o->room )
        return 1;
    kv_put16(o->p, (uint16_t)klen);
    memcpy(o->p + KV_LIST_ENTRY_HDR, key, klen);
    o->p += need;
    o->room -= need;
    o->len += (uint32_t)need;
    return 0;
}

static size_t do_stats(struct kv_store *s, uint8_t *rep, uint32_t id, size_t cap)
{
    uint64_t v[KV_STAT_COUNT];
    unsigned i;

    v[KV_STAT_KEYS] = s->n;
    v[KV_STAT_BYTES_USED] = s->used;
    v[KV_STAT_BYTES_BUDGET] = s->budget;
    v[KV_STAT_KEY_MAX] = KV_KEY_MAX;
    v[KV_STAT_VALUE_MAX] = kv_value_limit(s, cap);
    v[KV_STAT_GETS] = s->c.gets;
    v[KV_STAT_HITS] = s->c.hits;
    v[KV_STAT_PUTS] = s->c.puts;
    v[KV_STAT_DELS] = s->c.dels;
    v[KV_STAT_LISTS] = s->c.lists;
    v[KV_STAT_ERRORS] = s->c.errors;
    v[KV_STAT_BAD_FRAMES] = s->c.bad_frames;
    for ( i = 0; i < KV_STAT_COUNT; i++ )
        kv_put64(rep + KV_REPLY_HDR + 8 * i, v[i]);
    return reply(rep, KV_OP_STATS, KV_OK, 0, id, 8 * KV_STAT_COUNT);
}

size_t kv_serve(struct kv_store *s, const void *reqv, size_t len, void *repv, size_t cap)
{
    const uint8_t *req = reqv, *key, *val;
    uint8_t *rep = repv;
    uint8_t op;
    uint32_t id, vlen;
    uint16_t klen;
    size_t vmax, n;
    int rc;

    if ( cap < KV_REPLY_MIN )
        return 0;
    if ( len < KV_REQ_HDR )
    {
        /* echo what the short frame holds, so its sender can match it */
        op = len >= 1 ? req[0] : 0;
        id = len >= 8 ? kv_get32(req + 4) : 0;
        return fail(s, rep, op, KV_EBADFRAME, id);
    }
    /* copy the header out once; every later decision uses the copies */
    op = req[0];
    klen = kv_get16(req + 2);
    id = kv_get32(req + 4);
    vlen = kv_get32(req + 8);
    if ( req[1] != 0 || (uint64_t)KV_REQ_HDR + klen + vlen != (uint64_t)len )
        return fail(s, rep, op, KV_EBADFRAME, id);
    key = req + KV_REQ_HDR;
    val = key + klen;
    vmax = kv_value_limit(s, cap);

    switch ( op )
    {
    case KV_OP_GET:
        s->c.gets++;
        if ( vlen )
            return fail(s, rep, op, KV_EBADFRAME, id);
        if ( klen == 0 )
            return fail(s, rep, op, KV_EBADKEY, id);
        if ( klen > KV_KEY_MAX )
            return fail(s, rep, op, KV_ETOOLARGE, id);
        if ( kv_store_get(s, key, klen, &val, &n) )
            return fail(s, rep, op, KV_ENOTFOUND, id);
        if ( n > cap - KV_REPLY_HDR )   /* stored under a larger limit */
            return fail(s, rep, op, KV_ETOOLARGE, id);
        s->c.hits++;
        memcpy(rep + KV_REPLY_HDR, val, n);
        return reply(rep, op, KV_OK, 0, id, (uint32_t)n);

    case KV_OP_PUT:
        s->c.puts++;
        if ( klen == 0 )
            return fail(s, rep, op, KV_EBADKEY, id);
        if ( klen > KV_KEY_MAX || vlen > vmax )
            return fail(s, rep, op, KV_ETOOLARGE, id);
        rc = kv_store_put(s, key, klen, val, vlen);
        if ( rc == -ENOSPC )
            return fail(s, rep, op, KV_EFULL, id);
        if ( rc )
            return fail(s, rep, op, rc == -EINVAL ? KV_EBADKEY : KV_ETOOLARGE, id);
        return reply(rep, op, KV_OK, 0, id, 0);

    case KV_OP_DEL:
        s->c.dels++;
        if ( vlen )
            return fail(s, rep, op, KV_EBADFRAME, id);
        if ( klen == 0 )
            return fail(s, rep, op, KV_EBADKEY, id);
        if ( klen > KV_KEY_MAX )
            return fail(s, rep, op, KV_ETOOLARGE, id);
        if ( kv_store_del(s, key, klen) )
            return fail(s, rep, op, KV_ENOTFOUND, id);
        return reply(rep, op, KV_OK, 0, id, 0);

    case KV_OP_LIST:
    {
        struct list_out o = { rep + KV_REPLY_HDR, cap - KV_REPLY_HDR, 0 };
        int more;

        s->c.lists++;
        if ( klen > KV_KEY_MAX || vlen > KV_KEY_MAX )
            return fail(s, rep, op, KV_ETOOLARGE, id);
        more = kv_store_list(s, key, klen, val, vlen, list_one, &o);
        return reply(rep, op, KV_OK, more ? KV_REPLY_MORE : 0, id, o.len);
    }

    case KV_OP_STATS:
        if ( klen || vlen )
            return fail(s, rep, op, KV_EBADFRAME, id);
        return do_stats(s, rep, id, cap);

    default:
        return fail(s, rep, op, KV_EBADOP, id);
    }
}
