/* SPDX-License-Identifier: MIT */
/*
 * One ring direction in plain memory, every part allocated at its exact
 * size so that ASan reports any access outside it: the data area, the
 * producer line and the consumer line each come from their own malloc.
 */
#ifndef IVCOM_FUZZ_RING_H
#define IVCOM_FUZZ_RING_H

#include <errno.h>

#include "fuzz_input.h"
#include "ring.h"

struct fring {
    uint8_t *data;
    uint32_t size;
    struct ivcom_prod_line *pl;
    struct ivcom_cons_line *cl;
};

static inline void fring_init(struct fring *fr, unsigned order, uint32_t start)
{
    fr->size = 1u << order;
    fr->data = malloc(fr->size);
    fr->pl = calloc(1, sizeof(*fr->pl));
    fr->cl = calloc(1, sizeof(*fr->cl));
    if (!fr->data || !fr->pl || !fr->cl)
        abort();
    memset(fr->data, 0xee, fr->size);
    fr->pl->prod = fr->cl->cons = start;
}

/* A side of the ring starting at `start` like the harness's. */
static inline void fring_side(struct fring *fr, struct ivcom_ring *r, unsigned order,
                              uint32_t start)
{
    ivcom_ring_init(r, fr->data, order, fr->pl, fr->cl);
    r->pvt = r->published = r->peer = start;
}

static inline void fring_free(struct fring *fr)
{
    free(fr->data);
    free(fr->pl);
    free(fr->cl);
}

/* A span handed out by the ring lies inside the data area. */
static inline int fring_inside(const struct fring *fr, const void *buf, size_t len)
{
    const uint8_t *b = buf;

    return b >= fr->data && len <= fr->size && (size_t)(b - fr->data) <= fr->size - len;
}

/* Hostile byte writes into the data area: offset, length, bytes. */
static inline void fring_poke(struct fring *fr, struct fin *in)
{
    uint32_t off = fin_u32(in) & (fr->size - 1);
    uint32_t len = fin_u8(in) % 17;

    if (len > fr->size - off)
        len = fr->size - off;
    fin_bytes(in, fr->data + off, len);
}

/* A message header written at an 8-aligned offset (hostile or honest). */
static inline void fring_put_hdr(struct fring *fr, uint32_t off, uint32_t len,
                                 uint16_t type, uint16_t reserved)
{
    struct ivcom_msg_hdr h = { .len = len, .type = type, .reserved = reserved };

    off &= (fr->size - 1) & ~(IVCOM_MSG_ALIGN - 1);
    memcpy(fr->data + off, &h, sizeof(h));
}

#endif
