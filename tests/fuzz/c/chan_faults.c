/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: both ends of a channel -- listen, accept, connect, the data
 * path, the presence probe and close -- over a fake platform that fails
 * on demand.
 *
 * A server (domain 3) and a client (domain 5) run the real channel code
 * (chan*.c, ring.c) in one thread over one fake platform: an in-memory
 * XenStore, grants that alias the sharer's pages, event channels that set
 * a pending flag on the other end.  The clock and the offer's nonce are
 * fake too (-Wl,--wrap=ivcom_now_ns,--wrap=ivcom_os_nonce): the clock
 * moves 50 us per reading, so every timed wait ends after a bounded number
 * of steps without sleeping.
 *
 * The input is a program.  Besides the calls of either end it can arm a
 * fault on any platform operation ("let n calls of op K pass, then fail
 * the next m with errno E": transaction ends that say -EAGAIN, quota
 * errors, -EACCES half-way through a handshake, a grant map, share or
 * event-channel bind that fails ...), edit or delete XenStore nodes
 * (malformed numbers, a bad nonce, a node gone between two reads), write
 * either live byte, and schedule one such action to happen while the next
 * wait blocks (the other end "runs" meanwhile).
 *
 * Input: u8 flags (bit 0: the watch wait times out instead of firing;
 * bits 1-2: what an event-channel wait does when nothing is pending:
 * time out, -EINTR, report an event anyway, fail; bit 3: spins yield, as
 * on the sim; bit 4: spin_us 10000 instead of 2), then ops (see run_op_of; bit 7 of an op byte picks the
 * end: 0 server, 1 client).
 *
 * Invariants: every call returns 0, a count or an -errno from its
 * documented set, never a crash or an access outside the shared pages
 * (every page is exactly sized); a failed listen or connect leaves no
 * grant, mapping, port or handle behind (and, when no XenStore fault hit
 * its clean-up, no node); after both ends close nothing is left at all;
 * bytes that arrive are the bytes that were sent, in order.
 */
#include <errno.h>
#include <sys/types.h>

#include "fuzz_input.h"
#include "internal.h"

#define SERVER_DOM  3
#define CLIENT_DOM  5
#define NODES       64
#define VAL_MAX     48
#define GRANTS      8
#define WAIT_BUDGET 4000
#define OFFER       "/local/domain/3/data/ivcom/svc"
#define PRESENCE    "/local/domain/5/data/ivcom-client/3/svc"

static struct fin in;

/* ---- faults ---------------------------------------------------------------- */

enum op_kind {
    K_SHARE, K_UNSHARE, K_MAP, K_UNMAP, K_UNMAP_NOTIFY, K_EV_OPEN, K_ALLOC_UNBOUND,
    K_BIND, K_UNBIND, K_NOTIFY, K_EV_WAIT, K_ACK, K_FD, K_XS_READ, K_XS_WRITE, K_XS_RM,
    K_XS_PERMS, K_TX_START, K_TX_END, K_WATCH, K_UNWATCH, K_WAIT_WATCH, K_CALLOC, NR_KINDS
};

static const int fault_errs[] = {
    EAGAIN, ENOSPC, E2BIG, EACCES, ENOENT, EPERM, EIO, EINVAL, ENOMEM, EOPNOTSUPP,
    ETIMEDOUT, EINTR, EBUSY,
};

struct fault {
    unsigned skip, count;
    int err;
    unsigned fired;
};

/* ---- the world ----------------------------------------------------------------- */

struct node {
    int used;
    char path[IVCOM_PATH_MAX];
    char val[VAL_MAX + 1];
};

struct grant {
    uint8_t *mem;           /* exactly npages pages */
    unsigned npages;
    int shared;             /* the sharer has not unshared yet */
    int maps;               /* the peer's live mappings */
};

struct ev {
    int open;
    int side;               /* 0 server, 1 client */
    int pending;
};

struct side {
    struct ivcom_platform plat;
    struct ivcom_chan *ch;
    int maps, shares, ports, handles;   /* live resources */
};

static struct {
    struct fault f[NR_KINDS];
    struct node n[NODES];
    struct node tx_snap[NODES];     /* the store when the transaction began */
    int in_tx;
    struct grant g[GRANTS];
    struct ev ev[2];
    struct side s[2];
    uint32_t next_port;
    int watch_times_out, wait_mode;
    unsigned waits;
    uint8_t on_wait[4];     /* an action for the next blocked wait */
    size_t on_wait_len;
    int in_wait;
    int lib_wrote_presence;     /* connect wrote it (not a stale leftover) */
    int busy[2];                /* a library call of that side is running */
    int in_lib;                 /* calloc faults only hit the library */
    unsigned spin_at;           /* the on-wait action at this clock read */
    int no_order;               /* zero-copy writes: contents not checked */
    unsigned spin_us;           /* of both ends, unless an op says 0 */
    /* the byte streams each direction carried, to check order */
    uint8_t s2c_next, c2s_next, s2c_seen, c2s_seen;
} W;

static uint64_t fake_ns = 1000000000ull;

static void while_blocked(void);

/* The clock: 50 us a reading.  A spinning or polling wait reads it, so an
 * action scheduled "on spin" runs there: the other end moves while this
 * one spins. */
uint64_t __wrap_ivcom_now_ns(void);
uint64_t __wrap_ivcom_now_ns(void)
{
    fake_ns += 50000;
    if (W.spin_at && --W.spin_at == 0)
        while_blocked();
    return fake_ns;
}

/* Allocation fails on demand (inside library calls only). */
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    extern int chan_faults_calloc_fault(void);

    if (chan_faults_calloc_fault())
        return NULL;
    return __real_calloc(n, size);
}

static uint64_t next_nonce = 0x0123456789abcdefull;

uint64_t __wrap_ivcom_os_nonce(void);
uint64_t __wrap_ivcom_os_nonce(void)
{
    next_nonce = next_nonce * 6364136223846793005ull + 1442695040888963407ull;
    return next_nonce;
}

/* 0, or the error an armed fault injects into this call of op k. */
static int fault(enum op_kind k)
{
    struct fault *f = &W.f[k];

    if (f->skip) {
        f->skip--;
        return 0;
    }
    if (f->count) {
        f->count--;
        f->fired++;
        return -f->err;
    }
    return 0;
}

int chan_faults_calloc_fault(void);
int chan_faults_calloc_fault(void)
{
    return W.in_lib && fault(K_CALLOC);
}

static int side_of(struct ivcom_platform *p)
{
    return p->domid == CLIENT_DOM;
}

/* ---- XenStore ---------------------------------------------------------------- */

static struct node *find(const char *path)
{
    int i;

    for (i = 0; i < NODES; i++)
        if (W.n[i].used && strcmp(W.n[i].path, path) == 0)
            return &W.n[i];
    return NULL;
}

static int store_write(const char *path, const char *val)
{
    struct node *n = find(path);
    int i;

    if (strlen(val) > VAL_MAX)
        return -E2BIG;
    for (i = 0; !n && i < NODES; i++)
        if (!W.n[i].used)
            n = &W.n[i];
    if (!n)
        return -ENOSPC;         /* the quota */
    n->used = 1;
    snprintf(n->path, sizeof(n->path), "%s", path);
    snprintf(n->val, sizeof(n->val), "%s", val);
    return 0;
}

static void store_rm(const char *path)
{
    size_t len = strlen(path);
    int i;

    for (i = 0; i < NODES; i++)
        if (W.n[i].used && strncmp(W.n[i].path, path, len) == 0 &&
            (W.n[i].path[len] == '\0' || W.n[i].path[len] == '/'))
            W.n[i].used = 0;
}

static void check_path(const char *path)
{
    FUZZ_CHECK(path[0] == '/' && strlen(path) < IVCOM_PATH_MAX, "path %s", path);
}

static int f_xs_read(struct ivcom_platform *p, uint32_t tx, const char *path, char *buf,
                     size_t len)
{
    struct node *n;
    int err = fault(K_XS_READ);

    (void)p; (void)tx;
    check_path(path);
    if (err)
        return err;
    n = find(path);
    if (!n)
        return -ENOENT;
    if (len == 0 || strlen(n->val) >= len)
        return -E2BIG;
    memcpy(buf, n->val, strlen(n->val) + 1);
    return 0;
}

static int f_xs_write(struct ivcom_platform *p, uint32_t tx, const char *path, const char *v)
{
    int err = fault(K_XS_WRITE);

    (void)p; (void)tx;
    check_path(path);
    if (!err && !W.in_wait && strcmp(path, PRESENCE) == 0)
        W.lib_wrote_presence = 1;
    return err ? err : store_write(path, v);
}

static int f_xs_rm(struct ivcom_platform *p, uint32_t tx, const char *path)
{
    int err = fault(K_XS_RM);

    (void)p; (void)tx;
    check_path(path);
    if (err)
        return err;
    store_rm(path);
    return 0;
}

static int f_xs_set_perms(struct ivcom_platform *p, uint32_t tx, const char *path,
                          const struct ivcom_xs_perm *perms, unsigned n)
{
    int err = fault(K_XS_PERMS);

    (void)tx;
    check_path(path);
    FUZZ_CHECK(n == 2 && perms[0].domid == (uint32_t)p->domid &&
               perms[0].perms == IVCOM_XS_PERM_NONE &&
               perms[1].domid == (uint32_t)(side_of(p) ? SERVER_DOM : CLIENT_DOM),
               "%s perms of %s", side_of(p) ? "client" : "server", path);
    if (err)
        return err;
    return find(path) ? 0 : -ENOENT;
}

static int f_tx_start(struct ivcom_platform *p, uint32_t *tx)
{
    int err = fault(K_TX_START);

    (void)p;
    if (err)
        return err;
    FUZZ_CHECK(!W.in_tx, "nested transaction");
    memcpy(W.tx_snap, W.n, sizeof(W.n));
    W.in_tx = 1;
    *tx = 7;
    return 0;
}

static int f_tx_end(struct ivcom_platform *p, uint32_t tx, int discard)
{
    int err = fault(K_TX_END);

    (void)p;
    FUZZ_CHECK(tx == 7 && W.in_tx, "end of transaction %u", tx);
    W.in_tx = 0;
    /* An aborted or failed transaction left no trace. */
    if (discard || err)
        memcpy(W.n, W.tx_snap, sizeof(W.n));
    return err;
}

static int f_watch(struct ivcom_platform *p, const char *path, const char *token)
{
    (void)p; (void)token;
    check_path(path);
    return fault(K_WATCH);
}

static int f_unwatch(struct ivcom_platform *p, const char *path, const char *token)
{
    (void)p; (void)token;
    check_path(path);
    return fault(K_UNWATCH);
}

static void act(struct fin *a);

/* Whatever the other end does while this one blocks. */
static void while_blocked(void)
{
    W.spin_at = 0;
    if (W.on_wait_len && !W.in_wait) {
        struct fin a = { W.on_wait, W.on_wait_len };

        W.on_wait_len = 0;
        W.in_wait = 1;
        act(&a);
        W.in_wait = 0;
    }
}

static int f_wait_watch(struct ivcom_platform *p, int timeout_ms)
{
    int err = fault(K_WAIT_WATCH);

    (void)p;
    FUZZ_CHECK(timeout_ms >= 0, "watch wait of %d ms", timeout_ms);
    while_blocked();
    if (err)
        return err;
    return W.watch_times_out ? -ETIMEDOUT : 0;
}

/* ---- grants ------------------------------------------------------------------ */

#define REF(g, i) (1000u + (uint32_t)(g) * 64u + (uint32_t)(i))

static int f_share(struct ivcom_platform *p, int peer, unsigned n, void **a, uint32_t *refs)
{
    int err = fault(K_SHARE), i;
    unsigned k;

    FUZZ_CHECK(!side_of(p) && peer == CLIENT_DOM, "share to %d", peer);
    FUZZ_CHECK(n >= 2 && n <= 1 + IVCOM_CTRL_MAX_GREFS, "share of %u pages", n);
    if (err)
        return err;
    for (i = 0; i < GRANTS; i++)
        if (!W.g[i].mem)
            break;
    if (i == GRANTS)
        return -ENOSPC;
    W.g[i].mem = __real_calloc(n, IVCOM_PAGE_SIZE);     /* never a fault */
    if (!W.g[i].mem)
        abort();
    W.g[i].npages = n;
    W.g[i].shared = 1;
    for (k = 0; k < n; k++)
        refs[k] = REF(i, k);
    *a = W.g[i].mem;
    W.s[0].shares++;
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
    int err = fault(K_UNSHARE), i;

    (void)p;
    for (i = 0; i < GRANTS; i++)
        if (W.g[i].mem == a && W.g[i].shared)
            break;
    FUZZ_CHECK(i < GRANTS && W.g[i].npages == n, "unshare of an unknown area");
    if (err)
        return err;             /* leaked, as a failed revoke leaks */
    W.g[i].shared = 0;
    W.s[0].shares--;
    grant_put(&W.g[i]);
    return 0;
}

static int f_map(struct ivcom_platform *p, int peer, unsigned n, const uint32_t *refs,
                 int writable, void **addr)
{
    int err = fault(K_MAP);
    uint32_t g, first;
    unsigned k;

    FUZZ_CHECK(side_of(p) && peer == SERVER_DOM && writable, "map from %d", peer);
    FUZZ_CHECK(n >= 1 && n <= IVCOM_CTRL_MAX_GREFS, "map of %u pages", n);
    if (err)
        return err;
    /* Only refs of one live grant, in order, map (as gntdev: refs not
     * granted to us are refused). */
    if (refs[0] < 1000u || (refs[0] - 1000u) / 64u >= GRANTS)
        return -EPERM;
    g = (refs[0] - 1000u) / 64u;
    first = (refs[0] - 1000u) % 64u;
    if (!W.g[g].mem || !W.g[g].shared || first + n > W.g[g].npages)
        return -EPERM;
    for (k = 0; k < n; k++)
        if (refs[k] != refs[0] + k)
            return -EPERM;
    W.g[g].maps++;
    W.s[1].maps++;
    *addr = W.g[g].mem + (size_t)first * IVCOM_PAGE_SIZE;
    return 0;
}

static int f_unmap(struct ivcom_platform *p, void *addr, unsigned n)
{
    int err = fault(K_UNMAP), i;

    (void)p;
    for (i = 0; i < GRANTS; i++)
        if (W.g[i].mem && (uint8_t *)addr >= W.g[i].mem &&
            (uint8_t *)addr + (size_t)n * IVCOM_PAGE_SIZE <=
            W.g[i].mem + (size_t)W.g[i].npages * IVCOM_PAGE_SIZE)
            break;
    FUZZ_CHECK(i < GRANTS && W.g[i].maps > 0, "unmap of an unknown area");
    if (err)
        return err;
    W.g[i].maps--;
    W.s[1].maps--;
    grant_put(&W.g[i]);
    return 0;
}

static int f_unmap_notify(struct ivcom_platform *p, void *a, uint32_t off, uint32_t port)
{
    (void)p; (void)a; (void)port;
    FUZZ_CHECK(off < IVCOM_PAGE_SIZE, "unmap notify offset %u", off);
    return fault(K_UNMAP_NOTIFY);
}

/* ---- event channels ---------------------------------------------------------- */

static int f_evtchn_open(struct ivcom_platform *p, struct ivcom_evtchn **out)
{
    int err = fault(K_EV_OPEN), s = side_of(p);

    if (err)
        return err;
    FUZZ_CHECK(!W.ev[s].open, "second event handle on side %d", s);
    W.ev[s].open = 1;
    W.ev[s].side = s;
    W.ev[s].pending = 0;
    W.s[s].handles++;
    *out = (struct ivcom_evtchn *)&W.ev[s];
    return 0;
}

static void f_evtchn_close(struct ivcom_evtchn *e)
{
    struct ev *v = (struct ev *)e;

    FUZZ_CHECK(v->open, "close of a closed handle");
    v->open = 0;
    W.s[v->side].handles--;
}

static int f_alloc_unbound(struct ivcom_evtchn *e, int peer, uint32_t *port)
{
    int err = fault(K_ALLOC_UNBOUND);

    FUZZ_CHECK(((struct ev *)e)->side == 0 && peer == CLIENT_DOM, "alloc for %d", peer);
    if (err)
        return err;
    *port = ++W.next_port;
    W.s[0].ports++;
    return 0;
}

static int f_bind(struct ivcom_evtchn *e, int peer, uint32_t remote, uint32_t *port)
{
    int err = fault(K_BIND);

    (void)remote;
    FUZZ_CHECK(((struct ev *)e)->side == 1 && peer == SERVER_DOM, "bind to %d", peer);
    if (err)
        return err;
    *port = ++W.next_port;
    W.s[1].ports++;
    return 0;
}

static int f_unbind(struct ivcom_evtchn *e, uint32_t port)
{
    int err = fault(K_UNBIND);

    FUZZ_CHECK(port != 0, "unbind of port 0");
    if (err)
        return err;
    W.s[((struct ev *)e)->side].ports--;
    return 0;
}

static int f_notify(struct ivcom_evtchn *e, uint32_t port)
{
    struct ev *v = (struct ev *)e;
    int err = fault(K_NOTIFY);

    (void)port;
    if (err)
        return err;
    W.ev[!v->side].pending = 1;
    return 0;
}

static int f_wait(struct ivcom_evtchn *e, int timeout_ms)
{
    struct ev *v = (struct ev *)e;
    int err = fault(K_EV_WAIT);

    FUZZ_CHECK(timeout_ms >= 0 && timeout_ms <= IVCOM_PROBE_MS, "wait slice %d ms", timeout_ms);
    if (++W.waits > WAIT_BUDGET)
        return -EIO;            /* a wait with no deadline ends here */
    while_blocked();
    if (err)
        return err;
    if (v->pending) {
        v->pending = 0;
        return 0;
    }
    switch (W.wait_mode) {
    case 0:
        fake_ns += (uint64_t)timeout_ms * 1000000u;
        return -ETIMEDOUT;
    case 1:
        return -EINTR;
    case 2:
        return 0;               /* spurious */
    default:
        return -EIO;
    }
}

static int f_ack(struct ivcom_evtchn *e)
{
    struct ev *v = (struct ev *)e;
    int err = fault(K_ACK), was = v->pending;

    if (err)
        return err;
    v->pending = 0;
    return was;
}

static int f_fd(struct ivcom_evtchn *e)
{
    int err = fault(K_FD);

    (void)e;
    return err ? err : 42;
}

static int f_open(struct ivcom_platform *p) { (void)p; return 0; }
static void f_close(struct ivcom_platform *p) { (void)p; }

#define FAKE_OPS \
    .open = f_open, .close = f_close, \
    .share = f_share, .unshare = f_unshare, .map = f_map, .unmap = f_unmap, \
    .unmap_notify = f_unmap_notify, \
    .evtchn_open = f_evtchn_open, .evtchn_close = f_evtchn_close, \
    .evtchn_alloc_unbound = f_alloc_unbound, .evtchn_bind = f_bind, \
    .evtchn_unbind = f_unbind, .evtchn_notify = f_notify, .evtchn_wait = f_wait, \
    .evtchn_ack = f_ack, .evtchn_fd = f_fd, \
    .xs_read = f_xs_read, .xs_write = f_xs_write, .xs_rm = f_xs_rm, \
    .xs_set_perms = f_xs_set_perms, .xs_tx_start = f_tx_start, .xs_tx_end = f_tx_end, \
    .xs_watch = f_watch, .xs_unwatch = f_unwatch, .xs_wait_watch = f_wait_watch

static const struct ivcom_platform_ops fake_ops = { .name = "fuzz-faults", FAKE_OPS };
/* As the sim: the peer may be a process on this CPU, so a spin yields. */
static const struct ivcom_platform_ops fake_ops_yield = {
    .name = "fuzz-faults-yield", .yield_in_spin = 1, FAKE_OPS
};

/* ---- actions: faults, XenStore edits, live bytes ------------------------------- */

static const char *const leaves[] = {
    OFFER "/state", OFFER "/version", OFFER "/mode", OFFER "/s2c-order",
    OFFER "/c2s-order", OFFER "/ctrl-ref", OFFER "/event-channel", OFFER "/nonce",
    OFFER "/client-domid", OFFER "/client/state", OFFER "/client/event-channel",
    PRESENCE, OFFER,
};
#define NR_LEAVES (sizeof(leaves) / sizeof(leaves[0]))

static const char *const values[] = {
    "offered", "connected", "closed", "", "1", "2", "message", "stream", "bogus", "12",
    "11", "21", "13", "1001", "4294967296", "-1", "12x", "5", "6", "0123456789abcdef",
    "0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0", "0123456789abcdeg",
    "+12", " 12", "99999999999999999999",
};
#define NR_VALUES (sizeof(values) / sizeof(values[0]))

enum { A_FAULT, A_STORE, A_LIVE, A_NONCE, A_WAITS, A_INDEX, A_PAGE, A_PEER, NR_ACTIONS };

static void peer_moves(int s, uint8_t how);

static void act(struct fin *a)
{
    uint8_t what = fin_u8(a) % NR_ACTIONS;

    switch (what) {
    case A_FAULT: {
        struct fault *f = &W.f[fin_u8(a) % NR_KINDS];
        uint8_t sc = fin_u8(a);

        f->skip = sc & 15;
        f->count = 1 + (sc >> 4);       /* 1..16: enough to exhaust retries */
        f->err = fault_errs[fin_u8(a) % (sizeof(fault_errs) / sizeof(fault_errs[0]))];
        break;
    }
    case A_STORE: {
        const char *path = leaves[fin_u8(a) % NR_LEAVES];
        uint8_t v = fin_u8(a);

        if (v == 0xff)
            store_rm(path);
        else
            store_write(path, values[v % NR_VALUES]);
        break;
    }
    case A_LIVE: {
        /* Either end's live byte, as a dying or hostile peer leaves it. */
        uint8_t which = fin_u8(a), v = fin_u8(a);
        struct ivcom_chan *ch = W.s[which & 1].ch;

        if (ch && ch->ctrl)
            (which & 2 ? &ch->ctrl->client_live : &ch->ctrl->server_live)[0] = v;
        break;
    }
    case A_NONCE: {
        /* The page behind the offer's ref now belongs to another offer. */
        struct ivcom_chan *ch = W.s[0].ch;

        if (ch && ch->ctrl)
            ch->ctrl->nonce ^= 1 + fin_u8(a);
        break;
    }
    case A_WAITS:
        W.wait_mode = fin_u8(a) & 3;
        W.watch_times_out = fin_u8(a) & 1;
        break;
    case A_INDEX: {
        /* A hostile peer moves an index of the shared page. */
        struct ivcom_chan *ch = W.s[0].ch;
        uint8_t which = fin_u8(a);
        int16_t d = (int16_t)fin_u16(a);

        W.no_order = 1;         /* what it makes us read is garbage */
        if (ch && ch->ctrl) {
            uint32_t *idx[4] = { &ch->ctrl->s2c_prod.prod, &ch->ctrl->s2c_cons.cons,
                                 &ch->ctrl->c2s_prod.prod, &ch->ctrl->c2s_cons.cons };
            *idx[which & 3] += (uint32_t)(int32_t)d;
        }
        break;
    }
    case A_PAGE: {
        struct ivcom_chan *ch = W.s[0].ch;
        uint16_t off = fin_u16(a) & (IVCOM_PAGE_SIZE - 1);
        uint8_t v = fin_u8(a);

        W.no_order = 1;
        if (ch && ch->ctrl)
            ((uint8_t *)ch->ctrl)[off] = v;
        break;
    }
    default: {
        uint8_t how = fin_u8(a);

        peer_moves(how & 1, how >> 1);
        break;
    }
    }
}

/* ---- the program ---------------------------------------------------------------- */

enum {
    OP_ACT, OP_ON_WAIT, OP_LISTEN, OP_ACCEPT, OP_CONNECT, OP_CLOSE, OP_SEND, OP_RECV,
    OP_WAIT, OP_INFO, OP_ZERO_COPY, OP_ON_SPIN, NR_OPS
};

static const int timeouts[] = { 0, 3, 50, -1 };

/* A polling channel never blocks, so its wait without a deadline would
 * spin for ever on a peer that never comes (as it would on a real one). */
static int timeout_for(const struct ivcom_chan *ch, unsigned sel)
{
    int t = timeouts[sel & 3];

    return t < 0 && ch->params.poll_only ? 250 : t;
}

static int allowed_setup(int r)
{
    return r == 0 || (r < 0 && r >= -4095);
}

/* Faults that make a clean-up step leak on purpose (as a failed revoke,
 * unmap or unbind does on a real platform). */
static unsigned cleanup_faults(void)
{
    return W.f[K_UNSHARE].fired + W.f[K_UNMAP].fired + W.f[K_UNBIND].fired;
}

static void leak_check(int s, const struct side *before, const char *what, int r)
{
    const struct side *now = &W.s[s];

    FUZZ_CHECK(now->maps == before->maps && now->shares == before->shares &&
               now->ports == before->ports && now->handles == before->handles,
               "failed %s (%d) left maps %d shares %d ports %d handles %d (before %d %d %d %d)",
               what, r, now->maps, now->shares, now->ports, now->handles, before->maps,
               before->shares, before->ports, before->handles);
}

static void do_listen(void)
{
    static const char *const names[] = { "svc", "Svc-9_z", "a.b", "",
        ("svc-but-a-name-that-is-far-too-long-for-any-xenstore-path-element-123") };
    static const int peers[] = { CLIENT_DOM, CLIENT_DOM, SERVER_DOM, -1, 0x7ff0 };
    uint8_t a = fin_u8(&in), b = fin_u8(&in);
    struct ivcom_params p;
    struct side before = W.s[0];
    unsigned fired = cleanup_faults();
    int r;

    if (W.s[0].ch)
        return;
    ivcom_params_init(&p);
    p.mode = a & 1 ? IVCOM_MODE_STREAM : IVCOM_MODE_MESSAGE;
    p.tx_order = (uint8_t)(12 + (a >> 1) % 3);
    p.rx_order = (uint8_t)(12 + (a >> 3) % 3);
    p.spin_us = a & 0x20 ? 0 : W.spin_us;
    p.poll_only = (a & 0xc0) == 0xc0;
    if ((b & 0x18) == 0x18)
        p.tx_order = 30;        /* refused */
    r = ivcom_listen(&W.s[0].plat, names[b % 5], peers[(b >> 5) % 5],
                     b & 0x80 && !(a & 1) ? NULL : &p, &W.s[0].ch);
    FUZZ_CHECK(allowed_setup(r), "listen gave %d", r);
    if (r) {
        W.s[0].ch = NULL;
        if (cleanup_faults() == fired)
            leak_check(0, &before, "listen", r);
    }
}

static void do_connect(void)
{
    static const int servers[] = { SERVER_DOM, SERVER_DOM, SERVER_DOM, CLIENT_DOM, SERVER_DOM };
    uint8_t a = fin_u8(&in);
    struct ivcom_params p;
    struct side before = W.s[1];
    unsigned fired = cleanup_faults(), xs_fired = W.f[K_XS_RM].fired;
    int had_presence;
    int r, t = timeouts[(a >> 3) & 3];

    if (W.s[1].ch)
        return;
    W.lib_wrote_presence = 0;
    had_presence = find(PRESENCE) != NULL;
    ivcom_params_init(&p);
    p.spin_us = a & 0x20 ? 0 : W.spin_us;
    p.poll_only = (a & 0xc0) == 0xc0;
    if (t < 0)
        t = 5;                  /* an offer that never comes would wait forever */
    r = ivcom_connect(&W.s[1].plat, a % 5 == 4 ? "" : "svc", servers[a % 5],
                      a & 0x80 ? NULL : &p, &W.s[1].ch, t);
    FUZZ_CHECK(allowed_setup(r), "connect gave %d", r);
    if (r) {
        W.s[1].ch = NULL;
        if (cleanup_faults() == fired)
            leak_check(1, &before, "connect", r);
        if (W.f[K_XS_RM].fired == xs_fired && W.lib_wrote_presence && !had_presence)
            FUZZ_CHECK(!find(PRESENCE), "failed connect (%d) left its presence node", r);
    }
}

/* Payload bytes count up per direction, so order and content are checked. */
static void fill(uint8_t *b, size_t n, uint8_t *next)
{
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = (*next)++;
}

static void seen(const uint8_t *b, size_t n, uint8_t *next, const char *dir)
{
    size_t i;

    for (i = 0; i < n; i++, (*next)++)
        FUZZ_CHECK(b[i] == *next, "%s byte %zu is %u, expected %u", dir, i, b[i], *next);
}

static int data_ok(long long r)
{
    return r >= 0 || r == -EAGAIN || r == -EPIPE || r == -ETIMEDOUT || r == -EPROTO ||
           r == -ENOTCONN || r == -EINVAL || r == -EMSGSIZE || r == -EIO || r == -EINTR ||
           r == -ESTALE || (r < 0 && r >= -4095);
}

static void do_send(int s)
{
    static uint8_t buf[1 << 15];
    struct ivcom_chan *ch = W.s[s].ch;
    uint8_t *next = s ? &W.c2s_next : &W.s2c_next;
    uint8_t a = fin_u8(&in);
    size_t len = fin_u16(&in) % sizeof(buf);
    int t;
    long long r;

    if (!ch)
        return;
    t = timeout_for(ch, a);
    if (ch->params.mode == IVCOM_MODE_MESSAGE) {
        uint8_t save = *next;

        fill(buf, len, next);
        r = a & 4 ? ivcom_send(ch, buf, len, t) : ivcom_try_send(ch, buf, len);
        if (r < 0)
            *next = save;
        else
            FUZZ_CHECK(r == (long long)len, "send of %zu gave %lld", len, r);
    } else {
        uint8_t save = *next;

        fill(buf, len, next);
        r = a & 4 ? ivcom_write_all(ch, buf, len, t) : ivcom_write(ch, buf, len, t);
        FUZZ_CHECK(r <= (long long)len, "write of %zu gave %lld", len, r);
        *next = (uint8_t)(save + (r > 0 ? r : 0));
    }
    FUZZ_CHECK(data_ok(r), "send gave %lld", r);
}

static void do_recv(int s)
{
    static uint8_t buf[1 << 15];
    struct ivcom_chan *ch = W.s[s].ch;
    uint8_t *next = s ? &W.s2c_seen : &W.c2s_seen;
    uint8_t a = fin_u8(&in);
    size_t len = fin_u16(&in) % sizeof(buf);
    int t;
    long long r;

    if (!ch)
        return;
    t = timeout_for(ch, a);
    if (ch->params.mode == IVCOM_MODE_MESSAGE)
        r = a & 4 ? ivcom_recv(ch, buf, len, t) : ivcom_try_recv(ch, buf, len);
    else
        r = a & 4 ? ivcom_read(ch, buf, len, t) : ivcom_try_read(ch, buf, len);
    FUZZ_CHECK(data_ok(r), "recv gave %lld", r);
    FUZZ_CHECK(r <= (long long)len, "recv of %zu gave %lld", len, r);
    if (r > 0 && !ivcom_is_broken(ch) && !W.no_order)
        seen(buf, (size_t)r, next, s ? "s2c" : "c2s");
}

static void do_wait(int s)
{
    struct ivcom_chan *ch = W.s[s].ch;
    uint8_t a = fin_u8(&in);
    int t, r;

    if (!ch)
        return;
    t = timeout_for(ch, a >> 2);
    switch (a & 3) {
    case 0:
        r = ivcom_wait_readable(ch, t);
        break;
    case 1:
        r = ivcom_wait_writable(ch, 1 + fin_u16(&in), t);
        break;
    case 2:
        r = ivcom_flush(ch, t);
        break;
    default:
        r = ivcom_ack(ch);
        break;
    }
    FUZZ_CHECK(r <= 0 && data_ok(r), "wait %u gave %d", a & 3, r);
}

static void do_info(int s)
{
    struct ivcom_chan *ch = W.s[s].ch;
    struct ivcom_stats st;
    int fd;

    if (!ch)
        return;
    ivcom_get_stats(ch, &st);
    FUZZ_CHECK(ivcom_peer_domid(ch) == (s ? SERVER_DOM : CLIENT_DOM), "peer domid");
    FUZZ_CHECK(ivcom_local_port(ch) >= 0, "local port");
    FUZZ_CHECK(ivcom_max_msg(ch) < ch->tx.size, "max msg");
    fd = ivcom_fd(ch);
    FUZZ_CHECK(fd == 42 || fd < 0, "fd %d", fd);
    (void)ivcom_is_broken(ch);
    ivcom_close(NULL);
}

/* The zero-copy calls (and try_ variants); their payloads are not the
 * counted bytes, so the order check ends with the first of them. */
static void run_op_of(uint8_t op, int s);

static void do_zero_copy(int s)
{
    struct ivcom_chan *ch = W.s[s].ch;
    uint8_t a = fin_u8(&in);
    const void *cbuf;
    void *wbuf;
    size_t len = fin_u16(&in) % 9000;
    int r = 0, t;

    if (!ch)
        return;
    W.no_order = 1;
    t = timeout_for(ch, a >> 4);
    switch (a & 15) {
    case 0:
        r = ivcom_msg_reserve(ch, len, &wbuf, t);
        if (r == 0)
            memset(wbuf, 0x5a, len);
        break;
    case 1:
        r = ivcom_msg_try_reserve(ch, len, &wbuf);
        if (r == 0)
            memset(wbuf, 0x5a, len);
        break;
    case 2:
        r = ivcom_msg_commit(ch);
        break;
    case 3:
        r = ivcom_msg_peek(ch, &cbuf, &len, t);
        if (r == 0)
            fuzz_touch(cbuf, len);
        break;
    case 4:
        r = ivcom_msg_try_peek(ch, &cbuf, &len);
        if (r == 0)
            fuzz_touch(cbuf, len);
        break;
    case 5:
        r = ivcom_msg_release(ch);
        break;
    case 6:
        r = ivcom_stream_try_reserve(ch, &wbuf, &len);
        if (r == 0)
            memset(wbuf, 0x5b, len);
        break;
    case 7:
        r = ivcom_stream_commit(ch, len);
        break;
    case 8:
        r = ivcom_stream_try_peek(ch, &cbuf, &len);
        if (r == 0)
            fuzz_touch(cbuf, len);
        break;
    case 9:
        r = ivcom_stream_release(ch, len);
        break;
    case 10: {
        static uint8_t buf[9000];
        ssize_t n = ivcom_try_write(ch, buf, len);
        FUZZ_CHECK(n <= (ssize_t)len, "try_write of %zu gave %zd", len, n);
        r = n < 0 ? (int)n : 0;
        break;
    }
    case 11: {
        static uint8_t buf[9000];
        ssize_t n = ivcom_try_read(ch, buf, len);
        FUZZ_CHECK(n <= (ssize_t)len, "try_read of %zu gave %zd", len, n);
        r = n < 0 ? (int)n : 0;
        break;
    }
    default:
        r = ivcom_wait_writable(ch, len, t);
        break;
    }
    FUZZ_CHECK(r <= 0 && data_ok(r), "zero-copy %u gave %d", a & 15, r);
}

/* The other end moves while this one waits: it takes what there is, or
 * sends (copy API), unless a call of its own is running. */
static void peer_moves(int s, uint8_t how)
{
    static uint8_t buf[1 << 14];
    struct ivcom_chan *ch = W.s[s].ch;
    size_t len = (size_t)(how >> 1) * 97;
    ssize_t r;

    if (!ch || W.busy[s])
        return;
    W.busy[s] = 1;
    W.no_order = 1;
    if (how & 1)
        r = ch->params.mode == IVCOM_MODE_MESSAGE ? ivcom_try_send(ch, buf, len)
                                                   : ivcom_try_write(ch, buf, len);
    else
        r = ch->params.mode == IVCOM_MODE_MESSAGE ? ivcom_try_recv(ch, buf, sizeof(buf))
                                                   : ivcom_try_read(ch, buf, sizeof(buf));
    FUZZ_CHECK(data_ok(r), "peer move gave %zd", r);
    W.busy[s] = 0;
}

static void run_op(uint8_t op)
{
    int s = op >> 7;

    W.busy[s] = 1;
    W.in_lib = 1;
    run_op_of(op, s);
    W.in_lib = 0;
    W.busy[s] = 0;
}

static void run_op_of(uint8_t op, int s)
{

    switch ((op & 0x7f) % NR_OPS) {
    case OP_ACT:
        act(&in);
        break;
    case OP_ON_WAIT:
        W.on_wait_len = fin_bytes(&in, W.on_wait, sizeof(W.on_wait));
        break;
    case OP_LISTEN:
        do_listen();
        break;
    case OP_ACCEPT:
        if (W.s[0].ch) {
            int r = ivcom_accept(W.s[0].ch, timeout_for(W.s[0].ch, fin_u8(&in)));
            FUZZ_CHECK(allowed_setup(r), "accept gave %d", r);
        }
        break;
    case OP_CONNECT:
        do_connect();
        break;
    case OP_CLOSE:
        if (W.s[s].ch) {
            ivcom_close(W.s[s].ch);
            W.s[s].ch = NULL;
        }
        break;
    case OP_SEND:
        do_send(s);
        break;
    case OP_RECV:
        do_recv(s);
        break;
    case OP_WAIT:
        do_wait(s);
        break;
    case OP_INFO:
        do_info(s);
        break;
    case OP_ZERO_COPY:
        do_zero_copy(s);
        break;
    default:
        W.spin_at = 1 + fin_u8(&in);
        W.on_wait_len = fin_bytes(&in, W.on_wait, sizeof(W.on_wait));
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t flags;
    unsigned steps = 0;
    int i, clean = 1;

    memset(&W, 0, sizeof(W));
    in.p = data;
    in.n = size;
    flags = fin_u8(&in);
    W.s[0].plat.ops = W.s[1].plat.ops = flags & 8 ? &fake_ops_yield : &fake_ops;
    W.s[0].plat.domid = SERVER_DOM;
    W.s[1].plat.domid = CLIENT_DOM;
    W.watch_times_out = flags & 1;
    W.wait_mode = (flags >> 1) & 3;
    W.spin_us = flags & 16 ? 10000 : 2;
    while (fin_more(&in) && steps++ < 256)
        run_op(fin_u8(&in));
    /* Close what is open with every fault disarmed. */
    for (i = 0; i < NR_KINDS; i++) {
        if (W.f[i].fired && (i == K_UNSHARE || i == K_UNMAP || i == K_UNBIND))
            clean = 0;
        W.f[i].skip = W.f[i].count = 0;
    }
    W.on_wait_len = 0;
    W.spin_at = 0;
    for (i = 0; i < 2; i++)
        if (W.s[i].ch)
            ivcom_close(W.s[i].ch);
    if (clean)
        for (i = 0; i < 2; i++)
            FUZZ_CHECK(!W.s[i].maps && !W.s[i].shares && !W.s[i].ports && !W.s[i].handles,
                       "side %d left maps %d shares %d ports %d handles %d", i, W.s[i].maps,
                       W.s[i].shares, W.s[i].ports, W.s[i].handles);
    for (i = 0; i < GRANTS; i++)
        free(W.g[i].mem);       /* what a failed unshare/unmap leaked */
    return 0;
}
