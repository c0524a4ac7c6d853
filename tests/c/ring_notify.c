/* SPDX-License-Identifier: MIT */
/* Description: notification hold-off -- a producer publishes without an
 * event while the consumer has not asked; exactly one event once it armed;
 * a consumer releasing space notifies only a producer that asked. */
#include "helpers.h"
#include "ring_harness.h"

static void send(struct harness *h, size_t len)
{
    void *w;
    T_EQ(ivcom_ring_msg_reserve(&h->prod, len, &w), 0);
    memset(w, 0x5a, len);
    ivcom_ring_msg_commit(&h->prod);
}

int main(void)
{
    struct harness h;
    const void *r;
    size_t got;
    int i, events = 0;

    harness_init(&h, 12, 0);
    /* The consumer asked at start-up (prod_event = 1): first publish notifies. */
    h.ctrl->s2c_cons.prod_event = 1;
    send(&h, 10);
    T_EQ(ivcom_ring_prod_publish(&h.prod), 1);
    /* A busy consumer never re-armed: ten more publishes, no event. */
    for (i = 0; i < 10; i++) {
        send(&h, 10);
        events += ivcom_ring_prod_publish(&h.prod);
    }
    T_EQ(events, 0);
    /* Drain, arm, then one publish gives exactly one event. */
    while (ivcom_ring_msg_peek(&h.cons, &r, &got) == 0)
        ivcom_ring_msg_release(&h.cons);
    T_EQ(ivcom_ring_cons_publish(&h.cons), 0);      /* producer did not ask */
    ivcom_ring_cons_arm(&h.cons);
    send(&h, 10);
    T_EQ(ivcom_ring_prod_publish(&h.prod), 1);
    send(&h, 10);
    T_EQ(ivcom_ring_prod_publish(&h.prod), 0);
    /* Producer waits for 4000 bytes of space: the consumer's releases
     * notify once, when enough is free. */
    while (ivcom_ring_msg_peek(&h.cons, &r, &got) == 0)
        ivcom_ring_msg_release(&h.cons);
    ivcom_ring_cons_publish(&h.cons);
    for (i = 0; i < 200; i++)           /* fill: 200 x 16 bytes */
        send(&h, 8);
    ivcom_ring_prod_publish(&h.prod);
    ivcom_ring_prod_arm(&h.prod, 4000);
    events = 0;
    for (i = 0; i < 200; i++) {
        T_EQ(ivcom_ring_msg_peek(&h.cons, &r, &got), 0);
        ivcom_ring_msg_release(&h.cons);
        events += ivcom_ring_cons_publish(&h.cons);
    }
    T_EQ(events, 1);
    harness_free(&h);
    return T_EXIT_PASS;
}
