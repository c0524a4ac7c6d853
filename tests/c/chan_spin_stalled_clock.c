/* SPDX-License-Identifier: MIT */
/* Description: the adaptive wait's spin ends even when the clock stands
 * still (as a Xen guest's CLOCK_MONOTONIC can under QEMU TCG): a receiver
 * whose clock is frozen while it waits still arms the event and blocks
 * (stats: one block, woken by exactly the one event its peer sent),
 * instead of spinning until the data happens to arrive. */
#include <sys/syscall.h>
#include <time.h>

#include "chan_helpers.h"
/* The peer's shared wait_count word (the test reads its own channel). */
#include "internal.h"

/* The test replaces clock_gettime for the whole program (libivcom's
 * ivcom_now_ns() included): while `frozen` is set, CLOCK_MONOTONIC
 * returns one fixed instant. */
static volatile int frozen;
static struct timespec frozen_at;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (frozen && id == CLOCK_MONOTONIC) {
        *ts = frozen_at;
        return 0;
    }
    return (int)syscall(SYS_clock_gettime, id, ts);
}

static int receiver(struct ivcom_platform *plat, void *arg)
{
    int *s = arg;
    struct ivcom_chan *ch;
    struct ivcom_params p;
    struct ivcom_stats st;
    char buf[64];

    ivcom_params_init(&p);
    p.spin_us = 30;
    T_OK(ivcom_connect(plat, "stalled", t_dom(0), &p, &ch, 5000));
    t_step_set(s, 1);
    /* Freeze the clock, then wait with no timeout: the sender sends
     * only once it sees that we blocked (our wait_count word). */
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &frozen_at);
    frozen = 1;
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), -1), 16);
    frozen = 0;
    ivcom_get_stats(ch, &st);
    T_EQ(st.blocks, 1);
    T_ASSERT(st.wakeups >= 1);
    t_step_set(s, 2);
    t_step_wait(s, 3);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    int *s;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_stats st;
    char msg[16] = "0123456789abcde";
    pid_t pid;
    uint32_t blocked;
    int i;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), receiver, s);
    T_OK(ivcom_listen(plat, "stalled", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    t_step_wait(s, 1);
    /* The receiver blocks only if its spin ends without the clock: wait
     * (up to 20 s, real time) until its consumer line -- the shared
     * statistics word it bumps just before blocking -- says it went to
     * sleep.  Unbounded, it would spin for ever and never ask for an event. */
    for (i = 0; i < 40000 && ivcom_load_acquire(&ch->tx.cl->wait_count) == 0; i++)
        usleep(500);
    blocked = ivcom_load_acquire(&ch->tx.cl->wait_count);
    T_EQ(ivcom_send(ch, msg, 16, 5000), 16);
    ivcom_get_stats(ch, &st);
    T_EQ(st.notifies_sent, 1);
    t_step_wait(s, 2);
    T_EQ(blocked, 1);
    t_step_set(s, 3);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
