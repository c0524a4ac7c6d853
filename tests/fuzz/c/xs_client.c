/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the XenStore wire client (xs_ring.c) against a hostile
 * xenstored.
 *
 * The client's requests go through the real ring transport over an
 * exactly sized struct xenstore_domain_interface (or, in stream mode,
 * through a socket-like transport whose counts come from the input).  The
 * other end is a small fake xenstored: whenever the client waits, the
 * input says what "xenstored" does -- serve honestly (read every complete
 * request, answer it as xenstored would: values, directories, perms,
 * transaction ids, errors, a watch's first event), answer with a forged
 * header (wrong req_id, wrong type, an error, a body from the input of any
 * length, a watch event first), inject watch events or raw bytes, move any
 * ring index anywhere, time out, be interrupted or fail.  When the input
 * runs out every wait fails (-EIO), so no call can wait forever.
 *
 * Input:
 *   u8 config: bit 0 = stream transport instead of the ring;
 *              bit 1 = the ring's indexes start near 2^32 (wrap)
 *   then a program: u8 op, its arguments, ... (see run_op); the fake
 *   xenstored takes its actions from the same byte stream as the client
 *   calls wait (see server_act).
 *
 * Invariants: every call returns 0, a length or -errno, never a crash, a
 * read outside the ring or the caller's buffer, or a hang; a value
 * returned fits its buffer, NUL-terminated; while xenstored has been
 * honest (nothing forged, no index moved) every result is exactly what
 * it answered; once the client is broken every request returns that
 * error; queued events are NUL-terminated within their fields.
 */
#include <errno.h>

#include "fuzz_input.h"             /* <stdint.h> first: xs_wire.h needs it */
#include <xen/io/xs_wire.h>
#include "xs_ring.h"

#define HDR         16u
#define QMAX        (1u << 16)      /* the fake's own buffers */
#define PATH_MAX_IN 300u

static struct fin in;

/* ---- the fake xenstored -------------------------------------------------- */

struct bytes {
    uint8_t b[QMAX];
    uint32_t n;
};

/* What an honest reply to one request was (for the exactness check). */
struct expect {
    uint32_t req_id, type, err;     /* err: positive errno of an error reply */
    uint32_t blen;
    uint8_t body[IVCOM_XS_PAYLOAD_MAX];
};

static struct {
    struct xenstore_domain_interface *intf;
    int stream;
    struct bytes req;       /* request bytes read so far (not yet parsed) */
    struct bytes out;       /* reply bytes not yet in the ring / socket */
    int tainted;            /* anything forged or moved: no exactness check */
    uint8_t mod;            /* forgery for the next reply (see server_act) */
    uint32_t mod_err;
    struct expect last;     /* the last honest reply */
    int have_last;
    unsigned notifies, waits;
    int send_lie, recv_lie; /* stream transport: counts past len, once */
} S;

static void out_put(const void *p, uint32_t n)
{
    if (n > QMAX - S.out.n)
        n = QMAX - S.out.n;
    memcpy(S.out.b + S.out.n, p, n);
    S.out.n += n;
}

static void out_msg(uint32_t type, uint32_t req_id, uint32_t tx, const void *body,
                    uint32_t blen)
{
    uint32_t h[4] = { type, req_id, tx, blen };

    out_put(h, sizeof(h));
    out_put(body, blen);
}

static void out_event(const char *path, const char *token)
{
    uint8_t body[2 * PATH_MAX_IN + 2];
    uint32_t pl = (uint32_t)strlen(path), tl = (uint32_t)strlen(token);

    memcpy(body, path, pl + 1);
    memcpy(body + pl + 1, token, tl + 1);
    out_msg(XS_WATCH_EVENT, 0, 0, body, pl + tl + 2);
}

/* A string from the input: up to NUL, at most max-1 bytes. */
static size_t in_str(char *buf, size_t max)
{
    size_t n = 0;

    while (n + 1 < max && fin_more(&in)) {
        uint8_t c = fin_u8(&in);
        if (c == 0)
            break;
        buf[n++] = (char)c;
    }
    buf[n] = '\0';
    return n;
}

static const char *const err_names[] = {
    "ENOENT", "EACCES", "EAGAIN", "ENOSPC", "E2BIG", "EINVAL", "EEXIST", "EIO",
    "EQUOTA-NOT-A-NAME", "",
};
static const int err_values[] = {
    ENOENT, EACCES, EAGAIN, ENOSPC, E2BIG, EINVAL, EEXIST, EIO, EIO, EIO,
};
#define NR_ERRS (sizeof(err_values) / sizeof(err_values[0]))

/* Answer one whole request (header in h, body p) as xenstored would; the
 * answer's content (values, names, ids, error) comes from the input. */
static void answer(const uint32_t *h, const uint8_t *p)
{
    uint32_t type = h[0], req_id = h[1], tx = h[2];
    uint8_t body[IVCOM_XS_PAYLOAD_MAX];
    uint32_t blen = 0;
    uint8_t sel = fin_u8(&in);
    int err = sel >= 0xc0 ? (int)(sel % NR_ERRS) : -1;
    char path[PATH_MAX_IN], token[PATH_MAX_IN];
    uint8_t mod = S.mod;

    S.mod = 0;
    if (err >= 0) {
        blen = (uint32_t)strlen(err_names[err]) + 1;
        memcpy(body, err_names[err], blen);
        type = XS_ERROR;
    } else {
        switch (type) {
        case XS_READ:
            blen = fin_u16(&in) % 600;
            fin_bytes(&in, body, blen);
            break;
        case XS_DIRECTORY: {
            unsigned k = sel % 5;
            while (k--) {
                char name[24];
                size_t n = in_str(name, sizeof(name));
                memcpy(body + blen, name, n + 1);
                blen += (uint32_t)n + 1;
            }
            break;
        }
        case XS_GET_PERMS: {
            static const char *const perm_strs[] = {
                "n0", "r5", "b3", "w7", "n4294967295", "r4294967296", "x1", "r", "n01",
            };
            unsigned k = 1 + sel % 4;
            while (k--) {
                const char *s = perm_strs[fin_u8(&in) % 9];
                memcpy(body + blen, s, strlen(s) + 1);
                blen += (uint32_t)strlen(s) + 1;
            }
            break;
        }
        case XS_TRANSACTION_START: {
            static const char *const ids[] = { "7", "0", "4294967295", "12a", "", "99999999999" };
            const char *s = ids[sel % 6];
            blen = (uint32_t)strlen(s) + 1;
            memcpy(body, s, blen);
            if (sel & 0x20)
                blen--;                 /* no NUL: still a number */
            break;
        }
        default:
            memcpy(body, "OK", 3);
            blen = 3;
            break;
        }
    }
    if (mod) {
        S.tainted = 1;
        if (mod & 0x20)
            out_event("/forged", "tok");
        if (mod & 1)
            req_id ^= 1 + S.mod_err;
        if (mod & 2)
            type = (type + 1 + S.mod_err) & 0xffff;
        if (mod & 4) {
            type = XS_ERROR;
            blen = (uint32_t)strlen(err_names[S.mod_err % NR_ERRS]) + 1;
            memcpy(body, err_names[S.mod_err % NR_ERRS], blen);
        }
        if (mod & 0x10)
            tx ^= 1;
        if (mod & 8) {
            /* A body from the input, its length from the header alone. */
            uint32_t claim = fin_u16(&in) | (uint32_t)(mod & 0x40) << 10;
            uint32_t real = claim < IVCOM_XS_PAYLOAD_MAX ? claim : IVCOM_XS_PAYLOAD_MAX;
            uint32_t hh[4] = { type, req_id, tx, claim };
            fin_bytes(&in, body, real);
            out_put(hh, sizeof(hh));
            out_put(body, real);
            return;
        }
    } else {
        S.last.req_id = req_id;
        S.last.type = type == XS_ERROR ? h[0] : type;
        S.last.err = type == XS_ERROR ? (uint32_t)err_values[err] : 0;
        S.last.blen = blen;
        memcpy(S.last.body, body, blen);
        S.have_last = 1;
    }
    out_msg(type, req_id, tx, body, blen);
    if (h[0] == XS_WATCH && type == XS_WATCH && !mod) {
        /* xenstored fires a new watch once; the body is path\0token\0. */
        size_t pl = strnlen((const char *)p, h[3]);
        if (pl < h[3]) {
            size_t tl = strnlen((const char *)p + pl + 1, h[3] - pl - 1);
            if (pl < sizeof(path) && tl < sizeof(token)) {
                memcpy(path, p, pl + 1);
                memcpy(token, p + pl + 1, tl);
                token[tl] = '\0';
                out_event(path, token);
            }
        }
    }
}

/* Take request bytes from the ring (or the socket's buffer: already in
 * S.req) and answer every whole request. */
static void serve_in(void)
{
    uint32_t off = 0;

    if (!S.stream) {
        struct xenstore_domain_interface *i = S.intf;
        uint32_t cons = i->req_cons, prod = i->req_prod;

        /* xenstored checks the client's index too. */
        if (prod - cons <= XENSTORE_RING_SIZE) {
            while (cons != prod && S.req.n < QMAX) {
                S.req.b[S.req.n++] = (uint8_t)i->req[MASK_XENSTORE_IDX(cons)];
                cons++;
            }
            i->req_cons = cons;
        }
    }
    for (;;) {
        uint32_t h[4];

        if (S.req.n - off < HDR)
            break;
        memcpy(h, S.req.b + off, HDR);
        if (h[3] > IVCOM_XS_PAYLOAD_MAX) {
            /* Only once xenstored moved the request ring's indexes and
             * lost the client's framing: it reads on from scratch. */
            FUZZ_CHECK(S.tainted, "request body of %u bytes", h[3]);
            off = S.req.n;
            break;
        }
        if (S.req.n - off < HDR + h[3])
            break;
        answer(h, S.req.b + off + HDR);
        off += HDR + h[3];
    }
    memmove(S.req.b, S.req.b + off, S.req.n - off);
    S.req.n -= off;
}

/* Move up to max queued reply bytes into the ring (as xenstored: never
 * past the client's consumer). */
static void serve_out(uint32_t max)
{
    struct xenstore_domain_interface *i = S.intf;
    uint32_t n = 0;

    if (S.stream)
        return;                 /* the socket reads S.out directly */
    while (n < max && n < S.out.n) {
        uint32_t prod = i->rsp_prod;
        if (prod - i->rsp_cons >= XENSTORE_RING_SIZE)
            break;
        i->rsp[MASK_XENSTORE_IDX(prod)] = (char)S.out.b[n++];
        i->rsp_prod = prod + 1;
    }
    memmove(S.out.b, S.out.b + n, S.out.n - n);
    S.out.n -= n;
}

enum {
    ACT_SERVE, ACT_FORGE, ACT_EVENT, ACT_RAW, ACT_INDEX, ACT_TIMEOUT, ACT_EINTR, ACT_FAIL,
    ACT_TRICKLE, ACT_LIE, NR_ACTS
};

/* One step of xenstored while the client waits; returns the wait's result. */
static int server_act(void)
{
    struct xenstore_domain_interface *i = S.intf;
    uint8_t a;

    if (!fin_more(&in))
        return -EIO;
    FUZZ_CHECK(++S.waits < 100000, "the client waited %u times", S.waits);
    a = fin_u8(&in) % NR_ACTS;
    switch (a) {
    case ACT_SERVE:
        serve_in();
        serve_out(QMAX);
        return 0;
    case ACT_FORGE:
        S.mod = fin_u8(&in) | 0x80;
        S.mod_err = fin_u8(&in);
        serve_in();
        serve_out(QMAX);
        return 0;
    case ACT_EVENT: {
        char path[PATH_MAX_IN], token[PATH_MAX_IN];
        uint8_t how = fin_u8(&in);

        in_str(path, sizeof(path));
        in_str(token, sizeof(token));
        if (how & 1) {
            /* path with no NUL before the end: not an event */
            uint32_t n = (uint32_t)strlen(path);
            S.tainted = 1;
            out_msg(XS_WATCH_EVENT, 0, 0, path, n);
        } else {
            out_event(path, token);
        }
        serve_out(QMAX);
        return 0;
    }
    case ACT_RAW: {
        uint8_t raw[512];
        uint32_t n = fin_u16(&in) % sizeof(raw);

        S.tainted = 1;
        fin_bytes(&in, raw, n);
        out_put(raw, n);
        serve_out(QMAX);
        return 0;
    }
    case ACT_INDEX: {
        uint8_t which = fin_u8(&in);
        uint32_t v = fin_u32(&in);

        S.tainted = 1;
        if (S.stream)
            return 0;
        if (which & 4)
            v += which & 1 ? (which & 2 ? i->rsp_prod : i->req_cons)
                           : (which & 2 ? i->rsp_cons : i->req_prod);
        switch (which & 3) {
        case 0: i->req_prod = v; break;
        case 1: i->req_cons = v; break;
        case 2: i->rsp_cons = v; break;
        default: i->rsp_prod = v; break;
        }
        return 0;
    }
    case ACT_TIMEOUT:
        return -ETIMEDOUT;
    case ACT_EINTR:
        return -EINTR;
    case ACT_FAIL:
        return -EIO;
    case ACT_TRICKLE:
        serve_in();
        serve_out(fin_u8(&in) % 24);
        return 0;
    default:
        S.tainted = 1;
        S.send_lie = fin_u8(&in) & 1;
        S.recv_lie = !S.send_lie;
        return 0;
    }
}

static void ring_notify(void *arg)
{
    (void)arg;
    S.notifies++;
}

static int ring_wait(void *arg, int timeout_ms)
{
    (void)arg;
    FUZZ_CHECK(timeout_ms >= -1, "wait of %d ms", timeout_ms);
    return server_act();
}

/* The socket transport: xenstored's buffers are the fake's own. */
static int sock_send(void *ctx, const void *buf, uint32_t len)
{
    uint32_t n = len;

    (void)ctx;
    if (S.send_lie) {
        S.send_lie = 0;
        return (int)len + 1;
    }
    if (n > QMAX - S.req.n)
        n = QMAX - S.req.n;
    memcpy(S.req.b + S.req.n, buf, n);
    S.req.n += n;
    return (int)n;
}

static int sock_recv(void *ctx, void *buf, uint32_t len)
{
    uint32_t n = len < S.out.n ? len : S.out.n;

    (void)ctx;
    if (S.recv_lie && S.out.n) {
        S.recv_lie = 0;
        return (int)len + 1;
    }
    memcpy(buf, S.out.b, n);
    memmove(S.out.b, S.out.b + n, S.out.n - n);
    S.out.n -= n;
    return (int)n;
}

static int sock_wait(void *ctx, int timeout_ms)
{
    return ring_wait(ctx, timeout_ms);
}

/* ---- the client's program ------------------------------------------------ */

enum {
    OP_READ, OP_WRITE, OP_MKDIR, OP_RM, OP_DIRECTORY, OP_GET_PERMS, OP_SET_PERMS,
    OP_TX_START, OP_TX_END, OP_WATCH, OP_UNWATCH, OP_NEXT_EVENT, OP_WAIT_EVENT,
    OP_INTRODUCE, OP_RELEASE, OP_PERMS_DECODE, OP_PERMS_ENCODE, NR_OPS
};

static int is_request(uint8_t op)
{
    return op != OP_NEXT_EVENT && op != OP_PERMS_DECODE && op != OP_PERMS_ENCODE;
}

/* The exactness check: an honest answer to this very request. */
static const struct expect *honest_answer(const struct ivcom_xs_client *c, uint32_t type)
{
    /* A call that got no reply failed for good (the client is broken). */
    if (S.tainted || !S.have_last || S.last.req_id != c->next_req_id - 1 ||
        S.last.type != type || c->broken)
        return NULL;
    return &S.last;
}

static void check_client(const struct ivcom_xs_client *c)
{
    uint32_t k;

    FUZZ_CHECK(c->rx_got <= HDR + IVCOM_XS_PAYLOAD_MAX, "rx_got %u", c->rx_got);
    FUZZ_CHECK(c->ev_count <= IVCOM_XS_EVENTS && c->ev_head < IVCOM_XS_EVENTS,
               "event queue %u at %u", c->ev_count, c->ev_head);
    for (k = 0; k < c->ev_count; k++) {
        const struct ivcom_xs_event *e = &c->ev[(c->ev_head + k) % IVCOM_XS_EVENTS];
        FUZZ_CHECK(memchr(e->path, 0, sizeof(e->path)) && memchr(e->token, 0, sizeof(e->token)),
                   "event %u not NUL-terminated", k);
    }
}

static void run_op(struct ivcom_xs_client *c, uint8_t op)
{
    static char buf[IVCOM_XS_PAYLOAD_MAX + 64];
    static uint8_t val[IVCOM_XS_PAYLOAD_MAX + 64];
    char path[PATH_MAX_IN], token[PATH_MAX_IN];
    struct ivcom_xs_perm perms[8];
    struct ivcom_xs_event ev;
    int was_broken = c->broken, r = 0;
    uint32_t tx = 0, req_before = c->next_req_id;
    const struct expect *e;
    size_t len;

    switch (op) {
    case OP_READ:
        tx = fin_u8(&in) & 1 ? 9 : IVCOM_XS_NO_TX;
        in_str(path, sizeof(path));
        len = fin_u16(&in) % (sizeof(buf) + 1);
        r = ivcom_xs_read(c, tx, path, buf, len);
        if (r >= 0) {
            FUZZ_CHECK((size_t)r < len && buf[r] == '\0', "read of %d into %zu", r, len);
            if ((e = honest_answer(c, XS_READ)) && !e->err)
                FUZZ_CHECK((uint32_t)r == e->blen && memcmp(buf, e->body, e->blen) == 0,
                           "read gave %d bytes, xenstored said %u", r, e->blen);
        }
        if ((e = honest_answer(c, XS_READ)) && !e->err && r < 0)
            FUZZ_CHECK(r == -E2BIG && e->blen >= len, "honest read failed: %d", r);
        break;
    case OP_WRITE:
        in_str(path, sizeof(path));
        len = fin_u16(&in) % (IVCOM_XS_PAYLOAD_MAX + 40);
        memset(val, 'v', len);
        fin_bytes(&in, val, len < 64 ? len : 64);
        r = ivcom_xs_write(c, IVCOM_XS_NO_TX, path, val, len);
        if (strlen(path) + 1 + len > IVCOM_XS_PAYLOAD_MAX && !was_broken)
            FUZZ_CHECK(r == -E2BIG, "write of %zu bytes gave %d", len, r);
        break;
    case OP_MKDIR:
        in_str(path, sizeof(path));
        r = ivcom_xs_mkdir(c, IVCOM_XS_NO_TX, path);
        FUZZ_CHECK(r <= 0, "mkdir gave %d", r);
        break;
    case OP_RM:
        in_str(path, sizeof(path));
        r = ivcom_xs_rm(c, IVCOM_XS_NO_TX, path);
        FUZZ_CHECK(r <= 0, "rm gave %d", r);
        break;
    case OP_DIRECTORY:
        in_str(path, sizeof(path));
        len = fin_u16(&in) % (sizeof(buf) + 1);
        r = ivcom_xs_directory(c, IVCOM_XS_NO_TX, path, buf, len);
        if (r > 0)
            FUZZ_CHECK((size_t)r <= len && buf[r - 1] == '\0', "directory of %d", r);
        if (r >= 0 && (e = honest_answer(c, XS_DIRECTORY)) && !e->err)
            FUZZ_CHECK((uint32_t)r == e->blen && memcmp(buf, e->body, e->blen) == 0,
                       "directory gave %d bytes, xenstored said %u", r, e->blen);
        break;
    case OP_GET_PERMS: {
        unsigned max = fin_u8(&in) % 9;

        in_str(path, sizeof(path));
        r = ivcom_xs_get_perms(c, IVCOM_XS_NO_TX, path, perms, max);
        FUZZ_CHECK(r <= (int)max, "get_perms gave %d of %u", r, max);
        if (r > 0) {
            char enc[512];
            int n = ivcom_xs_perms_encode(perms, (unsigned)r, enc, sizeof(enc));
            if ((e = honest_answer(c, XS_GET_PERMS)) && !e->err)
                FUZZ_CHECK(n > 0 && (uint32_t)n <= e->blen, "perms re-encode %d", n);
        }
        break;
    }
    case OP_SET_PERMS: {
        unsigned n = fin_u8(&in) % 9, k;

        in_str(path, sizeof(path));
        for (k = 0; k < n; k++) {
            perms[k].domid = fin_u32(&in);
            perms[k].perms = fin_u8(&in) % 5;
        }
        r = ivcom_xs_set_perms(c, IVCOM_XS_NO_TX, path, perms, n);
        FUZZ_CHECK(r <= 0, "set_perms gave %d", r);
        break;
    }
    case OP_TX_START:
        tx = 0;
        r = ivcom_xs_tx_start(c, &tx);
        FUZZ_CHECK(r <= 0 && (r < 0 || tx != 0), "tx_start gave %d, id %u", r, tx);
        break;
    case OP_TX_END:
        r = ivcom_xs_tx_end(c, fin_u32(&in), fin_u8(&in) & 1);
        FUZZ_CHECK(r <= 0, "tx_end gave %d", r);
        break;
    case OP_WATCH:
    case OP_UNWATCH:
        in_str(path, sizeof(path));
        in_str(token, sizeof(token));
        r = op == OP_WATCH ? ivcom_xs_watch(c, path, token) : ivcom_xs_unwatch(c, path, token);
        FUZZ_CHECK(r <= 0, "(un)watch gave %d", r);
        break;
    case OP_NEXT_EVENT: {
        uint32_t before = c->ev_count;

        r = ivcom_xs_next_event(c, &ev);
        FUZZ_CHECK(r == (before > 0) && c->ev_count == before - (uint32_t)r,
                   "next_event %d with %u queued", r, before);
        if (r)
            FUZZ_CHECK(memchr(ev.path, 0, sizeof(ev.path)) && memchr(ev.token, 0, sizeof(ev.token)),
                       "event not NUL-terminated");
        break;
    }
    case OP_WAIT_EVENT: {
        static const int timeouts[] = { 0, 5, -1, 200 };

        r = ivcom_xs_wait_event(c, timeouts[fin_u8(&in) & 3]);
        FUZZ_CHECK(r <= 0, "wait_event gave %d", r);
        break;
    }
    case OP_INTRODUCE:
        r = ivcom_xs_introduce(c, fin_u32(&in), (uint64_t)fin_u32(&in) << 20 | fin_u32(&in),
                               fin_u32(&in));
        FUZZ_CHECK(r <= 0, "introduce gave %d", r);
        break;
    case OP_RELEASE:
        r = ivcom_xs_release(c, fin_u32(&in));
        FUZZ_CHECK(r <= 0, "release gave %d", r);
        break;
    case OP_PERMS_DECODE: {
        unsigned max = fin_u8(&in) % 9;

        len = fin_u8(&in);
        fin_bytes(&in, buf, len);
        r = ivcom_xs_perms_decode(buf, len, perms, max);
        FUZZ_CHECK(r < 0 || ((unsigned)r <= max && r > 0), "decode gave %d of %u", r, max);
        if (r > 0) {
            /* What decoded encodes again, and decodes to the same. */
            struct ivcom_xs_perm again[8];
            char enc[512];
            int n = ivcom_xs_perms_encode(perms, (unsigned)r, enc, sizeof(enc));
            FUZZ_CHECK(n > 0, "re-encode gave %d", n);
            FUZZ_CHECK(ivcom_xs_perms_decode(enc, (size_t)n, again, 8) == r &&
                       memcmp(again, perms, (size_t)r * sizeof(*perms)) == 0,
                       "perms do not round-trip");
        }
        break;
    }
    default: {
        unsigned n = fin_u8(&in) % 9, k;
        char enc[64];

        for (k = 0; k < n; k++) {
            perms[k].domid = fin_u32(&in);
            perms[k].perms = fin_u8(&in) % 5;
        }
        len = fin_u8(&in) % sizeof(enc);
        r = ivcom_xs_perms_encode(perms, n, enc, len);
        FUZZ_CHECK(r <= (int)len, "encode gave %d into %zu", r, len);
        break;
    }
    }
    FUZZ_CHECK(r >= -4095, "op %u gave %d", op, r);
    if (was_broken && is_request(op) && op != OP_WAIT_EVENT)
        FUZZ_CHECK(r == was_broken || r == -E2BIG || r == -EINVAL,
                   "op %u gave %d on a client broken with %d", op, r, was_broken);
    if (was_broken)
        FUZZ_CHECK(c->broken == was_broken && c->next_req_id == req_before,
                   "a broken client changed (%d -> %d)", was_broken, c->broken);
    /* An honest error reply is the matching -errno. */
    if (is_request(op) && op != OP_WAIT_EVENT && r < 0 && r != -E2BIG &&
        (e = honest_answer(c, S.last.type)) && e->err &&
        c->next_req_id != req_before)
        FUZZ_CHECK(r == -(int)e->err, "op %u gave %d, xenstored said %u", op, r, e->err);
    check_client(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ivcom_xs_client c;
    struct ivcom_xs_transport t;
    struct ivcom_xs_ring ring;
    uint8_t config;
    unsigned steps = 0;

    in.p = data;
    in.n = size;
    memset(&S, 0, sizeof(S));
    config = fin_u8(&in);
    S.stream = config & 1;
    if (S.stream) {
        t.send = sock_send;
        t.recv = sock_recv;
        t.wait = sock_wait;
        t.ctx = NULL;
    } else {
        S.intf = calloc(1, sizeof(*S.intf));
        if (!S.intf)
            abort();
        if (config & 2) {
            S.intf->req_cons = S.intf->req_prod = 0xfffffc00u;
            S.intf->rsp_cons = S.intf->rsp_prod = 0xfffffe00u;
        }
        ring.intf = S.intf;
        ring.notify = ring_notify;
        ring.wait = ring_wait;
        ring.arg = NULL;
        ivcom_xs_ring_transport(&ring, &t);
    }
    ivcom_xs_init(&c, &t);
    while (fin_more(&in) && steps++ < 256)
        run_op(&c, fin_u8(&in) % NR_OPS);
    free(S.intf);
    return 0;
}
