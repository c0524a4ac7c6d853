/* SPDX-License-Identifier: MIT */
/* Description: blocking and timeout semantics -- try_ calls return -EAGAIN
 * at once, timed calls -ETIMEDOUT, the channel fd polls readable once the
 * peer sends (after a try_ call asked for the event), and a message larger
 * than the caller's buffer stays queued (-EMSGSIZE); ivcom_flush returns once
 * the peer has read everything, and times out while it does not read. */
#include <poll.h>

#include "chan_helpers.h"

static int peer(struct ivcom_platform *plat, void *arg)
{
    int *done = arg;
    struct ivcom_chan *ch;
    char buf[8];

    T_OK(ivcom_connect(plat, "timeout", t_dom(0), NULL, &ch, 5000));
    /* wait for the go byte, then send one message */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), 2);
    T_EQ(ivcom_send(ch, "ping", 4, 5000), 4);
    T_EQ(ivcom_send(ch, "a-long-message", 14, 5000), 14);
    T_OK(ivcom_flush(ch, 10000));                   /* both read */
    t_step_wait(done, 1);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct ivcom_params p;
    struct pollfd pfd;
    char buf[8192];
    void *w;
    pid_t pid;
    int *done;

    t_sim_required();
    done = t_shared(sizeof(*done));
    plat = t_platform(t_dom(0));
    ivcom_params_init(&p);
    p.tx_order = p.rx_order = 12;
    T_OK(ivcom_listen(plat, "timeout", t_dom(1), &p, &ch));
    T_EQ(ivcom_accept(ch, 0), -ETIMEDOUT);          /* nobody yet */
    ivcom_close(ch);
    pid = t_spawn(t_dom(1), peer, done);
    T_OK(ivcom_listen(plat, "timeout", t_dom(1), &p, &ch));
    T_OK(ivcom_accept(ch, 5000));
    T_OK(ivcom_flush(ch, 0));                       /* nothing sent yet */

    T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), -EAGAIN);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 30), -ETIMEDOUT);
    T_EQ(ivcom_wait_readable(ch, 30), -ETIMEDOUT);
    /* the fd: ask for the event with a try_ call, then poll */
    T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), -EAGAIN);
    pfd.fd = ivcom_fd(ch);
    pfd.events = POLLIN;
    T_ASSERT(pfd.fd >= 0);
    T_EQ(ivcom_send(ch, "go", 2, 5000), 2);
    T_EQ(poll(&pfd, 1, 10000), 1);
    T_OK(ivcom_ack(ch));
    T_EQ(ivcom_try_recv(ch, buf, sizeof(buf)), 4);
    T_ASSERT(memcmp(buf, "ping", 4) == 0);
    /* too small a buffer: the message stays */
    T_EQ(ivcom_recv(ch, buf, 4, 5000), -EMSGSIZE);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 14);
    /* the peer does not read: fill its ring, then time out */
    while (ivcom_try_send(ch, buf, 1000) == 1000)
        ;
    T_EQ(ivcom_try_send(ch, buf, 1000), -EAGAIN);
    T_EQ(ivcom_send(ch, buf, 1000, 30), -ETIMEDOUT);
    T_EQ(ivcom_msg_reserve(ch, 1000, &w, 30), -ETIMEDOUT);
    T_EQ(ivcom_wait_writable(ch, 1000, 30), -ETIMEDOUT);
    T_EQ(ivcom_flush(ch, 30), -ETIMEDOUT);
    T_EQ(ivcom_send(ch, buf, 5000, 30), -EMSGSIZE);
    /* wrong mode and bad arguments */
    T_EQ(ivcom_try_write(ch, buf, 1), -EINVAL);
    T_EQ(ivcom_msg_commit(ch), -EINVAL);
    t_step_set(done, 1);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
