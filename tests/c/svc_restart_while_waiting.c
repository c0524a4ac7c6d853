/* SPDX-License-Identifier: MIT */
/* Description: a service restarts while a client waits for its answer.
 * The client's request is in the directory of instance one, which never
 * answers it; instance two opens in its place and clears its
 * predecessor's requests.  The client's connect, still within its
 * deadline, finds the new instance and connects to it (a reset request
 * is "not yet", not the end of the connect).  The service's re-start
 * under a supervisor that re-runs it is the case seen in the lab. */
#include "chan_helpers.h"

struct shared {
    int step;
};

static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_service *one, *two;
    struct ivcom_chan *ch;

    T_OK(ivcom_service_open(plat, "again", NULL, NULL, &one));
    t_step_set(&sh->step, 1);
    t_step_wait(&sh->step, 2);          /* the client's request is in */
    ivcom_service_close(one);           /* unanswered: it stays ... */
    T_OK(ivcom_service_open(plat, "again", NULL, NULL, &two));   /* ... until now */
    T_OK(ivcom_service_accept(two, &ch, 20000));
    T_EQ(ivcom_send(ch, "two", 4, 5000), 4);
    t_step_wait(&sh->step, 3);
    ivcom_close(ch);
    ivcom_service_close(two);
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
    t_step_wait(&sh->step, 1);
    T_OK(ivcom_connect_start(plat, "again", t_dom(0), NULL, &ch));
    /* One look: the service is listening, so our request goes in and
     * its answer is still to come. */
    T_EQ(ivcom_connect_continue(ch, 0), -EAGAIN);
    t_step_set(&sh->step, 2);
    T_OK(ivcom_connect_continue(ch, 20000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), 4);
    T_ASSERT(strcmp(buf, "two") == 0);
    t_step_set(&sh->step, 3);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
