/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the kv service's request handler (minios-app/apps/kv:
 * kv_serve.c over kv_store.c) on any sequence of request messages.
 *
 * Input: budget (u8: 4 KiB .. 1 MiB), reply cap (u8: KV_REPLY_MIN .. 8 KiB),
 * then records until the input ends.  A record's first byte picks its
 * shape: bit 7 set, a raw message (u16 length, then that many bytes, the
 * rest zeros); else a well-formed request of op (byte % 7: GET PUT DEL
 * LIST STATS and two unknown ops) with a key from a small alphabet (u8
 * length, 0..KV_KEY_MAX + 8) and a value (u16 length, filled with a byte
 * of the input).
 *
 * Invariants: every reply is at least a header and at most cap bytes,
 * its length field matches, its status is a known one; a request with a
 * whole header gets its op and id back; error replies carry no payload;
 * a LIST reply is a whole number of entries, each with the prefix, in
 * ascending order; the store stays consistent (kv_store_check) and within
 * its budget after every request; a PUT answered OK is read back by GET
 * with the same bytes; everything is freed at the end (LeakSanitizer).
 */
#include <errno.h>

#include "fuzz_input.h"
#include "kv_serve.h"

#define CAP_MAX 8192

static uint8_t req[KV_REQ_HDR + 65536 + 1024];
static uint8_t rep[CAP_MAX + 16];

static size_t check_reply(struct kv_store *s, const uint8_t *q, size_t qlen, size_t cap)
{
    size_t rlen = kv_serve(s, q, qlen, rep, cap);
    uint8_t st = rep[1];

    FUZZ_CHECK(rlen >= KV_REPLY_HDR && rlen <= cap, "reply of %zu bytes, cap %zu", rlen, cap);
    FUZZ_CHECK(kv_get32(rep + 8) == rlen - KV_REPLY_HDR, "reply length field %u vs %zu",
               kv_get32(rep + 8), rlen);
    FUZZ_CHECK(st <= KV_EBADKEY, "status %u", st);
    if (qlen >= KV_REQ_HDR)
        FUZZ_CHECK(rep[0] == q[0] && kv_get32(rep + 4) == kv_get32(q + 4), "op/id not echoed");
    if (st != KV_OK)
        FUZZ_CHECK(rlen == KV_REPLY_HDR && kv_get16(rep + 2) == 0, "error with a payload");
    FUZZ_CHECK(kv_store_check(s) == 0, "store inconsistent: %d", kv_store_check(s));
    FUZZ_CHECK(s->used <= s->budget, "used %zu over budget %zu", s->used, s->budget);
    if (st == KV_OK && rep[0] == KV_OP_LIST) {
        size_t off = KV_REPLY_HDR, plen = kv_get16(q + 2);
        const uint8_t *prev = NULL;
        size_t prevlen = 0;

        while (off < rlen) {
            size_t kl;

            FUZZ_CHECK(off + 2 <= rlen, "LIST entry header cut");
            kl = kv_get16(rep + off);
            FUZZ_CHECK(kl >= 1 && off + 2 + kl <= rlen, "LIST entry of %zu cut", kl);
            FUZZ_CHECK(kl >= plen && !memcmp(rep + off + 2, q + KV_REQ_HDR, plen),
                       "LIST key without the prefix");
            if (prev) {
                size_t m = kl < prevlen ? kl : prevlen;
                int c = memcmp(prev, rep + off + 2, m);

                FUZZ_CHECK(c < 0 || (c == 0 && prevlen < kl), "LIST out of order");
            }
            prev = rep + off + 2;
            prevlen = kl;
            off += 2 + kl;
        }
    }
    return rlen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char alpha[] = "ab/\0z";
    struct fin in = { data, size };
    size_t budget = KV_STORE_MIN_BUDGET + (size_t)fin_u8(&in) * 4096;
    size_t cap = KV_REPLY_MIN + (size_t)fin_u8(&in) * (CAP_MAX - KV_REPLY_MIN) / 255;
    struct kv_store s;
    unsigned steps = 0;

    if (kv_store_init(&s, budget, 65536) != 0)
        abort();
    while (fin_more(&in) && steps++ < 4096) {
        uint8_t kind = fin_u8(&in);
        size_t qlen;

        if (kind & 0x80) {
            qlen = fin_u16(&in) % (sizeof(req) + 1);
            fin_bytes(&in, req, qlen);
            check_reply(&s, req, qlen, cap);
            continue;
        }
        {
            static const uint8_t ops[7] = { KV_OP_GET, KV_OP_PUT, KV_OP_DEL, KV_OP_LIST,
                                            KV_OP_STATS, 0, 6 };
            uint8_t op = ops[kind % 7];
            size_t klen = fin_u8(&in) % (KV_KEY_MAX + 9), vlen, i;
            uint8_t fill;

            if (klen > 255)
                klen = KV_KEY_MAX + (klen & 7);   /* around the limit */
            vlen = fin_u16(&in);
            fill = fin_u8(&in);
            if (op == KV_OP_GET || op == KV_OP_DEL || op == KV_OP_STATS)
                vlen = (kind & 0x40) ? vlen % 4 : 0;
            if (op == KV_OP_LIST)
                vlen %= KV_KEY_MAX + 4;
            if (op == KV_OP_PUT && !(kind & 0x40))
                vlen %= cap + 16;               /* around the value limit */
            if (op == KV_OP_STATS && !(kind & 0x40))
                klen = 0;
            for (i = 0; i < klen; i++)
                req[KV_REQ_HDR + i] = (uint8_t)alpha[fin_u8(&in) % 5];
            memset(req + KV_REQ_HDR + klen, fill, vlen);
            qlen = kv_req_header(req, op, (uint32_t)steps, (uint16_t)klen, (uint32_t)vlen);
            check_reply(&s, req, qlen, cap);
            if (op == KV_OP_PUT && rep[1] == KV_OK) {
                /* read it back */
                uint8_t get[KV_REQ_HDR + KV_KEY_MAX];
                size_t glen = kv_req_header(get, KV_OP_GET, 7, (uint16_t)klen, 0);

                memcpy(get + KV_REQ_HDR, req + KV_REQ_HDR, klen);
                check_reply(&s, get, glen, cap);
                FUZZ_CHECK(rep[1] == KV_OK && kv_get32(rep + 8) == vlen &&
                           !memcmp(rep + KV_REPLY_HDR, req + KV_REQ_HDR + klen, vlen),
                           "PUT not read back");
            }
        }
    }
    kv_store_fini(&s);
    return 0;
}
