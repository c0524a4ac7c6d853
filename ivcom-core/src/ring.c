/* SPDX-License-Identifier: MIT */
/*
 * Byte rings: set-up and stream spans.  The message-mode data path,
 * index validation and publication are inline in ring.h.
 */
#include <errno.h>
#include <string.h>

#include "barrier.h"
#include "ring.h"

void ivcom_ring_init(struct ivcom_ring *r, void *data, unsigned order,
                     struct ivcom_prod_line *pl, struct ivcom_cons_line *cl)
{
    memset(r, 0, sizeof(*r));
    r->data = data;
    r->size = 1u << order;
    r->mask = r->size - 1;
    r->pl = pl;
    r->cl = cl;
}

/* ---- stream mode ------------------------------------------------------- */

int ivcom_ring_stream_reserve(struct ivcom_ring *r, void **buf, size_t *len)
{
    int64_t free;
    uint32_t off, span;

    /* A failed reserve leaves nothing to commit (see the message mode). */
    r->pending = 0;
    free = ivcom_ring_free(r);
    if (free < 0)
        return (int)free;
    off = r->pvt & r->mask;
    span = r->size - off;
    if ((uint32_t)free < span)
        span = (uint32_t)free;
    if (span == 0) {
        r->need = 1;
        return -EAGAIN;
    }
    r->pending = span;
    *buf = r->data + off;
    *len = span;
    return 0;
}

int ivcom_ring_stream_commit(struct ivcom_ring *r, size_t len)
{
    if (len > r->pending)
        return -EINVAL;
    r->pvt += (uint32_t)len;
    r->pending = 0;
    return 0;
}

int ivcom_ring_stream_peek(struct ivcom_ring *r, const void **buf, size_t *len)
{
    int64_t avail;
    uint32_t off, span;

    r->pending = 0;
    avail = ivcom_ring_avail(r);
    if (avail <= 0)
        return avail < 0 ? (int)avail : -EAGAIN;
    off = r->pvt & r->mask;
    span = r->size - off;
    if ((uint32_t)avail < span)
        span = (uint32_t)avail;
    r->pending = span;
    *buf = r->data + off;
    *len = span;
    return 0;
}

int ivcom_ring_stream_release(struct ivcom_ring *r, size_t len)
{
    if (len > r->pending)
        return -EINVAL;
    r->pvt += (uint32_t)len;
    r->pending = 0;
    return 0;
}
