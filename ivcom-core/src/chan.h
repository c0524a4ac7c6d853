/* SPDX-License-Identifier: MIT */
/*
 * Channel internals shared by the chan_*.c files: the data path's small
 * helpers (inline: every call of the hot path folds them in), the wait
 * and retry machinery's entry points, and the state checks.
 *
 *   chan_setup.c    listen, accept, connect, close; parameters; stats
 *   chan_wait.c     events, the adaptive wait, presence probes, retries
 *   chan_msg.c      message mode (zero-copy and copy)
 *   chan_stream.c   stream mode (zero-copy spans and copy)
 *
 * Everything the peer can write is read through ring.h/ring.c (indexes,
 * headers) or peer_state() (its live byte), each read once and validated.
 */
#ifndef IVCOM_CHAN_H
#define IVCOM_CHAN_H

#include <sys/types.h>

#include "barrier.h"
#include "internal.h"

#define NS_PER_MS 1000000ull
/* The data path's small helpers: always folded into their callers. */
#define HOT static inline __attribute__((always_inline))
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- liveness ----------------------------------------------------------- */

/* 0 while the peer is up, -EPIPE once it closed or died, -EPROTO for a
 * value no honest peer writes. */
HOT int peer_state(struct ivcom_chan *ch)
{
    uint8_t v;

    if (ch->closing)
        return -EPIPE;
    /* A3: pairs with R3 (the peer's live store after its last publish). */
    v = ivcom_load_acquire(ch->peer_live);
    if (v == IVCOM_LIVE_UP)
        return 0;
    if (v == IVCOM_LIVE_DEAD || v == IVCOM_LIVE_CLOSED)
        return -EPIPE;
    return ivcom_chan_fail(ch, -EPROTO);
}

/* Why a channel is not usable in `mode` (the slow half of chan_usable). */
int ivcom_chan_unusable(struct ivcom_chan *ch, uint8_t mode);

/* One load and one compare while all is well. */
HOT int chan_usable(struct ivcom_chan *ch, uint8_t mode)
{
    if (unlikely(ch->ready != mode))
        return ivcom_chan_unusable(ch, mode);
    return 0;
}

/* ---- notification ------------------------------------------------------- */

HOT void bump(uint32_t *shared_counter)
{
    /* Our own statistics word: one writer, so a plain increment. */
    ivcom_store_once(shared_counter, ivcom_load_once(shared_counter) + 1);
}

/* Send an event to the peer and count it in our shared statistics word. */
void ivcom_chan_send_event(struct ivcom_chan *ch, uint32_t *shared_counter);

HOT void tx_publish(struct ivcom_chan *ch)
{
    if (ch->tx.pvt == ch->tx.published)
        return;
    if (ivcom_ring_prod_publish(&ch->tx))
        ivcom_chan_send_event(ch, &ch->tx.pl->notify_count);
    else
        ch->st.notifies_suppressed++;
}

HOT void rx_publish(struct ivcom_chan *ch)
{
    if (ch->rx.pvt == ch->rx.published)
        return;
    if (ivcom_ring_cons_publish(&ch->rx))
        ivcom_chan_send_event(ch, &ch->rx.cl->notify_count);
    else
        ch->st.notifies_suppressed++;
}

/* ---- waiting ------------------------------------------------------------ */

enum wait_for { WAIT_RX, WAIT_TX, WAIT_PEER_UP };

uint64_t ivcom_deadline_of(int timeout_ms);
int ivcom_ms_left(uint64_t deadline);
/* Wait until `what` is ready or the deadline passes (chan_wait.c). */
int ivcom_chan_wait(struct ivcom_chan *ch, enum wait_for what, uint32_t need,
                    uint64_t deadline);

/* The one retry loop behind every call that may have to wait: try `op`;
 * on -EAGAIN either ask the peer for an event and try once more (timeout
 * 0: the caller may poll ivcom_fd()), or wait until the ring is ready and
 * try again, until the deadline. */
struct attempt {
    ssize_t (*op)(struct ivcom_chan *ch, struct attempt *a);
    enum wait_for what;
    void *buf;                  /* reserve/read: out or destination */
    const void *src;            /* write: source */
    const void **cbuf;          /* peek: out */
    size_t len, *out_len;
};

ssize_t ivcom_chan_retry(struct ivcom_chan *ch, struct attempt *a, int timeout_ms);

#endif /* IVCOM_CHAN_H */
