/* SPDX-License-Identifier: MIT */
/* Description: stream mode moves bytes intact across the ring's end and
 * across 2^32, with spans split at the wrap and odd chunk sizes. */
#include "helpers.h"
#include "ring_harness.h"

int main(void)
{
    struct harness h;
    unsigned long long tx = 0, rx = 0, total = 1ull << 22;
    unsigned chunk = 1;

    harness_init(&h, 13, 0xffff0000u);
    while (rx < total) {
        void *w;
        const void *r;
        size_t span, i, n;

        if (tx < total && ivcom_ring_stream_reserve(&h.prod, &w, &span) == 0) {
            n = span < chunk ? span : chunk;
            if (n > total - tx)
                n = total - tx;
            for (i = 0; i < n; i++)
                ((unsigned char *)w)[i] = t_pattern(tx + i);
            T_EQ(ivcom_ring_stream_commit(&h.prod, n), 0);
            tx += n;
            ivcom_ring_prod_publish(&h.prod);
        }
        if (ivcom_ring_stream_peek(&h.cons, &r, &span) == 0) {
            T_ASSERT(span <= (size_t)1 << 13);
            n = span < chunk * 3 / 2 + 1 ? span : chunk * 3 / 2 + 1;
            for (i = 0; i < n; i++)
                if (((const unsigned char *)r)[i] != t_pattern(rx + i))
                    T_FAIL("stream byte %llu differs", rx + i);
            T_EQ(ivcom_ring_stream_release(&h.cons, n), 0);
            rx += n;
            ivcom_ring_cons_publish(&h.cons);
        }
        chunk = chunk * 7 % 5003 + 1;
    }
    T_EQ(ivcom_ring_stream_commit(&h.prod, 1), -EINVAL);   /* nothing reserved */
    harness_free(&h);
    return T_EXIT_PASS;
}
