/* SPDX-License-Identifier: MIT */
/*
 * The service kit: a tiny guest that serves many client domains at once,
 * each on its own message-mode channel, as one IVCOM service.  The app
 * gives callbacks; the kit parses the xl extra= words, publishes the
 * service, accepts clients, reads their messages and sends the replies,
 * notices clients that leave, and ends with the result line.
 *
 *     static int on_message(struct ivsvc *s, struct ivsvc_client *c,
 *                           const void *msg, size_t len)
 *     {
 *         return ivsvc_reply(c, msg, len);            // an echo service
 *     }
 *     static const struct ivsvc_ops ops = { .app = "echo",
 *                                           .on_message = on_message };
 *     int app_main(const char *args) { return ivsvc_run(&ops, args); }
 *
 * Words (the kit's; an app adds its own in ops->words):
 *   role=service        the default unless ops->default_role says else
 *   name=NAME           the service's name (required)
 *   allow=D1,D2,...     the client domains it serves (default: any)
 *   max=N               clients at once (default 16, at most 64); one more
 *                       is accepted and closed at once ("turned away")
 *   clients=N           end after N clients have left (default: never)
 *   order=LOG2          ring size of every channel (default 14: 16 KiB)
 *   spin=US             after work, look again this long before sleeping
 *                       (default 30)
 *   poll                never sleep in SCHEDOP_poll
 * role=server|client (peer=N, or data/ivcom-peer) serves the one channel
 * that ivapp sets up, with ivapp's words, until that peer leaves.
 *
 * A word the app does not know, a repeated word or a bad value is ONE
 * FAILURE line naming the word; the domain then shuts down.
 *
 * The loop runs on one vCPU and never busy-waits: with nothing to do it
 * sleeps in SCHEDOP_poll on the XenStore port (the service's watch) and
 * every client's port, for at most 200 ms while it has clients (the
 * presence probe that notices a client whose domain was destroyed) and
 * 1 s without.  What one client holds is bounded (its channel's pages,
 * one reply kept aside, the app's priv) and returned when it leaves.
 */
#ifndef APPS_IVSVC_H
#define APPS_IVSVC_H

#include <stddef.h>
#include <stdint.h>
#include <ivcom/ivcom.h>

#include "ivapp.h"
#include "ivsvc_tab.h"

struct ivsvc;

struct ivsvc_ops {
    const char *app;                /* "kv": in every line it prints */
    const char *const *words;       /* the app's own extra= keys (NULL-ended) */
    const char *default_role;       /* "service" when NULL */
    /* The words are checked: read the app's own, set up (s->user).
     * 0, or -errno after report_failure(). */
    int  (*on_start)(struct ivsvc *s, const char *args);
    /* A client came: 0 to serve it (c->priv may be set), -errno to turn
     * it away (closed at once). */
    int  (*on_client)(struct ivsvc *s, struct ivsvc_client *c);
    /* One message, in place in the ring until this returns: reply with
     * ivsvc_reply() (or not).  0, or -errno to end this client. */
    int  (*on_message)(struct ivsvc *s, struct ivsvc_client *c,
                       const void *msg, size_t len);
    /* The client left (err 0: it closed) or was ended (err < 0). */
    void (*on_gone)(struct ivsvc *s, struct ivsvc_client *c, int err);
    /* The app's tail of the SUCCESS line (" key=value ..."). */
    void (*on_report)(struct ivsvc *s, char *buf, size_t len);
    /* Last: free what on_start set up. */
    void (*on_stop)(struct ivsvc *s);
};

struct ivsvc {
    const struct ivsvc_ops *ops;
    struct ivapp a;                 /* app name, name, params, platform */
    int service;                    /* role=service (else one peer) */
    unsigned long goal;             /* clients=: end after this many left */
    struct ivcom_service *svc;
    struct ivsvc_tab tab;
    void *user;                     /* the app's (on_start sets it) */
    uint64_t spin_ns;
    int allow[64];
    int nallow;
    /* counters */
    uint64_t ended, failed, turned_away, msgs, bytes;
    unsigned long free_kib_start;   /* free memory once serving, no client */
};

/* Run the app as a service (or one-peer server/client): returns what
 * app_main returns, the result line printed. */
int ivsvc_run(const struct ivsvc_ops *ops, const char *args);

/* Send `len` bytes to the client as one message.  If its ring is full the
 * reply is kept (one per client) and sent before any more of its messages
 * are read.  0, -EMSGSIZE (over ivcom_max_msg), -EBUSY (one is kept
 * already), -ENOMEM, or the channel's error. */
int ivsvc_reply(struct ivsvc_client *c, const void *buf, size_t len);

/* Bytes the app may use beyond what max= clients can take (0 if none):
 * for a budget derived from the domain's memory. */
size_t ivsvc_spare_bytes(const struct ivsvc *s);

#endif
