/* SPDX-License-Identifier: MIT */
/* Description: a peer killed (SIGKILL) mid-stream -- a receiver still gets
 * every message the dead sender had committed, in order, then -EPIPE
 * (within a 1 s timeout, never -ETIMEDOUT); a sender whose receiver died
 * gets -EPIPE instead of blocking. */
#include "chan_helpers.h"

struct shared { unsigned long long committed; int connected; };

static int sender(struct ivcom_platform *plat, void *arg)
{
    struct shared *s = arg;
    struct ivcom_chan *ch;
    unsigned long long seq;
    unsigned char msg[64] = { 0 };

    T_OK(ivcom_connect(plat, "death-a", t_dom(0), NULL, &ch, 5000));
    for (seq = 0;; seq++) {
        memcpy(msg, &seq, sizeof(seq));
        T_EQ(ivcom_send(ch, msg, sizeof(msg), -1), sizeof(msg));
        __atomic_store_n(&s->committed, seq + 1, __ATOMIC_RELEASE);
    }
}

static int receiver(struct ivcom_platform *plat, void *arg)
{
    struct shared *s = arg;
    struct ivcom_chan *ch;
    char buf[64];

    T_OK(ivcom_connect(plat, "death-b", t_dom(0), NULL, &ch, 5000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 64);
    t_step_set(&s->connected, 1);
    for (;;)
        pause();
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *s;
    unsigned long long got = 0, committed, seq;
    unsigned char buf[64] = { 0 };
    ssize_t r;
    pid_t pid;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));

    /* A: the sender dies */
    pid = t_spawn(t_dom(1), sender, s);
    T_OK(ivcom_listen(plat, "death-a", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    while (got < 20000) {
        T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 64);
        memcpy(&seq, buf, sizeof(seq));
        T_EQ(seq, got);
        got++;
    }
    kill(pid, SIGKILL);
    T_EQ(t_wait(pid), 128 + SIGKILL);
    committed = __atomic_load_n(&s->committed, __ATOMIC_ACQUIRE);
    while ((r = ivcom_recv(ch, buf, sizeof(buf), 1000)) == 64) {
        memcpy(&seq, buf, sizeof(seq));
        T_EQ(seq, got);
        got++;
    }
    T_EQ(r, -EPIPE);
    /* everything committed arrived (plus at most the one in flight) */
    T_ASSERT(got >= committed && got <= committed + 1);
    ivcom_close(ch);

    /* B: the receiver dies */
    pid = t_spawn(t_dom(2), receiver, s);
    T_OK(ivcom_listen(plat, "death-b", t_dom(2), NULL, &ch));
    T_OK(ivcom_accept(ch, 5000));
    T_EQ(ivcom_send(ch, buf, sizeof(buf), 5000), 64);
    t_step_wait(&s->connected, 1);
    kill(pid, SIGKILL);
    T_EQ(t_wait(pid), 128 + SIGKILL);
    do
        r = ivcom_send(ch, buf, sizeof(buf), 1000);
    while (r == 64);
    T_EQ(r, -EPIPE);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
