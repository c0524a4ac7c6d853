/* SPDX-License-Identifier: MIT */
/*
 * A small XenStore client: the xs_wire.h protocol (request/response
 * framing, transactions, watches) over a byte transport.
 *
 * Two transports speak the same framing:
 *  - the shared ring page of a domain (struct xenstore_domain_interface),
 *    provided here: ivcom_xs_ring_transport();
 *  - a stream socket to xenstored (dom0 tools), provided by the caller.
 *
 * FREESTANDING: this header and xs_ring.c need only <stdint.h>,
 * <stddef.h> and memcpy/memcmp/memset/strlen, so the tiny guest links the
 * same file.  No allocation: the caller owns struct ivcom_xs_client.
 *
 * All calls return 0 (or a length) or -errno.  Replies of type XS_ERROR
 * become the matching -errno (-ENOENT, -EACCES, -EAGAIN, ...).  Anything
 * impossible from the other side (bad ring index, oversized message,
 * unexpected reply) is -EPROTO and the client stays broken.
 */
#ifndef IVCOM_XS_RING_H
#define IVCOM_XS_RING_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"           /* struct ivcom_xs_perm */

struct xenstore_domain_interface;

/* A byte transport.  send/recv move up to len bytes and return how many
 * (0 = would block) or -errno; wait blocks until the other side may have
 * made progress: 0 (possibly spurious), -ETIMEDOUT, -EINTR, -errno. */
struct ivcom_xs_transport {
    int (*send)(void *ctx, const void *buf, uint32_t len);
    int (*recv)(void *ctx, void *buf, uint32_t len);
    int (*wait)(void *ctx, int timeout_ms);
    void *ctx;
};

/* Ring transport: intf is the domain's xenstore page; notify kicks
 * xenstored's event channel; wait blocks on ours. */
struct ivcom_xs_ring {
    struct xenstore_domain_interface *intf;
    void (*notify)(void *arg);
    int (*wait)(void *arg, int timeout_ms);
    void *arg;
};

void ivcom_xs_ring_transport(struct ivcom_xs_ring *ring,
                             struct ivcom_xs_transport *out);

#define IVCOM_XS_PAYLOAD_MAX    4096u   /* XENSTORE_PAYLOAD_MAX */
#define IVCOM_XS_EVENTS         16u     /* queued watch events */
#define IVCOM_XS_EV_PATH        256u
#define IVCOM_XS_EV_TOKEN       64u

struct ivcom_xs_event {
    char path[IVCOM_XS_EV_PATH];        /* truncated if longer */
    char token[IVCOM_XS_EV_TOKEN];
};

struct ivcom_xs_client {
    struct ivcom_xs_transport t;
    uint32_t next_req_id;
    int broken;                         /* 0 or the -errno that broke it */

    /* receive state: one message, possibly arriving in pieces */
    uint32_t rx_got;                    /* bytes of header+body so far */
    uint8_t  rx_hdr[16];                /* struct xsd_sockmsg */
    char     rx_body[IVCOM_XS_PAYLOAD_MAX + 1];

    /* watch events that arrived while we waited for replies */
    uint32_t ev_head, ev_count;
    uint32_t ev_dropped;                /* lost to a full queue */
    struct ivcom_xs_event ev[IVCOM_XS_EVENTS];
};

void ivcom_xs_init(struct ivcom_xs_client *c,
                   const struct ivcom_xs_transport *t);

/* Values: read returns the value length and NUL-terminates buf (at most
 * len-1 bytes copied; -E2BIG if it did not fit). */
int ivcom_xs_read(struct ivcom_xs_client *c, uint32_t tx, const char *path,
                  char *buf, size_t len);
int ivcom_xs_write(struct ivcom_xs_client *c, uint32_t tx, const char *path,
                   const void *value, size_t vlen);
int ivcom_xs_mkdir(struct ivcom_xs_client *c, uint32_t tx, const char *path);
int ivcom_xs_rm(struct ivcom_xs_client *c, uint32_t tx, const char *path);
/* Children as consecutive NUL-terminated names; returns total bytes. */
int ivcom_xs_directory(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, char *buf, size_t len);

/* Permissions: perms[0] is the owner (and its "others" access). */
int ivcom_xs_get_perms(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, struct ivcom_xs_perm *perms,
                       unsigned max);
int ivcom_xs_set_perms(struct ivcom_xs_client *c, uint32_t tx,
                       const char *path, const struct ivcom_xs_perm *perms,
                       unsigned nperms);

/* Transactions: end returns -EAGAIN when the caller must retry. */
int ivcom_xs_tx_start(struct ivcom_xs_client *c, uint32_t *tx);
int ivcom_xs_tx_end(struct ivcom_xs_client *c, uint32_t tx, int abort);

/* Watches.  An initial event fires on registration (xenstored does so). */
int ivcom_xs_watch(struct ivcom_xs_client *c, const char *path,
                   const char *token);
int ivcom_xs_unwatch(struct ivcom_xs_client *c, const char *path,
                     const char *token);
/* Pop one queued event: 1 and filled *ev, or 0 if none is queued. */
int ivcom_xs_next_event(struct ivcom_xs_client *c, struct ivcom_xs_event *ev);
/* Wait until an event is queued: 0, -ETIMEDOUT (0 ms = poll only). */
int ivcom_xs_wait_event(struct ivcom_xs_client *c, int timeout_ms);

/* Toolstack operations (dom0 only). */
int ivcom_xs_introduce(struct ivcom_xs_client *c, uint32_t domid,
                       uint64_t gfn, uint32_t port);
int ivcom_xs_release(struct ivcom_xs_client *c, uint32_t domid);

/* Perms string codec ("n0\0r5\0"), exposed for tests. */
int ivcom_xs_perms_encode(const struct ivcom_xs_perm *perms, unsigned n,
                          char *buf, size_t len);
int ivcom_xs_perms_decode(const char *buf, size_t len,
                          struct ivcom_xs_perm *perms, unsigned max);

#endif /* IVCOM_XS_RING_H */
