/* SPDX-License-Identifier: MIT */
/*
 * The vchan data path: libxenvchan's rings as ivcom/vchan_wire.h lays
 * them out, under IVCOM's hostile-peer rules.
 *
 *  - Our index (tx prod, rx cons) is a private shadow, stored to the page
 *    and never read back: a peer that scribbles on it harms only itself.
 *  - The peer's index is read once per look and checked against our
 *    shadow: it may neither lead by more than the ring size nor go back.
 *  - Sizes are our private copies (set-up), so every offset is masked
 *    with a size the peer cannot change.
 *  - Notify bits as stock libxenvchan: a side that will wait sets a bit in
 *    the other side's byte, then looks again; a side that moved its
 *    index clears the bit in its own byte and notifies if it was set.
 *  - A blocked call sleeps at most VCHAN_SLICE_MS at a time and looks at
 *    the page again, event or not: a corrupted index is found even when
 *    the peer sends nothing more.
 */
#include <errno.h>
#include <string.h>

#include "vchan_int.h"

#define VCHAN_SLICE_MS  IVCOM_PROBE_MS

int ivcom_vchan_fail(struct ivcom_vchan *v, int err)
{
    if (!v->broken)
        v->broken = err;
    return v->broken;
}

/* The peer's live byte: 1 up, 2 (its client, seen by a server) not yet
 * come, 0 gone; anything else is -EPROTO. */
static int peer_state(struct ivcom_vchan *v)
{
    /* A1: pairs with R1 (the peer's live store after its set-up) and R4
     * (its store of 0 after its last publish). */
    uint8_t live = ivcom_load_acquire(v->peer_live);

    if (live == IVCOM_VCHAN_LIVE_UP || live == IVCOM_VCHAN_LIVE_GONE)
        return live;
    if (live == IVCOM_VCHAN_LIVE_WAITING && v->is_server)
        return live;
    return ivcom_vchan_fail(v, -EPROTO);
}

/* Bytes the peer published that we have not consumed, or -EPROTO. */
static int64_t rx_avail(struct ivcom_vchan *v)
{
    struct vchan_ring *r = &v->rx;
    /* A2: pairs with R2 in the peer's write (data before index). */
    uint32_t prod = ivcom_load_acquire(r->shr_prod);
    uint32_t n = prod - r->pvt;

    if (v->broken)
        return v->broken;
    /* At most a ring's worth, and never behind what it said before. */
    if (n > r->size || n < r->peer - r->pvt)
        return ivcom_vchan_fail(v, -EPROTO);
    r->peer = prod;
    return n;
}

/* Bytes free in the ring we write, or -EPROTO. */
static int64_t tx_free(struct ivcom_vchan *v)
{
    struct vchan_ring *r = &v->tx;
    /* A3: pairs with R3 in the peer's read (copied out before index). */
    uint32_t cons = ivcom_load_acquire(r->shr_cons);
    uint32_t used = r->pvt - cons;

    if (v->broken)
        return v->broken;
    /* The consumer is between where it was and our producer index. */
    if (used > r->size || cons - r->peer > r->pvt - r->peer)
        return ivcom_vchan_fail(v, -EPROTO);
    r->peer = cons;
    return r->size - used;
}

/* Ask the peer for an event when it writes (WRITE) or reads (READ). */
static void ask_peer(struct ivcom_vchan *v, uint8_t bit)
{
    ivcom_fetch_or(v->ask, bit);
    /* F2: the request before our next look at the peer's index; pairs
     * with F1 in the peer's tell_peer(). */
    ivcom_smp_mb();
}

/* We moved our index: notify the peer if it asked.  0 or -EPROTO. */
static int tell_peer(struct ivcom_vchan *v, uint8_t bit)
{
    uint8_t old;

    /* F1: our index store before we look at the peer's request; pairs
     * with F2 in the peer's ask_peer(). */
    ivcom_smp_mb();
    old = ivcom_fetch_and(v->asked, (uint8_t)~bit);
    if (old & ~IVCOM_VCHAN_NOTIFY_ALL)
        return ivcom_vchan_fail(v, -EPROTO);
    if (old & bit) {
        v->plat->ops->evtchn_notify(v->ev, v->port);
        v->notifies_sent++;
    }
    return 0;
}

/* Copy len bytes (known to fit) into the ring and publish them. */
static ssize_t tx_copy(struct ivcom_vchan *v, const void *src, size_t len)
{
    struct vchan_ring *r = &v->tx;
    uint32_t off = r->pvt & (r->size - 1), first = r->size - off;
    int err;

    if (first > len)
        first = (uint32_t)len;
    memcpy(r->buf + off, src, first);
    memcpy(r->buf, (const uint8_t *)src + first, len - first);
    r->pvt += (uint32_t)len;
    /* R2: the data before the index; pairs with A2 in the peer. */
    ivcom_store_release(r->shr_prod, r->pvt);
    err = tell_peer(v, IVCOM_VCHAN_NOTIFY_WRITE);
    return err ? err : (ssize_t)len;
}

/* Copy len bytes (known to be there) out of the ring and release them. */
static ssize_t rx_copy(struct ivcom_vchan *v, void *dst, size_t len)
{
    struct vchan_ring *r = &v->rx;
    uint32_t off = r->pvt & (r->size - 1), first = r->size - off;
    int err;

    if (first > len)
        first = (uint32_t)len;
    memcpy(dst, r->buf + off, first);
    memcpy((uint8_t *)dst + first, r->buf, len - first);
    r->pvt += (uint32_t)len;
    /* R3: our copy-out before the index frees the space; pairs with A3. */
    ivcom_store_release(r->shr_cons, r->pvt);
    err = tell_peer(v, IVCOM_VCHAN_NOTIFY_READ);
    return err ? err : (ssize_t)len;
}

/* A server that persists outlives its clients: "gone" is not the end. */
static int gone_for_good(struct ivcom_vchan *v, int state)
{
    return state == IVCOM_VCHAN_LIVE_GONE && !(v->is_server && v->persist);
}

enum vchan_wait_for { VW_RX, VW_TX };

/* >0 ready (need bytes to read / free), 0 not yet, <0 the error. */
static int ready(struct ivcom_vchan *v, enum vchan_wait_for what, uint32_t need)
{
    int64_t n;
    int ps;

    if (what == VW_RX) {
        n = rx_avail(v);
        if (n < 0 || n >= need)
            return n < 0 ? (int)n : 1;
        ps = peer_state(v);
        if (ps < 0 || !gone_for_good(v, ps))
            return ps < 0 ? ps : 0;
        /* The peer publishes before it leaves: look once more. */
        n = rx_avail(v);
        return n < 0 ? (int)n : n >= need ? 1 : -EPIPE;
    }
    ps = peer_state(v);
    if (ps < 0)
        return ps;
    if (gone_for_good(v, ps))
        return -EPIPE;
    n = tx_free(v);
    return n < 0 ? (int)n : n >= need;
}

/* Wait until `what` is ready, asking the peer before each sleep. */
static int vchan_wait_for(struct ivcom_vchan *v, enum vchan_wait_for what, uint32_t need,
                          int timeout_ms)
{
    uint64_t deadline = ivcom_deadline_of(timeout_ms);
    int r, slice, e;

    for (;;) {
        r = ready(v, what, need);
        if (r)
            return r < 0 ? r : 0;
        ask_peer(v, what == VW_RX ? IVCOM_VCHAN_NOTIFY_WRITE : IVCOM_VCHAN_NOTIFY_READ);
        r = ready(v, what, need);
        if (r)
            return r < 0 ? r : 0;
        slice = ivcom_ms_left(deadline);
        if (slice == 0)
            return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
        if (slice < 0 || slice > VCHAN_SLICE_MS)
            slice = VCHAN_SLICE_MS;
        v->waits++;
        e = v->plat->ops->evtchn_wait(v->ev, slice);
        if (e && e != -ETIMEDOUT && e != -EINTR)
            return e;
    }
}

IVCOM_EXPORT ssize_t ivcom_vchan_read(struct ivcom_vchan *v, void *buf, size_t len,
                                      int timeout_ms)
{
    int64_t n;
    int err;

    if (v->broken)
        return v->broken;
    if (len == 0)
        return 0;
    err = vchan_wait_for(v, VW_RX, 1, timeout_ms);
    if (err)
        return err;
    n = rx_avail(v);
    if (n >= 0 && (uint64_t)n < len) {
        /* Less than asked for: ask for an event on the peer's next write
         * before the look that decides how much we take (stock's
         * contract: a caller that goes on to poll() is woken). */
        ask_peer(v, IVCOM_VCHAN_NOTIFY_WRITE);
        n = rx_avail(v);
    }
    if (n < 0)
        return n;
    return rx_copy(v, buf, (uint64_t)n < len ? (size_t)n : len);
}

IVCOM_EXPORT ssize_t ivcom_vchan_recv(struct ivcom_vchan *v, void *buf, size_t len,
                                      int timeout_ms)
{
    int err;

    if (v->broken)
        return v->broken;
    if (len > v->rx.size)
        return -EMSGSIZE;
    if (len == 0)
        return 0;
    err = vchan_wait_for(v, VW_RX, (uint32_t)len, timeout_ms);
    return err ? err : rx_copy(v, buf, len);
}

IVCOM_EXPORT ssize_t ivcom_vchan_write(struct ivcom_vchan *v, const void *buf, size_t len,
                                       int timeout_ms)
{
    int64_t n;
    int err;

    if (v->broken)
        return v->broken;
    if (len == 0)
        return 0;
    err = vchan_wait_for(v, VW_TX, 1, timeout_ms);
    if (err)
        return err;
    n = tx_free(v);
    if (n >= 0 && (uint64_t)n < len) {
        /* Not all of it fits: ask for an event when the peer reads, then
         * look again (as in ivcom_vchan_read). */
        ask_peer(v, IVCOM_VCHAN_NOTIFY_READ);
        n = tx_free(v);
    }
    if (n < 0)
        return n;
    return tx_copy(v, buf, (uint64_t)n < len ? (size_t)n : len);
}

IVCOM_EXPORT ssize_t ivcom_vchan_send(struct ivcom_vchan *v, const void *buf, size_t len,
                                      int timeout_ms)
{
    int err;

    if (v->broken)
        return v->broken;
    if (len > v->tx.size)
        return -EMSGSIZE;
    if (len == 0)
        return 0;
    err = vchan_wait_for(v, VW_TX, (uint32_t)len, timeout_ms);
    return err ? err : tx_copy(v, buf, len);
}

IVCOM_EXPORT int ivcom_vchan_data_ready(struct ivcom_vchan *v)
{
    if (v->broken)
        return v->broken;
    ask_peer(v, IVCOM_VCHAN_NOTIFY_WRITE);
    return (int)rx_avail(v);
}

IVCOM_EXPORT int ivcom_vchan_buffer_space(struct ivcom_vchan *v)
{
    if (v->broken)
        return v->broken;
    ask_peer(v, IVCOM_VCHAN_NOTIFY_READ);
    return (int)tx_free(v);
}

IVCOM_EXPORT int ivcom_vchan_state(struct ivcom_vchan *v)
{
    if (v->broken)
        return v->broken;
    return peer_state(v);
}

IVCOM_EXPORT int ivcom_vchan_fd(const struct ivcom_vchan *v)
{
    return v->plat->ops->evtchn_fd(v->ev);
}

/* Every shared value we depend on, looked at once more. */
static int vchan_check(struct ivcom_vchan *v)
{
    int64_t n = rx_avail(v);

    if (n >= 0)
        n = tx_free(v);
    if (n >= 0)
        n = peer_state(v);
    return n < 0 ? (int)n : 0;
}

IVCOM_EXPORT int ivcom_vchan_wait(struct ivcom_vchan *v, int timeout_ms)
{
    uint64_t deadline = ivcom_deadline_of(timeout_ms);
    int slice, e, err;

    for (;;) {
        err = vchan_check(v);
        if (err)
            return err;
        slice = ivcom_ms_left(deadline);
        if (slice < 0 || slice > VCHAN_SLICE_MS)
            slice = VCHAN_SLICE_MS;
        e = v->plat->ops->evtchn_wait(v->ev, slice);
        if (e == 0)
            return vchan_check(v);
        if (e != -ETIMEDOUT && e != -EINTR)
            return e;
        if (ivcom_ms_left(deadline) == 0)
            return -ETIMEDOUT;
    }
}

IVCOM_EXPORT int ivcom_vchan_is_broken(const struct ivcom_vchan *v)
{
    return v->broken;
}

IVCOM_EXPORT void ivcom_vchan_get_info(const struct ivcom_vchan *v, struct ivcom_vchan_info *out)
{
    memset(out, 0, sizeof(*out));
    out->is_server = v->is_server;
    out->peer = v->peer;
    out->ring_ref = v->ring_ref;
    out->port = v->port;
    out->read_order = v->rx.order;
    out->write_order = v->tx.order;
    out->read_cons = v->rx.pvt;
    out->read_prod = v->rx.peer;
    out->write_prod = v->tx.pvt;
    out->write_cons = v->tx.peer;
    out->ngrants = v->ngrants;
    out->notifies_sent = v->notifies_sent;
    out->waits = v->waits;
}

IVCOM_EXPORT unsigned ivcom_vchan_grants(const struct ivcom_vchan *v, uint32_t *out, unsigned max)
{
    unsigned i;

    for (i = 0; i < v->ngrants && i < max; i++)
        out[i] = v->grants[i];
    return v->ngrants;
}

IVCOM_EXPORT const struct ivcom_vchan_page *ivcom_vchan_page(const struct ivcom_vchan *v)
{
    return v->page;
}
