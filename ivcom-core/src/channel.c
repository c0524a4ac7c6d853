/* SPDX-License-Identifier: MIT */
/*
 * Channels: set-up over a platform, the public data path (message and
 * stream modes, zero-copy and copy), adaptive waiting and liveness.
 *
 * Everything the peer can write is read through ring.c (indexes, headers)
 * or peer_state() (its live byte), each read once and validated.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "barrier.h"
#include "internal.h"

#define NS_PER_MS 1000000ull
/* The data path's small helpers: always folded into their callers. */
#define HOT static inline __attribute__((always_inline))
#define unlikely(x) __builtin_expect(!!(x), 0)

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

static int name_ok(const char *name)
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

/* ---- liveness ----------------------------------------------------------- */

/* 0 while the peer is up, -EPIPE once it closed or died, -EPROTO for a
 * value no honest peer writes. */
HOT int peer_state(struct ivcom_chan *ch)
{
    uint8_t v;

    if (ch->closing)
        return -EPIPE;
    /* A3: pairs with R3 (the peer's live store after its last publish). */
    v = ivcom_load_acquire(ch->peer_live);
    if (v == IVCOM_LIVE_UP)
        return 0;
    if (v == IVCOM_LIVE_DEAD || v == IVCOM_LIVE_CLOSED)
        return -EPIPE;
    return ivcom_chan_fail(ch, -EPROTO);
}

static int chan_unusable(struct ivcom_chan *ch, uint8_t mode)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    return ch->params.mode != mode ? -EINVAL : 0;
}

/* One load and one compare while all is well. */
HOT int chan_usable(struct ivcom_chan *ch, uint8_t mode)
{
    if (unlikely(ch->ready != mode))
        return chan_unusable(ch, mode);
    return 0;
}

/* ---- notification ------------------------------------------------------- */

HOT void bump(uint32_t *shared_counter)
{
    /* Our own statistics word: one writer, so a plain increment. */
    ivcom_store_once(shared_counter, ivcom_load_once(shared_counter) + 1);
}

static void send_event(struct ivcom_chan *ch, uint32_t *shared_counter)
{
    ch->plat->ops->evtchn_notify(ch->ev, ch->port);
    ch->st.notifies_sent++;
    bump(shared_counter);
}

HOT void tx_publish(struct ivcom_chan *ch)
{
    if (ch->tx.pvt == ch->tx.published)
        return;
    if (ivcom_ring_prod_publish(&ch->tx))
        send_event(ch, &ch->tx.pl->notify_count);
    else
        ch->st.notifies_suppressed++;
}

HOT void rx_publish(struct ivcom_chan *ch)
{
    if (ch->rx.pvt == ch->rx.published)
        return;
    if (ivcom_ring_cons_publish(&ch->rx))
        send_event(ch, &ch->rx.cl->notify_count);
    else
        ch->st.notifies_suppressed++;
}

/* ---- adaptive wait ------------------------------------------------------ */

enum wait_for { WAIT_RX, WAIT_TX, WAIT_PEER_UP };

/* >0 ready, 0 not yet, <0 error. */
static int ready(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    int64_t n;
    int ps;

    switch (what) {
    case WAIT_RX:
        n = ivcom_ring_avail(&ch->rx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        if (n > 0)
            return 1;
        ps = peer_state(ch);
        if (ps == 0)
            return 0;
        /* The peer publishes before it leaves: look once more. */
        n = ivcom_ring_avail(&ch->rx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        return n > 0 ? 1 : ps;
    case WAIT_TX:
        n = ivcom_ring_free(&ch->tx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        ps = peer_state(ch);
        if (ps < 0)
            return ps;
        return (uint64_t)n >= need;
    case WAIT_PEER_UP: {
        /* A4: pairs with R4 in ivcom_connect(). */
        uint8_t v = ivcom_load_acquire(ch->peer_live);
        /* A client may connect, send and close before we look: it was
         * here (its data is still to be drained) if it is up or closed,
         * if it published anything, or if XenStore says it came. */
        if (v == IVCOM_LIVE_UP || v == IVCOM_LIVE_CLOSED || ch->peer_seen)
            return 1;
        if (v != IVCOM_LIVE_DEAD)
            return ivcom_chan_fail(ch, -EPROTO);
        return ivcom_load_acquire(&ch->rx.pl->prod) != 0;
    }
    }
    return -EINVAL;
}

static void arm(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    if (what == WAIT_RX)
        ivcom_ring_cons_arm(&ch->rx);
    else if (what == WAIT_TX)
        ivcom_ring_prod_arm(&ch->tx, need);
}

/* A wait that gives up still asks the peer for an event first (and looks
 * once more after asking): its caller may go on to sleep in poll() on
 * ivcom_fd(), and only an armed event index makes the peer notify. */
static int give_up(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    int r;

    arm(ch, what, need);
    r = ready(ch, what, need);
    return r > 0 ? 0 : r < 0 ? r : -ETIMEDOUT;
}

/* The XenStore presence probe, every IVCOM_PROBE_MS of a wait that saw
 * nothing: a destroyed domain runs no unmap notify, so neither an event
 * nor a live byte will ever say it left. */
static void probe_peer(struct ivcom_chan *ch, enum wait_for what)
{
    if (what == WAIT_PEER_UP) {
        ch->peer_seen = ivcom_xs_client_came(ch);
    } else if (ch->connected && ivcom_xs_peer_gone(ch)) {
        ch->closing = 1;        /* peer_state() now says -EPIPE */
        ch->ready = 0;          /* and the fast paths step aside */
    }
}

static uint64_t deadline_of(int timeout_ms)
{
    if (timeout_ms < 0)
        return UINT64_MAX;
    return ivcom_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
}

static int ms_left(uint64_t deadline)
{
    uint64_t now;

    if (deadline == UINT64_MAX)
        return -1;
    now = ivcom_now_ns();
    if (now >= deadline)
        return 0;
    return (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* The spin budget of the next wait (ns); see IVCOM_SPIN_RETRY. */
static uint64_t spin_budget(struct ivcom_chan *ch)
{
    if (ch->spin_ns == 0 && ++ch->spin_idle >= IVCOM_SPIN_RETRY) {
        ch->spin_idle = 0;
        return (uint64_t)ch->params.spin_us * 1000u;
    }
    return ch->spin_ns;
}

/* A spin ended the wait (paid = 1) or the wait had to block (0). */
static void spin_paid(struct ivcom_chan *ch, int paid)
{
    uint64_t max = (uint64_t)ch->params.spin_us * 1000u, v;

    if (paid) {
        v = ch->spin_ns ? ch->spin_ns * 2 : max;
        ch->spin_ns = v < max ? v : max;
    } else {
        ch->spin_ns /= 2;
        if (ch->spin_ns < IVCOM_SPIN_MIN_NS)
            ch->spin_ns = 0;
    }
}

/* Wait until `what` is ready or the deadline passes: spin for spin_us,
 * then block on the event channel after arming the peer's notification.
 * A blocked wait re-checks the peer's presence every IVCOM_PROBE_MS. */
static int chan_wait(struct ivcom_chan *ch, enum wait_for what, uint32_t need,
                     uint64_t deadline)
{
    uint64_t spin_end, yield_from, max_iters, budget, now = ivcom_now_ns();
    uint64_t i, next_probe = now + IVCOM_PROBE_MS * NS_PER_MS;
    int r, blocked = 0, yields;

    r = ready(ch, what, need);
    if (r)
        return r < 0 ? r : 0;
    if (now >= deadline)
        return give_up(ch, what, need);

    budget = spin_budget(ch);
    spin_end = ch->params.poll_only ? deadline : now + budget;
    if (spin_end > deadline)
        spin_end = deadline;
    yields = ch->plat->ops->yield_in_spin;
    yield_from = yields ? now + IVCOM_SPIN_PURE_NS : UINT64_MAX;
    /* A stalled clock must not stretch the spin (see IVCOM_SPIN_*_ITERS):
     * a bounded spin is bounded by a count as well; polling needs none. */
    max_iters = ch->params.poll_only ? UINT64_MAX
              : !budget ? 0
              : yields ? IVCOM_SPIN_PURE_ITERS + budget * IVCOM_SPIN_YIELDS_PER_US / 1000u
                       : budget * IVCOM_SPIN_PAUSES_PER_US / 1000u;
    for (i = 1; now < spin_end && i <= max_iters; i++) {
        /* Past the first couple of microseconds the peer is probably not
         * running on another CPU: offer ours (no-op when nobody waits). */
        if (now >= yield_from || (yields && i > IVCOM_SPIN_PURE_ITERS))
            ivcom_os_yield();
        else
            ivcom_cpu_relax();
        r = ready(ch, what, need);
        if (r) {
            ch->st.spins++;
            spin_paid(ch, 1);
            return r < 0 ? r : 0;
        }
        if ((i & 15) == 0 || now >= yield_from)
            now = ivcom_now_ns();
        /* Polling never blocks, so it probes on the blocked schedule. */
        if (now >= next_probe) {
            probe_peer(ch, what);
            next_probe = now + IVCOM_PROBE_MS * NS_PER_MS;
        }
    }
    if (ch->params.poll_only)
        return give_up(ch, what, need);
    spin_paid(ch, 0);

    for (;;) {
        int slice, e;

        arm(ch, what, need);
        r = ready(ch, what, need);
        if (r)
            return r < 0 ? r : 0;
        slice = ms_left(deadline);
        if (slice == 0)
            return -ETIMEDOUT;
        if (slice < 0 || slice > IVCOM_PROBE_MS)
            slice = IVCOM_PROBE_MS;
        if (!blocked) {
            blocked = 1;
            ch->st.blocks++;
            if (what == WAIT_RX)
                bump(&ch->rx.cl->wait_count);
            else if (what == WAIT_TX)
                bump(&ch->tx.pl->wait_count);
        }
        e = ch->plat->ops->evtchn_wait(ch->ev, slice);
        if (e == 0) {
            ch->st.wakeups++;
        } else if (e == -ETIMEDOUT) {
            probe_peer(ch, what);
        } else if (e != -EINTR) {
            return e;
        }
    }
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

static int params_ok(const struct ivcom_params *p)
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

IVCOM_EXPORT int ivcom_listen(struct ivcom_platform *plat, const char *name,
                              int peer_domid, const struct ivcom_params *params,
                              struct ivcom_chan **out)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct ivcom_chan *ch;
    struct ivcom_ctrl *c;
    uint32_t *refs;
    unsigned i, ndata;
    int err;

    if (!name_ok(name) || !domid_ok(plat, peer_domid) || (params && !params_ok(params)))
        return -EINVAL;
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
    err = ivcom_xs_offer(ch, refs[0]);
    if (err)
        goto out_free;
    free(refs);
    *out = ch;
    return 0;

out_free:
    free(refs);
    chan_teardown(ch);
    return err;
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
    err = chan_wait(ch, WAIT_PEER_UP, 0, deadline_of(timeout_ms));
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

IVCOM_EXPORT int ivcom_connect(struct ivcom_platform *plat, const char *name,
                               int server_domid, const struct ivcom_params *params,
                               struct ivcom_chan **out, int timeout_ms)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    uint32_t grefs[IVCOM_CTRL_MAX_GREFS];
    uint32_t ctrl_ref, remote_port;
    struct ivcom_chan *ch;
    int err;

    if (!name_ok(name) || !domid_ok(plat, server_domid) || (params && !params_ok(params)))
        return -EINVAL;
    ch = chan_new(plat, name, server_domid, params);
    if (!ch)
        return -ENOMEM;
    /* Mode and orders come from the offer; ours are only a default. */
    err = ivcom_xs_read_offer(ch, server_domid, &ctrl_ref, &remote_port, timeout_ms);
    if (err)
        goto out_free;

    ch->area_pages = 1;
    err = ops->map(plat, server_domid, 1, &ctrl_ref, 1, &ch->area);
    if (err) {
        ch->area = NULL;
        goto out_retract;
    }
    ch->ctrl = ch->area;
    err = check_ctrl(ch, grefs, &ch->data_pages);
    if (err)
        goto out_retract;
    err = ops->map(plat, server_domid, ch->data_pages, grefs, 1, &ch->data);
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
    err = ops->evtchn_bind(ch->ev, server_domid, remote_port, &ch->port);
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
    *out = ch;
    return 0;

out_retract:
    ivcom_xs_retract(ch);
out_free:
    chan_teardown(ch);
    return err;
}

IVCOM_EXPORT void ivcom_close(struct ivcom_chan *ch)
{
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
            send_event(ch, &ch->tx.pl->notify_count);
    }
    if (ch->connected || ch->is_server)
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

/* ---- message mode ------------------------------------------------------- */

/* One non-blocking attempt, no arming.  A PAD record written on -EAGAIN is
 * published so that the consumer can free the space we wait for. */
HOT int msg_reserve_once(struct ivcom_chan *ch, size_t len, void **buf)
{
    int r;

    ch->tx.pending = 0;         /* a failed reserve leaves nothing to commit */
    r = peer_state(ch);
    if (r)
        return r;
    r = ivcom_ring_msg_reserve(&ch->tx, len, buf);
    if (r == 0)
        ch->tx_len = (uint32_t)len;
    else if (r == -EAGAIN)
        tx_publish(ch);
    else if (r == -EPROTO)
        return ivcom_chan_fail(ch, r);
    return r;
}

HOT int msg_peek_once(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    int r = ivcom_ring_msg_peek(&ch->rx, buf, len);

    if (r == -EAGAIN) {
        rx_publish(ch);         /* PAD records we skipped */
        r = peer_state(ch);
        if (r == 0)
            return -EAGAIN;
        if (r != -EPIPE)
            return r;
        /* Gone: but whatever it published before leaving is still ours. */
        r = ivcom_ring_msg_peek(&ch->rx, buf, len);
        if (r == -EAGAIN) {
            rx_publish(ch);
            return -EPIPE;
        }
    }
    if (r == 0)
        ch->rx_len = (uint32_t)*len;
    else if (r == -EPROTO)
        return ivcom_chan_fail(ch, r);
    return r;
}

/* The one retry loop behind every call that may have to wait: try `op`;
 * on -EAGAIN either ask the peer for an event and try once more (timeout
 * 0: the caller may poll ivcom_fd()), or wait until the ring is ready and
 * try again, until the deadline. */
struct attempt {
    ssize_t (*op)(struct ivcom_chan *ch, struct attempt *a);
    enum wait_for what;
    void *buf;                  /* reserve/read: out or destination */
    const void *src;            /* write: source */
    const void **cbuf;          /* peek: out */
    size_t len, *out_len;
};

static ssize_t with_retry(struct ivcom_chan *ch, struct attempt *a, int timeout_ms)
{
    uint64_t deadline;
    ssize_t r = a->op(ch, a);
    int w;

    if (r != -EAGAIN)
        return r;
    if (timeout_ms == 0) {
        arm(ch, a->what, ch->tx.need);
        return a->op(ch, a);
    }
    deadline = deadline_of(timeout_ms);
    do {
        w = chan_wait(ch, a->what, a->what == WAIT_TX ? ch->tx.need : 0, deadline);
        if (w)
            return w;
        r = a->op(ch, a);
    } while (r == -EAGAIN);
    return r;
}

static ssize_t msg_reserve_op(struct ivcom_chan *ch, struct attempt *a)
{
    return msg_reserve_once(ch, a->len, a->buf);
}

IVCOM_EXPORT int ivcom_msg_reserve(struct ivcom_chan *ch, size_t len, void **buf,
                                   int timeout_ms)
{
    struct attempt a = { .op = msg_reserve_op, .what = WAIT_TX, .buf = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    return r ? r : (int)with_retry(ch, &a, timeout_ms);
}

IVCOM_EXPORT int ivcom_msg_try_reserve(struct ivcom_chan *ch, size_t len, void **buf)
{
    return ivcom_msg_reserve(ch, len, buf, 0);
}

IVCOM_EXPORT int ivcom_msg_commit(struct ivcom_chan *ch)
{
    uint32_t rec = ch->tx.pending;
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    if (r)
        return r;
    if (rec == 0)
        return -EINVAL;
    ivcom_ring_msg_commit(&ch->tx);
    ch->st.tx_msgs++;
    ch->st.tx_bytes += ch->tx_len;
    tx_publish(ch);
    return 0;
}

static ssize_t msg_peek_op(struct ivcom_chan *ch, struct attempt *a)
{
    return msg_peek_once(ch, a->cbuf, a->out_len);
}

IVCOM_EXPORT int ivcom_msg_peek(struct ivcom_chan *ch, const void **buf, size_t *len,
                                int timeout_ms)
{
    struct attempt a = { .op = msg_peek_op, .what = WAIT_RX, .cbuf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    return r ? r : (int)with_retry(ch, &a, timeout_ms);
}

IVCOM_EXPORT int ivcom_msg_try_peek(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    return ivcom_msg_peek(ch, buf, len, 0);
}

IVCOM_EXPORT int ivcom_msg_release(struct ivcom_chan *ch)
{
    uint32_t rec = ch->rx.pending;
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    if (r)
        return r;
    if (rec == 0)
        return -EINVAL;
    ivcom_ring_msg_release(&ch->rx);
    ch->st.rx_msgs++;
    ch->st.rx_bytes += ch->rx_len;
    rx_publish(ch);
    return 0;
}

/* send/recv: the common case (connected, peer up, room / a message
 * there) runs straight through; anything else takes the general path. */
static ssize_t send_slow(struct ivcom_chan *ch, const void *buf, size_t len,
                         int timeout_ms)
{
    void *dst;
    int r = ivcom_msg_reserve(ch, len, &dst, timeout_ms);

    if (r)
        return r;
    memcpy(dst, buf, len);
    r = ivcom_msg_commit(ch);
    return r ? r : (ssize_t)len;
}

IVCOM_EXPORT ssize_t ivcom_send(struct ivcom_chan *ch, const void *buf, size_t len,
                                int timeout_ms)
{
    void *dst;

    /* A5: pairs with R3 (the peer leaving); ready == 0 once closing. */
    if (ch->ready == IVCOM_MODE_MESSAGE &&
        ivcom_load_acquire(ch->peer_live) == IVCOM_LIVE_UP &&
        ivcom_ring_msg_reserve(&ch->tx, len, &dst) == 0) {
        memcpy(dst, buf, len);
        ivcom_ring_msg_commit(&ch->tx);
        ch->st.tx_msgs++;
        ch->st.tx_bytes += len;
        tx_publish(ch);
        return (ssize_t)len;
    }
    return send_slow(ch, buf, len, timeout_ms);
}

IVCOM_EXPORT ssize_t ivcom_try_send(struct ivcom_chan *ch, const void *buf, size_t len)
{
    return ivcom_send(ch, buf, len, 0);
}

static ssize_t recv_slow(struct ivcom_chan *ch, void *buf, size_t len, int timeout_ms)
{
    const void *src;
    size_t n;
    int r = ivcom_msg_peek(ch, &src, &n, timeout_ms);

    if (r)
        return r;
    if (n > len) {
        ch->rx.pending = 0;     /* the message stays queued */
        return -EMSGSIZE;
    }
    memcpy(buf, src, n);
    r = ivcom_msg_release(ch);
    return r ? r : (ssize_t)n;
}

IVCOM_EXPORT ssize_t ivcom_recv(struct ivcom_chan *ch, void *buf, size_t len,
                                int timeout_ms)
{
    const void *src;
    size_t n;

    if (ch->ready == IVCOM_MODE_MESSAGE && ivcom_ring_msg_peek(&ch->rx, &src, &n) == 0 &&
        n <= len) {
        memcpy(buf, src, n);
        ivcom_ring_msg_release(&ch->rx);
        ch->st.rx_msgs++;
        ch->st.rx_bytes += n;
        rx_publish(ch);
        return (ssize_t)n;
    }
    /* PAD records the fast path skipped are published by the slow path. */
    ch->rx.pending = 0;
    return recv_slow(ch, buf, len, timeout_ms);
}

IVCOM_EXPORT ssize_t ivcom_try_recv(struct ivcom_chan *ch, void *buf, size_t len)
{
    return ivcom_recv(ch, buf, len, 0);
}

/* ---- stream mode -------------------------------------------------------- */

static int stream_reserve_once(struct ivcom_chan *ch, void **buf, size_t *len)
{
    int r;

    ch->tx.pending = 0;         /* a failed reserve leaves nothing to commit */
    r = peer_state(ch);
    if (r)
        return r;
    r = ivcom_ring_stream_reserve(&ch->tx, buf, len);
    return r == -EPROTO ? ivcom_chan_fail(ch, r) : r;
}

static int stream_peek_once(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    int r = ivcom_ring_stream_peek(&ch->rx, buf, len);

    if (r == -EAGAIN && peer_state(ch) != 0) {
        r = ivcom_ring_stream_peek(&ch->rx, buf, len);
        if (r == -EAGAIN)
            r = ch->broken ? ch->broken : -EPIPE;
    }
    return r == -EPROTO ? ivcom_chan_fail(ch, r) : r;
}

static ssize_t stream_reserve_op(struct ivcom_chan *ch, struct attempt *a)
{
    return stream_reserve_once(ch, a->buf, a->out_len);
}

IVCOM_EXPORT int ivcom_stream_try_reserve(struct ivcom_chan *ch, void **buf, size_t *len)
{
    struct attempt a = { .op = stream_reserve_op, .what = WAIT_TX, .buf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    return r ? r : (int)with_retry(ch, &a, 0);
}

IVCOM_EXPORT int ivcom_stream_commit(struct ivcom_chan *ch, size_t len)
{
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    r = ivcom_ring_stream_commit(&ch->tx, len);
    if (r)
        return r;
    ch->st.tx_bytes += len;
    tx_publish(ch);
    return 0;
}

static ssize_t stream_peek_op(struct ivcom_chan *ch, struct attempt *a)
{
    return stream_peek_once(ch, a->cbuf, a->out_len);
}

IVCOM_EXPORT int ivcom_stream_try_peek(struct ivcom_chan *ch, const void **buf,
                                       size_t *len)
{
    struct attempt a = { .op = stream_peek_op, .what = WAIT_RX, .cbuf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    return r ? r : (int)with_retry(ch, &a, 0);
}

IVCOM_EXPORT int ivcom_stream_release(struct ivcom_chan *ch, size_t len)
{
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    r = ivcom_ring_stream_release(&ch->rx, len);
    if (r)
        return r;
    ch->st.rx_bytes += len;
    rx_publish(ch);
    return 0;
}

/* Copy into as many spans as are free (two when the ring wraps) and
 * publish at the end.  A copy larger than a quarter ring is published a
 * quarter ring at a time, so that the peer copies one batch while we copy
 * the next (one publish for the whole copy would make the two ends take
 * turns); each publish sends an event only if the peer asked for one. */
static size_t stream_batch(const struct ivcom_ring *r)
{
    return r->size / 4;
}

static ssize_t write_once(struct ivcom_chan *ch, const uint8_t *src, size_t len)
{
    size_t done = 0, batch = stream_batch(&ch->tx);

    while (done < len) {
        void *dst;
        size_t span;
        int r = stream_reserve_once(ch, &dst, &span);

        if (r == -EAGAIN)
            break;
        if (r)
            return done ? (ssize_t)done : r;
        if (span > len - done)
            span = len - done;
        if (span > batch)
            span = batch;
        memcpy(dst, src + done, span);
        ivcom_ring_stream_commit(&ch->tx, span);
        done += span;
        if (done < len && span == batch)
            tx_publish(ch);
    }
    if (done) {
        ch->st.tx_bytes += done;
        tx_publish(ch);
        return (ssize_t)done;
    }
    return -EAGAIN;
}

static ssize_t read_once(struct ivcom_chan *ch, uint8_t *dst, size_t len)
{
    size_t done = 0, batch = stream_batch(&ch->rx);

    while (done < len) {
        const void *src;
        size_t span;
        int r = stream_peek_once(ch, &src, &span);

        if (r == -EAGAIN)
            break;
        if (r) {
            if (done)
                break;
            return r;
        }
        if (span > len - done)
            span = len - done;
        if (span > batch)
            span = batch;
        memcpy(dst + done, src, span);
        ivcom_ring_stream_release(&ch->rx, span);
        done += span;
        if (done < len && span == batch)
            rx_publish(ch);
    }
    if (done) {
        ch->st.rx_bytes += done;
        rx_publish(ch);
        return (ssize_t)done;
    }
    return -EAGAIN;
}

static ssize_t write_op(struct ivcom_chan *ch, struct attempt *a)
{
    return write_once(ch, a->src, a->len);
}

IVCOM_EXPORT ssize_t ivcom_write(struct ivcom_chan *ch, const void *buf, size_t len,
                                 int timeout_ms)
{
    struct attempt a = { .op = write_op, .what = WAIT_TX, .src = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    return len ? with_retry(ch, &a, timeout_ms) : 0;
}

IVCOM_EXPORT ssize_t ivcom_try_write(struct ivcom_chan *ch, const void *buf, size_t len)
{
    return ivcom_write(ch, buf, len, 0);
}

IVCOM_EXPORT ssize_t ivcom_write_all(struct ivcom_chan *ch, const void *buf, size_t len,
                                     int timeout_ms)
{
    const uint8_t *src = buf;
    uint64_t deadline = 0;
    int timed = 0;
    size_t done = 0;

    while (done < len) {
        ssize_t n = chan_usable(ch, IVCOM_MODE_STREAM);

        /* While the ring has room no clock is read: in a Xen PV guest a
         * clock read can be a system call through the hypervisor, which
         * would cost more than the write itself.  The deadline starts at
         * the first wait. */
        if (n == 0)
            n = write_once(ch, src + done, len - done);
        if (n == -EAGAIN) {
            if (!timed) {
                deadline = deadline_of(timeout_ms);
                timed = 1;
            }
            n = ivcom_write(ch, src + done, len - done, ms_left(deadline));
        }
        if (n < 0)
            return done ? (ssize_t)done : n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static ssize_t read_op(struct ivcom_chan *ch, struct attempt *a)
{
    return read_once(ch, a->buf, a->len);
}

IVCOM_EXPORT ssize_t ivcom_read(struct ivcom_chan *ch, void *buf, size_t len,
                                int timeout_ms)
{
    struct attempt a = { .op = read_op, .what = WAIT_RX, .buf = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    return len ? with_retry(ch, &a, timeout_ms) : 0;
}

IVCOM_EXPORT ssize_t ivcom_try_read(struct ivcom_chan *ch, void *buf, size_t len)
{
    return ivcom_read(ch, buf, len, 0);
}

IVCOM_EXPORT int ivcom_wait_readable(struct ivcom_chan *ch, int timeout_ms)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    return chan_wait(ch, WAIT_RX, 0, deadline_of(timeout_ms));
}

IVCOM_EXPORT int ivcom_wait_writable(struct ivcom_chan *ch, size_t need, int timeout_ms)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    if (need == 0 || need > ch->tx.size)
        return -EINVAL;
    return chan_wait(ch, WAIT_TX, (uint32_t)need, deadline_of(timeout_ms));
}

IVCOM_EXPORT int ivcom_flush(struct ivcom_chan *ch, int timeout_ms)
{
    int err = ivcom_wait_writable(ch, ch->tx.size, timeout_ms);

    /* A peer that read everything and then left has been flushed to. */
    if (err == -EPIPE && ivcom_ring_free(&ch->tx) == (int64_t)ch->tx.size)
        return 0;
    return err;
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
