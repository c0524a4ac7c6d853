/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the consumer side of one ring against a hostile producer.
 *
 * Input: one byte (bits 0-1: order 12..15; bit 2: stream mode), the
 * start index (u32; 8-aligned in message mode, as a consumer's private
 * index always is), then a program of operations.  The consumer runs peek/release in message and stream mode;
 * between its calls the producer either writes honestly (through a second
 * ring, so that deep states are reachable) or rewrites what a hostile peer
 * may write: its producer index, its event and counter words, message
 * headers and data bytes.
 *
 * Invariants: every call returns 0, -EAGAIN, -EPROTO or -EINVAL; a span
 * handed out lies inside the ring (ASan: the ring is exactly sized) and
 * inside what the producer published as last validated; the consumer
 * never moves past that; a message span matches the header it came from.
 */
#include "fuzz_ring.h"

enum {
    OP_MSG_PEEK, OP_MSG_RELEASE, OP_STREAM_PEEK, OP_STREAM_RELEASE,
    OP_PUBLISH, OP_ARM, OP_AVAIL,
    OP_HOSTILE_PROD, OP_HOSTILE_PROD_ADD, OP_HOSTILE_EVENT, OP_HOSTILE_HDR,
    OP_HOSTILE_DATA, OP_HONEST_MSG, OP_HONEST_STREAM, NR_OPS
};

static void check_state(const struct ivcom_ring *c)
{
    /* What we consumed (and hold) never passes the last validated prod. */
    FUZZ_CHECK((uint32_t)(c->peer - c->pvt) <= c->size, "pvt %#x peer %#x", c->pvt, c->peer);
    FUZZ_CHECK(c->pending <= (uint32_t)(c->peer - c->pvt), "pending %u beyond peer",
               c->pending);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = { data, size };
    uint8_t cfg = fin_u8(&in);
    unsigned order = 12 + (cfg & 3);
    int stream = (cfg >> 2) & 1;
    uint32_t start = fin_u32(&in) & (stream ? ~0u : ~(IVCOM_MSG_ALIGN - 1));
    struct fring fr;
    struct ivcom_ring cons, prod;
    unsigned steps = 0;
    int held = 0;       /* 1: a message peek holds a record; 2: a stream span */

    fring_init(&fr, order, start);
    fring_side(&fr, &cons, order, start);
    fring_side(&fr, &prod, order, start);

    while (fin_more(&in) && steps++ < 4096) {
        const void *buf = NULL;
        size_t len = 0;
        uint32_t before = cons.pvt, pending_before = cons.pending;
        unsigned op = fin_u8(&in) % NR_OPS;
        int r;

        /* One mode per ring, as in a channel. */
        if (stream && op == OP_MSG_PEEK)
            op = OP_STREAM_PEEK;
        else if (stream && op == OP_MSG_RELEASE)
            op = OP_STREAM_RELEASE;
        else if (stream && op == OP_HONEST_MSG)
            op = OP_HONEST_STREAM;
        else if (!stream && op == OP_STREAM_PEEK)
            op = OP_MSG_PEEK;
        else if (!stream && op == OP_STREAM_RELEASE)
            op = OP_MSG_RELEASE;
        else if (!stream && op == OP_HONEST_STREAM)
            op = OP_HONEST_MSG;
        switch (op) {
        case OP_MSG_PEEK:
            r = ivcom_ring_msg_peek(&cons, &buf, &len);
            FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EPROTO, "msg peek gave %d", r);
            if (r == 0) {
                struct ivcom_msg_hdr h;
                const uint8_t *hp = (const uint8_t *)buf - sizeof(h);

                FUZZ_CHECK(fring_inside(&fr, hp, ivcom_msg_record((uint32_t)len)),
                           "record of %zu bytes outside the ring", len);
                FUZZ_CHECK(hp == fr.data + (cons.pvt & cons.mask), "span not at cons");
                FUZZ_CHECK(len <= ivcom_ring_max_msg(&cons), "len %zu too big", len);
                FUZZ_CHECK(cons.pending == ivcom_msg_record((uint32_t)len), "pending");
                memcpy(&h, hp, sizeof(h));
                FUZZ_CHECK(h.type == IVCOM_MSG_DATA && h.len == len && h.reserved == 0,
                           "span does not match its header");
                /* PAD records skipped + this record: all within what the
                 * producer published. */
                FUZZ_CHECK((uint32_t)(cons.pvt - before) + cons.pending <=
                           (uint32_t)(cons.peer - before), "record beyond prod");
                fuzz_touch(buf, len);
                held = 1;
            } else {
                held = 0;
                cons.pending = 0;
            }
            break;
        case OP_MSG_RELEASE:
            if (held == 1)
                ivcom_ring_msg_release(&cons);
            held = 0;
            break;
        case OP_STREAM_PEEK:
            r = ivcom_ring_stream_peek(&cons, &buf, &len);
            FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EPROTO, "stream peek gave %d", r);
            if (r == 0) {
                FUZZ_CHECK(len > 0 && fring_inside(&fr, buf, len), "span outside the ring");
                FUZZ_CHECK(buf == fr.data + (cons.pvt & cons.mask), "span not at cons");
                FUZZ_CHECK(len <= (uint32_t)(cons.peer - cons.pvt), "span beyond prod");
                fuzz_touch(buf, len);
                held = 2;
            } else {
                held = 0;
            }
            break;
        case OP_STREAM_RELEASE: {
            uint32_t want = fin_u16(&in);

            if (held != 2)
                break;
            r = ivcom_ring_stream_release(&cons, want);
            FUZZ_CHECK(r == 0 || r == -EINVAL, "stream release gave %d", r);
            FUZZ_CHECK(r == 0 ? want <= pending_before : want > pending_before,
                       "release of %u (held %u): %d", want, pending_before, r);
            FUZZ_CHECK(cons.pvt - before == (r == 0 ? want : 0), "release moved pvt");
            held = 0;
            break;
        }
        case OP_PUBLISH:
            r = ivcom_ring_cons_publish(&cons);
            FUZZ_CHECK(r == 0 || r == 1, "publish gave %d", r);
            FUZZ_CHECK(fr.cl->cons == cons.pvt, "published cons %#x, pvt %#x",
                       fr.cl->cons, cons.pvt);
            break;
        case OP_ARM:
            ivcom_ring_cons_arm(&cons);
            FUZZ_CHECK(fr.cl->prod_event == cons.pvt + 1, "prod_event");
            break;
        case OP_AVAIL: {
            int64_t n = ivcom_ring_avail(&cons);

            FUZZ_CHECK(n == -EPROTO || (n >= 0 && n <= cons.size), "avail %lld", (long long)n);
            break;
        }
        case OP_HOSTILE_PROD:
            fr.pl->prod = fin_u32(&in);
            break;
        case OP_HOSTILE_PROD_ADD:
            fr.pl->prod += (int16_t)fin_u16(&in);
            break;
        case OP_HOSTILE_EVENT:
            switch (fin_u8(&in) & 3) {
            case 0: fr.pl->cons_event = fin_u32(&in); break;
            case 1: fr.pl->notify_count = fin_u32(&in); break;
            case 2: fr.pl->wait_count = fin_u32(&in); break;
            default: fin_bytes(&in, fr.pl->pad, fin_u8(&in) % sizeof(fr.pl->pad)); break;
            }
            break;
        case OP_HOSTILE_HDR: {
            uint32_t off = fin_u8(&in) & 1 ? cons.pvt : fin_u32(&in);
            uint32_t hl = fin_u32(&in);
            uint16_t type = fin_u16(&in), res = fin_u16(&in);

            fring_put_hdr(&fr, off, hl, type, res);
            break;
        }
        case OP_HOSTILE_DATA:
            fring_poke(&fr, &in);
            break;
        case OP_HONEST_MSG: {
            void *dst;
            uint32_t want = fin_u16(&in) % (prod.size + 16);

            /* The honest producer resyncs with whatever prod says now (its
             * private index is 8-aligned in message mode). */
            prod.pvt = prod.published = fr.pl->prod & ~(IVCOM_MSG_ALIGN - 1);
            prod.peer = fr.cl->cons;
            r = ivcom_ring_msg_reserve(&prod, want, &dst);
            if (r == 0) {
                memset(dst, 0x5a, want);
                ivcom_ring_msg_commit(&prod);
            }
            ivcom_ring_prod_publish(&prod);
            break;
        }
        case OP_HONEST_STREAM: {
            void *dst;
            size_t span;
            prod.pvt = prod.published = fr.pl->prod;
            prod.peer = fr.cl->cons;
            uint32_t want = 1u + fin_u16(&in);

            if (ivcom_ring_stream_reserve(&prod, &dst, &span) == 0) {
                span = span < want ? span : want;
                memset(dst, 0xa5, span);
                ivcom_ring_stream_commit(&prod, span);
            }
            ivcom_ring_prod_publish(&prod);
            break;
        }
        }
        check_state(&cons);
    }
    fring_free(&fr);
    return 0;
}
