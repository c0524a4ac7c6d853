/* SPDX-License-Identifier: MIT */
/* Description: a service's event loop notices an idle client whose
 * domain was destroyed.  Such a client runs no unmap notify (its live
 * byte stays up) and sends no event; only its XenStore nodes go, with
 * its domain directory.  The service polls the channel without waiting
 * (ivcom_msg_try_peek, as an event loop does on each wake-up): within
 * a few such calls spread over the probe interval it must say -EPIPE,
 * not -EAGAIN for ever.  The client's domain directory is removed here
 * as the toolstack would; the client stays mapped and silent. */
#include "chan_helpers.h"
#include "platform.h"

struct shared {
    int step;
};

static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_service *svc;
    struct ivcom_chan *ch;
    const void *m;
    size_t len;
    int i, err = -EAGAIN;

    T_OK(ivcom_service_open(plat, "vanish", NULL, NULL, &svc));
    T_OK(ivcom_service_accept(svc, &ch, 20000));
    T_EQ(ivcom_msg_try_peek(ch, &m, &len), -EAGAIN);
    t_step_set(&sh->step, 1);
    t_step_wait(&sh->step, 2);              /* the client's nodes are gone */
    /* 10 s of an idle event loop waking every 50 ms. */
    for (i = 0; i < 200 && err == -EAGAIN; i++) {
        usleep(50 * 1000);
        err = ivcom_msg_try_peek(ch, &m, &len);
    }
    T_EQ(err, -EPIPE);
    t_step_set(&sh->step, 3);
    ivcom_close(ch);
    ivcom_service_close(svc);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *sh;
    char path[128];
    pid_t pid;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, sh);
    T_OK(ivcom_connect(plat, "vanish", t_dom(0), NULL, &ch, 20000));
    t_step_wait(&sh->step, 1);
    /* the clients' presence nodes (chan_svc_xs.c) */
    snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-svc-client", t_dom(1));
    T_OK(plat->ops->xs_rm(plat, IVCOM_XS_NO_TX, path));
    t_step_set(&sh->step, 2);
    t_step_wait(&sh->step, 3);              /* the service saw us go */
    ivcom_close(ch);                        /* unmap notify only now */
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
