/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the service request path -- a service's scan of its request
 * directory and its answers, accept's hand-out, the client's request and
 * its parse of the answer, and the sweep of dead processes' nodes --
 * through the public API (ivcom_service_open/accept with timeout 0,
 * ivcom_connect_start/continue with timeout 0), over a fake platform.
 *
 * The fake platform is one in-memory XenStore with xenstored's rules as
 * far as they matter here: each node has an owner and a permission list
 * (the owner may do anything, an entry names a domain's rights, the
 * first entry's rights are everyone else's), a new node inherits its
 * parent's list with the writer as owner, a node's record (value and
 * children's names) is at most 2048 bytes and each domain owns at most
 * 96 nodes (-ENOSPC past either), reads of a missing node under one we
 * may not read say -EACCES; transactions (a snapshot, restored on abort
 * or failure), watches (one event at registration, then on every change
 * under the path, and on demand), directory listings and permissions.
 * Grants alias the sharer's pages and map only for the domain they were
 * granted to, in order; event channels count ports.  The clock is fake
 * (-Wl,--wrap=ivcom_now_ns: 50 us a reading, and jumps on demand), so are
 * the offer nonces, our process id and whether another process lives
 * (--wrap=ivcom_os_nonce,--wrap=ivcom_os_pid,--wrap=ivcom_os_pid_alive).
 *
 * The service runs in domain 3; clients in domains 5, 6 and 7 connect
 * through the library; the input also acts as hostile domains (5, 6, 7
 * and a third, 9) writing what xenstored lets them write: request nodes
 * with bad names (case, length, characters, nested), many of them (a full
 * directory), odd owners and permission lists, values other than
 * "request 1", nodes edited or removed right after the service listed
 * its directory; and as a hostile service answering the library's
 * clients: "offer ..." strings built field by field from good and bad
 * words (version, mode, orders, refs of live or foreign grants, ports,
 * nonces right or wrong, extra spaces, trailing junk), "refused",
 * "busy", raw bytes, a request node that vanishes; a client's live byte
 * set to garbage; XenStore operations that fail on demand.
 *
 * Input: u8 flags (bit 0: no processes -- pid 0, as in the tiny guest;
 * bit 1: the policy allows domains 5 and 6 only; bit 2: at most 2
 * channels a domain; bit 3: stream mode; bit 4: 8 KiB rings; bit 5: the
 * platform has no watch fd), then ops (see run_op).
 *
 * Invariants: every call returns (a call with timeout 0 never waits),
 * with 0 or an -errno; an accepted channel's peer is a domain that
 * created a request node, never the service's own, and one the policy
 * allows; a client whose domain the policy refuses never connects;
 * nothing outside the shared pages is touched (each is exactly sized);
 * once everything is closed no grant, mapping, port, event handle or
 * watch is left, nor a client's presence node (unless a XenStore fault
 * fired while that client was open).
 */
#include <errno.h>
#include <sys/types.h>

#include "fuzz_input.h"
#include "internal.h"

#define SERVER_DOM   3
#define NR_CDOMS     3              /* the library's clients: 5, 6, 7 */
#define HOSTILE_DOM  9
#define NODES        192
#define VAL_MAX      160
#define NPERM        4
#define ENTRY_MAX    2048           /* xenstored's quota-max-entry-size */
#define DOM_NODES    96             /* nodes one domain may own */
#define GRANTS       24
#define HANDLES      32
#define CLIENT_SLOTS 6
#define ACC_SLOTS    8
#define WATCHES      16
#define MY_PID       4242u
#define NAME         "svc"
#define SVC_DIR      "/local/domain/3/data/ivcom-svc/" NAME
#define REQ_DIR      SVC_DIR "/req"

static struct fin in;

/* ---- the world ------------------------------------------------------------- */

struct node {
    int used;
    char path[IVCOM_PATH_MAX + 80];
    char val[VAL_MAX + 1];
    unsigned nperm;
    struct ivcom_xs_perm perm[NPERM];
};

struct grant {
    uint8_t *mem;                   /* exactly npages pages */
    unsigned npages;
    int to;                         /* granted to this domain */
    int shared, maps;
};

struct handle {
    int open;
    int dom;
};

struct watch {
    int used;
    int dom;
    char path[IVCOM_PATH_MAX];
    char token[40];
};

enum xs_kind {
    X_READ, X_WRITE, X_RM, X_PERMS, X_TX_START, X_TX_END, X_WATCH, X_UNWATCH, X_DIR,
    X_GET_PERMS, NR_XS
};

static const int fault_errs[] = {
    EAGAIN, ENOSPC, E2BIG, EACCES, ENOENT, EPERM, EIO, EINVAL, ENOMEM, EDQUOT,
};

static struct {
    struct node n[NODES];
    struct node snap[NODES];
    int in_tx;
    struct grant g[GRANTS];
    struct handle h[HANDLES];
    struct watch w[WATCHES];
    int pending[16];                /* a watch event waits, per domain */
    int shares, maps, ports, handles, watches;
    uint32_t next_port;
    struct { unsigned skip, count; int err; unsigned fired; } f[NR_XS];
    unsigned faults_fired;
    int no_wait;                    /* a call with timeout 0 runs */
    int requested[16];              /* domain created a node under req/ */
    /* an edit made right after the service's next listing of req/ */
    uint8_t on_list[8];
    size_t on_list_len;
    int in_list_edit;
    /* the library's side */
    struct ivcom_platform server, cplat[NR_CDOMS];
    struct ivcom_service *svc;
    struct ivcom_chan *client[CLIENT_SLOTS];
    unsigned client_faults[CLIENT_SLOTS];   /* faults fired before its start */
    struct ivcom_chan *acc[ACC_SLOTS];
    int allow_only, max_dom, pid0, no_fd;
    struct ivcom_params params;
} W;

static uint64_t fake_ns = 1000000000ull;
static uint64_t next_nonce;

uint64_t __wrap_ivcom_now_ns(void);
uint64_t __wrap_ivcom_now_ns(void)
{
    return fake_ns += 50000;
}

uint64_t __wrap_ivcom_os_nonce(void);
uint64_t __wrap_ivcom_os_nonce(void)
{
    next_nonce = next_nonce * 6364136223846793005ull + 1442695040888963407ull;
    return next_nonce;
}

uint32_t __wrap_ivcom_os_pid(void);
uint32_t __wrap_ivcom_os_pid(void)
{
    return W.pid0 ? 0 : MY_PID;
}

/* Odd process ids live, even ones are gone. */
int __wrap_ivcom_os_pid_alive(uint32_t pid);
int __wrap_ivcom_os_pid_alive(uint32_t pid)
{
    FUZZ_CHECK(pid != 0 && pid != MY_PID, "asked whether pid %u lives", pid);
    return pid & 1;
}

static int fault(enum xs_kind k)
{
    if (W.f[k].skip) {
        W.f[k].skip--;
        return 0;
    }
    if (W.f[k].count) {
        W.f[k].count--;
        W.f[k].fired++;
        W.faults_fired++;
        return -W.f[k].err;
    }
    return 0;
}

/* ---- XenStore ----------------------------------------------------------------- */

static struct node *find(const char *path)
{
    int i;

    for (i = 0; i < NODES; i++)
        if (W.n[i].used && strcmp(W.n[i].path, path) == 0)
            return &W.n[i];
    return NULL;
}

static int is_child(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] &&
           !strchr(path + n + 1, '/');
}

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The nearest existing node at or above path. */
static struct node *nearest(const char *path)
{
    char p[sizeof(W.n[0].path)];
    struct node *n;
    char *slash;

    snprintf(p, sizeof(p), "%s", path);
    for (;;) {
        if ((n = find(p)) != NULL)
            return n;
        slash = strrchr(p, '/');
        if (!slash || slash == p)
            return NULL;
        *slash = '\0';
    }
}

static unsigned perm_of(const struct node *n, int dom)
{
    unsigned i;

    if (dom == 0 || n->perm[0].domid == (uint32_t)dom)
        return IVCOM_XS_PERM_BOTH;
    for (i = 1; i < n->nperm; i++)
        if (n->perm[i].domid == (uint32_t)dom)
            return n->perm[i].perms;
    return n->perm[0].perms;
}

static int may(const struct node *n, int dom, unsigned want)
{
    return (perm_of(n, dom) & want) == want;
}

static size_t entry_size(const struct node *dir)
{
    size_t s = strlen(dir->val);
    int i;

    for (i = 0; i < NODES; i++)
        if (W.n[i].used && is_child(W.n[i].path, dir->path))
            s += strlen(strrchr(W.n[i].path, '/') + 1) + 1;
    return s;
}

static int owned_by(int dom)
{
    int i, k = 0;

    for (i = 0; i < NODES; i++)
        k += W.n[i].used && W.n[i].perm[0].domid == (uint32_t)dom;
    return k;
}

static void changed(const char *path)
{
    int i;

    for (i = 0; i < WATCHES; i++)
        if (W.w[i].used && (under(path, W.w[i].path) || under(W.w[i].path, path)))
            W.pending[W.w[i].dom] = 1;
}

static int path_ok(const char *path)
{
    return path[0] == '/' && strlen(path) < sizeof(W.n[0].path);
}

/* Create path (and missing parents) as dom, inheriting permissions. */
static struct node *create(int dom, const char *path)
{
    char p[sizeof(W.n[0].path)];
    struct node *parent, *n = NULL;
    char *slash;
    int i;

    parent = nearest(path);
    if (!parent || !may(parent, dom, IVCOM_XS_PERM_WRITE))
        return (struct node *)-EACCES;
    /* One level at a time, from the nearest existing node down. */
    while (!n) {
        snprintf(p, sizeof(p), "%s", path);
        for (;;) {
            slash = strrchr(p, '/');
            *slash = '\0';
            if (find(p)) {
                *slash = '/';
                break;
            }
        }
        /* p is now the first missing level. */
        if (dom && owned_by(dom) >= DOM_NODES)
            return (struct node *)-ENOSPC;
        if (entry_size(parent) + strlen(strrchr(p, '/') + 1) + 1 > ENTRY_MAX)
            return (struct node *)-ENOSPC;
        for (i = 0; i < NODES && W.n[i].used; i++)
            ;
        if (i == NODES)
            return (struct node *)-ENOSPC;
        memset(&W.n[i], 0, sizeof(W.n[i]));
        W.n[i].used = 1;
        snprintf(W.n[i].path, sizeof(W.n[i].path), "%s", p);
        W.n[i].nperm = parent->nperm;
        memcpy(W.n[i].perm, parent->perm, sizeof(parent->perm));
        W.n[i].perm[0].domid = (uint32_t)dom;
        if (strcmp(p, path) == 0)
            n = &W.n[i];
        parent = &W.n[i];
    }
    return n;
}

static int st_write(int dom, const char *path, const char *val)
{
    struct node *n;

    if (!path_ok(path))
        return -EINVAL;
    if (strlen(val) > VAL_MAX)
        return -E2BIG;
    n = find(path);
    if (n && !may(n, dom, IVCOM_XS_PERM_WRITE))
        return -EACCES;
    if (!n) {
        n = create(dom, path);
        if ((intptr_t)n < 0 && (intptr_t)n > -4096)
            return (int)(intptr_t)n;
        if (strncmp(path, REQ_DIR "/", sizeof(REQ_DIR)) == 0)
            W.requested[dom] = 1;
    }
    snprintf(n->val, sizeof(n->val), "%s", val);
    changed(path);
    return 0;
}

static int st_rm(int dom, const char *path)
{
    struct node *n = find(path);
    int i;

    if (!n)
        return -ENOENT;
    if (!may(n, dom, IVCOM_XS_PERM_WRITE))
        return -EACCES;
    for (i = 0; i < NODES; i++)
        if (W.n[i].used && under(W.n[i].path, path))
            W.n[i].used = 0;
    changed(path);
    return 0;
}

static int st_set_perms(int dom, const char *path, const struct ivcom_xs_perm *p, unsigned n)
{
    struct node *nd = find(path);

    if (!nd)
        return -ENOENT;
    if (!may(nd, dom, IVCOM_XS_PERM_WRITE))
        return -EACCES;
    if (n == 0 || n > NPERM)
        return -EINVAL;
    nd->nperm = n;
    memset(nd->perm, 0, sizeof(nd->perm));
    memcpy(nd->perm, p, n * sizeof(*p));
    changed(path);
    return 0;
}

/* A missing node under one we may not read is -EACCES, as xenstored says. */
static struct node *lookup(int dom, const char *path, int *err)
{
    struct node *n = find(path);

    if (!n) {
        struct node *up = nearest(path);

        *err = up && !may(up, dom, IVCOM_XS_PERM_READ) ? -EACCES : -ENOENT;
        return NULL;
    }
    if (!may(n, dom, IVCOM_XS_PERM_READ)) {
        *err = -EACCES;
        return NULL;
    }
    *err = 0;
    return n;
}

static void list_edit(void);

static int f_xs_read(struct ivcom_platform *p, uint32_t tx, const char *path, char *buf,
                     size_t len)
{
    struct node *n;
    int err = fault(X_READ);

    (void)tx;
    FUZZ_CHECK(path_ok(path), "read of %s", path);
    if (err)
        return err;
    n = lookup(p->domid, path, &err);
    if (!n)
        return err;
    if (len == 0 || strlen(n->val) >= len)
        return -E2BIG;
    memcpy(buf, n->val, strlen(n->val) + 1);
    return 0;
}

static int f_xs_write(struct ivcom_platform *p, uint32_t tx, const char *path, const char *v)
{
    int err = fault(X_WRITE);

    (void)tx;
    FUZZ_CHECK(path_ok(path), "write of %s", path);
    return err ? err : st_write(p->domid, path, v);
}

static int f_xs_rm(struct ivcom_platform *p, uint32_t tx, const char *path)
{
    int err = fault(X_RM);

    (void)tx;
    FUZZ_CHECK(path_ok(path), "rm of %s", path);
    return err ? err : st_rm(p->domid, path);
}

static int f_xs_set_perms(struct ivcom_platform *p, uint32_t tx, const char *path,
                          const struct ivcom_xs_perm *perms, unsigned n)
{
    int err = fault(X_PERMS);

    (void)tx;
    FUZZ_CHECK(path_ok(path), "perms of %s", path);
    FUZZ_CHECK(n >= 1 && perms[0].domid == (uint32_t)p->domid,
               "domain %d gives away %s", p->domid, path);
    return err ? err : st_set_perms(p->domid, path, perms, n);
}

static int f_tx_start(struct ivcom_platform *p, uint32_t *tx)
{
    int err = fault(X_TX_START);

    (void)p;
    if (err)
        return err;
    FUZZ_CHECK(!W.in_tx, "nested transaction");
    memcpy(W.snap, W.n, sizeof(W.n));
    W.in_tx = 1;
    *tx = 11;
    return 0;
}

static int f_tx_end(struct ivcom_platform *p, uint32_t tx, int abort_it)
{
    int err = fault(X_TX_END);

    (void)p;
    FUZZ_CHECK(W.in_tx && tx == 11, "end of transaction %u", tx);
    W.in_tx = 0;
    if (abort_it || err)
        memcpy(W.n, W.snap, sizeof(W.n));
    return err;
}

static int f_watch(struct ivcom_platform *p, const char *path, const char *token)
{
    int i, err = fault(X_WATCH);

    FUZZ_CHECK(path_ok(path) && strlen(path) < IVCOM_PATH_MAX, "watch of %s", path);
    if (err)
        return err;
    for (i = 0; i < WATCHES; i++)
        if (W.w[i].used && W.w[i].dom == p->domid && !strcmp(W.w[i].path, path) &&
            !strcmp(W.w[i].token, token))
            return -EEXIST;
    for (i = 0; i < WATCHES && W.w[i].used; i++)
        ;
    if (i == WATCHES)
        return -ENOSPC;     /* the watch quota */
    W.w[i].used = 1;
    W.w[i].dom = p->domid;
    snprintf(W.w[i].path, sizeof(W.w[i].path), "%s", path);
    snprintf(W.w[i].token, sizeof(W.w[i].token), "%s", token);
    W.watches++;
    W.pending[p->domid] = 1;        /* xenstored fires a new watch once */
    return 0;
}

static int f_unwatch(struct ivcom_platform *p, const char *path, const char *token)
{
    int i, err = fault(X_UNWATCH);

    if (err)
        return err;
    for (i = 0; i < WATCHES; i++)
        if (W.w[i].used && W.w[i].dom == p->domid && !strcmp(W.w[i].path, path) &&
            !strcmp(W.w[i].token, token)) {
            W.w[i].used = 0;
            W.watches--;
            return 0;
        }
    return -ENOENT;
}

static int f_wait_watch(struct ivcom_platform *p, int timeout_ms)
{
    FUZZ_CHECK(timeout_ms >= 0, "watch wait of %d ms", timeout_ms);
    FUZZ_CHECK(!(W.no_wait && timeout_ms > 0), "a call with timeout 0 waited %d ms",
               timeout_ms);
    if (W.pending[p->domid]) {
        W.pending[p->domid] = 0;
        return 0;
    }
    fake_ns += (uint64_t)timeout_ms * 1000000u;
    return -ETIMEDOUT;
}

static int f_watch_fd(struct ivcom_platform *p)
{
    return W.no_fd ? -EOPNOTSUPP : 100 + p->domid;
}

static int f_directory(struct ivcom_platform *p, uint32_t tx, const char *path, char *buf,
                       size_t len)
{
    struct node *n;
    size_t used = 0;
    int i, k = 0, err = fault(X_DIR);

    (void)tx;
    FUZZ_CHECK(path_ok(path), "directory of %s", path);
    if (err)
        return err;
    n = lookup(p->domid, path, &err);
    if (!n)
        return err;
    for (i = 0; i < NODES; i++) {
        const char *name;
        size_t l;

        if (!W.n[i].used || !is_child(W.n[i].path, path))
            continue;
        name = strrchr(W.n[i].path, '/') + 1;
        l = strlen(name) + 1;
        if (used + l > len)
            return -E2BIG;
        memcpy(buf + used, name, l);
        used += l;
        k++;
    }
    if (p->domid == SERVER_DOM && strcmp(path, REQ_DIR) == 0)
        list_edit();
    return k;
}

static int f_get_perms(struct ivcom_platform *p, uint32_t tx, const char *path,
                       struct ivcom_xs_perm *perms, unsigned max)
{
    struct node *n;
    int err = fault(X_GET_PERMS);
    unsigned k;

    (void)tx;
    FUZZ_CHECK(path_ok(path), "perms of %s", path);
    if (err)
        return err;
    n = lookup(p->domid, path, &err);
    if (!n)
        return err;
    k = n->nperm < max ? n->nperm : max;
    memcpy(perms, n->perm, k * sizeof(*perms));
    return (int)k;
}

/* ---- grants and event channels ------------------------------------------------- */

#define REF(g, i) (2000u + (uint32_t)(g) * 64u + (uint32_t)(i))

static int f_share(struct ivcom_platform *p, int peer, unsigned n, void **a, uint32_t *refs)
{
    unsigned k;
    int i;

    FUZZ_CHECK(p->domid == SERVER_DOM && peer != SERVER_DOM && peer >= 0,
               "domain %d shares with %d", p->domid, peer);
    FUZZ_CHECK(n >= 2 && n <= 1 + IVCOM_CTRL_MAX_GREFS, "share of %u pages", n);
    for (i = 0; i < GRANTS && W.g[i].mem; i++)
        ;
    if (i == GRANTS)
        return -ENOSPC;
    W.g[i].mem = calloc(n, IVCOM_PAGE_SIZE);
    if (!W.g[i].mem)
        abort();
    W.g[i].npages = n;
    W.g[i].to = peer;
    W.g[i].shared = 1;
    for (k = 0; k < n; k++)
        refs[k] = REF(i, k);
    *a = W.g[i].mem;
    W.shares++;
    return 0;
}

static void grant_put(struct grant *g)
{
    if (!g->shared && !g->maps) {
        free(g->mem);
        memset(g, 0, sizeof(*g));
    }
}

static int f_unshare(struct ivcom_platform *p, void *a, unsigned n)
{
    int i;

    (void)p;
    for (i = 0; i < GRANTS; i++)
        if (W.g[i].mem == a && W.g[i].shared)
            break;
    FUZZ_CHECK(i < GRANTS && W.g[i].npages == n, "unshare of an unknown area");
    W.g[i].shared = 0;
    W.shares--;
    grant_put(&W.g[i]);
    return 0;
}

static int f_map(struct ivcom_platform *p, int peer, unsigned n, const uint32_t *refs,
                 int writable, void **addr)
{
    uint32_t g, first;
    unsigned k;

    FUZZ_CHECK(peer == SERVER_DOM && writable && p->domid != SERVER_DOM,
               "domain %d maps from %d", p->domid, peer);
    FUZZ_CHECK(n >= 1 && n <= IVCOM_CTRL_MAX_GREFS, "map of %u pages", n);
    if (refs[0] < 2000u || (refs[0] - 2000u) / 64u >= GRANTS)
        return -EPERM;
    g = (refs[0] - 2000u) / 64u;
    first = (refs[0] - 2000u) % 64u;
    if (!W.g[g].mem || !W.g[g].shared || W.g[g].to != p->domid || first + n > W.g[g].npages)
        return -EPERM;
    for (k = 0; k < n; k++)
        if (refs[k] != refs[0] + k)
            return -EPERM;
    W.g[g].maps++;
    W.maps++;
    *addr = W.g[g].mem + (size_t)first * IVCOM_PAGE_SIZE;
    return 0;
}

static int f_unmap(struct ivcom_platform *p, void *addr, unsigned n)
{
    int i;

    (void)p;
    for (i = 0; i < GRANTS; i++)
        if (W.g[i].mem && (uint8_t *)addr >= W.g[i].mem &&
            (uint8_t *)addr + (size_t)n * IVCOM_PAGE_SIZE <=
            W.g[i].mem + (size_t)W.g[i].npages * IVCOM_PAGE_SIZE)
            break;
    FUZZ_CHECK(i < GRANTS && W.g[i].maps > 0, "unmap of an unknown area");
    W.g[i].maps--;
    W.maps--;
    grant_put(&W.g[i]);
    return 0;
}

static int f_unmap_notify(struct ivcom_platform *p, void *a, uint32_t off, uint32_t port)
{
    (void)p; (void)a; (void)port;
    FUZZ_CHECK(off < IVCOM_PAGE_SIZE, "unmap notify offset %u", off);
    return 0;
}

static int f_evtchn_open(struct ivcom_platform *p, struct ivcom_evtchn **out)
{
    int i;

    for (i = 0; i < HANDLES && W.h[i].open; i++)
        ;
    if (i == HANDLES)
        return -EMFILE;
    W.h[i].open = 1;
    W.h[i].dom = p->domid;
    W.handles++;
    *out = (struct ivcom_evtchn *)&W.h[i];
    return 0;
}

static void f_evtchn_close(struct ivcom_evtchn *e)
{
    struct handle *h = (struct handle *)e;

    FUZZ_CHECK(h->open, "close of a closed handle");
    h->open = 0;
    W.handles--;
}

static int f_alloc_unbound(struct ivcom_evtchn *e, int peer, uint32_t *port)
{
    FUZZ_CHECK(((struct handle *)e)->dom == SERVER_DOM && peer != SERVER_DOM,
               "alloc for %d", peer);
    *port = ++W.next_port;
    W.ports++;
    return 0;
}

static int f_bind(struct ivcom_evtchn *e, int peer, uint32_t remote, uint32_t *port)
{
    (void)remote;
    FUZZ_CHECK(((struct handle *)e)->dom != SERVER_DOM && peer == SERVER_DOM,
               "bind to %d", peer);
    *port = ++W.next_port;
    W.ports++;
    return 0;
}

static int f_unbind(struct ivcom_evtchn *e, uint32_t port)
{
    (void)e;
    FUZZ_CHECK(port != 0, "unbind of port 0");
    W.ports--;
    return 0;
}

static int f_notify(struct ivcom_evtchn *e, uint32_t port)
{
    (void)e; (void)port;
    return 0;
}

static int f_wait(struct ivcom_evtchn *e, int timeout_ms)
{
    (void)e;
    FUZZ_CHECK(!(W.no_wait && timeout_ms > 0), "a call with timeout 0 blocked");
    fake_ns += (uint64_t)timeout_ms * 1000000u;
    return -ETIMEDOUT;
}

static int f_ack(struct ivcom_evtchn *e)
{
    (void)e;
    return 0;
}

static int f_fd(struct ivcom_evtchn *e)
{
    (void)e;
    return 42;
}

static int f_open(struct ivcom_platform *p) { (void)p; return 0; }
static void f_close(struct ivcom_platform *p) { (void)p; }

static const struct ivcom_platform_ops fake_ops = {
    .name = "fuzz-svc",
    .open = f_open, .close = f_close,
    .share = f_share, .unshare = f_unshare, .map = f_map, .unmap = f_unmap,
    .unmap_notify = f_unmap_notify,
    .evtchn_open = f_evtchn_open, .evtchn_close = f_evtchn_close,
    .evtchn_alloc_unbound = f_alloc_unbound, .evtchn_bind = f_bind,
    .evtchn_unbind = f_unbind, .evtchn_notify = f_notify, .evtchn_wait = f_wait,
    .evtchn_ack = f_ack, .evtchn_fd = f_fd,
    .xs_read = f_xs_read, .xs_write = f_xs_write, .xs_rm = f_xs_rm,
    .xs_set_perms = f_xs_set_perms, .xs_tx_start = f_tx_start, .xs_tx_end = f_tx_end,
    .xs_watch = f_watch, .xs_unwatch = f_unwatch, .xs_wait_watch = f_wait_watch,
    .xs_watch_fd = f_watch_fd, .xs_directory = f_directory, .xs_get_perms = f_get_perms,
};

/* ---- hostile words ------------------------------------------------------------- */

static const int hostile_doms[] = { 5, 6, 7, HOSTILE_DOM, SERVER_DOM, 0 };
#define NR_HDOMS (sizeof(hostile_doms) / sizeof(hostile_doms[0]))

static const char *const req_values[] = {
    "request 1", "request 2", "request", "request 1 ", "Request 1", "", "offer 1",
    "connected 7", "closed", "refused", "busy", "request 1\n", "request  1",
};
#define NR_REQ_VALUES (sizeof(req_values) / sizeof(req_values[0]))

/* A request node's name: 16 hex digits from the input, or a bad one. */
static void token_name(struct fin *a, char *out, size_t len)
{
    static const char alphabet[] = "0123456789abcdefABCDEF-_@xyz";
    uint8_t kind = fin_u8(a);
    uint64_t v = (uint64_t)fin_u32(a) << 32 | fin_u32(a);
    size_t n, i;

    switch (kind & 7) {
    case 0: case 1: case 2:
        snprintf(out, len, "%016llx", (unsigned long long)v);
        break;
    case 3:
        snprintf(out, len, "%016llX", (unsigned long long)v);
        break;
    case 4:
        snprintf(out, len, "%0*llx", 12 + (kind >> 3) % 9, (unsigned long long)v);
        break;
    case 5:     /* a long name from the alphabet */
        n = 1 + (kind >> 3) % 31 * 2;
        for (i = 0; i < n && i + 1 < len; i++)
            out[i] = alphabet[(v >> (i % 60)) % (sizeof(alphabet) - 1) ^ (i & 3)];
        out[i] = '\0';
        break;
    case 6:     /* nested: req/<token>/x */
        snprintf(out, len, "%016llx/%c", (unsigned long long)v, 'a' + kind % 26);
        break;
    default:    /* an old request's token, one of ours if any */
        snprintf(out, len, "%016llx", (unsigned long long)(v % 4));
        break;
    }
}

/* A live grant's first ref and its page's nonce (or made-up ones). */
static uint32_t pick_ref(uint8_t sel, uint64_t *nonce)
{
    int i, k = 0;

    *nonce = 0xfeedfacecafebeefull;
    for (i = 0; i < GRANTS; i++)
        if (W.g[i].mem && W.g[i].shared && k++ == (sel & 7)) {
            *nonce = ((struct ivcom_ctrl *)W.g[i].mem)->nonce;
            return REF(i, 0);
        }
    switch (sel >> 5) {
    case 0: return REF(0, 0);
    case 1: return REF(0, 1);
    case 2: return 0;
    case 3: return 4294967295u;
    default: return REF(GRANTS, 0);
    }
}

/* A hostile answer: "offer ..." field by field, or another word. */
static void answer_value(struct fin *a, char *out, size_t len)
{
    static const char *const versions[] = { "1", "2", "01", "", "x", "4294967296", "+1" };
    static const char *const modes[] = { "message", "stream", "Stream", "", "messages" };
    static const char *const orders[] = { "12", "13", "11", "21", "0", "012", "x", "20" };
    static const char *const others[] = {
        "refused", "busy", "closed", "request 1", "connected 7", "", "offer", "offer 1",
        "refusedx", "busy ",
    };
    uint8_t kind = fin_u8(a), m = fin_u8(a), o = fin_u8(a), sel = fin_u8(a), tail = fin_u8(a);
    uint64_t nonce;
    uint32_t ref = pick_ref(sel, &nonce), port = fin_u8(a);
    char nonce_s[40];
    int n;

    if ((kind & 3) == 3) {
        snprintf(out, len, "%s", others[(kind >> 2) % (sizeof(others) / sizeof(others[0]))]);
        return;
    }
    if ((kind & 3) == 2) {      /* raw bytes, up to NUL */
        size_t i;

        for (i = 0; i + 1 < len && i < 60; i++) {
            uint8_t c = fin_u8(a);

            if (!c)
                break;
            out[i] = (char)c;
        }
        out[i] = '\0';
        return;
    }
    switch (tail & 7) {
    case 0: case 1: case 2:
        snprintf(nonce_s, sizeof(nonce_s), "%016llx", (unsigned long long)nonce);
        break;
    case 3:
        snprintf(nonce_s, sizeof(nonce_s), "%016llX", (unsigned long long)nonce);
        break;
    case 4:
        snprintf(nonce_s, sizeof(nonce_s), "%015llx", (unsigned long long)(nonce >> 4));
        break;
    case 5:
        snprintf(nonce_s, sizeof(nonce_s), "%016llx", (unsigned long long)(nonce ^ 1));
        break;
    case 6:
        snprintf(nonce_s, sizeof(nonce_s), "%016llx0", (unsigned long long)nonce);
        break;
    default:
        snprintf(nonce_s, sizeof(nonce_s), "%016llxg", (unsigned long long)nonce >> 4);
        break;
    }
    n = snprintf(out, len, "offer%s%s %s %s %s %u%s %u %s",
                 kind & 4 ? "  " : " ",
                 kind & 8 ? versions[(kind >> 4) % 7] : "1",
                 modes[m % 5], orders[o & 7], orders[(o >> 3) & 7],
                 (kind & 0x80) ? ref + (uint32_t)(m >> 4) : ref,
                 (m & 0x80) ? "x" : "", port, nonce_s);
    if (n > 0 && (size_t)n < len) {
        if (tail & 8)
            snprintf(out + n, len - (size_t)n, " ");
        else if (tail & 0x10)
            snprintf(out + n, len - (size_t)n, " junk");
        else if (tail & 0x20)
            out[n - 1] = '\0';
    }
}

/* ---- actions -------------------------------------------------------------------- */

/* The index-th node under req/ (NULL if none). */
static struct node *req_node(uint8_t index)
{
    int i, k = 0, total = 0;

    for (i = 0; i < NODES; i++)
        total += W.n[i].used && under(W.n[i].path, REQ_DIR) && strcmp(W.n[i].path, REQ_DIR);
    if (!total)
        return NULL;
    index %= total;
    for (i = 0; i < NODES; i++)
        if (W.n[i].used && under(W.n[i].path, REQ_DIR) && strcmp(W.n[i].path, REQ_DIR) &&
            k++ == index)
            return &W.n[i];
    return NULL;
}

/* Edit a request node as a hostile domain (or xenstored itself). */
static void edit(struct fin *a)
{
    uint8_t what = fin_u8(a), idx = fin_u8(a), v = fin_u8(a);
    struct node *n = req_node(idx);
    char path[sizeof(n->path)];

    if (!n)
        return;
    snprintf(path, sizeof(path), "%s", n->path);
    switch (what % 5) {
    case 0:     /* vanishes */
        st_rm(0, path);
        break;
    case 1:     /* another value */
        st_write(0, path, req_values[v % NR_REQ_VALUES]);
        break;
    case 2: {   /* another owner, as a node a domain handed over */
        n->perm[0].domid = (uint32_t)hostile_doms[v % NR_HDOMS];
        W.requested[hostile_doms[v % NR_HDOMS]] = 1;
        changed(path);
        break;
    }
    case 3: {   /* odd permissions for the service */
        static const unsigned pv[] = { IVCOM_XS_PERM_NONE, IVCOM_XS_PERM_READ,
                                       IVCOM_XS_PERM_WRITE, IVCOM_XS_PERM_BOTH };
        n->nperm = 1 + v % NPERM;
        n->perm[n->nperm - 1].domid = v & 0x40 ? SERVER_DOM : (uint32_t)(v >> 4);
        n->perm[n->nperm - 1].perms = pv[(v >> 2) & 3];
        changed(path);
        break;
    }
    default: {  /* a hostile answer in its place (another client's view) */
        char val[VAL_MAX + 1];

        answer_value(a, val, sizeof(val));
        st_write(0, path, val);
        break;
    }
    }
}

static void list_edit(void)
{
    struct fin a = { W.on_list, W.on_list_len };

    if (!W.on_list_len || W.in_list_edit)
        return;
    W.on_list_len = 0;
    W.in_list_edit = 1;
    edit(&a);
    W.in_list_edit = 0;
}

/* A hostile domain's request: name, value, permissions as it chooses. */
static void hostile_request(struct fin *a)
{
    int dom = hostile_doms[fin_u8(a) % (NR_HDOMS - 1)];
    uint8_t pk = fin_u8(a), vk = fin_u8(a), reps = fin_u8(a) % 40;
    char tok[80], path[sizeof(W.n[0].path)];
    struct ivcom_xs_perm perms[3] = {
        { (uint32_t)dom, IVCOM_XS_PERM_NONE },
        { SERVER_DOM, IVCOM_XS_PERM_BOTH },
        { (uint32_t)hostile_doms[pk % NR_HDOMS], IVCOM_XS_PERM_READ },
    };
    unsigned np;
    int r;

    token_name(a, tok, sizeof(tok));
    do {
        snprintf(path, sizeof(path), REQ_DIR "/%s", tok);
        r = st_write(dom, path, req_values[vk % NR_REQ_VALUES]);
        if (r == 0 && (pk & 3)) {
            np = (pk & 3) == 1 ? 2 : (pk & 3) == 2 ? 1 : 3;
            if ((pk & 0x1c) == 4)
                perms[1].perms = IVCOM_XS_PERM_READ;
            if ((pk & 0x1c) == 8)
                perms[0].domid = SERVER_DOM;    /* "owned by the service" */
            st_set_perms(dom, path, perms, np);
        }
        /* a flood: the next names differ in their last digit(s) */
        if (strlen(tok) < 2)
            break;
        tok[strlen(tok) - 1] = "0123456789abcdef"[reps & 15];
        if (reps >= 16)
            tok[strlen(tok) - 2] = "0123456789abcdef"[(reps >> 4) & 15];
    } while (reps-- > 0 && r == 0);
}

/* A node left by a dead or live process (or garbage), for the sweep. */
static void sweep_node(struct fin *a)
{
    static const char *const vals[] = {
        "4000", "4001", "4242", "0", "", "x", "connected 4000", "connected 4001",
        "connected", "connected 4242", "4294967296", "connected 12x",
    };
    uint8_t where = fin_u8(a), v = fin_u8(a);
    int dom = (where & 1) ? 5 + (where >> 1) % NR_CDOMS : SERVER_DOM;
    char path[sizeof(W.n[0].path)];

    switch ((where >> 3) & 3) {
    case 0:
        snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom/s%u/owner", dom, v & 3);
        break;
    case 1:
        snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-svc/%s/owner", dom,
                 v & 4 ? NAME : "other");
        break;
    case 2:
        snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-client/3/s%u", dom, v & 3);
        break;
    default:
        snprintf(path, sizeof(path), "/local/domain/%d/data/ivcom-svc-client/3/" NAME
                 "/%016x", dom, v & 3);
        break;
    }
    st_write(dom, path, vals[(v >> 2) % (sizeof(vals) / sizeof(vals[0]))]);
}

/* ---- the program ----------------------------------------------------------------- */

enum {
    OP_OPEN, OP_ACCEPT, OP_CLOSE_SVC, OP_CONNECT, OP_CONTINUE, OP_CLOSE_CLIENT,
    OP_CLOSE_ACC, OP_REQUEST, OP_ANSWER, OP_EDIT, OP_ON_LIST, OP_CLOCK, OP_FAULT,
    OP_LIVE, OP_PING, OP_SVC_NODE, OP_FIRE, OP_SWEEP_NODE, NR_OPS
};

static int errno_ok(int r)
{
    return r == 0 || (r < 0 && r >= -4095);
}

static void do_open(void)
{
    static const char *const names[] = { NAME, NAME, NAME, "a.b", "" };
    static const int allow[] = { 5, 6 };
    struct ivcom_policy pol = { W.allow_only ? allow : NULL, W.allow_only ? 2 : 0,
                                W.max_dom ? 2 : 0 };
    uint8_t a = fin_u8(&in);
    int r;

    if (W.svc)
        return;
    r = ivcom_service_open(&W.server, names[a % 5], &W.params, &pol, &W.svc);
    FUZZ_CHECK(errno_ok(r), "service open gave %d", r);
    if (r)
        W.svc = NULL;
    else
        FUZZ_CHECK(a % 5 < 3, "service %s opened", names[a % 5]);
    if (W.svc)
        (void)ivcom_service_fd(W.svc);
}

static void do_accept(void)
{
    struct ivcom_service_stats st;
    struct ivcom_chan *ch = NULL;
    int i, r, peer;

    if (!W.svc)
        return;
    for (i = 0; i < ACC_SLOTS && W.acc[i]; i++)
        ;
    if (i == ACC_SLOTS)
        return;
    W.no_wait = 1;
    r = ivcom_service_accept(W.svc, &ch, 0);
    W.no_wait = 0;
    FUZZ_CHECK(r == 0 || r == -EAGAIN || (errno_ok(r) && r != -ETIMEDOUT),
               "accept gave %d", r);
    ivcom_service_get_stats(W.svc, &st);
    FUZZ_CHECK(st.accepted <= st.requests && st.refused <= st.requests &&
               st.pending <= st.requests, "stats %llu %llu %llu %u",
               (unsigned long long)st.accepted, (unsigned long long)st.requests,
               (unsigned long long)st.refused, st.pending);
    if (r)
        return;
    peer = ivcom_peer_domid(ch);
    FUZZ_CHECK(peer >= 0 && peer < 16 && peer != SERVER_DOM && W.requested[peer],
               "accepted a channel of domain %d, which asked nothing", peer);
    FUZZ_CHECK(!W.allow_only || peer == 5 || peer == 6, "accepted domain %d", peer);
    W.acc[i] = ch;
    (void)ivcom_fd(ch);
}

static void do_connect(void)
{
    static const char *const names[] = { NAME, NAME, NAME, "other", "a.b" };
    static const int servers[] = { SERVER_DOM, SERVER_DOM, SERVER_DOM, SERVER_DOM, 5 };
    uint8_t a = fin_u8(&in);
    int d = a % NR_CDOMS, slot = ((a >> 2) & 7) % CLIENT_SLOTS, r;
    struct ivcom_chan *ch;

    if (W.client[slot])
        return;
    r = ivcom_connect_start(&W.cplat[d], names[(a >> 5) % 5], servers[(a >> 5) % 5],
                            (a & 0x80) ? NULL : &W.params, &ch);
    FUZZ_CHECK(errno_ok(r), "connect start gave %d", r);
    if (!r) {
        W.client[slot] = ch;
        W.client_faults[slot] = W.faults_fired;
        (void)ivcom_connect_fd(ch);
    }
}

static void close_client(int slot)
{
    struct ivcom_chan *ch = W.client[slot];
    char presence[IVCOM_PATH_MAX];
    /* A XenStore fault in its life may have hit a clean-up step (a failed
     * connect's removal of its presence, say): that leaves the node to
     * the next sweep, as on a real store. */
    unsigned fired = W.client_faults[slot];

    if (!ch)
        return;
    snprintf(presence, sizeof(presence), "%s", ch->xs_presence);
    ivcom_close(ch);
    W.client[slot] = NULL;
    if (presence[0] && W.faults_fired == fired) {
        struct node *n = find(presence);

        /* Ours is gone (a hostile domain may have written one there). */
        FUZZ_CHECK(!n || n->perm[0].domid == SERVER_DOM || strncmp(n->val, "connected", 9),
                   "closed client left %s = %s", presence, n->val);
    }
}

static void do_continue(void)
{
    uint8_t a = fin_u8(&in);
    int slot = (a & 0x7f) % CLIENT_SLOTS, r, dom;
    struct ivcom_chan *ch = W.client[slot];

    if (!ch)
        return;
    dom = ch->plat->domid;
    W.no_wait = 1;
    r = ivcom_connect_continue(ch, 0);
    W.no_wait = 0;
    FUZZ_CHECK(errno_ok(r), "continue gave %d", r);
    if (r == 0) {
        FUZZ_CHECK(ivcom_peer_domid(ch) == SERVER_DOM || ivcom_peer_domid(ch) == 5,
                   "connected to %d", ivcom_peer_domid(ch));
        /* A domain the policy refuses never gets a channel: nothing was
         * ever granted to it, whatever its request node says. */
        FUZZ_CHECK(!(W.allow_only && dom == 7), "refused domain 7 connected");
        FUZZ_CHECK(ivcom_connect_continue(ch, 0) == 0, "second continue");
    } else if (r != -EAGAIN && (a & 0x80)) {
        close_client(slot);
    }
}

static void do_live(void)
{
    uint8_t g = fin_u8(&in) % GRANTS, which = fin_u8(&in), v = fin_u8(&in);

    if (W.g[g].mem)
        (&((struct ivcom_ctrl *)W.g[g].mem)->server_live)[which & 1] = v;
}

static void do_ping(void)
{
    uint8_t a = fin_u8(&in), buf[64] = { 0 };
    struct ivcom_chan *c = W.client[(a & 7) % CLIENT_SLOTS], *s = W.acc[(a >> 3) % ACC_SLOTS];
    ssize_t r;

    W.no_wait = 1;
    if (c && c->connected) {
        r = c->params.mode == IVCOM_MODE_MESSAGE ? ivcom_try_send(c, buf, 1 + a % 60)
                                                 : ivcom_try_write(c, buf, 1 + a % 60);
        FUZZ_CHECK(r >= 0 || errno_ok((int)r), "client send gave %zd", r);
    }
    if (s) {
        r = s->params.mode == IVCOM_MODE_MESSAGE ? ivcom_try_recv(s, buf, sizeof(buf))
                                                 : ivcom_try_read(s, buf, sizeof(buf));
        FUZZ_CHECK(r >= 0 || errno_ok((int)r), "server recv gave %zd", r);
    }
    W.no_wait = 0;
}

/* The service's own nodes, as an administrator or a dying instance leaves them. */
static void do_svc_node(void)
{
    uint8_t a = fin_u8(&in);

    switch (a & 7) {
    case 0: st_rm(0, SVC_DIR "/state"); break;
    case 1: st_write(0, SVC_DIR "/state", "closed"); break;
    case 2: st_write(0, SVC_DIR "/state", "listening"); break;
    case 3: st_rm(0, REQ_DIR); break;
    case 4: st_rm(0, SVC_DIR); break;
    case 5: {
        const struct ivcom_xs_perm p[1] = { { SERVER_DOM, IVCOM_XS_PERM_READ } };
        st_set_perms(0, REQ_DIR, p, 1);   /* nobody may ask */
        break;
    }
    default: {  /* a service run by hand, without its library */
        const struct ivcom_xs_perm p[1] = { { SERVER_DOM, IVCOM_XS_PERM_WRITE } };
        const struct ivcom_xs_perm r[1] = { { SERVER_DOM, IVCOM_XS_PERM_READ } };
        st_write(SERVER_DOM, SVC_DIR "/state", "listening");
        st_set_perms(SERVER_DOM, SVC_DIR, r, 1);
        st_set_perms(SERVER_DOM, SVC_DIR "/state", r, 1);
        st_write(SERVER_DOM, REQ_DIR, "");
        st_set_perms(SERVER_DOM, REQ_DIR, p, 1);
        break;
    }
    }
}

static void run_op(uint8_t op)
{
    switch (op % NR_OPS) {
    case OP_OPEN:
        do_open();
        break;
    case OP_ACCEPT:
        do_accept();
        break;
    case OP_CLOSE_SVC:
        ivcom_service_close(W.svc);
        W.svc = NULL;
        break;
    case OP_CONNECT:
        do_connect();
        break;
    case OP_CONTINUE:
        do_continue();
        break;
    case OP_CLOSE_CLIENT:
        close_client(fin_u8(&in) % CLIENT_SLOTS);
        break;
    case OP_CLOSE_ACC: {
        int i = fin_u8(&in) % ACC_SLOTS;

        ivcom_close(W.acc[i]);
        W.acc[i] = NULL;
        break;
    }
    case OP_REQUEST:
        hostile_request(&in);
        break;
    case OP_ANSWER: {
        /* The service (or whoever it is) answers a client of ours. */
        struct ivcom_chan *ch = W.client[fin_u8(&in) % CLIENT_SLOTS];
        char val[VAL_MAX + 1];

        answer_value(&in, val, sizeof(val));
        if (ch && ch->svc && ch->xs_dir[0])
            st_write(SERVER_DOM, ch->xs_dir, val);
        break;
    }
    case OP_EDIT:
        edit(&in);
        break;
    case OP_ON_LIST:
        W.on_list_len = fin_bytes(&in, W.on_list, sizeof(W.on_list));
        break;
    case OP_CLOCK: {
        uint8_t t = fin_u8(&in);

        fake_ns += t & 0x80 ? (uint64_t)(t & 0x7f) * 1000000000ull
                            : (uint64_t)t * 10000000ull;
        break;
    }
    case OP_FAULT: {
        uint8_t k = fin_u8(&in) % NR_XS, sc = fin_u8(&in), e = fin_u8(&in);

        W.f[k].skip = sc & 15;
        W.f[k].count = 1 + (sc >> 4);
        W.f[k].err = fault_errs[e % (sizeof(fault_errs) / sizeof(fault_errs[0]))];
        break;
    }
    case OP_LIVE:
        do_live();
        break;
    case OP_PING:
        do_ping();
        break;
    case OP_SVC_NODE:
        do_svc_node();
        break;
    case OP_FIRE:
        W.pending[fin_u8(&in) & 15] = 1;
        break;
    default:
        sweep_node(&in);
        break;
    }
}

static void root_node(const char *path, int owner, unsigned others)
{
    struct node *n;
    int i;

    for (i = 0; i < NODES && W.n[i].used; i++)
        ;
    n = &W.n[i];
    n->used = 1;
    snprintf(n->path, sizeof(n->path), "%s", path);
    n->nperm = 1;
    n->perm[0].domid = (uint32_t)owner;
    n->perm[0].perms = others;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int cdoms[NR_CDOMS] = { 5, 6, 7 };
    char path[64];
    uint8_t flags;
    unsigned steps = 0, unwatch_failed;
    int i;

    memset(&W, 0, sizeof(W));
    next_nonce = 0x0123456789abcdefull;
    in.p = data;
    in.n = size;
    flags = fin_u8(&in);
    W.pid0 = flags & 1;
    W.allow_only = flags & 2;
    W.max_dom = flags & 4;
    W.no_fd = flags & 32;
    ivcom_params_init(&W.params);
    W.params.mode = flags & 8 ? IVCOM_MODE_STREAM : IVCOM_MODE_MESSAGE;
    W.params.tx_order = W.params.rx_order = flags & 16 ? 13 : 12;
    W.params.spin_us = 0;
    root_node("/local", 0, IVCOM_XS_PERM_READ);
    root_node("/local/domain", 0, IVCOM_XS_PERM_READ);
    for (i = 0; i < 16; i++) {
        if (i != SERVER_DOM && i != HOSTILE_DOM && (i < 5 || i > 7))
            continue;
        snprintf(path, sizeof(path), "/local/domain/%d", i);
        root_node(path, i, IVCOM_XS_PERM_NONE);
    }
    W.server.ops = &fake_ops;
    W.server.domid = SERVER_DOM;
    for (i = 0; i < NR_CDOMS; i++) {
        W.cplat[i].ops = &fake_ops;
        W.cplat[i].domid = cdoms[i];
    }
    while (fin_more(&in) && steps++ < 400)
        run_op(fin_u8(&in));

    /* Everything closes, with no fault armed; then nothing is left. */
    unwatch_failed = W.f[X_UNWATCH].fired;
    memset(W.f, 0, sizeof(W.f));
    for (i = 0; i < CLIENT_SLOTS; i++)
        close_client(i);
    for (i = 0; i < ACC_SLOTS; i++)
        ivcom_close(W.acc[i]);
    ivcom_service_close(W.svc);
    FUZZ_CHECK(!W.in_tx, "a transaction was left open");
    FUZZ_CHECK(!W.shares && !W.maps && !W.ports && !W.handles,
               "left shares %d maps %d ports %d handles %d", W.shares, W.maps, W.ports,
               W.handles);
    FUZZ_CHECK(W.watches == 0 || unwatch_failed, "left %d watches", W.watches);
    for (i = 0; i < GRANTS; i++)
        free(W.g[i].mem);
    return 0;
}
