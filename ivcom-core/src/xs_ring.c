/* SPDX-License-Identifier: MIT */
/*
 * XenStore client: xs_wire.h framing over a ring page or a socket.
 * Freestanding (see xs_ring.h): no libc beyond memcpy/memcmp/memset/strlen.
 */
#include <stddef.h>
#include <stdint.h>

#if __STDC_HOSTED__
#include <errno.h>
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memset(void *s, int c, size_t n);
size_t strlen(const char *s);
/* Linux errno values, unless the environment brought its own. */
#ifndef EPERM
#define EPERM       1
#define ENOENT      2
#define EINTR       4
#define EIO         5
#define E2BIG       7
#define EAGAIN      11
#define ENOMEM      12
#define EACCES      13
#define EBUSY       16
#define EEXIST      17
#define EISDIR      21
#define EINVAL      22
#define ENOSPC      28
#define EROFS       30
#define ENOSYS      38
#define ENOTEMPTY   39
#define EPROTO      71
#define EISCONN     106
#define ETIMEDOUT   110
#endif
#endif

#include <xen/io/xs_wire.h>

#include "xs_ring.h"

_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xsd_sockmsg");
_Static_assert(XENSTORE_PAYLOAD_MAX == IVCOM_XS_PAYLOAD_MAX, "payload max");

/* Shared ring indexes: one load or store each, ordered as noted. */
static inline uint32_t idx_load_acquire(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline uint32_t idx_load_relaxed(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void idx_store_release(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- ring transport ----------------------------------------------------- */

static uint32_t min3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t m = a < b ? a : b;
    return m < c ? m : c;
}

static int ring_send(void *ctx, const void *buf, uint32_t len)
{
    struct ivcom_xs_ring *r = ctx;
    struct xenstore_domain_interface *intf = r->intf;
    uint32_t cons, prod, fill, off, n;

    /* X1: pairs with xenstored's barrier before it advances req_cons. */
    cons = idx_load_acquire(&intf->req_cons);
    prod = idx_load_relaxed(&intf->req_prod);
    fill = prod - cons;
    if (fill > XENSTORE_RING_SIZE)
        return -EPROTO;
    off = MASK_XENSTORE_IDX(prod);
    n = min3(len, XENSTORE_RING_SIZE - fill, XENSTORE_RING_SIZE - off);
    if (n == 0)
        return 0;
    memcpy(intf->req + off, buf, n);
    /* X2: publish the bytes; pairs with xenstored's barrier after it
     * reads req_prod and before it reads the data. */
    idx_store_release(&intf->req_prod, prod + n);
    r->notify(r->arg);
    return (int)n;
}

static int ring_recv(void *ctx, void *buf, uint32_t len)
{
    struct ivcom_xs_ring *r = ctx;
    struct xenstore_domain_interface *intf = r->intf;
    uint32_t cons, prod, fill, off, n;

    /* X3: pairs with xenstored's barrier before it advances rsp_prod. */
    prod = idx_load_acquire(&intf->rsp_prod);
    cons = idx_load_relaxed(&intf->rsp_cons);
    fill = prod - cons;
    if (fill > XENSTORE_RING_SIZE)
        return -EPROTO;
    off = MASK_XENSTORE_IDX(cons);
    n = min3(len, fill, XENSTORE_RING_SIZE - off);
    if (n == 0)
        return 0;
    memcpy(buf, intf->rsp + off, n);
    /* X4: the copy is done before the space is handed back. */
    idx_store_release(&intf->rsp_cons, cons + n);
    r->notify(r->arg);
    return (int)n;
}

static int ring_wait(void *ctx, int timeout_ms)
{
    struct ivcom_xs_ring *r = ctx;
    return r->wait(r->arg, timeout_ms);
}

void ivcom_xs_ring_transport(struct ivcom_xs_ring *ring,
                             struct ivcom_xs_transport *out)
{
    out->send = ring_send;
    out->recv = ring_recv;
    out->wait = ring_wait;
    out->ctx = ring;
}

/* ---- framing ------------------------------------------------------------ */

struct part {
    const void *p;
    uint32_t len;
};

void ivcom_xs_init(struct ivcom_xs_client *c,
                   const struct ivcom_xs_transport *t)
{
    memset(c, 0, sizeof(*c));
    c->t = *t;
    c->next_req_id = 1;
}

static int fail(struct ivcom_xs_client *c, int err)
{
    if (!c->broken && err != -EINTR)
        c->broken = err;
    return err;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static int send_all(struct ivcom_xs_client *c, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;

    while (len) {
        int r = c->t.send(c->t.ctx, p, len);
        if (r < 0)
            return r;
        if (r == 0) {
            r = c->t.wait(c->t.ctx, -1);
            if (r < 0 && r != -EINTR)
                return r;
            continue;
        }
        if ((uint32_t)r > len)
            return -EPROTO;
        p += r;
        len -= (uint32_t)r;
    }
    return 0;
}

/* Advance the receive state: 1 = a whole message is in rx_hdr/rx_body,
 * 0 = no more bytes available now, <0 = error. */
static int rx_step(struct ivcom_xs_client *c)
{
    for (;;) {
        uint32_t need = sizeof(c->rx_hdr);
        uint8_t *dst;
        int r;

        if (c->rx_got >= sizeof(c->rx_hdr)) {
            uint32_t blen = rd32(c->rx_hdr + 12);
            if (blen > XENSTORE_PAYLOAD_MAX)
                return -EPROTO;
            need += blen;
        }
        if (c->rx_got >= sizeof(c->rx_hdr) && c->rx_got == need)
            return 1;
        if (c->rx_got < sizeof(c->rx_hdr)) {
            dst = c->rx_hdr + c->rx_got;
            need = sizeof(c->rx_hdr) - c->rx_got;
        } else {
            dst = (uint8_t *)c->rx_body + (c->rx_got - sizeof(c->rx_hdr));
            need -= c->rx_got;
        }
        r = c->t.recv(c->t.ctx, dst, need);
        if (r <= 0)
            return r;
        if ((uint32_t)r > need)
            return -EPROTO;
        c->rx_got += (uint32_t)r;
    }
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static int queue_event(struct ivcom_xs_client *c, uint32_t blen)
{
    struct ivcom_xs_event *ev;
    const char *path = c->rx_body, *tok;
    size_t plen;

    c->rx_body[blen] = '\0';
    plen = strlen(path);
    if (plen >= blen)
        return -EPROTO;             /* no NUL between path and token */
    tok = path + plen + 1;

    if (c->ev_count == IVCOM_XS_EVENTS) {
        c->ev_head = (c->ev_head + 1) % IVCOM_XS_EVENTS;
        c->ev_count--;
        c->ev_dropped++;
    }
    ev = &c->ev[(c->ev_head + c->ev_count) % IVCOM_XS_EVENTS];
    copy_str(ev->path, sizeof(ev->path), path, plen);
    copy_str(ev->token, sizeof(ev->token), tok, strlen(tok));
    c->ev_count++;
    return 0;
}

/* Read what is available; watch events go to the queue.  1 = a reply is
 * complete (left in rx_hdr/rx_body), 0 = nothing more now. */
static int rx_pump(struct ivcom_xs_client *c, int want_reply)
{
    for (;;) {
        int r = rx_step(c);
        if (r <= 0)
            return r;
        if (rd32(c->rx_hdr) == XS_WATCH_EVENT) {
            r = queue_event(c, rd32(c->rx_hdr + 12));
            c->rx_got = 0;
            if (r < 0)
                return r;
            continue;
        }
        return want_reply ? 1 : -EPROTO;
    }
}

static int errno_of(const char *s)
{
    size_t i;

    for (i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
        const char *e = xsd_errors[i].errstring;
        size_t n = strlen(e);
        if (memcmp(s, e, n + 1) == 0)
            return -xsd_errors[i].errnum;
    }
    return -EIO;
}

/* One request, one reply.  Returns the reply body length (body in
 * c->rx_body, NUL-terminated) or -errno. */
static int request(struct ivcom_xs_client *c, uint32_t type, uint32_t tx,
                   const struct part *parts, unsigned nparts)
{
    uint8_t hdr[16];
    uint32_t len = 0, req_id, blen;
    unsigned i;
    int r;

    if (c->broken)
        return c->broken;
    for (i = 0; i < nparts; i++) {
        if (parts[i].len > XENSTORE_PAYLOAD_MAX - len)
            return -E2BIG;
        len += parts[i].len;
    }
    req_id = c->next_req_id++;
    wr32(hdr, type);
    wr32(hdr + 4, req_id);
    wr32(hdr + 8, tx);
    wr32(hdr + 12, len);

    r = send_all(c, hdr, sizeof(hdr));
    for (i = 0; r == 0 && i < nparts; i++)
        r = send_all(c, parts[i].p, parts[i].len);
    if (r < 0)
        return fail(c, r);

    for (;;) {
        r = rx_pump(c, 1);
        if (r < 0)
            return fail(c, r);
        if (r == 1)
            break;
        r = c->t.wait(c->t.ctx, -1);
        if (r < 0 && r != -EINTR && r != -ETIMEDOUT)
            return fail(c, r);
    }

    blen = rd32(c->rx_hdr + 12);
    c->rx_body[blen] = '\0';
    c->rx_got = 0;
    if (rd32(c->rx_hdr + 4) != req_id)
        return fail(c, -EPROTO);
    if (rd32(c->rx_hdr) == XS_ERROR)
        return errno_of(c->rx_body);
    if (rd32(c->rx_hdr) != type)
        return fail(c, -EPROTO);
    return (int)blen;
}

static struct part str_part(const char *s)
{
    struct part p = { s, (uint32_t)strlen(s) + 1 };
    return p;
}

/* ---- numbers ------------------------------------------------------------ */

static size_t fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

static int parse_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 10)
        return -EPROTO;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EPROTO;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > 0xffffffffu)
        return -EPROTO;
    *out = (uint32_t)v;
    return 0;
}

/* ---- operations --------------------------------------------------------- */

int ivcom_xs_read(struct ivcom_xs_client *c, uint32_t tx, const char *path,
                  char *buf, size_t len)
{
    struct part p = str_part(path);
    int r = request(c, XS_READ, tx, &p, 1);

    if (r < 0)
        return r;
    if (len == 0 || (size_t)r >= len)
        return -E2BIG;
    memcpy(buf, c->rx_body, (size_t)r);
    buf[r] = '\0';
    return r;
}

int ivcom_xs_write(struct ivcom_xs_client *c, uint32_t tx, const char *path,
                   const void *value, size_t vlen)
{
    struct part p[2] = { str_part(path), { value, (uint32_t)vlen } };
    int r;

    if (vlen > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    r = request(c, XS_WRITE, tx, p, 2);
    return r < 0 ? r : 0;
}

int ivcom_xs_mkdir(struct ivcom_xs_client *c, uint32_t tx, const char *path)
{
    struct part p = str_part(path);
    int r = request(c, XS_MKDIR, tx, &p, 1);

    return r < 0 ? r : 0;
}

int ivcom_xs_rm(struct ivcom_xs_client *c, uint32_t tx, const char *path)
{
    struct part p = str_part(path);
    int r = request(c, XS_RM, tx, &p, 1);

    return r < 0 ? r : 0;
}

int ivcom_xs_directory(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, char *buf, size_t len)
{
    struct part p = str_part(path);
    int r = request(c, XS_DIRECTORY, tx, &p, 1);

    if (r < 0)
        return r;
    if ((size_t)r > len)
        return -E2BIG;
    if (r > 0 && c->rx_body[r - 1] != '\0')
        return fail(c, -EPROTO);
    memcpy(buf, c->rx_body, (size_t)r);
    return r;
}

int ivcom_xs_perms_encode(const struct ivcom_xs_perm *perms, unsigned n,
                          char *buf, size_t len)
{
    static const char letter[4] = { 'n', 'r', 'w', 'b' };
    size_t used = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        char num[24];
        size_t k;

        if (perms[i].perms > IVCOM_XS_PERM_BOTH)
            return -EINVAL;
        k = fmt_u64(num, perms[i].domid);
        if (used + k + 2 > len)
            return -E2BIG;
        buf[used++] = letter[perms[i].perms];
        memcpy(buf + used, num, k + 1);
        used += k + 1;
    }
    return (int)used;
}

int ivcom_xs_perms_decode(const char *buf, size_t len,
                          struct ivcom_xs_perm *perms, unsigned max)
{
    size_t pos = 0;
    unsigned n = 0;

    while (pos < len) {
        size_t end = pos;
        uint32_t domid, bits;

        while (end < len && buf[end] != '\0')
            end++;
        if (end == len || end - pos < 2)
            return -EPROTO;
        switch (buf[pos]) {
        case 'n': bits = IVCOM_XS_PERM_NONE; break;
        case 'r': bits = IVCOM_XS_PERM_READ; break;
        case 'w': bits = IVCOM_XS_PERM_WRITE; break;
        case 'b': bits = IVCOM_XS_PERM_BOTH; break;
        default: return -EPROTO;
        }
        if (parse_u32(buf + pos + 1, end - pos - 1, &domid) < 0)
            return -EPROTO;
        if (n < max) {
            perms[n].domid = domid;
            perms[n].perms = bits;
        }
        n++;
        pos = end + 1;
    }
    if (n == 0)
        return -EPROTO;
    return n > max ? -E2BIG : (int)n;
}

int ivcom_xs_get_perms(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, struct ivcom_xs_perm *perms,
                       unsigned max)
{
    struct part p = str_part(path);
    int r = request(c, XS_GET_PERMS, tx, &p, 1);

    if (r < 0)
        return r;
    r = ivcom_xs_perms_decode(c->rx_body, (size_t)r, perms, max);
    return r == -EPROTO ? fail(c, r) : r;
}

int ivcom_xs_set_perms(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, const struct ivcom_xs_perm *perms,
                       unsigned nperms)
{
    char enc[512];
    struct part p[2];
    int r;

    if (nperms == 0)
        return -EINVAL;
    r = ivcom_xs_perms_encode(perms, nperms, enc, sizeof(enc));
    if (r < 0)
        return r;
    p[0] = str_part(path);
    p[1].p = enc;
    p[1].len = (uint32_t)r;
    r = request(c, XS_SET_PERMS, tx, p, 2);
    return r < 0 ? r : 0;
}

int ivcom_xs_tx_start(struct ivcom_xs_client *c, uint32_t *tx)
{
    struct part p = { "", 1 };
    int r = request(c, XS_TRANSACTION_START, 0, &p, 1);

    if (r < 0)
        return r;
    if (r > 0 && c->rx_body[r - 1] == '\0')
        r--;
    if (parse_u32(c->rx_body, (size_t)r, tx) < 0 || *tx == 0)
        return fail(c, -EPROTO);
    return 0;
}

int ivcom_xs_tx_end(struct ivcom_xs_client *c, uint32_t tx, int abort)
{
    struct part p = { abort ? "F" : "T", 2 };
    int r = request(c, XS_TRANSACTION_END, tx, &p, 1);

    return r < 0 ? r : 0;
}

int ivcom_xs_watch(struct ivcom_xs_client *c, const char *path,
                   const char *token)
{
    struct part p[2] = { str_part(path), str_part(token) };
    int r = request(c, XS_WATCH, 0, p, 2);

    return r < 0 ? r : 0;
}

int ivcom_xs_unwatch(struct ivcom_xs_client *c, const char *path,
                     const char *token)
{
    struct part p[2] = { str_part(path), str_part(token) };
    int r = request(c, XS_UNWATCH, 0, p, 2);

    return r < 0 ? r : 0;
}

int ivcom_xs_next_event(struct ivcom_xs_client *c, struct ivcom_xs_event *ev)
{
    if (c->ev_count == 0)
        return 0;
    *ev = c->ev[c->ev_head];
    c->ev_head = (c->ev_head + 1) % IVCOM_XS_EVENTS;
    c->ev_count--;
    return 1;
}

int ivcom_xs_wait_event(struct ivcom_xs_client *c, int timeout_ms)
{
    int r;

    if (c->broken)
        return c->broken;
    r = rx_pump(c, 0);
    if (r < 0)
        return fail(c, r);
    if (c->ev_count)
        return 0;
    if (timeout_ms == 0)
        return -ETIMEDOUT;
    r = c->t.wait(c->t.ctx, timeout_ms);
    if (r < 0)
        return r == -ETIMEDOUT || r == -EINTR ? r : fail(c, r);
    r = rx_pump(c, 0);
    if (r < 0)
        return fail(c, r);
    return 0;       /* woken: an event, or spuriously */
}

int ivcom_xs_introduce(struct ivcom_xs_client *c, uint32_t domid,
                       uint64_t gfn, uint32_t port)
{
    char d[24], g[24], p[24];
    struct part parts[3];
    int r;

    fmt_u64(d, domid);
    fmt_u64(g, gfn);
    fmt_u64(p, port);
    parts[0] = str_part(d);
    parts[1] = str_part(g);
    parts[2] = str_part(p);
    r = request(c, XS_INTRODUCE, 0, parts, 3);
    return r < 0 ? r : 0;
}

int ivcom_xs_release(struct ivcom_xs_client *c, uint32_t domid)
{
    char d[24];
    struct part p;
    int r;

    fmt_u64(d, domid);
    p = str_part(d);
    r = request(c, XS_RELEASE, 0, &p, 1);
    return r < 0 ? r : 0;
}
