/* SPDX-License-Identifier: MIT */
/*
 * The payload of a bulk transfer, kept here once for both ends and both
 * build worlds: ivcom-stream (hosted) and the tiny guest's source and sink
 * (freestanding: memcpy, memset and snprintf only).
 *
 * Message (or write) N of a transfer carries N at BOTH ends of its
 * payload, in host byte order (x86 at both ends): in its first 8 bytes and
 * in its last 8; every byte between is SEQ_FILL.  A payload shorter than
 * 16 bytes carries what fits: the head is its first min(len, 8) bytes, the
 * tail the (at most 8) bytes after those, each holding the low-order bytes
 * of N.  Both ends, because they tell faults apart: a whole record of
 * another lap (a ring or index fault) is wrong at both ends alike; a record
 * overwritten or copied in part (a memory fault) is wrong at one end, or
 * in its fill.
 */
#ifndef IVCOM_TOOLS_SEQCHECK_H
#define IVCOM_TOOLS_SEQCHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ivcom/ivcom.h"

#define SEQ_FILL 0xa5u

static inline size_t seq_head_len(size_t len)
{
    return len < 8 ? len : 8;
}

static inline size_t seq_tail_len(size_t len)
{
    size_t rest = len - seq_head_len(len);

    return rest < 8 ? rest : 8;
}

/* A source's buffer: the fill once, then seq_stamp() per payload. */
static inline void seq_fill(unsigned char *buf, size_t len)
{
    memset(buf, SEQ_FILL, len);
}

static inline void seq_stamp(unsigned char *buf, size_t len, uint64_t seq)
{
    size_t t = seq_tail_len(len);

    memcpy(buf, &seq, seq_head_len(len));
    memcpy(buf + len - t, &seq, t);
}

/* The number in n (<= 8) bytes at p: its low-order bytes when n < 8. */
static inline uint64_t seq_read(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    memcpy(&v, p, n);
    return v;
}

static inline uint64_t seq_low(uint64_t seq, size_t n)
{
    return n >= 8 ? seq : seq & ((1ull << (8 * n)) - 1);
}

/* 1 when both ends of the payload carry seq (as much of it as fits). */
static inline int seq_ok(const unsigned char *buf, size_t len, uint64_t seq)
{
    size_t h, t;

    if (len >= 16)
        return seq_read(buf, 8) == seq && seq_read(buf + len - 8, 8) == seq;
    h = seq_head_len(len);
    t = seq_tail_len(len);
    return seq_read(buf, h) == seq_low(seq, h) &&
           seq_read(buf + len - t, t) == seq_low(seq, t);
}

/* The one line a sink prints about a payload that failed seq_ok(), e.g.
 *   message 2296 out of sequence: head_seq=63 tail_seq=63 len=4096
 *   ring_off=0x1f08 ring_size=0x10000 pvt=0x8fd000 published=0x8fd000
 *   peer=0x8fe010 pending=0x0 prod=0x8fe010 cons=0x8fd000
 *   fill_not_a5=0/4080 first=3f00000000000000a5a5a5a5a5a5a5a5
 * (one line; the most telling first, so that a line cut short -- the tiny
 * guest's result line holds some 250 characters -- loses the least).  unit: "message" or "write"; want: the number due.  d: the
 * receive ring from ivcom_debug_ring(), taken right after the copy-API
 * read that returned the payload, which therefore ended at d->pvt;
 * ring_off is where the payload began (after the record header in
 * message mode, msg != 0).  derr: that call's result (d unused unless 0).
 * tail_seq=none: a payload too short for a tail. */
static inline void seq_describe(char *out, size_t cap, const char *unit, uint64_t want,
                                const unsigned char *buf, size_t len, int msg,
                                const struct ivcom_ring_debug *d, int derr)
{
    size_t h = seq_head_len(len), t = seq_tail_len(len), i, bad = 0, w;
    char tail[24];

    if (t)
        snprintf(tail, sizeof(tail), "%llu", (unsigned long long)seq_read(buf + len - t, t));
    else
        snprintf(tail, sizeof(tail), "none");
    w = (size_t)snprintf(out, cap, "%s %llu out of sequence: head_seq=%llu tail_seq=%s len=%zu ",
                         unit, (unsigned long long)want,
                         (unsigned long long)seq_read(buf, h), tail, len);
    if (w >= cap)
        return;
    if (derr == 0) {
        /* Records are 8-byte aligned: header, payload, padding. */
        uint32_t rec = (uint32_t)((sizeof(struct ivcom_msg_hdr) + len + IVCOM_MSG_ALIGN - 1) &
                                  ~(size_t)(IVCOM_MSG_ALIGN - 1));
        uint32_t start = msg ? d->pvt - rec + (uint32_t)sizeof(struct ivcom_msg_hdr)
                             : d->pvt - (uint32_t)len;

        w += (size_t)snprintf(out + w, cap - w,
                              "ring_off=0x%x ring_size=0x%x pvt=0x%x published=0x%x "
                              "peer=0x%x pending=0x%x prod=0x%x cons=0x%x ",
                              start & (d->size - 1), d->size, d->pvt, d->published,
                              d->peer, d->pending, d->prod, d->cons);
    } else {
        w += (size_t)snprintf(out + w, cap - w, "ring=(%s) ", ivcom_strerror(derr));
    }
    for (i = h; i < len - t; i++)
        bad += buf[i] != SEQ_FILL;
    if (w < cap)
        w += (size_t)snprintf(out + w, cap - w, "fill_not_a5=%zu/%zu first=", bad,
                              len - h - t);
    for (i = 0; i < len && i < 16 && w < cap; i++)
        w += (size_t)snprintf(out + w, cap - w, "%02x", buf[i]);
}

#endif
