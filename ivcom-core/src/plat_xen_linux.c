/* SPDX-License-Identifier: MIT */
/*
 * xen-linux: a Linux domain (dom0 or domU) on real Xen.
 *   grants  -- /dev/xen/gntalloc (share) and /dev/xen/gntdev (map), driven
 *              by their ioctls so that an unmap notify can be set on any
 *              page of a multi-page area;
 *   events  -- libxenevtchn, one handle (and fd) per channel;
 *   store   -- libxenstore (the kernel's xenbus device or xenstored's socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xenstore.h>
#include <xen/sys/gntalloc.h>
#include <xen/sys/gntdev.h>

#include "internal.h"

struct area {
    struct area *next;
    void *addr;
    unsigned npages;
    uint64_t index;         /* mmap offset handed out by the device */
    int shared;             /* 1: gntalloc, 0: gntdev */
};

struct xl_priv {
    int gntalloc, gntdev;
    struct xs_handle *xs;
    struct area *areas;
};

struct ivcom_evtchn {
    xenevtchn_handle *xce;
    int fd;
};

static struct xl_priv *priv_of(struct ivcom_platform *plat)
{
    return plat->priv;
}

static int self_domid(struct xs_handle *xs)
{
    unsigned int len;
    char *v = xs_read(xs, XBT_NULL, "domid", &len);
    int id = 0;

    if (v) {
        id = atoi(v);
        free(v);
    }
    return id;
}

static int xl_open(struct ivcom_platform *plat)
{
    struct xl_priv *p = calloc(1, sizeof(*p));
    int err;

    if (!p)
        return -ENOMEM;
    p->gntalloc = open("/dev/xen/gntalloc", O_RDWR | O_CLOEXEC);
    p->gntdev = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
    if (p->gntalloc < 0 || p->gntdev < 0) {
        err = -ENODEV;
        goto out_close;
    }
    p->xs = xs_open(0);
    if (!p->xs) {
        err = errno ? -errno : -ENODEV;
        goto out_close;
    }
    plat->priv = p;
    plat->domid = self_domid(p->xs);
    return 0;

out_close:
    if (p->gntalloc >= 0)
        close(p->gntalloc);
    if (p->gntdev >= 0)
        close(p->gntdev);
    free(p);
    return err;
}

static void xl_close(struct ivcom_platform *plat)
{
    struct xl_priv *p = priv_of(plat);

    while (p->areas) {
        struct area *a = p->areas;
        p->areas = a->next;
        munmap(a->addr, (size_t)a->npages * IVCOM_PAGE_SIZE);
        free(a);
    }
    xs_close(p->xs);
    close(p->gntalloc);
    close(p->gntdev);
    free(p);
}

static struct area *area_add(struct xl_priv *p, void *addr, unsigned n,
                             uint64_t index, int shared)
{
    struct area *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    *a = (struct area){ p->areas, addr, n, index, shared };
    p->areas = a;
    return a;
}

/* Unlink and return the area that starts at addr. */
static struct area *area_take(struct xl_priv *p, void *addr)
{
    struct area **pp;

    for (pp = &p->areas; *pp; pp = &(*pp)->next) {
        if ((*pp)->addr == addr) {
            struct area *a = *pp;
            *pp = a->next;
            return a;
        }
    }
    return NULL;
}

/* Grant and event-channel calls take 16-bit domain ids: a larger int
 * would wrap (65536 is dom0), and ids from DOMID_FIRST_RESERVED up name
 * no domain. */
static int domid_ok(int domid)
{
    return domid >= 0 && domid < IVCOM_DOMID_FIRST_RESERVED;
}

static int xl_share(struct ivcom_platform *plat, int peer, unsigned npages,
                    void **addr, uint32_t *refs)
{
    struct xl_priv *p = priv_of(plat);
    struct ioctl_gntalloc_alloc_gref *op;
    struct ioctl_gntalloc_dealloc_gref del;
    void *va;
    int err;

    if (!domid_ok(peer))
        return -EINVAL;
    op = calloc(1, sizeof(*op) + npages * sizeof(uint32_t));
    if (!op)
        return -ENOMEM;
    op->domid = (uint16_t)peer;
    op->flags = GNTALLOC_FLAG_WRITABLE;
    op->count = npages;
    if (ioctl(p->gntalloc, IOCTL_GNTALLOC_ALLOC_GREF, op) < 0) {
        err = -errno;
        goto out_free;
    }
    va = mmap(NULL, (size_t)npages * IVCOM_PAGE_SIZE, PROT_READ | PROT_WRITE,
              MAP_SHARED, p->gntalloc, (off_t)op->index);
    if (va == MAP_FAILED) {
        err = -errno;
        goto out_dealloc;
    }
    if (!area_add(p, va, npages, op->index, 1)) {
        err = -ENOMEM;
        munmap(va, (size_t)npages * IVCOM_PAGE_SIZE);
        goto out_dealloc;
    }
    memcpy(refs, op->gref_ids, npages * sizeof(uint32_t));
    *addr = va;
    free(op);
    return 0;

out_dealloc:
    del = (struct ioctl_gntalloc_dealloc_gref){ .index = op->index, .count = npages };
    ioctl(p->gntalloc, IOCTL_GNTALLOC_DEALLOC_GREF, &del);
out_free:
    free(op);
    return err;
}

static int release_area(struct xl_priv *p, void *addr)
{
    struct area *a = area_take(p, addr);

    if (!a)
        return -EINVAL;
    munmap(a->addr, (size_t)a->npages * IVCOM_PAGE_SIZE);
    if (a->shared) {
        struct ioctl_gntalloc_dealloc_gref del = { .index = a->index, .count = a->npages };
        ioctl(p->gntalloc, IOCTL_GNTALLOC_DEALLOC_GREF, &del);
    } else {
        struct ioctl_gntdev_unmap_grant_ref del = { .index = a->index, .count = a->npages };
        ioctl(p->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &del);
    }
    free(a);
    return 0;
}

static int xl_unshare(struct ivcom_platform *plat, void *addr, unsigned npages)
{
    (void)npages;
    return release_area(priv_of(plat), addr);
}

static int xl_map(struct ivcom_platform *plat, int peer, unsigned npages,
                  const uint32_t *refs, int writable, void **addr)
{
    struct xl_priv *p = priv_of(plat);
    struct ioctl_gntdev_map_grant_ref *op;
    struct ioctl_gntdev_unmap_grant_ref del;
    unsigned i;
    void *va;
    int err;

    if (!domid_ok(peer))
        return -EINVAL;
    op = calloc(1, sizeof(*op) + npages * sizeof(op->refs[0]));
    if (!op)
        return -ENOMEM;
    op->count = npages;
    for (i = 0; i < npages; i++) {
        op->refs[i].domid = (uint32_t)peer;
        op->refs[i].ref = refs[i];
    }
    if (ioctl(p->gntdev, IOCTL_GNTDEV_MAP_GRANT_REF, op) < 0) {
        err = -errno;
        goto out_free;
    }
    /* The grant map hypercall runs here: a ref that was not granted to us
     * fails now. */
    va = mmap(NULL, (size_t)npages * IVCOM_PAGE_SIZE,
              PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, p->gntdev,
              (off_t)op->index);
    if (va == MAP_FAILED) {
        err = -EACCES;
        goto out_unmap;
    }
    if (!area_add(p, va, npages, op->index, 0)) {
        err = -ENOMEM;
        munmap(va, (size_t)npages * IVCOM_PAGE_SIZE);
        goto out_unmap;
    }
    *addr = va;
    free(op);
    return 0;

out_unmap:
    del = (struct ioctl_gntdev_unmap_grant_ref){ .index = op->index, .count = npages };
    ioctl(p->gntdev, IOCTL_GNTDEV_UNMAP_GRANT_REF, &del);
out_free:
    free(op);
    return err;
}

static int xl_unmap(struct ivcom_platform *plat, void *addr, unsigned npages)
{
    (void)npages;
    return release_area(priv_of(plat), addr);
}

static int xl_unmap_notify(struct ivcom_platform *plat, void *addr, uint32_t offset,
                           uint32_t port)
{
    struct xl_priv *p = priv_of(plat);
    struct area *a;

    for (a = p->areas; a; a = a->next) {
        if (a->addr != addr)
            continue;
        if (a->shared) {
            struct ioctl_gntalloc_unmap_notify n = {
                .index = a->index + offset,
                .action = UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT,
                .event_channel_port = port };
            return ioctl(p->gntalloc, IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &n) < 0 ? -errno : 0;
        } else {
            struct ioctl_gntdev_unmap_notify n = {
                .index = a->index + offset,
                .action = UNMAP_NOTIFY_CLEAR_BYTE | UNMAP_NOTIFY_SEND_EVENT,
                .event_channel_port = port };
            return ioctl(p->gntdev, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &n) < 0 ? -errno : 0;
        }
    }
    return -EINVAL;
}

/* ---- event channels ---- */

static int xl_evtchn_open(struct ivcom_platform *plat, struct ivcom_evtchn **out)
{
    struct ivcom_evtchn *ev = calloc(1, sizeof(*ev));

    (void)plat;
    if (!ev)
        return -ENOMEM;
    ev->xce = xenevtchn_open(NULL, 0);
    if (!ev->xce) {
        free(ev);
        return errno ? -errno : -ENODEV;
    }
    ev->fd = xenevtchn_fd(ev->xce);
    /* drain() reads without blocking; waiting is poll()'s job. */
    if (ev->fd < 0 || fcntl(ev->fd, F_SETFL, fcntl(ev->fd, F_GETFL) | O_NONBLOCK) < 0) {
        int err = ev->fd < 0 ? -ENODEV : -errno;

        xenevtchn_close(ev->xce);
        free(ev);
        return err;
    }
    *out = ev;
    return 0;
}

static void xl_evtchn_close(struct ivcom_evtchn *ev)
{
    xenevtchn_close(ev->xce);
    free(ev);
}

static int xl_alloc_unbound(struct ivcom_evtchn *ev, int peer, uint32_t *port)
{
    xenevtchn_port_or_error_t p;

    if (!domid_ok(peer))
        return -EINVAL;
    p = xenevtchn_bind_unbound_port(ev->xce, (uint32_t)peer);
    if (p < 0)
        return -errno;
    *port = (uint32_t)p;
    return 0;
}

static int xl_bind(struct ivcom_evtchn *ev, int peer, uint32_t remote, uint32_t *port)
{
    xenevtchn_port_or_error_t p;

    if (!domid_ok(peer))
        return -EINVAL;
    p = xenevtchn_bind_interdomain(ev->xce, (uint32_t)peer, remote);
    if (p < 0)
        return -errno;
    *port = (uint32_t)p;
    return 0;
}

static int xl_unbind(struct ivcom_evtchn *ev, uint32_t port)
{
    return xenevtchn_unbind(ev->xce, port) < 0 ? -errno : 0;
}

static int xl_notify(struct ivcom_evtchn *ev, uint32_t port)
{
    return xenevtchn_notify(ev->xce, port) < 0 ? -errno : 0;
}

/* Consume what is pending and unmask: 1 if anything was, 0 if not.
 *
 * The evtchn device's own protocol (what xenevtchn_pending/unmask do one
 * port per system call): read() hands out the ports that fired -- each
 * stays masked until written back -- and write() unmasks the ports it is
 * given.  The fd is non-blocking (xl_evtchn_open), so one read takes all
 * that is pending and one write unmasks it all: two system calls per
 * wakeup instead of a poll, a read and a write per port plus a final poll
 * (each one costs a trip through Xen in a PV guest). */
static int drain(struct ivcom_evtchn *ev)
{
    evtchn_port_t ports[16];
    int any = 0;

    for (;;) {
        ssize_t n = read(ev->fd, ports, sizeof(ports));

        if (n < (ssize_t)sizeof(ports[0]))
            return any;         /* -EAGAIN: nothing (more) pending */
        n -= n % (ssize_t)sizeof(ports[0]);
        if (write(ev->fd, ports, (size_t)n) < 0)
            return any;
        any = 1;
        if ((size_t)n < sizeof(ports))
            return any;
    }
}

static int xl_evtchn_wait(struct ivcom_evtchn *ev, int timeout_ms)
{
    struct pollfd pfd = { .fd = ev->fd, .events = POLLIN };
    int r = poll(&pfd, 1, timeout_ms);

    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    drain(ev);
    return 0;
}

static int xl_evtchn_ack(struct ivcom_evtchn *ev)
{
    return drain(ev);
}

static int xl_evtchn_fd(struct ivcom_evtchn *ev)
{
    return ev->fd;
}

/* ---- XenStore ---- */

static int xl_xs_read(struct ivcom_platform *plat, uint32_t tx, const char *path,
                      char *buf, size_t len)
{
    unsigned int n;
    char *v = xs_read(priv_of(plat)->xs, tx, path, &n);

    if (!v)
        return -errno;
    if (n >= len) {
        free(v);
        return -E2BIG;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
    free(v);
    return 0;
}

static int xl_xs_write(struct ivcom_platform *plat, uint32_t tx, const char *path,
                       const char *value)
{
    return xs_write(priv_of(plat)->xs, tx, path, value, (unsigned)strlen(value))
           ? 0 : -errno;
}

static int xl_xs_rm(struct ivcom_platform *plat, uint32_t tx, const char *path)
{
    return xs_rm(priv_of(plat)->xs, tx, path) ? 0 : -errno;
}

static int xl_xs_set_perms(struct ivcom_platform *plat, uint32_t tx, const char *path,
                           const struct ivcom_xs_perm *perms, unsigned nperms)
{
    struct xs_permissions xp[8];
    unsigned i;

    if (nperms > 8)
        return -EINVAL;
    for (i = 0; i < nperms; i++) {
        xp[i].id = perms[i].domid;
        xp[i].perms = (perms[i].perms & IVCOM_XS_PERM_READ ? XS_PERM_READ : 0) |
                      (perms[i].perms & IVCOM_XS_PERM_WRITE ? XS_PERM_WRITE : 0);
    }
    return xs_set_permissions(priv_of(plat)->xs, tx, path, xp, nperms) ? 0 : -errno;
}

static int xl_xs_directory(struct ivcom_platform *plat, uint32_t tx, const char *path,
                           char *buf, size_t len)
{
    unsigned int i, n;
    size_t used = 0;
    char **names = xs_directory(priv_of(plat)->xs, tx, path, &n);

    if (!names)
        return -errno;
    for (i = 0; i < n; i++) {
        size_t l = strlen(names[i]) + 1;

        if (used + l > len) {
            free(names);
            return -E2BIG;
        }
        memcpy(buf + used, names[i], l);
        used += l;
    }
    free(names);
    return (int)n;
}

static int xl_xs_get_perms(struct ivcom_platform *plat, uint32_t tx, const char *path,
                           struct ivcom_xs_perm *perms, unsigned max)
{
    unsigned int i, n;
    struct xs_permissions *xp = xs_get_permissions(priv_of(plat)->xs, tx, path, &n);

    if (!xp)
        return -errno;
    for (i = 0; i < n && i < max; i++) {
        perms[i].domid = xp[i].id;
        perms[i].perms = (xp[i].perms & XS_PERM_READ ? IVCOM_XS_PERM_READ : 0) |
                         (xp[i].perms & XS_PERM_WRITE ? IVCOM_XS_PERM_WRITE : 0);
    }
    free(xp);
    return (int)i;
}

static int xl_xs_tx_start(struct ivcom_platform *plat, uint32_t *tx)
{
    xs_transaction_t t = xs_transaction_start(priv_of(plat)->xs);

    if (t == XBT_NULL)
        return -errno;
    *tx = t;
    return 0;
}

static int xl_xs_tx_end(struct ivcom_platform *plat, uint32_t tx, int abort)
{
    return xs_transaction_end(priv_of(plat)->xs, tx, abort != 0) ? 0 : -errno;
}

static int xl_xs_watch(struct ivcom_platform *plat, const char *path, const char *token)
{
    return xs_watch(priv_of(plat)->xs, path, token) ? 0 : -errno;
}

static int xl_xs_unwatch(struct ivcom_platform *plat, const char *path, const char *token)
{
    return xs_unwatch(priv_of(plat)->xs, path, token) ? 0 : -errno;
}

/* libxenstore's watch pipe: readable while watch events are queued. */
static int xl_xs_watch_fd(struct ivcom_platform *plat)
{
    int fd = xs_fileno(priv_of(plat)->xs);

    return fd < 0 ? -errno : fd;
}

static int xl_xs_wait_watch(struct ivcom_platform *plat, int timeout_ms)
{
    struct xs_handle *xs = priv_of(plat)->xs;
    struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
    char **w;
    int r = poll(&pfd, 1, timeout_ms);

    if (r <= 0)
        return r < 0 ? -errno : -ETIMEDOUT;
    while ((w = xs_check_watch(xs)) != NULL)
        free(w);
    return 0;
}

const struct ivcom_platform_ops ivcom_plat_xen_linux_ops = {
    .name = "xen-linux",
    .open = xl_open,
    .close = xl_close,
    .share = xl_share,
    .unshare = xl_unshare,
    .map = xl_map,
    .unmap = xl_unmap,
    .unmap_notify = xl_unmap_notify,
    .evtchn_open = xl_evtchn_open,
    .evtchn_close = xl_evtchn_close,
    .evtchn_alloc_unbound = xl_alloc_unbound,
    .evtchn_bind = xl_bind,
    .evtchn_unbind = xl_unbind,
    .evtchn_notify = xl_notify,
    .evtchn_wait = xl_evtchn_wait,
    .evtchn_ack = xl_evtchn_ack,
    .evtchn_fd = xl_evtchn_fd,
    .xs_read = xl_xs_read,
    .xs_write = xl_xs_write,
    .xs_rm = xl_xs_rm,
    .xs_set_perms = xl_xs_set_perms,
    .xs_tx_start = xl_xs_tx_start,
    .xs_tx_end = xl_xs_tx_end,
    .xs_watch = xl_xs_watch,
    .xs_unwatch = xl_xs_unwatch,
    .xs_wait_watch = xl_xs_wait_watch,
    .xs_watch_fd = xl_xs_watch_fd,
    .xs_directory = xl_xs_directory,
    .xs_get_perms = xl_xs_get_perms,
};
