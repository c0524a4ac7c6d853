/* SPDX-License-Identifier: MIT */
/*
 * The kv service's wire protocol (version 1), over an IVCOM channel in
 * message mode: one request per message, one reply per message, in
 * order.  Every integer is little-endian; there is no padding and no
 * alignment requirement inside a message.
 *
 * Request (12-byte header, then the key, then the value):
 *
 *     off  size  field
 *       0     1  op       KV_OP_*
 *       1     1  flags    0 (anything else: KV_EBADFRAME)
 *       2     2  klen     key bytes that follow the header
 *       4     4  id       chosen by the client, echoed in the reply
 *       8     4  vlen     value bytes that follow the key
 *      12  klen  key
 *   12+klen vlen value
 *
 * The message must be exactly 12 + klen + vlen bytes: shorter (a length
 * beyond the message) or longer (trailing bytes) is KV_EBADFRAME.
 *
 * Reply (12-byte header, then the payload):
 *
 *       0     1  op       the request's op (0 if the request was too short)
 *       1     1  status   KV_OK or KV_E*
 *       2     2  flags    KV_REPLY_MORE (LIST only), else 0
 *       4     4  id       the request's id (0 if the request was too short)
 *       8     4  len      payload bytes that follow
 *
 * Operations (key: 1..KV_KEY_MAX bytes, any byte values; value:
 * 0..value_max bytes, where value_max is what STATS reports):
 *
 *   GET   key, no value      -> OK + the value | NOTFOUND
 *   PUT   key, value         -> OK (created or replaced) | TOOLARGE | FULL
 *   DEL   key, no value      -> OK | NOTFOUND
 *   LIST  key = prefix (0..KV_KEY_MAX bytes, empty: every key),
 *         value = cursor (0..KV_KEY_MAX bytes, empty: from the start)
 *                            -> OK + entries "u16 klen, key" of the keys
 *                               that start with the prefix and sort after
 *                               the cursor (bytewise, shorter first on a
 *                               tie), ascending, as many as fit one reply;
 *                               KV_REPLY_MORE set when more remain: ask
 *                               again with the last key as the cursor
 *   STATS no key, no value   -> OK + KV_STAT_COUNT u64 counters (KV_STAT_*;
 *                               a later version may append more: read the
 *                               ones you know, len / 8 of them)
 *
 * Errors carry no payload.  A request too short to hold its header is
 * answered KV_EBADFRAME with op and id taken from what bytes there were
 * (0 otherwise).  A client that sends faster than it reads is simply not
 * read: its requests wait in its ring, the others are served.
 */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#include <stdint.h>

#define KV_PROTO_VERSION    1
#define KV_REQ_HDR          12
#define KV_REPLY_HDR        12
#define KV_KEY_MAX          512u
/* A LIST entry: u16 length + the key. */
#define KV_LIST_ENTRY_HDR   2

enum kv_op {
    KV_OP_GET   = 1,
    KV_OP_PUT   = 2,
    KV_OP_DEL   = 3,
    KV_OP_LIST  = 4,
    KV_OP_STATS = 5,
};

enum kv_status {
    KV_OK        = 0,
    KV_ENOTFOUND = 1,   /* no such key */
    KV_ETOOLARGE = 2,   /* key, prefix, cursor or value over its limit */
    KV_EFULL     = 3,   /* the store's byte budget (or memory) is spent */
    KV_EBADFRAME = 4,   /* short, long or malformed message */
    KV_EBADOP    = 5,   /* unknown op */
    KV_EBADKEY   = 6,   /* empty key where one is required */
};

#define KV_REPLY_MORE       0x0001u

/* STATS payload: u64 each, in this order. */
enum kv_stat {
    KV_STAT_KEYS,           /* keys stored */
    KV_STAT_BYTES_USED,     /* bytes charged against the budget */
    KV_STAT_BYTES_BUDGET,   /* the budget */
    KV_STAT_KEY_MAX,        /* largest key */
    KV_STAT_VALUE_MAX,      /* largest value */
    KV_STAT_GETS,
    KV_STAT_HITS,           /* GETs that found their key */
    KV_STAT_PUTS,
    KV_STAT_DELS,
    KV_STAT_LISTS,
    KV_STAT_ERRORS,         /* error replies of any kind */
    KV_STAT_BAD_FRAMES,     /* KV_EBADFRAME / KV_EBADOP replies */
    KV_STAT_COUNT
};

/* The smallest reply buffer a server may serve with: a LIST reply holding
 * one key of the largest size, a STATS reply. */
#define KV_REPLY_MIN        (KV_REPLY_HDR + KV_LIST_ENTRY_HDR + KV_KEY_MAX)

static inline uint16_t kv_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t kv_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t kv_get64(const uint8_t *p)
{
    return (uint64_t)kv_get32(p) | (uint64_t)kv_get32(p + 4) << 32;
}

static inline void kv_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void kv_put32(uint8_t *p, uint32_t v)
{
    kv_put16(p, (uint16_t)v);
    kv_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void kv_put64(uint8_t *p, uint64_t v)
{
    kv_put32(p, (uint32_t)v);
    kv_put32(p + 4, (uint32_t)(v >> 32));
}

/* A request header into buf (KV_REQ_HDR bytes); the caller appends the
 * key and the value.  Returns the message length. */
static inline uint32_t kv_req_header(uint8_t *buf, uint8_t op, uint32_t id,
                                     uint16_t klen, uint32_t vlen)
{
    buf[0] = op;
    buf[1] = 0;
    kv_put16(buf + 2, klen);
    kv_put32(buf + 4, id);
    kv_put32(buf + 8, vlen);
    return KV_REQ_HDR + (uint32_t)klen + vlen;
}

#endif /* KV_PROTO_H */
