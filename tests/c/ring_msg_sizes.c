/* SPDX-License-Identifier: MIT */
/* Description: every message size from 0 to the ring's maximum goes through
 * a 4 KiB ring intact, in order, with PAD records wherever they fall, and
 * the free-running indexes cross 2^32 on the way. */
#include "helpers.h"
#include "ring_harness.h"

int main(void)
{
    struct harness h;
    unsigned long long pos_tx = 0, pos_rx = 0;
    size_t len, max, i;

    harness_init(&h, 12, 0xffffe000u);
    max = ivcom_ring_max_msg(&h.prod);
    T_EQ(max, 4096 - 8);
    for (int round = 0; round < 3; round++) {
        for (len = 0; len <= max; len++) {
            void *w;
            const void *r;
            size_t got;
            int err = ivcom_ring_msg_reserve(&h.prod, len, &w);

            if (err == -EAGAIN) {
                /* A PAD may have been written: publish it, drain, retry. */
                ivcom_ring_prod_publish(&h.prod);
                T_EQ(ivcom_ring_msg_peek(&h.cons, &r, &got), -EAGAIN);
                ivcom_ring_cons_publish(&h.cons);
                err = ivcom_ring_msg_reserve(&h.prod, len, &w);
            }
            T_EQ(err, 0);
            for (i = 0; i < len; i++)
                ((unsigned char *)w)[i] = t_pattern(pos_tx++);
            ivcom_ring_msg_commit(&h.prod);
            ivcom_ring_prod_publish(&h.prod);

            T_EQ(ivcom_ring_msg_peek(&h.cons, &r, &got), 0);
            T_EQ(got, len);
            for (i = 0; i < got; i++)
                if (((const unsigned char *)r)[i] != t_pattern(pos_rx++))
                    T_FAIL("byte %zu of a %zu-byte message differs", i, len);
            ivcom_ring_msg_release(&h.cons);
            ivcom_ring_cons_publish(&h.cons);
        }
    }
    T_EQ(ivcom_ring_msg_reserve(&h.prod, max + 1, &(void *){0}), -EMSGSIZE);
    T_ASSERT(h.prod.pvt < 0xffffe000u);     /* the index wrapped */
    harness_free(&h);
    return T_EXIT_PASS;
}
