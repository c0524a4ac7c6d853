/* SPDX-License-Identifier: MIT */
/*
 * libivcom: direct shared-memory channels between Xen domains.
 *
 * Every call returns 0 (or a byte count) on success and -errno on failure;
 * ivcom_strerror() names the error.  -EPROTO means the peer broke the
 * protocol: the channel is marked broken and every later call on it
 * returns -EPROTO.  -EPIPE means the peer closed or died.
 *
 * Timeouts are in milliseconds: 0 = do not wait (the try_ calls),
 * -1 = wait forever.
 */
#ifndef IVCOM_IVCOM_H
#define IVCOM_IVCOM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ivcom/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ivcom_platform;
struct ivcom_chan;

/* ---- platforms ---------------------------------------------------------
 * "sim" (processes as domains), "xen-linux" (dom0/domU Linux), "minios"
 * (inside the tiny guest).  NULL picks IVCOM_PLATFORM from the environment,
 * else xen-linux when /dev/xen/evtchn exists, else sim. */
int  ivcom_platform_open(const char *name, struct ivcom_platform **out);
void ivcom_platform_close(struct ivcom_platform *plat);
const char *ivcom_platform_name(const struct ivcom_platform *plat);
int  ivcom_platform_domid(const struct ivcom_platform *plat);

/* ---- channel set-up ---------------------------------------------------- */
struct ivcom_params {
    uint8_t  mode;          /* IVCOM_MODE_MESSAGE (default) or _STREAM */
    uint8_t  tx_order;      /* log2 of the ring we send on (default 16) */
    uint8_t  rx_order;      /* log2 of the ring we receive on (default 16) */
    uint32_t spin_us;       /* adaptive wait: spin at most this long before
                               blocking (default 30; 0 = block at once); the
                               spin shrinks while it does not pay and grows
                               back when it does */
    int      poll_only;     /* never block on the event channel: spin */
};

void ivcom_params_init(struct ivcom_params *p);

/* Server: grant the pages, allocate the event channel and publish the
 * offer under /local/domain/<self>/data/ivcom/<name>, readable only by
 * peer_domid.  Returns at once; ivcom_accept() waits for the client. */
int ivcom_listen(struct ivcom_platform *plat, const char *name,
                 int peer_domid, const struct ivcom_params *params,
                 struct ivcom_chan **out);
int ivcom_accept(struct ivcom_chan *ch, int timeout_ms);

/* Client: read the offer of server_domid, map, bind, report connected.
 * Waits up to timeout_ms for the offer to appear. */
int ivcom_connect(struct ivcom_platform *plat, const char *name,
                  int server_domid, const struct ivcom_params *params,
                  struct ivcom_chan **out, int timeout_ms);

/* ---- services: one name, many client domains --------------------------
 * A service is reached by (server domain, name) and serves every client
 * domain its policy allows, each on a channel of its own (own pages, own
 * event channel).  Clients use ivcom_connect() as for a one-peer offer:
 * it finds the service by name.  The server learns a client's domain from
 * xenstored's record of who created the request (never from a value the
 * client wrote); a client outside the policy gets -EACCES at once, one
 * over the per-domain limit -EBUSY.  The service holds one XenStore watch
 * however many clients it has. */
struct ivcom_service;

struct ivcom_policy {
    const int *allow;           /* domains that may connect; NULL: any */
    unsigned   nallow;
    unsigned   max_per_domain;  /* channels one domain may hold at once,
                                   set up or open (0: 16) */
};

struct ivcom_service_stats {
    uint64_t requests;          /* requests seen */
    uint64_t accepted;          /* channels handed to accept's caller */
    uint64_t refused;           /* outside the policy (-EACCES) */
    uint64_t over_limit;        /* past max_per_domain (-EBUSY) */
    uint64_t abandoned;         /* offered, the client never came */
    uint64_t bad_requests;      /* unreadable or malformed request nodes */
    uint64_t failed;            /* set-up failures on our side */
    uint32_t pending;           /* offered now, not yet accepted */
};

/* Publish service `name` (replacing a previous instance of ours: its
 * channels end).  params: mode and ring orders of every channel. */
int  ivcom_service_open(struct ivcom_platform *plat, const char *name,
                        const struct ivcom_params *params,
                        const struct ivcom_policy *policy,
                        struct ivcom_service **out);
/* Polls readable when a client may be waiting: then call accept with 0. */
int  ivcom_service_fd(const struct ivcom_service *svc);
/* Answer the requests that came, and return the next client whose channel
 * is up: 0 and *out, -EAGAIN (timeout 0) or -ETIMEDOUT. */
int  ivcom_service_accept(struct ivcom_service *svc, struct ivcom_chan **out,
                          int timeout_ms);
void ivcom_service_get_stats(const struct ivcom_service *svc,
                             struct ivcom_service_stats *st);
/* Stop taking clients; channels already accepted stay open. */
void ivcom_service_close(struct ivcom_service *svc);

/* Client set-up in steps, for an event loop that drives many at once:
 * start returns a channel at once; poll ivcom_connect_fd() (readable when
 * XenStore may have news: wake-ups may be spurious) and call continue with
 * timeout 0 until it returns 0 (connected) or an error other than -EAGAIN
 * (then ivcom_close() it).  ivcom_connect() is start + continue. */
int ivcom_connect_start(struct ivcom_platform *plat, const char *name,
                        int server_domid, const struct ivcom_params *params,
                        struct ivcom_chan **out);
int ivcom_connect_fd(const struct ivcom_chan *ch);
int ivcom_connect_continue(struct ivcom_chan *ch, int timeout_ms);

/* Orderly close: the peer sees -EPIPE once it has drained what we sent. */
void ivcom_close(struct ivcom_chan *ch);

/* A file descriptor that polls readable when the peer notified us. */
int ivcom_fd(const struct ivcom_chan *ch);
/* After the fd polled readable: acknowledge the event(s). */
int ivcom_ack(struct ivcom_chan *ch);

/* ---- message mode: zero-copy ------------------------------------------
 * reserve -> write in place -> commit; peek -> read in place -> release.
 * Largest message: tx ring size - 8. */
int ivcom_msg_try_reserve(struct ivcom_chan *ch, size_t len, void **buf);
int ivcom_msg_reserve(struct ivcom_chan *ch, size_t len, void **buf,
                      int timeout_ms);
int ivcom_msg_commit(struct ivcom_chan *ch);
int ivcom_msg_try_peek(struct ivcom_chan *ch, const void **buf, size_t *len);
int ivcom_msg_peek(struct ivcom_chan *ch, const void **buf, size_t *len,
                   int timeout_ms);
int ivcom_msg_release(struct ivcom_chan *ch);

/* message mode: copy API.  recv returns the message length, -EMSGSIZE if
 * buf is too small (the message stays queued). */
ssize_t ivcom_try_send(struct ivcom_chan *ch, const void *buf, size_t len);
ssize_t ivcom_send(struct ivcom_chan *ch, const void *buf, size_t len,
                   int timeout_ms);
ssize_t ivcom_try_recv(struct ivcom_chan *ch, void *buf, size_t len);
ssize_t ivcom_recv(struct ivcom_chan *ch, void *buf, size_t len,
                   int timeout_ms);

/* ---- stream mode: zero-copy (contiguous spans) ------------------------ */
int ivcom_stream_try_reserve(struct ivcom_chan *ch, void **buf, size_t *len);
int ivcom_stream_commit(struct ivcom_chan *ch, size_t len);
int ivcom_stream_try_peek(struct ivcom_chan *ch, const void **buf,
                          size_t *len);
int ivcom_stream_release(struct ivcom_chan *ch, size_t len);

/* stream mode: copy API, as much as fits (at least one byte unless the
 * call would have to wait longer than timeout_ms). */
ssize_t ivcom_try_write(struct ivcom_chan *ch, const void *buf, size_t len);
ssize_t ivcom_write(struct ivcom_chan *ch, const void *buf, size_t len,
                    int timeout_ms);
ssize_t ivcom_try_read(struct ivcom_chan *ch, void *buf, size_t len);
ssize_t ivcom_read(struct ivcom_chan *ch, void *buf, size_t len,
                   int timeout_ms);
/* Write all of buf (loops over ivcom_write). */
ssize_t ivcom_write_all(struct ivcom_chan *ch, const void *buf, size_t len,
                        int timeout_ms);

/* Wait until data can be read / space is free, without consuming. */
int ivcom_wait_readable(struct ivcom_chan *ch, int timeout_ms);
int ivcom_wait_writable(struct ivcom_chan *ch, size_t need, int timeout_ms);
/* Wait until the peer has consumed everything sent so far (our ring is
 * empty): 0, -ETIMEDOUT, or the channel's error (-EPIPE if the peer left
 * with data unread). */
int ivcom_flush(struct ivcom_chan *ch, int timeout_ms);

/* ---- introspection ----------------------------------------------------- */
struct ivcom_stats {
    uint64_t tx_bytes, rx_bytes;        /* payload bytes */
    uint64_t tx_msgs, rx_msgs;
    uint64_t notifies_sent;             /* event channel sends */
    uint64_t notifies_suppressed;       /* publishes that needed no event */
    uint64_t wakeups;                   /* events received (blocking waits) */
    uint64_t spins;                     /* waits satisfied while spinning */
    uint64_t blocks;                    /* waits that blocked */
};

void ivcom_get_stats(const struct ivcom_chan *ch, struct ivcom_stats *st);
int  ivcom_is_broken(const struct ivcom_chan *ch);  /* 0 or the -errno */
size_t ivcom_max_msg(const struct ivcom_chan *ch);
int  ivcom_peer_domid(const struct ivcom_chan *ch);
int  ivcom_local_port(const struct ivcom_chan *ch);
const char *ivcom_strerror(int err);

/* One ring's indexes as this side sees them, for a report about a fault
 * (a payload that failed its check): a recurrence then tells a ring fault
 * (indexes that disagree) from a memory fault (indexes that agree). */
struct ivcom_ring_debug {
    uint32_t size;          /* ring bytes */
    uint32_t pvt;           /* our index, private (ahead of published while
                               a record or span is open, or in a batch) */
    uint32_t published;     /* our index as last published */
    uint32_t peer;          /* the peer's index as last validated */
    uint32_t pending;       /* bytes of the reserved/peeked record or span */
    uint32_t prod, cons;    /* the shared indexes, each read once now and
                               not validated */
    uint32_t offset;        /* pvt & (size - 1): where the reserved/peeked
                               record starts; after a copy-API call, where
                               the last one ended */
};

/* rx != 0: the ring we receive on, else the one we send on.  0, -EINVAL,
 * or -ENOTCONN before the rings exist. */
int ivcom_debug_ring(const struct ivcom_chan *ch, int rx, struct ivcom_ring_debug *out);

#ifdef __cplusplus
}
#endif

#endif /* IVCOM_IVCOM_H */
