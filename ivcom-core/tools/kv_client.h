/* SPDX-License-Identifier: MIT */
/*
 * ivcom-kv's client: its options, one connection to the kv service over
 * an IVCOM channel or over TCP (kv_tcp.h), and one request/reply call
 * whose reply is checked for framing whichever way it came.
 */
#ifndef IVCOM_KV_CLIENT_H
#define IVCOM_KV_CLIENT_H

#include "kv_serve.h"
#include "kv_tcp.h"
#include "tool_service.h"

struct kv_opts {
    const char *cmd;
    char **args;
    int nargs;
    int domain;
    const char *name;
    const char *platform;
    const char *tcp;            /* --tcp HOST:PORT (serve: where to listen) */
    int timeout_ms;
    int json;
    /* serve */
    int allow[64];
    unsigned nallow;
    long long clients;
    long long memory;
    long long value_max;
    int order;
    long long spin_us;
    /* bench */
    long long count;
    int count_set;
    unsigned duration_s;
    long long keys;
    size_t size;
    const char *prefix;
    int reconnect;
    uint64_t at_ns;
    int at_stdin;
    double at_wall;             /* --at-wall T: CLOCK_REALTIME seconds (0: not given) */
    unsigned char given[512];   /* options seen, by getopt code */
};
struct kv_client {
    const struct kv_opts *o;
    struct ivcom_platform *plat;    /* IVCOM */
    struct ivcom_chan *ch;
    int fd;                         /* TCP: the socket, else -1 */
    uint8_t *req, *rep;             /* req: KV_TCP_LEN bytes of room, then the request */
    size_t cap;                     /* of a request and a reply: the largest message */
    uint32_t id;
    /* the last reply */
    uint8_t status;
    uint16_t flags;
    const uint8_t *payload;
    uint32_t plen;
    long long reconnects;
    char where[96];                 /* the service: "kv on domain 0", "tcp HOST:PORT" */
};

static const char *status_text(uint8_t st)
{
    static const char *const text[] = {
        [KV_OK] = "ok", [KV_ENOTFOUND] = "not found", [KV_ETOOLARGE] = "too large",
        [KV_EFULL] = "store full", [KV_EBADFRAME] = "bad frame", [KV_EBADOP] = "bad op",
        [KV_EBADKEY] = "bad key",
    };

    return st < sizeof(text) / sizeof(text[0]) ? text[st] : "unknown status";
}

/* An error of the transport: the channel's words, or the socket's. */
static const char *kv_strerror(const struct kv_client *k, int err)
{
    if (!k->o->tcp)
        return ivcom_strerror(err);
    if (err == -EPROTO)
        return "a reply over the largest message";
    if (err == -EPIPE)
        return "the service closed the connection";
    return strerror(-err);
}

static int kv_connect(struct kv_client *k)
{
    size_t cap;

    if (k->o->tcp) {
        int fd = kv_tcp_connect(k->o->tcp, k->o->timeout_ms);

        if (fd < 0)
            return fd;
        k->fd = fd;
        cap = kv_tcp_max_msg(k->o->order);
    } else {
        int err = ivcom_connect(k->plat, k->o->name, k->o->domain, NULL, &k->ch,
                                k->o->timeout_ms);

        if (err)
            return err;
        cap = ivcom_max_msg(k->ch);
    }
    if (cap > k->cap) {
        free(k->req);
        free(k->rep);
        k->req = malloc(KV_TCP_LEN + cap);
        k->rep = malloc(cap);
        if (!k->req || !k->rep)
            tool_die(1, "out of memory");
        k->cap = cap;
    }
    return 0;
}

static void kv_disconnect(struct kv_client *k)
{
    if (k->ch)
        ivcom_close(k->ch);
    if (k->fd >= 0)
        close(k->fd);
    k->ch = NULL;
    k->fd = -1;
}

static void kv_open(struct kv_client *k, const struct kv_opts *o)
{
    int err;

    memset(k, 0, sizeof(*k));
    k->o = o;
    k->fd = -1;
    if (o->tcp) {
        snprintf(k->where, sizeof(k->where), "tcp %s", o->tcp);
    } else {
        snprintf(k->where, sizeof(k->where), "%s on domain %d", o->name, o->domain);
        err = ivcom_platform_open(o->platform, &k->plat);
        if (err)
            tool_die(1, "platform %s: %s", o->platform ? o->platform : "(default)",
                     ivcom_strerror(err));
    }
    err = kv_connect(k);
    if (err)
        tool_die(1, "connect %s: %s", k->where, kv_strerror(k, err));
}

static void kv_end(struct kv_client *k)
{
    kv_disconnect(k);
    if (k->plat)
        ivcom_platform_close(k->plat);
    free(k->req);
    free(k->rep);
}

/* One request, its reply checked for framing: 0 (then k->status...) or
 * the transport's -errno; a reply that does not frame is fatal. */
static int kv_call(struct kv_client *k, uint8_t op, const void *key, size_t klen,
                   const void *val, size_t vlen)
{
    uint8_t *msg = k->req + KV_TCP_LEN;
    size_t n;
    ssize_t r;

    if (KV_REQ_HDR + klen + vlen > k->cap)
        tool_die(1, "request of %zu bytes over the largest message %zu",
                 KV_REQ_HDR + klen + vlen, k->cap);
    n = kv_req_header(msg, op, ++k->id, (uint16_t)klen, (uint32_t)vlen);
    if (klen)
        memcpy(msg + KV_REQ_HDR, key, klen);
    if (vlen)
        memcpy(msg + KV_REQ_HDR + klen, val, vlen);
    if (k->fd >= 0) {
        r = kv_tcp_call(k->fd, k->req, n, k->rep, k->cap);
        if (r < 0)
            return (int)r;
    } else {
        r = ivcom_send(k->ch, msg, n, k->o->timeout_ms);
        if (r < 0)
            return (int)r;
        r = ivcom_recv(k->ch, k->rep, k->cap, k->o->timeout_ms);
        if (r < 0)
            return (int)r;
    }
    if ((size_t)r < KV_REPLY_HDR || k->rep[0] != op || kv_get32(k->rep + 4) != k->id ||
        kv_get32(k->rep + 8) != (size_t)r - KV_REPLY_HDR)
        tool_die(1, "malformed reply to request %u (%zd bytes)", k->id, r);
    k->status = k->rep[1];
    k->flags = kv_get16(k->rep + 2);
    k->payload = k->rep + KV_REPLY_HDR;
    k->plen = kv_get32(k->rep + 8);
    if (k->status != KV_OK && k->plen)
        tool_die(1, "error reply with a payload to request %u", k->id);
    return 0;
}

/* kv_call for the one-shot commands: any failure is fatal. */
static void kv_call1(struct kv_client *k, const char *what, uint8_t op, const void *key,
                     size_t klen, const void *val, size_t vlen)
{
    int err = kv_call(k, op, key, klen, val, vlen);

    if (err)
        tool_die(1, "%s: %s", what, kv_strerror(k, err));
    if (k->status != KV_OK)
        tool_die(1, "%s: %s", what, status_text(k->status));
}

#endif
