/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: message framing as the consumer parses it, on arbitrary
 * ring contents and indexes.
 *
 * Input: order (1 byte, 12..14), the consumer's index (u32, 8-aligned as a
 * consumer's private index always is), the producer index as last
 * validated (u32), the producer index now in shared memory (u32), then the
 * ring bytes (the rest of the input, repeated to fill the ring; zeros if
 * none).  ivcom_ring_msg_peek/release run until the ring says -EAGAIN or
 * -EPROTO.
 *
 * Invariants: the result is 0, -EAGAIN or -EPROTO; every message handed
 * out lies in the ring (ASan: exactly sized), starts at the consumer
 * index after zero or more whole PAD records, matches its header, and
 * ends at or before the validated producer index (the one we started
 * from, or prod once it checked out); -EAGAIN only when prod equals our
 * index -- an impossible prod is -EPROTO, never a silent stall; the walk
 * ends (each step moves forward).
 */
#include "fuzz_ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fin in = { data, size };
    unsigned order = 12 + fin_u8(&in) % 3;
    uint32_t cons_idx = fin_u32(&in) & ~(IVCOM_MSG_ALIGN - 1);
    uint32_t seen = fin_u32(&in), prod_now = fin_u32(&in);
    struct fring fr;
    struct ivcom_ring r;
    uint32_t i, seen_at;
    unsigned steps;

    fring_init(&fr, order, cons_idx);
    if (in.n) {
        for (i = 0; i < fr.size; i++)
            fr.data[i] = in.p[i % in.n];
    } else {
        memset(fr.data, 0, fr.size);
    }
    fring_side(&fr, &r, order, cons_idx);
    /* The validated producer index lies in [pvt, pvt + size] by
     * construction (the ring only ever stores a validated value). */
    r.peer = seen_at = cons_idx + seen % (fr.size + 1);
    fr.pl->prod = prod_now;
    for (steps = 0; steps <= fr.size / IVCOM_MSG_ALIGN + 1; steps++) {
        const void *buf;
        size_t len;
        uint32_t before = r.pvt;
        int rc = ivcom_ring_msg_peek(&r, &buf, &len);

        FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO, "peek gave %d", rc);
        /* The only producer index ever trusted: the validated one we
         * started from, or prod once it checked out against pvt. */
        FUZZ_CHECK(r.peer == seen_at || r.peer == prod_now, "peer %#x from nowhere", r.peer);
        FUZZ_CHECK((uint32_t)(r.peer - r.pvt) <= r.size, "pvt %#x passed peer %#x",
                   r.pvt, r.peer);
        /* "Nothing yet" only when prod really equals our index: an
         * impossible prod is -EPROTO, never a silent stall. */
        if (rc == -EAGAIN)
            FUZZ_CHECK(prod_now == r.pvt, "-EAGAIN with prod %#x, pvt %#x", prod_now, r.pvt);
        if (rc != 0)
            break;
        {
            const uint8_t *hp = (const uint8_t *)buf - sizeof(struct ivcom_msg_hdr);
            uint32_t rec = ivcom_msg_record((uint32_t)len), at = before;
            struct ivcom_msg_hdr h;

            FUZZ_CHECK(fring_inside(&fr, hp, rec), "record of %zu outside the ring", len);
            FUZZ_CHECK(hp == fr.data + (r.pvt & r.mask), "record not at pvt");
            memcpy(&h, hp, sizeof(h));
            FUZZ_CHECK(h.type == IVCOM_MSG_DATA && h.reserved == 0 && h.len == len,
                       "span does not match its header");
            FUZZ_CHECK(rec <= (uint32_t)(r.peer - r.pvt),
                       "record ends beyond prod (pvt %#x rec %u peer %#x)",
                       r.pvt, rec, r.peer);
            /* What was skipped is a chain of PAD records, each reaching
             * the ring end. */
            while (at != r.pvt) {
                uint32_t off = at & r.mask;

                memcpy(&h, fr.data + off, sizeof(h));
                FUZZ_CHECK(h.type == IVCOM_MSG_PAD && h.len == r.size - off - sizeof(h),
                           "skipped a non-PAD record at %#x", at);
                at += r.size - off;
                FUZZ_CHECK((uint32_t)(r.pvt - at) < (uint32_t)(r.pvt - before) + 1,
                           "PAD chain overshot");
            }
            fuzz_touch(buf, len);
            ivcom_ring_msg_release(&r);
            FUZZ_CHECK(r.pvt != before, "no progress");
        }
    }
    fring_free(&fr);
    return 0;
}
