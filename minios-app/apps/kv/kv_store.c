/* SPDX-License-Identifier: MIT */
/* The kv store engine (see kv_store.h): freestanding, bounded by a budget. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv_proto.h"
#include "kv_store.h"

struct kv_entry {
    uint32_t vlen;
    uint16_t klen;
    uint8_t  data[];            /* key, then value */
};

#define KV_ALIGN(x)  (((x) + 15u) & ~(size_t)15u)

size_t kv_store_charge(size_t klen, size_t vlen)
{
    return KV_ALIGN(sizeof(struct kv_entry) + klen + vlen) + KV_ENTRY_OVERHEAD;
}

static size_t entry_charge(const struct kv_entry *e)
{
    return kv_store_charge(e->klen, e->vlen);
}

/* Bytewise, shorter first on a common prefix. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if ( c )
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* The first index whose key is >= key (n if none); *found if equal. */
static size_t lower_bound(const struct kv_store *s, const uint8_t *key, size_t klen,
                          int *found)
{
    size_t lo = 0, hi = s->n;

    while ( lo < hi )
    {
        size_t mid = lo + (hi - lo) / 2;
        const struct kv_entry *e = s->idx[mid];

        if ( key_cmp(e->data, e->klen, key, klen) < 0 )
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n &&
             key_cmp(s->idx[lo]->data, s->idx[lo]->klen, key, klen) == 0;
    return lo;
}

int kv_store_init(struct kv_store *s, size_t budget, uint32_t value_max)
{
    if ( !s || budget < KV_STORE_MIN_BUDGET )
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->budget = budget;
    s->value_max = value_max;
    return 0;
}

void kv_store_fini(struct kv_store *s)
{
    size_t i;

    if ( !s )
        return;
    for ( i = 0; i < s->n; i++ )
        free(s->idx[i]);
    free(s->idx);
    s->idx = NULL;
    s->n = s->cap = 0;
    s->used = 0;
}

int kv_store_get(const struct kv_store *s, const uint8_t *key, size_t klen,
                 const uint8_t **val, size_t *vlen)
{
    const struct kv_entry *e;
    size_t i;
    int found;

    if ( klen == 0 || klen > KV_KEY_MAX )
        return -ENOENT;
    i = lower_bound(s, key, klen, &found);
    if ( !found )
        return -ENOENT;
    e = s->idx[i];
    *val = e->data + e->klen;
    *vlen = e->vlen;
    return 0;
}

/* Room for one more index slot, within `room` bytes of budget (already
 * net of the entry being added).  0 or -ENOSPC. */
static int index_grow(struct kv_store *s, size_t room)
{
    size_t want[2], k;

    if ( s->n < s->cap )
        return 0;
    want[0] = s->cap ? s->cap * 2 : KV_INDEX_MIN;
    want[1] = s->cap + KV_INDEX_MIN;
    for ( k = 0; k < 2; k++ )
    {
        size_t extra = (want[k] - s->cap) * sizeof(*s->idx);
        struct kv_entry **ni;

        if ( extra > room )
            continue;
        ni = realloc(s->idx, want[k] * sizeof(*s->idx));
        if ( !ni )
            continue;
        s->idx = ni;
        s->used += extra;
        s->cap = want[k];
        return 0;
    }
    return -ENOSPC;
}

/* Give back half the index once it is three quarters empty. */
static void index_shrink(struct kv_store *s)
{
    size_t ncap = s->cap / 2;
    struct kv_entry **ni;

    if ( s->cap <= KV_INDEX_MIN || s->n > s->cap / 4 )
        return;
    if ( ncap < KV_INDEX_MIN )
        ncap = KV_INDEX_MIN;
    ni = realloc(s->idx, ncap * sizeof(*s->idx));
    if ( !ni )
        return;                 /* the larger index stays, still charged */
    s->idx = ni;
    s->used -= (s->cap - ncap) * sizeof(*s->idx);
    s->cap = ncap;
}

int kv_store_put(struct kv_store *s, const uint8_t *key, size_t klen,
                 const uint8_t *val, size_t vlen)
{
    struct kv_entry *e, *old = NULL;
    size_t i, charge, room;
    int found;

    if ( klen == 0 )
        return -EINVAL;
    if ( klen > KV_KEY_MAX || vlen > s->value_max )
        return -E2BIG;
    i = lower_bound(s, key, klen, &found);
    if ( found )
    {
        old = s->idx[i];
        if ( old->vlen == vlen )
        {
            /* same size: in place, nothing to charge */
            memcpy(old->data + klen, val, vlen);
            return 0;
        }
    }
    charge = kv_store_charge(klen, vlen);
    /* used <= budget always; the old entry's charge comes back */
    room = s->budget - s->used + (old ? entry_charge(old) : 0);
    if ( charge > room )
        return -ENOSPC;
    if ( !old && index_grow(s, room - charge) )
        return -ENOSPC;
    e = malloc(sizeof(*e) + klen + vlen);
    if ( !e )
        return -ENOSPC;
    e->klen = (uint16_t)klen;
    e->vlen = (uint32_t)vlen;
    memcpy(e->data, key, klen);
    memcpy(e->data + klen, val, vlen);
    if ( old )
    {
        s->used -= entry_charge(old);
        free(old);
    }
    else
    {
        memmove(&s->idx[i + 1], &s->idx[i], (s->n - i) * sizeof(*s->idx));
        s->n++;
    }
    s->idx[i] = e;
    s->used += charge;
    return 0;
}

int kv_store_del(struct kv_store *s, const uint8_t *key, size_t klen)
{
    size_t i;
    int found;

    if ( klen == 0 || klen > KV_KEY_MAX )
        return -ENOENT;
    i = lower_bound(s, key, klen, &found);
    if ( !found )
        return -ENOENT;
    s->used -= entry_charge(s->idx[i]);
    free(s->idx[i]);
    memmove(&s->idx[i], &s->idx[i + 1], (s->n - i - 1) * sizeof(*s->idx));
    s->n--;
    index_shrink(s);
    return 0;
}

int kv_store_list(const struct kv_store *s, const uint8_t *prefix, size_t plen,
                  const uint8_t *cursor, size_t clen, kv_list_fn fn, void *arg)
{
    size_t i;
    int found;

    i = lower_bound(s, prefix, plen, &found);
    if ( clen )
    {
        size_t j = lower_bound(s, cursor, clen, &found);

        if ( found )
            j++;                /* strictly after the cursor */
        if ( j > i )
            i = j;
    }
    for ( ; i < s->n; i++ )
    {
        const struct kv_entry *e = s->idx[i];

        if ( e->klen < plen || memcmp(e->data, prefix, plen) )
            break;              /* sorted: no later key has the prefix */
        if ( fn(arg, e->data, e->klen) )
            return 1;
    }
    return 0;
}

int kv_store_check(const struct kv_store *s)
{
    size_t i, used = s->cap * sizeof(*s->idx);

    if ( s->n > s->cap || (s->cap && !s->idx) )
        return -1;
    for ( i = 0; i < s->n; i++ )
    {
        const struct kv_entry *e = s->idx[i];

        if ( e->klen == 0 || e->klen > KV_KEY_MAX || e->vlen > s->value_max )
            return -2;
        if ( i && key_cmp(s->idx[i - 1]->data, s->idx[i - 1]->klen, e->data, e->klen) >= 0 )
            return -3;
        used += entry_charge(e);
    }
    if ( used != s->used )
        return -4;
    if ( s->used > s->budget )
        return -5;
    return 0;
}
