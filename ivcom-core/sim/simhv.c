/* SPDX-License-Identifier: MIT */
/*
 * simhv: the "hypervisor + toolstack" of the sim platform.
 *
 *   ivcom-simhv -d DIR [-x XENSTORED] [-s SHIM] [-v]
 *
 * Starts the real xenstored (under the xsshim LD_PRELOAD) with its files
 * in DIR, then serves domains on DIR/simhv.sock.  A process becomes a
 * domain by connecting and saying its domid; the domain lives while it
 * has at least one connection.  simhv keeps:
 *  - the grant table: each GRANT is one memfd named
 *    "ivcom-grant:<granter>:<first ref>:<npages>", one ref per page;
 *    MAP checks every ref was granted by the peer to the caller;
 *  - unmap notifies: cleared byte + event when the connection goes away;
 *  - event channels: per-domain ports, one eventfd each; binding hands
 *    out the remote eventfd so a notify is a single write();
 *  - toolstack duties: XS_INTRODUCE + /local/domain/<N> on a domain's
 *    first connection, XS_RELEASE + rm when its last one closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define XENSTORED_DEFAULT "/usr/lib/xen-4.17/bin/xenstored"
#define FIRST_REF   8u          /* Xen reserves refs 0..7 */

struct notify {
    struct notify *next;
    int memfd;                  /* own dup: survives an ungrant */
    off_t pos;
    int granter;
    uint32_t ref;
    uint32_t port;
};

struct conn {
    struct conn *next;
    int fd;
    int domid;                  /* -1 until HELLO */
    struct notify *notifies;
};

struct grant {
    struct grant *next;
    int granter, grantee;
    uint32_t ref0, npages;
    int memfd;
    struct conn *owner;
};

enum { EVT_UNBOUND = 1, EVT_BOUND };

struct port {
    struct port *next;
    int domid;
    uint32_t port;
    int state;
    int peer;                   /* allowed / bound remote domain */
    uint32_t rport;
    int efd;
    struct conn *owner;
};

struct dom {
    struct dom *next;
    int domid;
    int nconn;
    uint32_t next_ref;
    uint32_t next_port;
};

static struct {
    const char *dir;
    int verbose;
    int listen_fd;
    int sig_fd;
    pid_t xsd_pid;
    struct sim_xs_sock xs_sock;
    struct ivcom_xs_client xs;
    struct conn *conns;
    struct grant *grants;
    struct port *ports;
    struct dom *doms;
} hv;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;

    if (!hv.verbose)
        return;
    va_start(ap, fmt);
    fprintf(stderr, "simhv: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "simhv: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (hv.xsd_pid > 0)
        kill(hv.xsd_pid, SIGTERM);
    exit(1);
}

static void path_or_die(char *buf, size_t len, const char *fmt, unsigned v)
{
    if (sim_path(buf, len, hv.dir, fmt, v) < 0)
        die("sim dir path too long: %s", hv.dir);
}

static void name_or_die(char *buf, size_t len, const char *name)
{
    if (sim_path(buf, len, hv.dir, "%s", name) < 0)
        die("sim dir path too long: %s", hv.dir);
}

/* ---- domains and the toolstack ------------------------------------------ */

static struct dom *dom_get(int domid)
{
    struct dom *d;

    for (d = hv.doms; d; d = d->next)
        if (d->domid == domid)
            return d;
    d = calloc(1, sizeof(*d));
    if (!d)
        die("out of memory");
    d->domid = domid;
    d->next_ref = FIRST_REF;
    d->next_port = 1;
    d->next = hv.doms;
    hv.doms = d;
    return d;
}

static int write_file(const char *path, const void *buf, size_t len,
                      size_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int err = 0;

    if (fd < 0)
        return -errno;
    if ((len && write(fd, buf, len) != (ssize_t)len) ||
        (size && ftruncate(fd, (off_t)size) < 0))
        err = -EIO;
    close(fd);
    return err;
}

static int domain_introduce(int domid)
{
    char path[PATH_MAX], node[64];
    struct ivcom_xs_perm perm = { (uint32_t)domid, IVCOM_XS_PERM_NONE };
    int r;

    path_or_die(path, sizeof(path), "xs-ring-%u", (unsigned)domid);
    r = write_file(path, NULL, 0, SIM_PAGE);
    if (r < 0)
        return r;
    path_or_die(path, sizeof(path), "xs-evt-%u", (unsigned)domid);
    if (mkfifo(path, 0600) < 0 && errno != EEXIST)
        return -errno;
    path_or_die(path, sizeof(path), "dom-%u", (unsigned)domid);
    r = write_file(path, NULL, 0, 0);
    if (r < 0)
        return r;

    r = ivcom_xs_introduce(&hv.xs, (uint32_t)domid, 0, SIM_XS_PORT);
    if (r < 0)
        return r;
    snprintf(node, sizeof(node), "/local/domain/%d", domid);
    r = ivcom_xs_mkdir(&hv.xs, 0, node);
    if (r == 0)
        r = ivcom_xs_set_perms(&hv.xs, 0, node, &perm, 1);
    logmsg("domain %d introduced (%d)", domid, r);
    return r;
}

static void domain_release(int domid)
{
    char path[PATH_MAX], node[64];
    int r;

    path_or_die(path, sizeof(path), "dom-%u", (unsigned)domid);
    unlink(path);
    snprintf(node, sizeof(node), "/local/domain/%d", domid);
    r = ivcom_xs_release(&hv.xs, (uint32_t)domid);
    ivcom_xs_rm(&hv.xs, 0, node);
    logmsg("domain %d released (%d)", domid, r);
    if (r < 0 && hv.xs.broken)
        die("lost xenstored: %s", strerror(-r));
}

/* ---- event channels ----------------------------------------------------- */

static struct port *port_find(int domid, uint32_t port)
{
    struct port *p;

    for (p = hv.ports; p; p = p->next)
        if (p->domid == domid && p->port == port)
            return p;
    return NULL;
}

static void port_kick(struct port *p)
{
    uint64_t one = 1;

    if (p && write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        logmsg("eventfd write: %s", strerror(errno));
}

/* Deliver an event sent on local port (domid, port) to its remote end. */
static void port_send(int domid, uint32_t port)
{
    struct port *p = port_find(domid, port);

    if (p && p->state == EVT_BOUND)
        port_kick(port_find(p->peer, p->rport));
}

static void port_close(struct port *p)
{
    struct port **pp;

    if (p->state == EVT_BOUND) {
        struct port *r = port_find(p->peer, p->rport);
        if (r) {
            /* The remote end falls back to unbound and is woken. */
            r->state = EVT_UNBOUND;
            port_kick(r);
        }
    }
    for (pp = &hv.ports; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    close(p->efd);
    free(p);
}

static struct port *port_new(struct conn *c, int peer)
{
    struct port *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        free(p);
        return NULL;
    }
    p->domid = c->domid;
    p->port = dom_get(c->domid)->next_port++;
    p->state = EVT_UNBOUND;
    p->peer = peer;
    p->owner = c;
    p->next = hv.ports;
    hv.ports = p;
    return p;
}

/* ---- grants ------------------------------------------------------------- */

static struct grant *grant_find(int granter, uint32_t ref)
{
    struct grant *g;

    for (g = hv.grants; g; g = g->next)
        if (g->granter == granter && ref >= g->ref0 &&
            ref - g->ref0 < g->npages)
            return g;
    return NULL;
}

static void grant_free(struct grant *g)
{
    struct grant **pp;

    for (pp = &hv.grants; *pp; pp = &(*pp)->next) {
        if (*pp == g) {
            *pp = g->next;
            break;
        }
    }
    close(g->memfd);
    free(g);
}

static void notify_fire(struct conn *c, struct notify *n)
{
    static const char zero;

    if (pwrite(n->memfd, &zero, 1, n->pos) != 1)
        logmsg("unmap notify clear: %s", strerror(errno));
    port_send(c->domid, n->port);
    close(n->memfd);
    free(n);
}

/* ---- requests ----------------------------------------------------------- */

static int do_hello(struct conn *c, const struct sim_req *rq)
{
    struct dom *d;
    int r = 0;

    if (c->domid >= 0)
        return -EISCONN;
    if (rq->domid < 0 || rq->domid > SIM_MAX_DOMID)
        return -EINVAL;
    d = dom_get(rq->domid);
    if (d->nconn == 0 && rq->domid > 0) {
        r = domain_introduce(rq->domid);
        if (r < 0)
            return r;
    }
    d->nconn++;
    c->domid = rq->domid;
    return 0;
}

static int reply(struct conn *c, struct sim_rsp *rsp, size_t len,
                 const int *fds, unsigned nfds)
{
    return sim_send_msg(c->fd, rsp, len, fds, nfds);
}

static int do_grant(struct conn *c, const struct sim_req *rq)
{
    uint8_t buf[SIM_RSP_MAX];
    struct sim_rsp *rsp = (struct sim_rsp *)buf;
    struct dom *d = dom_get(c->domid);
    struct grant *g;
    char name[96];
    uint32_t i;

    if (rq->npages == 0 || rq->npages > SIM_MAX_PAGES ||
        rq->domid < 0 || rq->domid > SIM_MAX_DOMID)
        return -EINVAL;
    if (d->next_ref > UINT32_MAX - rq->npages)
        return -ENOSPC;
    g = calloc(1, sizeof(*g));
    if (!g)
        return -ENOMEM;
    g->granter = c->domid;
    g->grantee = rq->domid;
    g->ref0 = d->next_ref;
    g->npages = rq->npages;
    g->owner = c;
    snprintf(name, sizeof(name), "ivcom-grant:%d:%u:%u", g->granter,
             g->ref0, g->npages);
    g->memfd = memfd_create(name, MFD_CLOEXEC);
    if (g->memfd < 0 ||
        ftruncate(g->memfd, (off_t)g->npages * SIM_PAGE) < 0) {
        int err = -errno;
        if (g->memfd >= 0)
            close(g->memfd);
        free(g);
        return err;
    }
    d->next_ref += g->npages;
    g->next = hv.grants;
    hv.grants = g;

    memset(rsp, 0, sizeof(*rsp));
    rsp->npages = g->npages;
    rsp->nfds = 1;
    for (i = 0; i < g->npages; i++)
        rsp->data[i] = g->ref0 + i;
    logmsg("dom %d grants %u pages to %d: refs %u..", g->granter,
           g->npages, g->grantee, g->ref0);
    return reply(c, rsp, sizeof(*rsp) + 4u * g->npages, &g->memfd, 1) ?: 1;
}

static int do_ungrant(struct conn *c, const struct sim_req *rq)
{
    struct grant *g = grant_find(c->domid, rq->ref);

    if (!g || g->ref0 != rq->ref || g->owner != c)
        return -ENOENT;
    grant_free(g);
    return 0;
}

static int do_map(struct conn *c, const struct sim_req *rq, size_t len)
{
    uint8_t buf[SIM_RSP_MAX];
    struct sim_rsp *rsp = (struct sim_rsp *)buf;
    struct sim_page *pg = (struct sim_page *)rsp->data;
    int fds[SIM_MAX_FDS];
    unsigned nfds = 0, k;
    uint32_t i;

    if (rq->npages == 0 || rq->npages > SIM_MAX_PAGES ||
        len < sizeof(*rq) + 4u * rq->npages)
        return -EINVAL;
    memset(rsp, 0, sizeof(*rsp));
    for (i = 0; i < rq->npages; i++) {
        struct grant *g = grant_find(rq->domid, rq->refs[i]);

        /* Every ref must be the peer's, granted to us: else nothing. */
        if (!g || g->grantee != c->domid) {
            logmsg("dom %d may not map ref %u of dom %d", c->domid,
                   rq->refs[i], rq->domid);
            return -EPERM;
        }
        for (k = 0; k < nfds && fds[k] != g->memfd; k++)
            ;
        if (k == nfds) {
            if (nfds == SIM_MAX_FDS)
                return -E2BIG;
            fds[nfds++] = g->memfd;
        }
        pg[i].fd_index = k;
        pg[i].pgoff = rq->refs[i] - g->ref0;
    }
    rsp->npages = rq->npages;
    rsp->nfds = nfds;
    return reply(c, rsp, sizeof(*rsp) + sizeof(*pg) * rq->npages, fds,
                 nfds) ?: 1;
}

static int do_notify_reg(struct conn *c, const struct sim_req *rq)
{
    struct grant *g = grant_find(rq->domid, rq->ref);
    struct notify *n;

    if (!g || rq->offset >= SIM_PAGE)
        return -EINVAL;
    if (g->granter != c->domid && g->grantee != c->domid)
        return -EPERM;
    n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->memfd = fcntl(g->memfd, F_DUPFD_CLOEXEC, 0);
    if (n->memfd < 0) {
        free(n);
        return -errno;
    }
    n->pos = (off_t)(rq->ref - g->ref0) * SIM_PAGE + rq->offset;
    n->granter = rq->domid;
    n->ref = rq->ref;
    n->port = rq->port;
    n->next = c->notifies;
    c->notifies = n;
    return 0;
}

static int do_notify_fire(struct conn *c, const struct sim_req *rq)
{
    struct notify **pp;

    for (pp = &c->notifies; *pp; pp = &(*pp)->next) {
        struct notify *n = *pp;
        if (n->granter == rq->domid && n->ref == rq->ref) {
            *pp = n->next;
            notify_fire(c, n);
            return 0;
        }
    }
    return -ENOENT;
}

static int do_evt_alloc(struct conn *c, const struct sim_req *rq)
{
    struct sim_rsp rsp = { 0 };
    struct port *p;

    if (rq->domid < 0 || rq->domid > SIM_MAX_DOMID)
        return -EINVAL;
    p = port_new(c, rq->domid);
    if (!p)
        return -ENOMEM;
    rsp.port = p->port;
    rsp.nfds = 1;
    return reply(c, &rsp, sizeof(rsp), &p->efd, 1) ?: 1;
}

static int do_evt_bind(struct conn *c, const struct sim_req *rq)
{
    struct port *r = port_find(rq->domid, rq->port), *p;
    struct sim_rsp rsp = { 0 };
    int fds[2];

    if (!r || r->state != EVT_UNBOUND || r->peer != c->domid)
        return -EINVAL;
    p = port_new(c, rq->domid);
    if (!p)
        return -ENOMEM;
    p->state = r->state = EVT_BOUND;
    p->rport = r->port;
    r->rport = p->port;
    rsp.port = p->port;
    rsp.nfds = 2;
    fds[0] = p->efd;
    fds[1] = r->efd;
    return reply(c, &rsp, sizeof(rsp), fds, 2) ?: 1;
}

static int do_evt_unbind(struct conn *c, const struct sim_req *rq)
{
    struct port *p = port_find(c->domid, rq->port);

    if (!p || p->owner != c)
        return -EINVAL;
    port_close(p);
    return 0;
}

static int do_evt_remote(struct conn *c, const struct sim_req *rq)
{
    struct port *p = port_find(c->domid, rq->port), *r;
    struct sim_rsp rsp = { 0 };

    if (!p || p->owner != c)
        return -EINVAL;
    r = p->state == EVT_BOUND ? port_find(p->peer, p->rport) : NULL;
    if (!r)
        return -ENOTCONN;
    rsp.nfds = 1;
    return reply(c, &rsp, sizeof(rsp), &r->efd, 1) ?: 1;
}

static void conn_close(struct conn *c)
{
    struct conn **pp;
    struct port *p, *pn;
    struct grant *g, *gn;

    /* Unmap notifies first, while the ports still deliver. */
    while (c->notifies) {
        struct notify *n = c->notifies;
        c->notifies = n->next;
        notify_fire(c, n);
    }
    for (p = hv.ports; p; p = pn) {
        pn = p->next;
        if (p->owner == c) {
            port_close(p);
            pn = hv.ports;      /* the list changed: rescan */
        }
    }
    for (g = hv.grants; g; g = gn) {
        gn = g->next;
        if (g->owner == c)
            grant_free(g);
    }
    if (c->domid >= 0) {
        struct dom *d = dom_get(c->domid);
        if (--d->nconn == 0 && c->domid > 0)
            domain_release(c->domid);
    }
    for (pp = &hv.conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    close(c->fd);
    free(c);
}

/* Returns 0 to keep the connection, -1 to drop it. */
static int conn_handle(struct conn *c)
{
    uint8_t buf[SIM_REQ_MAX];
    const struct sim_req *rq = (const struct sim_req *)buf;
    int fds[SIM_MAX_FDS];
    unsigned nfds;
    int n, r;

    n = sim_recv_msg(c->fd, buf, sizeof(buf), fds, &nfds, SIM_MAX_FDS);
    while (nfds)
        close(fds[--nfds]);     /* domains never send us descriptors */
    if (n <= 0)
        return -1;
    if ((size_t)n < sizeof(*rq))
        return -1;
    if (c->domid < 0 && rq->op != SIM_HELLO)
        return -1;

    switch (rq->op) {
    case SIM_HELLO:         r = do_hello(c, rq); break;
    case SIM_GRANT:         r = do_grant(c, rq); break;
    case SIM_UNGRANT:       r = do_ungrant(c, rq); break;
    case SIM_MAP:           r = do_map(c, rq, (size_t)n); break;
    case SIM_NOTIFY_REG:    r = do_notify_reg(c, rq); break;
    case SIM_NOTIFY_FIRE:   r = do_notify_fire(c, rq); break;
    case SIM_EVT_ALLOC:     r = do_evt_alloc(c, rq); break;
    case SIM_EVT_BIND:      r = do_evt_bind(c, rq); break;
    case SIM_EVT_UNBIND:    r = do_evt_unbind(c, rq); break;
    case SIM_EVT_REMOTE:    r = do_evt_remote(c, rq); break;
    default:                r = -ENOSYS; break;
    }
    if (r == 1)
        return 0;               /* already replied */
    if (r > 1)
        return -1;              /* reply failed */
    {
        struct sim_rsp rsp = { .rc = r };
        return reply(c, &rsp, sizeof(rsp), NULL, 0) < 0 ? -1 : 0;
    }
}

/* ---- start-up ----------------------------------------------------------- */

static void start_xenstored(const char *xenstored, const char *shim)
{
    char sock[PATH_MAX], pidf[PATH_MAX], logf[PATH_MAX], tdb[PATH_MAX];
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    int i, r, status;

    name_or_die(sock, sizeof(sock), SIM_SOCK_XS);
    name_or_die(pidf, sizeof(pidf), "xenstored.pid");
    name_or_die(logf, sizeof(logf), "xenstored.log");
    name_or_die(tdb, sizeof(tdb), "xsd_port");
    if (write_file(tdb, "1\n", 2, 0) < 0)
        die("cannot write %s", tdb);
    name_or_die(tdb, sizeof(tdb), "xsd_kva");
    if (write_file(tdb, NULL, 0, SIM_PAGE) < 0)
        die("cannot write %s", tdb);
    if (access(xenstored, X_OK) < 0)
        die("xenstored not found at %s (install xen-utils-4.17 or pass -x)",
            xenstored);
    if (access(shim, R_OK) < 0)
        die("shim not found at %s (build it: make -C ivcom-core sim)", shim);
    unlink(sock);

    hv.xsd_pid = fork();
    if (hv.xsd_pid < 0)
        die("fork: %s", strerror(errno));
    if (hv.xsd_pid == 0) {
        int fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        sigset_t none;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("XENSTORED_RUNDIR", hv.dir, 1);
        setenv("XENSTORED_PATH", sock, 1);
        setenv("IVCOM_SIM_DIR", hv.dir, 1);
        setenv("LD_PRELOAD", shim, 1);
        execl(xenstored, xenstored, "-N", "-F", pidf, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 500; i++) {
        r = sim_xs_sock_connect(&hv.xs_sock, sock);
        if (r == 0)
            break;
        if (waitpid(hv.xsd_pid, &status, WNOHANG) == hv.xsd_pid) {
            hv.xsd_pid = 0;
            die("xenstored exited at start-up; see %s", logf);
        }
        nanosleep(&ts, NULL);
    }
    if (r < 0)
        die("xenstored did not come up; see %s", logf);
    {
        struct ivcom_xs_transport t;
        char val[16];

        sim_xs_sock_transport(&hv.xs_sock, &t);
        ivcom_xs_init(&hv.xs, &t);
        r = ivcom_xs_read(&hv.xs, 0, "/local/domain/0/domid", val,
                          sizeof(val));
        if (r < 0 && r != -ENOENT)
            die("xenstored does not answer: %s", strerror(-r));
    }
}

static void listen_hv(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (sim_path(sa.sun_path, sizeof(sa.sun_path), hv.dir, SIM_SOCK_HV) < 0)
        die("sim dir path too long for a socket: %s", hv.dir);
    unlink(sa.sun_path);
    hv.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (hv.listen_fd < 0 ||
        bind(hv.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(hv.listen_fd, 64) < 0)
        die("cannot listen on %s: %s", sa.sun_path, strerror(errno));
}

static void write_ready(void)
{
    char path[PATH_MAX], tmp[PATH_MAX], buf[64];
    int n = snprintf(buf, sizeof(buf), "%d %d\n", (int)getpid(),
                     (int)hv.xsd_pid);

    name_or_die(path, sizeof(path), SIM_READY);
    name_or_die(tmp, sizeof(tmp), SIM_READY ".tmp");
    if (write_file(tmp, buf, (size_t)n, 0) < 0 || rename(tmp, path) < 0)
        die("cannot write %s", path);
}

static void shutdown_all(void)
{
    char path[PATH_MAX];
    int status;

    while (hv.conns)
        conn_close(hv.conns);
    sim_xs_sock_close(&hv.xs_sock);
    if (hv.xsd_pid > 0) {
        kill(hv.xsd_pid, SIGTERM);
        waitpid(hv.xsd_pid, &status, 0);
    }
    name_or_die(path, sizeof(path), SIM_READY);
    unlink(path);
    name_or_die(path, sizeof(path), SIM_SOCK_HV);
    unlink(path);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ivcom-simhv -d DIR [-x XENSTORED] [-s SHIM.so] [-v]\n");
    exit(2);
}

static void default_shim(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    if (n < 0)
        die("readlink /proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    if ((size_t)snprintf(buf, len, "%s/../lib/libivcom-xsshim.so", exe) >= len)
        die("path too long: %s", exe);
}

int main(int argc, char **argv)
{
    const char *xenstored = XENSTORED_DEFAULT, *shim = NULL;
    char shim_buf[PATH_MAX], dir_buf[PATH_MAX];
    sigset_t mask;
    int opt;

    while ((opt = getopt(argc, argv, "d:x:s:vh")) != -1) {
        switch (opt) {
        case 'd': hv.dir = optarg; break;
        case 'x': xenstored = optarg; break;
        case 's': shim = optarg; break;
        case 'v': hv.verbose = 1; break;
        default: usage();
        }
    }
    if (!hv.dir || optind != argc)
        usage();
    if (!realpath(hv.dir, dir_buf))
        die("sim dir %s: %s", hv.dir, strerror(errno));
    hv.dir = dir_buf;
    if (!shim) {
        default_shim(shim_buf, sizeof(shim_buf));
        shim = shim_buf;
    }

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    hv.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (hv.sig_fd < 0)
        die("signalfd: %s", strerror(errno));

    start_xenstored(xenstored, shim);
    dom_get(0);
    listen_hv();
    write_ready();
    logmsg("serving %s (xenstored pid %d)", hv.dir, (int)hv.xsd_pid);

    for (;;) {
        struct pollfd pfd[1024];
        struct conn *cv[1024];
        struct conn *c;
        unsigned n = 0, i;

        pfd[n++] = (struct pollfd){ .fd = hv.sig_fd, .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = hv.xs_sock.fd, .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = hv.listen_fd, .events = POLLIN };
        for (c = hv.conns; c && n < 1024; c = c->next) {
            cv[n] = c;
            pfd[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll: %s", strerror(errno));
        }
        if (pfd[0].revents) {
            logmsg("shutting down");
            shutdown_all();
            return 0;
        }
        if (pfd[1].revents) {
            /* We hold no watches: anything here means xenstored left. */
            shutdown_all();
            die("xenstored closed its socket (see %s/xenstored.log)", hv.dir);
        }
        if (pfd[2].revents & POLLIN) {
            int fd = accept4(hv.listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                c = calloc(1, sizeof(*c));
                if (!c) {
                    close(fd);
                } else {
                    c->fd = fd;
                    c->domid = -1;
                    c->next = hv.conns;
                    hv.conns = c;
                }
            }
        }
        for (i = 3; i < n; i++) {
            if (!pfd[i].revents)
                continue;
            if ((pfd[i].revents & POLLIN) && conn_handle(cv[i]) == 0)
                continue;
            conn_close(cv[i]);
        }
    }
}
