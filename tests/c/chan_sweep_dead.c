/* SPDX-License-Identifier: MIT */
/* Description: the XenStore nodes of a killed process are reclaimed.  A
 * dom0 process offers a channel, opens a service and connects (as a
 * client) to a channel of another domain, then dies by SIGKILL: its offer,
 * its service directory and its presence node stay behind.  The next dom0
 * process's first set-up call removes them (their owner process is gone)
 * and leaves alone a node whose owner is alive.  (The sim keeps
 * dom0's XenStore directory when its processes end, as Xen does.) */
#include <signal.h>

#include "chan_helpers.h"
#include "platform.h"

struct shared {
    int step;
    char offer[32], svc[32], link[32], keep[32], presence[160];
};

static int exists(struct ivcom_platform *plat, const char *fmt, const char *name)
{
    char path[160], val[64];
    int err;

    snprintf(path, sizeof(path), fmt, name);
    err = plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, val, sizeof(val));
    if (err && err != -ENOENT)
        T_FAIL("read %s: %s", path, ivcom_strerror(err));
    return err == 0;
}

/* dom0, first life: leaves an offer, a service and a presence behind. */
static int doomed(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_service *svc;
    struct ivcom_chan *a, *b;

    T_OK(ivcom_listen(plat, sh->offer, t_dom(1), NULL, &a));
    T_OK(ivcom_service_open(plat, sh->svc, NULL, NULL, &svc));
    T_OK(ivcom_connect(plat, sh->link, t_dom(2), NULL, &b, 20000));
    T_ASSERT(exists(plat, "/local/domain/0/data/ivcom/%s/owner", sh->offer));
    T_ASSERT(exists(plat, "/local/domain/0/data/ivcom-svc/%s/owner", sh->svc));
    kill(getpid(), SIGKILL);
    return 1;
}

/* dom0, next life: its first set-up call sweeps.  A node whose owner is
 * alive (the test's main process, as far as XenStore can tell) stays. */
static int heir(struct ivcom_platform *plat, void *arg)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct shared *sh = arg;
    struct ivcom_service *svc;
    char path[160], pid[16];

    T_ASSERT(exists(plat, "/local/domain/0/data/ivcom/%s/state", sh->offer));
    T_ASSERT(exists(plat, "/local/domain/0/data/ivcom-svc/%s/state", sh->svc));
    T_ASSERT(exists(plat, "%s", sh->presence));
    snprintf(path, sizeof(path), "/local/domain/0/data/ivcom/%s/owner", sh->keep);
    snprintf(pid, sizeof(pid), "%d", (int)getppid());
    T_OK(ops->xs_write(plat, IVCOM_XS_NO_TX, path, pid));
    T_OK(ivcom_service_open(plat, "sweep-heir", NULL, NULL, &svc));
    T_ASSERT(!exists(plat, "/local/domain/0/data/ivcom/%s", sh->offer));
    T_ASSERT(!exists(plat, "/local/domain/0/data/ivcom-svc/%s", sh->svc));
    T_ASSERT(!exists(plat, "%s", sh->presence));
    T_ASSERT(exists(plat, "/local/domain/0/data/ivcom/%s/owner", sh->keep));
    snprintf(path, sizeof(path), "/local/domain/0/data/ivcom/%s", sh->keep);
    T_OK(ops->xs_rm(plat, IVCOM_XS_NO_TX, path));
    ivcom_service_close(svc);
    return 0;
}

/* t_dom(2): the server dom0's doomed process connects to. */
static int server(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;

    T_OK(ivcom_listen(plat, sh->link, 0, NULL, &ch));
    T_OK(ivcom_accept(ch, 20000));
    t_step_wait(&sh->step, 1);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct shared *sh;
    pid_t srv;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    snprintf(sh->offer, sizeof(sh->offer), "sweep-o-%d", t_dom(0));
    snprintf(sh->svc, sizeof(sh->svc), "sweep-s-%d", t_dom(0));
    snprintf(sh->link, sizeof(sh->link), "sweep-l-%d", t_dom(0));
    snprintf(sh->keep, sizeof(sh->keep), "sweep-k-%d", t_dom(0));
    snprintf(sh->presence, sizeof(sh->presence), "/local/domain/0/data/ivcom-client/%d/%s",
             t_dom(2), sh->link);
    plat = t_platform(t_dom(1));
    srv = t_spawn(t_dom(2), server, sh);
    /* Killed: a wait status of SIGKILL, not an exit code. */
    T_EQ(t_wait(t_spawn(0, doomed, sh)), 128 + SIGKILL);
    t_step_set(&sh->step, 1);
    T_EQ(t_wait(srv), 0);
    T_EQ(t_wait(t_spawn(0, heir, sh)), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
