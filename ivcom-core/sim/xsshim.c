/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim that lets the real xenstored run on plain Linux as the
 * sim's store.  It stands in for exactly what xenstored imports from
 * libxenctrl, libxengnttab and libxenevtchn (see `nm -D --undefined-only
 * xenstored`), and for /proc/xen/xsd_{port,kva}:
 *
 *  - xc_domain_getinfo: dom0 always exists; domain N exists while simhv
 *    keeps $IVCOM_SIM_DIR/dom-N (i.e. while N has a live connection).
 *    Without a correct answer xenstored drops dom0's accounting and dies.
 *  - xengnttab_map_grant_ref(N, GNTTAB_RESERVED_XENSTORE): maps xs-ring-N.
 *  - xenevtchn: the handle's fd is a datagram socket (xsd-evtchn.sock);
 *    a domain kicks xenstored by sending its domid, simhv raises
 *    VIRQ_DOM_EXC by sending SIM_XSEVT_VIRQ.  Notifying domain N writes
 *    one byte to the FIFO xs-evt-N.
 *  - open/fopen of /proc/xen/xsd_{port,kva} go to files in the sim dir.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/grant_table.h>

#include "sim.h"

#define SHIM_API __attribute__((visibility("default")))
#define SHIM_PORTS 4096

static const char *sim_dir(void)
{
    const char *d = getenv("IVCOM_SIM_DIR");
    return d && *d ? d : ".";
}

__attribute__((constructor)) static void shim_init(void)
{
    struct sigaction sa;

    /* A domain that died leaves its FIFO without a reader: EPIPE, not
     * a signal, is what notify wants to see. */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
}

/* ---- /proc/xen redirection ---------------------------------------------- */

static const char *redirect(const char *path, char *buf, size_t len)
{
    if (path && strcmp(path, "/proc/xen/xsd_port") == 0 &&
        sim_path(buf, len, sim_dir(), "xsd_port") == 0)
        return buf;
    if (path && strcmp(path, "/proc/xen/xsd_kva") == 0 &&
        sim_path(buf, len, sim_dir(), "xsd_kva") == 0)
        return buf;
    return path;
}

typedef int (*open_fn)(const char *, int, ...);
typedef FILE *(*fopen_fn)(const char *, const char *);

static int shim_open(const char *sym, const char *path, int flags,
                     va_list ap)
{
    open_fn real = (open_fn)dlsym(RTLD_NEXT, sym);
    char buf[4096];
    mode_t mode = 0;

    if (flags & (O_CREAT | O_TMPFILE))
        mode = va_arg(ap, mode_t);
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return real(redirect(path, buf, sizeof(buf)), flags, mode);
}

SHIM_API int open(const char *path, int flags, ...)
{
    va_list ap;
    int r;

    va_start(ap, flags);
    r = shim_open("open", path, flags, ap);
    va_end(ap);
    return r;
}

SHIM_API int open64(const char *path, int flags, ...)
{
    va_list ap;
    int r;

    va_start(ap, flags);
    r = shim_open("open64", path, flags, ap);
    va_end(ap);
    return r;
}

SHIM_API FILE *fopen(const char *path, const char *mode)
{
    fopen_fn real = (fopen_fn)dlsym(RTLD_NEXT, "fopen");
    char buf[4096];

    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    return real(redirect(path, buf, sizeof(buf)), mode);
}

/* ---- libxenctrl ---------------------------------------------------------- */

static int dummy_xc;

SHIM_API xc_interface *xc_interface_open(xentoollog_logger *logger,
                                         xentoollog_logger *dombuild_logger,
                                         unsigned open_flags)
{
    (void)logger; (void)dombuild_logger; (void)open_flags;
    return (xc_interface *)&dummy_xc;
}

SHIM_API int xc_interface_close(xc_interface *xch)
{
    (void)xch;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

SHIM_API int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                               unsigned int max_doms, xc_dominfo_t *info)
{
    static uint32_t ids[SIM_MAX_DOMID + 1];
    unsigned n = 0, i, out = 0;
    struct dirent *de;
    DIR *d;

    (void)xch;
    ids[n++] = 0;
    d = opendir(sim_dir());
    if (d) {
        while ((de = readdir(d)) != NULL && n <= SIM_MAX_DOMID) {
            char *end;
            unsigned long v;

            if (strncmp(de->d_name, "dom-", 4) != 0)
                continue;
            v = strtoul(de->d_name + 4, &end, 10);
            if (*end || end == de->d_name + 4 || v == 0 || v > SIM_MAX_DOMID)
                continue;
            ids[n++] = (uint32_t)v;
        }
        closedir(d);
    }
    qsort(ids, n, sizeof(ids[0]), cmp_u32);
    for (i = 0; i < n && out < max_doms; i++) {
        if (ids[i] < first_domid)
            continue;
        memset(&info[out], 0, sizeof(info[out]));
        info[out].domid = ids[i];
        info[out].running = 1;
        info[out].max_vcpu_id = 0;
        info[out].nr_online_vcpus = 1;
        out++;
    }
    return (int)out;
}

/* ---- libxengnttab ------------------------------------------------------- */

static int dummy_gnttab;

SHIM_API xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger,
                                          unsigned open_flags)
{
    (void)logger; (void)open_flags;
    return (xengnttab_handle *)&dummy_gnttab;
}

SHIM_API int xengnttab_close(xengnttab_handle *xgt)
{
    (void)xgt;
    return 0;
}

SHIM_API int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr)
{
    (void)xgt; (void)nr;
    return 0;
}

SHIM_API void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid,
                                       uint32_t ref, int prot)
{
    char path[4096];
    void *p;
    int fd;

    (void)xgt;
    if (ref != GNTTAB_RESERVED_XENSTORE ||
        sim_path(path, sizeof(path), sim_dir(), "xs-ring-%u", domid) < 0) {
        errno = EINVAL;
        return NULL;
    }
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    p = mmap(NULL, SIM_PAGE, prot, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

SHIM_API int xengnttab_unmap(xengnttab_handle *xgt, void *addr, uint32_t count)
{
    (void)xgt;
    return munmap(addr, (size_t)count * SIM_PAGE);
}

/* ---- libxenevtchn ------------------------------------------------------- */

enum { PORT_FREE, PORT_VIRQ, PORT_DOMAIN };

struct shim_port {
    int kind;
    uint32_t domid;
    int fifo;                   /* cached writer of xs-evt-<domid>, or -1 */
};

struct xenevtchn_handle {
    int fd;
    struct shim_port ports[SHIM_PORTS];
};

SHIM_API xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger,
                                          unsigned open_flags)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    xenevtchn_handle *h;

    (void)logger; (void)open_flags;
    if (sim_path(sa.sun_path, sizeof(sa.sun_path), sim_dir(),
                 SIM_SOCK_XSEVT) < 0) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (h->fd < 0)
        goto out_free;
    unlink(sa.sun_path);
    if (bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto out_close;
    return h;

out_close:
    close(h->fd);
out_free:
    free(h);
    return NULL;
}

SHIM_API xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger,
                                            int fd, unsigned open_flags)
{
    (void)logger; (void)fd; (void)open_flags;
    errno = ENOSYS;             /* live update is not part of the sim */
    return NULL;
}

SHIM_API int xenevtchn_close(xenevtchn_handle *h)
{
    unsigned i;

    if (!h)
        return 0;
    for (i = 0; i < SHIM_PORTS; i++)
        if (h->ports[i].kind == PORT_DOMAIN && h->ports[i].fifo >= 0)
            close(h->ports[i].fifo);
    close(h->fd);
    free(h);
    return 0;
}

SHIM_API int xenevtchn_fd(xenevtchn_handle *h)
{
    return h->fd;
}

static int alloc_port(xenevtchn_handle *h, int kind, uint32_t domid)
{
    unsigned i;

    for (i = 1; i < SHIM_PORTS; i++) {
        if (h->ports[i].kind == PORT_FREE) {
            h->ports[i].kind = kind;
            h->ports[i].domid = domid;
            h->ports[i].fifo = -1;
            return (int)i;
        }
    }
    errno = ENOSPC;
    return -1;
}

static struct shim_port *get_port(xenevtchn_handle *h, evtchn_port_t port)
{
    if (port == 0 || port >= SHIM_PORTS || h->ports[port].kind == PORT_FREE)
        return NULL;
    return &h->ports[port];
}

SHIM_API xenevtchn_port_or_error_t
xenevtchn_bind_interdomain(xenevtchn_handle *h, uint32_t domid,
                           evtchn_port_t remote_port)
{
    (void)remote_port;
    return alloc_port(h, PORT_DOMAIN, domid);
}

SHIM_API xenevtchn_port_or_error_t
xenevtchn_bind_virq(xenevtchn_handle *h, unsigned int virq)
{
    (void)virq;
    return alloc_port(h, PORT_VIRQ, 0);
}

SHIM_API int xenevtchn_unbind(xenevtchn_handle *h, evtchn_port_t port)
{
    struct shim_port *p = get_port(h, port);

    if (!p) {
        errno = EINVAL;
        return -1;
    }
    if (p->fifo >= 0)
        close(p->fifo);
    memset(p, 0, sizeof(*p));
    return 0;
}

SHIM_API int xenevtchn_notify(xenevtchn_handle *h, evtchn_port_t port)
{
    struct shim_port *p = get_port(h, port);
    char path[4096];
    char one = 1;

    if (!p) {
        errno = EINVAL;
        return -1;
    }
    if (p->kind != PORT_DOMAIN || p->domid == 0)
        return 0;               /* dom0 uses the socket, not its ring */
    if (p->fifo < 0) {
        if (sim_path(path, sizeof(path), sim_dir(), "xs-evt-%u",
                     p->domid) < 0)
            return 0;
        p->fifo = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (p->fifo < 0)
            return 0;           /* no reader: the domain is not up */
    }
    if (write(p->fifo, &one, 1) < 0 && errno != EAGAIN) {
        close(p->fifo);         /* reader gone: reopen next time */
        p->fifo = -1;
    }
    return 0;
}

SHIM_API xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *h)
{
    uint32_t msg;
    unsigned i, virq = 0;
    ssize_t n = recv(h->fd, &msg, sizeof(msg), 0);

    for (i = 1; i < SHIM_PORTS; i++) {
        if (h->ports[i].kind == PORT_VIRQ && !virq)
            virq = i;
        if (n == sizeof(msg) && msg != SIM_XSEVT_VIRQ &&
            h->ports[i].kind == PORT_DOMAIN && h->ports[i].domid == msg)
            return (int)i;
    }
    /* VIRQ, a stale domid, or nothing: a domain scan is always harmless
     * (xenstored re-checks every ring after any event). */
    return virq ? (int)virq : 1;
}

SHIM_API int xenevtchn_unmask(xenevtchn_handle *h, evtchn_port_t port)
{
    (void)h; (void)port;
    return 0;
}
