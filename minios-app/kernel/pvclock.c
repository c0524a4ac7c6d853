/* SPDX-License-Identifier: MIT */
/* The pvclock scaling step (no hypercalls: host-tested). */
#include <stdint.h>
#include <kernel/time.h>

uint64_t pvclock_scale(uint64_t delta, uint32_t mul, int8_t shift)
{
    if ( shift < 0 )
        delta >>= -shift;
    else
        delta <<= shift;
    /* mul is a 32.32 fixed-point factor: ns = delta * mul / 2^32. */
    return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}
