/* SPDX-License-Identifier: MIT */
/*
 * Internals of the vchan protocol (ivcom/vchan.h):
 *
 *   vchan.c        the data path: indexes, copies, notify bits, waits
 *   vchan_setup.c  server and client set-up, close
 *   vchan_xs.c     <path>/ring-ref and <path>/event-channel
 *
 * Everything the peer can write is read once, through vchan_rx_avail(),
 * vchan_tx_free(), vchan_peer_state() or the set-up's copy of the orders
 * and grants, and checked before use.
 */
#ifndef IVCOM_VCHAN_INT_H
#define IVCOM_VCHAN_INT_H

#include <stdint.h>

#include "ivcom/vchan.h"
#include "internal.h"

/* One direction as this side sees it.  Our index is a private shadow
 * (published to the page, never read back); the peer's index is
 * re-read and checked on every look. */
struct vchan_ring {
    uint32_t *shr_prod, *shr_cons;  /* in the shared page */
    uint8_t  *buf;                  /* ring bytes (in-page or own pages) */
    uint32_t  size;                 /* private: 1 << order */
    uint8_t   order;
    uint32_t  pvt;                  /* ours: prod (tx) or cons (rx) */
    uint32_t  peer;                 /* theirs, as last validated */
    void     *pages;                /* own pages (order >= 12), else NULL */
    unsigned  npages;
};

struct ivcom_vchan {
    struct ivcom_platform *plat;
    int      is_server;
    int      peer;
    int      persist;
    int      broken;                /* 0 or the -errno that broke it */
    struct ivcom_vchan_page *page;
    uint32_t ring_ref;
    struct vchan_ring rx, tx;
    uint8_t *own_live, *peer_live;
    uint8_t *ask;                   /* where we ask the peer for events */
    uint8_t *asked;                 /* where the peer asks us */
    struct ivcom_evtchn *ev;
    uint32_t port;
    uint32_t grants[2 * (1u << (IVCOM_VCHAN_ORDER_MAX - IVCOM_VCHAN_ORDER_PAGE))];
    unsigned ngrants;
    char     xs_path[IVCOM_PATH_MAX];   /* absolute base path */
    uint8_t  xs_written;            /* server: our nodes exist */
    uint64_t notifies_sent, waits;
};

/* Pages of a ring of this order that live outside the shared page. */
static inline unsigned vchan_ring_pages(unsigned order)
{
    return order >= IVCOM_VCHAN_ORDER_PAGE ? 1u << (order - IVCOM_VCHAN_ORDER_PAGE) : 0;
}

/* Check two orders read from a page and the grants they need: 0 or
 * -EPROTO (out of 10..20, both rings at one in-page offset, or grants
 * that run into an in-page ring or off the page). */
int ivcom_vchan_orders_ok(unsigned left, unsigned right);

/* Deadlines (chan_wait.c; also declared in chan.h, which is the ivcom
 * channel's and not included here). */
uint64_t ivcom_deadline_of(int timeout_ms);
int ivcom_ms_left(uint64_t deadline);

/* Mark broken with err and return it. */
int ivcom_vchan_fail(struct ivcom_vchan *v, int err);

/* XenStore (vchan_xs.c). */
int  ivcom_vchan_xs_path(struct ivcom_platform *plat, const char *path, char *out, size_t len);
int  ivcom_vchan_xs_publish(struct ivcom_vchan *v);
int  ivcom_vchan_xs_read(struct ivcom_vchan *v, uint32_t *ring_ref, uint32_t *port,
                         int timeout_ms);
void ivcom_vchan_xs_remove(struct ivcom_vchan *v);

#endif /* IVCOM_VCHAN_INT_H */
