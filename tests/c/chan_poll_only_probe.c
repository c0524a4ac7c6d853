/* SPDX-License-Identifier: MIT */
/* Description: a polling wait notices a peer domain that vanished without
 * an unmap notify (a destroyed tiny guest: its live byte stays up, its
 * XenStore nodes go).  The client polls (poll_only) in recv with a 10 s
 * timeout; the server removes its offer from XenStore, as the toolstack
 * does for a destroyed domain, and stays mapped and silent: recv must
 * say -EPIPE before its timeout, from the presence probe. */
#include "chan_helpers.h"
#include "platform.h"

struct shared {
    int step;
};

static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    char path[128];

    T_OK(ivcom_listen(plat, "vanish", t_dom(1), NULL, &ch));
    T_OK(ivcom_accept(ch, 10000));
    snprintf(path, sizeof(path), "/local/domain/%d/%s/vanish", t_dom(0), IVCOM_XS_BASE);
    t_step_wait(&sh->step, 1);
    T_OK(plat->ops->xs_rm(plat, IVCOM_XS_NO_TX, path));
    t_step_wait(&sh->step, 2);              /* the client saw us go */
    return 0;                               /* unmap notify only now */
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_params p;
    struct ivcom_chan *ch;
    struct shared *sh;
    char buf[16];
    pid_t pid;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    /* Our domain exists before the server offers to it (xenstored drops
     * permissions that name no domain). */
    plat = t_platform(t_dom(1));
    pid = t_spawn(t_dom(0), server, sh);
    ivcom_params_init(&p);
    p.poll_only = 1;
    T_OK(ivcom_connect(plat, "vanish", t_dom(0), &p, &ch, 10000));
    t_step_set(&sh->step, 1);
    /* -ETIMEDOUT would say the probe never ran. */
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), -EPIPE);
    t_step_set(&sh->step, 2);
    ivcom_close(ch);
    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
