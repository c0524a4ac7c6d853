/* SPDX-License-Identifier: MIT */
/* A tool's server without --peer: a service serving every allowed domain,
 * many at once, one poll() over the service's fd and every channel's. */
#ifndef IVCOM_TOOL_SERVICE_H
#define IVCOM_TOOL_SERVICE_H

#include <poll.h>

#include "tool.h"

#define TOOL_MAX_CLIENTS 256

struct tool_client {
    struct ivcom_chan *ch;
    int domid;
    long long count;            /* what the tool's turn counted */
    uint64_t bytes;
    unsigned char *buf;         /* the turn's own (freed with the client) */
    size_t have;
};

/* One turn for a channel that may have work: 0 to go on, 1 to go on with
 * work left (the next poll does not wait), -EPIPE when the client is
 * done, another -errno when it failed. */
typedef int (*tool_turn_fn)(struct tool_client *c, const struct tool_opts *o);

static inline void tool_client_report(const struct tool_opts *o, const struct tool_client *c,
                                      const char *what, int err)
{
    if (o->json)
        printf("{\"tool\": \"%s\", \"role\": \"service\", \"client\": %d, \"%s\": %lld, "
               "\"bytes\": %llu, \"error\": \"%s\"}\n", tool_prog, c->domid, what, c->count,
               (unsigned long long)c->bytes, err ? ivcom_strerror(err) : "");
    else if (err)
        fprintf(stderr, "%s: client dom %d: %s after %lld %s\n", tool_prog, c->domid,
                ivcom_strerror(err), c->count, what);
    else
        fprintf(stderr, "%s: client dom %d: %lld %s\n", tool_prog, c->domid, c->count, what);
    fflush(stdout);
}

/* Serve until --clients clients have ended (or for ever).  Returns the
 * number of clients that ended with an error.  Ends with one line on
 * stderr: "<tool>: service NAME: E clients ended, at most P at once,
 * R requests, A accepted, F refused, B over the limit, N abandoned, X bad". */
static inline int tool_serve_many(const struct tool_opts *o, struct ivcom_platform *plat,
                                  tool_turn_fn turn, const char *what)
{
    struct ivcom_policy pol = { .allow = o->nallow ? o->allow : NULL, .nallow = o->nallow };
    static struct tool_client cl[TOOL_MAX_CLIENTS];
    struct pollfd pfd[TOOL_MAX_CLIENTS + 1];
    struct ivcom_service *svc;
    struct ivcom_service_stats st;
    long long ended = 0;
    int n = 0, peak = 0, failed = 0, more = 0, i, err;

    err = ivcom_service_open(plat, o->name, &o->params, &pol, &svc);
    if (err)
        tool_die(1, "service %s: %s", o->name, ivcom_strerror(err));
    fprintf(stderr, "%s: serving %s\n", tool_prog, o->name);
    while (!o->clients || ended < o->clients) {
        struct ivcom_chan *ch;
        int np = 0, busy = 0;

        pfd[np++] = (struct pollfd){ .fd = ivcom_service_fd(svc), .events = POLLIN };
        for (i = 0; i < n; i++)
            pfd[np++] = (struct pollfd){ .fd = ivcom_fd(cl[i].ch), .events = POLLIN };
        if (poll(pfd, (nfds_t)np, more ? 0 : 1000) < 0 && errno != EINTR)
            tool_die(1, "poll: %s", strerror(errno));
        while (n < TOOL_MAX_CLIENTS && ivcom_service_accept(svc, &ch, 0) == 0) {
            cl[n] = (struct tool_client){ .ch = ch, .domid = ivcom_peer_domid(ch) };
            n++;
        }
        peak = n > peak ? n : peak;
        for (i = 0; i < n; i++) {
            ivcom_ack(cl[i].ch);
            err = turn(&cl[i], o);
            if (err >= 0) {
                busy |= err;
                continue;
            }
            tool_client_report(o, &cl[i], what, err == -EPIPE ? 0 : err);
            failed += err != -EPIPE;
            ended++;
            ivcom_close(cl[i].ch);
            free(cl[i].buf);
            cl[i--] = cl[--n];
        }
        more = busy;
    }
    for (i = 0; i < n; i++) {
        ivcom_close(cl[i].ch);
        free(cl[i].buf);
    }
    ivcom_service_get_stats(svc, &st);
    fprintf(stderr, "%s: service %s: %lld clients ended, at most %d at once, %llu requests, "
            "%llu accepted, %llu refused, %llu over the limit, %llu abandoned, %llu bad\n",
            tool_prog, o->name,
            ended, peak, (unsigned long long)st.requests, (unsigned long long)st.accepted,
            (unsigned long long)st.refused, (unsigned long long)st.over_limit,
            (unsigned long long)st.abandoned, (unsigned long long)st.bad_requests);
    ivcom_service_close(svc);
    return failed;
}

/* A server without --peer: open the platform, serve, and say how it went
 * as the tool's exit status (1 if any client ended with an error). */
static inline int tool_run_service(const struct tool_opts *o, tool_turn_fn turn,
                                   const char *what)
{
    struct ivcom_platform *plat;
    int err = ivcom_platform_open(o->platform, &plat), failed;

    if (err)
        tool_die(1, "platform: %s", ivcom_strerror(err));
    failed = tool_serve_many(o, plat, turn, what);
    ivcom_platform_close(plat);
    return failed ? 1 : 0;
}

#endif
