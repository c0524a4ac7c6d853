/* SPDX-License-Identifier: MIT */
/* Description: a hostile peer floods the event channel (notifications in
 * a tight loop, no data) while the victim blocks in ivcom_recv with a
 * timeout.  The victim wakes, finds nothing and sleeps again: the call
 * still returns -ETIMEDOUT, its wakeups are bounded by the events the
 * peer sent (no busy loop of its own), it reports no data, and the
 * channel works normally afterwards. */
#include "chan_helpers.h"
#include "internal.h"

#define ROUNDS 4                /* blocking receives while the flood runs */

struct shared {
    int step;
    long sent;          /* events the flooder sent */
};

static int flooder(struct ivcom_platform *plat, void *arg)
{
    struct shared *s = arg;
    struct ivcom_chan *ch;
    long i;

    T_OK(ivcom_connect(plat, "flood", t_dom(0), NULL, &ch, 5000));
    t_step_wait(&s->step, 1);                    /* the victim is blocking */
    /* Notify in a tight loop until the victim has sat through its rounds. */
    for (i = 0; __atomic_load_n(&s->step, __ATOMIC_ACQUIRE) < 2; i++) {
        T_OK(plat->ops->evtchn_notify(ch->ev, ch->port));
        __atomic_store_n(&s->sent, i + 1, __ATOMIC_RELEASE);
    }
    t_step_set(&s->step, 3);                     /* flood over */
    t_step_wait(&s->step, 4);                    /* the victim timed out again */
    T_EQ(ivcom_send(ch, "after", 5, 5000), 5);   /* then real data */
    t_step_wait(&s->step, 5);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_params params;
    struct ivcom_stats before, after;
    struct ivcom_chan *ch;
    struct shared *s;
    char buf[64];
    ssize_t r;
    pid_t pid;
    int rounds = 0;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), flooder, s);
    ivcom_params_init(&params);
    params.spin_us = 0;                 /* block at once: every wakeup counts */
    T_OK(ivcom_listen(plat, "flood", t_dom(1), &params, &ch));
    T_OK(ivcom_accept(ch, 5000));
    ivcom_get_stats(ch, &before);
    t_step_set(&s->step, 1);
    /* Block with a timeout while the flood runs. */
    for (rounds = 0; rounds < ROUNDS; rounds++) {
        r = ivcom_recv(ch, buf, sizeof(buf), 50);
        if (r != -ETIMEDOUT)
            T_FAIL("recv during the flood gave %zd (%s), expected -ETIMEDOUT", r,
                   ivcom_strerror((int)r));
    }
    t_step_set(&s->step, 2);
    t_step_wait(&s->step, 3);
    /* One more full timeout after the flood: pending events drain, the call
     * still ends at its timeout. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 50), -ETIMEDOUT);
    ivcom_get_stats(ch, &after);
    fprintf(stderr, "flood: %ld events sent, %llu wakeups, %llu blocks in %d receives\n",
            __atomic_load_n(&s->sent, __ATOMIC_ACQUIRE),
            (unsigned long long)(after.wakeups - before.wakeups),
            (unsigned long long)(after.blocks - before.blocks), rounds + 1);
    T_ASSERT(__atomic_load_n(&s->sent, __ATOMIC_ACQUIRE) > 0);
    T_EQ(after.rx_msgs, before.rx_msgs);
    T_EQ(after.rx_bytes, before.rx_bytes);
    /* Bounded work per event: every wakeup consumed at least one event
     * the peer sent (the event channel coalesces many into one), and the
     * victim blocked once per call at most. */
    T_ASSERT(after.wakeups - before.wakeups <=
             (uint64_t)__atomic_load_n(&s->sent, __ATOMIC_ACQUIRE));
    T_ASSERT(after.blocks - before.blocks <= (uint64_t)rounds + 1);
    T_ASSERT(after.wakeups > before.wakeups);      /* it did wake up */
    T_EQ(ivcom_is_broken(ch), 0);
    t_step_set(&s->step, 4);
    /* Still works. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 5);
    T_ASSERT(memcmp(buf, "after", 5) == 0);
    T_EQ(ivcom_send(ch, "ok", 2, 5000), 2);
    t_step_set(&s->step, 5);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
