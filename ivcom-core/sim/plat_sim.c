/* SPDX-License-Identifier: MIT */
/*
 * The sim platform backend: this process is domain $IVCOM_SIM_DOMID of
 * the sim in $IVCOM_SIM_DIR (see sim.h and simhv.c).
 *
 *  - grants: memfd pages from simhv, mmap'ed (MAP_FIXED runs into one
 *    reserved area when a map spans several grants);
 *  - event channels: one port per handle, an eventfd to poll, the remote
 *    end's eventfd to notify (one write(), no simhv round trip);
 *  - XenStore: xs_ring.c over the domain's ring page (domid > 0), or over
 *    xenstored's Unix socket for dom0, as real dom0 tools do.
 *
 * A process is one domain: open the platform after fork(), not before
 * (a connection shared by two processes outlives the one that dies).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "platform.h"
#include "sim.h"

struct sim_area {
    struct sim_area *next;
    void *addr;
    unsigned npages;
    int granter;                /* self for shared areas, peer for maps */
    uint32_t ref0;              /* ref of the first page */
    int shared;
    int notify;                 /* an unmap notify is registered */
};

struct sim_plat {
    char dir[PATH_MAX];
    int domid;
    int hv;                     /* simhv connection */
    pthread_mutex_t hv_lock;    /* one request at a time; guards areas */
    struct sim_area *areas;

    pthread_mutex_t xs_lock;
    struct ivcom_xs_client xs;
    struct sim_xs_sock xs_sock; /* dom0 */
    struct ivcom_xs_ring ring;  /* domU */
    void *ring_page;
    int evt_fifo;               /* xenstored -> us */
    int xsd_sock;               /* us -> xenstored */
    struct sockaddr_un xsd_addr;
    /* xs_watch_fd: an epoll set of the store's transport (something came)
     * and watch_efd (set while events wait in the client's queue, which
     * any call may fill while it waits for its own reply). */
    int watch_ep, watch_efd;
};

struct ivcom_evtchn {
    struct sim_plat *p;
    uint32_t port;              /* 0 = none yet */
    int fd;                     /* our eventfd */
    int rfd;                    /* the remote end's eventfd, or -1 */
};

static struct sim_plat *priv(struct ivcom_platform *plat)
{
    return plat->priv;
}

/* ---- simhv requests ----------------------------------------------------- */

/* Send one request and read its reply; fds received go to fds[]. */
static int hv_call_locked(struct sim_plat *p, const struct sim_req *rq,
                          size_t rqlen, struct sim_rsp *rsp, size_t rsplen,
                          int *fds, unsigned *nfds, unsigned max_fds)
{
    int tmp[SIM_MAX_FDS];
    unsigned ntmp = 0, i;
    int r;

    r = sim_send_msg(p->hv, rq, rqlen, NULL, 0);
    if (r < 0)
        return r;
    r = sim_recv_msg(p->hv, rsp, rsplen, tmp, &ntmp, SIM_MAX_FDS);
    if (r == 0)
        r = -EPIPE;             /* simhv went away */
    if (r < 0)
        return r;
    if ((size_t)r < sizeof(*rsp) || rsp->nfds != ntmp ||
        (rsp->rc == 0 && ntmp > max_fds)) {
        r = -EPROTO;
        goto out_close;
    }
    if (rsp->rc < 0) {
        r = rsp->rc;
        goto out_close;
    }
    for (i = 0; i < ntmp; i++)
        fds[i] = tmp[i];
    if (nfds)
        *nfds = ntmp;
    return r;

out_close:
    for (i = 0; i < ntmp; i++)
        close(tmp[i]);
    return r;
}

static int hv_call(struct sim_plat *p, const struct sim_req *rq,
                   size_t rqlen, struct sim_rsp *rsp, size_t rsplen,
                   int *fds, unsigned *nfds, unsigned max_fds)
{
    int r;

    pthread_mutex_lock(&p->hv_lock);
    r = hv_call_locked(p, rq, rqlen, rsp, rsplen, fds, nfds, max_fds);
    pthread_mutex_unlock(&p->hv_lock);
    return r;
}

static int hv_simple(struct sim_plat *p, uint32_t op, int domid,
                     uint32_t ref, uint32_t port, uint32_t offset)
{
    struct sim_req rq = { .op = op, .domid = domid, .ref = ref,
                          .port = port, .offset = offset };
    struct sim_rsp rsp;
    int r = hv_call(p, &rq, sizeof(rq), &rsp, sizeof(rsp), NULL, NULL, 0);

    return r < 0 ? r : 0;
}

static int hv_connect(struct sim_plat *p)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct sim_req rq = { .op = SIM_HELLO, .domid = p->domid };
    struct sim_rsp rsp;
    int r;

    if (sim_path(sa.sun_path, sizeof(sa.sun_path), p->dir, SIM_SOCK_HV) < 0)
        return -ENAMETOOLONG;
    p->hv = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (p->hv < 0)
        return -errno;
    if (connect(p->hv, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    r = hv_call_locked(p, &rq, sizeof(rq), &rsp, sizeof(rsp), NULL, NULL, 0);
    return r < 0 ? r : 0;
}

/* ---- XenStore transport for a domU: ring page + FIFO + datagram --------- */

static void ring_notify(void *arg)
{
    struct sim_plat *p = arg;
    uint32_t msg = (uint32_t)p->domid;

    /* Losing a kick to a full socket is fine: one is already queued. */
    (void)sendto(p->xsd_sock, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                 (struct sockaddr *)&p->xsd_addr, sizeof(p->xsd_addr));
}

static int ring_wait(void *arg, int timeout_ms)
{
    struct sim_plat *p = arg;
    struct pollfd pfd = { .fd = p->evt_fifo, .events = POLLIN };
    char buf[64];
    int r = poll(&pfd, 1, timeout_ms);

    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    while (read(p->evt_fifo, buf, sizeof(buf)) > 0)
        ;
    return 0;
}

static int xs_open_ring(struct sim_plat *p)
{
    char path[PATH_MAX];
    struct ivcom_xs_transport t;
    int fd;

    if (sim_path(path, sizeof(path), p->dir, "xs-ring-%d", p->domid) < 0)
        return -ENAMETOOLONG;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    p->ring_page = mmap(NULL, SIM_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
                        fd, 0);
    close(fd);
    if (p->ring_page == MAP_FAILED) {
        p->ring_page = NULL;
        return -errno;
    }
    if (sim_path(path, sizeof(path), p->dir, "xs-evt-%d", p->domid) < 0)
        return -ENAMETOOLONG;
    p->evt_fifo = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (p->evt_fifo < 0)
        return -errno;
    p->xsd_addr.sun_family = AF_UNIX;
    if (sim_path(p->xsd_addr.sun_path, sizeof(p->xsd_addr.sun_path), p->dir,
                 SIM_SOCK_XSEVT) < 0)
        return -ENAMETOOLONG;
    p->xsd_sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (p->xsd_sock < 0)
        return -errno;

    p->ring.intf = p->ring_page;
    p->ring.notify = ring_notify;
    p->ring.wait = ring_wait;
    p->ring.arg = p;
    ivcom_xs_ring_transport(&p->ring, &t);
    ivcom_xs_init(&p->xs, &t);
    return 0;
}

static int xs_open_sock(struct sim_plat *p)
{
    char path[PATH_MAX];
    struct ivcom_xs_transport t;
    int r;

    if (sim_path(path, sizeof(path), p->dir, SIM_SOCK_XS) < 0)
        return -ENAMETOOLONG;
    r = sim_xs_sock_connect(&p->xs_sock, path);
    if (r < 0)
        return r;
    sim_xs_sock_transport(&p->xs_sock, &t);
    ivcom_xs_init(&p->xs, &t);
    return 0;
}

/* ---- open / close ------------------------------------------------------- */

static void sim_close(struct ivcom_platform *plat)
{
    struct sim_plat *p = priv(plat);

    if (!p)
        return;
    while (p->areas) {
        struct sim_area *a = p->areas;
        p->areas = a->next;
        munmap(a->addr, (size_t)a->npages * SIM_PAGE);
        free(a);
    }
    if (p->hv >= 0)
        close(p->hv);           /* simhv fires our unmap notifies */
    sim_xs_sock_close(&p->xs_sock);
    if (p->ring_page)
        munmap(p->ring_page, SIM_PAGE);
    if (p->evt_fifo >= 0)
        close(p->evt_fifo);
    if (p->xsd_sock >= 0)
        close(p->xsd_sock);
    if (p->watch_ep >= 0)
        close(p->watch_ep);
    if (p->watch_efd >= 0)
        close(p->watch_efd);
    pthread_mutex_destroy(&p->hv_lock);
    pthread_mutex_destroy(&p->xs_lock);
    free(p);
    plat->priv = NULL;
}

static int sim_open(struct ivcom_platform *plat)
{
    const char *dir = getenv("IVCOM_SIM_DIR");
    const char *dom = getenv("IVCOM_SIM_DOMID");
    struct sim_plat *p;
    long domid = 0;
    int r;

    if (!dir || !*dir)
        return -ENOENT;         /* no sim: IVCOM_SIM_DIR is not set */
    if (dom && *dom) {
        char *end;
        errno = 0;
        domid = strtol(dom, &end, 10);
        if (errno || *end || domid < 0 || domid > SIM_MAX_DOMID)
            return -EINVAL;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    if (strlen(dir) >= sizeof(p->dir)) {
        free(p);
        return -ENAMETOOLONG;
    }
    strcpy(p->dir, dir);
    p->domid = (int)domid;
    p->hv = p->evt_fifo = p->xsd_sock = p->xs_sock.fd = -1;
    p->watch_ep = p->watch_efd = -1;
    pthread_mutex_init(&p->hv_lock, NULL);
    pthread_mutex_init(&p->xs_lock, NULL);
    plat->priv = p;
    plat->domid = p->domid;

    r = hv_connect(p);
    if (r == 0)
        r = p->domid ? xs_open_ring(p) : xs_open_sock(p);
    if (r < 0)
        sim_close(plat);
    return r;
}

/* ---- grant tables ------------------------------------------------------- */

static struct sim_area *area_find(struct sim_plat *p, void *addr, int shared)
{
    struct sim_area *a;

    for (a = p->areas; a; a = a->next)
        if (a->addr == addr && a->shared == shared)
            return a;
    return NULL;
}

static void area_add(struct sim_plat *p, struct sim_area *a)
{
    pthread_mutex_lock(&p->hv_lock);
    a->next = p->areas;
    p->areas = a;
    pthread_mutex_unlock(&p->hv_lock);
}

/* Take an area out of the list (so nobody else can unmap it twice). */
static struct sim_area *area_take(struct sim_plat *p, void *addr,
                                  unsigned npages, int shared)
{
    struct sim_area **pp, *a = NULL;

    pthread_mutex_lock(&p->hv_lock);
    for (pp = &p->areas; *pp; pp = &(*pp)->next) {
        if ((*pp)->addr == addr && (*pp)->shared == shared &&
            (*pp)->npages == npages) {
            a = *pp;
            *pp = a->next;
            break;
        }
    }
    pthread_mutex_unlock(&p->hv_lock);
    return a;
}

static int sim_share(struct ivcom_platform *plat, int peer, unsigned npages,
                     void **addr, uint32_t *refs)
{
    struct sim_plat *p = priv(plat);
    struct sim_req rq = { .op = SIM_GRANT, .domid = peer, .npages = npages };
    uint8_t buf[SIM_RSP_MAX];
    struct sim_rsp *rsp = (struct sim_rsp *)buf;
    struct sim_area *a;
    unsigned nfds;
    int fd, r;
    void *m;

    if (npages == 0 || npages > SIM_MAX_PAGES)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    r = hv_call(p, &rq, sizeof(rq), rsp, sizeof(buf), &fd, &nfds, 1);
    if (r < 0)
        goto out_free;
    if (nfds != 1 || rsp->npages != npages ||
        (size_t)r < sizeof(*rsp) + 4u * npages) {
        r = -EPROTO;
        goto out_close;
    }
    m = mmap(NULL, (size_t)npages * SIM_PAGE, PROT_READ | PROT_WRITE,
             MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        r = -errno;
        goto out_ungrant;
    }
    close(fd);
    memcpy(refs, rsp->data, 4u * npages);
    a->addr = m;
    a->npages = npages;
    a->granter = p->domid;
    a->ref0 = refs[0];
    a->shared = 1;
    area_add(p, a);
    *addr = m;
    return 0;

out_ungrant:
    hv_simple(p, SIM_UNGRANT, 0, rsp->data[0], 0, 0);
out_close:
    close(fd);
out_free:
    free(a);
    return r;
}

static void area_release(struct sim_plat *p, struct sim_area *a)
{
    if (a->notify)
        hv_simple(p, SIM_NOTIFY_FIRE, a->granter, a->ref0, 0, 0);
    munmap(a->addr, (size_t)a->npages * SIM_PAGE);
}

static int sim_unshare(struct ivcom_platform *plat, void *addr,
                       unsigned npages)
{
    struct sim_plat *p = priv(plat);
    struct sim_area *a = area_take(p, addr, npages, 1);

    if (!a)
        return -EINVAL;
    area_release(p, a);
    hv_simple(p, SIM_UNGRANT, 0, a->ref0, 0, 0);
    free(a);
    return 0;
}

static int sim_map(struct ivcom_platform *plat, int peer, unsigned npages,
                   const uint32_t *refs, int writable, void **addr)
{
    struct sim_plat *p = priv(plat);
    uint8_t qbuf[SIM_REQ_MAX], buf[SIM_RSP_MAX];
    struct sim_req *rq = (struct sim_req *)qbuf;
    struct sim_rsp *rsp = (struct sim_rsp *)buf;
    const struct sim_page *pg = (const struct sim_page *)rsp->data;
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    int fds[SIM_MAX_FDS];
    unsigned nfds = 0, i, run;
    struct sim_area *a;
    size_t len = (size_t)npages * SIM_PAGE;
    uint8_t *base;
    int r;

    if (npages == 0 || npages > SIM_MAX_PAGES)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    memset(rq, 0, sizeof(*rq));
    rq->op = SIM_MAP;
    rq->domid = peer;
    rq->npages = npages;
    memcpy(rq->refs, refs, 4u * npages);
    r = hv_call(p, rq, sizeof(*rq) + 4u * npages, rsp, sizeof(buf), fds,
                &nfds, SIM_MAX_FDS);
    if (r < 0)
        goto out_free;
    if (rsp->npages != npages || (size_t)r < sizeof(*rsp) + 8u * npages) {
        r = -EPROTO;
        goto out_close;
    }
    for (i = 0; i < npages; i++) {
        if (pg[i].fd_index >= nfds) {
            r = -EPROTO;
            goto out_close;
        }
    }

    /* Reserve the whole range, then place runs of consecutive pages. */
    base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) {
        r = -errno;
        goto out_close;
    }
    for (i = 0; i < npages; i += run) {
        for (run = 1; i + run < npages &&
             pg[i + run].fd_index == pg[i].fd_index &&
             pg[i + run].pgoff == pg[i].pgoff + run; run++)
            ;
        if (mmap(base + (size_t)i * SIM_PAGE, (size_t)run * SIM_PAGE, prot,
                 MAP_SHARED | MAP_FIXED, fds[pg[i].fd_index],
                 (off_t)pg[i].pgoff * SIM_PAGE) == MAP_FAILED) {
            r = -errno;
            munmap(base, len);
            goto out_close;
        }
    }
    for (i = 0; i < nfds; i++)
        close(fds[i]);
    a->addr = base;
    a->npages = npages;
    a->granter = peer;
    a->ref0 = refs[0];
    area_add(p, a);
    *addr = base;
    return 0;

out_close:
    for (i = 0; i < nfds; i++)
        close(fds[i]);
out_free:
    free(a);
    return r;
}

static int sim_unmap(struct ivcom_platform *plat, void *addr, unsigned npages)
{
    struct sim_plat *p = priv(plat);
    struct sim_area *a = area_take(p, addr, npages, 0);

    if (!a)
        return -EINVAL;
    area_release(p, a);
    free(a);
    return 0;
}

static int sim_unmap_notify(struct ivcom_platform *plat, void *addr,
                            uint32_t offset, uint32_t port)
{
    struct sim_plat *p = priv(plat);
    struct sim_area *a;
    int granter = 0, shared = 0, r;
    uint32_t ref = 0;

    if (offset >= SIM_PAGE)
        return -EINVAL;
    pthread_mutex_lock(&p->hv_lock);
    a = area_find(p, addr, 1);
    if (!a)
        a = area_find(p, addr, 0);
    if (a) {
        granter = a->granter;
        ref = a->ref0;
        shared = a->shared;
    }
    pthread_mutex_unlock(&p->hv_lock);
    if (!a)
        return -EINVAL;
    r = hv_simple(p, SIM_NOTIFY_REG, granter, ref, port, offset);
    if (r == 0) {
        pthread_mutex_lock(&p->hv_lock);
        a = area_find(p, addr, shared);
        if (a)
            a->notify = 1;
        pthread_mutex_unlock(&p->hv_lock);
    }
    return r;
}

/* ---- event channels ----------------------------------------------------- */

static int sim_evtchn_open(struct ivcom_platform *plat,
                           struct ivcom_evtchn **out)
{
    struct ivcom_evtchn *ev = calloc(1, sizeof(*ev));

    if (!ev)
        return -ENOMEM;
    ev->p = priv(plat);
    ev->fd = ev->rfd = -1;
    *out = ev;
    return 0;
}

static void evt_reset(struct ivcom_evtchn *ev)
{
    if (ev->fd >= 0)
        close(ev->fd);
    if (ev->rfd >= 0)
        close(ev->rfd);
    ev->fd = ev->rfd = -1;
    ev->port = 0;
}

static int sim_evtchn_unbind(struct ivcom_evtchn *ev, uint32_t port)
{
    int r;

    if (port == 0 || port != ev->port)
        return -EINVAL;
    r = hv_simple(ev->p, SIM_EVT_UNBIND, 0, 0, port, 0);
    evt_reset(ev);
    return r;
}

static void sim_evtchn_close(struct ivcom_evtchn *ev)
{
    if (!ev)
        return;
    if (ev->port)
        sim_evtchn_unbind(ev, ev->port);
    free(ev);
}

static int sim_evtchn_alloc_unbound(struct ivcom_evtchn *ev, int peer,
                                    uint32_t *port)
{
    struct sim_req rq = { .op = SIM_EVT_ALLOC, .domid = peer };
    struct sim_rsp rsp;
    unsigned nfds = 0;
    int fd, r;

    if (ev->port)
        return -EBUSY;          /* one port per handle */
    r = hv_call(ev->p, &rq, sizeof(rq), &rsp, sizeof(rsp), &fd, &nfds, 1);
    if (r < 0)
        return r;
    if (nfds != 1)
        return -EPROTO;
    ev->fd = fd;
    ev->port = rsp.port;
    *port = rsp.port;
    return 0;
}

static int sim_evtchn_bind(struct ivcom_evtchn *ev, int peer,
                           uint32_t remote_port, uint32_t *port)
{
    struct sim_req rq = { .op = SIM_EVT_BIND, .domid = peer,
                          .port = remote_port };
    struct sim_rsp rsp;
    unsigned nfds = 0;
    int fds[2], r;

    if (ev->port)
        return -EBUSY;
    r = hv_call(ev->p, &rq, sizeof(rq), &rsp, sizeof(rsp), fds, &nfds, 2);
    if (r < 0)
        return r;
    if (nfds != 2) {
        while (nfds)
            close(fds[--nfds]);
        return -EPROTO;
    }
    ev->fd = fds[0];
    ev->rfd = fds[1];
    ev->port = rsp.port;
    *port = rsp.port;
    return 0;
}

static int sim_evtchn_notify(struct ivcom_evtchn *ev, uint32_t port)
{
    static const uint64_t one = 1;
    int rfd = __atomic_load_n(&ev->rfd, __ATOMIC_ACQUIRE);

    if (port == 0 || port != ev->port)
        return -EINVAL;
    if (rfd < 0) {
        /* The allocating side learns its remote end once it is bound. */
        struct sim_req rq = { .op = SIM_EVT_REMOTE, .port = port };
        struct sim_rsp rsp;
        unsigned nfds = 0;
        int r;

        r = hv_call(ev->p, &rq, sizeof(rq), &rsp, sizeof(rsp), &rfd, &nfds, 1);
        if (r == -ENOTCONN)
            return 0;           /* nobody bound yet: the event is lost */
        if (r < 0)
            return r;
        if (nfds != 1)
            return -EPROTO;
        {
            int expected = -1;
            if (!__atomic_compare_exchange_n(&ev->rfd, &expected, rfd, 0,
                                             __ATOMIC_ACQ_REL,
                                             __ATOMIC_ACQUIRE)) {
                close(rfd);
                rfd = expected;
            }
        }
    }
    if (write(rfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return -errno;
    return 0;
}

static int sim_evtchn_ack(struct ivcom_evtchn *ev)
{
    uint64_t v;

    if (ev->fd < 0)
        return -ENOTCONN;
    return read(ev->fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 1 : 0;
}

static int sim_evtchn_wait(struct ivcom_evtchn *ev, int timeout_ms)
{
    struct pollfd pfd = { .fd = ev->fd, .events = POLLIN };
    int r;

    if (ev->fd < 0)
        return -ENOTCONN;
    r = poll(&pfd, 1, timeout_ms);
    if (r < 0)
        return -errno;
    if (r == 0)
        return -ETIMEDOUT;
    sim_evtchn_ack(ev);
    return 0;
}

static int sim_evtchn_fd(struct ivcom_evtchn *ev)
{
    return ev->fd >= 0 ? ev->fd : -EOPNOTSUPP;
}

/* ---- XenStore ----------------------------------------------------------- */

#define XS_CALL(plat, expr)                                     \
    ({                                                          \
        struct sim_plat *p_ = priv(plat);                       \
        int r_;                                                 \
        pthread_mutex_lock(&p_->xs_lock);                       \
        r_ = (expr);                                            \
        /* A call stops reading at its own reply, and the kick  \
         * for an event right behind it may be consumed already: \
         * read what is there, so the fd cannot miss it. */      \
        if (p_->watch_efd >= 0) {                               \
            (void)ivcom_xs_wait_event(&p_->xs, 0);              \
            if (p_->xs.ev_count)                                \
                (void)eventfd_write(p_->watch_efd, 1);          \
        }                                                       \
        pthread_mutex_unlock(&p_->xs_lock);                     \
        r_;                                                     \
    })

static int sim_xs_read(struct ivcom_platform *plat, uint32_t tx,
                       const char *path, char *buf, size_t len)
{
    int r = XS_CALL(plat, ivcom_xs_read(&p_->xs, tx, path, buf, len));
    return r < 0 ? r : 0;
}

static int sim_xs_write(struct ivcom_platform *plat, uint32_t tx,
                        const char *path, const char *value)
{
    return XS_CALL(plat, ivcom_xs_write(&p_->xs, tx, path, value,
                                        strlen(value)));
}

static int sim_xs_rm(struct ivcom_platform *plat, uint32_t tx,
                     const char *path)
{
    return XS_CALL(plat, ivcom_xs_rm(&p_->xs, tx, path));
}

static int sim_xs_set_perms(struct ivcom_platform *plat, uint32_t tx,
                            const char *path,
                            const struct ivcom_xs_perm *perms,
                            unsigned nperms)
{
    return XS_CALL(plat, ivcom_xs_set_perms(&p_->xs, tx, path, perms,
                                            nperms));
}

static int sim_xs_tx_start(struct ivcom_platform *plat, uint32_t *tx)
{
    return XS_CALL(plat, ivcom_xs_tx_start(&p_->xs, tx));
}

static int sim_xs_tx_end(struct ivcom_platform *plat, uint32_t tx, int abort)
{
    return XS_CALL(plat, ivcom_xs_tx_end(&p_->xs, tx, abort));
}

static int sim_xs_watch(struct ivcom_platform *plat, const char *path,
                        const char *token)
{
    return XS_CALL(plat, ivcom_xs_watch(&p_->xs, path, token));
}

static int sim_xs_unwatch(struct ivcom_platform *plat, const char *path,
                          const char *token)
{
    return XS_CALL(plat, ivcom_xs_unwatch(&p_->xs, path, token));
}

static int xs_wait_drain(struct sim_plat *p, int timeout_ms)
{
    struct ivcom_xs_event ev;
    eventfd_t v;
    char buf[64];
    int r;

    /* The watch fd polls readable until both its members are drained:
     * first the kicks (what they announced is read below), then, once
     * the queue is empty, the queued-events flag. */
    if (p->watch_ep >= 0 && p->evt_fifo >= 0)
        while (read(p->evt_fifo, buf, sizeof(buf)) > 0)
            ;
    r = ivcom_xs_wait_event(&p->xs, timeout_ms);
    if (r == 0)
        while (ivcom_xs_next_event(&p->xs, &ev) == 1)
            ;
    if (p->watch_efd >= 0)
        (void)eventfd_read(p->watch_efd, &v);
    return r;
}

static int sim_xs_wait_watch(struct ivcom_platform *plat, int timeout_ms)
{
    struct sim_plat *p = priv(plat);
    int r;

    pthread_mutex_lock(&p->xs_lock);
    r = xs_wait_drain(p, timeout_ms);
    pthread_mutex_unlock(&p->xs_lock);
    return r;
}

static int sim_xs_watch_fd(struct ivcom_platform *plat)
{
    struct sim_plat *p = priv(plat);
    struct epoll_event e = { .events = EPOLLIN };
    int r = 0;

    pthread_mutex_lock(&p->xs_lock);
    if (p->watch_ep < 0) {
        int transport = p->evt_fifo >= 0 ? p->evt_fifo : p->xs_sock.fd;

        p->watch_efd = eventfd(p->xs.ev_count ? 1 : 0, EFD_NONBLOCK | EFD_CLOEXEC);
        p->watch_ep = epoll_create1(EPOLL_CLOEXEC);
        if (p->watch_efd < 0 || p->watch_ep < 0 ||
            epoll_ctl(p->watch_ep, EPOLL_CTL_ADD, p->watch_efd, &e) < 0 ||
            epoll_ctl(p->watch_ep, EPOLL_CTL_ADD, transport, &e) < 0) {
            r = -errno;
            if (p->watch_ep >= 0)
                close(p->watch_ep);
            if (p->watch_efd >= 0)
                close(p->watch_efd);
            p->watch_ep = p->watch_efd = -1;
        }
    }
    pthread_mutex_unlock(&p->xs_lock);
    return r ? r : p->watch_ep;
}

static int count_names(int bytes, const char *buf)
{
    int i, n = 0;

    for (i = 0; i < bytes; i++)
        n += buf[i] == '\0';
    return bytes < 0 ? bytes : n;
}

static int sim_xs_directory(struct ivcom_platform *plat, uint32_t tx, const char *path,
                            char *buf, size_t len)
{
    int r = XS_CALL(plat, ivcom_xs_directory(&p_->xs, tx, path, buf, len));

    return count_names(r, buf);
}

static int sim_xs_get_perms(struct ivcom_platform *plat, uint32_t tx, const char *path,
                            struct ivcom_xs_perm *perms, unsigned max)
{
    return XS_CALL(plat, ivcom_xs_get_perms(&p_->xs, tx, path, perms, max));
}

int ivcom_sim_xs_get_perms(struct ivcom_platform *plat, const char *path,
                           struct ivcom_xs_perm *perms, unsigned max)
{
    return XS_CALL(plat, ivcom_xs_get_perms(&p_->xs, 0, path, perms, max));
}

const struct ivcom_platform_ops ivcom_plat_sim_ops = {
    .name = "sim",
    .yield_in_spin = 1,
    .open = sim_open,
    .close = sim_close,
    .share = sim_share,
    .unshare = sim_unshare,
    .map = sim_map,
    .unmap = sim_unmap,
    .unmap_notify = sim_unmap_notify,
    .evtchn_open = sim_evtchn_open,
    .evtchn_close = sim_evtchn_close,
    .evtchn_alloc_unbound = sim_evtchn_alloc_unbound,
    .evtchn_bind = sim_evtchn_bind,
    .evtchn_unbind = sim_evtchn_unbind,
    .evtchn_notify = sim_evtchn_notify,
    .evtchn_wait = sim_evtchn_wait,
    .evtchn_ack = sim_evtchn_ack,
    .evtchn_fd = sim_evtchn_fd,
    .xs_read = sim_xs_read,
    .xs_write = sim_xs_write,
    .xs_rm = sim_xs_rm,
    .xs_set_perms = sim_xs_set_perms,
    .xs_tx_start = sim_xs_tx_start,
    .xs_tx_end = sim_xs_tx_end,
    .xs_watch = sim_xs_watch,
    .xs_unwatch = sim_xs_unwatch,
    .xs_wait_watch = sim_xs_wait_watch,
    .xs_watch_fd = sim_xs_watch_fd,
    .xs_directory = sim_xs_directory,
    .xs_get_perms = sim_xs_get_perms,
};
