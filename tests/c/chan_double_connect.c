/* SPDX-License-Identifier: MIT */
/* Description: two connects racing for one one-peer offer: one takes it
 * (client/state turns "connecting" in one transaction), the other gets
 * -EBUSY and maps nothing, so the winner's channel works untouched. */
#include "chan_helpers.h"

static int server(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[8];

    (void)arg;
    T_OK(ivcom_listen(plat, "twice", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 20000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 20000), 3);
    T_EQ(ivcom_send(ch, buf, 3, 5000), 3);
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 20000), -EPIPE);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *a, *b, *won;
    char buf[8];
    int ra = -EAGAIN, rb = -EAGAIN, i;
    pid_t pid;

    t_sim_required();
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, NULL);
    T_OK(ivcom_connect_start(plat, "twice", t_dom(0), NULL, &a));
    T_OK(ivcom_connect_start(plat, "twice", t_dom(0), NULL, &b));
    /* Step both in turn, as one event loop would. */
    for (i = 0; i < 2000 && (ra == -EAGAIN || rb == -EAGAIN); i++) {
        if (ra == -EAGAIN)
            ra = ivcom_connect_continue(a, 0);
        if (rb == -EAGAIN)
            rb = ivcom_connect_continue(b, 0);
        if (ra == 0 && rb == -EAGAIN)
            rb = ivcom_connect_continue(b, 500);
        if (rb == 0 && ra == -EAGAIN)
            ra = ivcom_connect_continue(a, 500);
        usleep(5000);
    }
    T_ASSERT((ra == 0 && rb == -EBUSY) || (rb == 0 && ra == -EBUSY));
    won = ra == 0 ? a : b;
    T_EQ(ivcom_send(won, "hi", 3, 5000), 3);
    T_EQ(ivcom_recv(won, buf, sizeof(buf), 20000), 3);
    T_ASSERT(strcmp(buf, "hi") == 0);
    ivcom_close(a);
    ivcom_close(b);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
