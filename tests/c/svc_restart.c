/* SPDX-License-Identifier: MIT */
/* Description: a restarted service.  Instance one serves a client, then
 * hangs (its pages still mapped: no unmap notify fires, no close); a new
 * instance of the service opens in the same domain.  The client's
 * established channel ends with -EPIPE (its presence probe finds its
 * request gone), and its next connect reaches the new instance, with no
 * action on its part beyond connecting again. */
#include "chan_helpers.h"

struct shared {
    int step;
};

/* Instance one serves a client, then "restarts": a new instance opens
 * while the old one's service and channel are left as they were (hung,
 * still mapped).  (The sim runs one process per domain, so the restart
 * happens in the same process.) */
static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_service *one, *two;
    struct ivcom_chan *a, *b;

    T_OK(ivcom_service_open(plat, "restart", NULL, NULL, &one));
    T_OK(ivcom_service_accept(one, &a, 20000));
    T_EQ(ivcom_send(a, "one", 4, 5000), 4);
    t_step_wait(&sh->step, 1);
    T_OK(ivcom_service_open(plat, "restart", NULL, NULL, &two));
    T_OK(ivcom_service_accept(two, &b, 20000));
    T_EQ(ivcom_send(b, "two", 4, 5000), 4);
    t_step_wait(&sh->step, 2);
    ivcom_close(b);
    ivcom_service_close(two);
    ivcom_close(a);
    ivcom_service_close(one);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *sh;
    char buf[16];
    pid_t pid;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, sh);
    T_OK(ivcom_connect(plat, "restart", t_dom(0), NULL, &ch, 20000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), 4);
    T_ASSERT(strcmp(buf, "one") == 0);
    t_step_set(&sh->step, 1);
    /* -ETIMEDOUT would say the end went unnoticed. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 15000), -EPIPE);
    ivcom_close(ch);
    T_OK(ivcom_connect(plat, "restart", t_dom(0), NULL, &ch, 20000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), 4);
    T_ASSERT(strcmp(buf, "two") == 0);
    ivcom_close(ch);
    t_step_set(&sh->step, 2);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
