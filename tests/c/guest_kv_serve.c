/* Description: the kv request handler answers every op in the documented
 * framing (kv_proto.h), pages LIST replies with a cursor, and answers
 * hostile frames -- short, lengths beyond the message, trailing bytes,
 * flags, unknown ops, empty and oversized keys, values over the limit, a
 * full store -- with the right error reply, never a reply over its cap. */
#include "guest_kv.h"

#define CAP 4096

static struct kv_store s;
static uint8_t rep[CAP + 64];
static size_t rlen;

/* One request; checks the reply's framing, returns its status. */
static int call(uint8_t op, uint32_t id, const void *key, size_t klen, const void *val,
                size_t vlen)
{
    static uint8_t req[70000];
    size_t n = kv_req_header(req, op, id, (uint16_t)klen, (uint32_t)vlen);

    memcpy(req + KV_REQ_HDR, key, klen);
    memcpy(req + KV_REQ_HDR + klen, val, vlen);
    memset(rep, 0xee, sizeof(rep));
    rlen = kv_serve(&s, req, n, rep, CAP);
    CHECK(rlen >= KV_REPLY_HDR && rlen <= CAP);
    CHECK(rep[CAP] == 0xee);
    CHECK(rep[0] == op && kv_get32(rep + 4) == id);
    CHECK(kv_get32(rep + 8) == rlen - KV_REPLY_HDR);
    CHECK(kv_store_check(&s) == 0);
    return rep[1];
}

/* A raw message; returns the status. */
static int raw(const void *msg, size_t len)
{
    memset(rep, 0xee, sizeof(rep));
    rlen = kv_serve(&s, msg, len, rep, CAP);
    CHECK(rlen == KV_REPLY_HDR);
    CHECK(kv_get32(rep + 8) == 0 && kv_get16(rep + 2) == 0);
    return rep[1];
}

int main(void)
{
    uint8_t m[64], big[8192];
    char key[32];
    size_t off, vmax;
    int i, n, pages, seen;

    CHECK(kv_store_init(&s, 256 * 1024, 1 << 20) == 0);
    vmax = kv_value_limit(&s, CAP);
    CHECK(vmax == CAP - KV_REPLY_HDR);
    CHECK(kv_serve(&s, "", 0, rep, KV_REPLY_MIN - 1) == 0);

    /* the ops */
    CHECK(call(KV_OP_PUT, 1, "k", 1, "hello", 5) == KV_OK && rlen == KV_REPLY_HDR);
    CHECK(call(KV_OP_GET, 2, "k", 1, "", 0) == KV_OK && rlen == KV_REPLY_HDR + 5);
    CHECK(memcmp(rep + KV_REPLY_HDR, "hello", 5) == 0);
    CHECK(call(KV_OP_GET, 3, "nope", 4, "", 0) == KV_ENOTFOUND && rlen == KV_REPLY_HDR);
    CHECK(call(KV_OP_DEL, 4, "k", 1, "", 0) == KV_OK);
    CHECK(call(KV_OP_DEL, 5, "k", 1, "", 0) == KV_ENOTFOUND);
    CHECK(call(KV_OP_STATS, 6, "", 0, "", 0) == KV_OK);
    CHECK(rlen == KV_REPLY_HDR + 8 * KV_STAT_COUNT);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_KEYS) == 0);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_GETS) == 2);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_HITS) == 1);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_PUTS) == 1);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_DELS) == 2);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_VALUE_MAX) == vmax);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_KEY_MAX) == KV_KEY_MAX);

    /* sizes at and over the limits */
    memset(big, 'x', sizeof(big));
    CHECK(call(KV_OP_PUT, 7, "v", 1, big, vmax) == KV_OK);
    CHECK(call(KV_OP_GET, 8, "v", 1, "", 0) == KV_OK && rlen == CAP);
    CHECK(call(KV_OP_PUT, 9, "v", 1, big, vmax + 1) == KV_ETOOLARGE);
    CHECK(call(KV_OP_PUT, 10, big, KV_KEY_MAX + 1, "v", 1) == KV_ETOOLARGE);
    CHECK(call(KV_OP_GET, 11, big, KV_KEY_MAX + 1, "", 0) == KV_ETOOLARGE);
    CHECK(call(KV_OP_PUT, 12, "", 0, "v", 1) == KV_EBADKEY);
    CHECK(call(KV_OP_GET, 13, "", 0, "", 0) == KV_EBADKEY);
    CHECK(call(KV_OP_DEL, 14, "", 0, "", 0) == KV_EBADKEY);
    CHECK(call(KV_OP_GET, 15, "v", 1, "x", 1) == KV_EBADFRAME);
    CHECK(call(KV_OP_STATS, 16, "v", 1, "", 0) == KV_EBADFRAME);
    CHECK(call(KV_OP_LIST, 17, big, KV_KEY_MAX + 1, "", 0) == KV_ETOOLARGE);
    CHECK(call(KV_OP_LIST, 18, "", 0, big, KV_KEY_MAX + 1) == KV_ETOOLARGE);
    CHECK(call(0, 19, "", 0, "", 0) == KV_EBADOP);
    CHECK(call(200, 20, "k", 1, "", 0) == KV_EBADOP);

    /* hostile framing */
    CHECK(raw("", 0) == KV_EBADFRAME && rep[0] == 0 && kv_get32(rep + 4) == 0);
    CHECK(raw("\x01", 1) == KV_EBADFRAME && rep[0] == 1);
    kv_req_header(m, KV_OP_GET, 0xabcdef01, 1, 0);
    m[KV_REQ_HDR] = 'v';
    CHECK(raw(m, 8) == KV_EBADFRAME && rep[0] == KV_OP_GET && kv_get32(rep + 4) == 0xabcdef01);
    CHECK(raw(m, 11) == KV_EBADFRAME);
    CHECK(raw(m, 12) == KV_EBADFRAME);              /* key beyond the message */
    CHECK(raw(m, 14) == KV_EBADFRAME);              /* a trailing byte */
    kv_req_header(m, KV_OP_GET, 1, 0xffff, 0xffffffffu);
    CHECK(raw(m, 40) == KV_EBADFRAME);              /* lengths that wrap 32 bits */
    kv_req_header(m, KV_OP_PUT, 1, 1, 0xfffffff3u);
    CHECK(raw(m, 13) == KV_EBADFRAME);              /* 12 + 1 + vlen wraps to 13 */
    kv_req_header(m, KV_OP_GET, 1, 1, 0);
    m[1] = 0x80;
    CHECK(raw(m, 13) == KV_EBADFRAME);              /* flags */
    CHECK(call(KV_OP_STATS, 21, "", 0, "", 0) == KV_OK);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_BAD_FRAMES) == 13);
    CHECK(kv_get64(rep + KV_REPLY_HDR + 8 * KV_STAT_ERRORS) == 23);

    /* LIST pages: keys of 100 bytes, ~39 to a 4 KiB reply, 150 in all */
    for ( i = 0; i < 150; i++ )
    {
        memset(big, 'p', 100);
        n = snprintf(key, sizeof(key), "%03d", i);
        memcpy(big + 97, key, 3);
        CHECK(call(KV_OP_PUT, 100, big, 100, "v", 1) == KV_OK);
        (void)n;
    }
    CHECK(call(KV_OP_PUT, 101, "q", 1, "v", 1) == KV_OK);
    pages = seen = 0;
    m[0] = 0;
    {
        uint8_t cursor[KV_KEY_MAX];
        size_t clen = 0;

        for ( ;; )
        {
            int more;

            CHECK(call(KV_OP_LIST, 200, "p", 1, cursor, clen) == KV_OK);
            more = kv_get16(rep + 2) & KV_REPLY_MORE;
            pages++;
            for ( off = KV_REPLY_HDR; off < rlen; )
            {
                size_t kl = kv_get16(rep + off);

                CHECK(off + 2 + kl <= rlen && kl == 100);
                snprintf(key, sizeof(key), "%03d", seen);
                CHECK(memcmp(rep + off + 2 + 97, key, 3) == 0);
                memcpy(cursor, rep + off + 2, kl);
                clen = kl;
                off += 2 + kl;
                seen++;
            }
            if ( !more || pages > 10 )
                break;
        }
    }
    CHECK(seen == 150 && pages == 4);

    /* a full store: error replies, the store intact */
    kv_store_fini(&s);
    CHECK(kv_store_init(&s, KV_STORE_MIN_BUDGET, 1 << 20) == 0);
    for ( i = 0; i < 100; i++ )
    {
        snprintf(key, sizeof(key), "%02d", i);
        if ( call(KV_OP_PUT, 300, key, 2, big, 500) != KV_OK )
            break;
    }
    CHECK(rep[1] == KV_EFULL && i > 2 && i < 10);
    CHECK(call(KV_OP_GET, 301, "00", 2, "", 0) == KV_OK && rlen == KV_REPLY_HDR + 500);
    kv_store_fini(&s);
    CHECK(heap_live == 0);
    return test_result();
}
