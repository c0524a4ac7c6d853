/* SPDX-License-Identifier: MIT */
/*
 * One direction of a channel, as seen by one side (producer or consumer).
 *
 * Our own index is a private shadow (`pvt`, Xen ring.h's req_prod_pvt);
 * the peer's index is a suspect: it is read once per operation, validated
 * with unsigned arithmetic against the PRIVATE size, and only then used.
 * Freestanding: also compiled into the tiny guest.
 */
#ifndef IVCOM_RING_H
#define IVCOM_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "barrier.h"

#include "ivcom/wire.h"

struct ivcom_ring {
    uint8_t  *data;                 /* ring bytes (shared) */
    uint32_t  size;                 /* private copy: never re-read */
    uint32_t  mask;
    struct ivcom_prod_line *pl;     /* shared producer line */
    struct ivcom_cons_line *cl;     /* shared consumer line */
    uint32_t  pvt;                  /* our index, not yet published */
    uint32_t  published;            /* our index as last published */
    uint32_t  peer;                 /* peer index as last validated */
    uint32_t  pending;              /* bytes of the reserved/peeked span */
    uint32_t  need;                 /* producer: bytes wanted when -EAGAIN */
};

/* Set up one side: both indexes start at 0 (the server zeroes the page). */
void ivcom_ring_init(struct ivcom_ring *r, void *data, unsigned order,
                     struct ivcom_prod_line *pl, struct ivcom_cons_line *cl);

/* Stream mode: contiguous spans. */
int ivcom_ring_stream_reserve(struct ivcom_ring *r, void **buf, size_t *len);
int ivcom_ring_stream_commit(struct ivcom_ring *r, size_t len);
int ivcom_ring_stream_peek(struct ivcom_ring *r, const void **buf, size_t *len);
int ivcom_ring_stream_release(struct ivcom_ring *r, size_t len);

static inline uint32_t ivcom_msg_record(uint32_t len)
{
    return (uint32_t)((sizeof(struct ivcom_msg_hdr) + (uint64_t)len +
                       IVCOM_MSG_ALIGN - 1) & ~(uint64_t)(IVCOM_MSG_ALIGN - 1));
}

/* ---- the data path: inline, the hot path of every call ---------------
 *
 * Barrier pairs (each side runs the same code for its own role):
 *   R1 (producer publishes prod, release)   pairs with A1 (consumer reads prod)
 *   R2 (consumer publishes cons, release)   pairs with A2 (producer reads cons)
 *   F1 (consumer: store prod_event; mb; re-read prod)
 *        pairs with F2 (producer: store prod; mb; read prod_event)
 *   F3 (producer: store cons_event; mb; re-read cons)
 *        pairs with F4 (consumer: store cons; mb; read cons_event)
 * The full fences close the store->load window in which both sides could
 * decide not to notify / not to sleep (the classic missed wakeup).
 */

/* Producer: validated free bytes (>= 0) or -EPROTO. */
static inline int64_t ivcom_ring_free(struct ivcom_ring *r)
{
    /* A2: pairs with R2 in ivcom_ring_cons_publish(). */
    uint32_t cons = ivcom_load_acquire(&r->cl->cons);
    uint32_t used = r->pvt - cons;

    /* The consumer can neither pass what we produced nor move backwards:
     * cons must lie in [last seen cons, pvt]. */
    if (used > r->size || (uint32_t)(cons - r->peer) > (uint32_t)(r->pvt - r->peer))
        return -EPROTO;
    r->peer = cons;
    return (int64_t)(r->size - used);
}

/* Consumer: validated filled bytes (>= 0) or -EPROTO. */
static inline int64_t ivcom_ring_avail(struct ivcom_ring *r)
{
    /* A1: pairs with R1 in ivcom_ring_prod_publish(). */
    uint32_t prod = ivcom_load_acquire(&r->pl->prod);
    uint32_t avail = prod - r->pvt;

    /* prod must lie in [last seen prod, pvt + size]. */
    if (avail > r->size || avail < (uint32_t)(r->peer - r->pvt))
        return -EPROTO;
    r->peer = prod;
    return (int64_t)avail;
}

/* What the last validated peer index already promises, without touching
 * the peer's cache line: a consumer re-reads prod only when it has used up
 * what it saw, a producer re-reads cons only when the space it saw is too
 * small (the cached-index trick of SPSC queues). */
static inline int64_t ivcom_ring_avail_cached(struct ivcom_ring *r)
{
    uint32_t seen = r->peer - r->pvt;

    return seen ? (int64_t)seen : ivcom_ring_avail(r);
}

static inline int64_t ivcom_ring_free_cached(struct ivcom_ring *r, uint32_t need)
{
    uint32_t free = r->size - (r->pvt - r->peer);

    return free >= need ? (int64_t)free : ivcom_ring_free(r);
}

/* Xen io/ring.h hold-off: notify iff the event index lies in (old, new]. */
static inline int ivcom_ring_want_event(uint32_t newv, uint32_t oldv, uint32_t event)
{
    return (uint32_t)(newv - event) < (uint32_t)(newv - oldv);
}

/* Publish our private index.  Returns 1 when the peer asked to be told
 * (its event index lies in (old, new]), else 0. */
static inline int ivcom_ring_prod_publish(struct ivcom_ring *r)
{
    uint32_t old = r->published, now = r->pvt;

    if (old == now)
        return 0;
    /* R1: payload and headers before the index; pairs with A1. */
    ivcom_store_release(&r->pl->prod, now);
    r->published = now;
    /* F2: pairs with F1 in ivcom_ring_cons_arm(). */
    ivcom_smp_mb();
    return ivcom_ring_want_event(now, old, ivcom_load_once(&r->cl->prod_event));
}

static inline int ivcom_ring_cons_publish(struct ivcom_ring *r)
{
    uint32_t old = r->published, now = r->pvt;

    if (old == now)
        return 0;
    /* R2: our reads of the data are done before the space is handed back;
     * pairs with A2. */
    ivcom_store_release(&r->cl->cons, now);
    r->published = now;
    /* F4: pairs with F3 in ivcom_ring_prod_arm(). */
    ivcom_smp_mb();
    return ivcom_ring_want_event(now, old, ivcom_load_once(&r->pl->cons_event));
}

/* Ask the peer for an event, then (after a full fence) the caller must
 * re-check: consumer wants any new byte; producer wants `need` free. */
static inline void ivcom_ring_cons_arm(struct ivcom_ring *r)
{
    ivcom_store_once(&r->cl->prod_event, r->pvt + 1);
    /* F1: the request is visible before we re-read prod; pairs with F2. */
    ivcom_smp_mb();
}

static inline void ivcom_ring_prod_arm(struct ivcom_ring *r, uint32_t need)
{
    ivcom_store_once(&r->pl->cons_event, r->pvt + need - r->size);
    /* F3: the request is visible before we re-read cons; pairs with F4. */
    ivcom_smp_mb();
}

/* ---- message mode ------------------------------------------------------ */

static inline size_t ivcom_ring_max_msg(const struct ivcom_ring *r)
{
    return r->size - sizeof(struct ivcom_msg_hdr);
}

static inline void ivcom_ring_put_hdr(struct ivcom_ring *r, uint32_t off, uint32_t len, uint16_t type)
{
    struct ivcom_msg_hdr h = { .len = len, .type = type, .reserved = 0 };

    memcpy(r->data + off, &h, sizeof(h));
}

/* The consumer's one read of a record header: a single 8-byte access
 * (records start 8-byte aligned), copied into a private struct that alone
 * is validated and used.  A memcpy straight from the ring would let the
 * compiler split the read or fetch a field again after its check (a
 * compiler-made double fetch, the XSA-155 class of bug). */
static inline struct ivcom_msg_hdr ivcom_ring_get_hdr(const struct ivcom_ring *r, uint32_t off)
{
    uint64_t raw = ivcom_load_once((const uint64_t *)(const void *)(r->data + off));
    struct ivcom_msg_hdr h;

    _Static_assert(sizeof(h) == sizeof(raw), "one access reads the whole header");
    memcpy(&h, &raw, sizeof(h));
    return h;
}

/* A failed reserve or peek: nothing is left to commit or release. */
static inline int ivcom_ring_abandon(struct ivcom_ring *r, int err)
{
    r->pending = 0;
    return err;
}

/* Message mode.  reserve: 0, -EAGAIN (r->need says how much space is
 * wanted), -EMSGSIZE, -EPROTO.  It may advance pvt past a PAD record; the
 * caller publishes that even on -EAGAIN. */
static inline int ivcom_ring_msg_reserve(struct ivcom_ring *r, size_t len, void **buf)
{
    int64_t free;
    uint32_t rec, off, contig;

    /* A new reservation abandons any earlier one that was not committed,
     * and a reserve that fails leaves nothing to commit: the PAD it may
     * write below lies over the abandoned reservation's bytes.  (Every
     * return below sets pending: the success path with the new record.) */
    if (len > ivcom_ring_max_msg(r))
        return ivcom_ring_abandon(r, -EMSGSIZE);
    rec = ivcom_msg_record((uint32_t)len);
    off = r->pvt & r->mask;
    contig = r->size - off;
    free = ivcom_ring_free_cached(r, rec > contig ? contig + rec : rec);
    if (free < 0)
        return ivcom_ring_abandon(r, (int)free);
    if (rec > contig) {
        /* Records never wrap: cover the tail with one PAD record. */
        if ((uint32_t)free < contig) {
            r->need = contig;
            return ivcom_ring_abandon(r, -EAGAIN);
        }
        ivcom_ring_put_hdr(r, off, contig - (uint32_t)sizeof(struct ivcom_msg_hdr), IVCOM_MSG_PAD);
        r->pvt += contig;
        free -= contig;
        off = 0;
    }
    if ((uint32_t)free < rec) {
        r->need = rec;
        return ivcom_ring_abandon(r, -EAGAIN);
    }
    ivcom_ring_put_hdr(r, off, (uint32_t)len, IVCOM_MSG_DATA);
    r->pending = rec;
    *buf = r->data + off + sizeof(struct ivcom_msg_hdr);
    return 0;
}

static inline void ivcom_ring_msg_commit(struct ivcom_ring *r)
{
    r->pvt += r->pending;
    r->pending = 0;
}

/* peek: 0, -EAGAIN, -EPROTO.  May consume PAD records (advances pvt). */
static inline int ivcom_ring_msg_peek(struct ivcom_ring *r, const void **buf, size_t *len)
{
    /* As reserve: a failed peek leaves nothing to release. */
    for (;;) {
        struct ivcom_msg_hdr h;
        int64_t avail = ivcom_ring_avail_cached(r);
        uint32_t off, contig, rec;

        if (avail <= 0)
            return ivcom_ring_abandon(r, avail < 0 ? (int)avail : -EAGAIN);
        if ((uint64_t)avail < sizeof(h))
            return ivcom_ring_abandon(r, -EPROTO);         /* the producer publishes whole records */
        off = r->pvt & r->mask;
        contig = r->size - off;
        /* Copy the header out once; validate and use only the copy. */
        h = ivcom_ring_get_hdr(r, off);
        if (h.reserved != 0)
            return ivcom_ring_abandon(r, -EPROTO);
        if (h.type == IVCOM_MSG_PAD) {
            if (h.len != contig - sizeof(h) || (uint64_t)avail < contig)
                return ivcom_ring_abandon(r, -EPROTO);
            r->pvt += contig;
            continue;
        }
        if (h.type != IVCOM_MSG_DATA || h.len > ivcom_ring_max_msg(r))
            return ivcom_ring_abandon(r, -EPROTO);
        rec = ivcom_msg_record(h.len);
        if (rec > contig || rec > (uint64_t)avail)
            return ivcom_ring_abandon(r, -EPROTO);
        r->pending = rec;
        *buf = r->data + off + sizeof(h);
        *len = h.len;
        return 0;
    }
}

static inline void ivcom_ring_msg_release(struct ivcom_ring *r)
{
    r->pvt += r->pending;
    r->pending = 0;
}

#endif /* IVCOM_RING_H */
