/* SPDX-License-Identifier: MIT */
/*
 * ivcom-kv over TCP: the same request handler (kv_serve.c) and the same
 * framing as over an IVCOM channel -- one request per message, one reply
 * per message, in order -- with each message on the byte stream prefixed
 * by its length (u32, little-endian).  A message is at most what one
 * IVCOM channel of the same ring order carries (kv_tcp_max_msg()); a
 * length above that closes the connection, with one line on stderr.
 * The baseline the kv benchmark sets IVCOM against (netfront TCP).
 */
#ifndef IVCOM_KV_TCP_H
#define IVCOM_KV_TCP_H

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ivcom/wire.h"
#include "kv_serve.h"
#include "tool.h"

#define KV_TCP_LEN 4            /* the length prefix */

/* The largest message of an IVCOM channel whose rings are 2^order bytes. */
static inline size_t kv_tcp_max_msg(int order)
{
    return ((size_t)1 << order) - sizeof(struct ivcom_msg_hdr);
}

/* "HOST:PORT" ("[v6]:PORT"; HOST empty: any address) into its parts;
 * a bad one is a usage error (exit 2). */
static inline void kv_tcp_split(const char *what, const char *s, char *host, size_t hcap,
                                char *port, size_t pcap)
{
    const char *colon = strrchr(s, ':'), *h = s;
    size_t hl;
    char *end;
    long p;

    if (!colon || !colon[1])
        tool_die(2, "%s: expected HOST:PORT, got '%s'", what, s);
    hl = (size_t)(colon - s);
    if (hl >= 2 && s[0] == '[' && colon[-1] == ']') {
        h = s + 1;
        hl -= 2;
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || *end || p < 0 || p > 65535 || hl >= hcap)
        tool_die(2, "%s: expected HOST:PORT, got '%s'", what, s);
    memcpy(host, h, hl);
    host[hl] = 0;
    snprintf(port, pcap, "%ld", p);
}

static inline struct addrinfo *kv_tcp_resolve(const char *what, const char *s, int passive)
{
    struct addrinfo hints, *ai = NULL;
    char host[256], port[8];
    int err;

    kv_tcp_split(what, s, host, sizeof(host), port, sizeof(port));
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    err = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (err)
        tool_die(1, "%s %s: %s", what, s, gai_strerror(err));
    return ai;
}

/* "IP:PORT" of a socket address. */
static inline void kv_tcp_name(const struct sockaddr *sa, char *out, size_t cap)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];

    if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in),
                    host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV))
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

static inline void kv_tcp_nodelay(int fd)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---- the client's side --------------------------------------------------- */

/* Connect to "HOST:PORT" (a refused or unreachable connect is tried again
 * every 50 ms, up to timeout_ms: the service may not listen yet).  Each
 * send and receive then waits at most timeout_ms.  Returns the socket or
 * -errno. */
static inline int kv_tcp_connect(const char *addr, int timeout_ms)
{
    uint64_t end = tool_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    struct addrinfo *ai = kv_tcp_resolve("--tcp", addr, 0), *a;
    int fd = -1, err = -ECONNREFUSED;

    for (;;) {
        for (a = ai; a; a = a->ai_next) {
            fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                err = -errno;
                continue;
            }
            if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                break;
            err = -errno;
            close(fd);
            fd = -1;
        }
        if (fd >= 0 || tool_now_ns() >= end ||
            (err != -ECONNREFUSED && err != -ENETUNREACH && err != -EHOSTUNREACH &&
             err != -ETIMEDOUT))
            break;
        tool_sleep_until(tool_now_ns() + 50000000u);
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return err;
    kv_tcp_nodelay(fd);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static inline int kv_tcp_errno(void)
{
    return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

/* One request (n bytes at buf + KV_TCP_LEN; the prefix is written here)
 * and its reply into rep (at most cap bytes, after its prefix is read):
 * the reply's length, or -errno (-EPIPE: the service closed; -EPROTO: a
 * reply over cap). */
static inline ssize_t kv_tcp_call(int fd, uint8_t *buf, size_t n, uint8_t *rep, size_t cap)
{
    size_t done = 0, want = KV_TCP_LEN, len = 0;
    uint8_t hdr[KV_TCP_LEN];

    kv_put32(buf, (uint32_t)n);
    n += KV_TCP_LEN;
    while (done < n) {
        ssize_t r = send(fd, buf + done, n - done, MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kv_tcp_errno();
        done += (size_t)r;
    }
    /* the prefix, then the body; usually one recv() takes both */
    for (done = 0; done < want;) {
        struct iovec iov[2];
        struct msghdr mh = { .msg_iov = iov };
        ssize_t r;

        if (done < KV_TCP_LEN) {
            iov[0] = (struct iovec){ hdr + done, KV_TCP_LEN - done };
            iov[1] = (struct iovec){ rep, cap };
            mh.msg_iovlen = 2;
        } else {
            iov[0] = (struct iovec){ rep + (done - KV_TCP_LEN), want - done };
            mh.msg_iovlen = 1;
        }
        r = recvmsg(fd, &mh, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return kv_tcp_errno();
        if (r == 0)
            return -EPIPE;
        done += (size_t)r;
        if (want == KV_TCP_LEN && done >= KV_TCP_LEN) {
            len = kv_get32(hdr);
            if (len > cap)
                return -EPROTO;
            want = KV_TCP_LEN + len;
            if (done > want)            /* more than one reply: not ours */
                return -EPROTO;
        }
    }
    return (ssize_t)len;
}

/* ---- the service's side ------------------------------------------------- */

struct kv_tcp_conn {
    int fd;
    char peer[64];              /* "IP:PORT" */
    uint8_t *in;                /* prefix + one message, possibly partial */
    size_t in_have;
    uint8_t *out;               /* one framed reply not yet sent */
    size_t out_len, out_sent;
    long long count;
    uint64_t bytes;
};

struct kv_tcp_serve {
    const char *name;           /* the service's name, for its reports */
    const char *addr;           /* where it listens: "HOST:PORT" */
    struct kv_store *store;
    size_t cap;                 /* the largest message, request or reply */
    long long clients;          /* exit once this many ended (0: never) */
    uint64_t spin_ns;           /* look again this long after work */
    int json;
};

enum { KV_TCP_MAX_CONNS = 256, KV_TCP_TURN = 256 };

static inline void kv_tcp_report(const struct kv_tcp_serve *s, const struct kv_tcp_conn *c,
                                 const char *err)
{
    if (s->json)
        printf("{\"tool\": \"%s\", \"role\": \"service\", \"transport\": \"tcp\", "
               "\"client\": \"%s\", \"requests\": %lld, \"bytes\": %llu, \"error\": \"%s\"}\n",
               tool_prog, c->peer, c->count, (unsigned long long)c->bytes, err ? err : "");
    else if (err)
        fprintf(stderr, "%s: client %s: %s after %lld requests\n", tool_prog, c->peer, err,
                c->count);
    else
        fprintf(stderr, "%s: client %s: %lld requests\n", tool_prog, c->peer, c->count);
    fflush(stdout);
}

/* Send what is left of the pending reply: 0 when all of it went, 1 when
 * the socket is full (wait for POLLOUT), -errno. */
static inline int kv_tcp_flush(struct kv_tcp_conn *c)
{
    while (c->out_sent < c->out_len) {
        ssize_t r = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -errno;
        c->out_sent += (size_t)r;
    }
    c->out_len = c->out_sent = 0;
    return 0;
}

/* A connection's turn: its pending reply first, then each whole request
 * answered at once; a client whose replies do not drain is not read
 * (its requests wait in its socket).  0 to go on (1: work left), -EPIPE
 * when the client closed, -EMSGSIZE for a bad length (*why says it),
 * another -errno when it failed. */
static inline int kv_tcp_turn(const struct kv_tcp_serve *s, struct kv_tcp_conn *c,
                              char *why, size_t wcap)
{
    int k, err;

    for (k = 0; k < KV_TCP_TURN; k++) {
        uint32_t len;

        err = kv_tcp_flush(c);
        if (err)
            return err < 0 ? err : 0;
        if (c->in_have >= KV_TCP_LEN) {
            len = kv_get32(c->in);
            if (len > s->cap) {
                snprintf(why, wcap, "a message of %u bytes, over the largest %zu", len, s->cap);
                return -EMSGSIZE;
            }
            if (c->in_have >= KV_TCP_LEN + len) {
                size_t n = kv_serve(s->store, c->in + KV_TCP_LEN, len, c->out + KV_TCP_LEN,
                                    s->cap);

                kv_put32(c->out, (uint32_t)n);
                c->out_len = KV_TCP_LEN + n;
                c->count++;
                c->bytes += len;
                c->in_have -= KV_TCP_LEN + len;
                memmove(c->in, c->in + KV_TCP_LEN + len, c->in_have);
                continue;
            }
        }
        {
            /* no further than the message in hand once its length is
             * known: a flood stays in the socket, where TCP holds it back */
            size_t want = c->in_have < KV_TCP_LEN ? KV_TCP_LEN + s->cap
                                                  : KV_TCP_LEN + kv_get32(c->in);
            ssize_t r = recv(c->fd, c->in + c->in_have, want - c->in_have, MSG_DONTWAIT);

            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
            if (r == 0) {
                if (c->in_have) {
                    snprintf(why, wcap, "closed within a message (%zu bytes of it)", c->in_have);
                    return -EMSGSIZE;
                }
                return -EPIPE;
            }
            c->in_have += (size_t)r;
        }
    }
    return 1;
}

static inline void kv_tcp_drop(struct kv_tcp_conn *c)
{
    close(c->fd);
    free(c->in);
    free(c->out);
}

/* Serve TCP clients, many at once, one poll() over the listening socket
 * and every connection, until s->clients have ended (or for ever).
 * Returns the number of clients that ended with an error.  Ends with one
 * line on stderr, as the IVCOM service does. */
static inline int kv_tcp_serve(const struct kv_tcp_serve *s)
{
    static struct kv_tcp_conn cl[KV_TCP_MAX_CONNS];
    struct pollfd pfd[KV_TCP_MAX_CONNS + 1];
    struct addrinfo *ai = kv_tcp_resolve("--tcp", s->addr, 1);
    struct sockaddr_storage sa;
    socklen_t slen = sizeof(sa);
    long long ended = 0, requests = 0, bad = 0;
    uint64_t last_work = 0;
    int lfd, one = 1, n = 0, peak = 0, failed = 0, more = 0, i, err;
    char here[64], why[128];

    lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lfd < 0)
        tool_die(1, "socket: %s", strerror(errno));
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, ai->ai_addr, ai->ai_addrlen) || listen(lfd, 64))
        tool_die(1, "listen on %s: %s", s->addr, strerror(errno));
    freeaddrinfo(ai);
    getsockname(lfd, (struct sockaddr *)&sa, &slen);
    kv_tcp_name((struct sockaddr *)&sa, here, sizeof(here));
    fprintf(stderr, "%s: serving %s on tcp %s\n", tool_prog, s->name, here);
    while (!s->clients || ended < s->clients) {
        int np = 0, busy = 0, timeout = more ? 0 : 1000;

        if (!more && s->spin_ns && tool_now_ns() - last_work < s->spin_ns)
            timeout = 0;
        pfd[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        for (i = 0; i < n; i++)
            pfd[np++] = (struct pollfd){ .fd = cl[i].fd,
                                         .events = cl[i].out_len ? POLLOUT : POLLIN };
        if (poll(pfd, (nfds_t)np, timeout) < 0 && errno != EINTR)
            tool_die(1, "poll: %s", strerror(errno));
        while (n < KV_TCP_MAX_CONNS) {
            struct kv_tcp_conn *c = &cl[n];
            int fd;

            slen = sizeof(sa);
            fd = accept4(lfd, (struct sockaddr *)&sa, &slen, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                break;
            *c = (struct kv_tcp_conn){ .fd = fd };
            kv_tcp_name((struct sockaddr *)&sa, c->peer, sizeof(c->peer));
            c->in = malloc(KV_TCP_LEN + s->cap);
            c->out = malloc(KV_TCP_LEN + s->cap);
            if (!c->in || !c->out)
                tool_die(1, "out of memory");
            kv_tcp_nodelay(fd);
            n++;
        }
        peak = n > peak ? n : peak;
        for (i = 0; i < n; i++) {
            long long before = cl[i].count;

            err = kv_tcp_turn(s, &cl[i], why, sizeof(why));
            requests += cl[i].count - before;
            if (cl[i].count != before)
                last_work = tool_now_ns();
            if (err >= 0) {
                busy |= err;
                continue;
            }
            if (err == -EMSGSIZE) {
                fprintf(stderr, "%s: client %s: %s: connection closed\n", tool_prog,
                        cl[i].peer, why);
                bad++;
            }
            if (err != -EPIPE)
                failed++;
            if (s->json || err != -EMSGSIZE)
                kv_tcp_report(s, &cl[i], err == -EPIPE ? NULL
                              : err == -EMSGSIZE ? "bad length" : strerror(-err));
            ended++;
            kv_tcp_drop(&cl[i]);
            cl[i--] = cl[--n];
        }
        more = busy;
    }
    for (i = 0; i < n; i++)
        kv_tcp_drop(&cl[i]);
    close(lfd);
    fprintf(stderr, "%s: service %s (tcp %s): %lld clients ended, at most %d at once, "
            "%lld requests, %lld bad lengths\n", tool_prog, s->name, here, ended, peak,
            requests, bad);
    return failed;
}

#endif
