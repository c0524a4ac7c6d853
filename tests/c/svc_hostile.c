/* SPDX-License-Identifier: MIT */
/* Description: hostile requests cost a service nothing and block no one.
 * A domain writes garbage into the request directory (malformed tokens,
 * a value that is no request, a request the server may not read or
 * answer) and then floods it with 200 well-formed requests it never
 * follows up (or as many as xenstored's quota lets it write); meanwhile
 * an honest client is served.  The service counts
 * the bad requests, refuses the flood past the per-domain limit (-EBUSY
 * to the requester, counted), and never crashes or stalls. */
#include <poll.h>

#include "chan_helpers.h"
#include "platform.h"

#define FLOOD 200

struct shared {
    int step;
    int flooded;                /* requests the attacker's quota let in */
};

static int put_once(struct ivcom_platform *plat, const char *token, const char *value,
                    unsigned server_perm)
{
    const struct ivcom_xs_perm perms[2] = {
        { (uint32_t)plat->domid, IVCOM_XS_PERM_NONE }, { (uint32_t)t_dom(0), server_perm } };
    char path[160];
    uint32_t tx;

    snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-svc/hostile/req/%s",
             t_dom(0), token);
    int err;

    T_OK(plat->ops->xs_tx_start(plat, &tx));
    err = plat->ops->xs_write(plat, tx, path, value);
    if (!err)
        err = plat->ops->xs_set_perms(plat, tx, path, perms, 2);
    if (err) {
        plat->ops->xs_tx_end(plat, tx, 1);
        return err;
    }
    err = plat->ops->xs_tx_end(plat, tx, 0);
    return err == -EAGAIN ? put_once(plat, token, value, server_perm) : err;
}

static void put(struct ivcom_platform *plat, const char *token, const char *value,
                unsigned server_perm)
{
    T_OK(put_once(plat, token, value, server_perm));
}

static int attacker(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    char token[32];
    int i;

    put(plat, "not-a-token", "request 1", IVCOM_XS_PERM_BOTH);
    put(plat, "00000000000000aa", "give me everything", IVCOM_XS_PERM_BOTH);
    put(plat, "00000000000000bb", "request 1", IVCOM_XS_PERM_NONE);
    put(plat, "00000000000000cc", "request 1", IVCOM_XS_PERM_READ);
    /* xenstored's own quota on the attacker's nodes may end the flood
     * first (-ENOSPC): that is its defence, and ours is counted below. */
    for (i = 0; i < FLOOD; i++) {
        int err;

        snprintf(token, sizeof(token), "%016x", 0x1000 + i);
        err = put_once(plat, token, "request 1", IVCOM_XS_PERM_BOTH);
        if (err == -ENOSPC)
            break;
        T_OK(err);
    }
    sh->flooded = i;
    t_step_set(&sh->step, 1);
    t_step_wait(&sh->step, 2);
    return 0;
}

static int honest(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    char buf[8];

    t_step_wait(&sh->step, 1);
    T_OK(ivcom_connect(plat, "hostile", t_dom(0), NULL, &ch, 30000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 30000), 3);
    T_ASSERT(strcmp(buf, "hi") == 0);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_service *svc;
    struct ivcom_service_stats st;
    struct ivcom_policy pol = { .max_per_domain = 4 };
    struct shared *sh;
    struct ivcom_chan *ch;
    pid_t a, h;
    int served = 0, loops;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(0));
    T_OK(ivcom_service_open(plat, "hostile", NULL, &pol, &svc));
    a = t_spawn(t_dom(1), attacker, sh);
    h = t_spawn(t_dom(2), honest, sh);
    for (loops = 0; !served; loops++) {
        struct pollfd pfd = { .fd = ivcom_service_fd(svc), .events = POLLIN };

        T_ASSERT(poll(&pfd, 1, 100) >= 0);
        while (ivcom_service_accept(svc, &ch, 0) == 0) {
            T_EQ(ivcom_peer_domid(ch), t_dom(2));
            T_EQ(ivcom_send(ch, "hi", 3, 5000), 3);
            T_OK(ivcom_flush(ch, 5000));
            ivcom_close(ch);
            served = 1;
        }
        if (loops % 25 == 24)
            t_children_ok();
    }
    T_EQ(t_wait(h), 0);
    /* Let the scan see the whole flood before counting. */
    t_step_wait(&sh->step, 1);
    ivcom_service_accept(svc, &ch, 0);
    ivcom_service_get_stats(svc, &st);
    fprintf(stderr, "requests %llu bad %llu over_limit %llu pending %u\n",
            (unsigned long long)st.requests, (unsigned long long)st.bad_requests,
            (unsigned long long)st.over_limit, st.pending);
    T_EQ(st.bad_requests, 4);
    T_EQ(st.pending, 4);                    /* the flood's first 4: offered */
    T_ASSERT(sh->flooded > 4);
    T_EQ(st.over_limit, sh->flooded - 4);
    T_EQ(st.accepted, 1);
    t_step_set(&sh->step, 2);
    T_EQ(t_wait(a), 0);
    ivcom_service_close(svc);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
