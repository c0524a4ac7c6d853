/* SPDX-License-Identifier: MIT */
/* Description: the adaptive wait's spin shrinks when it never pays: a
 * receiver whose peer always answers only after it blocked (as a peer in
 * another domain does under QEMU TCG, where an answer takes far longer
 * than the spin) stops spinning after a few waits.  Spinning is seen in
 * the clock reads the wait makes: the first waits read the clock many
 * times each, the later ones about once (plus one full spin every
 * IVCOM_SPIN_RETRY waits, to find out whether spinning pays again). */
#include <sys/syscall.h>
#include <time.h>

#include "chan_helpers.h"
#include "internal.h"

#define WAITS 200

/* Clock reads of this process (libivcom's ivcom_now_ns() included). */
static volatile unsigned long clock_reads;

int clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_MONOTONIC)
        clock_reads++;
    return (int)syscall(SYS_clock_gettime, id, ts);
}

struct shared {
    int step;
    unsigned long reads[WAITS];
};

static int receiver(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    struct ivcom_params p;
    struct ivcom_stats st;
    char buf[64];
    int i;

    ivcom_params_init(&p);
    p.spin_us = 200;
    T_OK(ivcom_connect(plat, "adapts", t_dom(0), &p, &ch, 5000));
    t_step_set(&sh->step, 1);
    for (i = 0; i < WAITS; i++) {
        unsigned long before = clock_reads;

        T_EQ(ivcom_recv(ch, buf, sizeof(buf), -1), 8);
        sh->reads[i] = clock_reads - before;
    }
    ivcom_get_stats(ch, &st);
    T_EQ(st.spins, 0);
    T_EQ(st.blocks, WAITS);
    t_step_set(&sh->step, 2);
    t_step_wait(&sh->step, 3);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct shared *sh;
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    unsigned long first = 0, late = 0, retries = 0;
    uint32_t seen = 0;
    pid_t pid;
    int i, j;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), receiver, sh);
    T_OK(ivcom_listen(plat, "adapts", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    t_step_wait(&sh->step, 1);
    for (i = 0; i < WAITS; i++) {
        char msg[8] = "message";

        /* Send only once the receiver blocked (its consumer line's
         * wait_count moved): its spin never sees data. */
        for (j = 0; j < 40000 && ivcom_load_acquire(&ch->tx.cl->wait_count) == seen; j++)
            usleep(100);
        T_ASSERT(ivcom_load_acquire(&ch->tx.cl->wait_count) == seen + 1);
        seen++;
        T_EQ(ivcom_send(ch, msg, 8, 5000), 8);
    }
    t_step_wait(&sh->step, 2);
    for (i = 0; i < 3; i++)
        first += sh->reads[i];
    /* Waits 100..199: most without a spin, at most two full retries
     * (one every IVCOM_SPIN_RETRY = 64 waits). */
    for (i = 100; i < WAITS; i++) {
        if (sh->reads[i] > 10)
            retries++;
        else
            late += sh->reads[i];
    }
    printf("clock reads: first 3 waits %lu; waits 100-199: %lu in %lu without a spin, "
           "%lu full retries\n", first, late, 100 - retries, retries);
    /* A 200 us spin reads the clock every 16 pauses: many reads.  A wait
     * that does not spin reads it about once. */
    T_ASSERT(first >= 3 * 8);
    T_ASSERT(retries <= 2);
    T_ASSERT(late <= 3 * (100 - retries));
    t_step_set(&sh->step, 3);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
