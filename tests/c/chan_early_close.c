/* SPDX-License-Identifier: MIT */
/* Description: a client that connects, sends and closes (its process even
 * exits) before the server calls accept: accept still succeeds and every
 * message it sent is received before -EPIPE -- also when it sent nothing
 * (XenStore says it came). */
#include "chan_helpers.h"

static int quick_client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    int i, n = *(int *)arg;

    T_OK(ivcom_connect(plat, "early", t_dom(0), NULL, &ch, 5000));
    for (i = 0; i < n; i++)
        T_EQ(ivcom_send(ch, &i, sizeof(i), 5000), sizeof(i));
    ivcom_close(ch);
    return 0;
}

static void one(struct ivcom_platform *plat, int dom, int n)
{
    struct ivcom_chan *ch;
    pid_t pid;
    int i, v;

    pid = t_spawn(dom, quick_client, &n);
    T_OK(ivcom_listen(plat, "early", dom, NULL, &ch));
    T_EQ(t_wait(pid), 0);                   /* connected, sent, closed, gone */
    T_OK(ivcom_accept(ch, 5000));
    for (i = 0; i < n; i++) {
        T_EQ(ivcom_recv(ch, &v, sizeof(v), 5000), sizeof(v));
        T_EQ(v, i);
    }
    T_EQ(ivcom_recv(ch, &v, sizeof(v), 5000), -EPIPE);
    ivcom_close(ch);
}

int main(void)
{
    struct ivcom_platform *plat;

    t_sim_required();
    plat = t_platform(t_dom(0));
    one(plat, t_dom(1), 3);
    one(plat, t_dom(2), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
