/* SPDX-License-Identifier: MIT */
/* A control page and rings in ordinary memory: producer and consumer of
 * one direction in the same process, no platform involved. */
#ifndef IVCOM_RING_HARNESS_H
#define IVCOM_RING_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "ring.h"

struct harness {
    struct ivcom_ctrl *ctrl;
    uint8_t *data;
    unsigned order;
    struct ivcom_ring prod, cons;
};

/* Both sides start at index `start` (to exercise 32-bit wrap). */
static inline void harness_init(struct harness *h, unsigned order, uint32_t start)
{
    h->order = order;
    h->ctrl = aligned_alloc(IVCOM_PAGE_SIZE, IVCOM_PAGE_SIZE);
    h->data = aligned_alloc(IVCOM_PAGE_SIZE, (size_t)1 << order);
    memset(h->ctrl, 0, IVCOM_PAGE_SIZE);
    memset(h->data, 0xee, (size_t)1 << order);
    ivcom_ring_init(&h->prod, h->data, order, &h->ctrl->s2c_prod, &h->ctrl->s2c_cons);
    ivcom_ring_init(&h->cons, h->data, order, &h->ctrl->s2c_prod, &h->ctrl->s2c_cons);
    h->ctrl->s2c_prod.prod = h->ctrl->s2c_cons.cons = start;
    h->prod.pvt = h->prod.published = h->prod.peer = start;
    h->cons.pvt = h->cons.published = h->cons.peer = start;
}

static inline void harness_free(struct harness *h)
{
    free(h->ctrl);
    free(h->data);
}

#endif
