/* SPDX-License-Identifier: MIT */
/*
 * vchan set-up and close.  The server grants the shared page (and the
 * pages of any ring of order 12 or more), fills it in, allocates the
 * event channel and publishes both in XenStore; the client reads them,
 * maps the page, copies the orders and grants out once, checks them,
 * maps the rings (the one it reads read-only) and says it is up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vchan_int.h"

#define VCHAN_MIN_SMALL (1u << IVCOM_VCHAN_ORDER_SMALL)
#define VCHAN_MIN_LARGE (1u << IVCOM_VCHAN_ORDER_LARGE)

int ivcom_vchan_orders_ok(unsigned left, unsigned right)
{
    unsigned limit = IVCOM_PAGE_SIZE, n;

    if (left < IVCOM_VCHAN_ORDER_SMALL || left > IVCOM_VCHAN_ORDER_MAX ||
        right < IVCOM_VCHAN_ORDER_SMALL || right > IVCOM_VCHAN_ORDER_MAX)
        return -EPROTO;
    /* Two in-page rings of one order would overlap. */
    if (left == right && left < IVCOM_VCHAN_ORDER_PAGE)
        return -EPROTO;
    if (left == IVCOM_VCHAN_ORDER_SMALL || right == IVCOM_VCHAN_ORDER_SMALL)
        limit = IVCOM_VCHAN_OFFSET_SMALL;
    else if (left == IVCOM_VCHAN_ORDER_LARGE || right == IVCOM_VCHAN_ORDER_LARGE)
        limit = IVCOM_VCHAN_OFFSET_LARGE;
    n = vchan_ring_pages(left) + vchan_ring_pages(right);
    if (IVCOM_VCHAN_GRANTS_OFFSET + 4u * n > limit)
        return -EPROTO;
    return 0;
}

/* Smallest order of own pages that holds min bytes. */
static unsigned pages_order(size_t min)
{
    unsigned o = IVCOM_VCHAN_ORDER_PAGE;

    while (((size_t)1 << o) < min)
        o++;
    return o;
}

/* Point ring r at its bytes: in the page for orders 10 and 11, else at
 * its own pages. */
static void ring_init(struct vchan_ring *r, struct ivcom_vchan_ring_shared *shr,
                      uint8_t *page, unsigned order, void *pages)
{
    r->shr_prod = &shr->prod;
    r->shr_cons = &shr->cons;
    r->order = (uint8_t)order;
    r->size = 1u << order;
    r->npages = vchan_ring_pages(order);
    r->pages = pages;
    if (order == IVCOM_VCHAN_ORDER_SMALL)
        r->buf = page + IVCOM_VCHAN_OFFSET_SMALL;
    else if (order == IVCOM_VCHAN_ORDER_LARGE)
        r->buf = page + IVCOM_VCHAN_OFFSET_LARGE;
    else
        r->buf = pages;
}

static void vchan_teardown(struct ivcom_vchan *v)
{
    const struct ivcom_platform_ops *ops = v->plat->ops;
    struct vchan_ring *rings[2] = { &v->rx, &v->tx };
    int i;

    for (i = 0; i < 2; i++) {
        if (!rings[i]->pages)
            continue;
        if (v->is_server)
            ops->unshare(v->plat, rings[i]->pages, rings[i]->npages);
        else
            ops->unmap(v->plat, rings[i]->pages, rings[i]->npages);
    }
    if (v->page) {
        if (v->is_server)
            ops->unshare(v->plat, v->page, 1);
        else
            ops->unmap(v->plat, v->page, 1);
    }
    if (v->ev) {
        if (v->port)
            ops->evtchn_unbind(v->ev, v->port);
        ops->evtchn_close(v->ev);
    }
    if (v->xs_written)
        ivcom_vchan_xs_remove(v);
    free(v);
}

static struct ivcom_vchan *vchan_new(struct ivcom_platform *plat, int peer, int is_server)
{
    struct ivcom_vchan *v = calloc(1, sizeof(*v));

    if (v) {
        v->plat = plat;
        v->peer = peer;
        v->is_server = is_server;
    }
    return v;
}

static int peer_ok(struct ivcom_platform *plat, int peer)
{
    return peer >= 0 && peer < IVCOM_DOMID_FIRST_RESERVED && peer != plat->domid;
}

/* Share the pages of a ring of order >= 12; their refs go to grants[]. */
static int share_ring(struct ivcom_vchan *v, unsigned order, void **pages)
{
    unsigned n = vchan_ring_pages(order);
    int err;

    *pages = NULL;
    if (!n)
        return 0;
    err = v->plat->ops->share(v->plat, v->peer, n, pages, v->grants + v->ngrants);
    if (err) {
        *pages = NULL;
        return err;
    }
    v->ngrants += n;
    return 0;
}

IVCOM_EXPORT int ivcom_vchan_server_open(struct ivcom_platform *plat, int peer_domid,
                                         const char *xs_path, size_t read_min,
                                         size_t write_min, struct ivcom_vchan **out)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct ivcom_vchan_page *pg;
    struct ivcom_vchan *v;
    unsigned rd, wr, i;
    void *lpages, *rpages;
    int err;

    if (!peer_ok(plat, peer_domid) || !xs_path ||
        read_min > IVCOM_VCHAN_RING_MAX || write_min > IVCOM_VCHAN_RING_MAX)
        return -EINVAL;
    /* In-page rings when they are big enough (no pages of their own):
     * the choice stock libxenvchan makes, so both pick the same layout. */
    rd = pages_order(read_min);
    wr = pages_order(write_min);
    if (read_min <= VCHAN_MIN_SMALL && write_min <= VCHAN_MIN_LARGE) {
        rd = IVCOM_VCHAN_ORDER_SMALL;
        wr = IVCOM_VCHAN_ORDER_LARGE;
    } else if (read_min <= VCHAN_MIN_LARGE && write_min <= VCHAN_MIN_SMALL) {
        rd = IVCOM_VCHAN_ORDER_LARGE;
        wr = IVCOM_VCHAN_ORDER_SMALL;
    } else if (read_min <= VCHAN_MIN_LARGE) {
        rd = IVCOM_VCHAN_ORDER_LARGE;
    } else if (write_min <= VCHAN_MIN_LARGE) {
        wr = IVCOM_VCHAN_ORDER_LARGE;
    }

    v = vchan_new(plat, peer_domid, 1);
    if (!v)
        return -ENOMEM;
    err = ivcom_vchan_xs_path(plat, xs_path, v->xs_path, sizeof(v->xs_path));
    if (err)
        goto out_teardown;
    err = ops->evtchn_open(plat, &v->ev);
    if (err) {
        v->ev = NULL;
        goto out_teardown;
    }
    err = ops->evtchn_alloc_unbound(v->ev, peer_domid, &v->port);
    if (err)
        goto out_teardown;
    err = ops->share(plat, peer_domid, 1, (void **)&v->page, &v->ring_ref);
    if (err) {
        v->page = NULL;
        goto out_teardown;
    }
    /* Left (the ring we read) first, then right: the grant list's order. */
    err = share_ring(v, rd, &lpages);
    if (!err)
        err = share_ring(v, wr, &rpages);
    ring_init(&v->rx, &v->page->left, (uint8_t *)v->page, rd, lpages);
    ring_init(&v->tx, &v->page->right, (uint8_t *)v->page, wr, err ? NULL : rpages);
    if (err)
        goto out_teardown;

    pg = v->page;
    memset(pg, 0, IVCOM_PAGE_SIZE);
    pg->left_order = (uint16_t)rd;
    pg->right_order = (uint16_t)wr;
    for (i = 0; i < v->ngrants; i++)
        pg->grants[i] = v->grants[i];
    pg->cli_live = IVCOM_VCHAN_LIVE_WAITING;
    /* We want to hear of the client's writes from the start. */
    pg->cli_notify = IVCOM_VCHAN_NOTIFY_WRITE;
    v->own_live = &pg->srv_live;
    v->peer_live = &pg->cli_live;
    v->ask = &pg->cli_notify;
    v->asked = &pg->srv_notify;
    /* R1: the page filled in before we say we are up; pairs with A1. */
    ivcom_store_release(v->own_live, IVCOM_VCHAN_LIVE_UP);

    err = ops->unmap_notify(plat, v->page, offsetof(struct ivcom_vchan_page, srv_live),
                            v->port);
    if (err && err != -EOPNOTSUPP)
        goto out_teardown;
    err = ivcom_vchan_xs_publish(v);
    if (err)
        goto out_teardown;
    *out = v;
    return 0;

out_teardown:
    vchan_teardown(v);
    return err;
}

IVCOM_EXPORT int ivcom_vchan_accept(struct ivcom_vchan *v, int timeout_ms)
{
    uint64_t deadline = ivcom_deadline_of(timeout_ms);
    int st, e, slice;

    if (!v->is_server)
        return -EINVAL;
    for (;;) {
        st = ivcom_vchan_state(v);
        if (st < 0)
            return st;
        /* Come (and maybe already gone again: its data is still there). */
        if (st != IVCOM_VCHAN_LIVE_WAITING)
            return 0;
        slice = ivcom_ms_left(deadline);
        if (slice == 0)
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        if (slice < 0 || slice > IVCOM_PROBE_MS)
            slice = IVCOM_PROBE_MS;
        e = v->plat->ops->evtchn_wait(v->ev, slice);
        if (e && e != -ETIMEDOUT && e != -EINTR)
            return e;
    }
}

IVCOM_EXPORT void ivcom_vchan_set_persist(struct ivcom_vchan *v, int persist)
{
    v->persist = !!persist;
}

/* The page as the server left it: orders and grants copied out once and
 * checked, the indexes we start from checked. */
static int client_check_page(struct ivcom_vchan *v, unsigned *left, unsigned *right)
{
    struct ivcom_vchan_page *pg = v->page;
    uint32_t lprod, lcons, rprod, rcons;
    unsigned i, n;
    int err, live;

    *left = ivcom_load_once(&pg->left_order);
    *right = ivcom_load_once(&pg->right_order);
    err = ivcom_vchan_orders_ok(*left, *right);
    if (err)
        return err;
    n = vchan_ring_pages(*left) + vchan_ring_pages(*right);
    for (i = 0; i < n; i++)
        v->grants[i] = ivcom_load_once(&pg->grants[i]);
    v->ngrants = n;
    /* A server that left (its unmap notify cleared srv_live) is not one
     * to connect to; a live byte no server writes is a broken page. */
    live = ivcom_load_acquire(&pg->srv_live);
    if (live == IVCOM_VCHAN_LIVE_GONE)
        return -EPIPE;
    if (live != IVCOM_VCHAN_LIVE_UP)
        return -EPROTO;
    /* We continue where a previous client stopped (a persistent server):
     * the fill levels must make sense. */
    lprod = ivcom_load_once(&pg->left.prod);
    lcons = ivcom_load_once(&pg->left.cons);
    rprod = ivcom_load_once(&pg->right.prod);
    rcons = ivcom_load_once(&pg->right.cons);
    if (lprod - lcons > (1u << *left) || rprod - rcons > (1u << *right))
        return -EPROTO;
    v->tx.pvt = lprod;
    v->tx.peer = lcons;
    v->rx.pvt = rcons;
    v->rx.peer = rprod;
    return 0;
}

IVCOM_EXPORT int ivcom_vchan_client_open(struct ivcom_platform *plat, int server_domid,
                                         const char *xs_path, struct ivcom_vchan **out,
                                         int timeout_ms)
{
    const struct ivcom_platform_ops *ops = plat->ops;
    struct ivcom_vchan *v;
    uint32_t remote_port;
    unsigned left, right, nl, nr;
    void *lpages = NULL, *rpages = NULL;
    int err;

    if (!peer_ok(plat, server_domid) || !xs_path)
        return -EINVAL;
    v = vchan_new(plat, server_domid, 0);
    if (!v)
        return -ENOMEM;
    err = ivcom_vchan_xs_path(plat, xs_path, v->xs_path, sizeof(v->xs_path));
    if (!err)
        err = ivcom_vchan_xs_read(v, &v->ring_ref, &remote_port, timeout_ms);
    if (err)
        goto out_teardown;
    err = ops->map(plat, server_domid, 1, &v->ring_ref, 1, (void **)&v->page);
    if (err) {
        v->page = NULL;
        goto out_teardown;
    }
    err = client_check_page(v, &left, &right);
    if (err)
        goto out_teardown;
    nl = vchan_ring_pages(left);
    nr = vchan_ring_pages(right);
    /* Left is the ring we write; right we only read: mapped read-only. */
    if (nl) {
        err = ops->map(plat, server_domid, nl, v->grants, 1, &lpages);
        if (err)
            lpages = NULL;
    }
    if (!err && nr) {
        err = ops->map(plat, server_domid, nr, v->grants + nl, 0, &rpages);
        if (err)
            rpages = NULL;
    }
    {
        uint32_t tx_pvt = v->tx.pvt, tx_peer = v->tx.peer;
        uint32_t rx_pvt = v->rx.pvt, rx_peer = v->rx.peer;

        ring_init(&v->tx, &v->page->left, (uint8_t *)v->page, left, lpages);
        ring_init(&v->rx, &v->page->right, (uint8_t *)v->page, right, rpages);
        v->tx.pvt = tx_pvt;
        v->tx.peer = tx_peer;
        v->rx.pvt = rx_pvt;
        v->rx.peer = rx_peer;
    }
    if (err)
        goto out_teardown;

    err = ops->evtchn_open(plat, &v->ev);
    if (err) {
        v->ev = NULL;
        goto out_teardown;
    }
    err = ops->evtchn_bind(v->ev, server_domid, remote_port, &v->port);
    if (err)
        goto out_teardown;
    err = ops->unmap_notify(plat, v->page, offsetof(struct ivcom_vchan_page, cli_live),
                            v->port);
    if (err && err != -EOPNOTSUPP)
        goto out_teardown;
    v->own_live = &v->page->cli_live;
    v->peer_live = &v->page->srv_live;
    v->ask = &v->page->srv_notify;
    v->asked = &v->page->cli_notify;
    /* We want to hear of the server's writes from the start. */
    ivcom_fetch_or(v->ask, IVCOM_VCHAN_NOTIFY_WRITE);
    /* R1: our set-up before we say we are up; pairs with A1. */
    ivcom_store_release(v->own_live, IVCOM_VCHAN_LIVE_UP);
    ops->evtchn_notify(v->ev, v->port);
    *out = v;
    return 0;

out_teardown:
    vchan_teardown(v);
    return err;
}

IVCOM_EXPORT void ivcom_vchan_close(struct ivcom_vchan *v)
{
    if (!v)
        return;
    if (v->own_live) {
        /* R4: after our last publish; pairs with A1 in the peer. */
        ivcom_store_release(v->own_live, IVCOM_VCHAN_LIVE_GONE);
        v->plat->ops->evtchn_notify(v->ev, v->port);
    }
    vchan_teardown(v);
}
