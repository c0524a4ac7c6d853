/* SPDX-License-Identifier: MIT */
/*
 * libxenvchan's wire protocol as libivcom's second protocol: a byte
 * stream each way between a server (which grants the shared page and
 * publishes <path>/ring-ref and <path>/event-channel in XenStore,
 * readable by the peer) and a client, interoperable with stock
 * libxenvchan at either end (layout: ivcom/vchan_wire.h).
 *
 * Unlike stock libxenvchan, every value the peer can write is read once
 * and checked: an impossible index, order, grant count, live or notify
 * byte is -EPROTO and the channel is broken (every later call says so),
 * never an out-of-bounds access or a silent stall.  A blocked call looks
 * at the page again at least every 200 ms even without an event, so a
 * peer that corrupts its index and goes quiet is caught too.
 *
 * Calls return 0 (or a byte count) or -errno, as the rest of libivcom:
 * -EPIPE once the peer has gone and nothing is left to read, -EAGAIN for
 * timeout 0 with nothing to do, -ETIMEDOUT.  Timeouts in ms, -1 = none.
 * XenStore paths not starting with '/' are relative to the caller's
 * /local/domain/<self>.
 */
#ifndef IVCOM_VCHAN_H
#define IVCOM_VCHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ivcom/vchan_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ivcom_platform;
struct ivcom_vchan;

/* Largest ring: 2^20 bytes (more grants would not fit in the page). */
#define IVCOM_VCHAN_RING_MAX    (1u << IVCOM_VCHAN_ORDER_MAX)

/* Server: rings of at least read_min bytes (client -> server, "left")
 * and write_min bytes (server -> client, "right"), chosen as stock
 * libxenvchan chooses them (in-page 1024 + 2048 bytes when both fit).
 * Returns at once; the client comes later (ivcom_vchan_accept). */
int ivcom_vchan_server_open(struct ivcom_platform *plat, int peer_domid,
                            const char *xs_path, size_t read_min,
                            size_t write_min, struct ivcom_vchan **out);
/* Server: wait until a client has connected (0), -ETIMEDOUT, -EPROTO. */
int ivcom_vchan_accept(struct ivcom_vchan *v, int timeout_ms);
/* Server: a client that leaves does not end the channel; another may
 * connect (stock libxenvchan's server_persist). */
void ivcom_vchan_set_persist(struct ivcom_vchan *v, int persist);

/* Client: read the server's nodes (waiting up to timeout_ms for them),
 * check the page, map the rings, bind the event channel, say we are up. */
int ivcom_vchan_client_open(struct ivcom_platform *plat, int server_domid,
                            const char *xs_path, struct ivcom_vchan **out,
                            int timeout_ms);

/* Close: our live byte goes to 0 and the peer is told; the server also
 * removes its XenStore directory.  Data already written stays readable
 * by the peer until it unmaps. */
void ivcom_vchan_close(struct ivcom_vchan *v);

/* Stream: as many bytes as are there / as fit, at least one unless the
 * call would have to wait longer than timeout_ms. */
ssize_t ivcom_vchan_read(struct ivcom_vchan *v, void *buf, size_t len, int timeout_ms);
ssize_t ivcom_vchan_write(struct ivcom_vchan *v, const void *buf, size_t len,
                          int timeout_ms);
/* Packets: exactly len bytes or none (-EMSGSIZE beyond the ring size). */
ssize_t ivcom_vchan_recv(struct ivcom_vchan *v, void *buf, size_t len, int timeout_ms);
ssize_t ivcom_vchan_send(struct ivcom_vchan *v, const void *buf, size_t len,
                         int timeout_ms);

/* Bytes readable / free to write now (>= 0), or the channel's error.
 * Both also ask the peer for an event when that count changes, so a
 * caller may then sleep in poll() on ivcom_vchan_fd(). */
int ivcom_vchan_data_ready(struct ivcom_vchan *v);
int ivcom_vchan_buffer_space(struct ivcom_vchan *v);
/* The peer's state as the page says: 1 connected, 2 (server) no client
 * yet, 0 gone; -EPROTO for any other live byte. */
int ivcom_vchan_state(struct ivcom_vchan *v);

/* Polls readable when the peer notified us; ivcom_vchan_wait(v, 0)
 * consumes the event(s).  wait: 0 after an event, -ETIMEDOUT, or the
 * channel's error. */
int ivcom_vchan_fd(const struct ivcom_vchan *v);
int ivcom_vchan_wait(struct ivcom_vchan *v, int timeout_ms);
int ivcom_vchan_is_broken(const struct ivcom_vchan *v);

/* ---- introspection ----------------------------------------------------- */
struct ivcom_vchan_info {
    int      is_server;
    int      peer;
    uint32_t ring_ref;          /* the shared page's grant */
    uint32_t port;              /* our event-channel port */
    uint8_t  read_order, write_order;   /* our private copies */
    uint32_t read_cons;         /* our consumer index (private) */
    uint32_t read_prod;         /* the peer's, as last validated */
    uint32_t write_prod;        /* our producer index (private) */
    uint32_t write_cons;        /* the peer's, as last validated */
    unsigned ngrants;           /* out-of-page ring pages, both rings */
    uint64_t notifies_sent, waits;
};

void ivcom_vchan_get_info(const struct ivcom_vchan *v, struct ivcom_vchan_info *out);
/* The grant refs of the out-of-page rings as we granted or mapped them
 * (private copies): how many there are; at most max written. */
unsigned ivcom_vchan_grants(const struct ivcom_vchan *v, uint32_t *out, unsigned max);
/* The shared page itself (for inspection; treat as the peer's memory). */
const struct ivcom_vchan_page *ivcom_vchan_page(const struct ivcom_vchan *v);

#ifdef __cplusplus
}
#endif

#endif /* IVCOM_VCHAN_H */
