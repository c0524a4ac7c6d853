/* SPDX-License-Identifier: MIT */
/*
 * Test-only accessors into a channel's private state, for the Python
 * property tests (ctypes).  Built into libivcom-testapi.so, never into
 * libivcom: it reads struct ivcom_chan, so it must be built from the same
 * tree as the libivcom it is used with.
 */
#include <stdint.h>

#include "internal.h"

#define TEST_EXPORT __attribute__((visibility("default")))

struct ivcom_test_ring {
    uint64_t data;          /* address of the ring bytes */
    uint32_t size, pvt, published, peer, pending, reserved;
};

TEST_EXPORT void *ivcom_test_ctrl(const struct ivcom_chan *ch);
TEST_EXPORT int ivcom_test_ring(const struct ivcom_chan *ch, int rx, struct ivcom_test_ring *out);
TEST_EXPORT int ivcom_test_abi(void);

/* The control page as this side mapped it. */
void *ivcom_test_ctrl(const struct ivcom_chan *ch)
{
    return ch->ctrl;
}

/* One direction as this side sees it: rx = 0 the ring we send on. */
int ivcom_test_ring(const struct ivcom_chan *ch, int rx, struct ivcom_test_ring *out)
{
    const struct ivcom_ring *r = rx ? &ch->rx : &ch->tx;

    out->data = (uint64_t)(uintptr_t)r->data;
    out->size = r->size;
    out->pvt = r->pvt;
    out->published = r->published;
    out->peer = r->peer;
    out->pending = r->pending;
    out->reserved = 0;
    return 0;
}

/* Bumped whenever the structure above changes. */
int ivcom_test_abi(void)
{
    return 1;
}
