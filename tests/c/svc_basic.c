/* SPDX-License-Identifier: MIT */
/* Description: one service serves several client domains, each on its own
 * channel, driven by the service's fd (poll, then accept without
 * waiting).  Two allowed domains connect with plain ivcom_connect (the
 * service is found by name) and are echoed; a third domain is refused
 * with -EACCES at once and counted; the server learns each client's
 * domain from xenstored, and the service holds one XenStore watch. */
#include <poll.h>

#include "chan_helpers.h"

static int client(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[64], msg[64];
    int i, me = ivcom_platform_domid(plat);

    (void)arg;
    T_OK(ivcom_connect(plat, "echo-svc", t_dom(0), NULL, &ch, 20000));
    T_EQ(ivcom_peer_domid(ch), t_dom(0));
    for (i = 0; i < 100; i++) {
        int n = snprintf(msg, sizeof(msg), "dom %d msg %d", me, i);

        T_EQ(ivcom_send(ch, msg, (size_t)n, 5000), n);
        T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), n);
        T_ASSERT(memcmp(buf, msg, (size_t)n) == 0);
    }
    ivcom_close(ch);
    return 0;
}

static int outsider(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;

    (void)arg;
    T_EQ(ivcom_connect(plat, "echo-svc", t_dom(0), NULL, &ch, 20000), -EACCES);
    return 0;
}

/* Echo one message if one is there: 1, 0 nothing, -EPIPE when done. */
static int echo_one(struct ivcom_chan *ch)
{
    char buf[64];
    ssize_t n = ivcom_try_recv(ch, buf, sizeof(buf));

    if (n == -EAGAIN)
        return 0;
    if (n < 0)
        return (int)n;
    T_EQ(ivcom_send(ch, buf, (size_t)n, 5000), n);
    return 1;
}

int main(void)
{
    const int allow[2] = { 0, 0 };
    struct ivcom_platform *plat;
    struct ivcom_service *svc;
    struct ivcom_service_stats st;
    struct ivcom_policy pol = { .allow = allow, .nallow = 2 };
    struct ivcom_chan *chans[2] = { NULL, NULL };
    int nch = 0, done = 0, i, loops;
    pid_t pids[3];

    t_sim_required();
    ((int *)allow)[0] = t_dom(1);
    ((int *)allow)[1] = t_dom(2);
    plat = t_platform(t_dom(0));
    T_OK(ivcom_service_open(plat, "echo-svc", NULL, &pol, &svc));
    T_ASSERT(ivcom_service_fd(svc) >= 0);
    pids[0] = t_spawn(t_dom(1), client, NULL);
    pids[1] = t_spawn(t_dom(2), client, NULL);
    pids[2] = t_spawn(t_dom(3), outsider, NULL);

    for (loops = 0; done < 2; loops++) {
        struct pollfd pfd[3];
        struct ivcom_chan *ch;
        int n = 0;

        pfd[n++] = (struct pollfd){ .fd = ivcom_service_fd(svc), .events = POLLIN };
        for (i = 0; i < nch; i++)
            if (chans[i])
                pfd[n++] = (struct pollfd){ .fd = ivcom_fd(chans[i]), .events = POLLIN };
        T_ASSERT(poll(pfd, (nfds_t)n, 100) >= 0);
        if (loops % 50 == 49)
            t_children_ok();
        while (ivcom_service_accept(svc, &ch, 0) == 0) {
            T_ASSERT(nch < 2);
            T_ASSERT(ivcom_peer_domid(ch) == t_dom(1) || ivcom_peer_domid(ch) == t_dom(2));
            chans[nch++] = ch;
        }
        for (i = 0; i < nch; i++) {
            int r;

            if (!chans[i])
                continue;
            ivcom_ack(chans[i]);
            while ((r = echo_one(chans[i])) == 1)
                ;
            if (r == -EPIPE) {
                ivcom_close(chans[i]);
                chans[i] = NULL;
                done++;
            } else if (r < 0) {
                T_FAIL("channel of dom %d: %s", ivcom_peer_domid(chans[i]), ivcom_strerror(r));
            }
        }
    }
    T_EQ(done, 2);
    for (i = 0; i < 3; i++)
        T_EQ(t_wait(pids[i]), 0);
    ivcom_service_get_stats(svc, &st);
    T_EQ(st.accepted, 2);
    T_EQ(st.refused, 1);
    T_EQ(st.pending, 0);
    T_EQ(st.bad_requests, 0);
    ivcom_service_close(svc);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
