/* SPDX-License-Identifier: MIT */
/* Description: one event loop drives many connects at once.  A client
 * domain starts 8 connects to a service and one to a one-peer offer with
 * ivcom_connect_start (each returns at once), then polls the connect fd
 * and calls ivcom_connect_continue(ch, 0) until every one is up; each
 * channel then carries its own message.  A connect to a name nobody
 * offers says -EAGAIN while waiting and gives up at its deadline. */
#include <poll.h>

#include "chan_helpers.h"

#define N 8

static int server(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_service *svc;
    struct ivcom_chan *ch[N], *one;
    char buf[16];
    int i;

    (void)arg;
    T_OK(ivcom_service_open(plat, "steps", NULL, NULL, &svc));
    T_OK(ivcom_listen(plat, "steps-one", t_dom(1), NULL, &one));
    for (i = 0; i < N; i++)
        T_OK(ivcom_service_accept(svc, &ch[i], 20000));
    T_OK(ivcom_accept(one, 20000));
    for (i = 0; i < N; i++) {
        T_EQ(ivcom_recv(ch[i], buf, sizeof(buf), 20000), 2);
        T_EQ(ivcom_send(ch[i], buf, 2, 5000), 2);
    }
    T_EQ(ivcom_send(one, "1", 2, 5000), 2);
    for (i = 0; i < N; i++) {
        T_EQ(ivcom_recv(ch[i], buf, sizeof(buf), 20000), -EPIPE);
        ivcom_close(ch[i]);
    }
    T_EQ(ivcom_recv(one, buf, sizeof(buf), 20000), -EPIPE);
    ivcom_close(one);
    ivcom_service_close(svc);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch[N + 1], *none;
    int up[N + 1] = { 0 }, nup = 0, i, r;
    char buf[16];
    pid_t pid;

    t_sim_required();
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, NULL);
    for (i = 0; i < N; i++)
        T_OK(ivcom_connect_start(plat, "steps", t_dom(0), NULL, &ch[i]));
    T_OK(ivcom_connect_start(plat, "steps-one", t_dom(0), NULL, &ch[N]));
    T_ASSERT(ivcom_connect_fd(ch[0]) >= 0);
    while (nup < N + 1) {
        struct pollfd pfd = { .fd = ivcom_connect_fd(ch[0]), .events = POLLIN };

        T_ASSERT(poll(&pfd, 1, 50) >= 0);
        for (i = 0; i < N + 1; i++) {
            if (up[i])
                continue;
            r = ivcom_connect_continue(ch[i], 0);
            if (r == -EAGAIN)
                continue;
            T_OK(r);
            up[i] = 1;
            nup++;
        }
        t_children_ok();
    }
    for (i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        T_EQ(ivcom_send(ch[i], buf, 2, 5000), 2);
    }
    for (i = 0; i < N; i++) {
        T_EQ(ivcom_recv(ch[i], buf, sizeof(buf), 20000), 2);
        T_EQ(buf[0], '0' + i);
        ivcom_close(ch[i]);
    }
    T_EQ(ivcom_recv(ch[N], buf, sizeof(buf), 20000), 2);
    ivcom_close(ch[N]);

    T_OK(ivcom_connect_start(plat, "nobody-here", t_dom(0), NULL, &none));
    T_EQ(ivcom_connect_continue(none, 0), -EAGAIN);
    /* Whether a name is offered to someone else or to nobody, xenstored
     * does not say (its parent is not ours to read): either answer. */
    r = ivcom_connect_continue(none, 300);
    T_ASSERT(r == -ETIMEDOUT || r == -EACCES);
    ivcom_close(none);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
