/* SPDX-License-Identifier: MIT */
/*
 * The kv service's request handler: one request message in, one reply
 * message out (kv_proto.h), against a kv_store.  Freestanding, shared by
 * the tiny guest's kv app and `ivcom-kv serve` on Linux.
 *
 * The request is hostile input: any length, any bytes.  It is read only
 * within [req, req + len) and answered with an error reply when it does
 * not parse; the reply never exceeds cap bytes.
 */
#ifndef KV_SERVE_H
#define KV_SERVE_H

#include <stddef.h>

#include "kv_proto.h"
#include "kv_store.h"

/* The largest value a server with replies of cap bytes stores: what a
 * GET reply can carry, and no more than the store's own limit. */
size_t kv_value_limit(const struct kv_store *s, size_t cap);

/* Handle the request (len bytes at req), write the reply into rep (cap
 * bytes, cap >= KV_REPLY_MIN) and return its length; 0 only when cap is
 * below KV_REPLY_MIN (nothing done).  req and rep must not overlap. */
size_t kv_serve(struct kv_store *s, const void *req, size_t len, void *rep, size_t cap);

#endif /* KV_SERVE_H */
