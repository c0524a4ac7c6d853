/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim that runs Debian's stock libxenvchan in the sim, so
 * that the drop-in can be tested against the real thing without Xen.  It
 * stands in for exactly what libxenvchan.so.4.17 imports (`objdump -T`):
 * xengntshr_* and xengnttab_* (grants), xenevtchn_* (event channels) and
 * xs_* (XenStore), each mapped onto one libivcom platform (sim: this
 * process is domain $IVCOM_SIM_DOMID).  XenStore paths not starting with
 * '/' are relative to /local/domain/<self>, as xenstored makes them.
 *
 * Test scaffolding only: loggers and flags are ignored, errors come back
 * as errno, and stock libxenvchan's munmap() of its ring buffers bypasses
 * the platform's unshare/unmap (a leak of bookkeeping until exit).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "ivcom/ivcom.h"
#include "platform.h"

#define SHIM_API __attribute__((visibility("default")))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ivcom_platform *plat;

static struct ivcom_platform *P(void)
{
    pthread_mutex_lock(&lock);
    if (!plat) {
        int err = ivcom_platform_open(NULL, &plat);

        if (err) {
            fprintf(stderr, "stockshim: platform: %s\n", ivcom_strerror(err));
            plat = NULL;
        }
    }
    pthread_mutex_unlock(&lock);
    return plat;
}

static int fail(int err)
{
    errno = err < 0 ? -err : err;
    return -1;
}

/* ---- event channels: one platform handle per xenevtchn handle ---------- */
struct xenevtchn_handle {
    struct ivcom_evtchn *ev;
    uint32_t port;
};

SHIM_API xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned flags)
{
    xenevtchn_handle *h;
    int err;

    (void)logger;
    (void)flags;
    if (!P())
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    err = plat->ops->evtchn_open(plat, &h->ev);
    if (err) {
        free(h);
        fail(err);
        return NULL;
    }
    return h;
}

SHIM_API int xenevtchn_close(xenevtchn_handle *h)
{
    if (h) {
        plat->ops->evtchn_close(h->ev);
        free(h);
    }
    return 0;
}

SHIM_API int xenevtchn_fd(xenevtchn_handle *h)
{
    int fd = plat->ops->evtchn_fd(h->ev);

    return fd < 0 ? fail(fd) : fd;
}

SHIM_API xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *h,
                                                               uint32_t domid)
{
    int err = plat->ops->evtchn_alloc_unbound(h->ev, (int)domid, &h->port);

    return err ? fail(err) : (xenevtchn_port_or_error_t)h->port;
}

SHIM_API xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *h,
                                                              uint32_t domid,
                                                              evtchn_port_t remote_port)
{
    int err = plat->ops->evtchn_bind(h->ev, (int)domid, remote_port, &h->port);

    return err ? fail(err) : (xenevtchn_port_or_error_t)h->port;
}

SHIM_API int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    int err = plat->ops->evtchn_unbind(h->ev, port);

    return err ? fail(err) : 0;
}

SHIM_API int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    int err = plat->ops->evtchn_notify(h->ev, port);

    return err ? fail(err) : 0;
}

/* Blocks until an event came (the device's read()), as stock expects. */
SHIM_API xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    int err;

    do
        err = plat->ops->evtchn_wait(h->ev, -1);
    while (err == -EINTR || err == -ETIMEDOUT);
    return err ? fail(err) : (xenevtchn_port_or_error_t)h->port;
}

SHIM_API int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    (void)h;
    (void)port;
    return 0;
}

/* ---- grants ------------------------------------------------------------ */
struct xengntdev_handle { int unused; };

SHIM_API xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned flags)
{
    (void)logger;
    (void)flags;
    return P() ? calloc(1, sizeof(struct xengntdev_handle)) : NULL;
}

SHIM_API int xengntshr_close(xengntshr_handle *h)
{
    free(h);
    return 0;
}

SHIM_API void *xengntshr_share_pages(xengntshr_handle *h, uint32_t domid, int count,
                                     uint32_t *refs, int writable)
{
    void *addr;
    int err;

    (void)h;
    (void)writable;
    err = plat->ops->share(plat, (int)domid, (unsigned)count, &addr, refs);
    if (err) {
        fail(err);
        return NULL;
    }
    return addr;
}

SHIM_API void *xengntshr_share_page_notify(xengntshr_handle *h, uint32_t domid, uint32_t *ref,
                                           int writable, uint32_t notify_offset,
                                           evtchn_port_t notify_port)
{
    void *addr = xengntshr_share_pages(h, domid, 1, ref, writable);

    if (addr)
        plat->ops->unmap_notify(plat, addr, notify_offset, notify_port);
    return addr;
}

SHIM_API int xengntshr_unshare(xengntshr_handle *h, void *start_address, uint32_t count)
{
    (void)h;
    return plat->ops->unshare(plat, start_address, count) ? -1 : 0;
}

SHIM_API xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned flags)
{
    (void)logger;
    (void)flags;
    return P() ? calloc(1, sizeof(struct xengntdev_handle)) : NULL;
}

SHIM_API int xengnttab_close(xengnttab_handle *h)
{
    free(h);
    return 0;
}

SHIM_API void *xengnttab_map_domain_grant_refs(xengnttab_handle *h, uint32_t count,
                                               uint32_t domid, uint32_t *refs, int prot)
{
    void *addr;
    int err;

    (void)h;
    err = plat->ops->map(plat, (int)domid, count, refs, !!(prot & PROT_WRITE), &addr);
    if (err) {
        fail(err);
        return NULL;
    }
    return addr;
}

SHIM_API void *xengnttab_map_grant_ref_notify(xengnttab_handle *h, uint32_t domid,
                                              uint32_t ref, int prot, uint32_t notify_offset,
                                              evtchn_port_t notify_port)
{
    void *addr = xengnttab_map_domain_grant_refs(h, 1, domid, &ref, prot);

    if (addr)
        plat->ops->unmap_notify(plat, addr, notify_offset, notify_port);
    return addr;
}

SHIM_API int xengnttab_unmap(xengnttab_handle *h, void *start_address, uint32_t count)
{
    (void)h;
    return plat->ops->unmap(plat, start_address, count) ? -1 : 0;
}

/* ---- XenStore ------------------------------------------------------------ */
struct xs_handle { int unused; };

static int abs_path(const char *path, char *out, size_t len)
{
    int n = path[0] == '/' ? snprintf(out, len, "%s", path)
                           : snprintf(out, len, "/local/domain/%d/%s", plat->domid, path);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

SHIM_API struct xs_handle *xs_open(unsigned long flags)
{
    (void)flags;
    return P() ? calloc(1, sizeof(struct xs_handle)) : NULL;
}

SHIM_API void xs_close(struct xs_handle *h)
{
    free(h);
}

SHIM_API void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path,
                       unsigned int *len)
{
    char full[512], *buf;
    int err;

    (void)h;
    buf = malloc(4096);
    if (!buf)
        return NULL;
    err = abs_path(path, full, sizeof(full));
    if (!err)
        err = plat->ops->xs_read(plat, t, full, buf, 4096);
    /* The sim introduces domains without a domid node. */
    if (err == -ENOENT && strcmp(path, "domid") == 0) {
        snprintf(buf, 4096, "%d", plat->domid);
        err = 0;
    }
    if (err) {
        free(buf);
        fail(err);
        return NULL;
    }
    if (len)
        *len = (unsigned)strlen(buf);
    return buf;
}

SHIM_API bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path,
                       const void *data, unsigned int len)
{
    char full[512], *val;
    int err;

    (void)h;
    val = malloc(len + 1u);
    if (!val)
        return false;
    memcpy(val, data, len);
    val[len] = '\0';
    err = abs_path(path, full, sizeof(full));
    if (!err)
        err = plat->ops->xs_write(plat, t, full, val);
    free(val);
    return err ? (fail(err), false) : true;
}

SHIM_API bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t, const char *path,
                                 struct xs_permissions *perms, unsigned int num_perms)
{
    struct ivcom_xs_perm p[16];
    char full[512];
    unsigned i;
    int err;

    (void)h;
    if (num_perms > 16)
        return fail(-E2BIG), false;
    for (i = 0; i < num_perms; i++) {
        p[i].domid = perms[i].id;
        p[i].perms = perms[i].perms & IVCOM_XS_PERM_BOTH;
    }
    err = abs_path(path, full, sizeof(full));
    if (!err)
        err = plat->ops->xs_set_perms(plat, t, full, p, num_perms);
    return err ? (fail(err), false) : true;
}

SHIM_API bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    char full[512];
    int err;

    (void)h;
    err = abs_path(path, full, sizeof(full));
    if (!err)
        err = plat->ops->xs_rm(plat, t, full);
    return err ? (fail(err), false) : true;
}

SHIM_API xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
    uint32_t tx;
    int err;

    (void)h;
    err = plat->ops->xs_tx_start(plat, &tx);
    return err ? (fail(err), XBT_NULL) : tx;
}

SHIM_API bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
    int err;

    (void)h;
    err = plat->ops->xs_tx_end(plat, t, abort);
    return err ? (fail(err), false) : true;
}
