/* SPDX-License-Identifier: MIT */
/* Description: a reserve that fails leaves nothing to commit.  Message
 * mode: reservation A succeeds, a larger reserve then writes a PAD over
 * the ring's tail (and over A) and fails with -EAGAIN; committing now is
 * refused with -EINVAL, and the receiver gets exactly the messages that
 * were committed, never a record of an earlier lap.  Stream mode: after
 * a span was reserved, a reserve that fails (the peer closed) leaves
 * nothing to commit either. */
#include "chan_helpers.h"

#define RING_ORDER 12                       /* 4096-byte rings */
#define BIG 1016                            /* 1024-byte records */

struct shared {
    int step;
};

static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_params p;
    struct ivcom_chan *ch;
    unsigned char buf[4096];
    int i;

    ivcom_params_init(&p);
    p.tx_order = p.rx_order = RING_ORDER;
    T_OK(ivcom_listen(plat, "fr-msg", t_dom(1), &p, &ch));
    T_OK(ivcom_accept(ch, 10000));
    t_step_wait(&sh->step, 1);              /* the client tried its best */
    for (i = 0; i < 3; i++) {
        T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), BIG);
        T_EQ(buf[0], i);
        T_EQ(buf[BIG - 1], i);
    }
    /* Then the message sent after the failed reserve, and nothing else. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 100);
    T_EQ(buf[0], 0x77);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), -EPIPE);
    ivcom_close(ch);

    p.mode = IVCOM_MODE_STREAM;
    T_OK(ivcom_listen(plat, "fr-stream", t_dom(1), &p, &ch));
    T_OK(ivcom_accept(ch, 10000));
    t_step_wait(&sh->step, 2);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct shared *sh;
    struct ivcom_chan *ch;
    unsigned char msg[BIG];
    void *a, *b;
    size_t span;
    pid_t pid;
    int i;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    /* Our domain exists before the server offers to it (xenstored drops
     * permissions that name no domain). */
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, sh);

    T_OK(ivcom_connect(plat, "fr-msg", t_dom(0), NULL, &ch, 10000));
    for (i = 0; i < 3; i++) {
        memset(msg, i, sizeof(msg));
        T_EQ(ivcom_send(ch, msg, sizeof(msg), 5000), BIG);
    }
    /* 3072 of 4096 bytes used: A (72 bytes) fits the tail... */
    T_OK(ivcom_msg_try_reserve(ch, 64, &a));
    memset(a, 0xee, 64);
    /* ...a 1100-byte message does not: PAD over the tail, then -EAGAIN. */
    T_EQ(ivcom_msg_try_reserve(ch, 1100, &b), -EAGAIN);
    T_EQ(ivcom_msg_commit(ch), -EINVAL);
    t_step_set(&sh->step, 1);
    memset(msg, 0x77, 100);
    T_EQ(ivcom_send(ch, msg, 100, 5000), 100);
    T_OK(ivcom_flush(ch, 5000));
    ivcom_close(ch);

    T_OK(ivcom_connect(plat, "fr-stream", t_dom(0), NULL, &ch, 10000));
    T_OK(ivcom_stream_try_reserve(ch, &a, &span));
    T_EQ(span, 4096);
    memset(a, 0x5a, span);
    t_step_set(&sh->step, 2);               /* the server closes */
    for (i = 0; i < 10000 && ivcom_stream_try_reserve(ch, &b, &span) == 0; i++)
        usleep(1000);
    T_EQ(ivcom_stream_try_reserve(ch, &b, &span), -EPIPE);
    T_EQ(ivcom_stream_commit(ch, 1), -EINVAL);
    ivcom_close(ch);

    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
