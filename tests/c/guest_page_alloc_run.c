/* Description: exact-length page runs: n contiguous pages at the asked
 * alignment, no power-of-two rounding, exact free counts, and frees of
 * the wrong length or of unallocated pages refused. */
#include <errno.h>
#include "guest_host.h"

static struct page_alloc pa;

int main(void)
{
    unsigned long a, b, c;

    pa_init(&pa, 31, 993);

    /* 513 pages: two 1 MiB rings plus a control page fit in a 4 MiB guest. */
    a = pa_alloc_run(&pa, 513, 1);
    CHECK(a == 31);
    CHECK(pa.nfree == 993 - 513);
    b = pa_alloc_run(&pa, 3, 4);
    CHECK(b != -1ul && b % 4 == 0 && b >= a + 513);
    c = pa_alloc_run(&pa, 1000, 1);
    CHECK(c == -1ul);                   /* more than is free */
    CHECK(pa_alloc_run(&pa, 0, 1) == -1ul);
    CHECK(pa_alloc_run(&pa, 1, 3) == -1ul);     /* alignment not 2^k */

    /* Wrong length (longer runs into b, shorter leaves a tail), not the
     * start of an allocation, outside, unallocated. */
    CHECK(pa_free_run(&pa, a, 514) == -EINVAL);
    CHECK(pa_free_run(&pa, a, 512) == -EINVAL);
    CHECK(pa_free_run(&pa, a + 1, 512) == -EINVAL);
    CHECK(pa_free_run(&pa, a + 1000, 1) == -EINVAL);
    CHECK(pa_free_run(&pa, 0, 1) == -EINVAL);
    CHECK(pa_free_run(&pa, a, 0) == -EINVAL);
    CHECK(pa_free_run(&pa, 31 + 993, 1) == -EINVAL);

    CHECK(pa_free_run(&pa, a, 513) == 0);
    CHECK(pa_free_run(&pa, a, 513) == -EINVAL);     /* double free */
    CHECK(pa_free_run(&pa, b, 4) == -EINVAL);     /* past the end */
    CHECK(pa_free_run(&pa, b, 3) == 0);
    CHECK(pa.nfree == 993);

    /* Order-based and run-based calls share one bitmap. */
    a = pa_alloc(&pa, 2);
    CHECK(a != -1ul && a % 4 == 0);
    CHECK(pa_free_run(&pa, a, 4) == 0);
    CHECK(pa.nfree == 993);

    return test_result();
}
