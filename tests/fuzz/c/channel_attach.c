/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the client side of a channel -- ivcom_connect's validation
 * of a hostile server's XenStore offer and control page -- and then the
 * channel's data path against that server.
 *
 * The real channel code (channel.c, chan_xs.c, ring.c) runs against a
 * fake platform whose XenStore reads return input-chosen strings and
 * whose map returns input-chosen pages.  The clock is fake too (it moves
 * 50 us per reading; link with -Wl,--wrap=ivcom_now_ns), so a blocking
 * call with a timeout ends after a bounded number of steps without
 * sleeping; an event-channel wait may "deliver" an event during which the
 * server rewrites shared memory.
 *
 * Input:
 *   u8 honest-mask: bit i set = XenStore key i keeps the honest value;
 *      keys: state version mode s2c-order c2s-order ctrl-ref
 *            event-channel client-domid (state is also what the liveness
 *            probe reads later)
 *   for each key not kept: a string up to NUL (at most 40 bytes;
 *      "\x01" = the node is missing, "\x02" = permission denied)
 *   u8 page-mode: bit 0 = raw page (4096 input bytes) instead of the
 *      honest control page; bit 1 = mapping the data pages fails;
 *      bit 2 = the watch cannot be set; bit 3 = no unmap notify;
 *      bit 4 = the offer's nonce node is a string from the input (up to
 *      NUL, as above) instead of the honest page's nonce
 *   u8 patch count, each patch: u16 offset, u8 length (<= 8), bytes
 *   u8 spin (bit 0: spin_us = 0), u8 connect timeout (bit 0: try, else 3 ms)
 *   then a program of channel operations and hostile writes.
 *
 * Invariants: ivcom_connect returns 0 or an error (never a crash, never a
 * read outside the mapped pages -- they are exactly sized); once a call
 * reports -EPROTO the channel stays broken and no later call delivers or
 * accepts data; every data-path result is in the documented set; message
 * lengths never exceed the ring; nothing leaks (every map is unmapped).
 */
#include <errno.h>
#include <sys/types.h>

#include "fuzz_input.h"
#include "internal.h"

#define SERVER_DOM  3
#define CLIENT_DOM  5
#define NR_KEYS     8
#define VALUE_MAX   40
/* The honest offer's nonce, in its node and in the control page. */
#define NONCE       0x0123456789abcdefull
#define NONCE_STR   "0123456789abcdef"

static const char *const keys[NR_KEYS] = {
    "state", "version", "mode", "s2c-order", "c2s-order", "ctrl-ref",
    "event-channel", "client-domid",
};
static const char *const honest[NR_KEYS] = {
    "offered", "1", "message", "12", "12", "77", "9", "5",
};

enum { VAL_STRING, VAL_MISSING, VAL_DENIED };

struct fake {
    struct fin in;
    int kind[NR_KEYS];
    char val[NR_KEYS][VALUE_MAX + 1];
    size_t vlen[NR_KEYS];
    int nonce_kind;
    char nonce[VALUE_MAX + 1];
    uint8_t *ctrl;          /* the control page the server "grants" */
    int fail_data_map, no_watch, no_unmap_notify;
    int maps;               /* mapped areas still live */
    uint8_t *data;          /* the client's mapping of the data pages */
    size_t data_len;
};

static struct fake F;
static uint8_t staged[IVCOM_PAGE_SIZE];     /* the page before it is mapped */
static uint64_t fake_ns = 1000000000ull;

/* ---- the fake clock ---------------------------------------------------------
 * Linked with -Wl,--wrap=ivcom_now_ns: the library's calls land here while
 * wait_linux.c stays linked as it is. */

uint64_t __wrap_ivcom_now_ns(void);
uint64_t __wrap_ivcom_now_ns(void)
{
    fake_ns += 50000;
    return fake_ns;
}

/* ---- the fake platform --------------------------------------------------- */

struct ivcom_evtchn { int unused; };
static struct ivcom_evtchn the_evtchn;

static int f_open(struct ivcom_platform *p) { p->domid = CLIENT_DOM; return 0; }
static void f_close(struct ivcom_platform *p) { (void)p; }

static int f_share(struct ivcom_platform *p, int peer, unsigned n, void **a, uint32_t *refs)
{
    (void)p; (void)peer; (void)n; (void)a; (void)refs;
    return -EOPNOTSUPP;
}

static int f_unshare(struct ivcom_platform *p, void *a, unsigned n)
{
    (void)p; (void)a; (void)n;
    return -EOPNOTSUPP;
}

static int f_map(struct ivcom_platform *p, int peer, unsigned n, const uint32_t *refs,
                 int writable, void **addr)
{
    (void)p; (void)refs; (void)writable;
    FUZZ_CHECK(peer == SERVER_DOM, "map from domain %d", peer);
    FUZZ_CHECK(n >= 1 && n <= IVCOM_CTRL_MAX_GREFS, "map of %u pages", n);
    if (!F.ctrl) {
        /* Only the control page is mapped one page at a time first. */
        FUZZ_CHECK(n == 1, "first map of %u pages", n);
        F.ctrl = malloc(IVCOM_PAGE_SIZE);
        if (!F.ctrl)
            abort();
        memcpy(F.ctrl, staged, IVCOM_PAGE_SIZE);
        *addr = F.ctrl;
        F.maps++;
        return 0;
    }
    if (F.fail_data_map)
        return -EPERM;
    F.data_len = (size_t)n * IVCOM_PAGE_SIZE;
    F.data = malloc(F.data_len);
    if (!F.data)
        abort();
    memset(F.data, 0, F.data_len);
    *addr = F.data;
    F.maps++;
    return 0;
}

static int f_unmap(struct ivcom_platform *p, void *addr, unsigned n)
{
    (void)p; (void)n;
    FUZZ_CHECK(addr == F.ctrl || addr == F.data, "unmap of an unknown area");
    F.maps--;
    return 0;
}

static int f_unmap_notify(struct ivcom_platform *p, void *a, uint32_t off, uint32_t port)
{
    (void)p; (void)a; (void)port;
    FUZZ_CHECK(off < IVCOM_PAGE_SIZE, "unmap notify offset %u", off);
    return F.no_unmap_notify ? -EOPNOTSUPP : 0;
}

static int f_evtchn_open(struct ivcom_platform *p, struct ivcom_evtchn **out)
{
    (void)p;
    *out = &the_evtchn;
    return 0;
}

static void f_evtchn_close(struct ivcom_evtchn *ev) { (void)ev; }

static int f_alloc_unbound(struct ivcom_evtchn *ev, int peer, uint32_t *port)
{
    (void)ev; (void)peer; (void)port;
    return -EOPNOTSUPP;
}

static int f_bind(struct ivcom_evtchn *ev, int peer, uint32_t remote, uint32_t *port)
{
    (void)ev; (void)remote;
    FUZZ_CHECK(peer == SERVER_DOM, "bind to domain %d", peer);
    *port = 40;
    return 0;
}

static int f_unbind(struct ivcom_evtchn *ev, uint32_t port) { (void)ev; (void)port; return 0; }
static int f_notify(struct ivcom_evtchn *ev, uint32_t port) { (void)ev; (void)port; return 0; }

static void hostile_write(struct fin *in);

/* Waiting: the input says whether an event came, a signal interrupted the
 * wait, or the slice timed out; with an event the server may write. */
static int f_wait(struct ivcom_evtchn *ev, int timeout_ms)
{
    (void)ev;
    FUZZ_CHECK(timeout_ms >= 0 && timeout_ms <= IVCOM_PROBE_MS, "wait slice %d ms", timeout_ms);
    switch (fin_u8(&F.in) & 3) {
    case 0:
        return -ETIMEDOUT;
    case 1:
        return -EINTR;
    case 2:
        hostile_write(&F.in);
        return 0;
    default:
        return 0;
    }
}

static int f_ack(struct ivcom_evtchn *ev) { (void)ev; return fin_u8(&F.in) & 1; }
static int f_fd(struct ivcom_evtchn *ev) { (void)ev; return -EOPNOTSUPP; }

static int key_of(const char *path)
{
    const char *leaf = strrchr(path, '/');
    int i;

    leaf = leaf ? leaf + 1 : path;
    for (i = 0; i < NR_KEYS; i++)
        if (strcmp(leaf, keys[i]) == 0)
            return i;
    return -1;
}

static int f_xs_read(struct ivcom_platform *p, uint32_t tx, const char *path, char *buf,
                     size_t len)
{
    int k = key_of(path);
    const char *leaf = strrchr(path, '/');

    (void)p; (void)tx;
    /* With no offer under the name, connect looks for a service of that
     * name: there is none. */
    if (strncmp(path, "/local/domain/3/data/ivcom-svc/", 31) == 0)
        return -ENOENT;
    FUZZ_CHECK(strncmp(path, "/local/domain/3/data/ivcom/", 27) == 0,
               "read outside the server's offer: %s", path);
    if (leaf && strcmp(leaf, "/nonce") == 0) {
        if (F.nonce_kind == VAL_MISSING)
            return -ENOENT;
        if (F.nonce_kind == VAL_DENIED)
            return -EACCES;
        if (len == 0 || strlen(F.nonce) >= len)
            return -E2BIG;
        memcpy(buf, F.nonce, strlen(F.nonce) + 1);
        return 0;
    }
    if (k < 0 || F.kind[k] == VAL_MISSING)
        return -ENOENT;
    if (F.kind[k] == VAL_DENIED)
        return -EACCES;
    /* As libxenstore: the value may hold NULs; too long is -E2BIG. */
    if (len == 0 || F.vlen[k] >= len)
        return -E2BIG;
    memcpy(buf, F.val[k], F.vlen[k]);
    buf[F.vlen[k]] = '\0';
    return 0;
}

static int f_xs_write(struct ivcom_platform *p, uint32_t tx, const char *path, const char *v)
{
    (void)p; (void)tx; (void)v;
    FUZZ_CHECK(strlen(path) < IVCOM_PATH_MAX, "path too long");
    return 0;
}

static int f_xs_rm(struct ivcom_platform *p, uint32_t tx, const char *path)
{
    (void)p; (void)tx; (void)path;
    return 0;
}

static int f_xs_set_perms(struct ivcom_platform *p, uint32_t tx, const char *path,
                          const struct ivcom_xs_perm *perms, unsigned n)
{
    (void)p; (void)tx; (void)path;
    FUZZ_CHECK(n == 2 && perms[1].domid == SERVER_DOM, "presence readable by %u",
               n ? perms[n - 1].domid : 0);
    return 0;
}

static int f_tx_start(struct ivcom_platform *p, uint32_t *tx) { (void)p; *tx = 1; return 0; }
static int f_tx_end(struct ivcom_platform *p, uint32_t tx, int a)
{
    (void)p; (void)tx; (void)a;
    return 0;
}

static int f_watch(struct ivcom_platform *p, const char *path, const char *token)
{
    (void)p; (void)path; (void)token;
    return F.no_watch ? -EOPNOTSUPP : 0;
}

static int f_unwatch(struct ivcom_platform *p, const char *path, const char *token)
{
    (void)p; (void)path; (void)token;
    return 0;
}

static int f_wait_watch(struct ivcom_platform *p, int timeout_ms)
{
    (void)p; (void)timeout_ms;
    return -ETIMEDOUT;
}

static const struct ivcom_platform_ops fake_ops = {
    .name = "fuzz",
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
};

/* ---- the hostile server ---------------------------------------------------- */

static unsigned parse_order(const char *s)
{
    unsigned v = (unsigned)atoi(s);

    return v >= IVCOM_RING_ORDER_MIN && v <= IVCOM_RING_ORDER_MAX ? v : IVCOM_RING_ORDER_MIN;
}

/* The control page an honest server would have written for the offer. */
static void honest_page(uint8_t *page)
{
    struct ivcom_ctrl *c = (struct ivcom_ctrl *)page;
    unsigned s2c = parse_order(F.kind[3] == VAL_STRING ? F.val[3] : "12");
    unsigned c2s = parse_order(F.kind[4] == VAL_STRING ? F.val[4] : "12");
    uint32_t i;

    memset(page, 0, IVCOM_PAGE_SIZE);
    c->magic = IVCOM_WIRE_MAGIC;
    c->version = IVCOM_WIRE_VERSION;
    c->mode = strcmp(F.val[2], "stream") == 0 ? IVCOM_MODE_STREAM : IVCOM_MODE_MESSAGE;
    c->s2c_order = (uint8_t)s2c;
    c->c2s_order = (uint8_t)c2s;
    c->server_live = IVCOM_LIVE_UP;
    c->nonce = NONCE;
    c->nr_grefs = (1u << (s2c - 12)) + (1u << (c2s - 12));
    for (i = 0; i < c->nr_grefs; i++)
        c->grefs[i] = 100 + i;
}

/* What the server may write at any time: any control-page byte or word,
 * its own indexes moved a little, ring bytes, message headers. */
static void hostile_write(struct fin *in)
{
    struct ivcom_ctrl *c = (struct ivcom_ctrl *)F.ctrl;
    uint8_t what = fin_u8(in);

    if (!c)
        return;
    switch (what % 6) {
    case 0: {
        uint32_t off = fin_u16(in) & (IVCOM_PAGE_SIZE - 1);
        F.ctrl[off] = fin_u8(in);
        break;
    }
    case 1: {
        uint32_t off = (fin_u16(in) & (IVCOM_PAGE_SIZE - 1)) & ~3u;
        uint32_t v = fin_u32(in);
        memcpy(F.ctrl + off, &v, sizeof(v));
        break;
    }
    case 2:
        c->s2c_prod.prod += (int16_t)fin_u16(in);
        break;
    case 3:
        c->c2s_cons.cons += (int16_t)fin_u16(in);
        break;
    case 4:
        if (F.data) {
            size_t off = fin_u32(in) % F.data_len;
            size_t len = fin_u8(in) % 17;
            if (len > F.data_len - off)
                len = F.data_len - off;
            fin_bytes(in, F.data + off, len);
        }
        break;
    default:
        c->server_live = fin_u8(in);
        break;
    }
}

/* An honest server message into the s2c ring, written as the server's
 * producer would (from the page's own prod, so it follows hostile moves). */
static void server_sends(struct ivcom_chan *ch, struct fin *in)
{
    struct ivcom_ring srv;
    void *dst;
    size_t n;
    uint32_t want = fin_u16(in);

    if (!F.data)
        return;
    ivcom_ring_init(&srv, ch->rx.data, __builtin_ctz(ch->rx.size), ch->rx.pl, ch->rx.cl);
    srv.pvt = srv.published = ch->rx.pl->prod;
    srv.peer = ch->rx.cl->cons;
    if (ch->params.mode == IVCOM_MODE_MESSAGE) {
        srv.pvt &= ~(IVCOM_MSG_ALIGN - 1);
        want %= srv.size;
        if (ivcom_ring_msg_reserve(&srv, want, &dst) == 0) {
            memset(dst, 0x6b, want);
            ivcom_ring_msg_commit(&srv);
        }
    } else if (ivcom_ring_stream_reserve(&srv, &dst, &n) == 0) {
        n = n < want + 1u ? n : want + 1u;
        memset(dst, 0x6b, n);
        ivcom_ring_stream_commit(&srv, n);
    }
    ivcom_ring_prod_publish(&srv);
}

/* The server frees what the client sent (it consumes c2s honestly). */
static void server_receives(struct ivcom_chan *ch)
{
    struct ivcom_ring srv;
    const void *src;
    size_t n;

    if (!F.data)
        return;
    ivcom_ring_init(&srv, ch->tx.data, __builtin_ctz(ch->tx.size), ch->tx.pl, ch->tx.cl);
    srv.pvt = srv.published = srv.peer = ch->tx.cl->cons & ~(IVCOM_MSG_ALIGN - 1);
    if (ch->params.mode == IVCOM_MODE_MESSAGE) {
        if (ivcom_ring_msg_peek(&srv, &src, &n) == 0)
            ivcom_ring_msg_release(&srv);
    } else if (ivcom_ring_stream_peek(&srv, &src, &n) == 0) {
        ivcom_ring_stream_release(&srv, n);
    }
    ivcom_ring_cons_publish(&srv);
}

/* ---- the client's program ---------------------------------------------------- */

enum {
    OP_SEND, OP_RECV, OP_RESERVE, OP_COMMIT, OP_PEEK, OP_RELEASE,
    OP_WRITE, OP_READ, OP_SRESERVE, OP_SCOMMIT, OP_SPEEK, OP_SRELEASE,
    OP_WAIT_R, OP_WAIT_W, OP_ACK, OP_HOSTILE, OP_SERVER_SENDS, OP_SERVER_RECEIVES,
    NR_OPS
};

static int allowed(long long r)
{
    return r >= 0 || r == -EAGAIN || r == -EPROTO || r == -EMSGSIZE || r == -EINVAL ||
           r == -EPIPE || r == -ETIMEDOUT;
}

static void run_channel(struct ivcom_chan *ch, struct fin *in)
{
    static uint8_t buf[1 << 17];
    int broken = 0, held_msg = 0, held_span = 0;
    unsigned steps = 0;
    size_t span_len = 0;

    static int misuse = -1;

    /* Wrong-mode commit/release is local API misuse, not a hostile peer:
     * only checked when IVCOM_FUZZ_MISUSE=1 (the crash replay sets it);
     * otherwise those calls are mapped to the channel's own mode. */
    if (misuse < 0)
        misuse = getenv("IVCOM_FUZZ_MISUSE") && strcmp(getenv("IVCOM_FUZZ_MISUSE"), "1") == 0;
    while (fin_more(in) && steps++ < 512) {
        uint8_t op = fin_u8(in) % NR_OPS;
        int stream = ch->params.mode == IVCOM_MODE_STREAM;
        int wrong_mode = 0;

        if (stream && (op == OP_COMMIT || op == OP_RELEASE))
            wrong_mode = 1;
        if (!stream && (op == OP_SCOMMIT || op == OP_SRELEASE))
            wrong_mode = 1;
        if (wrong_mode && !misuse) {
            op = op == OP_COMMIT ? OP_SCOMMIT : op == OP_RELEASE ? OP_SRELEASE :
                 op == OP_SCOMMIT ? OP_COMMIT : OP_RELEASE;
            wrong_mode = 0;
        }
        int timeout = fin_u8(in) & 1 ? 0 : 5;   /* try_, or 5 fake ms */
        long long r = 0;
        int data_op = 1;
        const void *cbuf;
        void *wbuf;
        size_t len = 0;

        switch (op) {
        case OP_SEND:
            len = fin_u16(in) % (sizeof(buf) / 2 + 1);
            memset(buf, 0x11, len);
            r = ivcom_send(ch, buf, len, timeout);
            FUZZ_CHECK(r < 0 || r == (long long)len, "send of %zu gave %lld", len, r);
            break;
        case OP_RECV:
            len = fin_u16(in);
            r = ivcom_recv(ch, buf, len % sizeof(buf), timeout);
            FUZZ_CHECK(r <= (long long)(len % sizeof(buf)), "recv returned more than asked");
            break;
        case OP_RESERVE:
            len = fin_u16(in);
            r = ivcom_msg_reserve(ch, len, &wbuf, timeout);
            if (r == 0) {
                FUZZ_CHECK(len <= ivcom_max_msg(ch), "reserved %zu", len);
                memset(wbuf, 0x22, len);        /* ASan: the span is ours */
                held_msg = 1;
            }
            break;
        case OP_COMMIT:
            data_op = 0;
            r = ivcom_msg_commit(ch);
            FUZZ_CHECK(r != 0 || held_msg, "message commit without a message reservation");
            held_msg = 0;
            break;
        case OP_PEEK:
            r = ivcom_msg_peek(ch, &cbuf, &len, timeout);
            if (r == 0) {
                FUZZ_CHECK(len <= ch->rx.size - sizeof(struct ivcom_msg_hdr), "len %zu", len);
                fuzz_touch(cbuf, len);
            }
            break;
        case OP_RELEASE:
            data_op = 0;
            r = ivcom_msg_release(ch);
            break;
        case OP_WRITE:
            len = 1 + fin_u16(in) % (sizeof(buf) - 1);
            memset(buf, 0x33, len);
            r = ivcom_write(ch, buf, len, timeout);
            FUZZ_CHECK(r <= (long long)len, "wrote more than asked");
            break;
        case OP_READ:
            len = fin_u16(in) % sizeof(buf);
            r = ivcom_read(ch, buf, len, timeout);
            FUZZ_CHECK(r <= (long long)len, "read more than asked");
            break;
        case OP_SRESERVE:
            r = ivcom_stream_try_reserve(ch, &wbuf, &span_len);
            if (r == 0) {
                memset(wbuf, 0x44, span_len);
                held_span = 1;
            }
            break;
        case OP_SCOMMIT:
            data_op = 0;
            len = held_span ? fin_u16(in) % (span_len + 2) : fin_u16(in);
            r = ivcom_stream_commit(ch, len);
            FUZZ_CHECK(r != 0 || held_span || len == 0 || wrong_mode,
                       "stream commit of %zu without a stream reservation", len);
            /* A refused commit (a length beyond the span) leaves the
             * reservation as it was: the caller may commit again. */
            if (r == 0)
                held_span = 0;
            break;
        case OP_SPEEK:
            r = ivcom_stream_try_peek(ch, &cbuf, &len);
            if (r == 0)
                fuzz_touch(cbuf, len);
            break;
        case OP_SRELEASE:
            data_op = 0;
            r = ivcom_stream_release(ch, fin_u16(in));
            break;
        case OP_WAIT_R:
            r = ivcom_wait_readable(ch, timeout);
            break;
        case OP_WAIT_W:
            r = ivcom_wait_writable(ch, fin_u16(in), timeout);
            break;
        case OP_ACK:
            data_op = 0;
            r = ivcom_ack(ch);
            break;
        case OP_HOSTILE:
            data_op = 0;
            hostile_write(in);
            break;
        case OP_SERVER_SENDS:
            data_op = 0;
            server_sends(ch, in);
            break;
        default:
            data_op = 0;
            server_receives(ch);
            break;
        }
        FUZZ_CHECK(allowed(r), "op %u gave %lld (%s)", op, r, ivcom_strerror((int)r));
        if (wrong_mode)
            FUZZ_CHECK(r == -EINVAL || r == ivcom_is_broken(ch),
                       "%s-mode op %u on a %s channel gave %lld, expected -EINVAL",
                       stream ? "message" : "stream", op, stream ? "stream" : "message", r);
        if (broken)
            FUZZ_CHECK(r == -EPROTO || !data_op || r == -EINVAL,
                       "op %u gave %lld on a broken channel", op, r);
        if (r == -EPROTO) {
            broken = 1;
            FUZZ_CHECK(ivcom_is_broken(ch) == -EPROTO, "-EPROTO but not marked broken");
        }
        if (ivcom_is_broken(ch))
            broken = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ivcom_platform plat = { .ops = &fake_ops, .domid = CLIENT_DOM, .priv = NULL };
    struct ivcom_params params;
    struct ivcom_chan *ch = NULL;
    uint8_t mask, mode, npatch;
    int i, err;

    memset(&F, 0, sizeof(F));
    F.in.p = data;
    F.in.n = size;
    mask = fin_u8(&F.in);
    for (i = 0; i < NR_KEYS; i++) {
        if (mask & (1u << i)) {
            F.vlen[i] = strlen(honest[i]);
            memcpy(F.val[i], honest[i], F.vlen[i]);
            continue;
        }
        while (F.vlen[i] < VALUE_MAX && fin_more(&F.in)) {
            uint8_t c = fin_u8(&F.in);
            if (c == 0)
                break;
            F.val[i][F.vlen[i]++] = (char)c;
        }
        if (F.vlen[i] == 1 && F.val[i][0] == 1)
            F.kind[i] = VAL_MISSING;
        else if (F.vlen[i] == 1 && F.val[i][0] == 2)
            F.kind[i] = VAL_DENIED;
    }
    mode = fin_u8(&F.in);
    F.fail_data_map = (mode >> 1) & 1;
    F.no_watch = (mode >> 2) & 1;
    F.no_unmap_notify = (mode >> 3) & 1;
    if (mode & 0x10) {
        size_t n = 0;

        while (n < VALUE_MAX && fin_more(&F.in)) {
            uint8_t c = fin_u8(&F.in);
            if (c == 0)
                break;
            F.nonce[n++] = (char)c;
        }
        F.nonce[n] = '\0';
        if (n == 1 && F.nonce[0] == 1)
            F.nonce_kind = VAL_MISSING;
        else if (n == 1 && F.nonce[0] == 2)
            F.nonce_kind = VAL_DENIED;
    } else {
        memcpy(F.nonce, NONCE_STR, sizeof(NONCE_STR));
    }

    /* The control page as the server left it before the client maps it. */
    if (mode & 1)
        fin_bytes(&F.in, staged, sizeof(staged));
    else
        honest_page(staged);
    npatch = fin_u8(&F.in) % 16;
    while (npatch--) {
        uint32_t off = fin_u16(&F.in) & (IVCOM_PAGE_SIZE - 1);
        uint32_t len = fin_u8(&F.in) % 9;

        if (len > IVCOM_PAGE_SIZE - off)
            len = IVCOM_PAGE_SIZE - off;
        fin_bytes(&F.in, staged + off, len);
    }

    ivcom_params_init(&params);
    params.spin_us = fin_u8(&F.in) & 1 ? 0 : 30;
    err = ivcom_connect(&plat, "fuzz", SERVER_DOM, &params, &ch, fin_u8(&F.in) & 1 ? 0 : 3);
    FUZZ_CHECK(err <= 0, "connect gave %d", err);
    if (err == 0) {
        run_channel(ch, &F.in);
        ivcom_close(ch);
    }
    FUZZ_CHECK(F.maps == 0, "%d mapping(s) leaked (connect gave %d)", F.maps, err);
    free(F.ctrl);
    free(F.data);
    return 0;
}
