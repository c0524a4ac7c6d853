/* SPDX-License-Identifier: MIT */
/* Description: 64 client domains (dom0 among them) connected to one
 * service at the same time stay inside xenstored's default quotas: every
 * connect succeeds, each client is told apart by the domain xenstored
 * records (each echoes its own domid back), and the service's node
 * count and watch count do not grow with its clients. */
#include <poll.h>

#include "chan_helpers.h"
#include "platform.h"

#define NCLIENTS 64

struct shared {
    int step;
};

static int client(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    int me = ivcom_platform_domid(plat), got;

    T_OK(ivcom_connect(plat, "many", t_dom(0), NULL, &ch, 60000));
    T_EQ(ivcom_recv(ch, &got, sizeof(got), 60000), sizeof(got));
    T_EQ(got, me);
    t_step_wait(&sh->step, 1);              /* all are connected at once */
    ivcom_close(ch);
    return 0;
}

/* Nodes under the service's directory that the server owns. */
static int server_nodes(struct ivcom_platform *plat, const char *dir)
{
    char buf[8192], path[8448];
    struct ivcom_xs_perm perms[4];
    const char *name;
    int i, n, total = 0;

    if (plat->ops->xs_get_perms(plat, 0, dir, perms, 4) > 0 &&
        perms[0].domid == (uint32_t)plat->domid)
        total++;
    n = plat->ops->xs_directory(plat, 0, dir, buf, sizeof(buf));
    for (i = 0, name = buf; i < n; i++, name += strlen(name) + 1) {
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        total += server_nodes(plat, path);
    }
    return total;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_service *svc;
    struct ivcom_service_stats st;
    struct ivcom_chan *chans[NCLIENTS];
    struct shared *sh;
    pid_t pids[NCLIENTS];
    char dir[128];
    int i, n = 0, nodes0, loops;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(0));
    T_OK(ivcom_service_open(plat, "many", NULL, NULL, &svc));
    snprintf(dir, sizeof(dir), "/local/domain/%d/data/ivcom-svc/many", t_dom(0));
    nodes0 = server_nodes(plat, dir);
    T_ASSERT(nodes0 > 0);
    pids[0] = t_spawn(0, client, sh);       /* dom0, a privileged client */
    for (i = 1; i < NCLIENTS; i++)
        pids[i] = t_spawn(t_dom(i), client, sh);
    for (loops = 0; n < NCLIENTS; loops++) {
        struct pollfd pfd = { .fd = ivcom_service_fd(svc), .events = POLLIN };
        struct ivcom_chan *ch;

        T_ASSERT(poll(&pfd, 1, 200) >= 0);
        while (n < NCLIENTS && ivcom_service_accept(svc, &ch, 0) == 0) {
            int peer = ivcom_peer_domid(ch);

            T_EQ(ivcom_send(ch, &peer, sizeof(peer), 5000), sizeof(peer));
            chans[n++] = ch;
        }
        if (loops % 25 == 24)
            t_children_ok();
    }
    /* All 64 at once: the service's own nodes are what they were. */
    T_EQ(server_nodes(plat, dir), nodes0);
    ivcom_service_get_stats(svc, &st);
    T_EQ(st.accepted, NCLIENTS);
    T_EQ(st.refused + st.over_limit + st.failed + st.bad_requests, 0);
    t_step_set(&sh->step, 1);
    for (i = 0; i < NCLIENTS; i++)
        T_EQ(t_wait(pids[i]), 0);
    for (i = 0; i < n; i++)
        ivcom_close(chans[i]);
    ivcom_service_close(svc);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
