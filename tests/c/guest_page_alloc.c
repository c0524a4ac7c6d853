/* Description: the guest page allocator hands out naturally aligned,
 * non-overlapping power-of-two runs inside its range, keeps an exact
 * free count, refuses bad frees and reuses freed runs. */
#include <errno.h>
#include <string.h>
#include "guest_host.h"

static struct page_alloc pa;
static unsigned char owner[PA_MAX_PAGES];

int main(void)
{
    unsigned long base = 59, n = 965;   /* as a 4 MiB guest sees it */
    unsigned long got[64];
    unsigned int orders[64];
    int k = 0;

    pa_init(&pa, base, n);
    CHECK(pa.nfree == n);

    /* Mixed orders until exhaustion, checking alignment and overlap. */
    for ( unsigned int i = 0; ; i++ )
    {
        unsigned int order = (i * 7) % 6;
        unsigned long pfn = pa_alloc(&pa, order);

        if ( pfn == -1ul )
            break;
        CHECK(pfn >= base && pfn + (1ul << order) <= base + n);
        CHECK((pfn & ((1ul << order) - 1)) == 0);
        for ( unsigned long p = pfn; p < pfn + (1ul << order); p++ )
        {
            CHECK(owner[p - base] == 0);
            owner[p - base] = 1;
        }
        if ( k < 64 )
        {
            got[k] = pfn;
            orders[k++] = order;
        }
    }
    /* Whatever is left cannot hold even one more order-0 page once all
     * order-0 requests fail. */
    while ( pa_alloc(&pa, 0) != -1ul )
        ;
    CHECK(pa.nfree == 0);

    /* Bad frees: outside, misaligned, wrong order, double free. */
    CHECK(pa_free(&pa, base - 1, 0) == -EINVAL);
    CHECK(pa_free(&pa, base + n, 0) == -EINVAL);
    for ( int i = 0; i < k; i++ )
        if ( orders[i] >= 1 )
        {
            CHECK(pa_free(&pa, got[i] + 1, orders[i]) == -EINVAL);
            break;
        }
    CHECK(pa_free(&pa, got[0], orders[0]) == 0);
    CHECK(pa.nfree == (1ul << orders[0]));
    CHECK(pa_free(&pa, got[0], orders[0]) == -EINVAL);

    /* The freed run comes back. */
    CHECK(pa_alloc(&pa, orders[0]) == got[0]);
    CHECK(pa.nfree == 0);

    /* Absurd orders and requests bigger than the range fail cleanly. */
    pa_init(&pa, 0, 16);
    CHECK(pa_alloc(&pa, 5) == -1ul);
    CHECK(pa_alloc(&pa, 200) == -1ul);
    CHECK(pa_alloc(&pa, 4) == 0);
    CHECK(pa_free(&pa, 0, 200) == -EINVAL);

    /* The range is capped at PA_MAX_PAGES. */
    pa_init(&pa, 0, PA_MAX_PAGES * 2ul);
    CHECK(pa.npages == PA_MAX_PAGES && pa.nfree == PA_MAX_PAGES);

    return test_result();
}
