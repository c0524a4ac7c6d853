/* SPDX-License-Identifier: MIT */
/* Description: a service client's "connected" names the offer it took.
 * Once up, an honest client's request node says "connected <its port>
 * <ctrl-ref> <nonce>" (so that a tracer still finds the channel's control
 * page after the offer is overwritten), and the service hands it out.  A
 * liar that never maps the page and says "connected" with a nonce that
 * is not its offer's is never handed out: the service counts a bad
 * request and withdraws the offer (its request node goes). */
#include <poll.h>

#include "chan_helpers.h"
#include "platform.h"

struct shared {
    int step;
    int liar_done;
};

static char req_path[160];

static int put_request(struct ivcom_platform *plat, const char *path)
{
    const struct ivcom_xs_perm perms[2] = {
        { (uint32_t)plat->domid, IVCOM_XS_PERM_NONE },
        { (uint32_t)t_dom(0), IVCOM_XS_PERM_BOTH } };
    uint32_t tx;
    int err;

    T_OK(plat->ops->xs_tx_start(plat, &tx));
    err = plat->ops->xs_write(plat, tx, path, "request 1");
    if (!err)
        err = plat->ops->xs_set_perms(plat, tx, path, perms, 2);
    if (err) {
        plat->ops->xs_tx_end(plat, tx, 1);
        return err;
    }
    err = plat->ops->xs_tx_end(plat, tx, 0);
    return err == -EAGAIN ? put_request(plat, path) : err;
}

/* Waits (up to 10 s) until the node's value starts with `prefix` (NULL:
 * until the node is gone); 0 or -ETIMEDOUT. */
static int wait_value(struct ivcom_platform *plat, const char *prefix, char *val, size_t len)
{
    int i;

    for (i = 0; i < 1000; i++) {
        int err = plat->ops->xs_read(plat, IVCOM_XS_NO_TX, req_path, val, len);

        if (!prefix && (err == -ENOENT || err == -EACCES))
            return 0;
        if (prefix && !err && strncmp(val, prefix, strlen(prefix)) == 0)
            return 0;
        usleep(10000);
    }
    return -ETIMEDOUT;
}

static int liar(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    char val[128], mode[16], nonce[24], lie[96];
    unsigned version, s2c, c2s, ref, port;

    snprintf(req_path, sizeof(req_path),
             "/local/domain/%d/data/ivcom-svc/named/req/00000000000000aa", t_dom(0));
    T_OK(put_request(plat, req_path));
    T_OK(wait_value(plat, "offer ", val, sizeof(val)));
    T_EQ(sscanf(val, "offer %u %15s %u %u %u %u %16s", &version, mode, &s2c, &c2s, &ref,
                &port, nonce), 7);
    /* Its offer's ref, another nonce; nothing mapped, nothing bound. */
    nonce[15] = nonce[15] == '0' ? '1' : '0';
    snprintf(lie, sizeof(lie), "connected 77 %u %s", ref, nonce);
    T_OK(plat->ops->xs_write(plat, IVCOM_XS_NO_TX, req_path, lie));
    T_OK(wait_value(plat, NULL, val, sizeof(val)));
    sh->liar_done = 1;
    return 0;
}

static int honest(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    unsigned port, ref;
    char val[128], nonce[24], end;

    t_step_wait(&sh->step, 1);
    T_OK(ivcom_connect(plat, "named", t_dom(0), NULL, &ch, 30000));
    /* Our own request node (we own it). */
    T_OK(ivcom_recv(ch, val, sizeof(val), 30000) == 3 ? 0 : -EPROTO);
    {
        char list[4096];
        char dir[160], path[4400];
        int n;

        snprintf(dir, sizeof(dir), "/local/domain/%d/data/ivcom-svc-client/%d/named", t_dom(2),
                 t_dom(0));
        n = plat->ops->xs_directory(plat, IVCOM_XS_NO_TX, dir, list, sizeof(list));
        T_EQ(n, 1);
        snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-svc/named/req/%s",
                 t_dom(0), list);
        T_OK(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, val, sizeof(val)));
    }
    fprintf(stderr, "honest client's request node: %s\n", val);
    T_EQ(sscanf(val, "connected %u %u %16[0-9a-f]%c", &port, &ref, nonce, &end), 3);
    T_EQ(strlen(nonce), 16);
    T_EQ((int)port, ivcom_local_port(ch));
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_service *svc;
    struct ivcom_service_stats st;
    struct shared *sh;
    struct ivcom_chan *ch;
    pid_t l, h;
    int served = 0, loops;

    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(0));
    T_OK(ivcom_service_open(plat, "named", NULL, NULL, &svc));
    l = t_spawn(t_dom(1), liar, sh);
    h = t_spawn(t_dom(2), honest, sh);
    t_step_set(&sh->step, 1);
    for (loops = 0; !served || !sh->liar_done; loops++) {
        struct pollfd pfd = { .fd = ivcom_service_fd(svc), .events = POLLIN };

        T_ASSERT(loops < 400);
        T_ASSERT(poll(&pfd, 1, 50) >= 0);
        while (ivcom_service_accept(svc, &ch, 0) == 0) {
            T_EQ(ivcom_peer_domid(ch), t_dom(2));   /* never the liar's */
            T_EQ(ivcom_send(ch, "hi", 3, 5000), 3);
            T_OK(ivcom_flush(ch, 5000));
            served = 1;
            T_EQ(ivcom_recv(ch, NULL, 0, 20000), -EPIPE);
            ivcom_close(ch);
        }
        if (loops % 25 == 24)
            t_children_ok();
    }
    T_EQ(t_wait(h), 0);
    T_EQ(t_wait(l), 0);
    ivcom_service_get_stats(svc, &st);
    fprintf(stderr, "requests %llu accepted %llu bad %llu\n", (unsigned long long)st.requests,
            (unsigned long long)st.accepted, (unsigned long long)st.bad_requests);
    T_EQ(st.accepted, 1);
    T_EQ(st.bad_requests, 1);
    ivcom_service_close(svc);
    ivcom_platform_close(plat);
    return 0;
}
