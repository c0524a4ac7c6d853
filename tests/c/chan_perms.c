/* SPDX-License-Identifier: MIT */
/* Description: a channel offered to domain B is refused to a third domain
 * C at every layer -- the XenStore offer (the real xenstored says EACCES),
 * the grant refs (the hypervisor refuses the map), and the event channel
 * (bind refused) -- while B connects normally. */
#include "chan_helpers.h"
#include "internal.h"

struct shared { uint32_t ctrl_ref, port; };

static int third(struct ivcom_platform *plat, void *arg)
{
    struct shared *s = arg;
    struct ivcom_chan *ch;
    struct ivcom_evtchn *ev;
    char path[IVCOM_PATH_MAX], buf[64];
    void *addr;
    uint32_t lport;
    int err;

    err = ivcom_connect(plat, "perm", t_dom(0), NULL, &ch, 300);
    if (err != -EACCES)
        T_FAIL("third domain connect gave %d (%s), expected -EACCES", err, ivcom_strerror(err));
    snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom/perm/ctrl-ref", t_dom(0));
    T_EQ(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, buf, sizeof(buf)), -EACCES);
    snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom/perm/state", t_dom(0));
    T_EQ(plat->ops->xs_write(plat, IVCOM_XS_NO_TX, path, "connected"), -EACCES);
    err = plat->ops->map(plat, t_dom(0), 1, &s->ctrl_ref, 1, &addr);
    if (err != -EPERM && err != -EACCES)
        T_FAIL("third domain map gave %d, expected -EPERM/-EACCES", err);
    T_OK(plat->ops->evtchn_open(plat, &ev));
    err = plat->ops->evtchn_bind(ev, t_dom(0), s->port, &lport);
    T_ASSERT(err < 0);
    plat->ops->evtchn_close(ev);
    return 0;
}

static int rightful(struct ivcom_platform *plat, void *arg)
{
    struct ivcom_chan *ch;
    char buf[8];

    (void)arg;
    T_OK(ivcom_connect(plat, "perm", t_dom(0), NULL, &ch, 5000));
    T_EQ(ivcom_recv(ch, buf, sizeof(buf), 5000), 2);
    ivcom_close(ch);
    return 0;
}

int main(void)
{
    struct ivcom_platform *plat;
    struct ivcom_chan *ch;
    struct shared *s;
    char path[IVCOM_PATH_MAX + 16], buf[32];
    pid_t pid;

    t_sim_required();
    s = t_shared(sizeof(*s));
    plat = t_platform(t_dom(0));
    pid = t_spawn(t_dom(1), rightful, NULL);
    T_OK(ivcom_listen(plat, "perm", t_dom(1), NULL, &ch));
    snprintf(path, sizeof(path), "%s/ctrl-ref", ch->xs_dir);
    T_OK(plat->ops->xs_read(plat, IVCOM_XS_NO_TX, path, buf, sizeof(buf)));
    s->ctrl_ref = (uint32_t)strtoul(buf, NULL, 10);
    s->port = ch->port;
    T_EQ(t_wait(t_spawn(t_dom(2), third, s)), 0);
    T_OK(ivcom_accept(ch, 5000));
    T_EQ(ivcom_send(ch, "hi", 2, 5000), 2);
    T_EQ(t_wait(pid), 0);
    ivcom_close(ch);
    ivcom_platform_close(plat);
    return T_EXIT_PASS;
}
