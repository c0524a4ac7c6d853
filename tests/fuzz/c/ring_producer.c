/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the producer side of one ring against a hostile consumer.
 *
 * Input: one byte (bits 0-1: order 12..15; bit 2: stream mode), the start
 * index (u32; 8-aligned in message mode), then a program of operations.
 * The producer reserves, writes the whole span, commits and publishes;
 * between its calls the consumer either consumes honestly (a second ring)
 * or rewrites what a hostile peer may write: its consumer index, its
 * event and counter words, and ring bytes.
 *
 * Invariants: every call returns 0, -EAGAIN, -EMSGSIZE, -EPROTO or
 * -EINVAL; a reserved span lies inside the ring (ASan: exactly sized) and
 * inside the space the consumer freed as last validated, so the producer
 * never overwrites what the consumer has not released; a message record
 * never wraps; publishing stores exactly our private index.
 */
#include "fuzz_ring.h"

enum {
    OP_MSG_RESERVE, OP_MSG_COMMIT, OP_STREAM_RESERVE, OP_STREAM_COMMIT,
    OP_PUBLISH, OP_ARM, OP_FREE,
    OP_HOSTILE_CONS, OP_HOSTILE_CONS_ADD, OP_HOSTILE_EVENT, OP_HOSTILE_DATA,
    OP_HONEST_CONSUME, NR_OPS
};

static void check_state(const struct ivcom_ring *p)
{
    /* Produced but not yet released by the consumer: at most the ring. */
    FUZZ_CHECK((uint32_t)(p->pvt - p->peer) <= p->size, "pvt %#x peer %#x", p->pvt, p->peer);
    FUZZ_CHECK((uint32_t)(p->pvt - p->peer) + p->pending <= p->size,
               "reservation of %u overruns the consumer (pvt %#x peer %#x)",
               p->pending, p->pvt, p->peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = { data, size };
    uint8_t cfg = fin_u8(&in);
    unsigned order = 12 + (cfg & 3);
    int stream = (cfg >> 2) & 1;
    uint32_t start = fin_u32(&in) & (stream ? ~0u : ~(IVCOM_MSG_ALIGN - 1));
    struct fring fr;
    struct ivcom_ring prod, cons;
    unsigned steps = 0;
    int held = 0;

    fring_init(&fr, order, start);
    fring_side(&fr, &prod, order, start);
    fring_side(&fr, &cons, order, start);

    while (fin_more(&in) && steps++ < 4096) {
        void *buf = NULL;
        size_t len = 0;
        uint32_t before = prod.pvt;
        unsigned op = fin_u8(&in) % NR_OPS;
        int r;

        if (stream && op == OP_MSG_RESERVE)
            op = OP_STREAM_RESERVE;
        else if (stream && op == OP_MSG_COMMIT)
            op = OP_STREAM_COMMIT;
        else if (!stream && op == OP_STREAM_RESERVE)
            op = OP_MSG_RESERVE;
        else if (!stream && op == OP_STREAM_COMMIT)
            op = OP_MSG_COMMIT;
        switch (op) {
        case OP_MSG_RESERVE: {
            size_t want = fin_u16(&in);

            if (fin_u8(&in) == 0xff)
                want = fin_u32(&in);            /* way beyond the ring */
            prod.pending = 0;
            r = ivcom_ring_msg_reserve(&prod, want, &buf);
            FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EMSGSIZE || r == -EPROTO,
                       "msg reserve gave %d", r);
            FUZZ_CHECK((r == -EMSGSIZE) == (want > ivcom_ring_max_msg(&prod)),
                       "reserve of %zu gave %d", want, r);
            if (r == 0) {
                uint8_t *hp = (uint8_t *)buf - sizeof(struct ivcom_msg_hdr);

                FUZZ_CHECK(prod.pending == ivcom_msg_record((uint32_t)want), "pending");
                FUZZ_CHECK(fring_inside(&fr, hp, prod.pending), "record outside the ring");
                FUZZ_CHECK(hp == fr.data + (prod.pvt & prod.mask), "record not at pvt");
                memset(buf, 0x3c, want);
                held = 1;
            } else {
                FUZZ_CHECK(r != -EAGAIN || prod.need > 0, "-EAGAIN without need");
                held = 0;
            }
            /* A PAD record may have been laid: the skip is whole. */
            FUZZ_CHECK(prod.pvt == before || (prod.pvt & prod.mask) == 0,
                       "pvt moved to %#x without a PAD", prod.pvt);
            break;
        }
        case OP_MSG_COMMIT:
            if (held == 1)
                ivcom_ring_msg_commit(&prod);
            held = 0;
            break;
        case OP_STREAM_RESERVE:
            prod.pending = 0;
            r = ivcom_ring_stream_reserve(&prod, &buf, &len);
            FUZZ_CHECK(r == 0 || r == -EAGAIN || r == -EPROTO, "stream reserve gave %d", r);
            if (r == 0) {
                FUZZ_CHECK(len > 0 && fring_inside(&fr, buf, len), "span outside the ring");
                FUZZ_CHECK(buf == fr.data + (prod.pvt & prod.mask), "span not at pvt");
                memset(buf, 0xc3, len);
                held = 2;
            } else {
                held = 0;
            }
            break;
        case OP_STREAM_COMMIT: {
            uint32_t want = fin_u16(&in), had = prod.pending;

            if (held != 2)
                break;
            r = ivcom_ring_stream_commit(&prod, want);
            FUZZ_CHECK(r == 0 ? want <= had : (r == -EINVAL && want > had),
                       "commit %u of %u gave %d", want, had, r);
            held = 0;
            break;
        }
        case OP_PUBLISH:
            r = ivcom_ring_prod_publish(&prod);
            FUZZ_CHECK(r == 0 || r == 1, "publish gave %d", r);
            FUZZ_CHECK(fr.pl->prod == prod.pvt || prod.pvt == prod.published,
                       "published prod %#x, pvt %#x", fr.pl->prod, prod.pvt);
            break;
        case OP_ARM: {
            uint32_t need = 1 + fin_u16(&in) % prod.size;

            ivcom_ring_prod_arm(&prod, need);
            FUZZ_CHECK(fr.pl->cons_event == prod.pvt + need - prod.size, "cons_event");
            break;
        }
        case OP_FREE: {
            int64_t n = ivcom_ring_free(&prod);

            FUZZ_CHECK(n == -EPROTO || (n >= 0 && n <= prod.size), "free %lld", (long long)n);
            break;
        }
        case OP_HOSTILE_CONS:
            fr.cl->cons = fin_u32(&in);
            break;
        case OP_HOSTILE_CONS_ADD:
            fr.cl->cons += (int16_t)fin_u16(&in);
            break;
        case OP_HOSTILE_EVENT:
            switch (fin_u8(&in) & 3) {
            case 0: fr.cl->prod_event = fin_u32(&in); break;
            case 1: fr.cl->notify_count = fin_u32(&in); break;
            case 2: fr.cl->wait_count = fin_u32(&in); break;
            default: fin_bytes(&in, fr.cl->pad, fin_u8(&in) % sizeof(fr.cl->pad)); break;
            }
            break;
        case OP_HOSTILE_DATA:
            fring_poke(&fr, &in);
            break;
        case OP_HONEST_CONSUME: {
            const void *src;
            size_t n;

            /* Consume what was published, honestly, from the shared cons. */
            cons.pvt = cons.published = fr.cl->cons;
            cons.peer = cons.pvt;
            if (stream) {
                uint32_t want = 1u + fin_u16(&in);

                if (ivcom_ring_stream_peek(&cons, &src, &n) == 0)
                    ivcom_ring_stream_release(&cons, n < want ? n : want);
            } else if ((cons.pvt & (IVCOM_MSG_ALIGN - 1)) == 0 &&
                       ivcom_ring_msg_peek(&cons, &src, &n) == 0) {
                ivcom_ring_msg_release(&cons);
            }
            ivcom_ring_cons_publish(&cons);
            break;
        }
        }
        check_state(&prod);
    }
    fring_free(&fr);
    return 0;
}
