/* SPDX-License-Identifier: MIT */
/*
 * Waiting: events to the peer, the adaptive wait (spin, then block on the
 * event channel with the peer's notification armed), the XenStore
 * presence probe, and the one retry loop behind every call that may wait.
 */
#include <errno.h>
#include <stdint.h>

#include "chan.h"

void ivcom_chan_send_event(struct ivcom_chan *ch, uint32_t *shared_counter)
{
    ch->plat->ops->evtchn_notify(ch->ev, ch->port);
    ch->st.notifies_sent++;
    bump(shared_counter);
}

/* ---- adaptive wait ------------------------------------------------------ */

/* >0 ready, 0 not yet, <0 error. */
static int ready(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    int64_t n;
    int ps;

    switch (what) {
    case WAIT_RX:
        n = ivcom_ring_avail(&ch->rx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        if (n > 0)
            return 1;
        ps = peer_state(ch);
        if (ps == 0)
            return 0;
        /* The peer publishes before it leaves: look once more. */
        n = ivcom_ring_avail(&ch->rx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        return n > 0 ? 1 : ps;
    case WAIT_TX:
        n = ivcom_ring_free(&ch->tx);
        if (n < 0)
            return ivcom_chan_fail(ch, (int)n);
        ps = peer_state(ch);
        if (ps < 0)
            return ps;
        return (uint64_t)n >= need;
    case WAIT_PEER_UP: {
        /* A4: pairs with R4 in ivcom_connect(). */
        uint8_t v = ivcom_load_acquire(ch->peer_live);
        /* A client may connect, send and close before we look: it was
         * here (its data is still to be drained) if it is up or closed,
         * if it published anything, or if XenStore says it came. */
        if (v == IVCOM_LIVE_UP || v == IVCOM_LIVE_CLOSED || ch->peer_seen)
            return 1;
        if (v != IVCOM_LIVE_DEAD)
            return ivcom_chan_fail(ch, -EPROTO);
        return ivcom_load_acquire(&ch->rx.pl->prod) != 0;
    }
    }
    return -EINVAL;
}

static void arm(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    if (what == WAIT_RX)
        ivcom_ring_cons_arm(&ch->rx);
    else if (what == WAIT_TX)
        ivcom_ring_prod_arm(&ch->tx, need);
}

/* A wait that gives up still asks the peer for an event first (and looks
 * once more after asking): its caller may go on to sleep in poll() on
 * ivcom_fd(), and only an armed event index makes the peer notify. */
static int give_up(struct ivcom_chan *ch, enum wait_for what, uint32_t need)
{
    int r;

    arm(ch, what, need);
    r = ready(ch, what, need);
    return r > 0 ? 0 : r < 0 ? r : -ETIMEDOUT;
}

/* The XenStore presence probe, every IVCOM_PROBE_MS of a wait that saw
 * nothing: a destroyed domain runs no unmap notify, so neither an event
 * nor a live byte will ever say it left. */
static void probe_peer(struct ivcom_chan *ch, enum wait_for what)
{
    if (what == WAIT_PEER_UP) {
        ch->peer_seen = ivcom_xs_client_came(ch);
    } else if (ch->connected && ivcom_xs_peer_gone(ch)) {
        ch->closing = 1;        /* peer_state() now says -EPIPE */
        ch->ready = 0;          /* and the fast paths step aside */
    }
}

/* A call that does not wait and found nothing: the peer's presence is
 * probed on the same schedule, counted from the first such call (an
 * event loop whose peer domain was destroyed sees no event and no live
 * byte change, only this).  1 once the peer is known gone. */
static int idle_probe(struct ivcom_chan *ch, enum wait_for what)
{
    uint64_t now = ivcom_now_ns();

    if (now < ch->idle_probe_at)
        return 0;
    if (ch->idle_probe_at)
        probe_peer(ch, what);
    ch->idle_probe_at = now + IVCOM_PROBE_MS * NS_PER_MS;
    return ch->closing;
}

uint64_t ivcom_deadline_of(int timeout_ms)
{
    if (timeout_ms < 0)
        return UINT64_MAX;
    return ivcom_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
}

int ivcom_ms_left(uint64_t deadline)
{
    uint64_t now;

    if (deadline == UINT64_MAX)
        return -1;
    now = ivcom_now_ns();
    if (now >= deadline)
        return 0;
    return (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* The spin budget of the next wait (ns); see IVCOM_SPIN_RETRY. */
static uint64_t spin_budget(struct ivcom_chan *ch)
{
    if (ch->spin_ns == 0 && ++ch->spin_idle >= IVCOM_SPIN_RETRY) {
        ch->spin_idle = 0;
        return (uint64_t)ch->params.spin_us * 1000u;
    }
    return ch->spin_ns;
}

/* A spin ended the wait (paid = 1) or the wait had to block (0). */
static void spin_paid(struct ivcom_chan *ch, int paid)
{
    uint64_t max = (uint64_t)ch->params.spin_us * 1000u, v;

    if (paid) {
        v = ch->spin_ns ? ch->spin_ns * 2 : max;
        ch->spin_ns = v < max ? v : max;
    } else {
        ch->spin_ns /= 2;
        if (ch->spin_ns < IVCOM_SPIN_MIN_NS)
            ch->spin_ns = 0;
    }
}

/* Wait until `what` is ready or the deadline passes: spin for spin_us,
 * then block on the event channel after arming the peer's notification.
 * A blocked wait re-checks the peer's presence every IVCOM_PROBE_MS. */
int ivcom_chan_wait(struct ivcom_chan *ch, enum wait_for what, uint32_t need,
                     uint64_t deadline)
{
    uint64_t spin_end, yield_from, max_iters, budget, now = ivcom_now_ns();
    uint64_t i, next_probe = now + IVCOM_PROBE_MS * NS_PER_MS;
    int r, blocked = 0, yields;

    r = ready(ch, what, need);
    if (r)
        return r < 0 ? r : 0;
    if (now >= deadline)
        return give_up(ch, what, need);

    budget = spin_budget(ch);
    spin_end = ch->params.poll_only ? deadline : now + budget;
    if (spin_end > deadline)
        spin_end = deadline;
    yields = ch->plat->ops->yield_in_spin;
    yield_from = yields ? now + IVCOM_SPIN_PURE_NS : UINT64_MAX;
    /* A stalled clock must not stretch the spin (see IVCOM_SPIN_*_ITERS):
     * a bounded spin is bounded by a count as well; polling needs none. */
    max_iters = ch->params.poll_only ? UINT64_MAX
              : !budget ? 0
              : yields ? IVCOM_SPIN_PURE_ITERS + budget * IVCOM_SPIN_YIELDS_PER_US / 1000u
                       : budget * IVCOM_SPIN_PAUSES_PER_US / 1000u;
    for (i = 1; now < spin_end && i <= max_iters; i++) {
        /* Past the first couple of microseconds the peer is probably not
         * running on another CPU: offer ours (no-op when nobody waits). */
        if (now >= yield_from || (yields && i > IVCOM_SPIN_PURE_ITERS))
            ivcom_os_yield();
        else
            ivcom_cpu_relax();
        r = ready(ch, what, need);
        if (r) {
            ch->st.spins++;
            spin_paid(ch, 1);
            return r < 0 ? r : 0;
        }
        if ((i & 15) == 0 || now >= yield_from)
            now = ivcom_now_ns();
        /* Polling never blocks, so it probes on the blocked schedule. */
        if (now >= next_probe) {
            probe_peer(ch, what);
            next_probe = now + IVCOM_PROBE_MS * NS_PER_MS;
        }
    }
    if (ch->params.poll_only)
        return give_up(ch, what, need);
    spin_paid(ch, 0);

    for (;;) {
        int slice, e;

        arm(ch, what, need);
        r = ready(ch, what, need);
        if (r)
            return r < 0 ? r : 0;
        slice = ivcom_ms_left(deadline);
        if (slice == 0)
            return -ETIMEDOUT;
        if (slice < 0 || slice > IVCOM_PROBE_MS)
            slice = IVCOM_PROBE_MS;
        if (!blocked) {
            blocked = 1;
            ch->st.blocks++;
            if (what == WAIT_RX)
                bump(&ch->rx.cl->wait_count);
            else if (what == WAIT_TX)
                bump(&ch->tx.pl->wait_count);
        }
        e = ch->plat->ops->evtchn_wait(ch->ev, slice);
        if (e == 0) {
            ch->st.wakeups++;
        } else if (e == -ETIMEDOUT) {
            probe_peer(ch, what);
        } else if (e != -EINTR) {
            return e;
        }
    }
}

ssize_t ivcom_chan_retry(struct ivcom_chan *ch, struct attempt *a, int timeout_ms)
{
    uint64_t deadline;
    ssize_t r = a->op(ch, a);
    int w;

    if (r != -EAGAIN)
        return r;
    if (timeout_ms == 0) {
        arm(ch, a->what, ch->tx.need);
        r = a->op(ch, a);
        if (r == -EAGAIN && idle_probe(ch, a->what))
            r = a->op(ch, a);   /* what was published, then -EPIPE */
        return r;
    }
    deadline = ivcom_deadline_of(timeout_ms);
    do {
        w = ivcom_chan_wait(ch, a->what, a->what == WAIT_TX ? ch->tx.need : 0, deadline);
        if (w)
            return w;
        r = a->op(ch, a);
    } while (r == -EAGAIN);
    return r;
}

IVCOM_EXPORT int ivcom_wait_readable(struct ivcom_chan *ch, int timeout_ms)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    return ivcom_chan_wait(ch, WAIT_RX, 0, ivcom_deadline_of(timeout_ms));
}

IVCOM_EXPORT int ivcom_wait_writable(struct ivcom_chan *ch, size_t need, int timeout_ms)
{
    if (ch->broken)
        return ch->broken;
    if (!ch->connected)
        return -ENOTCONN;
    if (need == 0 || need > ch->tx.size)
        return -EINVAL;
    return ivcom_chan_wait(ch, WAIT_TX, (uint32_t)need, ivcom_deadline_of(timeout_ms));
}

IVCOM_EXPORT int ivcom_flush(struct ivcom_chan *ch, int timeout_ms)
{
    int err = ivcom_wait_writable(ch, ch->tx.size, timeout_ms);

    /* A peer that read everything and then left has been flushed to. */
    if (err == -EPIPE && ivcom_ring_free(&ch->tx) == (int64_t)ch->tx.size)
        return 0;
    return err;
}
