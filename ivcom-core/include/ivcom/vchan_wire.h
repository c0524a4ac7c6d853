/* SPDX-License-Identifier: MIT */
/*
 * libxenvchan's shared page, as Xen's public io/libxenvchan.h defines it:
 * the second wire protocol libivcom speaks (see ivcom/vchan.h).  This
 * header is that ABI and nothing else; its offsets are checked below and
 * its Python twin is toolkit/src/ivcom/layouts/vchan.py.
 *
 *   0x00  left  {cons, prod}   ring the client writes, the server reads
 *   0x08  right {cons, prod}   ring the server writes, the client reads
 *   0x10  left_order, right_order (u16): ring sizes are 2^order bytes,
 *         10 = in this page at offset 1024, 11 = at offset 2048,
 *         12..20 = 2^(order-12) pages of their own, granted separately
 *   0x14  cli_live, srv_live (u8): 0 gone, 1 connected, 2 (client only)
 *         not connected yet; each side's is cleared by its unmap notify
 *   0x16  cli_notify, srv_notify (u8): VCHAN_NOTIFY_* bits.  A side asks
 *         for an event by setting a bit in the OTHER side's byte (the
 *         server in cli_notify); a side that wrote (read) clears
 *         the WRITE (READ) bit of its own byte and notifies if it was set
 *   0x18  grant refs of the out-of-page rings: left's pages, then right's;
 *         they must end before the first in-page ring (and the page)
 *
 * Indexes are free-running 32-bit byte counts; offset = index & (size-1).
 * Writers: left.prod, right.cons, cli_live -- the client; right.prod,
 * left.cons, srv_live, orders, grants -- the server; the notify bytes --
 * both, by atomic read-modify-write.
 */
#ifndef IVCOM_VCHAN_WIRE_H
#define IVCOM_VCHAN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define IVCOM_VCHAN_NOTIFY_WRITE    0x1u
#define IVCOM_VCHAN_NOTIFY_READ     0x2u
#define IVCOM_VCHAN_NOTIFY_ALL      0x3u

#define IVCOM_VCHAN_ORDER_SMALL     10u     /* in-page at offset 1024 */
#define IVCOM_VCHAN_ORDER_LARGE     11u     /* in-page at offset 2048 */
#define IVCOM_VCHAN_OFFSET_SMALL    1024u
#define IVCOM_VCHAN_OFFSET_LARGE    2048u
#define IVCOM_VCHAN_ORDER_PAGE      12u     /* first order with pages of its own */
#define IVCOM_VCHAN_ORDER_MAX       20u

#define IVCOM_VCHAN_LIVE_GONE       0u
#define IVCOM_VCHAN_LIVE_UP         1u
#define IVCOM_VCHAN_LIVE_WAITING    2u      /* cli_live before the client came */

struct ivcom_vchan_ring_shared {
    uint32_t cons;
    uint32_t prod;
};

struct ivcom_vchan_page {
    struct ivcom_vchan_ring_shared left;    /* client -> server */
    struct ivcom_vchan_ring_shared right;   /* server -> client */
    uint16_t left_order;
    uint16_t right_order;
    uint8_t  cli_live;
    uint8_t  srv_live;
    uint8_t  cli_notify;
    uint8_t  srv_notify;
    uint32_t grants[];
};

#define IVCOM_VCHAN_GRANTS_OFFSET   24u

_Static_assert(offsetof(struct ivcom_vchan_page, left.cons) == 0, "left.cons");
_Static_assert(offsetof(struct ivcom_vchan_page, left.prod) == 4, "left.prod");
_Static_assert(offsetof(struct ivcom_vchan_page, right.cons) == 8, "right.cons");
_Static_assert(offsetof(struct ivcom_vchan_page, right.prod) == 12, "right.prod");
_Static_assert(offsetof(struct ivcom_vchan_page, left_order) == 16, "left_order");
_Static_assert(offsetof(struct ivcom_vchan_page, right_order) == 18, "right_order");
_Static_assert(offsetof(struct ivcom_vchan_page, cli_live) == 20, "cli_live");
_Static_assert(offsetof(struct ivcom_vchan_page, srv_live) == 21, "srv_live");
_Static_assert(offsetof(struct ivcom_vchan_page, cli_notify) == 22, "cli_notify");
_Static_assert(offsetof(struct ivcom_vchan_page, srv_notify) == 23, "srv_notify");
_Static_assert(offsetof(struct ivcom_vchan_page, grants) == IVCOM_VCHAN_GRANTS_OFFSET, "grants");
_Static_assert(sizeof(struct ivcom_vchan_page) == IVCOM_VCHAN_GRANTS_OFFSET, "size");

#endif /* IVCOM_VCHAN_WIRE_H */
