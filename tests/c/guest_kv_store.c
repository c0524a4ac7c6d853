/* Description: the kv store engine keeps its keys sorted (bytewise,
 * shorter first), gets/replaces/deletes them, lists by prefix after a
 * cursor, stays within its byte budget (a full store and a failed
 * allocation are -ENOSPC and change nothing), refuses empty and oversized
 * keys and values, and gives every byte back. */
#include "guest_kv.h"

struct collect {
    char keys[64][32];
    int n, stop_after;
};

static int collect(void *arg, const uint8_t *key, size_t klen)
{
    struct collect *c = arg;

    if ( c->n == c->stop_after )
        return 1;
    memcpy(c->keys[c->n], key, klen);
    c->keys[c->n][klen] = 0;
    c->n++;
    return 0;
}

int main(void)
{
    struct kv_store s;
    struct collect c;
    const uint8_t *v;
    size_t vlen, used, budget;
    uint8_t big[2048];
    char key[32];
    int i, rc, n;

    CHECK(kv_store_init(&s, 100, 1024) == -EINVAL);
    CHECK(kv_store_init(&s, 1 << 20, 1024) == 0);
    CHECK(kv_store_check(&s) == 0 && s.used == 0);

    /* put, get, replace (same size in place, other size reallocated) */
    CHECK(kv_store_put(&s, K("b"), K("two")) == 0);
    CHECK(kv_store_put(&s, K("a"), K("one")) == 0);
    CHECK(kv_store_put(&s, K("ab"), K("")) == 0);
    CHECK(kv_store_get(&s, K("a"), &v, &vlen) == 0 && vlen == 3 && !memcmp(v, "one", 3));
    CHECK(kv_store_get(&s, K("ab"), &v, &vlen) == 0 && vlen == 0);
    CHECK(kv_store_get(&s, K("c"), &v, &vlen) == -ENOENT);
    CHECK(kv_store_put(&s, K("a"), K("uno")) == 0);
    CHECK(kv_store_get(&s, K("a"), &v, &vlen) == 0 && !memcmp(v, "uno", 3));
    CHECK(kv_store_put(&s, K("a"), K("first of all")) == 0);
    CHECK(kv_store_get(&s, K("a"), &v, &vlen) == 0 && vlen == 12);
    CHECK(s.n == 3 && kv_store_check(&s) == 0);

    /* binary keys: a zero byte inside is an ordinary byte */
    CHECK(kv_store_put(&s, (const uint8_t *)"a\0z", 3, K("nul")) == 0);
    CHECK(kv_store_get(&s, (const uint8_t *)"a\0z", 3, &v, &vlen) == 0 && vlen == 3);
    CHECK(kv_store_del(&s, (const uint8_t *)"a\0z", 3) == 0);

    /* limits */
    CHECK(kv_store_put(&s, (const uint8_t *)"", 0, K("x")) == -EINVAL);
    memset(big, 'k', sizeof(big));
    CHECK(kv_store_put(&s, big, KV_KEY_MAX + 1, K("x")) == -E2BIG);
    CHECK(kv_store_put(&s, big, KV_KEY_MAX, K("x")) == 0);
    CHECK(kv_store_put(&s, K("v"), big, 1025) == -E2BIG);
    CHECK(kv_store_put(&s, K("v"), big, 1024) == 0);
    CHECK(kv_store_get(&s, big, KV_KEY_MAX + 1, &v, &vlen) == -ENOENT);
    CHECK(kv_store_del(&s, big, KV_KEY_MAX) == 0 && kv_store_del(&s, K("v")) == 0);
    CHECK(kv_store_del(&s, K("v")) == -ENOENT && kv_store_del(&s, K("")) == -ENOENT);

    /* sorted, LIST by prefix after a cursor, stopping early */
    for ( i = 0; i < 20; i++ )
    {
        n = snprintf(key, sizeof(key), "k/%02d", 19 - i);
        CHECK(kv_store_put(&s, (const uint8_t *)key, (size_t)n, K("v")) == 0);
    }
    CHECK(kv_store_check(&s) == 0);
    memset(&c, 0, sizeof(c));
    c.stop_after = -1;
    CHECK(kv_store_list(&s, K(""), K(""), collect, &c) == 0);
    CHECK(c.n == 23);
    CHECK_STR(c.keys[0], "a");
    CHECK_STR(c.keys[1], "ab");
    CHECK_STR(c.keys[2], "b");
    CHECK_STR(c.keys[3], "k/00");
    memset(&c, 0, sizeof(c));
    c.stop_after = 5;
    CHECK(kv_store_list(&s, K("k/"), K(""), collect, &c) == 1);
    CHECK(c.n == 5);
    CHECK_STR(c.keys[4], "k/04");
    memset(&c, 0, sizeof(c));
    c.stop_after = -1;
    CHECK(kv_store_list(&s, K("k/"), K("k/04"), collect, &c) == 0);
    CHECK(c.n == 15);
    CHECK_STR(c.keys[0], "k/05");
    /* a cursor that is not a key, before and past the prefix */
    memset(&c, 0, sizeof(c));
    c.stop_after = -1;
    CHECK(kv_store_list(&s, K("k/"), K("k/1"), collect, &c) == 0 && c.n == 10);
    memset(&c, 0, sizeof(c));
    c.stop_after = -1;
    CHECK(kv_store_list(&s, K("k/"), K("a"), collect, &c) == 0 && c.n == 20);
    memset(&c, 0, sizeof(c));
    c.stop_after = -1;
    CHECK(kv_store_list(&s, K("k/"), K("z"), collect, &c) == 0 && c.n == 0);
    CHECK(kv_store_list(&s, K("nope"), K(""), collect, &c) == 0 && c.n == 0);
    kv_store_fini(&s);
    CHECK(heap_live == 0);

    /* the budget: fill to the brim, every PUT after is -ENOSPC and
     * changes nothing; a DEL makes room again */
    budget = 64 * 1024;
    CHECK(kv_store_init(&s, budget, 4096) == 0);
    for ( i = 0; ; i++ )
    {
        n = snprintf(key, sizeof(key), "fill%05d", i);
        rc = kv_store_put(&s, (const uint8_t *)key, (size_t)n, big, 1000);
        if ( rc )
            break;
    }
    CHECK(rc == -ENOSPC && i > 30 && s.used <= budget);
    CHECK(kv_store_check(&s) == 0);
    used = s.used;
    CHECK(kv_store_put(&s, K("fill00000"), big, 2000) == -ENOSPC);    /* grow in place */
    CHECK(kv_store_get(&s, K("fill00000"), &v, &vlen) == 0 && vlen == 1000);
    CHECK(s.used == used && kv_store_check(&s) == 0);
    CHECK(kv_store_put(&s, K("fill00000"), big, 500) == 0);          /* shrinking fits */
    CHECK(kv_store_del(&s, K("fill00001")) == 0);
    CHECK(kv_store_put(&s, K("another"), big, 1000) == 0);
    CHECK(kv_store_check(&s) == 0 && s.used <= budget);

    /* a failed allocation is -ENOSPC and changes nothing */
    used = s.used;
    CHECK(kv_store_del(&s, K("another")) == 0);
    used = s.used;
    heap_fails = 1;
    CHECK(kv_store_put(&s, K("another"), big, 10) == -ENOSPC);
    CHECK(heap_fails == 0);
    CHECK(s.used == used && kv_store_get(&s, K("another"), &v, &vlen) == -ENOENT);
    CHECK(kv_store_check(&s) == 0);

    /* deleting everything returns the index to its smallest size */
    for ( i = 0; i < 200; i++ )
    {
        n = snprintf(key, sizeof(key), "fill%05d", i);
        kv_store_del(&s, (const uint8_t *)key, (size_t)n);
    }
    CHECK(s.n == 0 && s.cap <= KV_INDEX_MIN && s.used == s.cap * sizeof(void *));
    CHECK(kv_store_check(&s) == 0);
    kv_store_fini(&s);
    CHECK(heap_live == 0);

    /* a failing index allocation: nothing stored */
    CHECK(kv_store_init(&s, budget, 4096) == 0);
    heap_fails = 2;             /* both sizes the index tries */
    CHECK(kv_store_put(&s, K("k"), K("v")) == -ENOSPC);
    CHECK(heap_fails == 0);
    CHECK(s.n == 0 && kv_store_check(&s) == 0);
    kv_store_fini(&s);
    CHECK(heap_live == 0);
    return test_result();
}
