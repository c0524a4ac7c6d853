/* SPDX-License-Identifier: MIT */
/* Description: ivcom_wait_readable(ch, 0) that finds nothing asks the
 * peer for an event before it returns -ETIMEDOUT, so a caller that then
 * sleeps in poll() on ivcom_fd() is woken by the next message.  (Nothing
 * else armed the event: the first message was read without waiting.)
 * Likewise ivcom_wait_writable(ch, need, 0) on a full ring: the fd wakes
 * once the peer frees the space. */
#include <poll.h>

#include "chan_helpers.h"

struct shared {
    int step;
};

static int client(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_params p;
    struct ivcom_chan *ch;
    char msg[64] = "one";
    int i;

    ivcom_params_init(&p);
    p.spin_us = 0;
    T_OK(ivcom_connect(plat, "armzero", t_dom(0), &p, &ch, 10000));
    T_EQ(ivcom_send(ch, msg, sizeof(msg), 5000), sizeof(msg));
    t_step_set(&sh->step, 1);
    t_step_wait(&sh->step, 2);
    T_EQ(ivcom_send(ch, "two", 4, 5000), 4);
    /* Writable: fill our ring, give up at once, then sleep on the fd. */
    t_step_wait(&sh->step, 3);
    for (i = 0; ivcom_try_send(ch, msg, sizeof(msg)) == sizeof(msg); i++)
        ;
    T_ASSERT(i > 0);
    T_EQ(ivcom_wait_writable(ch, 72, 0), -ETIMEDOUT);
    t_step_set(&sh->step, 4);               /* the server drains one */
    {
        struct pollfd pfd = { .fd = ivcom_fd(ch), .events = POLLIN };
        T_EQ(poll(&pfd, 1, 5000), 1);
    }
    T_OK(ivcom_ack(ch));
    T_OK(ivcom_wait_writable(ch, 72, 0));
    t_step_set(&sh->step, 5);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_params p;
    struct ivcom_chan *ch;
    struct shared *sh;
    char buf[64];
    pid_t pid;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    pid = t_spawn(t_dom(1), client, sh);
    plat = t_platform(t_dom(0));
    ivcom_params_init(&p);
    p.spin_us = 0;
    p.tx_order = p.rx_order = 12;
    T_OK(ivcom_listen(plat, "armzero", t_dom(1), &p, &ch));
    T_OK(ivcom_accept(ch, 10000));
    t_step_wait(&sh->step, 1);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 0), sizeof(buf));     /* no wait */
    T_OK(ivcom_ack(ch));            /* the client's set-up event, if any */
    T_EQ(ivcom_wait_readable(ch, 0), -ETIMEDOUT);
    t_step_set(&sh->step, 2);
    {
        struct pollfd pfd = { .fd = ivcom_fd(ch), .events = POLLIN };
        T_EQ(poll(&pfd, 1, 5000), 1);
    }
    T_OK(ivcom_ack(ch));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 0), 4);
    T_ASSERT(strcmp(buf, "two") == 0);

    t_step_set(&sh->step, 3);
    t_step_wait(&sh->step, 4);
    /* Drain everything: the client asked for one record's room. */
    while (ivcom_recv(ch, buf, sizeof(buf), 0) == sizeof(buf))
        ;
    t_step_wait(&sh->step, 5);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
