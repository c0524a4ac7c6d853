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

#include <stddef.h>
#include <stdint.h>

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

/* Producer: validated free bytes (>= 0) or -EPROTO. */
int64_t ivcom_ring_free(struct ivcom_ring *r);
/* Consumer: validated filled bytes (>= 0) or -EPROTO. */
int64_t ivcom_ring_avail(struct ivcom_ring *r);

/* Publish our private index.  Returns 1 when the peer asked to be told
 * (its event index lies in (old, new]), else 0. */
int ivcom_ring_prod_publish(struct ivcom_ring *r);
int ivcom_ring_cons_publish(struct ivcom_ring *r);

/* Ask the peer for an event, then (after a full fence) the caller must
 * re-check: consumer wants any new byte; producer wants `need` free. */
void ivcom_ring_cons_arm(struct ivcom_ring *r);
void ivcom_ring_prod_arm(struct ivcom_ring *r, uint32_t need);

/* Message mode.  reserve: 0, -EAGAIN (r->need says how much space is
 * wanted), -EMSGSIZE, -EPROTO.  It may advance pvt past a PAD record; the
 * caller publishes that even on -EAGAIN. */
int ivcom_ring_msg_reserve(struct ivcom_ring *r, size_t len, void **buf);
void ivcom_ring_msg_commit(struct ivcom_ring *r);
/* peek: 0, -EAGAIN, -EPROTO.  May consume PAD records (advances pvt). */
int ivcom_ring_msg_peek(struct ivcom_ring *r, const void **buf, size_t *len);
void ivcom_ring_msg_release(struct ivcom_ring *r);
size_t ivcom_ring_max_msg(const struct ivcom_ring *r);

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

#endif /* IVCOM_RING_H */
