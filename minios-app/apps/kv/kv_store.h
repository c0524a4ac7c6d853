/* SPDX-License-Identifier: MIT */
/*
 * The kv store engine: keys and values in memory, bounded by a byte
 * budget.  Freestanding: it needs malloc/free and memcpy/memmove/memcmp
 * only, so the same file builds into the tiny guest's kv app and into
 * ivcom-kv on Linux.
 *
 * Keys are kept in one array sorted bytewise (shorter first on a tie):
 * binary search for GET/PUT/DEL, a contiguous walk for LIST.  Every entry
 * is one allocation (header + key + value).  What the budget is charged:
 * each entry's allocation rounded up to 16 bytes plus KV_ENTRY_OVERHEAD
 * (the heap's header and the index slot), and the index array itself.
 * A PUT that would go over the budget, or whose allocation fails, is
 * -ENOSPC and changes nothing.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stddef.h>
#include <stdint.h>

#define KV_ENTRY_OVERHEAD   24u
#define KV_INDEX_MIN        16u

struct kv_entry;

struct kv_counters {
    uint64_t gets, hits, puts, dels, lists, errors, bad_frames;
};

struct kv_store {
    struct kv_entry **idx;      /* sorted by key */
    size_t n, cap;              /* entries, index slots */
    size_t used;                /* bytes charged */
    size_t budget;
    uint32_t value_max;
    struct kv_counters c;       /* kept by kv_serve() */
};

/* budget: bytes the store may take (at least KV_STORE_MIN_BUDGET);
 * value_max: largest value.  0 or -EINVAL. */
#define KV_STORE_MIN_BUDGET 4096u
int  kv_store_init(struct kv_store *s, size_t budget, uint32_t value_max);
/* Frees every entry and the index. */
void kv_store_fini(struct kv_store *s);

/* 0 and the value (valid until the next PUT/DEL of any key), or -ENOENT. */
int  kv_store_get(const struct kv_store *s, const uint8_t *key, size_t klen,
                  const uint8_t **val, size_t *vlen);
/* 0, -EINVAL (empty key), -E2BIG (key or value over its limit), -ENOSPC
 * (over the budget or out of memory: nothing changed). */
int  kv_store_put(struct kv_store *s, const uint8_t *key, size_t klen,
                  const uint8_t *val, size_t vlen);
/* 0 or -ENOENT. */
int  kv_store_del(struct kv_store *s, const uint8_t *key, size_t klen);

/* LIST: the keys starting with prefix that sort after cursor (clen 0:
 * from the first), ascending.  fn returns 0 to go on, anything else to
 * stop; kv_store_list returns 1 if it stopped with keys left over (the
 * key fn refused included), else 0. */
typedef int (*kv_list_fn)(void *arg, const uint8_t *key, size_t klen);
int  kv_store_list(const struct kv_store *s, const uint8_t *prefix, size_t plen,
                   const uint8_t *cursor, size_t clen, kv_list_fn fn, void *arg);

/* What an entry of these sizes is charged (for tests and sizing). */
size_t kv_store_charge(size_t klen, size_t vlen);

/* Consistency check (tests, fuzzing): 0, or a negative code naming the
 * first broken invariant (order, accounting, bounds). */
int  kv_store_check(const struct kv_store *s);

#endif /* KV_STORE_H */
