/* SPDX-License-Identifier: MIT */
/* Description: set-up refuses what cannot work, up front and leaving
 * nothing behind.
 *  - a name with '.' (xenstored takes none) and a domain id outside
 *    0..DOMID_FIRST_RESERVED-1 (65536 would wrap to dom0) are -EINVAL
 *    before the platform is asked for anything;
 *  - a connect whose last XenStore write fails takes back what it wrote
 *    (presence node gone, client/state and client/event-channel empty)
 *    and the server's accept does not take it for a client;
 *  - an accept whose XenStore write fails leaves the channel unusable
 *    (-ENOTCONN), and a later accept completes it;
 *  - an offer whose nonce does not match its control page (a stale offer
 *    whose refs now grant another page) is refused with -ESTALE. */
#include "ops_wrap.h"

struct shared {
    int step;
};

static const struct ivcom_platform_ops no_ops = { .name = "none" };

/* Any op called on this platform would crash the test. */
static void refused_up_front(void)
{
    struct ivcom_platform none = { .ops = &no_ops, .domid = 5 };
    struct ivcom_chan *ch;

    T_EQ(ivcom_listen(&none, "a.b", 7, NULL, &ch), -EINVAL);
    T_EQ(ivcom_connect(&none, "a.b", 7, NULL, &ch, 0), -EINVAL);
    T_EQ(ivcom_listen(&none, "ok", 65536, NULL, &ch), -EINVAL);
    T_EQ(ivcom_listen(&none, "ok", 65536 + 7, NULL, &ch), -EINVAL);
    T_EQ(ivcom_listen(&none, "ok", 0x7ff0, NULL, &ch), -EINVAL);
    T_EQ(ivcom_listen(&none, "ok", -1, NULL, &ch), -EINVAL);
    T_EQ(ivcom_connect(&none, "ok", 65536, NULL, &ch, 0), -EINVAL);
    T_EQ(ivcom_connect(&none, "ok", 5, NULL, &ch, 0), -EINVAL);     /* itself */
}

static int fail_client_state(const char *path, const char *value)
{
    return t_path_ends(path, "client/state") && strcmp(value, "connected") == 0 ? -ENOSPC : 0;
}

static int fail_server_connected(const char *path, const char *value)
{
    return t_path_ends(path, "state") && !t_path_ends(path, "client/state") &&
           strcmp(value, "connected") == 0 ? -EIO : 0;
}

static void read_node(struct ivcom_platform *plat, const char *path, char *buf, size_t len)
{
    int err = plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, buf, len);

    if (err)
        T_FAIL("read %s: %s", path, ivcom_strerror(err));
}

static int client(struct ivcom_platform *plat, void *arg)
{
    struct shared *sh = arg;
    struct ivcom_chan *ch;
    char path[160], buf[32];
    int err;

    /* 1: the last write fails. */
    t_wrap_platform(plat);
    t_xs_write_hook = fail_client_state;
    T_EQ(ivcom_connect(plat, "half", t_dom(0), NULL, &ch, 10000), -ENOSPC);
    t_xs_write_hook = NULL;
    snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-client/%d/half", t_dom(1), t_dom(0));
    err = plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, buf, sizeof(buf));
    T_EQ(err, -ENOENT);
    snprintf(path, sizeof(path), "/local/domain/%d/%s/half/client/state", t_dom(0), IVCOM_XS_BASE);
    read_node(plat, path, buf, sizeof(buf));
    T_ASSERT(buf[0] == 0);
    snprintf(path, sizeof(path), "/local/domain/%d/%s/half/client/event-channel",
             t_dom(0), IVCOM_XS_BASE);
    read_node(plat, path, buf, sizeof(buf));
    T_ASSERT(buf[0] == 0);
    t_step_set(&sh->step, 1);

    /* 2: the server's accept fails once; we connect all the same. */
    T_OK(ivcom_connect(plat, "acc", t_dom(0), NULL, &ch, 10000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 10000), 2);
    ivcom_close(ch);

    /* 3: a stale offer. */
    t_step_wait(&sh->step, 3);
    T_EQ(ivcom_connect(plat, "stale", t_dom(0), NULL, &ch, 10000), -ESTALE);
    t_step_set(&sh->step, 4);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *sh;
    char path[160];
    pid_t pid;

    refused_up_front();
    t_sim_required();
    sh = t_shared(sizeof(*sh));
    plat = t_platform(t_dom(0));
    t_wrap_platform(plat);
    pid = t_spawn(t_dom(1), client, sh);

    T_OK(ivcom_listen(plat, "half", t_dom(1), NULL, &ch));
    t_step_wait(&sh->step, 1);
    T_EQ(ivcom_accept(ch, 1000), -ETIMEDOUT);   /* nobody came */
    ivcom_close(ch);

    T_OK(ivcom_listen(plat, "acc", t_dom(1), NULL, &ch));
    t_xs_write_hook = fail_server_connected;
    T_EQ(ivcom_accept(ch, 10000), -EIO);
    t_xs_write_hook = NULL;
    T_EQ(ivcom_send(ch, "x", 2, 0), -ENOTCONN);
    T_OK(ivcom_accept(ch, 10000));
    T_EQ(ivcom_send(ch, "x", 2, 5000), 2);
    T_OK(ivcom_flush(ch, 5000));
    ivcom_close(ch);

    T_OK(ivcom_listen(plat, "stale", t_dom(1), NULL, &ch));
    snprintf(path, sizeof(path), "/local/domain/%d/%s/stale/nonce", t_dom(0), IVCOM_XS_BASE);
    T_OK(plat->ops->xs_write(plat, IVCOM_XS_NO_TX, path, "0123456789abcdef"));
    t_step_set(&sh->step, 3);
    t_step_wait(&sh->step, 4);
    ivcom_close(ch);

    T_EQ(t_wait(pid), 0);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
