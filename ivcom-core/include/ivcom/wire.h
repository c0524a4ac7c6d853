/* SPDX-License-Identifier: MIT */
/*
 * IVCOM shared-memory ABI, version 1.
 *
 * This header is the wire format and nothing else: everything in it is
 * seen by both domains, so every field has a fixed width, a fixed offset
 * (checked below) and one writer.  The Python twin lives in
 * toolkit/src/ivcom/layouts.py and is checked against `ivcom-layout`.
 *
 * A channel is 1 control page + N data pages, all granted by the server.
 *
 *   control page (4096 bytes)
 *   0x000  line 0  identity: magic, version, mode, ring orders, grant count,
 *                  live flags (one byte per side, cleared by unmap notify),
 *                  the offer's nonce
 *   0x040  line 1  s2c producer line   (written by the server only)
 *   0x080  line 2  s2c consumer line   (written by the client only)
 *   0x0c0  line 3  c2s producer line   (written by the client only)
 *   0x100  line 4  c2s consumer line   (written by the server only)
 *   0x140  grant refs of the data pages: first the s2c ring pages in order,
 *          then the c2s ring pages.
 *
 * Indexes are free-running 32-bit byte counts; the ring offset is
 * index & (size - 1).  `prod - cons` (unsigned) is the fill level and can
 * never exceed the ring size: anything else is a protocol violation.
 *
 * Notification hold-off uses event indexes (Xen io/ring.h style):
 *  - a consumer about to sleep writes prod_event = cons + 1 into its own
 *    line; the producer notifies iff (new - prod_event) < (new - old);
 *  - a producer about to sleep writes cons_event = the consumer index at
 *    which enough space is free; the consumer notifies on release iff
 *    (new - cons_event) < (new - old).
 */
#ifndef IVCOM_WIRE_H
#define IVCOM_WIRE_H

#include <stdint.h>
#include <stddef.h>

#define IVCOM_WIRE_MAGIC        0x4d435649u      /* "IVCM" little-endian */
#define IVCOM_WIRE_VERSION      1u
#define IVCOM_PAGE_SHIFT        12u
#define IVCOM_PAGE_SIZE         (1u << IVCOM_PAGE_SHIFT)
#define IVCOM_CACHELINE         64u

/* Ring sizes are 2^order bytes, one page up to 1 MiB per direction. */
#define IVCOM_RING_ORDER_MIN    12u
#define IVCOM_RING_ORDER_MAX    20u

/* Channel modes (ivcom_ctrl.mode). */
#define IVCOM_MODE_MESSAGE      1u
#define IVCOM_MODE_STREAM       2u

/* Live flag byte values (ivcom_ctrl.server_live / client_live). */
#define IVCOM_LIVE_DEAD         0u
#define IVCOM_LIVE_UP           1u
#define IVCOM_LIVE_CLOSED       2u      /* orderly close: drained, then gone */

/* One direction's producer line: written only by the producing side. */
struct ivcom_prod_line {
    uint32_t prod;          /* bytes ever published */
    uint32_t cons_event;    /* producer asks for a wakeup when cons passes */
    uint32_t notify_count;  /* statistics: events this producer sent */
    uint32_t wait_count;    /* statistics: times this producer blocked */
    uint8_t  pad[IVCOM_CACHELINE - 16];
};

/* One direction's consumer line: written only by the consuming side. */
struct ivcom_cons_line {
    uint32_t cons;          /* bytes ever released */
    uint32_t prod_event;    /* consumer asks for a wakeup when prod passes */
    uint32_t notify_count;
    uint32_t wait_count;
    uint8_t  pad[IVCOM_CACHELINE - 16];
};

struct ivcom_ctrl {
    /* line 0: written by the server before publishing, then read-only,
     * except the live byte of each side. */
    uint32_t magic;
    uint16_t version;
    uint8_t  mode;
    uint8_t  s2c_order;
    uint8_t  c2s_order;
    uint8_t  server_live;   /* written by the server (and its unmap notify) */
    uint8_t  client_live;   /* written by the client (and its unmap notify) */
    uint8_t  reserved0;
    uint32_t nr_grefs;      /* data pages: 2^(s2c-12) + 2^(c2s-12) */
    uint32_t flags;         /* reserved, 0 in v1 */
    uint32_t reserved1;     /* 0 */
    uint64_t nonce;         /* random per offer, also in the XenStore offer:
                               ties the offer to this page (a stale offer's
                               refs may grant another channel's page now) */
    uint8_t  pad0[IVCOM_CACHELINE - 32];

    struct ivcom_prod_line s2c_prod;
    struct ivcom_cons_line s2c_cons;
    struct ivcom_prod_line c2s_prod;
    struct ivcom_cons_line c2s_cons;

    uint32_t grefs[];       /* nr_grefs entries, up to the end of the page */
};

#define IVCOM_CTRL_GREFS_OFFSET 0x140u
#define IVCOM_CTRL_MAX_GREFS    ((IVCOM_PAGE_SIZE - IVCOM_CTRL_GREFS_OFFSET) / 4u)

/* Message mode framing: every record starts with this header, and the
 * record (header + payload) is padded to IVCOM_MSG_ALIGN bytes.  A record
 * never wraps: when the space left before the end of the ring is too small
 * the producer writes a PAD record covering exactly that space. */
struct ivcom_msg_hdr {
    uint32_t len;           /* payload bytes (not counting header or pad) */
    uint16_t type;          /* IVCOM_MSG_DATA or IVCOM_MSG_PAD */
    uint16_t reserved;      /* 0 */
};

#define IVCOM_MSG_ALIGN         8u
#define IVCOM_MSG_DATA          1u
#define IVCOM_MSG_PAD           2u

/* Offsets are the ABI: any change here is a new wire version. */
_Static_assert(sizeof(struct ivcom_prod_line) == IVCOM_CACHELINE, "prod line");
_Static_assert(sizeof(struct ivcom_cons_line) == IVCOM_CACHELINE, "cons line");
_Static_assert(offsetof(struct ivcom_prod_line, prod) == 0, "prod");
_Static_assert(offsetof(struct ivcom_prod_line, cons_event) == 4, "cons_event");
_Static_assert(offsetof(struct ivcom_prod_line, notify_count) == 8, "p notify");
_Static_assert(offsetof(struct ivcom_prod_line, wait_count) == 12, "p wait");
_Static_assert(offsetof(struct ivcom_cons_line, cons) == 0, "cons");
_Static_assert(offsetof(struct ivcom_cons_line, prod_event) == 4, "prod_event");
_Static_assert(offsetof(struct ivcom_cons_line, notify_count) == 8, "c notify");
_Static_assert(offsetof(struct ivcom_cons_line, wait_count) == 12, "c wait");
_Static_assert(offsetof(struct ivcom_ctrl, magic) == 0x00, "magic");
_Static_assert(offsetof(struct ivcom_ctrl, version) == 0x04, "version");
_Static_assert(offsetof(struct ivcom_ctrl, mode) == 0x06, "mode");
_Static_assert(offsetof(struct ivcom_ctrl, s2c_order) == 0x07, "s2c_order");
_Static_assert(offsetof(struct ivcom_ctrl, c2s_order) == 0x08, "c2s_order");
_Static_assert(offsetof(struct ivcom_ctrl, server_live) == 0x09, "server_live");
_Static_assert(offsetof(struct ivcom_ctrl, client_live) == 0x0a, "client_live");
_Static_assert(offsetof(struct ivcom_ctrl, reserved0) == 0x0b, "reserved0");
_Static_assert(offsetof(struct ivcom_ctrl, nr_grefs) == 0x0c, "nr_grefs");
_Static_assert(offsetof(struct ivcom_ctrl, flags) == 0x10, "flags");
_Static_assert(offsetof(struct ivcom_ctrl, reserved1) == 0x14, "reserved1");
_Static_assert(offsetof(struct ivcom_ctrl, nonce) == 0x18, "nonce");
_Static_assert(offsetof(struct ivcom_ctrl, s2c_prod) == 0x40, "s2c_prod");
_Static_assert(offsetof(struct ivcom_ctrl, s2c_cons) == 0x80, "s2c_cons");
_Static_assert(offsetof(struct ivcom_ctrl, c2s_prod) == 0xc0, "c2s_prod");
_Static_assert(offsetof(struct ivcom_ctrl, c2s_cons) == 0x100, "c2s_cons");
_Static_assert(offsetof(struct ivcom_ctrl, grefs) == IVCOM_CTRL_GREFS_OFFSET, "grefs");
_Static_assert(sizeof(struct ivcom_ctrl) == IVCOM_CTRL_GREFS_OFFSET, "ctrl");
_Static_assert(sizeof(struct ivcom_msg_hdr) == 8, "msg hdr");
_Static_assert(offsetof(struct ivcom_msg_hdr, len) == 0, "hdr len");
_Static_assert(offsetof(struct ivcom_msg_hdr, type) == 4, "hdr type");
_Static_assert(offsetof(struct ivcom_msg_hdr, reserved) == 6, "hdr reserved");
_Static_assert(2u << (IVCOM_RING_ORDER_MAX - IVCOM_PAGE_SHIFT) <= IVCOM_CTRL_MAX_GREFS,
               "both rings at the largest order fit the grant list");

/* XenStore handshake (under /local/domain/<server>/data/ivcom/<name>/). */
#define IVCOM_XS_BASE           "data/ivcom"
#define IVCOM_XS_STATE_OFFERED  "offered"       /* server published */
#define IVCOM_XS_STATE_CONNECTED "connected"    /* client mapped + bound */
#define IVCOM_XS_STATE_CLOSED   "closed"

#endif /* IVCOM_WIRE_H */
