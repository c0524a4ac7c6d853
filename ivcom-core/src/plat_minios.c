/* SPDX-License-Identifier: MIT */
/*
 * The minios backend: libivcom inside the tiny PV guest (minios-app/),
 * straight on its kernel API -- grant table v1 entries we own, grant
 * maps onto pages of ours, event channels waited on with SCHEDOP_poll,
 * and the guest's XenStore ring client.
 *
 * The guest has one vCPU and no upcalls: "blocking" is SCHEDOP_poll on the
 * handle's ports with a timeout, then test-and-clear of their pending bits.
 * There is no unmap notify (a gntdev feature): the core falls back to its
 * XenStore presence probe while blocked.
 *
 * Compiled only into build/guest/libivcom-guest.a, with the guest's
 * freestanding flags and headers (minios-app/include).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <kernel/evtchn.h>
#include <kernel/gnttab.h>
#include <kernel/hypervisor.h>
#include <kernel/mm.h>
#include <kernel/time.h>
#include <kernel/xenbus.h>

#include "internal.h"

/* Ports one handle can wait on together (SCHEDOP_poll takes up to 128). */
#define MINIOS_EV_PORTS     8u
/* Pages granted to a peer that still maps them are retried this long at
 * unshare, then left granted and allocated (leaked, never reused). */
#define MINIOS_REVOKE_NS    (500ull * NSEC_PER_MSEC)

/* One shared area: where it is and the refs that grant it. */
struct minios_share {
    struct minios_share *next;
    void *addr;
    unsigned npages;
    uint32_t refs[];
};

struct minios_priv {
    struct minios_share *shares;
};

struct ivcom_evtchn {
    unsigned nports;
    evtchn_port_t ports[MINIOS_EV_PORTS];
};

static struct minios_priv *priv_of(struct ivcom_platform *plat)
{
    return plat->priv;
}

static int domid_ok(int domid)
{
    return domid >= 0 && (unsigned)domid < DOMID_FIRST_RESERVED;
}

/* ---- set-up ------------------------------------------------------------- */

static int minios_open(struct ivcom_platform *plat)
{
    struct minios_priv *p;
    int domid = xenbus_domid();

    /* As dom0 the guest runs before any store exists: no handshake is
     * possible, so no channel either. */
    if (domid < 0)
        return -ENODEV;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    plat->domid = domid;
    plat->priv = p;
    return 0;
}

static void minios_close(struct ivcom_platform *plat)
{
    struct minios_priv *p = priv_of(plat);

    /* Areas still shared belong to channels the caller did not close:
     * their records go, the pages stay granted (never reused). */
    while (p->shares) {
        struct minios_share *s = p->shares;

        p->shares = s->next;
        free(s);
    }
    free(p);
    plat->priv = NULL;
}

/* ---- grant tables ------------------------------------------------------- */

/* Revoke refs[0..n): 0, or -EBUSY if a ref is still mapped by the peer
 * after MINIOS_REVOKE_NS (those stay granted). */
static int revoke(uint32_t *refs, unsigned n, int patient)
{
    uint64_t deadline = monotonic_clock() + (patient ? MINIOS_REVOKE_NS : 0);
    unsigned i, left;
    int err = 0;

    for (;;) {
        left = 0;
        for (i = 0; i < n; i++) {
            if (refs[i] == GRANT_INVALID_REF)
                continue;
            err = gnttab_end_access(refs[i]);
            if (err == 0 || err == -EINVAL)
                refs[i] = GRANT_INVALID_REF;
            else
                left++;
        }
        if (left == 0)
            return 0;
        if (monotonic_clock() >= deadline)
            return -EBUSY;
        sleep_ns(NSEC_PER_MSEC);
    }
}

static int minios_share(struct ivcom_platform *plat, int peer, unsigned npages,
                        void **addr, uint32_t *refs)
{
    struct minios_priv *p = priv_of(plat);
    struct minios_share *s;
    uint8_t *pages;
    unsigned i;

    if (npages == 0 || !domid_ok(peer))
        return -EINVAL;
    s = calloc(1, sizeof(*s) + npages * sizeof(uint32_t));
    if (!s)
        return -ENOMEM;
    pages = alloc_pages_n(npages);
    if (!pages) {
        free(s);
        return -ENOMEM;
    }
    for (i = 0; i < npages; i++) {
        grant_ref_t ref = gnttab_grant_access((domid_t)peer,
                                              virt_to_mfn(pages + (size_t)i * PAGE_SIZE), 0);

        if (ref == GRANT_INVALID_REF) {
            /* Nobody was told these refs, yet the peer may have guessed
             * and mapped one: pages whose grant is not revoked are leaked,
             * never handed out again (as unshare does). */
            if (revoke(s->refs, i, 0) == 0)
                free_pages_n(pages, npages);
            free(s);
            return -ENOSPC;
        }
        s->refs[i] = ref;
    }
    memcpy(refs, s->refs, npages * sizeof(uint32_t));
    s->addr = pages;
    s->npages = npages;
    s->next = p->shares;
    p->shares = s;
    *addr = pages;
    return 0;
}

static int minios_unshare(struct ivcom_platform *plat, void *addr, unsigned npages)
{
    struct minios_priv *p = priv_of(plat);
    struct minios_share **link, *s;
    int err;

    for (link = &p->shares; (s = *link) != NULL; link = &s->next)
        if (s->addr == addr && s->npages == npages)
            break;
    if (!s)
        return -EINVAL;
    *link = s->next;
    err = revoke(s->refs, npages, 1);
    /* Pages the peer can still reach are never handed out again. */
    if (err == 0)
        free_pages_n(addr, npages);
    free(s);
    return err;
}

static int minios_map(struct ivcom_platform *plat, int peer, unsigned npages,
                      const uint32_t *refs, int writable, void **addr)
{
    (void)plat;
    if (npages == 0 || !domid_ok(peer))
        return -EINVAL;
    /* grant_ref_t is uint32_t: the array is passed as is. */
    return gnttab_map_refs((domid_t)peer, refs, npages, writable, addr);
}

static int minios_unmap(struct ivcom_platform *plat, void *addr, unsigned npages)
{
    (void)plat;
    return gnttab_unmap(addr, npages);
}

static int minios_unmap_notify(struct ivcom_platform *plat, void *addr,
                               uint32_t offset, uint32_t port)
{
    (void)plat, (void)addr, (void)offset, (void)port;
    return -EOPNOTSUPP;
}

/* ---- event channels ----------------------------------------------------- */

static int minios_evtchn_open(struct ivcom_platform *plat, struct ivcom_evtchn **out)
{
    struct ivcom_evtchn *ev = calloc(1, sizeof(*ev));

    (void)plat;
    if (!ev)
        return -ENOMEM;
    *out = ev;
    return 0;
}

static void minios_evtchn_close(struct ivcom_evtchn *ev)
{
    unsigned i;

    for (i = 0; i < ev->nports; i++)
        evtchn_close(ev->ports[i]);
    free(ev);
}

static int add_port(struct ivcom_evtchn *ev, evtchn_port_t port)
{
    if (ev->nports == MINIOS_EV_PORTS) {
        evtchn_close(port);
        return -ENOSPC;
    }
    /* A stale pending bit from the port's previous life is not an event. */
    evtchn_test_and_clear(port);
    ev->ports[ev->nports++] = port;
    return 0;
}

static int minios_evtchn_alloc_unbound(struct ivcom_evtchn *ev, int peer, uint32_t *port)
{
    evtchn_port_t p;
    int err;

    if (!domid_ok(peer))
        return -EINVAL;
    err = evtchn_alloc_unbound((domid_t)peer, &p);
    if (err)
        return err;
    err = add_port(ev, p);
    if (err)
        return err;
    *port = p;
    return 0;
}

static int minios_evtchn_bind(struct ivcom_evtchn *ev, int peer, uint32_t remote_port,
                              uint32_t *port)
{
    evtchn_port_t p;
    int err;

    if (!domid_ok(peer))
        return -EINVAL;
    err = evtchn_bind_interdomain((domid_t)peer, remote_port, &p);
    if (err)
        return err;
    err = add_port(ev, p);
    if (err)
        return err;
    *port = p;
    return 0;
}

static int minios_evtchn_unbind(struct ivcom_evtchn *ev, uint32_t port)
{
    unsigned i;

    for (i = 0; i < ev->nports; i++) {
        if (ev->ports[i] != port)
            continue;
        ev->ports[i] = ev->ports[--ev->nports];
        return evtchn_close(port);
    }
    return -EINVAL;
}

static int minios_evtchn_notify(struct ivcom_evtchn *ev, uint32_t port)
{
    (void)ev;
    return notify_remote_via_evtchn(port);
}

/* 1 if any port of the handle was pending (all cleared), else 0. */
static int minios_evtchn_ack(struct ivcom_evtchn *ev)
{
    unsigned i;
    int any = 0;

    for (i = 0; i < ev->nports; i++)
        any |= evtchn_test_and_clear(ev->ports[i]);
    return any;
}

static int minios_evtchn_wait(struct ivcom_evtchn *ev, int timeout_ms)
{
    uint64_t ns = timeout_ms < 0 ? EVTCHN_WAIT_FOREVER
                                 : (uint64_t)timeout_ms * NSEC_PER_MSEC;
    int err;

    if (ev->nports == 0) {
        /* Nothing can wake us: sleep out the timeout. */
        if (timeout_ms < 0)
            return -EINVAL;
        sleep_ns(ns);
        return -ETIMEDOUT;
    }
    err = evtchn_wait_any(ev->ports, ev->nports, ns);
    if (err)
        return err;
    /* Pending and no longer: another waiter took it (spurious wakeup). */
    return minios_evtchn_ack(ev) ? 0 : -EINTR;
}

static int minios_evtchn_fd(struct ivcom_evtchn *ev)
{
    (void)ev;
    return -EOPNOTSUPP;
}

/* ---- XenStore ----------------------------------------------------------- */

static int minios_xs_read(struct ivcom_platform *plat, uint32_t tx, const char *path,
                          char *buf, size_t len)
{
    int n;

    (void)plat;
    n = xenbus_read(tx, path, buf, len);
    return n < 0 ? n : 0;
}

static int minios_xs_write(struct ivcom_platform *plat, uint32_t tx, const char *path,
                           const char *value)
{
    (void)plat;
    return xenbus_write(tx, path, value);
}

static int minios_xs_rm(struct ivcom_platform *plat, uint32_t tx, const char *path)
{
    (void)plat;
    return xenbus_rm(tx, path);
}

static int minios_xs_set_perms(struct ivcom_platform *plat, uint32_t tx, const char *path,
                               const struct ivcom_xs_perm *perms, unsigned nperms)
{
    static const char letter[4] = { 'n', 'r', 'w', 'b' };
    struct xenbus_perm xp[8];
    unsigned i;

    (void)plat;
    if (nperms == 0 || nperms > sizeof(xp) / sizeof(xp[0]))
        return -EINVAL;
    for (i = 0; i < nperms; i++) {
        if (perms[i].perms > IVCOM_XS_PERM_BOTH)
            return -EINVAL;
        xp[i].domid = perms[i].domid;
        xp[i].perm = letter[perms[i].perms];
    }
    return xenbus_set_perms(tx, path, xp, nperms);
}

static int minios_xs_tx_start(struct ivcom_platform *plat, uint32_t *tx)
{
    (void)plat;
    return xenbus_transaction_start(tx);
}

static int minios_xs_tx_end(struct ivcom_platform *plat, uint32_t tx, int abort)
{
    (void)plat;
    return xenbus_transaction_end(tx, abort);
}

static int minios_xs_watch(struct ivcom_platform *plat, const char *path, const char *token)
{
    (void)plat;
    return xenbus_watch(path, token);
}

static int minios_xs_unwatch(struct ivcom_platform *plat, const char *path,
                             const char *token)
{
    (void)plat;
    return xenbus_unwatch(path, token);
}

/* No file descriptors in the guest: its loop polls the store's port. */
static int minios_xs_watch_fd(struct ivcom_platform *plat)
{
    (void)plat;
    return -EOPNOTSUPP;
}

static int minios_xs_directory(struct ivcom_platform *plat, uint32_t tx, const char *path,
                               char *buf, size_t len)
{
    (void)plat;
    return xenbus_directory(tx, path, buf, len);
}

static int minios_xs_get_perms(struct ivcom_platform *plat, uint32_t tx, const char *path,
                               struct ivcom_xs_perm *perms, unsigned max)
{
    struct xenbus_perm xp[8];
    int i, n;

    (void)plat;
    n = xenbus_get_perms(tx, path, xp, max < 8 ? max : 8);
    for (i = 0; i < n; i++) {
        perms[i].domid = xp[i].domid;
        perms[i].perms = (xp[i].perm == 'r' || xp[i].perm == 'b' ? IVCOM_XS_PERM_READ : 0) |
                         (xp[i].perm == 'w' || xp[i].perm == 'b' ? IVCOM_XS_PERM_WRITE : 0);
    }
    return n;
}

static int minios_xs_wait_watch(struct ivcom_platform *plat, int timeout_ms)
{
    (void)plat;
    return xenbus_wait_watch(timeout_ms < 0 ? EVTCHN_WAIT_FOREVER
                                            : (uint64_t)timeout_ms * NSEC_PER_MSEC,
                             NULL, 0, NULL, 0);
}

const struct ivcom_platform_ops ivcom_plat_minios_ops = {
    .name = "minios",
    .open = minios_open,
    .close = minios_close,
    .share = minios_share,
    .unshare = minios_unshare,
    .map = minios_map,
    .unmap = minios_unmap,
    .unmap_notify = minios_unmap_notify,
    .evtchn_open = minios_evtchn_open,
    .evtchn_close = minios_evtchn_close,
    .evtchn_alloc_unbound = minios_evtchn_alloc_unbound,
    .evtchn_bind = minios_evtchn_bind,
    .evtchn_unbind = minios_evtchn_unbind,
    .evtchn_notify = minios_evtchn_notify,
    .evtchn_wait = minios_evtchn_wait,
    .evtchn_ack = minios_evtchn_ack,
    .evtchn_fd = minios_evtchn_fd,
    .xs_read = minios_xs_read,
    .xs_write = minios_xs_write,
    .xs_rm = minios_xs_rm,
    .xs_set_perms = minios_xs_set_perms,
    .xs_tx_start = minios_xs_tx_start,
    .xs_tx_end = minios_xs_tx_end,
    .xs_watch = minios_xs_watch,
    .xs_unwatch = minios_xs_unwatch,
    .xs_wait_watch = minios_xs_wait_watch,
    .xs_watch_fd = minios_xs_watch_fd,
    .xs_directory = minios_xs_directory,
    .xs_get_perms = minios_xs_get_perms,
};
