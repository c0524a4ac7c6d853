/* SPDX-License-Identifier: MIT */
/*
 * Channel set-up and teardown: parameters, listen/accept (server),
 * connect (client), close, and what a channel tells about itself.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"

/* ivcom_chan.connecting */
enum { CONNECT_OFFER = 1, CONNECT_REQUEST, CONNECT_FAILED };
/* A blocking connect looks again at least this often (offers may come
 * without a watch event we can see: a path not readable yet). */
#define CONNECT_SLICE_MS 20

IVCOM_EXPORT void ivcom_params_init(struct ivcom_params *p)
{
    memset(p, 0, sizeof(*p));
    p->mode = IVCOM_MODE_MESSAGE;
    p->tx_order = 16;
    p->rx_order = 16;
    p->spin_us = 30;
}

/* Domain ids are 16-bit on the wire and those from DOMID_FIRST_RESERVED
 * up name no domain: a larger int must not wrap around to dom0. */
static int domid_ok(const struct ivcom_platform *plat, int domid)
{
    return domid >= 0 && domid < IVCOM_DOMID_FIRST_RESERVED && domid != plat->domid;
}

static int order_ok(unsigned order)
{
    return order >= IVCOM_RING_ORDER_MIN && order <= IVCOM_RING_ORDER_MAX;
}

int ivcom_name_ok(const char *name)
{
    size_t i, n = name ? strlen(name) : 0;

    if (n == 0 || n > IVCOM_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;   /* xenstored takes no '.' in a path element */
    }
    return 1;
}

int ivcom_chan_fail(struct ivcom_chan *ch, int err)
{
    if (!ch->broken)
        ch->broken = err;
    ch->ready = 0;
    return ch->broken;
}

int ivcom_chan_unusable(struct ivcom_chan *ch, uint8_t mode)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    return ch->params.mode != mode ? -EINVAL : 0;
}

/* ---- set-up ------------------------------------------------------------- */

static struct ivcom_chan *chan_new(struct ivcom_platform *plat, const char *name,
                                   int peer, const struct ivcom_params *params)
{
    struct ivcom_chan *ch = calloc(1, sizeof(*ch));

    if (!ch)
        return NULL;
    ch->plat = plat;
    ch->peer = peer;
    strcpy(ch->name, name);
    if (params)
        ch->params = *params;
    else
        ivcom_params_init(&ch->params);
    ch->spin_ns = (uint64_t)ch->params.spin_us * 1000u;
    return ch;
}

int ivcom_params_ok(const struct ivcom_params *p)
{
    return (p->mode == IVCOM_MODE_MESSAGE || p->mode == IVCOM_MODE_STREAM) &&
           order_ok(p->tx_order) && order_ok(p->rx_order) &&
           p->spin_us <= 10u * 1000 * 1000;
}

static unsigned ring_pages(unsigned order)
{
    return 1u << (order - IVCOM_PAGE_SHIFT);
}

/* Rings of one side: tx/rx over the s2c and c2s directions. */
static void setup_rings(struct ivcom_chan *ch, uint8_t *data)
{
    struct ivcom_ctrl *c = ch->ctrl;
    uint8_t s2c = ch->is_server ? ch->params.tx_order : ch->params.rx_order;
    uint8_t c2s = ch->is_server ? ch->params.rx_order : ch->params.tx_order;
    uint8_t *s2c_data = data, *c2s_data = data + (1u << s2c);

    if (ch->is_server) {
        ivcom_ring_init(&ch->tx, s2c_data, s2c, &c->s2c_prod, &c->s2c_cons);
        ivcom_ring_init(&ch->rx, c2s_data, c2s, &c->c2s_prod, &c->c2s_cons);
        ch->own_live = &c->server_live;
        ch->peer_live = &c->client_live;
    } else {
        ivcom_ring_init(&ch->tx, c2s_data, c2s, &c->c2s_prod, &c->c2s_cons);
        ivcom_ring_init(&ch->rx, s2c_data, s2c, &c->s2c_prod, &c->s2c_cons);
        ch->own_live = &c->client_live;
        ch->peer_live = &c->server_live;
    }
}

static int open_evtchn(struct ivcom_chan *ch)
{
    return ch->plat->ops->evtchn_open(ch->plat, &ch->ev);
}

static void chan_teardown(struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;

    if (ch->ev) {
        if (ch->port)
            ops->evtchn_unbind(ch->ev, ch->port);
        ops->evtchn_close(ch->ev);
    }
    if (ch->data)
        ops->unmap(ch->plat, ch->data, ch->data_pages);
    if (ch->area) {
        if (ch->is_server)
            ops->unshare(ch->plat, ch->area, ch->area_pages);
        else
            ops->unmap(ch->plat, ch->area, ch->area_pages);
    }
    free(ch);
}

int ivcom_chan_check_args(struct ivcom_platform *plat, const char *name, int peer,
                          const struct ivcom_params *params)
{
    return ivcom_name_ok(name) && domid_ok(plat, peer) && (!params || ivcom_params_ok(params))
           ? 0 : -EINVAL;
}

/* The server's half of a channel, everything but its XenStore offer:
 * pages granted to the peer, the control page filled in (with a fresh
 * nonce), our live byte up, an unbound port for the peer. */
int ivcom_chan_server_new(struct ivcom_platform *plat, const char *name, int peer_domid,
                          const struct ivcom_params *params, struct ivcom_chan **out)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct ivcom_chan *ch;
    struct ivcom_ctrl *c;
    uint32_t *refs;
    unsigned i, ndata;
    int err;

    ch = chan_new(plat, name, peer_domid, params);
    if (!ch)
        return -ENOMEM;
    ch->is_server = 1;
    ndata = ring_pages(ch->params.tx_order) + ring_pages(ch->params.rx_order);
    ch->area_pages = 1 + ndata;
    refs = calloc(ch->area_pages, sizeof(*refs));
    if (!refs) {
        free(ch);
        return -ENOMEM;
    }
    err = ops->share(plat, peer_domid, ch->area_pages, &ch->area, refs);
    if (err) {
        ch->area = NULL;
        goto out_free;
    }

    c = ch->ctrl = ch->area;
    memset(c, 0, IVCOM_PAGE_SIZE);
    c->magic = IVCOM_WIRE_MAGIC;
    c->version = IVCOM_WIRE_VERSION;
    c->mode = ch->params.mode;
    c->s2c_order = ch->params.tx_order;
    c->c2s_order = ch->params.rx_order;
    c->nr_grefs = ndata;
    ch->nonce = c->nonce = ivcom_os_nonce();
    for (i = 0; i < ndata; i++)
        c->grefs[i] = refs[i + 1];
    setup_rings(ch, (uint8_t *)ch->area + IVCOM_PAGE_SIZE);
    ivcom_store_release(&c->server_live, IVCOM_LIVE_UP);

    err = open_evtchn(ch);
    if (err)
        goto out_free;
    err = ops->evtchn_alloc_unbound(ch->ev, peer_domid, &ch->port);
    if (err)
        goto out_free;
    err = ops->unmap_notify(plat, ch->area, offsetof(struct ivcom_ctrl, server_live),
                            ch->port);
    if (err && err != -EOPNOTSUPP)
        goto out_free;
    ch->ctrl_ref = refs[0];
    free(refs);
    *out = ch;
    return 0;

out_free:
    free(refs);
    chan_teardown(ch);
    return err;
}

void ivcom_chan_destroy(struct ivcom_chan *ch)
{
    chan_teardown(ch);
}

IVCOM_EXPORT int ivcom_listen(struct ivcom_platform *plat, const char *name,
                              int peer_domid, const struct ivcom_params *params,
                              struct ivcom_chan **out)
{
    struct ivcom_chan *ch;
    int err = ivcom_chan_check_args(plat, name, peer_domid, params);

    if (err)
        return err;
    ivcom_xs_sweep(plat);
    err = ivcom_chan_server_new(plat, name, peer_domid, params, &ch);
    if (err)
        return err;
    err = ivcom_xs_offer(ch, ch->ctrl_ref);
    if (err) {
        chan_teardown(ch);
        return err;
    }
    *out = ch;
    return 0;
}

IVCOM_EXPORT int ivcom_accept(struct ivcom_chan *ch, int timeout_ms)
{
    int err;

    if (!ch->is_server)
        return -EINVAL;
    if (ch->broken)
        return ch->broken;
    if (ch->connected)
        return 0;
    err = ivcom_chan_wait(ch, WAIT_PEER_UP, 0, ivcom_deadline_of(timeout_ms));
    if (err)
        return err;
    /* Usable only once XenStore says so too: a failed write leaves the
     * channel unaccepted (accept may be called again). */
    err = ivcom_xs_set_state(ch, IVCOM_XS_STATE_CONNECTED);
    if (err)
        return err;
    ch->connected = 1;
    ch->ready = ch->params.mode;
    return 0;
}

/* The control page as the server wrote it must agree with its XenStore
 * offer; every field is read once, into our private params. */
static int check_ctrl(struct ivcom_chan *ch, uint32_t *grefs, unsigned *ndata)
{
    struct ivcom_ctrl *c = ch->ctrl;
    uint32_t i, n;

    if (ivcom_load_once(&c->magic) != IVCOM_WIRE_MAGIC ||
        ivcom_load_once(&c->version) != IVCOM_WIRE_VERSION ||
        ivcom_load_once(&c->mode) != ch->params.mode ||
        ivcom_load_once(&c->s2c_order) != ch->params.rx_order ||
        ivcom_load_once(&c->c2s_order) != ch->params.tx_order)
        return -EPROTO;
    /* The page the offer's ref grants now is not the offer's page: the
     * server that made the offer is gone and the ref went to another. */
    if (ivcom_load_once(&c->nonce) != ch->nonce)
        return -ESTALE;
    n = ivcom_load_once(&c->nr_grefs);
    if (n != ring_pages(ch->params.rx_order) + ring_pages(ch->params.tx_order))
        return -EPROTO;
    for (i = 0; i < n; i++)
        grefs[i] = ivcom_load_once(&c->grefs[i]);
    *ndata = n;
    return 0;
}

/* The client's set-up once it knows the offer: map, check, bind, then say
 * it is here.  0, or -errno with every step taken back. */
static int connect_finish(struct ivcom_chan *ch, uint32_t ctrl_ref, uint32_t remote_port)
{
    struct ivcom_platform *plat = ch->plat;
    const struct ivcom_platform_ops *ops = plat->ops;
    uint32_t grefs[IVCOM_CTRL_MAX_GREFS];
    int err;

    ch->area_pages = 1;
    ch->ctrl_ref = ctrl_ref;
    err = ops->map(plat, ch->peer, 1, &ctrl_ref, 1, &ch->area);
    if (err) {
        ch->area = NULL;
        goto out_retract;
    }
    ch->ctrl = ch->area;
    err = check_ctrl(ch, grefs, &ch->data_pages);
    if (err)
        goto out_retract;
    err = ops->map(plat, ch->peer, ch->data_pages, grefs, 1, &ch->data);
    if (err) {
        ch->data = NULL;
        goto out_retract;
    }
    setup_rings(ch, ch->data);
    /* Our own lines start from zero whatever the server left there. */
    ivcom_store_once(&ch->tx.pl->prod, 0);
    ivcom_store_once(&ch->tx.pl->cons_event, 0);
    ivcom_store_once(&ch->rx.cl->cons, 0);
    ivcom_store_once(&ch->rx.cl->prod_event, 0);

    err = open_evtchn(ch);
    if (err)
        goto out_retract;
    err = ops->evtchn_bind(ch->ev, ch->peer, remote_port, &ch->port);
    if (err)
        goto out_retract;
    err = ops->unmap_notify(plat, ch->area, offsetof(struct ivcom_ctrl, client_live),
                            ch->port);
    if (err && err != -EOPNOTSUPP)
        goto out_retract;
    /* The order of the next three steps is the protocol:
     * 1. our presence node, readable by the server (one transaction): once
     *    connected, the server's waits probe it and take a missing or
     *    unreadable node for a departure (when XenStore is slow, as under
     *    TCG, a probe can fall anywhere in between);
     * 2. up in the page: R4, our lines are initialised before we say we
     *    are up; pairs with A4 in the server's accept;
     * 3. "connected" in XenStore: a server whose accept learns from there
     *    that we came must find us up (or, later, closed or dead), never
     *    still "dead" from before we started.
     * Should a write fail, we take it all back and are dead again. */
    err = ivcom_xs_announce(ch);
    if (err)
        goto out_retract;
    ivcom_store_release(ch->own_live, IVCOM_LIVE_UP);
    err = ivcom_xs_set_state(ch, IVCOM_XS_STATE_CONNECTED);
    if (err) {
        ivcom_store_release(ch->own_live, IVCOM_LIVE_DEAD);
        goto out_retract;
    }
    ch->connected = 1;
    ch->ready = ch->params.mode;
    /* Wake the server's accept (set-up, not counted as data-path events). */
    ops->evtchn_notify(ch->ev, ch->port);
    return 0;

out_retract:
    ivcom_xs_retract(ch);
    return err;
}

/* One look at where the set-up stands: 0 connected, -EAGAIN not yet (the
 * offer or the service's answer is still to come), or the -errno that
 * ends it (the channel is then torn down to its bare state). */
static void connect_unwatch(struct ivcom_chan *ch);

static int connect_step(struct ivcom_chan *ch)
{
    uint32_t ctrl_ref, port;
    int err;

    if (ch->connecting == CONNECT_OFFER) {
        /* Mode and orders come from the offer; ours are only a default.
         * A service of that name answers a request of ours instead. */
        err = ivcom_xs_read_offer(ch, ch->peer, &ctrl_ref, &port, 0);
        if (err == IVCOM_XS_IS_SERVICE)
            err = ivcom_xs_svc_request_start(ch, ch->peer);
        else if (!err)
            err = ivcom_xs_claim(ch);
        /* Not there yet, not readable by us (yet), taken by another,
         * a full request directory: looked at again until the deadline,
         * which then says the last of these. */
        if (err == -ETIMEDOUT || err == -EACCES || err == -EBUSY || err == -ENOSPC) {
            ch->soft_err = err;
            return -EAGAIN;
        }
        if (err)
            goto out_failed;
        if (ch->svc)
            ch->connecting = CONNECT_REQUEST;
    }
    if (ch->connecting == CONNECT_REQUEST) {
        err = ivcom_xs_svc_request_answer(ch, &ctrl_ref, &port);
        if (err == -EAGAIN)
            return -EAGAIN;
        if (err == -ECONNRESET) {
            /* Our request went unanswered with its service: the service
             * restarted (a new instance clears its predecessor's
             * requests) or stopped.  Look for it again, as a connect to
             * a service not there yet does, until the deadline. */
            ch->svc = 0;
            ch->xs_dir[0] = '\0';
            ch->connecting = CONNECT_OFFER;
            ch->soft_err = err;
            return -EAGAIN;
        }
        if (err)
            goto out_failed;
    }
    err = connect_finish(ch, ctrl_ref, port);
    if (err)
        goto out_failed;
    ch->connecting = 0;
    connect_unwatch(ch);
    return 0;

out_failed:
    /* Torn down: never -EAGAIN ("not yet") from here, whatever the
     * platform said, so the caller cannot take it for progress. */
    ch->connecting = CONNECT_FAILED;
    ch->broken = err == -EAGAIN ? -EIO : err;
    return ch->broken;
}

/* One watch over the server's data directory wakes the set-up for its
 * offer, its service and its answer (xenstored sends only the events of
 * nodes we may read). */
static void connect_watch(struct ivcom_chan *ch)
{
    char path[IVCOM_PATH_MAX];

    snprintf(ch->watch_token, sizeof(ch->watch_token), "ivcom-conn-%016llx",
             (unsigned long long)ivcom_os_nonce());
    snprintf(path, sizeof(path), "/local/domain/%d/data", ch->peer);
    if (ch->plat->ops->xs_watch(ch->plat, path, ch->watch_token))
        ch->watch_token[0] = '\0';
}

static void connect_unwatch(struct ivcom_chan *ch)
{
    char path[IVCOM_PATH_MAX];

    if (!ch->watch_token[0])
        return;
    snprintf(path, sizeof(path), "/local/domain/%d/data", ch->peer);
    ch->plat->ops->xs_unwatch(ch->plat, path, ch->watch_token);
    ch->watch_token[0] = '\0';
}

IVCOM_EXPORT int ivcom_connect_start(struct ivcom_platform *plat, const char *name,
                                     int server_domid, const struct ivcom_params *params,
                                     struct ivcom_chan **out)
{
    struct ivcom_chan *ch;

    if (!ivcom_name_ok(name) || !domid_ok(plat, server_domid) ||
        (params && !ivcom_params_ok(params)))
        return -EINVAL;
    ivcom_xs_sweep(plat);
    ch = chan_new(plat, name, server_domid, params);
    if (!ch)
        return -ENOMEM;
    ch->connecting = CONNECT_OFFER;
    connect_watch(ch);
    *out = ch;
    return 0;
}

IVCOM_EXPORT int ivcom_connect_fd(const struct ivcom_chan *ch)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;

    return ops->xs_watch_fd ? ops->xs_watch_fd(ch->plat) : -EOPNOTSUPP;
}

IVCOM_EXPORT int ivcom_connect_continue(struct ivcom_chan *ch, int timeout_ms)
{
    const struct ivcom_platform_ops *ops = ch->plat->ops;
    uint64_t deadline = ivcom_deadline_of(timeout_ms);
    int err, left;

    if (ch->connecting == CONNECT_FAILED)
        return ch->broken;
    if (!ch->connecting)
        return ch->connected ? 0 : -EINVAL;
    for (;;) {
        /* What the watch said is read by the step itself. */
        ivcom_xs_drain_watch(ch->plat);
        err = connect_step(ch);
        if (err != -EAGAIN)
            return err;
        left = ivcom_ms_left(deadline);
        if (left == 0)
            return timeout_ms == 0 ? -EAGAIN
                 : ch->soft_err && ch->soft_err != -ENOSPC ? ch->soft_err : -ETIMEDOUT;
        ops->xs_wait_watch(ch->plat, left < 0 || left > CONNECT_SLICE_MS ? CONNECT_SLICE_MS
                                                                          : left);
    }
}

IVCOM_EXPORT int ivcom_connect(struct ivcom_platform *plat, const char *name,
                               int server_domid, const struct ivcom_params *params,
                               struct ivcom_chan **out, int timeout_ms)
{
    struct ivcom_chan *ch;
    int err = ivcom_connect_start(plat, name, server_domid, params, &ch);

    if (err)
        return err;
    err = ivcom_connect_continue(ch, timeout_ms);
    if (err) {
        ivcom_close(ch);
        return err;
    }
    *out = ch;
    return 0;
}

IVCOM_EXPORT void ivcom_close(struct ivcom_chan *ch)
{
    if (ch && ch->watch_token[0])
        connect_unwatch(ch);
    if (!ch)
        return;
    if (ch->connected && !ch->broken) {
        tx_publish(ch);
        rx_publish(ch);
    }
    if (ch->own_live) {
        /* R3: everything published above is visible before the peer sees
         * us gone; pairs with A3 in peer_state(). */
        ivcom_store_release(ch->own_live, IVCOM_LIVE_CLOSED);
        if (ch->ev && ch->port && (ch->connected || ch->is_server))
            ivcom_chan_send_event(ch, &ch->tx.pl->notify_count);
    }
    /* A service channel's one node (the client's request) is removed by
     * whichever side closes: saying "closed" there first would re-create
     * it, owned by us, after the peer's removal -- a node the service's
     * next scan takes for an unreadable request. */
    if ((ch->connected || ch->is_server) && !ch->svc)
        ivcom_xs_set_state(ch, IVCOM_XS_STATE_CLOSED);
    ivcom_xs_withdraw(ch);
    chan_teardown(ch);
}

IVCOM_EXPORT int ivcom_fd(const struct ivcom_chan *ch)
{
    return ch->plat->ops->evtchn_fd(ch->ev);
}

IVCOM_EXPORT int ivcom_ack(struct ivcom_chan *ch)
{
    int r = ch->plat->ops->evtchn_ack(ch->ev);

    if (r > 0)
        ch->st.wakeups++;
    return r < 0 ? r : 0;
}

/* ---- introspection ------------------------------------------------------ */

IVCOM_EXPORT void ivcom_get_stats(const struct ivcom_chan *ch, struct ivcom_stats *st)
{
    *st = ch->st;
}

IVCOM_EXPORT int ivcom_is_broken(const struct ivcom_chan *ch)
{
    return ch->broken;
}

IVCOM_EXPORT size_t ivcom_max_msg(const struct ivcom_chan *ch)
{
    return ivcom_ring_max_msg(&ch->tx);
}

IVCOM_EXPORT int ivcom_peer_domid(const struct ivcom_chan *ch)
{
    return ch->peer;
}

IVCOM_EXPORT int ivcom_local_port(const struct ivcom_chan *ch)
{
    return (int)ch->port;
}
