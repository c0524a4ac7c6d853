/* SPDX-License-Identifier: MIT */
/* Description: every impossible value a peer can write -- producer index
 * beyond the ring, backwards indexes, consumer index past the producer,
 * header lengths beyond the ring or the fill level, bad types, bad PAD --
 * is -EPROTO, with no out-of-bounds access (run under ASan). */
#include "helpers.h"
#include "ring_harness.h"

static struct harness h;

static void fresh_at(uint32_t start)
{
    harness_free(&h);
    harness_init(&h, 12, start);
}

static void fresh(void)
{
    fresh_at(96);
}

static void put(size_t len)
{
    void *w;
    T_EQ(ivcom_ring_msg_reserve(&h.prod, len, &w), 0);
    memset(w, 1, len);
    ivcom_ring_msg_commit(&h.prod);
    ivcom_ring_prod_publish(&h.prod);
}

static struct ivcom_msg_hdr *hdr_at_cons(void)
{
    return (struct ivcom_msg_hdr *)(h.data + (h.cons.pvt & h.cons.mask));
}

static int peek(void)
{
    const void *r;
    size_t n;
    return ivcom_ring_msg_peek(&h.cons, &r, &n);
}

int main(void)
{
    void *w;

    harness_init(&h, 12, 96);
    /* producer index more than a ring ahead */
    h.ctrl->s2c_prod.prod = 96 + 4097;
    T_EQ(ivcom_ring_avail(&h.cons), -EPROTO);
    h.ctrl->s2c_prod.prod = 95;                         /* behind cons */
    T_EQ(ivcom_ring_avail(&h.cons), -EPROTO);
    fresh();
    put(100);
    T_ASSERT(ivcom_ring_avail(&h.cons) > 0);
    h.ctrl->s2c_prod.prod -= 8;                         /* moved backwards */
    T_EQ(ivcom_ring_avail(&h.cons), -EPROTO);

    /* consumer index past the producer, or backwards */
    fresh();
    put(100);
    h.ctrl->s2c_cons.cons = h.prod.pvt + 8;
    T_EQ(ivcom_ring_free(&h.prod), -EPROTO);
    h.ctrl->s2c_cons.cons = 96 - 8;
    T_EQ(ivcom_ring_free(&h.prod), -EPROTO);
    h.ctrl->s2c_cons.cons = 96 + 2 * 4096;
    T_EQ(ivcom_ring_free(&h.prod), -EPROTO);

    /* header length beyond the ring, beyond the fill level, bad type */
    fresh();
    put(100);
    hdr_at_cons()->len = 0xfffffff8u;
    T_EQ(peek(), -EPROTO);
    hdr_at_cons()->len = 4096;
    T_EQ(peek(), -EPROTO);
    hdr_at_cons()->len = 200;                           /* > published */
    T_EQ(peek(), -EPROTO);
    hdr_at_cons()->len = 100;
    hdr_at_cons()->type = 7;
    T_EQ(peek(), -EPROTO);
    hdr_at_cons()->type = IVCOM_MSG_DATA;
    hdr_at_cons()->reserved = 1;
    T_EQ(peek(), -EPROTO);
    hdr_at_cons()->reserved = 0;
    T_EQ(peek(), 0);

    /* a PAD that does not end exactly at the ring's end */
    fresh();
    put(100);
    hdr_at_cons()->type = IVCOM_MSG_PAD;
    T_EQ(peek(), -EPROTO);
    /* fewer than 8 bytes published: no whole header */
    fresh();
    h.ctrl->s2c_prod.prod = 96 + 4;
    T_EQ(peek(), -EPROTO);
    /* a record that would run past the end of the ring */
    fresh();
    h.cons.pvt = h.cons.published = h.cons.peer = 4096 - 16;
    h.ctrl->s2c_prod.prod = 4096 + 64;
    *hdr_at_cons() = (struct ivcom_msg_hdr){ .len = 64, .type = IVCOM_MSG_DATA };
    T_EQ(peek(), -EPROTO);

    /* the producer refuses what cannot fit; valid traffic still works */
    fresh_at(0);
    T_EQ(ivcom_ring_msg_reserve(&h.prod, 5000, &w), -EMSGSIZE);
    put(4088);
    T_EQ(peek(), 0);
    harness_free(&h);
    return T_EXIT_PASS;
}
