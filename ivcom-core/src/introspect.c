/* SPDX-License-Identifier: MIT */
/*
 * Introspection for fault reports: one ring's indexes as this side sees
 * them.  Reads only; nothing here changes the channel.  Freestanding:
 * also compiled into the tiny guest.
 */
#include <errno.h>

#include "barrier.h"
#include "internal.h"

IVCOM_EXPORT int ivcom_debug_ring(const struct ivcom_chan *ch, int rx,
                                  struct ivcom_ring_debug *out)
{
    const struct ivcom_ring *r;

    if (!ch || !out)
        return -EINVAL;
    r = rx ? &ch->rx : &ch->tx;
    if (!r->pl || !r->cl || !r->size)
        return -ENOTCONN;
    out->size = r->size;
    out->pvt = r->pvt;
    out->published = r->published;
    out->peer = r->peer;
    out->pending = r->pending;
    /* One read each, unordered: the values are reported, never acted on,
     * so a peer that moves them (or writes nonsense) only shows as such. */
    out->prod = ivcom_load_once(&r->pl->prod);
    out->cons = ivcom_load_once(&r->cl->cons);
    out->offset = r->pvt & r->mask;
    return 0;
}
