/* SPDX-License-Identifier: MIT */
/* Description: ivcom_debug_ring reports each side's ring as it stands:
 * our private and published index, the peer's index as last validated,
 * the shared prod and cons as they are now, the open (reserved or
 * peeked) record's bytes and offset, and the offset masked once the
 * index has passed the ring's end. */
#include "chan_helpers.h"

#define ORDER   12u                 /* 4096-byte rings in both directions */
#define SIZE    (1u << ORDER)

/* Records (8-byte header + payload rounded up to 8) of the first batch:
 * 5 -> 16, 16 -> 24, 100 -> 112 bytes; then one of 40 -> 48. */
#define BATCH1  (16u + 24u + 112u)
#define AFTER40 (BATCH1 + 48u)
/* Then LAP messages of 120 bytes (128-byte records): 30 fit before the
 * end, a 56-byte PAD covers the rest, the 31st lands at offset 0. */
#define LAP     31u
#define END     (SIZE + 128u)

static int *step;

static void expect(const struct ivcom_ring_debug *d, uint32_t pvt, uint32_t published,
                   uint32_t peer, uint32_t pending, uint32_t prod, uint32_t cons,
                   uint32_t offset)
{
    T_EQ(d->size, SIZE);
    T_EQ(d->pvt, pvt);
    T_EQ(d->published, published);
    T_EQ(d->peer, peer);
    T_EQ(d->pending, pending);
    T_EQ(d->prod, prod);
    T_EQ(d->cons, cons);
    T_EQ(d->offset, offset);
}

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_ring_debug d;
    struct ivcom_chan *ch;
    char buf[128];
    const void *p;
    size_t n;
    unsigned i;

    (void)arg;
    T_OK(ivcom_connect(plat, "dbgring", t_dom(0), NULL, &ch, 5000));
    T_EQ(ivcom_debug_ring(ch, 1, NULL), -EINVAL);
    t_step_wait(step, 1);
    /* The first message read: the record ended at 16, where the next
     * starts; the producer's 152 was validated on the way. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 5);
    T_OK(ivcom_debug_ring(ch, 1, &d));
    expect(&d, 16, 16, BATCH1, 0, BATCH1, 16, 16);
    /* The second one peeked: its 24-byte record is open at offset 16. */
    T_OK(ivcom_msg_peek(ch, &p, &n, 5000));
    T_EQ(n, 16);
    T_OK(ivcom_debug_ring(ch, 1, &d));
    expect(&d, 16, 16, BATCH1, 24, BATCH1, 16, 16);
    /* Our send ring is untouched. */
    T_OK(ivcom_debug_ring(ch, 0, &d));
    expect(&d, 0, 0, 0, 0, 0, 0, 0);
    t_step_set(step, 2);

    t_step_wait(step, 3);
    T_OK(ivcom_msg_release(ch));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 100);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 40);
    for (i = 0; i < LAP; i++)
        T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 120);
    T_OK(ivcom_debug_ring(ch, 1, &d));
    expect(&d, END, END, END, 0, END, END, 128);
    t_step_set(step, 4);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_ring_debug d;
    struct ivcom_params prm;
    struct ivcom_chan *ch;
    char buf[128];
    void *w;
    pid_t pid;
    unsigned i;

    t_sim_required();
    step = t_shared(sizeof(*step));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), client, NULL);
    ivcom_params_init(&prm);
    prm.tx_order = prm.rx_order = ORDER;
    T_OK(ivcom_listen(plat, "dbgring", t_dom(1), &prm, &ch));
    /* The rings exist from listen on. */
    T_OK(ivcom_debug_ring(ch, 0, &d));
    expect(&d, 0, 0, 0, 0, 0, 0, 0);
    T_OK(ivcom_accept(ch, 5000));

    memset(buf, 0xa5, sizeof(buf));
    T_EQ(ivcom_send(ch, buf, 5, 5000), 5);
    T_EQ(ivcom_send(ch, buf, 16, 5000), 16);
    T_EQ(ivcom_send(ch, buf, 100, 5000), 100);
    T_OK(ivcom_debug_ring(ch, 0, &d));
    expect(&d, BATCH1, BATCH1, 0, 0, BATCH1, 0, BATCH1);
    t_step_set(step, 1);

    t_step_wait(step, 2);
    /* The client released 16 bytes: the shared cons says so at once; the
     * peer index we validated may still be 0 (a producer with room to
     * spare need not look). */
    T_OK(ivcom_debug_ring(ch, 0, &d));
    T_ASSERT(d.peer == 0 || d.peer == 16);
    expect(&d, BATCH1, BATCH1, d.peer, 0, BATCH1, 16, BATCH1);
    /* A reserved record: open at our index, not yet published. */
    T_OK(ivcom_msg_reserve(ch, 40, &w, 5000));
    memset(w, 0xa5, 40);
    T_OK(ivcom_debug_ring(ch, 0, &d));
    T_ASSERT(d.peer == 0 || d.peer == 16);
    expect(&d, BATCH1, BATCH1, d.peer, 48, BATCH1, 16, BATCH1);
    T_OK(ivcom_msg_commit(ch));
    T_OK(ivcom_debug_ring(ch, 0, &d));
    T_ASSERT(d.peer == 0 || d.peer == 16);
    expect(&d, AFTER40, AFTER40, d.peer, 0, AFTER40, 16, AFTER40);
    /* The receive ring is untouched. */
    T_OK(ivcom_debug_ring(ch, 1, &d));
    expect(&d, 0, 0, 0, 0, 0, 0, 0);
    t_step_set(step, 3);

    /* Past the end of the ring: the index runs on, the offset wraps. */
    for (i = 0; i < LAP; i++)
        T_EQ(ivcom_send(ch, buf, 120, 5000), 120);
    t_step_wait(step, 4);
    T_OK(ivcom_debug_ring(ch, 0, &d));
    T_EQ(d.pvt, END);
    T_EQ(d.published, END);
    T_EQ(d.prod, END);
    T_EQ(d.cons, END);
    T_EQ(d.offset, 128);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
