/* Description: the pvclock scaling step converts TSC deltas to ns with
 * Xen's 32.32 multiplier and signed shift, without overflowing 64 bits. */
#include "guest_host.h"

int main(void)
{
    /* mul = 2^31 is x0.5; shift 1 doubles first: identity. */
    CHECK(pvclock_scale(1000, 1u << 31, 1) == 1000);
    CHECK(pvclock_scale(1000, 1u << 31, 0) == 500);
    CHECK(pvclock_scale(1000, 1u << 31, -1) == 250);
    /* A 3 GHz TSC: Xen picks shift 0, mul = 2^32 / 3 (rounded). */
    CHECK(pvclock_scale(3000000000ull, 1431655765u, 0) == 999999999ull);
    /* Large deltas need the 128-bit product. */
    CHECK(pvclock_scale(1ull << 40, 0xffffffffu, 0) == (1ull << 40) - 256);
    CHECK(pvclock_scale(0, 0xffffffffu, 3) == 0);
    return test_result();
}
