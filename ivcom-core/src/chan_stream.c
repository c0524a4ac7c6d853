/* SPDX-License-Identifier: MIT */
/*
 * Stream mode: zero-copy spans and the copy API (read/write), published
 * a quarter ring at a time.
 */
#include <errno.h>
#include <string.h>

#include "chan.h"

/* ---- stream mode -------------------------------------------------------- */

static int stream_reserve_once(struct ivcom_chan *ch, void **buf, size_t *len)
{
    int r;

    ch->tx.pending = 0;         /* a failed reserve leaves nothing to commit */
    r = peer_state(ch);
    if (r)
        return r;
    r = ivcom_ring_stream_reserve(&ch->tx, buf, len);
    return r == -EPROTO ? ivcom_chan_fail(ch, r) : r;
}

static int stream_peek_once(struct ivcom_chan *ch, const void **buf, size_t *len)
{
    int r = ivcom_ring_stream_peek(&ch->rx, buf, len);

    if (r == -EAGAIN && peer_state(ch) != 0) {
        r = ivcom_ring_stream_peek(&ch->rx, buf, len);
        if (r == -EAGAIN)
            r = ch->broken ? ch->broken : -EPIPE;
    }
    return r == -EPROTO ? ivcom_chan_fail(ch, r) : r;
}

static ssize_t stream_reserve_op(struct ivcom_chan *ch, struct attempt *a)
{
    return stream_reserve_once(ch, a->buf, a->out_len);
}

IVCOM_EXPORT int ivcom_stream_try_reserve(struct ivcom_chan *ch, void **buf, size_t *len)
{
    struct attempt a = { .op = stream_reserve_op, .what = WAIT_TX, .buf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    return r ? r : (int)ivcom_chan_retry(ch, &a, 0);
}

IVCOM_EXPORT int ivcom_stream_commit(struct ivcom_chan *ch, size_t len)
{
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    r = ivcom_ring_stream_commit(&ch->tx, len);
    if (r)
        return r;
    ch->st.tx_bytes += len;
    tx_publish(ch);
    return 0;
}

static ssize_t stream_peek_op(struct ivcom_chan *ch, struct attempt *a)
{
    return stream_peek_once(ch, a->cbuf, a->out_len);
}

IVCOM_EXPORT int ivcom_stream_try_peek(struct ivcom_chan *ch, const void **buf,
                                       size_t *len)
{
    struct attempt a = { .op = stream_peek_op, .what = WAIT_RX, .cbuf = buf, .out_len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    return r ? r : (int)ivcom_chan_retry(ch, &a, 0);
}

IVCOM_EXPORT int ivcom_stream_release(struct ivcom_chan *ch, size_t len)
{
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    r = ivcom_ring_stream_release(&ch->rx, len);
    if (r)
        return r;
    ch->st.rx_bytes += len;
    rx_publish(ch);
    return 0;
}

/* Copy into as many spans as are free (two when the ring wraps) and
 * publish at the end.  A copy larger than a quarter ring is published a
 * quarter ring at a time, so that the peer copies one batch while we copy
 * the next (one publish for the whole copy would make the two ends take
 * turns); each publish sends an event only if the peer asked for one. */
static size_t stream_batch(const struct ivcom_ring *r)
{
    return r->size / 4;
}

static ssize_t write_once(struct ivcom_chan *ch, const uint8_t *src, size_t len)
{
    size_t done = 0, batch = stream_batch(&ch->tx);

    while (done < len) {
        void *dst;
        size_t span;
        int r = stream_reserve_once(ch, &dst, &span);

        if (r == -EAGAIN)
            break;
        if (r)
            return done ? (ssize_t)done : r;
        if (span > len - done)
            span = len - done;
        if (span > batch)
            span = batch;
        memcpy(dst, src + done, span);
        ivcom_ring_stream_commit(&ch->tx, span);
        done += span;
        if (done < len && span == batch)
            tx_publish(ch);
    }
    if (done) {
        ch->st.tx_bytes += done;
        tx_publish(ch);
        return (ssize_t)done;
    }
    return -EAGAIN;
}

static ssize_t read_once(struct ivcom_chan *ch, uint8_t *dst, size_t len)
{
    size_t done = 0, batch = stream_batch(&ch->rx);

    while (done < len) {
        const void *src;
        size_t span;
        int r = stream_peek_once(ch, &src, &span);

        if (r == -EAGAIN)
            break;
        if (r) {
            if (done)
                break;
            return r;
        }
        if (span > len - done)
            span = len - done;
        if (span > batch)
            span = batch;
        memcpy(dst + done, src, span);
        ivcom_ring_stream_release(&ch->rx, span);
        done += span;
        if (done < len && span == batch)
            rx_publish(ch);
    }
    if (done) {
        ch->st.rx_bytes += done;
        rx_publish(ch);
        return (ssize_t)done;
    }
    return -EAGAIN;
}

static ssize_t write_op(struct ivcom_chan *ch, struct attempt *a)
{
    return write_once(ch, a->src, a->len);
}

IVCOM_EXPORT ssize_t ivcom_write(struct ivcom_chan *ch, const void *buf, size_t len,
                                 int timeout_ms)
{
    struct attempt a = { .op = write_op, .what = WAIT_TX, .src = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    return len ? ivcom_chan_retry(ch, &a, timeout_ms) : 0;
}

IVCOM_EXPORT ssize_t ivcom_try_write(struct ivcom_chan *ch, const void *buf, size_t len)
{
    return ivcom_write(ch, buf, len, 0);
}

IVCOM_EXPORT ssize_t ivcom_write_all(struct ivcom_chan *ch, const void *buf, size_t len,
                                     int timeout_ms)
{
    const uint8_t *src = buf;
    uint64_t deadline = 0;
    int timed = 0;
    size_t done = 0;

    while (done < len) {
        ssize_t n = chan_usable(ch, IVCOM_MODE_STREAM);

        /* While the ring has room no clock is read: in a Xen PV guest a
         * clock read can be a system call through the hypervisor, which
         * would cost more than the write itself.  The deadline starts at
         * the first wait. */
        if (n == 0)
            n = write_once(ch, src + done, len - done);
        if (n == -EAGAIN) {
            if (!timed) {
                deadline = ivcom_deadline_of(timeout_ms);
                timed = 1;
            }
            n = ivcom_write(ch, src + done, len - done, ivcom_ms_left(deadline));
        }
        if (n < 0)
            return done ? (ssize_t)done : n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static ssize_t read_op(struct ivcom_chan *ch, struct attempt *a)
{
    return read_once(ch, a->buf, a->len);
}

IVCOM_EXPORT ssize_t ivcom_read(struct ivcom_chan *ch, void *buf, size_t len,
                                int timeout_ms)
{
    struct attempt a = { .op = read_op, .what = WAIT_RX, .buf = buf, .len = len };
    int r = chan_usable(ch, IVCOM_MODE_STREAM);

    if (r)
        return r;
    return len ? ivcom_chan_retry(ch, &a, timeout_ms) : 0;
}

IVCOM_EXPORT ssize_t ivcom_try_read(struct ivcom_chan *ch, void *buf, size_t len)
{
    return ivcom_read(ch, buf, len, 0);
}
