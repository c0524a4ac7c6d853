/* SPDX-License-Identifier: MIT */
/*
 * Message mode: zero-copy reserve/commit and peek/release, and the copy
 * API (send/recv) with its straight-through fast paths.
 */
#include <errno.h>
#include <string.h>

#include "chan.h"

/* ---- message mode ------------------------------------------------------- */

/* One non-blocking attempt, no arming.  A PAD record written on -EAGAIN is
 * published so that the consumer can free the space we wait for. */
HOT int msg_reserve_once(struct ivcom_chan *ch, size_t len, void **buf)
{
    int r;

    ch->tx.pending = 0;         /* a failed reserve leaves nothing to commit */
    r = peer_state(ch);
    if (r)
        return r;
    r = ivcom_ring_msg_reserve(&ch->tx, len, buf);
    if (r == 0)
        ch->tx_len = (uint32_t)len;
    else if (r == -EAGAIN)
        tx_publish(ch);
    else if (r == -EPROTO)
        return ivcom_chan_fail(ch, r);
    return r;
}

HOT int msg_peek_once(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    int r = ivcom_ring_msg_peek(&ch->rx, buf, len);

    if (r == -EAGAIN) {
        rx_publish(ch);         /* PAD records we skipped */
        r = peer_state(ch);
        if (r == 0)
            return -EAGAIN;
        if (r != -EPIPE)
            return r;
        /* Gone: but whatever it published before leaving is still ours. */
        r = ivcom_ring_msg_peek(&ch->rx, buf, len);
        if (r == -EAGAIN) {
            rx_publish(ch);
            return -EPIPE;
        }
    }
    if (r == 0)
        ch->rx_len = (uint32_t)*len;
    else if (r == -EPROTO)
        return ivcom_chan_fail(ch, r);
    return r;
}

static ssize_t msg_reserve_op(struct ivcom_chan *ch, struct attempt *a)
{
    return msg_reserve_once(ch, a->len, a->buf);
}

IVCOM_EXPORT int ivcom_msg_reserve(struct ivcom_chan *ch, size_t len, void **buf,
                                   int timeout_ms)
{
    struct attempt a = { .op = msg_reserve_op, .what = WAIT_TX, .buf = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    return r ? r : (int)ivcom_chan_retry(ch, &a, timeout_ms);
}

IVCOM_EXPORT int ivcom_msg_try_reserve(struct ivcom_chan *ch, size_t len, void **buf)
{
    return ivcom_msg_reserve(ch, len, buf, 0);
}

IVCOM_EXPORT int ivcom_msg_commit(struct ivcom_chan *ch)
{
    uint32_t rec = ch->tx.pending;
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    if (r)
        return r;
    if (rec == 0)
        return -EINVAL;
    ivcom_ring_msg_commit(&ch->tx);
    ch->st.tx_msgs++;
    ch->st.tx_bytes += ch->tx_len;
    tx_publish(ch);
    return 0;
}

static ssize_t msg_peek_op(struct ivcom_chan *ch, struct attempt *a)
{
    return msg_peek_once(ch, a->cbuf, a->out_len);
}

IVCOM_EXPORT int ivcom_msg_peek(struct ivcom_chan *ch, const void **buf, size_t *len,
                                int timeout_ms)
{
    struct attempt a = { .op = msg_peek_op, .what = WAIT_RX, .cbuf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    return r ? r : (int)ivcom_chan_retry(ch, &a, timeout_ms);
}

IVCOM_EXPORT int ivcom_msg_try_peek(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    return ivcom_msg_peek(ch, buf, len, 0);
}

IVCOM_EXPORT int ivcom_msg_release(struct ivcom_chan *ch)
{
    uint32_t rec = ch->rx.pending;
    int r = chan_usable(ch, IVCOM_MODE_MESSAGE);

    if (r)
        return r;
    if (rec == 0)
        return -EINVAL;
    ivcom_ring_msg_release(&ch->rx);
    ch->st.rx_msgs++;
    ch->st.rx_bytes += ch->rx_len;
    rx_publish(ch);
    return 0;
}

/* send/recv: the common case (connected, peer up, room / a message
 * there) runs straight through; anything else takes the general path,
 * kept out of line so that its stack frame and saved registers are not
 * paid on the fast path (2 instructions per send+recv pair). */
#define SLOW_PATH static __attribute__((noinline))

SLOW_PATH ssize_t send_slow(struct ivcom_chan *ch, const void *buf, size_t len, int timeout_ms)
{
    void *dst;
    int r = ivcom_msg_reserve(ch, len, &dst, timeout_ms);

    if (r)
        return r;
    memcpy(dst, buf, len);
    r = ivcom_msg_commit(ch);
    return r ? r : (ssize_t)len;
}

IVCOM_EXPORT ssize_t ivcom_send(struct ivcom_chan *ch, const void *buf, size_t len,
                                int timeout_ms)
{
    void *dst;

    /* A5: pairs with R3 (the peer leaving); ready == 0 once closing. */
    if (ch->ready == IVCOM_MODE_MESSAGE &&
        ivcom_load_acquire(ch->peer_live) == IVCOM_LIVE_UP &&
        ivcom_ring_msg_reserve(&ch->tx, len, &dst) == 0) {
        memcpy(dst, buf, len);
        ivcom_ring_msg_commit(&ch->tx);
        ch->st.tx_msgs++;
        ch->st.tx_bytes += len;
        tx_publish(ch);
        return (ssize_t)len;
    }
    return send_slow(ch, buf, len, timeout_ms);
}

IVCOM_EXPORT ssize_t ivcom_try_send(struct ivcom_chan *ch, const void *buf, size_t len)
{
    return ivcom_send(ch, buf, len, 0);
}

SLOW_PATH ssize_t recv_slow(struct ivcom_chan *ch, void *buf, size_t len, int timeout_ms)
{
    const void *src;
    size_t n;
    int r = ivcom_msg_peek(ch, &src, &n, timeout_ms);

    if (r)
        return r;
    if (n > len) {
        ch->rx.pending = 0;     /* the message stays queued */
        return -EMSGSIZE;
    }
    memcpy(buf, src, n);
    r = ivcom_msg_release(ch);
    return r ? r : (ssize_t)n;
}

IVCOM_EXPORT ssize_t ivcom_recv(struct ivcom_chan *ch, void *buf, size_t len,
                                int timeout_ms)
{
    const void *src;
    size_t n;

    if (ch->ready == IVCOM_MODE_MESSAGE && ivcom_ring_msg_peek(&ch->rx, &src, &n) == 0 &&
        n <= len) {
        memcpy(buf, src, n);
        ivcom_ring_msg_release(&ch->rx);
        ch->st.rx_msgs++;
        ch->st.rx_bytes += n;
        rx_publish(ch);
        return (ssize_t)n;
    }
    /* PAD records the fast path skipped are published by the slow path. */
    ch->rx.pending = 0;
    return recv_slow(ch, buf, len, timeout_ms);
}

IVCOM_EXPORT ssize_t ivcom_try_recv(struct ivcom_chan *ch, void *buf, size_t len)
{
    return ivcom_recv(ch, buf, len, 0);
}
